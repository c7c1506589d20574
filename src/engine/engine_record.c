/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recording what csjack sends to JACK, from the application's side: start,
 * stop and abandon a recording (the writer itself is recorder.c; the JACK
 * thread feeds it in engine_cycle.c).
 */

#include "engine_state.h"
#include "command_queue.h"
#include "engine_record.h"
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * After the performance has ended (state FINISHED): waits until the JACK
 * thread is out of the cycle it may be in. From then on no cycle touches
 * the recorder, the FIFOs or Csound. False after @p timeout_ms: the JACK
 * thread is stuck in a cycle (or died in one with its server).
 */
static bool
engine_rt_let_go(CsjEngine *e, int timeout_ms)
{
  const uint64_t deadline = engine_now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (atomic_load_explicit(&e->rt_in_cycle, memory_order_seq_cst)) {
    if (engine_now_ns() > deadline) {
      return false;
    }
    const struct timespec tick = {0, 200 * 1000};
    nanosleep(&tick, NULL);
  }
  return true;
}

/* The writer's report: a failed write, or the first frames lost. */
static void
engine_record_failed(void *engine, const char *why)
{
  CsjEngine *e = engine;
  atomic_fetch_add_explicit(&e->record_errors, 1, memory_order_relaxed);
  engine_set_error_text(e, why);
  message_log_printf(e->log, 0, "csjack: error: %s\n", why);
}

static CsjStatus
engine_close_recording(CsjEngine *e, Recorder *r, bool rt_let_go)
{
  if (!rt_let_go && atomic_load_explicit(&e->state, memory_order_seq_cst) == ENGINE_FINISHED &&
      !engine_rt_let_go(e, 2000)) {
    return CSJ_ERR_TIMEOUT;
  }
  char why[512];
  if (!recorder_close(r, why, sizeof(why))) {
    engine_set_error_text(e, why);
    return CSJ_ERR_RECORD;
  }
  return CSJ_SUCCESS;
}

static bool
before_start(const CsjEngine *e)
{
  const int state = atomic_load_explicit(&((CsjEngine *)e)->state, memory_order_acquire);
  return state == ENGINE_CREATED || state == ENGINE_COMPILED;
}

/* Before start (record_lock held): the file is opened now, so that a bad
 * path is said now; the recorder, which needs the orchestra's channels, is
 * started (and the file emptied) by csj_engine_start. */
static CsjStatus
record_before_start(CsjEngine *e, const char *path, int bits)
{
  char why[512];
  char *copy = strdup(path);
  bool created = false;
  const int fd = copy ? recorder_create_file(path, &created, why, sizeof(why)) : -1;
  if (fd < 0) {
    free(copy);
    engine_set_error_text(e, copy ? why : "out of memory");
    return copy ? CSJ_ERR_FILE : CSJ_ERR_NO_MEMORY;
  }
  e->record_pending = true;
  e->record_pending_created = created;
  e->record_pending_fd = fd;
  e->record_pending_bits = bits;
  e->record_pending_path = copy;
  return CSJ_SUCCESS;
}

/* A recording asked for before start that never started: a file it
 * created goes, one that was there is left as it was. */
void
engine_record_forget_pending(CsjEngine *e)
{
  if (e->record_pending) {
    close(e->record_pending_fd);
    if (e->record_pending_created) {
      unlink(e->record_pending_path);
    }
    free(e->record_pending_path);
    e->record_pending_path = NULL;
    e->record_pending = false;
  }
}

CsjStatus
engine_record_install_pending(CsjEngine *e)
{
  if (!e->record_pending) {
    return CSJ_SUCCESS;
  }
  char why[512];
  const int fd = e->record_pending_fd;
  e->record_pending = false;
  Recorder *r = recorder_start(fd, e->record_pending_path, e->record_pending_bits, e->n_out,
                               atomic_load_explicit(&e->jack_rate, memory_order_relaxed),
                               MAX_PERIOD, engine_record_failed, e, why, sizeof(why));
  free(e->record_pending_path);
  e->record_pending_path = NULL;
  if (!r) {
    engine_set_error_text(e, why);
    return CSJ_ERR_FILE;
  }
  /* No JACK thread yet: its activation publishes this to it. */
  e->exec.recorder = r;
  atomic_store_explicit(&e->record_abandoned, false, memory_order_relaxed);
  atomic_store_explicit(&e->active_recording, r, memory_order_release);
  return CSJ_SUCCESS;
}

void
engine_record_uninstall(CsjEngine *e)
{
  Recorder *r = atomic_exchange_explicit(&e->active_recording, NULL, memory_order_acq_rel);
  e->exec.recorder = NULL;
  recorder_close(r, NULL, 0);
}

