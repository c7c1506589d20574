/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command API: how application threads reach the JACK thread.
 *
 * Producers (any thread) push fixed-size commands into a bounded MPSC ring
 * (command_ring.c). Commands that need more than a slot carry a Job: memory
 * the caller allocated. The JACK thread drains, at the start of each cycle,
 * what was queued when the cycle began, runs each command, and hands jobs
 * it has finished to the worker through an SPSC "done" ring: it never
 * frees. The worker thread frees jobs, deletes parse trees and runs result
 * callbacks, and it does the heavy half of every compile: the parse.
 *
 * Compiles keep their place in line. A compile or evalCode is pushed into
 * the ring at once and handed to the worker to parse. When the JACK thread
 * reaches it before the parse is done, it keeps it aside ("the stash") and
 * stops draining for this cycle; later commands wait behind it, so order
 * holds and the JACK thread never waits.
 *
 * Parses are serialised (Csound's parser has shared state) and never run
 * alongside a merge on the JACK thread (guarded_parse/begin_merge); a large
 * compile is merged one instrument per cycle (see Feed below). An evalCode
 * is parsed on the caller's thread before it is queued (submit_eval).
 */

#include "engine_internal.h"
#include "orchestra_split.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING_SLOTS 1024u
#define MAX_JOBS 4096
#define WORKER_TICK_NS (20 * 1000 * 1000)

/* The job whose Csound messages this thread is capturing, if any. */
static _Thread_local Job *capturing;

/* ---- Jobs ------------------------------------------------------------------ */

static Job *
job_new(CsjEngine *e, CommandType type, int refs)
{
  if (atomic_fetch_add_explicit(&e->jobs_in_flight, 1, memory_order_relaxed) >= MAX_JOBS) {
    atomic_fetch_sub_explicit(&e->jobs_in_flight, 1, memory_order_relaxed);
    return NULL;
  }
  Job *job = calloc(1, sizeof(*job));
  if (!job) {
    atomic_fetch_sub_explicit(&e->jobs_in_flight, 1, memory_order_relaxed);
    return NULL;
  }
  job->type = type;
  job->status = CSJ_SUCCESS;
  job->value = NAN;
  atomic_init(&job->refs, refs);
  atomic_init(&job->finished, false);
  atomic_init(&job->published, 0);
  atomic_init(&job->merged, 0);
  sem_init(&job->done, 0, 0);
  return job;
}

static void
job_release(CsjEngine *e, Job *job)
{
  /* acq_rel: the last holder sees every write the others made. */
  if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) != 1) {
    return;
  }
  /* Trees from the worker's feed are the feed's; a caller's parse is ours. */
  if (job->owns_tree) {
    csound_adapter_free_tree(e->csound, job->tree);
  }
  sem_destroy(&job->done);
  free(job->text);
  free(job->name);
  free(job->values);
  free(job);
  atomic_fetch_sub_explicit(&e->jobs_in_flight, 1, memory_order_relaxed);
}

void
commands_capture_message(CsjEngine *e, const char *fmt, va_list args)
{
  (void)e;
  Job *job = capturing;
  if (!job || job->message_len >= sizeof(job->message) - 1) {
    return;
  }
  /* A fixed buffer and vsnprintf: fine on the JACK thread too. */
  const size_t room = sizeof(job->message) - job->message_len;
  const int n = vsnprintf(job->message + job->message_len, room, fmt, args);
  if (n > 0) {
    job->message_len += (size_t)n < room ? (size_t)n : room - 1;
  }
}

/* ---- Producers ------------------------------------------------------------- */

static bool
accepting(const CsjEngine *e)
{
  const int state = atomic_load_explicit(&((CsjEngine *)e)->state, memory_order_acquire);
  return state == ENGINE_PERFORMING;
}

static void
sleep_us(long us)
{
  const struct timespec t = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&t, NULL);
}

static long
elapsed_ms(const struct timespec *since)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static CsjStatus
push(CsjEngine *e, const Command *cmd, size_t size)
{
  if (!accepting(e)) {
    return CSJ_ERR_STATE;
  }
  const int timeout = atomic_load_explicit(&e->submit_timeout_ms, memory_order_relaxed);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    switch (command_ring_push(e->ring, cmd, (uint32_t)size)) {
    case COMMAND_RING_OK: return CSJ_SUCCESS;
    case COMMAND_RING_TOO_BIG: return CSJ_ERR_TOO_BIG;
    case COMMAND_RING_FULL: break;
    }
    /* Full: fail at once unless the caller asked to wait. */
    if (timeout == 0 || (timeout > 0 && elapsed_ms(&start) >= timeout) || !accepting(e)) {
      return CSJ_ERR_RING_FULL;
    }
    sleep_us(200);
  }
}

#define COMMAND_SIZE(field) (offsetof(Command, u) + sizeof(((Command *)0)->u.field))

static CsjStatus
push_job(CsjEngine *e, Job *job)
{
  Command cmd = {.type = (uint8_t)job->type};
  cmd.u.job = job;
  return push(e, &cmd, COMMAND_SIZE(job));
}

/*
 * Waits for the JACK thread to finish a job. Once the performance has ended
 * no cycle runs commands any more, so a job not finished by then never will
 * be: the caller is told CSJ_ERR_NOT_RUN at once instead of waiting out its
 * timeout.
 */
static CsjStatus
await(CsjEngine *e, Job *job, int timeout_ms)
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
    if (timeout_ms >= 0 && elapsed_ms(&start) >= timeout_ms) {
      return CSJ_ERR_TIMEOUT;
    }
  }
}

/*
 * Queues a job made with two references and waits for it. Returns the
 * job's status, CSJ_ERR_TIMEOUT, or why it could not be queued. Either way
 * the caller's reference is dropped; read the reply in @p read first.
 */
