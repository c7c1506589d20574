/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The direct path: a caller's thread takes Csound between two JACK cycles
 * and calls into it itself (evalCode, compile, creating a channel).
 *
 * The owner flag says who may be inside Csound: the JACK thread during its
 * cycle, one direct caller between cycles, or nobody. The JACK thread only
 * ever tries to take it (one compare-and-swap) and never waits: a cycle
 * that finds it taken is dropped (silence, counted), so a direct caller
 * costs the music cycles, never the graph its deadline.
 */

#include "engine_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The direct path -------------------------------------------------------- */

/* Takes Csound between two cycles; the JACK thread then drops cycles rather
 * than wait for us. */
static bool
acquire_direct(CsjEngine *e, int timeout_ms)
{
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int expected = OWNER_NONE;
    if (atomic_compare_exchange_weak_explicit(&e->owner, &expected, OWNER_DIRECT,
                                              memory_order_acquire, memory_order_relaxed)) {
      return true;
    }
    if (timeout_ms >= 0 && engine_elapsed_ms(&start) >= timeout_ms) {
      return false;
    }
    engine_sleep_us(50);
  }
}

static void
release_direct(CsjEngine *e)
{
  atomic_store_explicit(&e->owner, OWNER_NONE, memory_order_release);
}

/* Direct calls are serialised among themselves by the owner flag too. */
static CsjStatus
direct_begin(CsjEngine *e, Job *capture)
{
  const int state = atomic_load_explicit(&e->state, memory_order_acquire);
  if (state == ENGINE_FINISHED || state < ENGINE_COMPILED || csound_adapter_aborted(e->csound)) {
    return CSJ_ERR_STATE;
  }
  /* The parse mutex first: a direct call parses too. The worker never
   * waits for the owner flag, so this order cannot deadlock. */
  pthread_mutex_lock(&e->parse_mutex);
  if (!acquire_direct(e, 10000)) {
    pthread_mutex_unlock(&e->parse_mutex);
    return CSJ_ERR_TIMEOUT;
  }
  job_capture_begin(capture);
  atomic_store_explicit(&e->direct_busy_since_ns, engine_now_ns(), memory_order_relaxed);
  return CSJ_SUCCESS;
}

static void
direct_end(CsjEngine *e)
{
  atomic_store_explicit(&e->direct_busy_since_ns, 0, memory_order_relaxed);
  job_capture_end();
  release_direct(e);
  pthread_mutex_unlock(&e->parse_mutex);
}

/* After a direct call: a fatal error inside Csound left its API lock with
 * this thread, so the performance cannot go on. The JACK thread is not in
 * Csound (we own it), and once the state says finished it never enters
 * Csound again. */
static void
direct_check_abort(CsjEngine *e)
{
  if (csound_adapter_aborted(e->csound)) {
    engine_finish(e, CSJ_END_CSOUND_ERROR, csound_adapter_exit_code(e->csound));
  }
}

CsjStatus
csj_engine_eval_code_direct(CsjEngine *e, const char *code, double *value, char *error,
                            size_t error_size)
{
  if (!e || !code) {
    return CSJ_ERR_BAD_ARG;
  }
  Job capture = {0};
  CsjStatus status = direct_begin(e, &capture);
  if (status != CSJ_SUCCESS) {
    return status;
  }
  int result = 0;
  const double retval = csound_adapter_eval_code(e->csound, code, &result);
  direct_check_abort(e);
  direct_end(e);
  if (value) {
    *value = retval;
  }
  if (result != 0) {
    capture.status = CSJ_ERR_EVAL;
    job_copy_message(&capture, error, error_size);
    return CSJ_ERR_EVAL;
  }
  return CSJ_SUCCESS;
}

CsjStatus
csj_engine_compile_orc_direct(CsjEngine *e, const char *code, char *error, size_t error_size)
{
  if (!e || !code) {
    return CSJ_ERR_BAD_ARG;
  }
  Job capture = {0};
  CsjStatus status = direct_begin(e, &capture);
  if (status != CSJ_SUCCESS) {
    return status;
  }
  const int result = csound_adapter_compile_orc(e->csound, code);
  direct_check_abort(e);
  direct_end(e);
  if (result != 0) {
    capture.status = CSJ_ERR_COMPILE;
    job_copy_message(&capture, error, error_size);
    return CSJ_ERR_COMPILE;
  }
  return CSJ_SUCCESS;
}

/* ---- Channels --------------------------------------------------------------- */

CsjStatus
csj_engine_channel(CsjEngine *e, const char *name, CsjChannel **out)
{
  if (!e || !name || !out) {
    return CSJ_ERR_BAD_ARG;
  }
  pthread_mutex_lock(&e->channel_lock);
  for (ChannelEntry *c = e->channels; c; c = c->next) {
    if (strcmp(c->name, name) == 0) {
      *out = &c->channel;
      pthread_mutex_unlock(&e->channel_lock);
      return CSJ_SUCCESS;
    }
  }
  /* Creating a channel allocates and inserts into Csound's hash without a
   * lock, so it is done while we hold Csound, between two cycles. */
  CsjStatus status = direct_begin(e, NULL);
  double *value = NULL;
  if (status == CSJ_SUCCESS) {
    value = csound_adapter_control_channel(e->csound, name);
    direct_end(e);
  }
  ChannelEntry *entry = value ? calloc(1, sizeof(*entry)) : NULL;
  if (entry && !(entry->name = strdup(name))) {
    free(entry); /* out of memory: nothing cached */
    entry = NULL;
  }
  if (entry) {
    entry->channel.value = value;
    entry->next = e->channels;
    e->channels = entry;
    *out = &entry->channel;
  }
  pthread_mutex_unlock(&e->channel_lock);
  if (status != CSJ_SUCCESS) {
    return status;
  }
  return entry ? CSJ_SUCCESS : (value ? CSJ_ERR_NO_MEMORY : CSJ_ERR_NOT_FOUND);
}

/* Csound's MYFLT is a double; its 64 bits are stored and loaded whole, so a
 * reader on another thread never sees half of a write. */
void
csj_channel_set(CsjChannel *ch, double value)
{
  __atomic_store(ch->value, &value, __ATOMIC_RELAXED);
}

double
csj_channel_get(const CsjChannel *ch)
{
  double value;
  __atomic_load(ch->value, &value, __ATOMIC_RELAXED);
  return value;
}

CsjStatus
csj_engine_set_control(CsjEngine *e, const char *name, double value)
{
  CsjChannel *ch = NULL;
  CsjStatus status = csj_engine_channel(e, name, &ch);
  if (status == CSJ_SUCCESS) {
    csj_channel_set(ch, value);
  }
  return status;
}

CsjStatus
csj_engine_get_control(CsjEngine *e, const char *name, double *value)
{
  CsjChannel *ch = NULL;
  CsjStatus status = csj_engine_channel(e, name, &ch);
  if (status == CSJ_SUCCESS) {
    *value = csj_channel_get(ch);
  }
  return status;
}

CsjStatus
csj_engine_get_string_channel(CsjEngine *e, const char *name, char *out, size_t out_size)
{
  if (!e || !name || !out) {
    return CSJ_ERR_BAD_ARG;
  }
  /* Reading may create the channel (allocation): hold Csound meanwhile. */
  CsjStatus status = direct_begin(e, NULL);
  if (status != CSJ_SUCCESS) {
    return status;
  }
  const int r = csound_adapter_get_string_channel(e->csound, name, out, out_size);
  direct_end(e);
  return r == 0 ? CSJ_SUCCESS : (r == -2 ? CSJ_ERR_TOO_BIG : CSJ_ERR_NOT_FOUND);
}
