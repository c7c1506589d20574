/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JACK thread's side of the commands: at the start of each cycle it
 * runs what was queued when the cycle began, in order, within the cycle's
 * command budget, through the command table below.
 *
 * Nothing here allocates, frees, locks or waits: finished jobs go back to
 * the worker through the done ring, with a non-blocking semaphore post.
 * What the commands change for the cycle (pause, the process callback, the
 * recorder) is kept in CommandExecState; what ends the performance is
 * returned to the engine's cycle as a DrainOutcome.
 */

#include "engine_state.h"
#include "command_exec.h"
#include "compile_worker.h"
#include "job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The JACK thread -------------------------------------------------------- */

/* Hands a finished job back: the waiting caller is woken (a non-blocking
 * futex wake), and the worker gets the system's reference to drop. */
static void
complete(CsjEngine *e, Job *job)
{
  /* Is a caller waiting? Two references: the caller's and the system's.
   * One that gave up meanwhile makes this post harmless. */
  const bool waited_for = atomic_load_explicit(&job->refs, memory_order_relaxed) > 1;
  atomic_store_explicit(&job->finished, true, memory_order_release);
  if (waited_for) {
    sem_post(&job->done); /* a futex wake: no wait */
  }
  Job *ptr = job;
  if (!spsc_ring_push(e->done_ring, &ptr, sizeof(ptr))) {
    /* Cannot happen: the done ring holds MAX_JOBS pointers. A lost pointer
     * would be a leak, never a crash. */
  }
  e->exec.worker_has_jobs = true; /* one wake for the cycle: commands_drain */
}

/* Wakes the worker once for the jobs this cycle finished. */
static void
wake_worker(CsjEngine *e)
{
  if (e->exec.worker_has_jobs) {
    e->exec.worker_has_jobs = false;
    sem_post(&e->worker_wake);
  }
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
    memcpy(data, job->values,
           (job->count < (size_t)len ? job->count : (size_t)len) * sizeof(double));
    break;
  case CMD_TABLE_COPY_OUT:
    memcpy(job->values, data,
           (job->count < (size_t)len ? job->count : (size_t)len) * sizeof(double));
    break;
  default: break;
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
    if (merged_one && !budget_allows(e, e->exec.merge_ns_avg)) {
      return false; /* the rest next cycle */
    }
    if (!worker_begin_merge(e)) {
      return false; /* a parse is running: merge next cycle */
    }
    /* Csound's merge and instr 0: its share, and it allocates. */
    job_capture_begin(job);
    double retval = NAN;
    int result;
    const uint64_t t0 = engine_now_ns();
    ENGINE_FOREIGN(e, result = csound_adapter_compile_tree(e->csound, tree, &retval));
    const uint64_t took = engine_now_ns() - t0;
    job_capture_end();
    worker_end_merge(e);
    /* A running average that follows a change within a few merges. */
    e->exec.merge_ns_avg = e->exec.merge_ns_avg ? (3 * e->exec.merge_ns_avg + took) / 4 : took;
    merged_one = true;
    atomic_store_explicit(&job->merged, ++merged, memory_order_release);
    if (csound_adapter_aborted(e->csound)) {
      /* Csound's lock stays with this thread: commands_drain tells the
       * cycle to end the performance. */
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

/* ---- The executors, one per command ------------------------------------ */

/*
 * Places a score event. A stamped event starts at JACK frame @p frame plus
 * its p2 (seconds): against the frame at which Csound's next k-block
 * begins at our outputs (exec.next_block_frame, set this cycle), that is
 * a start that many samples after Csound's current time. A frame already
 * passed plays at once (the start of the next block) and is counted late.
 * A plain relative 'i' event (p2 seconds from now) is placed the same way,
 * from now: Csound's own placement under --sample-accurate can start it up
 * to a block late (see csound_adapter_score_event_in).
 */
static void
place_event(CsjEngine *e, char type, const double *pfields, int count, bool absp2, bool stamped,
            uint32_t frame)
{
  ++e->cycle_events;
  const bool instr = type == 'i' && count >= 2 && isfinite(pfields[1]);
  if (!instr || absp2 || (!stamped && pfields[1] < 0)) {
    const uint64_t t0 = engine_now_ns();
    ENGINE_FOREIGN(e, csound_adapter_score_event(e->csound, type, pfields, count, absp2));
    e->cycle_event_place_ns += engine_now_ns() - t0;
    return;
  }
  const uint32_t rate = atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  int64_t delta = llround(pfields[1] * (double)rate);
  if (stamped) {
    /* Signed distance on JACK's wrapping 32-bit frame clock. */
    delta += (int64_t)(int32_t)(frame - e->exec.next_block_frame);
    if (delta < 0) {
      atomic_fetch_add_explicit(&e->events_late, 1, memory_order_relaxed);
      delta = 0;
    }
  }
  const uint64_t t0 = engine_now_ns();
  ENGINE_FOREIGN(e, csound_adapter_score_event_in(e->csound, type, pfields, count, delta));
  e->cycle_event_place_ns += engine_now_ns() - t0;
}

static bool
run_score_event(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)job;
  place_event(e, cmd->u.event.type, cmd->u.event.pfields, cmd->u.event.count, cmd->u.event.absp2,
              cmd->u.event.stamped, cmd->u.event.frame);
  return true;
}

static bool
run_score_event_job(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)cmd;
  place_event(e, job->event_type, job->values, (int)job->count, job->absp2, job->stamped,
              job->frame);
  return true;
}