static CsjStatus
submit_and_wait(CsjEngine *e, Job *job, int timeout_ms, void (*read)(const Job *, void *),
                void *read_data)
{
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    atomic_store(&job->refs, 1);
    job_release(e, job);
    return status;
  }
  status = await(e, job, timeout_ms);
  if (status == CSJ_SUCCESS) {
    status = job->status;
    if (read) {
      read(job, read_data);
    }
  }
  job_release(e, job);
  return status;
}

static void
set_last_error_text(CsjEngine *e, const char *text)
{
  engine_set_error_text(e, text);
}

void
csj_engine_set_submit_timeout(CsjEngine *e, int timeout_ms)
{
  atomic_store_explicit(&e->submit_timeout_ms, timeout_ms, memory_order_relaxed);
}

static CsjStatus
push_pause(CsjEngine *e, int mode)
{
  Command cmd = {.type = CMD_PAUSE};
  cmd.u.pause_mode = mode;
  return push(e, &cmd, COMMAND_SIZE(pause_mode));
}

CsjStatus csj_engine_play(CsjEngine *e) { return push_pause(e, 0); }
CsjStatus csj_engine_pause(CsjEngine *e) { return push_pause(e, 1); }
CsjStatus csj_engine_toggle_pause(CsjEngine *e) { return push_pause(e, 2); }

CsjStatus
csj_engine_score_event(CsjEngine *e, char type, const double *pfields, int count, bool absp2)
{
  if (count > CSJ_MAX_PFIELDS) {
    char why[160];
    snprintf(why, sizeof(why),
             "a score event of %d p-fields is refused: csjack takes at most %d "
             "(CSJ_MAX_PFIELDS)",
             count, CSJ_MAX_PFIELDS);
    set_last_error_text(e, why);
    return CSJ_ERR_TOO_BIG;
  }
  if (count < 0 || (count > 0 && !pfields)) {
    return CSJ_ERR_BAD_ARG;
  }
  if (count <= INLINE_PFIELDS) {
    Command cmd = {.type = CMD_SCORE_EVENT};
    cmd.u.event.type = type;
    cmd.u.event.absp2 = absp2;
    cmd.u.event.count = (uint8_t)count;
    memcpy(cmd.u.event.pfields, pfields, (size_t)count * sizeof(double));
    return push(e, &cmd, offsetof(Command, u) + offsetof(__typeof__(cmd.u.event), pfields) +
                             (size_t)count * sizeof(double));
  }
  Job *job = job_new(e, CMD_SCORE_EVENT_JOB, 1);
  if (!job) {
    return CSJ_ERR_RING_FULL;
  }
  job->values = malloc((size_t)count * sizeof(double));
  if (!job->values) {
    job_release(e, job);
    return CSJ_ERR_NO_MEMORY;
  }
  memcpy(job->values, pfields, (size_t)count * sizeof(double));
  job->count = (size_t)count;
  job->event_type = type;
  job->absp2 = absp2;
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    job_release(e, job);
  }
  return status;
}

/* The job's own copy of @p text, with a newline added if @p newline and
 * the text lacks one. */
static char *
copy_text(const char *text, bool newline)
{
  size_t len = strlen(text);
  const bool add = newline && (len == 0 || text[len - 1] != '\n');
  char *copy = malloc(len + (add ? 2 : 1));
  if (copy) {
    memcpy(copy, text, len);
    if (add) {
      copy[len++] = '\n';
    }
    copy[len] = '\0';
  }
  return copy;
}

/* A job that carries text and needs no reply. */
static CsjStatus
push_text(CsjEngine *e, CommandType type, const char *name, const char *text, bool newline)
{
  if (!text) {
    return CSJ_ERR_BAD_ARG;
  }
  Job *job = job_new(e, type, 1);
  if (!job) {
    return CSJ_ERR_RING_FULL;
  }
  job->text = copy_text(text, newline);
  job->name = name ? strdup(name) : NULL;
  if (!job->text || (name && !job->name)) {
    job_release(e, job);
    return CSJ_ERR_NO_MEMORY;
  }
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    job_release(e, job);
  }
  return status;
}

/*
 * Csound 6.18's csoundInputMessage appends a newline to text that lacks
 * one, and when the text does not fit its 32 KiB line buffer it grows the
 * buffer to the text's length only: the newline lands one byte past the
 * end (valgrind: "Invalid write of size 1" in csoundInputMessage), and for
 * some lengths glibc then aborts the process ("corrupted size vs.
 * prev_size"). Text that ends with a newline fits exactly, so the job's
 * copy gets one, on the caller's thread.
 */
CsjStatus
csj_engine_input_message(CsjEngine *e, const char *line)
{
  return push_text(e, CMD_INPUT_MESSAGE, NULL, line, true);
}

CsjStatus
csj_engine_set_score_offset_seconds(CsjEngine *e, double seconds)
{
  Command cmd = {.type = CMD_SCORE_OFFSET};
  cmd.u.seconds = seconds;
  return push(e, &cmd, COMMAND_SIZE(seconds));
}

/* Hands a job to the worker's parse queue (a plain mutex: no RT thread here). */
static bool
queue_parse(CsjEngine *e, Job *job)
{
  pthread_mutex_lock(&e->parse_lock);
  const size_t used = e->parse_tail - e->parse_head;
  bool ok = used < e->parse_capacity;
  if (ok) {
    e->parse_queue[e->parse_tail++ % e->parse_capacity] = job;
  }
  pthread_mutex_unlock(&e->parse_lock);
  if (ok) {
    sem_post(&e->worker_wake);
  }
  return ok;
}

/* Parses under the parse mutex, and only while the JACK thread is not
 * merging. seq_cst on both flags: each side stores its own flag, then loads
 * the other's, so at most one of them proceeds. NOT real-time safe. */
