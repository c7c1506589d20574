/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * command_queue.c: queueing commands for the JACK thread, the mechanics
 * every producer shares (engine_commands.c, engine_record.c), and the
 * rings' set-up and tear-down. Any thread but the JACK thread.
 */

#ifndef CSJ_COMMAND_QUEUE_H
#define CSJ_COMMAND_QUEUE_H

#include "engine_state.h"

#include <stdbool.h>
#include <stddef.h>

/* The size of a command whose payload is its union member @p field. */
#define COMMAND_SIZE(field) (offsetof(Command, u) + sizeof(((Command *)0)->u.field))

/* The command ring, the done ring and the worker: set up before start,
 * freed at destroy. The control thread. */
CsjStatus commands_init(CsjEngine *e);
void commands_shutdown(CsjEngine *e);

/* Whether the engine performs, so that commands are taken. */
bool queue_accepting(const CsjEngine *e);

/* Queues @p cmd (@p size bytes of it), waiting for room as long as the
 * submit timeout allows; a compile's @p parse_job (else NULL) goes into the
 * worker's parse queue in the same step. CSJ_SUCCESS, CSJ_ERR_STATE,
 * CSJ_ERR_TOO_BIG or CSJ_ERR_RING_FULL. */
CsjStatus queue_push_with(CsjEngine *e, const Command *cmd, size_t size, Job *parse_job);
CsjStatus queue_push(CsjEngine *e, const Command *cmd, size_t size);
/* Queues the command that carries @p job. */
CsjStatus queue_push_job(CsjEngine *e, Job *job);

/* A new job, waiting for a place among the MAX_JOBS in flight as long as
 * the submit timeout allows; NULL with @p why set (CSJ_ERR_RING_FULL or
 * CSJ_ERR_NO_MEMORY). */
Job *queue_new_job(CsjEngine *e, CommandType type, int refs, CsjStatus *why);

/* Waits for the JACK thread to finish @p job: CSJ_SUCCESS, CSJ_ERR_TIMEOUT,
 * or CSJ_ERR_NOT_RUN once the performance has ended. */
CsjStatus queue_await(CsjEngine *e, Job *job, int timeout_ms);

/* Queues a job made with two references and waits for it; @p read reads
 * its reply first. The job's status, CSJ_ERR_TIMEOUT, or why it could not
 * be queued; the caller's reference is dropped either way. */
CsjStatus queue_submit_and_wait(CsjEngine *e, Job *job, int timeout_ms,
                                void (*read)(const Job *, void *), void *read_data);

/* True (with the engine's last error set) on csjack's worker thread,
 * where a call that waits for a reply would wait for itself. */
bool queue_refused_on_worker(CsjEngine *e);

#endif
