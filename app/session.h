/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack's session folder (session.c): what the library saves of the live
 * state (live.orc, channels.txt: csj_engine_save_state) and csjack's own
 * csjack.session beside it, which names the file played and the JACK
 * client. Written by the console's :save and by an NSM save, read by
 * --restore and by NSM's open. Any thread but the JACK thread.
 */

#ifndef CSJ_SESSION_H
#define CSJ_SESSION_H

#include "csjack.h"

#include <stdbool.h>
#include <stddef.h>

#define SESSION_FILE "csjack.session"

/* What csjack.session records: the file played and the JACK client. */
typedef struct {
  char file[4096];       /* absolute; "": the empty orchestra */
  char client_name[256]; /* "": none recorded */
} SessionInfo;

/*
 * Saves @p e's live state into @p dir (made if missing) and writes
 * DIR/csjack.session from @p info, whole or not at all. Returns
 * CSJ_SUCCESS, or the library's status (CSJ_ERR_STATE, CSJ_ERR_TIMEOUT) or
 * CSJ_ERR_FILE, with @p why saying what failed.
 */
CsjStatus session_save(CsjEngine *e, const char *dir, const SessionInfo *info, char *why,
                       size_t why_size);

/*
 * Reads DIR/csjack.session into @p info. Returns 1 when read, 0 when DIR
 * holds none (@p info emptied), -1 when it cannot be read or is not one
 * (@p why says why). Unknown keys are skipped: a later csjack may write
 * more.
 */
int session_read(const char *dir, SessionInfo *info, char *why, size_t why_size);

/* Whether DIR holds live state the library restores (live.orc or
 * channels.txt). */
bool session_has_live_state(const char *dir);

/* mkdir -p @p dir (mode 0755). False, with @p why, when it cannot be made
 * or is not a folder. */
bool session_make_folder(const char *dir, char *why, size_t why_size);

/* The empty orchestra a session without a file plays: two channels in and
 * out, at the server's rate (as every csjack orchestra). */
#define SESSION_EMPTY_ORC "nchnls = 2\n0dbfs = 1\n"

#endif