/* The events a score text holds: one a line. */
static uint32_t
text_events(const char *text)
{
  uint32_t n = 0;
  for (const char *p = text; p && *p; ++p) {
    n += *p == '\n';
  }
  return n ? n : 1;
}

static bool
run_input_message(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)cmd;
  e->cycle_events += text_events(job->text);
  const uint64_t t0 = engine_now_ns();
  ENGINE_FOREIGN(e, csound_adapter_input_message(e->csound, job->text));
  e->cycle_event_place_ns += engine_now_ns() - t0;
  return true;
}

static bool
run_score_offset(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)job;
  ENGINE_FOREIGN(e, csound_adapter_set_score_offset(e->csound, cmd->u.seconds));
  return true;
}

static bool
run_code(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)cmd;
  return run_compile_step(e, job);
}

static bool
run_string_channel(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)cmd;
  ENGINE_FOREIGN(e, csound_adapter_set_string_channel(e->csound, job->name, job->text));
  return true;
}

static bool
run_table(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)job;
  run_table_command(e, cmd);
  return true;
}

static bool
run_task(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)job;
  ENGINE_FOREIGN(e, cmd->u.task.fn(e, csound_adapter_handle(e->csound), cmd->u.task.data));
  return true;
}

/*
 * An off-thread task: the first time the line reaches it, it is handed to
 * the worker through the done ring (which the worker drains, running it),
 * and held; each cycle after that looks whether the worker has run it. The
 * JACK thread never waits: it performs its cycles meanwhile.
 */
static bool
run_task_off_thread(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)cmd;
  const int state = atomic_load_explicit(&job->task_state, memory_order_acquire);
  if (state == TASK_QUEUED) {
    atomic_store_explicit(&job->task_state, TASK_HANDED, memory_order_relaxed);
    Job *ptr = job;
    /* Cannot fail: the done ring holds two entries for every job in
     * flight, and a job comes back through it at most twice. */
    (void)spsc_ring_push(e->done_ring, &ptr, sizeof(ptr));
    e->exec.worker_has_jobs = true;
    return false;
  }
  return state == TASK_DONE;
}

static bool
run_process_callback(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)job;
  e->exec.process_fn = cmd->u.process.fn;
  e->exec.process_data = cmd->u.process.data;
  return true;
}

static bool
run_pause(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)job;
  e->exec.paused = cmd->u.pause_mode == 2 ? !e->exec.paused : cmd->u.pause_mode == 1;
  atomic_store_explicit(&e->paused_flag, e->exec.paused, memory_order_relaxed);
  return true;
}

