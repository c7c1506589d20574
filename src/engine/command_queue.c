/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Queueing commands (command_queue.h): how application threads reach the
 * JACK thread. A full ring, or MAX_JOBS in flight, is an error at once
 * unless the caller set a submit timeout; a command accepted runs exactly
 * once, in order. Also the rings' set-up and tear-down.
 */

#include "engine_state.h"
#include "command_queue.h"
#include "compile_worker.h"
#include "command_exec.h"
#include "job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool
queue_accepting(const CsjEngine *e)
{
  const int state = atomic_load_explicit(&((CsjEngine *)e)->state, memory_order_acquire);
  return state == ENGINE_PERFORMING;
}

/*
 * How long this call may wait for room: the engine's submit timeout, but
 * never on csjack's worker thread, which is the one that frees finished
 * jobs and parses the compile the JACK thread may be holding the line
 * for: waiting there for room would wait for itself.
 */
static int
room_timeout_ms(CsjEngine *e)
{
  if (worker_is_current(e)) {
    return 0;
  }
  return atomic_load_explicit(&e->submit_timeout_ms, memory_order_relaxed);
}

/* True while a caller that found no room should try again. */
static bool
keep_waiting(CsjEngine *e, int timeout, const struct timespec *start)
{
  if (timeout == 0 || (timeout > 0 && engine_elapsed_ms(start) >= timeout) || !queue_accepting(e)) {
    return false;
  }
  engine_sleep_us(200);
  return true;
}

/* Queues @p cmd; a compile's @p parse_job (else NULL) goes into the
 * worker's parse queue in the same step. */
CsjStatus
queue_push_with(CsjEngine *e, const Command *cmd, size_t size, Job *parse_job)
{
  if (!queue_accepting(e)) {
    return CSJ_ERR_STATE;
  }
  const int timeout = room_timeout_ms(e);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    const CommandRingResult r = parse_job ? worker_push_compile(e, cmd, (uint32_t)size, parse_job)
                                          : command_ring_push(e->ring, cmd, (uint32_t)size);
    switch (r) {
    case COMMAND_RING_OK: return CSJ_SUCCESS;
    case COMMAND_RING_TOO_BIG: return CSJ_ERR_TOO_BIG;
    case COMMAND_RING_FULL: break;
    }
    if (!keep_waiting(e, timeout, &start)) {
      return CSJ_ERR_RING_FULL; /* also when the performance ended meanwhile */
    }
  }
}

/*
 * A new job, waiting for one of the MAX_JOBS places in flight as long as
 * the submit timeout allows (the same wait as for a ring slot). NULL with
 * @p why set: CSJ_ERR_RING_FULL (no place in time, or the performance
 * ended meanwhile, as for a full ring) or CSJ_ERR_NO_MEMORY.
 */
Job *
queue_new_job(CsjEngine *e, CommandType type, int refs, CsjStatus *why)
{
  const int timeout = room_timeout_ms(e);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    Job *job = job_new(e, type, refs);
    if (job) {
      return job;
    }
    if (errno != EAGAIN) {
      *why = CSJ_ERR_NO_MEMORY;
      return NULL;
    }
    if (!keep_waiting(e, timeout, &start)) {
      *why = CSJ_ERR_RING_FULL;
      return NULL;
    }
  }
}

CsjStatus
queue_push(CsjEngine *e, const Command *cmd, size_t size)
{
  return queue_push_with(e, cmd, size, NULL);
}

CsjStatus
queue_push_job(CsjEngine *e, Job *job)
{
  Command cmd = {.type = (uint8_t)job->type};
  cmd.u.job = job;
  return queue_push(e, &cmd, COMMAND_SIZE(job));
}

/*
 * Waits for the JACK thread to finish a job. Once the performance has ended
 * no cycle runs commands any more, so a job not finished by then never will
 * be: the caller is told CSJ_ERR_NOT_RUN at once instead of waiting out its
 * timeout.
 */
CsjStatus
queue_await(CsjEngine *e, Job *job, int timeout_ms)
{
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct timespec slice;
    clock_gettime(CLOCK_REALTIME, &slice);
    slice.tv_nsec += 20 * 1000 * 1000;
    if (slice.tv_nsec >= 1000000000L) {
      slice.tv_sec += 1;
      slice.tv_nsec -= 1000000000L;
    }
    if (sem_timedwait(&job->done, &slice) == 0) {
      return CSJ_SUCCESS;
    }
    if (atomic_load_explicit(&e->state, memory_order_acquire) == ENGINE_FINISHED) {
      /* The last cycle may have finished it just now. */
      if (atomic_load_explicit(&job->finished, memory_order_acquire)) {
        return CSJ_SUCCESS;
      }
      return CSJ_ERR_NOT_RUN;
    }
    if (timeout_ms >= 0 && engine_elapsed_ms(&start) >= timeout_ms) {
      return CSJ_ERR_TIMEOUT;
    }
  }
}

