/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command API (any thread but the JACK thread): score events and text,
 * compiles and evalCode, string channels, tables, tasks, the process
 * callback, flush. Each public function queues one command
 * (command_queue.c), with a Job when it needs more memory or a reply, and
 * returns at once or waits for the reply. Compiles keep their place in
 * line: the worker parses them (compile_worker.c) while they wait in the
 * ring, and the JACK thread holds the line until a compile is merged
 * (command_exec.c).
 */

#include "engine_state.h"
#include "command_queue.h"
#include "compile_worker.h"
#include "job.h"
#include "score_line.h"
#include "score_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>

static CsjStatus
push_pause(CsjEngine *e, int mode)
{
  Command cmd = {.type = CMD_PAUSE};
  cmd.u.pause_mode = mode;
  return queue_push(e, &cmd, COMMAND_SIZE(pause_mode));
}

CsjStatus
csj_engine_play(CsjEngine *e)
{
  return push_pause(e, 0);
}
CsjStatus
csj_engine_pause(CsjEngine *e)
{
  return push_pause(e, 1);
}
CsjStatus
csj_engine_toggle_pause(CsjEngine *e)
{
  return push_pause(e, 2);
}

#define ADVANCE_REFUSED                                                                    \
  "the score statement 'a' (advance score time) is refused in real time: Csound computes " \
  "the time it skips inside one JACK cycle, and the graph would miss its deadline"

