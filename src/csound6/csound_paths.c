/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's search paths (csound_adapter_add_search_dir).
 *
 * Csound's command line adds the folder of the CSD it plays to INCDIR,
 * SSDIR, SADIR and MFDIR (Top/main.c, unless --no-default-paths), so that
 * `#include "sub/x.inc"` and `diskin2 "tone.wav"` find what lies beside
 * the CSD from any working directory. csjack hands Csound the file's text,
 * which has no folder, so the engine adds it through here.
 *
 * Csound 6.18 exports no call that appends to its environment after a
 * compile: csoundAppendEnv is internal, and csoundSetOption refuses every
 * option once anything is compiled. Its command-line decoder takes
 * `--env:NAME+=VALUE` at any time, and csoundSetEnv, under it, frees the
 * search-path cache (envvar.c), so a folder added while performing is
 * searched by the next file opened.
 */

#include "csound6_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether @p list (folders separated by ':' or ';', as Csound reads
 * them) holds @p dir, a trailing '/' aside. */
static bool
lists_dir(const char *list, const char *dir)
{
  size_t want = strlen(dir);
  while (want > 1 && dir[want - 1] == '/') {
    --want;
  }
  while (list && *list) {
    size_t n = strcspn(list, ":;");
    size_t k = n;
    while (k > 1 && list[k - 1] == '/') {
      --k;
    }
    if (k == want && strncmp(list, dir, want) == 0) {
      return true;
    }
    list += n;
    list += *list != '\0';
  }
  return false;
}

int
csound_adapter_add_search_dir(CsoundAdapter *cs, const char *dir)
{
  static const char *const names[] = {"SADIR", "SSDIR", "INCDIR", "MFDIR"};
  if (!dir[0] || strpbrk(dir, ":;")) {
    return -1;
  }
  CSOUND *csound = cs->csound;
  const size_t size = strlen(dir) + sizeof "--env:INCDIR+=";
  char *option = malloc(size);
  if (!option) {
    return -1;
  }
  int result = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && result == 0; ++i) {
    if (lists_dir(csoundGetEnv(csound, names[i]), dir)) {
      continue;
    }
    snprintf(option, size, "--env:%s+=%s", names[i], dir);
    result = csound6_decode_option(cs, option);
  }
  free(option);
  return result;
}
