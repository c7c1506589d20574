/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's own worker threads (-j N) on the JACK thread's terms: the JACK
 * thread waits for them at every k-block's barrier, so they run at its
 * real-time priority (engine_threads.c).
 */

#ifndef CSJ_ENGINE_THREADS_H
#define CSJ_ENGINE_THREADS_H

#include "engine_state.h"

/* The threads of the process now, before Csound starts. */
void engine_threads_before_start(CsjEngine *e);

/* After Csound started: the threads that are new are Csound's (its -j
 * workers). Called again after activation, when JACK's priority is
 * known, it gives them that priority (SCHED_FIFO) and says so. Not
 * real-time safe. */
void engine_threads_after_start(CsjEngine *e);
void engine_threads_match_jack(CsjEngine *e);

#endif
