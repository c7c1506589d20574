/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Surviving the JACK server: with CsjOptions.reconnect_ms, a server that
 * went away leaves Csound as it is, and the supervisor opens the client
 * again when a server is back (engine_reconnect.c).
 */

#ifndef CSJ_ENGINE_RECONNECT_H
#define CSJ_ENGINE_RECONNECT_H

#include "engine_state.h"

/* The supervisor, while the server is gone: says so once, closes the
 * recording, and tries every 0.5 s to reopen. True while the engine goes
 * on (waiting, or back); false when it must end (no reconnecting asked, a
 * stop asked, the limit reached, or a server at another rate). Not
 * real-time safe. */
bool engine_reconnect_tick(CsjEngine *e);

#endif