CsjStatus
csj_engine_record(CsjEngine *e, const char *path, int bits)
{
  if (!e || !path) {
    return CSJ_ERR_BAD_ARG;
  }
  if (bits != 16 && bits != 24 && bits != 32) {
    engine_set_error_text(e, "bits must be 16, 24 or 32");
    return CSJ_ERR_BAD_ARG;
  }
  if (queue_refused_on_worker(e)) {
    return CSJ_ERR_STATE;
  }
  pthread_mutex_lock(&e->record_lock);
  if (atomic_load_explicit(&e->active_recording, memory_order_acquire) || e->record_pending) {
    pthread_mutex_unlock(&e->record_lock);
    engine_set_error_text(e, "already recording; stop the current recording first");
    return CSJ_ERR_STATE;
  }
  if (before_start(e)) {
    const CsjStatus pending = record_before_start(e, path, bits);
    pthread_mutex_unlock(&e->record_lock);
    return pending;
  }
  if (!queue_accepting(e)) {
    pthread_mutex_unlock(&e->record_lock);
    return CSJ_ERR_STATE;
  }
  char why[512];
  Recorder *r =
    recorder_open(path, bits, e->n_out, atomic_load_explicit(&e->jack_rate, memory_order_relaxed),
                  MAX_PERIOD, engine_record_failed, e, why, sizeof(why));
  if (!r) {
    pthread_mutex_unlock(&e->record_lock);
    engine_set_error_text(e, why);
    return CSJ_ERR_FILE;
  }
  CsjStatus status = CSJ_SUCCESS;
  Job *job = queue_new_job(e, CMD_RECORD_START, 2, &status);
  if (job) {
    job->recorder = r;
    status = queue_submit_and_wait(e, job, -1, NULL, NULL);
  }
  if (status == CSJ_SUCCESS) {
    atomic_store_explicit(&e->active_recording, r, memory_order_release);
  } else if (!job || status == CSJ_ERR_RING_FULL || status == CSJ_ERR_STATE) {
    recorder_close(r, NULL, 0); /* never reached the JACK thread */
  } else if (engine_close_recording(e, r, false) == CSJ_ERR_TIMEOUT) {
    /* CSJ_ERR_NOT_RUN: the performance ended first, but the JACK thread
     * may have taken it in its last cycle: closed once it has let go, or
     * at destroy. */
    atomic_store_explicit(&e->active_recording, r, memory_order_release);
  }
  pthread_mutex_unlock(&e->record_lock);
  return status;
}

CsjStatus
csj_engine_stop_record(CsjEngine *e)
{
  if (queue_refused_on_worker(e)) {
    return CSJ_ERR_STATE;
  }
  pthread_mutex_lock(&e->record_lock);
  if (e->record_pending) {
    engine_record_forget_pending(e); /* asked for before start, never started */
    pthread_mutex_unlock(&e->record_lock);
    return CSJ_SUCCESS;
  }
  Recorder *r = atomic_load_explicit(&e->active_recording, memory_order_acquire);
  if (!r) {
    pthread_mutex_unlock(&e->record_lock);
    return CSJ_ERR_STATE;
  }
  CsjStatus status = CSJ_SUCCESS;
  if (queue_accepting(e)) {
    Job *job = queue_new_job(e, CMD_RECORD_STOP, 2, &status);
    if (job) {
      status = queue_submit_and_wait(e, job, -1, NULL, NULL);
    }
  }
  /* Once the JACK thread has let go (or the performance is over and no cycle
   * writes any more), the writer drains and closes the file. */
  if (status == CSJ_SUCCESS || !queue_accepting(e)) {
    if (!atomic_compare_exchange_strong_explicit(&e->active_recording, &r, NULL,
                                                 memory_order_acq_rel, memory_order_acquire)) {
      /* csj_engine_abandon_record took and closed it meanwhile. */
      pthread_mutex_unlock(&e->record_lock);
      return CSJ_SUCCESS;
    }
    /* Not acknowledged (the performance ended): the JACK thread may still
     * be writing its last cycle; engine_close_recording waits for it. */
    status = engine_close_recording(e, r, status == CSJ_SUCCESS);
    if (status == CSJ_ERR_TIMEOUT) {
      atomic_store_explicit(&e->active_recording, r, memory_order_release); /* closed at destroy */
    }
  }
  pthread_mutex_unlock(&e->record_lock);
  return status;
}

/*
 * For an application that must exit while Csound does not let go: the
 * record lock may be held for ever by a stop waiting for that JACK thread,
 * so the recording is taken with an exchange instead (see
 * active_recording). The JACK thread checks record_abandoned before each
 * write, after Csound returns; one that is in a cycle now is given 100 ms
 * to finish a write it may have begun.
 */
void
csj_engine_abandon_record(CsjEngine *e)
{
  if (!e) {
    return;
  }
  Recorder *r = atomic_exchange_explicit(&e->active_recording, NULL, memory_order_acq_rel);
  if (!r) {
    return;
  }
  /* Sequentially consistent with the JACK thread's rt_in_cycle store and
   * record_abandoned load: either it sees the flag, or we see it in its
   * cycle and wait. One that waits for the disk (freewheel) stops waiting. */
  atomic_store_explicit(&e->record_abandoned, true, memory_order_seq_cst);
  recorder_interrupt(r);
  for (int i = 0; i < 500 && atomic_load_explicit(&e->rt_in_cycle, memory_order_seq_cst); ++i) {
    engine_sleep_us(200);
  }
  char why[512];
  if (!recorder_close(r, why, sizeof(why))) {
    engine_set_error_text(e, why);
  }
}