static CsjStatus
queue_event(CsjEngine *e, char type, const double *pfields, int count, bool absp2, bool stamped,
            uint32_t frame)
{
  if (count > CSJ_MAX_PFIELDS) {
    char why[160];
    snprintf(why, sizeof(why),
             "a score event of %d p-fields is refused: csjack takes at most %d "
             "(CSJ_MAX_PFIELDS)",
             count, CSJ_MAX_PFIELDS);
    engine_set_error_text(e, why);
    return CSJ_ERR_TOO_BIG;
  }
  if (count < 0 || (count > 0 && !pfields)) {
    return CSJ_ERR_BAD_ARG;
  }
  if (type == 'a') {
    engine_set_error_text(e, ADVANCE_REFUSED);
    return CSJ_ERR_BAD_ARG;
  }
  for (int i = 0; i < count; i++) {
    if (!isfinite(pfields[i])) {
      char why[120];
      snprintf(why, sizeof(why),
               "p%d of a score event is not a finite number (NaN and infinities are refused)",
               i + 1);
      engine_set_error_text(e, why);
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
    return queue_push(e, &cmd,
                      offsetof(Command, u) + offsetof(__typeof__(cmd.u.event), pfields) +
                        (size_t)count * sizeof(double));
  }
  CsjStatus why;
  Job *job = queue_new_job(e, CMD_SCORE_EVENT_JOB, 1, &why);
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
  CsjStatus status = queue_push_job(e, job);
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

/* Freewheeling, cycles follow each other as fast as they go: JACK's frame
 * time, estimated from the wall clock, says nothing then. Time counts in
 * frames from the next cycle's first, at the nominal rate. */
static bool
freewheel_frame_in(const CsjEngine *e, int64_t usecs, uint32_t *frame)
{
  CsjEngine *m = (CsjEngine *)e;
  if (!atomic_load_explicit(&m->freewheeling, memory_order_acquire)) {
    return false;
  }
  const uint32_t rate = atomic_load_explicit(&m->jack_rate, memory_order_relaxed);
  const uint32_t next = atomic_load_explicit(&m->next_cycle_frame, memory_order_relaxed);
  *frame = next + (uint32_t)(int32_t)(usecs * (int64_t)rate / 1000000);
  return true;
}

uint32_t
csj_engine_frame_time(const CsjEngine *e)
{
  uint32_t frame;
  return freewheel_frame_in(e, 0, &frame) ? frame : jack_backend_frame_time_now(e->jack);
}

uint32_t
csj_engine_frame_time_in(const CsjEngine *e, int64_t usecs)
{
  uint32_t frame;
  return freewheel_frame_in(e, usecs, &frame) ? frame : jack_backend_frame_time_in(e->jack, usecs);
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
  Job *job = queue_new_job(e, type, 1, &why);
  if (!job) {
    return why;
  }
  job->text = copy_text(text, newline);
  job->name = name ? strdup(name) : NULL;
  if (!job->text || (name && !job->name)) {
    job_release(e, job);
    return CSJ_ERR_NO_MEMORY;
  }
  CsjStatus status = queue_push_job(e, job);
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
  Job *job = queue_new_job(e, type, 1, &why);
  if (!job) {
    free(text);
    return why;
  }
  job->text = text;
  CsjStatus status = queue_push_job(e, job);
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
    engine_set_error_text(e, why);
    return CSJ_ERR_BAD_ARG;
  }
  if (text[0] == '\0') {
    free(text); /* comments and blank lines only: nothing to do */
    return queue_accepting(e) ? CSJ_SUCCESS : CSJ_ERR_STATE;
  }
  /* A plain numeric 'i' line becomes a score event: one for later waits
   * in csjack's own queue until its cycle (Csound's list stays short: it
   * inserts in linear time), one for now is handed over as the cycle's
   * budget allows; in constant-latency mode it is stamped (exact to the
   * frame). Other text goes to Csound as it is. Rewriting p2 in the text
   * instead would not do: the line would still start at the cycle that
   * runs it, a period of jitter. */
  if (strchr(text, '\n')[1] == '\0') {
    double p[CSJ_MAX_PFIELDS];
    int count = 0;
    if (score_line_numeric(text, p, CSJ_MAX_PFIELDS, &count)) {
      free(text);
      const CsjStatus status = csj_engine_score_event(e, 'i', p, count, false);
      if (status == CSJ_SUCCESS) {
        atomic_store_explicit(&e->score_carry, carry, memory_order_relaxed);
      }
      return status;
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
  return queue_push(e, &cmd, COMMAND_SIZE(seconds));
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
  if (!queue_accepting(e)) {
    return CSJ_ERR_STATE;
  }
  CsjStatus why;
  Job *job = queue_new_job(e, CMD_EVAL, refs, &why);
  if (!job) {
    return why;
  }
  job->fn = fn;
  job->fn_data = data;
  /* Kept for the live journal, should it merge. */
  job->text = strdup(code);
  if (!job->text) {
    atomic_store_explicit(&job->refs, 1, memory_order_relaxed);
    job_release(e, job);
    return CSJ_ERR_NO_MEMORY;
  }
  job->tree = worker_guarded_parse(e, job, code, false);
  job->trees = &job->tree;
  job->owns_tree = true;
  job->total = 1;
  atomic_store_explicit(&job->published, 1, memory_order_release);
  CsjStatus status = queue_push_job(e, job);
  if (status != CSJ_SUCCESS) {
    atomic_store_explicit(&job->refs, 1, memory_order_relaxed);
    job_release(e, job);
    return status;
  }
  *out = job;
  return CSJ_SUCCESS;
}

static CsjStatus
submit_code(CsjEngine *e, CommandType type, const char *code, int refs, CsjResultFn fn, void *data,
            Job **out)
{
  if (type == CMD_EVAL) {
    return submit_eval(e, code, refs, fn, data, out);
  }
  if (!code) {
    return CSJ_ERR_BAD_ARG;
  }
  CsjStatus why;
  Job *job = queue_new_job(e, type, refs, &why);
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
  CsjStatus status = queue_push_with(e, &cmd, COMMAND_SIZE(job), job);
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
  if (queue_refused_on_worker(e)) {
    return CSJ_ERR_STATE;
  }
  Job *job = NULL;
  CsjStatus status = submit_code(e, type, code, 2, NULL, NULL, &job);
  if (status != CSJ_SUCCESS) {
    return status;
  }
  status = queue_await(e, job, timeout_ms);
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
  const CsjStatus status = push_text(e, CMD_SET_STRING_CHANNEL, name, text, false);
  if (status == CSJ_SUCCESS) {
    live_journal_touch(&e->journal);
  }
  return status;
}

/* ---- Tables, tasks, callbacks, flush, recording ------------------------------ */

CsjStatus
csj_engine_table_set(CsjEngine *e, int table, int index, double value)
{
  Command cmd = {.type = CMD_TABLE_SET};
  cmd.u.table_set.table = table;
  cmd.u.table_set.index = index;
  cmd.u.table_set.value = value;
  return queue_push(e, &cmd, COMMAND_SIZE(table_set));
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
  Job *job = queue_new_job(e, CMD_TABLE_GET, 2, &why);
  if (!job) {
    return why;
  }
  job->table = table;
  job->index = index;
  return queue_submit_and_wait(e, job, timeout_ms, read_value, value);
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
  Job *job = queue_new_job(e, CMD_TABLE_COPY_IN, 1, &why);
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
  CsjStatus status = queue_push_job(e, job);
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
  Job *job = queue_new_job(e, CMD_TABLE_COPY_OUT, 2, &why);
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
  return queue_submit_and_wait(e, job, timeout_ms, read_table, &dest);
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
  return queue_push(e, &cmd, COMMAND_SIZE(task));
}

CsjStatus
csj_engine_task_off_thread(CsjEngine *e, CsjOffThreadFn fn, void *data)
{
  if (!fn) {
    return CSJ_ERR_BAD_ARG;
  }
  if (!queue_accepting(e)) {
    return CSJ_ERR_STATE;
  }
  /* One reference, the system's: nobody waits for it. */
  CsjStatus why;
  Job *job = queue_new_job(e, CMD_TASK_OFF_THREAD, 1, &why);
  if (!job) {
    return why;
  }
  job->task_fn = fn;
  job->task_data = data;
  atomic_init(&job->task_state, TASK_QUEUED);
  CsjStatus status = queue_push_job(e, job);
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
  return queue_push(e, &cmd, COMMAND_SIZE(process));
}

CsjStatus
csj_engine_flush(CsjEngine *e, int timeout_ms)
{
  CsjStatus why;
  Job *job = queue_new_job(e, CMD_FLUSH, 2, &why);
  if (!job) {
    return why;
  }
  return queue_submit_and_wait(e, job, timeout_ms, NULL, NULL);
}