static bool
run_flush(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)e;
  (void)cmd;
  (void)job;
  return true; /* its reply says everything queued before it has run */
}

static bool
run_record_start(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)cmd;
  e->exec.recorder = job->recorder;
  atomic_store_explicit(&e->record_abandoned, false, memory_order_seq_cst);
  return true;
}

static bool
run_record_stop(CsjEngine *e, const Command *cmd, Job *job)
{
  (void)cmd;
  (void)job;
  e->exec.recorder = NULL;
  return true;
}

/* The command table: one row per command type. */
static const CommandInfo command_table[CMD_COUNT] = {
  [CMD_SCORE_EVENT] = {"score event", COMMAND_INLINE, run_score_event},
  [CMD_SCORE_EVENT_JOB] = {"score event", COMMAND_JOB, run_score_event_job},
  [CMD_INPUT_MESSAGE] = {"score line", COMMAND_JOB, run_input_message},
  [CMD_SCORE_OFFSET] = {"score offset", COMMAND_INLINE, run_score_offset},
  [CMD_COMPILE] = {"compile", COMMAND_JOB, run_code},
  [CMD_EVAL] = {"evalCode", COMMAND_JOB, run_code},
  [CMD_SET_STRING_CHANNEL] = {"string channel", COMMAND_JOB, run_string_channel},
  [CMD_TABLE_SET] = {"table set", COMMAND_INLINE, run_table},
  [CMD_TABLE_GET] = {"table get", COMMAND_JOB, run_table},
  [CMD_TABLE_COPY_IN] = {"table copy in", COMMAND_JOB, run_table},
  [CMD_TABLE_COPY_OUT] = {"table copy out", COMMAND_JOB, run_table},
  [CMD_TASK] = {"task", COMMAND_INLINE, run_task},
  [CMD_PROCESS_CALLBACK] = {"process callback", COMMAND_INLINE, run_process_callback},
  [CMD_PAUSE] = {"pause", COMMAND_INLINE, run_pause},
  [CMD_FLUSH] = {"flush", COMMAND_JOB, run_flush},
  [CMD_RECORD_START] = {"record", COMMAND_JOB, run_record_start},
  [CMD_RECORD_STOP] = {"stop recording", COMMAND_JOB, run_record_stop},
  [CMD_TASK_OFF_THREAD] = {"off-thread task", COMMAND_JOB, run_task_off_thread},
};

const CommandInfo *
command_info(unsigned type)
{
  const CommandInfo *info = type < CMD_COUNT ? &command_table[type] : NULL;
  return info && info->run ? info : NULL;
}

/* ---- Held events: stamped events for a later cycle ------------------------ */

/*
 * The JACK frame at which a stamped 'i' event starts (its stamp plus p2),
 * or false for any other command: other event types, and events placed
 * as Csound places them (absp2, a non-finite p2, one over 2^31 frames
 * away), are not held.
 */
static bool
stamped_start(const CsjEngine *e, const Command *cmd, uint32_t *start)
{
  char type;
  const double *p;
  size_t count;
  bool absp2, stamped;
  uint32_t frame;
  if (cmd->type == CMD_SCORE_EVENT) {
    type = cmd->u.event.type;
    p = cmd->u.event.pfields;
    count = cmd->u.event.count;
    absp2 = cmd->u.event.absp2;
    stamped = cmd->u.event.stamped;
    frame = cmd->u.event.frame;
  } else if (cmd->type == CMD_SCORE_EVENT_JOB) {
    const Job *job = cmd->u.job;
    type = job->event_type;
    p = job->values;
    count = job->count;
    absp2 = job->absp2;
    stamped = job->stamped;
    frame = job->frame;
  } else {
    return false;
  }
  if (absp2 || type != 'i' || count < 2 || !isfinite(p[1])) {
    return false;
  }
  /* A plain event for later counts from now: the start of the next
   * k-block's output. Not while nothing performs (paused, or a stopped
   * transport): Csound's score time stands still then, JACK's does not. */
  if (!stamped) {
    if (e->exec.horizon == 0 || p[1] < 0) {
      return false;
    }
    frame = e->exec.next_block_frame;
  }
  const double offset = p[1] * (double)atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  if (!(fabs(offset) < 2147483647.0)) {
    return false;
  }
  *start = frame + (uint32_t)(int32_t)llround(offset);
  return true;
}

