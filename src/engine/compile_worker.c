/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker thread: the heavy half of every compile, and what the JACK
 * thread must not do itself.
 *
 * It parses compiles (Csound's parser allocates and has shared state: one
 * parse at a time, whoever parses, and never alongside a merge on the JACK
 * thread: worker_guarded_parse / worker_begin_merge), splits a compile
 * into units that merge to the same result as one piece (see Feed), frees
 * the jobs the JACK thread has finished, deletes their parse trees, and
 * runs result callbacks. It never touches the JACK thread's state.
 */

#include "engine_state.h"
#include "compile_worker.h"
#include "job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "orchestra_split.h"

#define WORKER_TICK_NS (20 * 1000 * 1000)

/* The ring push and the parse queue's push of a compile, in one step under
 * the parse queue's lock: compiles from several threads then reach the
 * worker in the order they reach the JACK thread. Pushed one after the
 * other, two threads could interleave them (A and B in the ring, B before
 * A in the parse queue); the worker would parse B and wait for the JACK
 * thread to merge it, while the JACK thread held the line for A, which the
 * worker never parsed. The ring push never waits. */
CommandRingResult
worker_push_compile(CsjEngine *e, const void *cmd, uint32_t size, Job *job)
{
  pthread_mutex_lock(&e->parse_lock);
  CommandRingResult r = COMMAND_RING_FULL; /* a full parse queue: cannot happen (MAX_JOBS) */
  if (e->parse_tail - e->parse_head < e->parse_capacity) {
    r = command_ring_push(e->ring, cmd, size);
    if (r == COMMAND_RING_OK) {
      e->parse_queue[e->parse_tail++ % e->parse_capacity] = job;
    }
  }
  pthread_mutex_unlock(&e->parse_lock);
  if (r == COMMAND_RING_OK) {
    sem_post(&e->worker_wake);
  }
  return r;
}

/* Parses under the parse mutex, and only while the JACK thread is not
 * merging. seq_cst on both flags: each side stores its own flag, then loads
 * the other's, so at most one of them proceeds. NOT real-time safe. */
void *
worker_guarded_parse(CsjEngine *e, Job *capture, const char *text, bool quiet)
{
  pthread_mutex_lock(&e->parse_mutex);
  for (;;) {
    atomic_store_explicit(&e->parse_active, true, memory_order_seq_cst);
    if (!atomic_load_explicit(&e->merge_active, memory_order_seq_cst)) {
      break;
    }
    atomic_store_explicit(&e->parse_active, false, memory_order_relaxed);
    engine_sleep_us(20);
  }
  job_capture_begin(capture);
  atomic_store_explicit(&e->parse_busy_since_ns, engine_now_ns(), memory_order_relaxed);
  void *tree =
    quiet ? csound_adapter_parse_quiet(e->csound, text) : csound_adapter_parse(e->csound, text);
  atomic_store_explicit(&e->parse_busy_since_ns, 0, memory_order_relaxed);
  job_capture_end();
  atomic_store_explicit(&e->parse_active, false, memory_order_release);
  pthread_mutex_unlock(&e->parse_mutex);
  return tree;
}

/* The JACK thread's side: false means a parse is running, so merge next
 * cycle instead. Real-time safe: two atomic stores and a load. */
bool
worker_begin_merge(CsjEngine *e)
{
  atomic_store_explicit(&e->merge_active, true, memory_order_seq_cst);
  if (atomic_load_explicit(&e->parse_active, memory_order_seq_cst)) {
    atomic_store_explicit(&e->merge_active, false, memory_order_relaxed);
    return false;
  }
  return true;
}

void
worker_end_merge(CsjEngine *e)
{
  atomic_store_explicit(&e->merge_active, false, memory_order_release);
}

/* ---- The worker ------------------------------------------------------------- */

bool
worker_is_current(const CsjEngine *e)
{
  return e->worker_started && pthread_equal(pthread_self(), e->worker);
}

/*
 * User code on the worker (an off-thread task, a result callback) may never
 * return, and a thread cannot be taken back: worker_stop then gives up on
 * it (WORKER_ABANDONED) and the engine's close leaves everything that
 * thread may touch to the process's exit. False from user_leave when that
 * happened meanwhile: the worker must then touch nothing more and end.
 */
static uint64_t
user_enter(CsjEngine *e, bool task)
{
  const uint64_t since = engine_now_ns();
  atomic_store_explicit(&e->worker_user_is_task, task, memory_order_relaxed);
  atomic_store_explicit(&e->worker_user_since_ns, since, memory_order_release);
  return since;
}

static bool
user_leave(CsjEngine *e, uint64_t since)
{
  return atomic_compare_exchange_strong_explicit(&e->worker_user_since_ns, &since, 0,
                                                 memory_order_acq_rel, memory_order_acquire);
}

typedef enum {
  RUN_NOT_A_TASK = 0, /* finished (or never reached): release it */
  RUN_DONE,           /* run: it comes back once more, finished, to be released */
  RUN_ABANDONED,      /* worker_stop gave up while it ran */
} TaskRun;

