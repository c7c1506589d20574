/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* compile_worker.c: the worker thread: parses and splits compiles, frees
 * finished jobs, runs result callbacks and off-thread tasks */

#ifndef CSJ_COMPILE_WORKER_H
#define CSJ_COMPILE_WORKER_H

#include "command.h"
#include "command_ring.h"

#include <stdbool.h>
#include <stdint.h>

struct CsjEngineImpl;

CsjStatus worker_start(struct CsjEngineImpl *e);
void worker_stop(struct CsjEngineImpl *e);
/* Pushes a compile's command into the ring and its job into the parse
 * queue in one step (the same order in both). Not the JACK thread. */
CommandRingResult worker_push_compile(struct CsjEngineImpl *e, const void *cmd, uint32_t size,
                                      Job *job);
/* Drops the references of jobs still waiting to be parsed (at shutdown). */
void worker_drop_queued(struct CsjEngineImpl *e);
/* Parses @p text with Csound, one parse at a time and never during a
 * merge, capturing messages into @p capture. NOT real-time safe. */
void *worker_guarded_parse(struct CsjEngineImpl *e, Job *capture, const char *text, bool quiet);
/* The JACK thread's side of that handshake: false means a parse is
 * running, so merge next cycle instead. Real-time safe. */
bool worker_begin_merge(struct CsjEngineImpl *e);
void worker_end_merge(struct CsjEngineImpl *e);
/* Whether the calling thread is @p e's worker (a result callback or an
 * off-thread task runs there): calls that wait for the worker, or for
 * the line a task holds, refuse on it. Any thread. */
bool worker_is_current(const struct CsjEngineImpl *e);

#endif
