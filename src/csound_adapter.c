/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every Csound API call in csjack is in this file.
 *
 * Csound 6.18 calls setjmp() only in the first csoundPerformKsmps() call
 * (guarded by its private `jumpset`), so a later exitnow or fatal error
 * longjmps into a stack frame that no longer exists. We avoid that twice:
 *
 *  1. `exitnow` is replaced, in Csound's own opcode table, by a version that
 *     records the exit code and returns. The performance then ends after the
 *     current block with no longjmp at all, and Csound's API lock is
 *     released normally, so the instance can be cleaned up on any thread.
 *
 *  2. For any other longjmp (csoundDie and friends), Csound's public
 *     `LongJmp` hook is pointed at a function that jumps to a sigsetjmp
 *     taken in csound_adapter_perform_block() itself, a live frame. Csound
 *     then leaves its recursive API lock held by the performing thread;
 *     see csound_adapter_aborted().
 *
 * The CSOUND struct's public part is reached through csdl.h, the header
 * Csound gives plugins. A layout check refuses to patch anything if the
 * header does not match the library.
 */

#include "csound_adapter.h"

#include <csound/csound.h>
#include <csound/csdl.h>

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool has_nonfinite_constant(const TREE *tree);

/* Set while a screening parse runs: its messages would repeat the real
 * compile's. */
static _Thread_local bool muted;
static void report_nonfinite(CsoundAdapter *cs);

struct CsoundAdapterImpl {
  CSOUND *csound;
  CsoundMessageSink sink;
  void *sink_data;

  /* Set by our exitnow on the thread that performs (or by global code at
   * compile time, before the JACK thread exists). */
  bool exit_requested;
  int exit_code;

  /* The guard for Csound's LongJmp: only armed inside perform_block. */
  sigjmp_buf guard;
  bool guard_armed;
  bool aborted;
  void (*csound_long_jmp)(CSOUND *, int);
};

/* exitnow's data block, matching Csound's EXITNOW: one optional i-rate arg. */
typedef struct {
  OPDS h;
  MYFLT *retval;
} ExitNowArgs;

static pthread_once_t initialize_once = PTHREAD_ONCE_INIT;

static void
initialize_csound(void)
{
  /* No signal handlers: the host owns SIGINT/SIGTERM. No atexit: we clean
   * up ourselves, and an atexit hook racing a live JACK thread is unsafe. */
  csoundInitialize(CSOUNDINIT_NO_SIGNAL_HANDLER | CSOUNDINIT_NO_ATEXIT);
}

static void
on_csound_message(CSOUND *csound, int attr, const char *fmt, va_list args)
{
  CsoundAdapter *cs = csoundGetHostData(csound);
  if (cs && cs->sink && !muted) {
    cs->sink(cs->sink_data, attr, fmt, args);
  }
}

static int
csj_exitnow(CSOUND *csound, void *data)
{
  CsoundAdapter *cs = csoundGetHostData(csound);
  const ExitNowArgs *args = data;
  cs->exit_requested = true;
  cs->exit_code = (int)lrint(*args->retval);
  return OK;
}

static CS_NORETURN void
csj_long_jmp(CSOUND *csound, int retval)
{
  CsoundAdapter *cs = csoundGetHostData(csound);
  if (cs && cs->guard_armed) {
    cs->guard_armed = false;
    cs->exit_code = retval;
    siglongjmp(cs->guard, 1);
  }
  /* Outside perform_block (compile, start) Csound's own setjmp is live. */
  cs->csound_long_jmp(csound, retval);
  abort(); /* not reached: Csound's LongJmp does not return */
}

/* The public part of CSOUND must match the library before we patch it. */
static bool
layout_matches(CSOUND *csound)
{
  return csound->GetSr == csoundGetSr && csound->GetKsmps == csoundGetKsmps &&
         csound->GetHostData == csoundGetHostData;
}

static bool
install_guards(CsoundAdapter *cs)
{
  CSOUND *csound = cs->csound;
  if (!layout_matches(csound)) {
    return false;
  }
  OENTRY *exitnow = csound->find_opcode_exact(csound, "exitnow", "", "o");
  if (exitnow) {
    exitnow->iopadr = csj_exitnow;
  }
  cs->csound_long_jmp = csound->LongJmp;
  csound->LongJmp = csj_long_jmp;
  return exitnow != NULL;
}

CsoundAdapter *
csound_adapter_new(CsoundMessageSink sink, void *sink_data)
{
  pthread_once(&initialize_once, initialize_csound);
  CsoundAdapter *cs = calloc(1, sizeof(*cs));
  if (!cs) {
    return NULL;
  }
  cs->sink = sink;
  cs->sink_data = sink_data;
  cs->csound = csoundCreate(cs);
  if (!cs->csound) {
    free(cs);
    return NULL;
  }
  csoundSetMessageCallback(cs->csound, on_csound_message);
  /* spin/spout are ours: Csound opens no audio device. */
  csoundSetHostImplementedAudioIO(cs->csound, 1, 0);
  if (!install_guards(cs)) {
    csoundMessageS(cs->csound, CSOUNDMSG_WARNING,
                   "csjack: this Csound's CSOUND layout does not match its "
                   "headers; exitnow is not made safe\n");
  }
  return cs;
}