/*
 * Holds a stamped 'i' event that starts beyond what this cycle performs,
 * to be released by release_held in the cycle whose output holds its
 * frame. Its p2 is folded into the stamp (p2 0, frame = start), so the
 * release places it as any stamped event. A job event keeps its job,
 * unanswered, until then. False when the event is for this cycle, or the
 * queue is full (counted: the caller then places it now, and Csound's own
 * scheduler holds it, exact while Csound's clock follows JACK's).
 */
static bool
hold_event(CsjEngine *e, const Command *cmd)
{
  uint32_t start;
  if (!e->held || !stamped_start(e, cmd, &start)) {
    return false;
  }
  const int32_t ahead = (int32_t)(start - e->exec.next_block_frame);
  if (ahead < (int32_t)e->exec.horizon) {
    return false;
  }
  Command held = *cmd;
  if (held.type == CMD_SCORE_EVENT) {
    held.u.event.pfields[1] = 0;
    held.u.event.frame = start;
    held.u.event.stamped = true;
  }
  if (!event_queue_push(e->held, start, &held)) {
    atomic_fetch_add_explicit(&e->events_overflow, 1, memory_order_relaxed);
    return false;
  }
  if (held.type == CMD_SCORE_EVENT_JOB) {
    /* The JACK thread has the job to itself until it completes it. */
    held.u.job->values[1] = 0;
    held.u.job->frame = start;
    held.u.job->stamped = true;
  }
  atomic_store_explicit(&e->events_held, event_queue_count(e->held), memory_order_relaxed);
  return true;
}

/*
 * Releases, in frame order, the held events that start in what this cycle
 * performs, and those whose frame has passed (late: a paused or dropped
 * cycle kept them), before the cycle's commands run: all that are due,
 * whatever the command budget, since a deferred one would be late.
 */
static void
release_held(CsjEngine *e)
{
  uint32_t frame;
  bool released = false;
  while (e->held && event_queue_peek(e->held, &frame) &&
         (int32_t)(frame - e->exec.next_block_frame) < (int32_t)e->exec.horizon &&
         !csound_adapter_aborted(e->csound)) {
    Command cmd;
    event_queue_pop(e->held, NULL, &cmd);
    released = true;
    if (cmd.type == CMD_SCORE_EVENT) {
      run_score_event(e, &cmd, NULL);
    } else {
      run_score_event_job(e, &cmd, cmd.u.job);
      complete(e, cmd.u.job);
    }
  }
  if (released) {
    atomic_store_explicit(&e->events_held, event_queue_count(e->held), memory_order_relaxed);
  }
}

/* Runs one command through its row. False when it must wait for the next
 * cycle (a compile not parsed or not all merged yet). */
static bool
run_command(CsjEngine *e, const Command *cmd)
{
  const CommandInfo *info = command_info(cmd->type);
  if (!info) {
    return true; /* not a command csjack queues: nothing to run or answer */
  }
  if (hold_event(e, cmd)) {
    return true; /* accepted: runs when its cycle comes (release_held) */
  }
  Job *job = info->kind == COMMAND_JOB ? cmd->u.job : NULL;
  if (!info->run(e, cmd, job)) {
    return false;
  }
  if (job) {
    complete(e, job);
  }
  return true;
}

/* The events @p cmd hands Csound now if run (0: none, or held for a later
 * cycle). */
