/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Compiling into the instance: a parsed tree merged (csoundCompileTree),
 * evalCode and compileOrc as a screened parse and a merge, and a whole
 * CSD before start.
 */

#include "csound6_internal.h"

#include <csound/csdl.h>

#include <math.h>

/* What instr 0's `return` left, as csoundEvalCode reads it. */
static double
instr0_retval(CsoundAdapter *cs)
{
  INSTRTXT *instr0 = cs->csound->GetInstrument(cs->csound, 0, NULL);
  return instr0 && instr0->instance ? instr0->instance->retval : NAN;
}

int
csound_adapter_compile_tree(CsoundAdapter *cs, void *tree, double *retval)
{
  *retval = NAN;
  if (csound_adapter_aborted(cs)) {
    return -1;
  }
  const unsigned errors_before = csound6_thread_errors();
  bool jumped;
  int result = 0;
  CSOUND6_GUARDED(jumped, result = csoundCompileTree(cs->csound, tree));
  if (jumped) {
    /* Out of the merge or instr 0 with Csound's API lock held. */
    csound6_mark_aborted(cs, 1);
    return -1;
  }
  if (result == 0 && csound6_thread_errors() != errors_before) {
    /* An init error in the global code: Csound merged the code and says
     * success, but what was asked for did not happen. */
    result = -2;
  }
  if (result == 0) {
    *retval = instr0_retval(cs);
  }
  return result;
}

/* csoundEvalCode and csoundCompileOrc are a parse and a csoundCompileTree:
 * done in two steps here so the parse can be screened the same way as on
 * the queued path. */
double
csound_adapter_eval_code(CsoundAdapter *cs, const char *code, int *result)
{
  void *tree = csound_adapter_parse(cs, code);
  double retval = NAN;
  *result = -1;
  if (tree) {
    *result = csound_adapter_compile_tree(cs, tree, &retval);
    csound_adapter_free_tree(cs, tree);
  }
  return retval;
}

int
csound_adapter_compile_orc(CsoundAdapter *cs, const char *code)
{
  void *tree = csound_adapter_parse(cs, code);
  if (!tree) {
    return -1;
  }
  double retval;
  const int result = csound_adapter_compile_tree(cs, tree, &retval);
  csound_adapter_free_tree(cs, tree);
  return result;
}

int
csound_adapter_compile_csd_text(CsoundAdapter *cs, const char *text)
{
  if (csound6_csd_is_unsafe(cs, text)) {
    return -1;
  }
  bool jumped;
  int result = 0;
  CSOUND6_GUARDED(jumped, result = csoundCompileCsdText(cs->csound, text));
  if (jumped) {
    /* Before start no thread performs; the lock is this thread's and
     * nothing else will take it, but the instance is not to be trusted. */
    csound6_mark_aborted(cs, -1);
    return -1;
  }
  return result;
}
