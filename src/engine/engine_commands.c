/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command API's producers: how application threads reach the JACK
 * thread (any thread but the JACK thread).
 *
 * Each public function pushes a fixed-size command into the bounded MPSC
 * command ring, with a Job (job.c) when it needs more memory or a reply,
 * and returns at once or waits for the reply. A full ring is an error at
 * once (unless the caller set a submit timeout); a command accepted runs
 * exactly once, in order. Compiles keep their place in line: the worker
 * parses them (compile_worker.c) while they wait in the ring, and the JACK
 * thread holds the line until a compile is merged (command_exec.c).
 */

#include "engine_state.h"
#include "engine_commands.h"
#include "compile_worker.h"
#include "command_exec.h"
#include "job.h"
#include "score_line.h"
#include "score_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>

/* ---- Producers ------------------------------------------------------------- */

static bool refused_on_worker(CsjEngine *e);

static bool
accepting(const CsjEngine *e)
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
  if (timeout == 0 || (timeout > 0 && engine_elapsed_ms(start) >= timeout) || !accepting(e)) {
    return false;
  }
  engine_sleep_us(200);
  return true;
}

/* Queues @p cmd; a compile's @p parse_job (else NULL) goes into the
 * worker's parse queue in the same step. */
static CsjStatus
push_with(CsjEngine *e, const Command *cmd, size_t size, Job *parse_job)
{
  if (!accepting(e)) {
    return CSJ_ERR_STATE;
  }
  const int timeout = room_timeout_ms(e);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    const CommandRingResult r = parse_job
                                  ? worker_push_compile(e, cmd, (uint32_t)size, parse_job)
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
static Job *
new_job(CsjEngine *e, CommandType type, int refs, CsjStatus *why)
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

static CsjStatus
push(CsjEngine *e, const Command *cmd, size_t size)
{
  return push_with(e, cmd, size, NULL);
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
static CsjStatus
submit_and_wait(CsjEngine *e, Job *job, int timeout_ms, void (*read)(const Job *, void *),
                void *read_data)
{
  CsjStatus status = refused_on_worker(e) ? CSJ_ERR_STATE : push_job(e, job);
  if (status != CSJ_SUCCESS) {
    atomic_store_explicit(&job->refs, 1, memory_order_relaxed);
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

/*
 * On the worker (an off-thread task, or a result callback), a call that
 * waits for a reply would wait for the worker itself, or for the line an
 * off-thread task holds: refused at once, before anything is queued.
 */
static bool
refused_on_worker(CsjEngine *e)
{
  if (!worker_is_current(e)) {
    return false;
  }
  set_last_error_text(e, "refused on csjack's worker thread (inside an off-thread task or a "
                         "result callback): it would wait for the line that thread holds; "
                         "use the _direct or _async forms there");
  return true;
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

#define ADVANCE_REFUSED                                                                     \
  "the score statement 'a' (advance score time) is refused in real time: Csound computes "   \
  "the time it skips inside one JACK cycle, and the graph would miss its deadline"

static CsjStatus
queue_event(CsjEngine *e, char type, const double *pfields, int count, bool absp2,
            bool stamped, uint32_t frame)
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
  if (type == 'a') {
    set_last_error_text(e, ADVANCE_REFUSED);
    return CSJ_ERR_BAD_ARG;
  }
  for (int i = 0; i < count; i++) {
    if (!isfinite(pfields[i])) {
      char why[120];
      snprintf(why, sizeof(why),
               "p%d of a score event is not a finite number (NaN and infinities are refused)",
               i + 1);
      set_last_error_text(e, why);
      return CSJ_ERR_BAD_ARG;
    }
  }
  if (count <= INLINE_PFIELDS) {
    Command cmd = {.type = CMD_SCORE_EVENT};
    cmd.u.event.type = type;
    cmd.u.event.absp2 = absp2;
    cmd.u.event.count = (uint8_t)count;
    cmd.u.event.stamped = stamped;
    cmd.u.event.frame = frame;
    memcpy(cmd.u.event.pfields, pfields, (size_t)count * sizeof(double));
    return push(e, &cmd, offsetof(Command, u) + offsetof(__typeof__(cmd.u.event), pfields) +
                             (size_t)count * sizeof(double));
  }
  CsjStatus why;
  Job *job = new_job(e, CMD_SCORE_EVENT_JOB, 1, &why);
  if (!job) {
    return why;
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
  job->stamped = stamped;
  job->frame = frame;
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    job_release(e, job);
  }
  return status;
}

CsjStatus
csj_engine_score_event(CsjEngine *e, char type, const double *pfields, int count, bool absp2)
{
  /* Constant-latency mode: stamped with the frame time now, on this
   * thread, plus the delay. Read before anything else, so that the time
   * spent queueing is inside the delay. */
  const uint32_t delay = atomic_load_explicit(&e->event_delay, memory_order_relaxed);
  if (delay && !absp2) {
    const uint32_t now = jack_backend_frame_time_now(e->jack);
    return queue_event(e, type, pfields, count, false, true, now + delay);
  }
  return queue_event(e, type, pfields, count, absp2, false, 0);
}

CsjStatus
csj_engine_score_event_at(CsjEngine *e, char type, const double *pfields, int count,
                          uint32_t frame_time)
{
  return queue_event(e, type, pfields, count, false, true, frame_time);
}

void
csj_engine_set_event_delay(CsjEngine *e, uint32_t frames)
{
  atomic_store_explicit(&e->event_delay, frames, memory_order_relaxed);
}

uint32_t
csj_engine_frame_time(const CsjEngine *e)
{
  return jack_backend_frame_time_now(e->jack);
}

uint32_t
csj_engine_frame_time_in(const CsjEngine *e, int64_t usecs)
{
  return jack_backend_frame_time_in(e->jack, usecs);
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
  CsjStatus why;
  Job *job = new_job(e, type, 1, &why);
  if (!job) {
    return why;
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

/* A job that carries @p text, which it takes (freed with the job). */
static CsjStatus
push_owned_text(CsjEngine *e, CommandType type, char *text)
{
  CsjStatus why;
  Job *job = new_job(e, type, 1, &why);
  if (!job) {
    free(text);
    return why;
  }
  job->text = text;
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    job_release(e, job);
  }
  return status;
}

/*
 * Live score text goes to Csound's line events only when Csound will take
 * every line of it: comments removed, each line checked (score_text.h), so
 * that "ok" never stands for a line Csound throws away. Every prepared
 * line ends with a newline, which Csound 6.18 also needs for another
 * reason: its csoundInputMessage appends a newline to text that lacks one,
 * and when the text does not fit its 32 KiB line buffer it grows the
 * buffer to the text's length only, so the newline landed one byte past
 * the end (valgrind: "Invalid write of size 1"; for some lengths glibc
 * then aborts the process).
 */
CsjStatus
csj_engine_input_message(CsjEngine *e, const char *line)
{
  if (!line) {
    return CSJ_ERR_BAD_ARG;
  }
  ScoreCarry carry = atomic_load_explicit(&e->score_carry, memory_order_relaxed);
  ScoreTextError err;
  char *text = score_text_prepare(line, &carry, &err);
  if (!text) {
    if (err.line == 0) {
      return CSJ_ERR_NO_MEMORY;
    }
    char why[300];
    if (strchr(line, '\n') && strchr(line, '\n')[1] != '\0') {
      snprintf(why, sizeof(why), "score line %d refused: %s", err.line, err.message);
    } else {
      snprintf(why, sizeof(why), "score line refused: %s", err.message);
    }
    set_last_error_text(e, why);
    return CSJ_ERR_BAD_ARG;
  }
  if (text[0] == '\0') {
    free(text); /* comments and blank lines only: nothing to do */
    return accepting(e) ? CSJ_SUCCESS : CSJ_ERR_STATE;
  }
  /* Constant-latency mode: a plain numeric 'i' line becomes a stamped
   * score event (exact to the frame); other text goes to Csound as it is,
   * at once. Rewriting p2 in the text instead would not do: the line
   * would still start at the cycle that runs it, a period of jitter. */
  if (atomic_load_explicit(&e->event_delay, memory_order_relaxed) &&
      strchr(text, '\n')[1] == '\0') {
    double p[CSJ_MAX_PFIELDS];
    int count = 0;
    if (score_line_numeric(text, p, CSJ_MAX_PFIELDS, &count)) {
      free(text);
      return csj_engine_score_event(e, 'i', p, count, false);
    }
  }
  CsjStatus status = push_owned_text(e, CMD_INPUT_MESSAGE, text);
  if (status == CSJ_SUCCESS) {
    atomic_store_explicit(&e->score_carry, carry, memory_order_relaxed);
  }
  return status;
}

CsjStatus
csj_engine_set_score_offset_seconds(CsjEngine *e, double seconds)
{
  Command cmd = {.type = CMD_SCORE_OFFSET};
  cmd.u.seconds = seconds;
  return push(e, &cmd, COMMAND_SIZE(seconds));
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
  CsjStatus why;
  Job *job = new_job(e, CMD_EVAL, refs, &why);
  if (!job) {
    return why;
  }
  job->fn = fn;
  job->fn_data = data;
  job->tree = worker_guarded_parse(e, job, code, false);
  job->trees = &job->tree;
  job->owns_tree = true;
  job->total = 1;
  atomic_store_explicit(&job->published, 1, memory_order_release);
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    atomic_store_explicit(&job->refs, 1, memory_order_relaxed);
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
  CsjStatus why;
  Job *job = new_job(e, type, refs, &why);
  if (!job) {
    return why;
  }
  job->text = strdup(code);
  job->fn = fn;
  job->fn_data = data;
  if (!job->text) {
    atomic_store_explicit(&job->refs, 1, memory_order_relaxed);
    job_release(e, job);
    return CSJ_ERR_NO_MEMORY;
  }
  /* The job takes the worker's own reference while it waits to be parsed:
   * the JACK thread may not see it parsed, or even reach it, before then. */
  atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
  Command cmd = {.type = (uint8_t)job->type};
  cmd.u.job = job;
  CsjStatus status = push_with(e, &cmd, COMMAND_SIZE(job), job);
  if (status != CSJ_SUCCESS) {
    atomic_store_explicit(&job->refs, 1, memory_order_relaxed);
    job_release(e, job);
    return status;
  }
  *out = job;
  return CSJ_SUCCESS;
}

/* A compile or evalCode through the ring, waited for. */
static CsjStatus
run_code(CsjEngine *e, CommandType type, const char *code, int timeout_ms, double *value,
         char *error, size_t error_size)
{
  if (refused_on_worker(e)) {
    return CSJ_ERR_STATE;
  }
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
      job_copy_message(job, error, error_size);
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

CsjStatus
csj_engine_set_string_channel(CsjEngine *e, const char *name, const char *text)
{
  if (!name) {
    return CSJ_ERR_BAD_ARG;
  }
  return push_text(e, CMD_SET_STRING_CHANNEL, name, text, false);
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
  CsjStatus why;
  Job *job = new_job(e, CMD_TABLE_GET, 2, &why);
  if (!job) {
    return why;
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
  CsjStatus why;
  Job *job = new_job(e, CMD_TABLE_COPY_IN, 1, &why);
  if (!job) {
    return why;
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
  CsjStatus why;
  Job *job = new_job(e, CMD_TABLE_COPY_OUT, 2, &why);
  if (!job) {
    return why;
  }
  /* The JACK thread copies into our buffer, not the caller's: the caller
   * may give up waiting and reuse its own. */
  job->values = malloc(capacity ? capacity * sizeof(double) : 1);
  if (!job->values) {
    atomic_store_explicit(&job->refs, 1, memory_order_relaxed);
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
csj_engine_task_off_thread(CsjEngine *e, CsjOffThreadFn fn, void *data)
{
  if (!fn) {
    return CSJ_ERR_BAD_ARG;
  }
  if (!accepting(e)) {
    return CSJ_ERR_STATE;
  }
  /* One reference, the system's: nobody waits for it. */
  CsjStatus why;
  Job *job = new_job(e, CMD_TASK_OFF_THREAD, 1, &why);
  if (!job) {
    return why;
  }
  job->task_fn = fn;
  job->task_data = data;
  atomic_init(&job->task_state, TASK_QUEUED);
  CsjStatus status = push_job(e, job);
  if (status != CSJ_SUCCESS) {
    job_release(e, job);
  }
  return status;
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
  CsjStatus why;
  Job *job = new_job(e, CMD_FLUSH, 2, &why);
  if (!job) {
    return why;
  }
  return submit_and_wait(e, job, timeout_ms, NULL, NULL);
}

/* ---- Recording ---------------------------------------------------------------- */

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

CsjStatus
csj_engine_record(CsjEngine *e, const char *path, int bits)
{
  if (!e || !path) {
    return CSJ_ERR_BAD_ARG;
  }
  if (bits != 16 && bits != 24 && bits != 32) {
    set_last_error_text(e, "bits must be 16, 24 or 32");
    return CSJ_ERR_BAD_ARG;
  }
  if (!accepting(e) || refused_on_worker(e)) {
    return CSJ_ERR_STATE;
  }
  pthread_mutex_lock(&e->record_lock);
  if (atomic_load_explicit(&e->active_recording, memory_order_acquire)) {
    pthread_mutex_unlock(&e->record_lock);
    set_last_error_text(e, "already recording; stop the current recording first");
    return CSJ_ERR_STATE;
  }
  char why[512];
  Recorder *r = recorder_open(path, bits, e->n_out, atomic_load_explicit(&e->jack_rate, memory_order_relaxed),
                              MAX_PERIOD,
                              engine_record_failed, e, why, sizeof(why));
  if (!r) {
    pthread_mutex_unlock(&e->record_lock);
    set_last_error_text(e, why);
    return CSJ_ERR_FILE;
  }
  CsjStatus status = CSJ_SUCCESS;
  Job *job = new_job(e, CMD_RECORD_START, 2, &status);
  if (job) {
    job->recorder = r;
    status = submit_and_wait(e, job, -1, NULL, NULL);
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
  if (refused_on_worker(e)) {
    return CSJ_ERR_STATE;
  }
  pthread_mutex_lock(&e->record_lock);
  Recorder *r = atomic_load_explicit(&e->active_recording, memory_order_acquire);
  if (!r) {
    pthread_mutex_unlock(&e->record_lock);
    return CSJ_ERR_STATE;
  }
  CsjStatus status = CSJ_SUCCESS;
  if (accepting(e)) {
    Job *job = new_job(e, CMD_RECORD_STOP, 2, &status);
    if (job) {
      status = submit_and_wait(e, job, -1, NULL, NULL);
    }
  }
  /* Once the JACK thread has let go (or the performance is over and no cycle
   * writes any more), the writer drains and closes the file. */
  if (status == CSJ_SUCCESS || !accepting(e)) {
    if (!atomic_compare_exchange_strong_explicit(&e->active_recording, &r, NULL, memory_order_acq_rel,
                                                 memory_order_acquire)) {
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
   * cycle and wait. */
  atomic_store_explicit(&e->record_abandoned, true, memory_order_seq_cst);
  for (int i = 0; i < 500 && atomic_load_explicit(&e->rt_in_cycle, memory_order_seq_cst); ++i) {
    engine_sleep_us(200);
  }
  char why[512];
  if (!recorder_close(r, why, sizeof(why))) {
    engine_set_error_text(e, why);
  }
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
