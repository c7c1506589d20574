/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* engine_record.c: what the lifecycle (engine.c) does with a recording
 * asked for before start. */

#ifndef CSJ_ENGINE_RECORD_H
#define CSJ_ENGINE_RECORD_H

#include "engine_state.h"

/* csj_engine_start, with record_lock held, before activation: starts the
 * recording asked for before start, if any, as the JACK thread's own, so
 * that the first cycle is recorded. CSJ_SUCCESS, or CSJ_ERR_FILE with the
 * last error set (the file is left as it was created). */
CsjStatus engine_record_install_pending(CsjEngine *e);

/* csj_engine_start when activation failed: closes what
 * engine_record_install_pending started (no JACK thread has seen it). */
void engine_record_uninstall(CsjEngine *e);

/* csj_engine_destroy and csj_engine_stop_record (record_lock held): a
 * recording asked for before start and never started is let go: a file it
 * created is removed, one that was there is left as it was. */
void engine_record_forget_pending(CsjEngine *e);

#endif
