/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The end of a csjack run (cli_end.c): the wait, the close, the summary
 * line and the exit status.
 */

#ifndef CSJ_CLI_END_H
#define CSJ_CLI_END_H

#include "cli_settings.h"
#include "console.h"
#include "nsm.h"
#include "session.h"
#include "udp_server.h"

/* What a run has open once it plays. */
typedef struct {
  CsjEngine *engine;
  Console *console;     /* NULL: none (stdin closed) */
  UdpServer *server;    /* NULL: none */
  Nsm *nsm;             /* the session manager; NULL: none */
  SessionInfo saved_as; /* what a save writes to csjack.session */
  double started_s;     /* cli_seconds_now() when it started playing */
} CliRunning;

/* Waits until the performance ends or a stop signal comes; then for any
 * thread still inside Csound, up to the hang limit. */
void cli_wait_for_end(const CliRunning *r, const CliSettings *run);

/* Closes everything, prints the summary line and returns the exit status.
 * A Csound that does not let go is not waited for: the process exits with
 * EXIT_HUNG. */
int cli_close(CliRunning *r, const CliSettings *run);

/* Monotonic seconds. */
double cli_seconds_now(void);

#endif