void
csound_adapter_free(CsoundAdapter *cs)
{
  if (!cs) {
    return;
  }
  if (cs->aborted) {
    /* Csound still holds its API lock on the thread that performed, and
     * csoundCleanup()/csoundDestroy() would wait for it forever. Nothing
     * calls into the abandoned instance again. */
    free(cs);
    return;
  }
  csoundCleanup(cs->csound);
  csoundDestroy(cs->csound);
  free(cs);
}

int
csound_adapter_set_option(CsoundAdapter *cs, const char *option)
{
  return csoundSetOption(cs->csound, option);
}

int
csound_adapter_load_plugins(CsoundAdapter *cs, const char *dir)
{
  return csoundLoadPlugins(cs->csound, dir);
}

/* The orchestra inside a CSD, screened like any other code before Csound
 * compiles the CSD. A parse that fails here is left for the real compile
 * to report (CsOptions, such as macros, are not applied yet). */
static bool
csd_orchestra_is_unsafe(CsoundAdapter *cs, const char *csd)
{
  const char *start = strstr(csd, "<CsInstruments>");
  const char *end = start ? strstr(start, "</CsInstruments>") : NULL;
  if (!end) {
    return false;
  }
  start += strlen("<CsInstruments>");
  char *orc = strndup(start, (size_t)(end - start));
  if (!orc) {
    return false;
  }
  muted = true;
  TREE *tree = csoundParseOrc(cs->csound, orc);
  muted = false;
  free(orc);
  const bool unsafe = tree && has_nonfinite_constant(tree);
  if (tree) {
    csoundDeleteTree(cs->csound, tree);
  }
  return unsafe;
}

int
csound_adapter_compile_csd_text(CsoundAdapter *cs, const char *text)
{
  if (csd_orchestra_is_unsafe(cs, text)) {
    report_nonfinite(cs);
    return -1;
  }
  return csoundCompileCsdText(cs->csound, text);
}

int
csound_adapter_compile_orc_text(CsoundAdapter *cs, const char *text)
{
  return csound_adapter_compile_orc(cs, text);
}

bool
csound_adapter_clear_realtime_mode(CsoundAdapter *cs)
{
  CSOUND_PARAMS params;
  csoundGetParams(cs->csound, &params);
  if (!params.realtime_mode) {
    return false;
  }
  params.realtime_mode = 0;
  csoundSetParams(cs->csound, &params);
  return true;
}

int
csound_adapter_start(CsoundAdapter *cs)
{
  return csoundStart(cs->csound);
}

uint32_t
csound_adapter_ksmps(const CsoundAdapter *cs)
{
  return csoundGetKsmps(cs->csound);
}

uint32_t
csound_adapter_output_channels(const CsoundAdapter *cs)
{
  return csoundGetNchnls(cs->csound);
}

uint32_t
csound_adapter_input_channels(const CsoundAdapter *cs)
{
  return csoundGetNchnlsInput(cs->csound);
}

double
csound_adapter_sample_rate(const CsoundAdapter *cs)
{
  return csoundGetSr(cs->csound);
}

double
csound_adapter_0dbfs(const CsoundAdapter *cs)
{
  return csoundGet0dBFS(cs->csound);
}

double *
csound_adapter_spin(CsoundAdapter *cs)
{
  return csoundGetSpin(cs->csound);
}

const double *
csound_adapter_spout(CsoundAdapter *cs)
{
  return csoundGetSpout(cs->csound);
}

CsoundBlockResult
csound_adapter_perform_block(CsoundAdapter *cs)
{
  if (cs->exit_requested) {
    return CSOUND_BLOCK_EXITNOW;
  }
  /* No signal mask is saved (savemask 0), so this is a register save and
   * no syscall. Nothing read after the jump is kept in a local variable. */
  if (sigsetjmp(cs->guard, 0) != 0) {
    cs->aborted = true;
    return CSOUND_BLOCK_ABORTED;
  }
  cs->guard_armed = true;
  const int done = csoundPerformKsmps(cs->csound);
  cs->guard_armed = false;
  if (cs->exit_requested) {
    return CSOUND_BLOCK_EXITNOW;
  }
  return done ? CSOUND_BLOCK_SCORE_END : CSOUND_BLOCK_OK;
}

int
csound_adapter_exit_code(const CsoundAdapter *cs)
{
  return cs->exit_code;
}

bool
csound_adapter_aborted(const CsoundAdapter *cs)
{
  return cs->aborted;
}

int
csound_adapter_version(void)
{
  return csoundGetVersion();
}

int
csound_adapter_score_event(CsoundAdapter *cs, char type, const double *pfields, int count,
                           bool absp2)
{
  /* csoundScoreEvent copies the p-fields into Csound's own event. */
  if (absp2) {
    return csoundScoreEventAbsolute(cs->csound, type, pfields, count, 0.0);
  }
  return csoundScoreEvent(cs->csound, type, pfields, count);
}

