/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack as a client of a session manager that speaks the NSM API 1.1
 * (new-session-manager's nsmd, Agordejo, Carla, RaySession): nsm.c.
 *
 * When NSM_URL is set, main() announces csjack from a UDP socket of its own
 * (every later message goes out of the same socket, as the API requires),
 * waits for the reply and then for /nsm/client/open, before any JACK client
 * exists: open names the JACK client (client_id, exactly) and the client's
 * folder. Once the engine plays and the folder's state is restored, main
 * answers open, and a thread of the application (never the JACK thread)
 * answers /nsm/client/save by saving into the folder, and tells the server
 * is_dirty when the live state changed since the last save, is_clean after
 * a save. Quit is SIGTERM, which csjack's signal thread already honours at
 * once. The capabilities are ":dirty:message:" (no :switch:: one open per
 * process).
 */

#ifndef CSJ_NSM_H
#define CSJ_NSM_H

#include "session.h"

#include "csjack.h"

#include <stdbool.h>
#include <stddef.h>

/* The error codes of the NSM API that csjack answers with. */
enum {
  NSM_ERR_GENERAL = -1,
  NSM_ERR_LAUNCH_FAILED = -4,
  NSM_ERR_NO_SUCH_FILE = -5,
  NSM_ERR_NOT_NOW = -8,
  NSM_ERR_BAD_PROJECT = -9,
  NSM_ERR_CREATE_FAILED = -10,
};

/* How long the server has to answer the announce, in milliseconds. */
#define NSM_ANNOUNCE_TIMEOUT_MS 5000

/* A connection to the session manager. */
typedef struct NsmImpl Nsm;

/* What /nsm/client/open said. */
typedef struct {
  char path[4096];        /* the client's own folder (csjack uses it as one) */
  char display_name[256]; /* the session's name, for messages */
  char client_id[256];    /* the JACK client name, exactly */
} NsmOpen;

/* How nsm_connect ended without a connection. */
typedef enum {
  NSM_UNAVAILABLE, /* NSM_URL is not one csjack can use, or nothing answered */
  NSM_REFUSED,     /* the server answered the announce with /error */
} NsmFailure;

/* The session manager's address: NSM_URL when set and not empty, else
 * NULL. */
const char *nsm_url(void);

/*
 * Announces csjack to the server at @p url (as
 * `/nsm/server/announce s:"csjack" s:":dirty:message:" s:argv0 i:1 i:1
 * i:pid`), waits up to NSM_ANNOUNCE_TIMEOUT_MS for its reply, says who
 * answered on stderr, then waits for /nsm/client/open for as long as it
 * takes (a SIGTERM meanwhile ends the process: nothing is open yet). Any
 * thread; blocks. Returns the connection, or NULL with @p failure and
 * @p why (one line).
 */
Nsm *nsm_connect(const char *url, const char *argv0, NsmFailure *failure, char *why,
                 size_t why_size);

/* What open said; valid until nsm_free. */
const NsmOpen *nsm_opened(const Nsm *n);

/* Answers open: `/reply "/nsm/client/open" s:message` when @p code is 0,
 * else `/error "/nsm/client/open" i:code s:message`. */
void nsm_answer_open(Nsm *n, int code, const char *message);

/* `/nsm/client/message i:priority s:text` (priority 0 to 3, 3 the most
 * important). Any thread. */
void nsm_message(Nsm *n, int priority, const char *text);

/*
 * Starts the thread that answers /nsm/client/save (session_save into the
 * open folder, @p info for csjack.session, which must outlive the thread)
 * and watches csj_engine_state_changes five times a second for
 * is_dirty. The count now is the clean state. Stop signals stay blocked in
 * it. False when the thread cannot start.
 */
bool nsm_start(Nsm *n, CsjEngine *e, const SessionInfo *info);

/* Stops the thread (at once: it is woken), closes the socket and frees
 * @p n. NULL is a no-op. Call before the engine is destroyed. */
void nsm_free(Nsm *n);

#endif