static void *
guarded_parse(CsjEngine *e, Job *capture, const char *text, bool quiet)
{
  pthread_mutex_lock(&e->parse_mutex);
  for (;;) {
    atomic_store(&e->parse_active, true);
    if (!atomic_load(&e->merge_active)) {
      break;
    }
    atomic_store(&e->parse_active, false);
    sleep_us(20);
  }
  capturing = capture;
  void *tree = quiet ? csound_adapter_parse_quiet(e->csound, text)
                     : csound_adapter_parse(e->csound, text);
  capturing = NULL;
  atomic_store_explicit(&e->parse_active, false, memory_order_release);
  pthread_mutex_unlock(&e->parse_mutex);
  return tree;
}

/* The JACK thread's side: false means a parse is running, so merge next
 * cycle instead. Real-time safe: two atomic stores and a load. */
static bool
begin_merge(CsjEngine *e)
{
  atomic_store(&e->merge_active, true);
  if (atomic_load(&e->parse_active)) {
    atomic_store(&e->merge_active, false);
    return false;
  }
  return true;
}

static void
end_merge(CsjEngine *e)
{
  atomic_store_explicit(&e->merge_active, false, memory_order_release);
}

/*
 * An evalCode is parsed on the caller's thread before it is queued: it is
 * small, the caller waits anyway, and the JACK thread then finds it ready
 * in the next cycle instead of, now and then, one cycle later because the
 * worker had not finished. Compiles go to the worker, which splits them.
 */
static CsjStatus
submit_eval(CsjEngine *e, const char *code, int refs, CsjResultFn fn, void *data, Job **out)
{
  if (!code) {
    return CSJ_ERR_BAD_ARG;
  }
  if (!accepting(e)) {
    return CSJ_ERR_STATE;
  }
  Job *job = job_new(e, CMD_EVAL, refs);
  if (!job) {
    return CSJ_ERR_RING_FULL;
  }
  job->fn = fn;
  job->fn_data = data;
  job->tree = guarded_parse(e, job, code, false);
  job->trees = &job->tree;
  job->owns_tree = true;
  job->total = 1;
  atomic_store_explicit(&job->published, 1, memory_order_release);
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    atomic_store(&job->refs, 1);
    job_release(e, job);
    return status;
  }
  *out = job;
  return CSJ_SUCCESS;
}

static CsjStatus
submit_code(CsjEngine *e, CommandType type, const char *code, int refs, CsjResultFn fn,
            void *data, Job **out)
{
  if (type == CMD_EVAL) {
    return submit_eval(e, code, refs, fn, data, out);
  }
  if (!code) {
    return CSJ_ERR_BAD_ARG;
  }
  Job *job = job_new(e, type, refs);
  if (!job) {
    return CSJ_ERR_RING_FULL;
  }
  job->text = strdup(code);
  job->fn = fn;
  job->fn_data = data;
  if (!job->text) {
    atomic_store(&job->refs, 1);
    job_release(e, job);
    return CSJ_ERR_NO_MEMORY;
  }
  /* The job takes the worker's own reference while it waits to be parsed:
   * the JACK thread may not see it parsed, or even reach it, before then. */
  atomic_fetch_add(&job->refs, 1);
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    atomic_store(&job->refs, 1);
    job_release(e, job);
    return status;
  }
  if (!queue_parse(e, job)) {
    /* Cannot happen: the queue holds MAX_JOBS. Publish a failed unit. */
    job->status = CSJ_ERR_RING_FULL;
    job->trees = &job->tree;
    job->total = 1;
    atomic_store_explicit(&job->published, 1, memory_order_release);
    job_release(e, job);
  }
  *out = job;
  return CSJ_SUCCESS;
}

/* Csound's text, without the blank lines and spaces around it. */
static void
copy_message(const Job *job, char *error, size_t error_size)
{
  if (!error || error_size == 0) {
    return;
  }
  const char *start = job->message;
  while (*start == '\n' || *start == ' ' || *start == '\r') {
    ++start;
  }
  snprintf(error, error_size, "%s", *start ? start : csj_strerror(job->status));
  for (size_t n = strlen(error); n > 0 && (error[n - 1] == '\n' || error[n - 1] == ' ');) {
    error[--n] = '\0';
  }
}

/* A compile or evalCode through the ring, waited for. */
static CsjStatus
run_code(CsjEngine *e, CommandType type, const char *code, int timeout_ms, double *value,
         char *error, size_t error_size)
{
  Job *job = NULL;
  CsjStatus status = submit_code(e, type, code, 2, NULL, NULL, &job);
  if (status != CSJ_SUCCESS) {
    return status;
  }
  status = await(e, job, timeout_ms);
  if (status == CSJ_SUCCESS) {
    status = job->status;
    if (value) {
      *value = job->value;
    }
    if (status != CSJ_SUCCESS) {
      copy_message(job, error, error_size);
    }
  }
  job_release(e, job);
  return status;
}

CsjStatus
csj_engine_compile_orc(CsjEngine *e, const char *code, int timeout_ms, char *error,
                       size_t error_size)
{
  return run_code(e, CMD_COMPILE, code, timeout_ms, NULL, error, error_size);
}

CsjStatus
csj_engine_compile_orc_async(CsjEngine *e, const char *code, CsjResultFn fn, void *data)
{
  Job *job = NULL;
  return submit_code(e, CMD_COMPILE, code, 1, fn, data, &job);
}

CsjStatus
csj_engine_eval_code(CsjEngine *e, const char *code, int timeout_ms, double *value, char *error,
                     size_t error_size)
{
  return run_code(e, CMD_EVAL, code, timeout_ms, value, error, error_size);
}

CsjStatus
csj_engine_eval_code_async(CsjEngine *e, const char *code, CsjResultFn fn, void *data)
{
  Job *job = NULL;
  return submit_code(e, CMD_EVAL, code, 1, fn, data, &job);
}

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
    if (timeout_ms >= 0 && elapsed_ms(&start) >= timeout_ms) {
      return false;
    }
    sleep_us(50);
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
  const int state = atomic_load(&e->state);
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
  capturing = capture;
  atomic_store_explicit(&e->direct_busy_since_ns, engine_now_ns(), memory_order_relaxed);
  return CSJ_SUCCESS;
}