static uint32_t
events_now(CsjEngine *e, const Command *cmd)
{
  uint32_t start;
  switch (cmd->type) {
  case CMD_SCORE_EVENT:
  case CMD_SCORE_EVENT_JOB:
    return e->held && stamped_start(e, cmd, &start) &&
               (int32_t)(start - e->exec.next_block_frame) >= (int32_t)e->exec.horizon
             ? 0
             : 1;
  case CMD_INPUT_MESSAGE: return text_events(cmd->u.job->text);
  default: return 0;
  }
}

/* Whether @p n more events fit this cycle: as many as the learnt cost of
 * one lets into the command budget, at least one a cycle. */
static bool
events_fit(const CsjEngine *e, uint32_t n)
{
  if (n == 0 || e->cycle_events == 0) {
    return true;
  }
  const uint64_t cost = e->event_cost_ns ? e->event_cost_ns : 1;
  return (uint64_t)(e->cycle_events + n) * cost <= e->command_budget_ns;
}

/* The stash stops holding the line: how long it held it, for CsjStats. */
static void
release_stash(CsjEngine *e)
{
  e->exec.stash_full = false;
  if (e->exec.stash_is_event) {
    e->exec.stash_is_event = false;
    atomic_fetch_add_explicit(&e->commands_run, 1, memory_order_relaxed);
    return;
  }
  const uint64_t waited = engine_now_ns() - e->exec.stash_since_ns;
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
DrainOutcome
commands_drain(CsjEngine *e)
{
  release_held(e);
  if (e->exec.stash_full) {
    if (!run_command(e, &e->exec.stash)) {
      wake_worker(e);
      return DRAIN_OK; /* not parsed, or not all merged yet: everything else waits */
    }
    release_stash(e);
  }
  const uint64_t bound = command_ring_begin_drain(e->ring);
  Command cmd;
  uint32_t size = 0;
  bool ran = false;
  while (!csound_adapter_aborted(e->csound) &&
         atomic_load_explicit(&e->state, memory_order_relaxed) == ENGINE_PERFORMING) {
    if (ran && !budget_allows(e, 0)) {
      if (command_ring_pending(e->ring, bound)) {
        atomic_fetch_add_explicit(&e->commands_deferred, 1, memory_order_relaxed);
      }
      break;
    }
    if (!command_ring_pop(e->ring, bound, &cmd, &size)) {
      break;
    }
    if (!events_fit(e, events_now(e, &cmd))) {
      /* What Csound does for these events (insertion, then init in the
       * next k-block) would not fit this cycle: they go first next cycle,
       * in order, and the line waits behind them. */
      e->exec.stash = cmd;
      e->exec.stash_full = true;
      e->exec.stash_is_event = true;
      e->exec.stash_since_ns = engine_now_ns();
      atomic_fetch_add_explicit(&e->events_spread, 1, memory_order_relaxed);
      break;
    }
    ran = true;
    if (!run_command(e, &cmd)) {
      e->exec.stash = cmd;
      e->exec.stash_full = true;
      e->exec.stash_since_ns = engine_now_ns();
      break;
    }
    atomic_fetch_add_explicit(&e->commands_run, 1, memory_order_relaxed);
  }
  wake_worker(e);
  return csound_adapter_aborted(e->csound) ? DRAIN_CSOUND_ABORTED : DRAIN_OK;
}

/* After the JACK client is closed: nothing runs commands any more. */
void
commands_answer_not_run(CsjEngine *e, const Command *cmd)
{
  const CommandInfo *info = command_info(cmd->type);
  if (!info || info->kind != COMMAND_JOB) {
    return; /* inline: nothing to answer or free */
  }
  Job *job = cmd->u.job;
  job->status = CSJ_ERR_NOT_RUN;
  snprintf(job->message, sizeof(job->message), "%s", csj_strerror(CSJ_ERR_NOT_RUN));
  job->message_len = strlen(job->message);
  /* The worker may still hold it (a parse under way): its reference keeps
   * the job alive, and a finished job stops its feed. */
  complete(e, job);
  wake_worker(e);
}