/*
 * Queues a job made with two references and waits for it. Returns the
 * job's status, CSJ_ERR_TIMEOUT, or why it could not be queued. Either way
 * the caller's reference is dropped; read the reply in @p read first.
 */
CsjStatus
queue_submit_and_wait(CsjEngine *e, Job *job, int timeout_ms, void (*read)(const Job *, void *),
                      void *read_data)
{
  CsjStatus status = queue_refused_on_worker(e) ? CSJ_ERR_STATE : queue_push_job(e, job);
  if (status != CSJ_SUCCESS) {
    atomic_store_explicit(&job->refs, 1, memory_order_relaxed);
    job_release(e, job);
    return status;
  }
  status = queue_await(e, job, timeout_ms);
  if (status == CSJ_SUCCESS) {
    status = job->status;
    if (read) {
      read(job, read_data);
    }
  }
  job_release(e, job);
  return status;
}

/*
 * On the worker (an off-thread task, or a result callback), a call that
 * waits for a reply would wait for the worker itself, or for the line an
 * off-thread task holds: refused at once, before anything is queued.
 */
bool
queue_refused_on_worker(CsjEngine *e)
{
  if (!worker_is_current(e)) {
    return false;
  }
  engine_set_error_text(e, "refused on csjack's worker thread (inside an off-thread task or a "
                           "result callback): it would wait for the line that thread holds; "
                           "use the _direct or _async forms there");
  return true;
}

void
csj_engine_set_submit_timeout(CsjEngine *e, int timeout_ms)
{
  atomic_store_explicit(&e->submit_timeout_ms, timeout_ms, memory_order_relaxed);
}

/* ---- Set-up and tear-down ---------------------------------------------------- */

CsjStatus
commands_init(CsjEngine *e)
{
  e->ring = command_ring_new(RING_SLOTS);
  e->held = event_queue_new(HELD_EVENTS, sizeof(Command));
  /* Every job in flight fits, so the JACK thread's push never fails. */
  e->done_ring = spsc_ring_new(2u * MAX_JOBS * (uint32_t)(sizeof(uint32_t) + sizeof(Job *)));
  if (!e->ring || !e->done_ring || !e->held) {
    return CSJ_ERR_NO_MEMORY;
  }
  atomic_init(&e->jobs_in_flight, 0);
  atomic_init(&e->submit_timeout_ms, 0);
  atomic_init(&e->owner, OWNER_NONE);
  pthread_mutex_init(&e->channel_lock, NULL);
  pthread_mutex_init(&e->record_lock, NULL);
  return worker_start(e);
}

void
commands_shutdown(CsjEngine *e)
{
  if (!e->ring) {
    return;
  }
  /* The JACK thread is gone: this thread is now the ring's one consumer. */
  if (e->exec.stash_full) {
    commands_answer_not_run(e, &e->exec.stash);
    e->exec.stash_full = false;
  }
  Command cmd;
  uint32_t size;
  const uint64_t bound = command_ring_begin_drain(e->ring);
  while (command_ring_pop(e->ring, bound, &cmd, &size)) {
    commands_answer_not_run(e, &cmd);
  }
  /* Held events never released: the same, after the ring's (they were
   * queued before anything still in the ring). */
  while (e->held && event_queue_pop(e->held, NULL, &cmd)) {
    commands_answer_not_run(e, &cmd);
  }
  worker_stop(e);
  worker_drop_queued(e);
  Recorder *left = atomic_exchange_explicit(&e->active_recording, NULL, memory_order_acq_rel);
  if (left) {
    /* A failure is reported as it happened (engine_record_failed). */
    recorder_close(left, NULL, 0);
  }
  while (e->channels) {
    ChannelEntry *next = e->channels->next;
    free(e->channels->name);
    free(e->channels);
    e->channels = next;
  }
  command_ring_free(e->ring);
  event_queue_free(e->held);
  e->held = NULL;
  spsc_ring_free(e->done_ring);
  free(e->parse_queue);
  e->ring = NULL;
  if (e->parse_queue_ready) {
    sem_destroy(&e->worker_wake);
    pthread_mutex_destroy(&e->parse_lock);
    pthread_mutex_destroy(&e->parse_mutex);
  }
  pthread_mutex_destroy(&e->channel_lock);
  pthread_mutex_destroy(&e->record_lock);
}