/* An off-thread task the JACK thread has handed over (it holds the line
 * until the state says done). */
static TaskRun
worker_run_task(CsjEngine *e, Job *job)
{
  int expected = TASK_HANDED;
  if (job->type != CMD_TASK_OFF_THREAD ||
      !atomic_compare_exchange_strong_explicit(&job->task_state, &expected, TASK_RUNNING,
                                               memory_order_acquire, memory_order_relaxed)) {
    return RUN_NOT_A_TASK;
  }
  const uint64_t since = user_enter(e, true);
  job->task_fn(e, job->task_data);
  if (!user_leave(e, since)) {
    return RUN_ABANDONED;
  }
  atomic_store_explicit(&job->task_state, TASK_DONE, memory_order_release);
  return RUN_DONE;
}

/* False when worker_stop gave up on the worker while it ran user code. */
static bool
worker_finish_jobs(CsjEngine *e)
{
  Job *job;
  while (spsc_ring_pop(e->done_ring, &job, sizeof(job)) == sizeof(job)) {
    const TaskRun run = worker_run_task(e, job);
    if (run == RUN_ABANDONED) {
      return false;
    }
    if (run == RUN_DONE) {
      continue;
    }
    /* Merged: the orchestra changed, in this order. */
    if ((job->type == CMD_COMPILE || job->type == CMD_EVAL) && job->status == CSJ_SUCCESS) {
      live_journal_append(&e->journal, job->type == CMD_EVAL, job->text);
    }
    if (job->fn) {
      const CsjResult result = {job->status, job->value, job->message};
      const uint64_t since = user_enter(e, false);
      job->fn(job->fn_data, &result);
      if (!user_leave(e, since)) {
        return false;
      }
    }
    job_release(e, job);
  }
  return true;
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
 * (milliseconds for a hundred instruments: bench/compile_xruns.c measures
 * it), more than a 64-frame period. So a compile is merged in units when that means
 * exactly what one piece means. Csound merges a whole text's instruments
 * and UDOs first and runs its global (instr 0) code after them, so:
 *
 *   1. the whole text is parsed once: a syntax error rejects it whole;
 *   2. it is split into its instr and opcode blocks and its global code
 *      (orchestra_split);
 *   3. each block is parsed alone (opcodes, then numbered instruments, then
 *      named ones: see UnitKind), and the global code, in its order, as
 *      one last unit. If any of these parses fails where the
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
  void **trees; /* the units, owned here until the job is finished */
  uint32_t count;
} Feed;

/* What an orchestra unit is, and so when it is merged: opcode blocks
 * first, then numbered instruments, then named ones, then the global code.
 * Csound numbers a compile's named instruments after it knows all of its
 * numbered ones; merged in text order, `instr foo` before `instr 1` would
 * take number 1 and then be replaced by it. */
typedef enum {
  UNIT_OPCODE = 0,
  UNIT_NUMBERED,
  UNIT_NAMED,
  UNIT_GLOBAL,
  UNIT_KINDS,
} UnitKind;

static const char *
skip_blanks_and_comments(const char *p)
{
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
      return p;
    }
  }
}

