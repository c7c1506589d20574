/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parsing orchestra code, screened for what Csound 6.18 cannot survive:
 *
 *  - an #include of a pipe or a device, which its parser reads without
 *    end (include_check.c says which);
 *  - a constant folded to inf or nan, on which csoundCompileTree
 *    segfaults ("Missing local arg: inf");
 *  - a failed parse's error count, which 6.18 keeps until the next parse
 *    and which makes csoundCompileTree refuse every tree meanwhile.
 *
 * A CSD's orchestra is screened the same way before Csound compiles the
 * CSD (csound6_csd_is_unsafe).
 */

#include "csound6_internal.h"
#include "include_check.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The parser's token type for a numeric constant: not in Csound's public
 * headers, so read off a parse of a known constant on a scratch instance. */
static int number_token = -1;
static pthread_once_t number_token_once = PTHREAD_ONCE_INIT;

static void
ignore_message(CSOUND *csound, int attr, const char *fmt, va_list args)
{
  (void)csound;
  (void)attr;
  (void)fmt;
  (void)args;
}

static void
find_number_token(void)
{
  CSOUND *scratch = csoundCreate(NULL);
  if (!scratch) {
    return;
  }
  csoundSetMessageCallback(scratch, ignore_message);
  TREE *tree = csoundParseOrc(scratch, "i_csjack_probe = 2.5\n");
  for (TREE *node = tree; node; node = node->next) {
    if (node->right && node->right->value && node->right->value->lexeme &&
        strcmp(node->right->value->lexeme, "2.5") == 0) {
      number_token = node->right->type;
    }
  }
  if (tree) {
    csoundDeleteTree(scratch, tree);
  }
  csoundDestroy(scratch);
}

/* A numeric constant that is inf or nan. Only numeric constants count:
 * `inf` is also a fine variable name. */
static bool
has_nonfinite_constant(const TREE *tree)
{
  pthread_once(&number_token_once, find_number_token);
  for (; tree; tree = tree->next) {
    if (tree->value && tree->value->lexeme && (number_token < 0 || tree->type == number_token)) {
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

/* True when @p code #includes a pipe or a device, which Csound's parser
 * would read without end: said unless @p quiet. Looked up in Csound's own
 * INCDIR, which holds the folders csjack added (csound_paths.c). */
static bool
includes_endless_file(CsoundAdapter *cs, const char *code, bool quiet)
{
  char why[PATH_MAX + 200];
  if (!include_check_blocks(code, csoundGetEnv(cs->csound, "INCDIR"), why, sizeof why)) {
    return false;
  }
  if (!quiet) {
    csoundMessageS(cs->csound, CSOUNDMSG_ERROR, "csjack: %s\n", why);
  }
  return true;
}

/*
 * Csound 6.18 keeps a failed parse's error count (synterrcnt) until the
 * next parse begins, and csoundCompileTree refuses every tree while it is
 * set: a tree parsed before and waiting for its merge (a staged compile
 * from the UDP server while the console's :eval fails to parse) would then
 * fail, with no message. An empty parse resets the count: it fails at once,
 * before Csound builds anything. Muted. Called right after the failed
 * parse, so under the same exclusion from merges (compile_worker.c).
 */
static void
reset_parse_errors(CsoundAdapter *cs)
{
  const bool was_muted = csound6_mute(true);
  bool jumped;
  CSOUND6_GUARDED(jumped, (void)csoundParseOrc(cs->csound, ""));
  (void)jumped;
  csound6_mute(was_muted);
}

static void *
parse(CsoundAdapter *cs, const char *code, bool quiet)
{
  TREE *tree = NULL;
  bool jumped;
  if (includes_endless_file(cs, code, quiet)) {
    return NULL;
  }
  const bool was_muted = csound6_mute(false);
  csound6_mute(quiet || was_muted);
  CSOUND6_GUARDED(jumped, tree = csoundParseOrc(cs->csound, code));
  if (!tree) {
    reset_parse_errors(cs);
  }
  csound6_mute(was_muted);
  if (jumped) {
    /* A fatal error in the parser (a missing #include, a malformed macro
     * call): the parse is abandoned, with its memory; the engine is not
     * touched, since parsing holds no lock. */
    if (!quiet) {
      csoundMessageS(cs->csound, CSOUNDMSG_ERROR,
                     "csjack: Csound stopped parsing this code with a fatal error\n");
    }
    return NULL;
  }
  if (tree && has_nonfinite_constant(tree)) {
    if (!quiet) {
      report_nonfinite(cs);
    }
    csoundDeleteTree(cs->csound, tree);
    return NULL;
  }
  return tree;
}

void *
csound_adapter_parse(CsoundAdapter *cs, const char *code)
{
  return parse(cs, code, false);
}

void *
csound_adapter_parse_quiet(CsoundAdapter *cs, const char *code)
{
  return parse(cs, code, true);
}

void
csound_adapter_free_tree(CsoundAdapter *cs, void *tree)
{
  if (tree) {
    csoundDeleteTree(cs->csound, tree);
  }
}

/* A parse that fails here is left for the real compile to report. */
bool
csound6_csd_is_unsafe(CsoundAdapter *cs, const char *csd)
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
  if (includes_endless_file(cs, orc, false)) {
    free(orc);
    return true;
  }
  const bool was_muted = csound6_mute(true);
  TREE *tree = NULL;
  bool jumped;
  CSOUND6_GUARDED(jumped, tree = csoundParseOrc(cs->csound, orc));
  csound6_mute(was_muted);
  free(orc);
  if (jumped) {
    return false;
  }
  const bool unsafe = tree && has_nonfinite_constant(tree);
  if (tree) {
    csoundDeleteTree(cs->csound, tree);
  }
  if (unsafe) {
    report_nonfinite(cs);
  }
  return unsafe;
}
