/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The session phase of the csjack command: before JACK, a session
 * manager's open or --restore DIR decide what plays and under which JACK
 * name (filling CliSettings, which the engine phase reads); after the
 * start, the folder's live state is replayed and the session manager
 * hears that the open is done. The folder's format is session.c's, the
 * NSM protocol nsm.c's.
 */

#include "cli_session.h"
#include "cli_options.h"
#include "utf8.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What an exit status means, in --help's words, for the session manager
 * (its log has csjack's own lines). */
static const char *
status_text(int status)
{
  switch (status) {
  case EXIT_USAGE: return "a usage error";
  case EXIT_FILE: return "the file is missing or unreadable";
  case EXIT_COMPILE: return "the orchestra does not compile";
  case EXIT_JACK: return "no JACK server, or a JACK error";
  case EXIT_NAME_TAKEN: return "the JACK client name is in use";
  case EXIT_UNUSABLE: return "no outputs, or more than 64 channels";
  case EXIT_CSOUND_START: return "Csound failed to start";
  case EXIT_NETWORK: return "a network port cannot be listened on";
  default: return "a start-up failure";
  }
}

void
cli_session_failed(Nsm *nsm, int status)
{
  if (!nsm) {
    return;
  }
  char message[200];
  snprintf(message, sizeof message, "csjack could not start: %s (exit status %d)",
           status_text(status), status);
  nsm_answer_open(nsm, status == EXIT_FILE ? NSM_ERR_NO_SUCH_FILE : NSM_ERR_LAUNCH_FAILED, message);
}

/* Says why on stderr and to a session manager waiting for open; returns
 * @p status. */
static int
refuse(Nsm *nsm, int nsm_code, int status, const char *why)
{
  fprintf(stderr, "csjack: error: %s\n", why);
  if (nsm) {
    nsm_answer_open(nsm, nsm_code, why);
  }
  return status;
}

/* Announces csjack and waits for open: the JACK client name and the
 * folder come from it. */
static int
take_session_manager(const char *argv0, CliSettings *run, Nsm **nsm)
{
  char why[600];
  NsmFailure failure;
  *nsm = nsm_connect(nsm_url(), argv0, &failure, why, sizeof why);
  if (!*nsm) {
    run->session_managed = false;
    if (failure == NSM_REFUSED) {
      fprintf(stderr, "csjack: error: %s\n", why);
      return EXIT_SESSION;
    }
    /* The API's rule: a session manager that cannot be reached means no
     * session management. */
    fprintf(stderr, "csjack: warning: NSM_URL is set, but %s: playing without a session manager\n",
            why);
    if (!run->path && !run->session_dir) {
      fputs("csjack: error: no orchestra given (csjack FILE.csd|FILE.orc; see csjack --help)\n",
            stderr);
      return EXIT_USAGE;
    }
    return CLI_RUN;
  }
  const NsmOpen *open = nsm_opened(*nsm);
  const char *bad = utf8_name_problem(open->client_id);
  if (bad) {
    snprintf(why, sizeof why, "the session manager's client id %s: it cannot be a JACK name", bad);
    return refuse(*nsm, NSM_ERR_LAUNCH_FAILED, EXIT_USAGE, why);
  }
  if (run->engine.client_name && strcmp(run->engine.client_name, open->client_id) != 0) {
    fprintf(stderr, "csjack: notice: the session manager names the JACK client '%s' (not --name)\n",
            open->client_id);
  }
  if (run->session_dir) {
    fprintf(stderr,
            "csjack: notice: the session manager's folder '%s' is restored (not --restore)\n",
            open->path);
  }
  run->engine.client_name = open->client_id;
  run->session_dir = open->path;
  fprintf(stderr, "csjack: session '%s', client '%s', folder '%s'\n", open->display_name,
          open->client_id, open->path);
  /* A new session's folder is ours to make; an existing one is opened. */
  if (!session_make_folder(open->path, why, sizeof why)) {
    return refuse(*nsm, NSM_ERR_CREATE_FAILED, EXIT_FILE, why);
  }
  return CLI_RUN;
}

/* The folder's csjack.session: the file and the client name, where the
 * command line gave none. */
static int
take_folder(CliSettings *run, Nsm *nsm)
{
  char why[700];
  struct stat st;
  if (stat(run->session_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(why, sizeof why, "--restore: '%s' is not a folder", run->session_dir);
    return refuse(nsm, NSM_ERR_NO_SUCH_FILE, EXIT_FILE, why);
  }
  const int read = session_read(run->session_dir, &run->session, why, sizeof why);
  if (read < 0) {
    return refuse(nsm, NSM_ERR_BAD_PROJECT, EXIT_FILE, why);
  }
  if (read == 0 && !session_has_live_state(run->session_dir)) {
    if (!nsm) {
      fprintf(stderr, "csjack: notice: '%s' holds no saved session: nothing to restore\n",
              run->session_dir);
    }
    return CLI_RUN;
  }
  if (!run->path && run->session.file[0]) {
    run->path = run->session.file;
  }
  if (!nsm && !run->engine.client_name && run->session.client_name[0]) {
    const char *bad = utf8_name_problem(run->session.client_name);
    if (bad) {
      snprintf(why, sizeof why, "'%s/%s': the JACK client name %s", run->session_dir, SESSION_FILE,
               bad);
      return refuse(nsm, NSM_ERR_BAD_PROJECT, EXIT_FILE, why);
    }
    run->engine.client_name = run->session.client_name;
  }
  return CLI_RUN;
}

/* The session phase, but for the end of cli_session_prepare. */
static int
prepare(const char *argv0, CliSettings *run, Nsm **nsm)
{
  int status = CLI_RUN;
  if (run->session_managed) {
    status = take_session_manager(argv0, run, nsm);
  }
  if (status == CLI_RUN && run->session_dir) {
    status = take_folder(run, *nsm);
  }
  if (status != CLI_RUN) {
    return status;
  }
  if (run->path && !run->text) {
    /* The file csjack.session names, read as FILE would have been. */
    status = cli_options_take_file(run);
    if (status != CLI_RUN && *nsm) {
      cli_session_failed(*nsm, status);
    }
    return status;
  }
  if (!run->path) {
    /* A new session (or a folder with no file named): an empty orchestra
     * that plays until stopped and takes live code. */
    run->text = strdup(SESSION_EMPTY_ORC);
    if (!run->text) {
      return refuse(*nsm, NSM_ERR_LAUNCH_FAILED, EXIT_INTERNAL, "out of memory");
    }
  }
  return CLI_RUN;
}

int
cli_session_prepare(const char *argv0, CliSettings *run, Nsm **nsm)
{
  *nsm = NULL;
  const int status = prepare(argv0, run, nsm);
  /* A failure has been answered to the session manager already. */
  if (status != CLI_RUN) {
    nsm_free(*nsm);
    *nsm = NULL;
  }
  return status;
}

/* Replays DIR's live state; the report line goes to stderr and into
 * @p report. */
static void
restore(const CliSettings *run, CsjEngine *e, char *report, size_t report_size)
{
  report[0] = '\0';
  if (!run->session_dir || !session_has_live_state(run->session_dir)) {
    return;
  }
  const CsjStatus st = csj_engine_restore_state(e, run->session_dir, report, report_size);
  if (st == CSJ_SUCCESS) {
    fprintf(stderr, "csjack: %s\n", report);
  } else if (report[0]) {
    /* Some pieces refused: the rest is restored, and it plays on. */
    fprintf(stderr, "csjack: warning: %s\n", report);
  } else {
    snprintf(report, report_size, "cannot restore from '%s': %s", run->session_dir,
             csj_last_error(e));
    fprintf(stderr, "csjack: warning: %s\n", report);
  }
}

void
cli_session_started(const CliSettings *run, CsjEngine *e, Nsm *nsm, SessionInfo *saved_as)
{
  memset(saved_as, 0, sizeof *saved_as);
  /* Absolute, so that the folder restores from any working directory. */
  if (run->path) {
    char absolute[PATH_MAX];
    snprintf(saved_as->file, sizeof saved_as->file, "%s",
             realpath(run->path, absolute) ? absolute : run->path);
  }
  snprintf(saved_as->client_name, sizeof saved_as->client_name, "%s", csj_engine_client_name(e));
  char report[1024];
  restore(run, e, report, sizeof report);
  if (!nsm) {
    return;
  }
  char message[1400];
  snprintf(message, sizeof message, "csjack plays %s%s%s as JACK client '%s'%s%s",
           run->path ? "'" : "an empty orchestra", run->path ? run->path : "", run->path ? "'" : "",
           saved_as->client_name, report[0] ? "; " : "", report);
  nsm_answer_open(nsm, 0, message);
  if (strstr(report, "failure") || strncmp(report, "cannot", 6) == 0) {
    nsm_message(nsm, 2, report);
  }
}
