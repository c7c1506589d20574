/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* engine_watch.c: housekeeping and the watchdog, on a thread of their own */

#ifndef CSJ_ENGINE_WATCH_H
#define CSJ_ENGINE_WATCH_H

#include "engine_state.h"

#include <stdbool.h>

bool engine_supervisor_start(CsjEngine *e);
void engine_supervisor_stop(CsjEngine *e);

#endif