void
csound_adapter_input_message(CsoundAdapter *cs, const char *line)
{
  csoundInputMessage(cs->csound, line);
}

void
csound_adapter_set_score_offset(CsoundAdapter *cs, double seconds)
{
  csoundSetScoreOffsetSeconds(cs->csound, seconds);
}

/* A constant folded to inf or nan: Csound 6.18 segfaults in
 * csoundCompileTree on such a node ("Missing local arg: inf"). */
static bool
has_nonfinite_constant(const TREE *tree)
{
  for (; tree; tree = tree->next) {
    if (tree->value && tree->value->lexeme) {
      const char *lexeme = tree->value->lexeme;
      lexeme += *lexeme == '-' || *lexeme == '+';
      if (strcasecmp(lexeme, "inf") == 0 || strcasecmp(lexeme, "nan") == 0) {
        return true;
      }
    }
    if (has_nonfinite_constant(tree->left) || has_nonfinite_constant(tree->right)) {
      return true;
    }
  }
  return false;
}

static void
report_nonfinite(CsoundAdapter *cs)
{
  csoundMessageS(cs->csound, CSOUNDMSG_ERROR,
                 "csjack: a constant expression evaluates to inf or nan (division by "
                 "zero?); refused, because Csound 6.18 crashes compiling it\n");
}

void *
csound_adapter_parse(CsoundAdapter *cs, const char *code)
{
  TREE *tree = csoundParseOrc(cs->csound, code);
  if (tree && has_nonfinite_constant(tree)) {
    report_nonfinite(cs);
    csoundDeleteTree(cs->csound, tree);
    return NULL;
  }
  return tree;
}

void
csound_adapter_free_tree(CsoundAdapter *cs, void *tree)
{
  if (tree) {
    csoundDeleteTree(cs->csound, tree);
  }
}

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
  if (sigsetjmp(cs->guard, 0) != 0) {
    cs->aborted = true;
    return -1;
  }
  cs->guard_armed = true;
  const int result = csoundCompileTree(cs->csound, tree);
  cs->guard_armed = false;
  if (result == 0) {
    *retval = instr0_retval(cs);
  }
  return result;
}

/* csoundEvalCode and csoundCompileOrc are a parse and a csoundCompileTree:
 * done in two steps here so the parse can be screened the same way as on
 * the queued path. */
double
csound_adapter_eval_code(CsoundAdapter *cs, const char *code)
{
  void *tree = csound_adapter_parse(cs, code);
  double retval = NAN;
  if (tree) {
    csound_adapter_compile_tree(cs, tree, &retval);
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

double *
csound_adapter_control_channel(CsoundAdapter *cs, const char *name)
{
  MYFLT *value = NULL;
  const int type = CSOUND_CONTROL_CHANNEL | CSOUND_INPUT_CHANNEL | CSOUND_OUTPUT_CHANNEL;
  if (csoundGetChannelPtr(cs->csound, &value, name, type) != CSOUND_SUCCESS) {
    return NULL;
  }
  return value;
}

static bool
ensure_string_channel(CsoundAdapter *cs, const char *name)
{
  MYFLT *value = NULL;
  const int type = CSOUND_STRING_CHANNEL | CSOUND_INPUT_CHANNEL | CSOUND_OUTPUT_CHANNEL;
  return csoundGetChannelPtr(cs->csound, &value, name, type) == CSOUND_SUCCESS;
}

int
csound_adapter_set_string_channel(CsoundAdapter *cs, const char *name, const char *text)
{
  if (!ensure_string_channel(cs, name)) {
    return -1;
  }
  csoundSetStringChannel(cs->csound, name, (char *)text);
  return 0;
}

int
csound_adapter_get_string_channel(CsoundAdapter *cs, const char *name, char *out, size_t out_size)
{
  if (!ensure_string_channel(cs, name) || out_size == 0) {
    return -1;
  }
  /* csoundGetStringChannel copies the whole string with no size limit, and
   * the channel's data size is its capacity (the longest text it ever held),
   * not the text's length: copy into a buffer that large, then check. */
  const int capacity = csoundGetChannelDatasize(cs->csound, name);
  if (capacity <= 0) {
    return -1;
  }
  char *text = calloc((size_t)capacity + 1, 1);
  if (!text) {
    return -1;
  }
  csoundGetStringChannel(cs->csound, name, text);
  const size_t len = strnlen(text, (size_t)capacity);
  const int result = len + 1 <= out_size ? 0 : -2;
  if (result == 0) {
    memcpy(out, text, len);
    out[len] = '\0';
  }
  free(text);
  return result;
}

int
csound_adapter_table(CsoundAdapter *cs, int table, double **data)
{
  MYFLT *ptr = NULL;
  const int length = csoundGetTable(cs->csound, &ptr, table);
  *data = ptr;
  return length;
}

void *
csound_adapter_handle(CsoundAdapter *cs)
{
  return cs->csound;
}
