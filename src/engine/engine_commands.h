/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* engine_commands.c: the command API's producers (the public calls that
 * queue), and the rings and the worker they need */

#ifndef CSJ_ENGINE_COMMANDS_H
#define CSJ_ENGINE_COMMANDS_H

#include "engine_state.h"

/* The command ring, the done ring and the worker: set up before start,
 * freed at destroy. The control thread. */
CsjStatus commands_init(CsjEngine *e);
void commands_shutdown(CsjEngine *e);

#endif
