/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack command's session phase (cli_session.c): a session manager
 * (NSM_URL) or --restore DIR fill the run's settings from a session folder
 * before any JACK client exists, and the folder's live state is replayed
 * once the engine plays.
 */

#ifndef CSJ_CLI_SESSION_H
#define CSJ_CLI_SESSION_H

#include "cli_settings.h"
#include "nsm.h"

/*
 * Under a session manager, announces csjack and waits for open (*nsm is
 * then the connection; one that does not answer is warned about and csjack
 * goes on without); the folder it names, or --restore's, gives the file
 * (unless FILE was given: csjack.session's, else the empty orchestra) and
 * the JACK client name (the session manager's client_id; else --name, else
 * csjack.session's). Returns CLI_RUN, or the status to exit with, having
 * said why (to the session manager too).
 */
int cli_session_prepare(const char *argv0, CliSettings *run, Nsm **nsm);

/*
 * Once the engine plays: fills @p saved_as with what a save writes to
 * csjack.session (the file played, absolute; the client name), replays the
 * folder's live state if it holds one and prints the report line, then
 * answers the session manager's open (@p nsm may be NULL).
 */
void cli_session_started(const CliSettings *run, CsjEngine *e, Nsm *nsm, SessionInfo *saved_as);

/* Tells a session manager still waiting for the answer to open that
 * csjack did not start, and why (@p status, an exit status). NULL: no-op. */
void cli_session_failed(Nsm *nsm, int status);

#endif