static UnitKind
unit_kind(const char *unit)
{
  const char *p = skip_blanks_and_comments(unit);
  const size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz");
  if (n == 6 && strncmp(p, "opcode", 6) == 0) {
    return UNIT_OPCODE;
  }
  if (n != 5 || strncmp(p, "instr", 5) != 0) {
    return UNIT_GLOBAL;
  }
  /* The header: numbers only (`instr 1, 2`) or any name (`instr foo`,
   * `instr +bar`, `instr 3, baz`). */
  for (p += 5; *p && *p != '\n' && *p != ';'; ++p) {
    if (!strchr(" \t\r,0123456789", *p)) {
      return UNIT_NAMED;
    }
  }
  return UNIT_NUMBERED;
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
parse_units(CsjEngine *e, Job *job, uint32_t *count, bool *tried)
{
  uint32_t n_units = 0;
  char **units = orchestra_split(job->text, &n_units);
  uint32_t n_defs = 0;
  size_t global_len = 0;
  for (uint32_t i = 0; i < n_units; ++i) {
    if (unit_kind(units[i]) != UNIT_GLOBAL) {
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
  *tried = ok;
  for (int kind = UNIT_OPCODE; ok && kind < UNIT_GLOBAL; ++kind) {
    for (uint32_t i = 0; ok && i < n_units; ++i) {
      if (unit_kind(units[i]) == (UnitKind)kind) {
        trees[n] = worker_guarded_parse(e, job, units[i], true);
        ok = trees[n++] != NULL;
      }
    }
  }
  for (uint32_t i = 0; ok && i < n_units; ++i) {
    if (unit_kind(units[i]) == UNIT_GLOBAL) {
      strcat(global, units[i]);
    }
  }
  if (ok && global_len > 0) {
    trees[n] = worker_guarded_parse(e, job, global, true);
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
  void *whole = worker_guarded_parse(e, job, job->text, false);
  uint32_t count = 0;
  bool tried = false;
  const bool try_units = whole && job->type == CMD_COMPILE;
  void **trees = try_units ? parse_units(e, job, &count, &tried) : NULL;
  if (trees) {
    csound_adapter_free_tree(e->csound, whole);
    feed_publish(feed, trees, count);
    return;
  }
  if (tried) {
    /* A unit's failed trial parse leaves Csound's syntax-error count set,
     * and its merge refuses any tree while it is: parse the whole again,
     * which resets it. A text of one block was never split: its one parse
     * stands (Csound keeps every parse's variable pools until the end, so
     * each parse saved is memory saved in a long session). */
    csound_adapter_free_tree(e->csound, whole);
    whole = worker_guarded_parse(e, job, job->text, false);
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
    if (!worker_finish_jobs(e)) {
      return NULL; /* given up on: the engine may be gone */
    }
    /* One compile at a time: Csound's parser and its merge share state, and
     * a later compile may use what an earlier one defines. */
    if (feed.job) {
      /* Its trees live until the JACK thread is done with the job. */
      if (!atomic_load_explicit(&feed.job->finished, memory_order_acquire) &&
          atomic_load_explicit(&e->state, memory_order_acquire) != ENGINE_FINISHED) {
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
  if (worker_finish_jobs(e)) {
    atomic_store_explicit(&e->worker_exited, true, memory_order_release);
  }
  return NULL;
}

CsjStatus
worker_start(CsjEngine *e)
{
  e->parse_capacity = MAX_JOBS;
  e->parse_queue = calloc(e->parse_capacity, sizeof(Job *));
  if (!e->parse_queue) {
    return CSJ_ERR_NO_MEMORY;
  }
  atomic_init(&e->worker_quit, false);
  atomic_init(&e->worker_exited, false);
  atomic_init(&e->worker_user_since_ns, 0);
  atomic_init(&e->worker_user_is_task, false);
  sem_init(&e->worker_wake, 0, 0);
  pthread_mutex_init(&e->parse_lock, NULL);
  pthread_mutex_init(&e->parse_mutex, NULL);
  atomic_init(&e->parse_active, false);
  atomic_init(&e->merge_active, false);
  e->parse_queue_ready = true;
  if (pthread_create(&e->worker, NULL, worker_main, e) != 0) {
    return CSJ_ERR_NO_MEMORY;
  }
  e->worker_started = true;
  return CSJ_SUCCESS;
}

/*
 * True when the worker has been inside one call of user code for the hang
 * limit since this close began (or since that call began, if later), and
 * is now given up on: it wins the compare-and-swap against the worker's
 * own return, so from here on the worker touches nothing.
 */
static bool
give_up_on_user_code(CsjEngine *e, uint64_t close_began, uint64_t limit_ns)
{
  uint64_t since = atomic_load_explicit(&e->worker_user_since_ns, memory_order_acquire);
  if (since == 0 || since == WORKER_ABANDONED) {
    return false;
  }
  const uint64_t from = since > close_began ? since : close_began;
  const uint64_t now = engine_now_ns();
  if (now <= from || now - from < limit_ns) {
    return false;
  }
  if (!atomic_compare_exchange_strong_explicit(&e->worker_user_since_ns, &since, WORKER_ABANDONED,
                                               memory_order_acq_rel, memory_order_acquire)) {
    return false; /* it returned just now */
  }
  const bool task = atomic_load_explicit(&e->worker_user_is_task, memory_order_relaxed);
  message_log_printf(e->log, 0,
                     "csjack: error: %s on csjack's worker thread has not returned %.1f s "
                     "after the engine began to close (it has run for %.1f s): csjack gives "
                     "up on it; that thread, the engine's memory and its Csound instance are "
                     "left to the process's exit\n",
                     task ? "an off-thread task (csj_engine_task_off_thread)" : "a result callback",
                     (double)(now - close_began) * 1e-9, (double)(now - since) * 1e-9);
  return true;
}

void
worker_stop(CsjEngine *e)
{
  if (!e->worker_started) {
    return;
  }
  atomic_store_explicit(&e->worker_quit, true, memory_order_release);
  sem_post(&e->worker_wake);
  const int limit_ms = atomic_load_explicit(&e->hang_limit_ms, memory_order_relaxed);
  if (limit_ms >= 0) {
    /* A task that never returns would keep a plain join waiting for ever,
     * and with it the application's close and its exit. */
    const uint64_t close_began = engine_now_ns();
    const uint64_t limit_ns = (uint64_t)limit_ms * 1000000u;
    while (!atomic_load_explicit(&e->worker_exited, memory_order_acquire)) {
      if (give_up_on_user_code(e, close_began, limit_ns)) {
        pthread_detach(e->worker);
        e->worker_started = false;
        return;
      }
      engine_sleep_us(2000);
    }
  }
  pthread_join(e->worker, NULL);
  e->worker_started = false;
}

void
worker_drop_queued(CsjEngine *e)
{
  if (!e->parse_queue_ready) {
    return;
  }
  /* Jobs still waiting for a parse hold the worker's reference. */
  for (Job *job; (job = next_parse(e)) != NULL;) {
    job_release(e, job);
  }
}