static void
direct_end(CsjEngine *e)
{
  atomic_store_explicit(&e->direct_busy_since_ns, 0, memory_order_relaxed);
  capturing = NULL;
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
    copy_message(&capture, error, error_size);
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
    copy_message(&capture, error, error_size);
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
  if (entry) {
    entry->name = strdup(name);
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
csj_engine_set_string_channel(CsjEngine *e, const char *name, const char *text)
{
  if (!name) {
    return CSJ_ERR_BAD_ARG;
  }
  return push_text(e, CMD_SET_STRING_CHANNEL, name, text, false);
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

/* ---- Tables, tasks, callbacks, flush, recording ------------------------------ */

CsjStatus
csj_engine_table_set(CsjEngine *e, int table, int index, double value)
{
  Command cmd = {.type = CMD_TABLE_SET};
  cmd.u.table_set.table = table;
  cmd.u.table_set.index = index;
  cmd.u.table_set.value = value;
  return push(e, &cmd, COMMAND_SIZE(table_set));
}

static void
read_value(const Job *job, void *out)
{
  if (out) {
    *(double *)out = job->value;
  }
}

CsjStatus
csj_engine_table_get(CsjEngine *e, int table, int index, double *value, int timeout_ms)
{
  Job *job = job_new(e, CMD_TABLE_GET, 2);
  if (!job) {
    return CSJ_ERR_RING_FULL;
  }
  job->table = table;
  job->index = index;
  return submit_and_wait(e, job, timeout_ms, read_value, value);
}

CsjStatus
csj_engine_table_copy_in(CsjEngine *e, int table, const double *values, size_t count)
{
  if (!values && count > 0) {
    return CSJ_ERR_BAD_ARG;
  }
  if (count > SIZE_MAX / sizeof(double)) {
    return CSJ_ERR_TOO_BIG; /* count * sizeof(double) would wrap */
  }
  Job *job = job_new(e, CMD_TABLE_COPY_IN, 1);
  if (!job) {
    return CSJ_ERR_RING_FULL;
  }
  job->values = malloc(count ? count * sizeof(double) : 1);
  if (!job->values) {
    job_release(e, job);
    return CSJ_ERR_NO_MEMORY;
  }
  memcpy(job->values, values, count * sizeof(double));
  job->count = count;
  job->table = table;
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    job_release(e, job);
  }
  return status;
}

typedef struct {
  double *out;
  size_t capacity;
  size_t *length;
} TableCopyOut;

static void
read_table(const Job *job, void *data)
{
  const TableCopyOut *dest = data;
  const size_t n = job->length < dest->capacity ? job->length : dest->capacity;
  memcpy(dest->out, job->values, n * sizeof(double));
  if (dest->length) {
    *dest->length = job->length;
  }
}

CsjStatus
csj_engine_table_copy_out(CsjEngine *e, int table, double *out, size_t capacity, size_t *length,
                          int timeout_ms)
{
  if (!out && capacity > 0) {
    return CSJ_ERR_BAD_ARG;
  }
  if (capacity > SIZE_MAX / sizeof(double)) {
    return CSJ_ERR_TOO_BIG; /* capacity * sizeof(double) would wrap */
  }
  Job *job = job_new(e, CMD_TABLE_COPY_OUT, 2);
  if (!job) {
    return CSJ_ERR_RING_FULL;
  }
  /* The JACK thread copies into our buffer, not the caller's: the caller
   * may give up waiting and reuse its own. */
  job->values = malloc(capacity ? capacity * sizeof(double) : 1);
  if (!job->values) {
    atomic_store(&job->refs, 1);
    job_release(e, job);
    return CSJ_ERR_NO_MEMORY;
  }
  job->count = capacity;
  job->table = table;
  TableCopyOut dest = {out, capacity, length};
  return submit_and_wait(e, job, timeout_ms, read_table, &dest);
}

CsjStatus
csj_engine_task(CsjEngine *e, CsjTaskFn fn, void *data)
{
  if (!fn) {
    return CSJ_ERR_BAD_ARG;
  }
  Command cmd = {.type = CMD_TASK};
  cmd.u.task.fn = fn;
  cmd.u.task.data = data;
  return push(e, &cmd, COMMAND_SIZE(task));
}

CsjStatus
csj_engine_set_process_callback(CsjEngine *e, CsjProcessFn fn, void *data)
{
  Command cmd = {.type = CMD_PROCESS_CALLBACK};
  cmd.u.process.fn = fn;
  cmd.u.process.data = data;
  return push(e, &cmd, COMMAND_SIZE(process));
}

CsjStatus
csj_engine_flush(CsjEngine *e, int timeout_ms)
{
  Job *job = job_new(e, CMD_FLUSH, 2);
  if (!job) {
    return CSJ_ERR_RING_FULL;
  }
  return submit_and_wait(e, job, timeout_ms, NULL, NULL);
}

CsjStatus
csj_engine_record(CsjEngine *e, const char *path, int bits)
{
  if (!e || !path) {
    return CSJ_ERR_BAD_ARG;
  }
  if (!accepting(e)) {
    return CSJ_ERR_STATE;
  }
  pthread_mutex_lock(&e->record_lock);
  if (e->active_recording) {
    pthread_mutex_unlock(&e->record_lock);
    set_last_error_text(e, "already recording; stop the current recording first");
    return CSJ_ERR_STATE;
  }
  char why[512];
  Recorder *r = recorder_open(path, bits, e->n_out, atomic_load(&e->jack_rate), MAX_PERIOD,
                              engine_record_failed, e, why, sizeof(why));
  if (!r) {
    pthread_mutex_unlock(&e->record_lock);
    set_last_error_text(e, why);
    return CSJ_ERR_FILE;
  }
  Job *job = job_new(e, CMD_RECORD_START, 2);
  CsjStatus status = job ? CSJ_SUCCESS : CSJ_ERR_RING_FULL;
  if (job) {
    job->recorder = r;
    status = submit_and_wait(e, job, -1, NULL, NULL);
  }
  if (status == CSJ_SUCCESS) {
    e->active_recording = r;
  } else if (status == CSJ_ERR_RING_FULL || status == CSJ_ERR_STATE) {
    recorder_close(r, NULL, 0); /* never reached the JACK thread */
  } else if (engine_close_recording(e, r, false) == CSJ_ERR_TIMEOUT) {
    /* CSJ_ERR_NOT_RUN: the performance ended first, but the JACK thread
     * may have taken it in its last cycle: closed once it has let go, or
     * at destroy. */
    e->active_recording = r;
  }
  pthread_mutex_unlock(&e->record_lock);
  return status;
}

CsjStatus
csj_engine_stop_record(CsjEngine *e)
{
  pthread_mutex_lock(&e->record_lock);
  Recorder *r = e->active_recording;
  if (!r) {
    pthread_mutex_unlock(&e->record_lock);
    return CSJ_ERR_STATE;
  }
  CsjStatus status = CSJ_SUCCESS;
  if (accepting(e)) {
    Job *job = job_new(e, CMD_RECORD_STOP, 2);
    status = job ? submit_and_wait(e, job, -1, NULL, NULL) : CSJ_ERR_RING_FULL;
  }
  /* Once the JACK thread has let go (or the performance is over and no cycle
   * writes any more), the writer drains and closes the file. */
  if (status == CSJ_SUCCESS || !accepting(e)) {
    /* Not acknowledged (the performance ended): the JACK thread may still
     * be writing its last cycle; engine_close_recording waits for it. */
    status = engine_close_recording(e, r, status == CSJ_SUCCESS);
    if (status != CSJ_ERR_TIMEOUT) {
      e->active_recording = NULL;
    }
  }
  pthread_mutex_unlock(&e->record_lock);
  return status;
}

void
csj_engine_abandon_record(CsjEngine *e)
{
  if (!e || pthread_mutex_trylock(&e->record_lock) != 0) {
    /* The lock's holder is waiting for a JACK thread that does not come;
     * take the recording anyway. */
    if (!e) {
      return;
    }
  } else {
    pthread_mutex_unlock(&e->record_lock);
  }
  Recorder *r = e->active_recording;
  if (!r) {
    return;
  }
  atomic_store_explicit(&e->record_abandoned, true, memory_order_release);
  /* A JACK thread that is running finishes the cycle it may be writing in;
   * one stuck inside Csound is not writing. */
  const uint64_t busy = atomic_load_explicit(&e->rt_busy_since_ns, memory_order_relaxed);
  for (int i = 0; i < 100 && busy; ++i) {
    if (atomic_load_explicit(&e->rt_busy_since_ns, memory_order_relaxed) != busy) {
      break;
    }
    sleep_us(1000);
  }
  e->active_recording = NULL;
  recorder_close(r, NULL, 0);
}

/* ---- The JACK thread -------------------------------------------------------- */

/* Hands a finished job back: the waiting caller is woken (a non-blocking
 * futex wake), and the worker gets the system's reference to drop. */
static void
complete(CsjEngine *e, Job *job)
{
  atomic_store_explicit(&job->finished, true, memory_order_release);
  sem_post(&job->done);
  Job *ptr = job;
  if (!spsc_ring_push(e->done_ring, &ptr, sizeof(ptr))) {
    /* Cannot happen: the done ring holds MAX_JOBS pointers. A lost pointer
     * would be a leak, never a crash. */
  }
  sem_post(&e->worker_wake);
}

static void
run_table_command(CsjEngine *e, const Command *cmd)
{
  double *data = NULL;
  if (cmd->type == CMD_TABLE_SET) {
    int len;
    ENGINE_FOREIGN(e, len = csound_adapter_table(e->csound, cmd->u.table_set.table, &data));
    if (len > 0 && cmd->u.table_set.index >= 0 && cmd->u.table_set.index < len) {
      data[cmd->u.table_set.index] = cmd->u.table_set.value;
    }
    return;
  }
  Job *job = cmd->u.job;
  int len;
  ENGINE_FOREIGN(e, len = csound_adapter_table(e->csound, job->table, &data));
  if (len <= 0) {
    job->status = CSJ_ERR_NOT_FOUND;
    snprintf(job->message, sizeof(job->message), "no table %d", job->table);
    return;
  }
  job->length = (size_t)len;
  switch (cmd->type) {
  case CMD_TABLE_GET:
    if (job->index >= 0 && job->index < len) {
      job->value = data[job->index];
    } else {
      job->status = CSJ_ERR_BAD_ARG;
    }
    break;
  case CMD_TABLE_COPY_IN:
    memcpy(data, job->values, (job->count < (size_t)len ? job->count : (size_t)len) * sizeof(double));
    break;
  case CMD_TABLE_COPY_OUT:
    memcpy(job->values, data, (job->count < (size_t)len ? job->count : (size_t)len) * sizeof(double));
    break;
  default:
    break;
  }
}

/* Whether work predicted to take @p cost_ns still fits in this cycle's
 * command budget. Real-time safe (a vDSO clock read). */
static bool
budget_allows(const CsjEngine *e, uint64_t cost_ns)
{
  return engine_now_ns() - e->cycle_start_ns + cost_ns <= e->command_budget_ns;
}

/*
 * Merges the compile's published units, as many as fit this cycle's budget
 * (at least one per cycle, so it always moves). Returns true when the job
 * is finished (every unit merged, or an error); false keeps it in the
 * stash, holding the line, until the next cycle.
 */
static bool
run_compile_step(CsjEngine *e, Job *job)
{
  const CsjStatus failure = job->type == CMD_EVAL ? CSJ_ERR_EVAL : CSJ_ERR_COMPILE;
  uint32_t merged = atomic_load_explicit(&job->merged, memory_order_relaxed);
  if (atomic_load_explicit(&job->published, memory_order_acquire) <= merged) {
    return false; /* the worker is still parsing */
  }
  if (merged == 0 && job->status != CSJ_SUCCESS) {
    return true; /* failed before reaching us */
  }
  bool merged_one = false;
  while (merged < job->total) {
    void *tree = job->trees[merged];
    if (!tree) {
      job->status = failure;
      return true;
    }
    if (merged_one && !budget_allows(e, e->merge_ns_avg)) {
      return false; /* the rest next cycle */
    }
    if (!begin_merge(e)) {
      return false; /* a parse is running: merge next cycle */
    }
    /* Csound's merge and instr 0: its share, and it allocates. */
    capturing = job;
    double retval = NAN;
    int result;
    const uint64_t t0 = engine_now_ns();
    ENGINE_FOREIGN(e, result = csound_adapter_compile_tree(e->csound, tree, &retval));
    const uint64_t took = engine_now_ns() - t0;
    capturing = NULL;
    end_merge(e);
    /* A running average that follows a change within a few merges. */
    e->merge_ns_avg = e->merge_ns_avg ? (3 * e->merge_ns_avg + took) / 4 : took;
    merged_one = true;
    atomic_store_explicit(&job->merged, ++merged, memory_order_release);
    if (csound_adapter_aborted(e->csound)) {
      engine_finish(e, CSJ_END_CSOUND_ERROR, csound_adapter_exit_code(e->csound));
      job->status = failure;
      return true;
    }
    if (result == -1) {
      job->status = failure;
      return true;
    }
    if (result == -2) {
      /* Merged, but Csound reported an error running it: the rest is
       * merged too, as one compile would, and the reply is an error. */
      job->status = failure;
    }
    job->value = retval;
  }
  return true;
}

/* Runs one command. False when it must wait for the next cycle (a parse
 * that is not done yet). */
static bool
run_command(CsjEngine *e, const Command *cmd)
{
  Job *job = NULL;
  switch ((CommandType)cmd->type) {
  case CMD_SCORE_EVENT:
    ENGINE_FOREIGN(e, csound_adapter_score_event(e->csound, cmd->u.event.type,
                                                 cmd->u.event.pfields, cmd->u.event.count,
                                                 cmd->u.event.absp2));
    break;
  case CMD_SCORE_OFFSET:
    ENGINE_FOREIGN(e, csound_adapter_set_score_offset(e->csound, cmd->u.seconds));
    break;
  case CMD_TABLE_SET:
    run_table_command(e, cmd);
    break;
  case CMD_TASK:
    ENGINE_FOREIGN(e, cmd->u.task.fn(e, csound_adapter_handle(e->csound), cmd->u.task.data));
    break;
  case CMD_PROCESS_CALLBACK:
    e->process_fn = cmd->u.process.fn;
    e->process_data = cmd->u.process.data;
    break;
  case CMD_PAUSE:
    e->paused = cmd->u.pause_mode == 2 ? !e->paused : cmd->u.pause_mode == 1;
    atomic_store_explicit(&e->paused_flag, e->paused, memory_order_relaxed);
    break;
  default:
    job = cmd->u.job;
    break;
  }
  if (!job) {
    return true;
  }
  switch (job->type) {
  case CMD_COMPILE:
  case CMD_EVAL:
    if (!run_compile_step(e, job)) {
      return false;
    }
    break;
  case CMD_SCORE_EVENT_JOB:
    ENGINE_FOREIGN(e, csound_adapter_score_event(e->csound, job->event_type, job->values,
                                                 (int)job->count, job->absp2));
    break;
  case CMD_INPUT_MESSAGE:
    ENGINE_FOREIGN(e, csound_adapter_input_message(e->csound, job->text));
    break;
  case CMD_SET_STRING_CHANNEL:
    ENGINE_FOREIGN(e, csound_adapter_set_string_channel(e->csound, job->name, job->text));
    break;
  case CMD_TABLE_GET:
  case CMD_TABLE_COPY_IN:
  case CMD_TABLE_COPY_OUT:
    run_table_command(e, cmd);
    break;
  case CMD_RECORD_START:
    e->recorder = job->recorder;
    break;
  case CMD_RECORD_STOP:
    e->recorder = NULL;
    break;
  case CMD_FLUSH:
  default:
    break;
  }
  complete(e, job);
  return true;
}

/* The stash stops holding the line: how long it held it, for CsjStats. */
static void
release_stash(CsjEngine *e)
{
  e->stash_full = false;
  const uint64_t waited = engine_now_ns() - e->stash_since_ns;
  if (waited > atomic_load_explicit(&e->compile_wait_ns_max, memory_order_relaxed)) {
    atomic_store_explicit(&e->compile_wait_ns_max, waited, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&e->commands_run, 1, memory_order_relaxed);
}

/*
 * Runs the commands queued before this cycle began, in order, while this
 * cycle's command budget lasts (at least one command per cycle). What does
 * not fit stays queued, in order, for the next cycle: a pasted score of a
 * thousand lines then plays over a few cycles instead of making one
 * callback miss its deadline.
 */
void
commands_drain(CsjEngine *e)
{
  if (e->stash_full) {
    if (!run_command(e, &e->stash)) {
      return; /* not parsed, or not all merged yet: everything else waits */
    }
    release_stash(e);
  }
  const uint64_t bound = command_ring_begin_drain(e->ring);
  Command cmd;
  uint32_t size = 0;
  bool ran = false;
  while (atomic_load_explicit(&e->state, memory_order_relaxed) == ENGINE_PERFORMING) {
    if (ran && !budget_allows(e, 0)) {
      if (command_ring_pending(e->ring, bound)) {
        atomic_fetch_add_explicit(&e->commands_deferred, 1, memory_order_relaxed);
      }
      return;
    }
    if (!command_ring_pop(e->ring, bound, &cmd, &size)) {
      return;
    }
    ran = true;
    if (!run_command(e, &cmd)) {
      e->stash = cmd;
      e->stash_full = true;
      e->stash_since_ns = engine_now_ns();
      return;
    }
    atomic_fetch_add_explicit(&e->commands_run, 1, memory_order_relaxed);
  }
}

/* ---- The worker ------------------------------------------------------------- */

static void
worker_finish_jobs(CsjEngine *e)
{
  Job *job;
  while (spsc_ring_pop(e->done_ring, &job, sizeof(job)) == sizeof(job)) {
    if (job->fn) {
      const CsjResult result = {job->status, job->value, job->message};
      job->fn(job->fn_data, &result);
    }
    job_release(e, job);
  }
}

static Job *
next_parse(CsjEngine *e)
{
  Job *job = NULL;
  pthread_mutex_lock(&e->parse_lock);
  if (e->parse_head != e->parse_tail) {
    job = e->parse_queue[e->parse_head++ % e->parse_capacity];
  }
  pthread_mutex_unlock(&e->parse_lock);
  return job;
}

/*
 * A compile the worker has parsed for the JACK thread.
 *
 * A large orchestra merged in one piece costs the JACK thread milliseconds
 * (about 3 ms for 100 instruments, measured by bench/compile_xruns.c), far
 * over a 64-frame period. So a compile is merged in units when that means
 * exactly what one piece means. Csound merges a whole text's instruments
 * and UDOs first and runs its global (instr 0) code after them, so:
 *
 *   1. the whole text is parsed once: a syntax error rejects it whole;
 *   2. it is split into its instr and opcode blocks and its global code
 *      (orchestra_split);
 *   3. each block is parsed alone, in order, and the global code, in its
 *      order, as one last unit. If any of these parses fails where the
 *      whole parsed (a block that uses a global variable the same text
 *      declares), the split is not equivalent, and the text is merged in
 *      one piece.
 *
 * All units are parsed before the JACK thread sees any, so the JACK thread
 * merges as many per cycle as fit its budget; the global code runs after
 * every block exists, as in one piece (`prealloc 10` before `instr 10`).
 */
typedef struct {
  Job *job;
  void **trees;     /* the units, owned here until the job is finished */
  uint32_t count;
} Feed;

/* Whether an orchestra unit is an instr or opcode block (its first word
 * after blanks and comments). */
static bool
unit_is_definition(const char *unit)
{
  const char *p = unit;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
      ++p;
    }
    if (*p == ';' || (p[0] == '/' && p[1] == '/')) {
      p += strcspn(p, "\n");
    } else if (p[0] == '/' && p[1] == '*') {
      const char *end = strstr(p + 2, "*/");
      p = end ? end + 2 : p + strlen(p);
    } else {
      break;
    }
  }
  const size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz");
  return (n == 5 && strncmp(p, "instr", 5) == 0) || (n == 6 && strncmp(p, "opcode", 6) == 0);
}

static void
feed_publish(Feed *feed, void **trees, uint32_t count)
{
  Job *job = feed->job;
  feed->trees = trees;
  feed->count = count;
  job->trees = trees;
  job->total = count;
  /* Release: the trees and `total` are complete before the JACK thread
   * sees the count move. */
  atomic_store_explicit(&job->published, count, memory_order_release);
}

static void
feed_end(CsjEngine *e, Feed *feed)
{
  for (uint32_t i = 0; i < feed->count; ++i) {
    csound_adapter_free_tree(e->csound, feed->trees[i]);
  }
  free(feed->trees);
  job_release(e, feed->job); /* the reference the parse queue held */
  memset(feed, 0, sizeof(*feed));
}

/* The units of a split that means what one piece means, parsed; NULL when
 * the text is better merged whole. */
static void **
parse_units(CsjEngine *e, Job *job, uint32_t *count)
{
  uint32_t n_units = 0;
  char **units = orchestra_split(job->text, &n_units);
  uint32_t n_defs = 0;
  size_t global_len = 0;
  for (uint32_t i = 0; i < n_units; ++i) {
    if (unit_is_definition(units[i])) {
      ++n_defs;
    } else {
      global_len += strlen(units[i]);
    }
  }
  /* Fewer than two blocks: nothing worth spreading over cycles. */
  void **trees = n_defs >= 2 ? calloc(n_defs + 1, sizeof(void *)) : NULL;
  char *global = trees ? calloc(global_len + 1, 1) : NULL;
  uint32_t n = 0;
  bool ok = global != NULL;
  for (uint32_t i = 0; ok && i < n_units; ++i) {
    if (!unit_is_definition(units[i])) {
      strcat(global, units[i]);
      continue;
    }
    trees[n] = guarded_parse(e, job, units[i], true);
    ok = trees[n++] != NULL;
  }
  if (ok && global_len > 0) {
    trees[n] = guarded_parse(e, job, global, true);
    ok = trees[n++] != NULL;
  }
  free(global);
  orchestra_split_free(units, n_units);
  if (!ok) {
    for (uint32_t i = 0; trees && i < n; ++i) {
      csound_adapter_free_tree(e->csound, trees[i]);
    }
    free(trees);
    return NULL;
  }
  *count = n;
  return trees;
}

static void
feed_start(CsjEngine *e, Feed *feed, Job *job)
{
  feed->job = job;
  void *whole = guarded_parse(e, job, job->text, false);
  uint32_t count = 0;
  const bool try_units = whole && job->type == CMD_COMPILE;
  void **trees = try_units ? parse_units(e, job, &count) : NULL;
  if (trees) {
    csound_adapter_free_tree(e->csound, whole);
    feed_publish(feed, trees, count);
    return;
  }
  if (try_units) {
    /* A unit's failed trial parse leaves Csound's syntax-error count set,
     * and its merge refuses any tree while it is: parse the whole again,
     * which resets it. */
    csound_adapter_free_tree(e->csound, whole);
    whole = guarded_parse(e, job, job->text, false);
  }
  /* One piece: a syntax error (a NULL tree), an evalCode, or a text whose
   * split would not mean the same. */
  trees = calloc(1, sizeof(void *));
  if (!trees) {
    csound_adapter_free_tree(e->csound, whole);
    job->status = CSJ_ERR_NO_MEMORY;
    job->trees = &job->tree;
    job->total = 1;
    atomic_store_explicit(&job->published, 1, memory_order_release);
    return;
  }
  trees[0] = whole;
  feed_publish(feed, trees, 1);
}

static void *
worker_main(void *arg)
{
  CsjEngine *e = arg;
  Feed feed = {0};
  while (!atomic_load_explicit(&e->worker_quit, memory_order_acquire)) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += WORKER_TICK_NS;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000L;
    }
    sem_timedwait(&e->worker_wake, &deadline);
    worker_finish_jobs(e);
    /* One compile at a time: Csound's parser and its merge share state, and
     * a later compile may use what an earlier one defines. */
    if (feed.job) {
      /* Its trees live until the JACK thread is done with the job. */
      if (!atomic_load_explicit(&feed.job->finished, memory_order_acquire) &&
          atomic_load(&e->state) != ENGINE_FINISHED) {
        continue;
      }
      feed_end(e, &feed);
    }
    Job *job = next_parse(e);
    if (job) {
      feed_start(e, &feed, job);
      sem_post(&e->worker_wake); /* look again at once */
    }
  }
  if (feed.job) {
    feed_end(e, &feed);
  }
  worker_finish_jobs(e);
  return NULL;
}

