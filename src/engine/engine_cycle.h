/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* engine_cycle.c: the JACK thread's cycle, and JACK's other callbacks */

#ifndef CSJ_ENGINE_CYCLE_H
#define CSJ_ENGINE_CYCLE_H

#include "engine_state.h"

JackCycleHandler engine_cycle_handler(CsjEngine *e);
/* Lays the output FIFO out for a period. Before activation, or on the
 * JACK thread. */
void engine_reset_for_period(CsjEngine *e, uint32_t period);

#endif
