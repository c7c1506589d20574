/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The folder of a compiled file, in Csound's search paths.
 *
 * `csound ../proj/piece.csd` finds `#include "sub/inst.inc"` and
 * `diskin2 "tone.wav"` beside the CSD, from any working directory: Csound's
 * command line adds the CSD's folder to INCDIR, SSDIR, SADIR and MFDIR
 * unless --no-default-paths is on that command line (one in the CSD's
 * <CsOptions> is read after the folder was added, and does not keep it
 * out). csjack gives Csound the file's text, which has no folder, so the
 * callers that read a file add its folder here first:
 * csj_engine_compile_file, the csjack command for the file it plays, and
 * the console's :compile FILE.
 */

#include "engine_state.h"
#include "engine_direct.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder that holds @p file, absolute (malloc'd; NULL when out of
 * memory). Relative paths are taken from the current directory, as Csound
 * does (csoundGetDirectoryForPath); the folder is resolved when it exists,
 * so the search paths hold no "..". */
static char *
folder_of(const char *file)
{
  const char *slash = strrchr(file, '/');
  char *dir = !slash          ? strdup(".")
              : slash == file ? strdup("/")
                              : strndup(file, (size_t)(slash - file));
  if (!dir) {
    return NULL;
  }
  char *real = realpath(dir, NULL);
  if (real || dir[0] == '/') {
    if (real) {
      free(dir);
      return real;
    }
    return dir;
  }
  char cwd[PATH_MAX];
  char *joined = NULL;
  if (getcwd(cwd, sizeof cwd) && asprintf(&joined, "%s/%s", cwd, dir) < 0) {
    joined = NULL;
  }
  free(dir);
  return joined;
}

typedef struct {
  CsoundAdapter *csound;
  const char *dir;
  int result;
} AddDir;

static void
add_dir(CsjEngine *e, void *data)
{
  (void)e;
  AddDir *a = data;
  a->result = csound_adapter_add_search_dir(a->csound, a->dir);
}

CsjStatus
csj_engine_add_file_folder(CsjEngine *e, const char *file)
{
  if (!e || !file || !file[0]) {
    return CSJ_ERR_BAD_ARG;
  }
  if (e->no_default_paths) {
    return CSJ_SUCCESS;
  }
  /* A pipe or a device (csjack <(make-orchestra), /dev/stdin) has no
   * files beside it. */
  struct stat st;
  if (stat(file, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    return CSJ_SUCCESS;
  }
  char *dir = folder_of(file);
  if (!dir) {
    engine_set_error_text(e, "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  char why[sizeof(e->last_error)];
  if (strpbrk(dir, ":;")) {
    snprintf(why, sizeof why,
             "the folder of '%s' is not added to Csound's search paths: its name holds ':' "
             "or ';', which Csound reads as separators (files beside it are found only "
             "from the current directory)",
             file);
    engine_set_error_text(e, why);
    message_log_printf(e->log, 0, "csjack: warning: %s\n", why);
    free(dir);
    return CSJ_ERR_BAD_ARG;
  }
  AddDir add = {e->csound, dir, -1};
  CsjStatus status = CSJ_SUCCESS;
  const int state = atomic_load_explicit(&e->state, memory_order_acquire);
  if (state == ENGINE_FINISHED) {
    status = CSJ_ERR_STATE;
  } else if (state == ENGINE_PERFORMING) {
    status = engine_direct_run(e, add_dir, &add);
  } else {
    /* Before start the control thread is the only one in Csound. */
    CONTROL_IN_CSOUND(e, add_dir(e, &add));
  }
  if (status == CSJ_SUCCESS && add.result != 0) {
    snprintf(why, sizeof why, "Csound refused to add '%s' to its search paths", dir);
    engine_set_error_text(e, why);
    status = CSJ_ERR_CSOUND;
  } else if (status == CSJ_ERR_STATE) {
    engine_set_error_text(e, "the performance has ended");
  } else if (status == CSJ_ERR_TIMEOUT) {
    engine_set_error_text(e, "Csound could not be taken between two cycles within 10 s");
  }
  free(dir);
  return status;
}