/* ---- Set-up and tear-down ---------------------------------------------------- */

CsjStatus
commands_init(CsjEngine *e)
{
  e->ring = command_ring_new(RING_SLOTS);
  /* Every job in flight fits, so the JACK thread's push never fails. */
  e->done_ring = spsc_ring_new(2u * MAX_JOBS * (uint32_t)(sizeof(uint32_t) + sizeof(Job *)));
  e->parse_capacity = MAX_JOBS;
  e->parse_queue = calloc(e->parse_capacity, sizeof(Job *));
  if (!e->ring || !e->done_ring || !e->parse_queue) {
    return CSJ_ERR_NO_MEMORY;
  }
  atomic_init(&e->jobs_in_flight, 0);
  atomic_init(&e->submit_timeout_ms, 0);
  atomic_init(&e->owner, OWNER_NONE);
  atomic_init(&e->worker_quit, false);
  sem_init(&e->worker_wake, 0, 0);
  pthread_mutex_init(&e->parse_lock, NULL);
  pthread_mutex_init(&e->parse_mutex, NULL);
  atomic_init(&e->parse_active, false);
  atomic_init(&e->merge_active, false);
  pthread_mutex_init(&e->channel_lock, NULL);
  pthread_mutex_init(&e->record_lock, NULL);
  if (pthread_create(&e->worker, NULL, worker_main, e) != 0) {
    return CSJ_ERR_NO_MEMORY;
  }
  e->worker_started = true;
  return CSJ_SUCCESS;
}

/* After the JACK client is closed: nothing runs commands any more. */
static void
answer_not_run(CsjEngine *e, const Command *cmd)
{
  switch ((CommandType)cmd->type) {
  case CMD_SCORE_EVENT:
  case CMD_SCORE_OFFSET:
  case CMD_TABLE_SET:
  case CMD_TASK:
  case CMD_PROCESS_CALLBACK:
  case CMD_PAUSE:
    return;
  default:
    break;
  }
  Job *job = cmd->u.job;
  job->status = CSJ_ERR_NOT_RUN;
  snprintf(job->message, sizeof(job->message), "%s", csj_strerror(CSJ_ERR_NOT_RUN));
  job->message_len = strlen(job->message);
  /* The worker may still hold it (a parse under way): its reference keeps
   * the job alive, and a finished job stops its feed. */
  complete(e, job);
}

void
commands_shutdown(CsjEngine *e)
{
  if (!e->ring) {
    return;
  }
  /* The JACK thread is gone: this thread is now the ring's one consumer. */
  if (e->stash_full) {
    answer_not_run(e, &e->stash);
    e->stash_full = false;
  }
  Command cmd;
  uint32_t size;
  const uint64_t bound = command_ring_begin_drain(e->ring);
  while (command_ring_pop(e->ring, bound, &cmd, &size)) {
    answer_not_run(e, &cmd);
  }
  if (e->worker_started) {
    atomic_store_explicit(&e->worker_quit, true, memory_order_release);
    sem_post(&e->worker_wake);
    pthread_join(e->worker, NULL);
    e->worker_started = false;
  }
  /* Jobs still waiting for a parse hold the worker's reference. */
  for (Job *job; (job = next_parse(e)) != NULL;) {
    job_release(e, job);
  }
  if (e->active_recording) {
    /* A failure is reported as it happened (engine_record_failed). */
    recorder_close(e->active_recording, NULL, 0);
    e->active_recording = NULL;
  }
  while (e->channels) {
    ChannelEntry *next = e->channels->next;
    free(e->channels->name);
    free(e->channels);
    e->channels = next;
  }
  command_ring_free(e->ring);
  spsc_ring_free(e->done_ring);
  free(e->parse_queue);
  e->ring = NULL;
  sem_destroy(&e->worker_wake);
  pthread_mutex_destroy(&e->parse_lock);
  pthread_mutex_destroy(&e->parse_mutex);
  pthread_mutex_destroy(&e->channel_lock);
  pthread_mutex_destroy(&e->record_lock);
}
