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

#include "engine_state.h"
#include "engine_direct.h"
#include "compile_worker.h"
#include "job.h"

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
engine_direct_run(CsjEngine *e, void (*fn)(CsjEngine *e, void *data), void *data)
{
  const CsjStatus status = direct_begin(e, NULL);
  if (status != CSJ_SUCCESS) {
    return status;
  }
  fn(e, data);
  direct_check_abort(e);
  direct_end(e);
  return CSJ_SUCCESS;
}

/* The reply of a direct or prompt call: @p result as csound_adapter's
 * compile_tree gives it (0 success), @p failure the status for anything
 * else, with Csound's captured words in @p error. */
static CsjStatus
call_reply(Job *capture, int result, CsjStatus failure, char *error, size_t error_size)
{
  if (result == 0) {
    return CSJ_SUCCESS;
  }
  capture->status = failure;
  job_copy_message(capture, error, error_size);
  return failure;
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
  if (result == 0) {
    live_journal_append(&e->journal, true, code);
  }
  return call_reply(&capture, result, CSJ_ERR_EVAL, error, error_size);
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
  if (result == 0) {
    live_journal_append(&e->journal, false, code);
  }
  return call_reply(&capture, result, CSJ_ERR_COMPILE, error, error_size);
}

/* ---- The prompt path ------------------------------------------------------- */

/*
 * The prompt path: the caller parses on its own thread, then merges (and
 * runs instr 0) on its own thread too, but only in a window between two
 * cycles that its predicted cost fits in: the JACK thread publishes when
 * each cycle began, when JACK expects the next, and when our callback
 * ended (engine_cycle.c); the caller compares with JACK's clock now.
 *
 *   - The window is [our callback's end, JACK's next cycle start - margin].
 *     A call that does not fit the window left waits for the end of the
 *     next callback and goes then.
 *   - A cost that does not fit a period's idle time at all (the period
 *     less the callbacks' average length, less the margin) goes through
 *     the ring instead (csj_engine_eval_code / csj_engine_compile_orc).
 *   - Order: the merge runs only when every command pushed to the ring
 *     before the call began has run (the ring's consumer position has
 *     passed it and no compile holds the line); it waits up to
 *     PROMPT_DRAIN_CYCLES cycle ends for that, then goes through the ring,
 *     behind them.
 *   - A misprediction costs at most the cycles that begin while the caller
 *     holds Csound: the JACK thread's one CAS fails and drops them
 *     (counted in dropped_cycles and prompt_dropped), never a wait.
 */

/* Slack for the next cycle's start jitter and the caller's own (plus a
 * thirty-second of the period). On this project's noisy machines, with
 * jackd's dummy driver not in real-time mode, 99 % of cycles began no
 * more than 90 us (period 64) / 180 us (256) before the tracked schedule
 * said. */
#define PROMPT_MARGIN_US 150u
/* The cost assumed before a kind of merge has been seen. */
#define PROMPT_FIRST_COST_US 400u
/* Cycle ends to wait for commands queued before the call to drain. */
#define PROMPT_DRAIN_CYCLES 3
/* Cycle ends, and time, to wait for a window before going through the
 * ring. */
#define PROMPT_MAX_WAIT_CYCLES 16
#define PROMPT_MAX_WAIT_MS 500

enum { PROMPT_EVAL = 0, PROMPT_COMPILE = 1 };

typedef struct {
  uint32_t seq;
  uint64_t current_us;
  uint64_t next_us;
  uint64_t period_us;
  uint64_t begin_us;
  uint64_t due_us;
  uint64_t end_us;
} CycleView;

/* The last published cycle, read whole (a seqlock: retried while the JACK
 * thread writes a cycle's start, which is a handful of stores). False when
 * nothing was published yet. */
static bool
read_cycle(CsjEngine *e, CycleView *v)
{
  for (int tries = 0; tries < 100000; ++tries) {
    const uint32_t s1 = atomic_load_explicit(&e->cycle_seq, memory_order_acquire);
    if (s1 & 1u) {
      continue;
    }
    v->current_us = atomic_load_explicit(&e->cycle_current_us, memory_order_relaxed);
    v->next_us = atomic_load_explicit(&e->cycle_next_us, memory_order_relaxed);
    v->period_us = atomic_load_explicit(&e->cycle_period_us, memory_order_relaxed);
    v->begin_us = atomic_load_explicit(&e->cycle_begin_us, memory_order_relaxed);
    v->due_us = atomic_load_explicit(&e->cycle_due_us, memory_order_relaxed);
    v->end_us = atomic_load_explicit(&e->cycle_end_us, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&e->cycle_seq, memory_order_relaxed) == s1) {
      v->seq = s1;
      return s1 != 0;
    }
  }
  return false;
}

/* What the next merge of this kind is predicted to cost: the 90th
 * percentile of its last 32 merges (the largest of the first few, and not
 * less than a first guess, until there are 8), never less than the floor
 * set by csj_engine_set_prompt_min_cost. A percentile rather than a mean:
 * on a busy machine a merge now and then is preempted, and one such outlier
 * should not close the window for the calls after it. Under parse_mutex. */
static uint64_t
prompt_predict(CsjEngine *e, int kind)
{
  const PromptCost *c = &e->prompt_cost[kind];
  uint32_t sorted[PROMPT_COST_SAMPLES];
  memcpy(sorted, c->us, c->n * sizeof(sorted[0]));
  for (uint32_t i = 1; i < c->n; ++i) { /* insertion sort of at most 32 */
    const uint32_t x = sorted[i];
    uint32_t j = i;
    for (; j > 0 && sorted[j - 1] > x; --j) {
      sorted[j] = sorted[j - 1];
    }
    sorted[j] = x;
  }
  uint64_t us;
  if (c->n < 8) {
    us = c->n ? sorted[c->n - 1] : 0;
    if (us < PROMPT_FIRST_COST_US) {
      us = PROMPT_FIRST_COST_US;
    }
  } else {
    us = sorted[(c->n * 9) / 10];
  }
  const int floor = atomic_load_explicit(&e->prompt_min_cost_us, memory_order_relaxed);
  if (floor > 0 && us < (uint64_t)floor) {
    us = (uint64_t)floor;
  }
  atomic_store_explicit(&e->prompt_predicted_us[kind], us, memory_order_relaxed);
  return us;
}

static void
prompt_learn(CsjEngine *e, int kind, uint64_t took_us)
{
  PromptCost *c = &e->prompt_cost[kind];
  c->us[c->next] = took_us > UINT32_MAX ? UINT32_MAX : (uint32_t)took_us;
  c->next = (c->next + 1) % PROMPT_COST_SAMPLES;
  if (c->n < PROMPT_COST_SAMPLES) {
    ++c->n;
  }
}

/* A call sent to the ring for its cost: its largest sample is halved, so
 * slow outliers do not send every later call there. */
static void
prompt_forget(CsjEngine *e, int kind)
{
  PromptCost *c = &e->prompt_cost[kind];
  uint32_t at = 0;
  for (uint32_t i = 1; i < c->n; ++i) {
    if (c->us[i] > c->us[at]) {
      at = i;
    }
  }
  if (c->n) {
    c->us[at] /= 2;
  }
}

/* Sleeps on the caller's thread for about @p us microseconds (at most 1 ms
 * at a time, so a stalled server is noticed). */
static void
prompt_sleep(uint64_t us)
{
  engine_sleep_us((long)(us > 1000 ? 1000 : (us < 20 ? 20 : us)));
}

/* Whether every command pushed before the call (position < @p pushed) has
 * run, and no compile holds the line. Only while we own Csound: the JACK
 * thread's drain happened before its release of the owner flag. */
static bool
prompt_ordered(CsjEngine *e, uint64_t pushed)
{
  return command_ring_pops(e->ring) >= pushed && !e->exec.stash_full;
}

typedef enum {
  PROMPT_TAKEN, /* we own Csound, in a window, in order */
  PROMPT_QUEUE, /* go through the ring instead */
  PROMPT_STATE, /* the performance is not running */
} PromptWait;

/*
 * Waits for a window that @p cost_us fits in, with every command queued
 * before the call run, and takes Csound (OWNER_PROMPT). Under parse_mutex.
 * Sets *deadline_us to the window's end.
 */
static PromptWait
prompt_take(CsjEngine *e, int kind, uint64_t pushed, uint64_t parse_us, uint64_t *deadline_us,
            bool *waited)
{
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  uint64_t cb_avg_us = 0;
  uint32_t last_seq = 0;
  int cycles_seen = 0;
  int drain_cycles = 0;
  for (;;) {
    if (atomic_load_explicit(&e->state, memory_order_acquire) != ENGINE_PERFORMING ||
        csound_adapter_aborted(e->csound)) {
      return PROMPT_STATE;
    }
    /* No cycle published, or a callback that never ends: the ring's
     * timeouts deal with a server in that state. */
    if (engine_elapsed_ms(&start) > PROMPT_MAX_WAIT_MS) {
      return PROMPT_QUEUE;
    }
    CycleView v;
    if (!read_cycle(e, &v)) {
      prompt_sleep(100); /* no cycle yet */
      continue;
    }
    if (v.seq != last_seq) {
      if (last_seq != 0) {
        ++cycles_seen;
      }
      last_seq = v.seq;
    }
    if (cycles_seen > PROMPT_MAX_WAIT_CYCLES) {
      return PROMPT_QUEUE;
    }
    const uint64_t now = jack_backend_now_usecs();
    if (v.end_us == 0) {
      /* Our callback runs: it ends about as long after its start as the
       * callbacks take on average. */
      const uint64_t expect = v.begin_us + cb_avg_us;
      prompt_sleep(expect > now + 20 ? expect - now - 20 : 20);
      continue;
    }
    const uint64_t cb_us = v.end_us > v.begin_us ? v.end_us - v.begin_us : 0;
    cb_avg_us = cb_avg_us ? (7 * cb_avg_us + cb_us) / 8 : cb_us;
    /* A merge costs less than its parse, but not much less: half the parse
     * is a floor that a code much larger than the earlier ones raises (a
     * 100-instrument orchestra: a few ms). */
    uint64_t cost = prompt_predict(e, kind);
    if (cost < parse_us / 2) {
      cost = parse_us / 2;
    }
    /* JACK's length of this period; the next cycle is due a period after
     * this one was (engine_cycle.c tracks the schedule). */
    const uint64_t period = v.next_us > v.current_us ? v.next_us - v.current_us : v.period_us;
    const uint64_t margin = PROMPT_MARGIN_US + period / 32;
    const uint64_t idle = period > cb_avg_us + margin ? period - cb_avg_us - margin : 0;
    if (cost > idle) {
      prompt_forget(e, kind);
      return PROMPT_QUEUE; /* it would not fit between two cycles at all */
    }
    const uint64_t next_start = v.due_us + period;
    /* A server that stopped cycling (stalled, or freewheeling without
     * calling us): no cycle to collide with but a late one; go. */
    const bool stale = now > next_start + 4 * period;
    const uint64_t deadline = next_start - margin;
    if (stale || now + cost <= deadline) {
      int expected = OWNER_NONE;
      if (atomic_compare_exchange_strong_explicit(&e->owner, &expected, OWNER_PROMPT,
                                                  memory_order_acquire, memory_order_relaxed)) {
        /* A cycle that began between our read and the CAS has ended (it
         * released the owner flag): look again with its figures. */
        CycleView again;
        const bool same = read_cycle(e, &again) && again.seq == v.seq && again.end_us != 0;
        if (same && prompt_ordered(e, pushed)) {
          *deadline_us = stale ? UINT64_MAX : next_start;
          return PROMPT_TAKEN;
        }
        atomic_store_explicit(&e->owner, OWNER_NONE, memory_order_release);
        if (same) {
          /* Commands queued before us have not all run: wait for them. */
          if (++drain_cycles > PROMPT_DRAIN_CYCLES) {
            return PROMPT_QUEUE;
          }
          *waited = true;
          const uint64_t wake = next_start + cb_avg_us;
          prompt_sleep(wake > now ? wake - now : 20);
        }
        continue;
      }
      prompt_sleep(20); /* a cycle has just begun */
      continue;
    }
    /* The window left is too short: go after the next callback. */
    *waited = true;
    const uint64_t wake = next_start + cb_avg_us;
    prompt_sleep(wake > now ? wake - now : 20);
  }
}

/*
 * The prompt path's body: parse here, then merge here in a window; or
 * through the ring when it does not fit. @p kind: PROMPT_EVAL or
 * PROMPT_COMPILE.
 */
static CsjStatus
prompt_run(CsjEngine *e, int kind, const char *code, int timeout_ms, double *value, char *error,
           size_t error_size)
{
  if (!e || !code) {
    return CSJ_ERR_BAD_ARG;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) != ENGINE_PERFORMING ||
      csound_adapter_aborted(e->csound)) {
    return CSJ_ERR_STATE;
  }
  if (worker_is_current(e)) {
    /* It would wait for the line an off-thread task holds, then fall back
     * to the ring behind it: refused, as the queued forms are. */
    engine_set_error_text(e, "refused on csjack's worker thread (inside an off-thread task or "
                             "a result callback): use the _direct form there");
    return CSJ_ERR_STATE;
  }
  const CsjStatus failure = kind == PROMPT_EVAL ? CSJ_ERR_EVAL : CSJ_ERR_COMPILE;
  /* Everything this thread queued before the call has a position below
   * this one. */
  const uint64_t pushed = command_ring_pushes(e->ring);
  Job capture = {0};
  const uint64_t p0 = jack_backend_now_usecs();
  void *tree = worker_guarded_parse(e, &capture, code, false);
  const uint64_t parse_us = jack_backend_now_usecs() - p0;
  if (!tree) {
    if (value) {
      *value = NAN;
    }
    return call_reply(&capture, -1, failure, error, error_size);
  }
  pthread_mutex_lock(&e->parse_mutex);
  uint64_t deadline = 0;
  bool waited = false;
  const PromptWait got = prompt_take(e, kind, pushed, parse_us, &deadline, &waited);
  if (got != PROMPT_TAKEN) {
    pthread_mutex_unlock(&e->parse_mutex);
    csound_adapter_free_tree(e->csound, tree);
    if (got == PROMPT_STATE) {
      return CSJ_ERR_STATE;
    }
    atomic_fetch_add_explicit(&e->prompt_queued, 1, memory_order_relaxed);
    return kind == PROMPT_EVAL ? csj_engine_eval_code(e, code, timeout_ms, value, error, error_size)
                               : csj_engine_compile_orc(e, code, timeout_ms, error, error_size);
  }
  /* We own Csound until the release below; the watchdog sees us inside. */
  job_capture_begin(&capture);
  atomic_store_explicit(&e->direct_busy_since_ns, engine_now_ns(), memory_order_relaxed);
  const uint64_t t0 = jack_backend_now_usecs();
  double retval = NAN;
  const int result = csound_adapter_compile_tree(e->csound, tree, &retval);
  const uint64_t t1 = jack_backend_now_usecs();
  direct_check_abort(e);
  atomic_store_explicit(&e->direct_busy_since_ns, 0, memory_order_relaxed);
  job_capture_end();
  release_direct(e);
  prompt_learn(e, kind, t1 - t0);
  pthread_mutex_unlock(&e->parse_mutex);
  csound_adapter_free_tree(e->csound, tree);
  atomic_fetch_add_explicit(&e->prompt_runs, 1, memory_order_relaxed);
  if (waited) {
    atomic_fetch_add_explicit(&e->prompt_waits, 1, memory_order_relaxed);
  }
  if (t1 > deadline) {
    atomic_fetch_add_explicit(&e->prompt_late, 1, memory_order_relaxed);
  }
  if (value) {
    *value = result == 0 ? retval : NAN;
  }
  if (result == 0) {
    live_journal_append(&e->journal, kind == PROMPT_EVAL, code);
  }
  return call_reply(&capture, result, failure, error, error_size);
}

CsjStatus
csj_engine_eval_code_prompt(CsjEngine *e, const char *code, int timeout_ms, double *value,
                            char *error, size_t error_size)
{
  return prompt_run(e, PROMPT_EVAL, code, timeout_ms, value, error, error_size);
}

CsjStatus
csj_engine_compile_orc_prompt(CsjEngine *e, const char *code, int timeout_ms, char *error,
                              size_t error_size)
{
  return prompt_run(e, PROMPT_COMPILE, code, timeout_ms, NULL, error, error_size);
}

void
csj_engine_set_prompt_min_cost(CsjEngine *e, int usecs)
{
  if (e) {
    atomic_store_explicit(&e->prompt_min_cost_us, usecs, memory_order_relaxed);
  }
}

void
csj_engine_prompt_stats(const CsjEngine *e, CsjPromptStats *out)
{
  CsjEngine *m = (CsjEngine *)e;
  memset(out, 0, sizeof(*out));
  out->runs = atomic_load_explicit(&m->prompt_runs, memory_order_relaxed);
  out->waited = atomic_load_explicit(&m->prompt_waits, memory_order_relaxed);
  out->queued = atomic_load_explicit(&m->prompt_queued, memory_order_relaxed);
  out->late = atomic_load_explicit(&m->prompt_late, memory_order_relaxed);
  out->dropped_cycles = atomic_load_explicit(&m->prompt_dropped, memory_order_relaxed);
  out->predicted_eval_us =
    atomic_load_explicit(&m->prompt_predicted_us[PROMPT_EVAL], memory_order_relaxed);
  out->predicted_compile_us =
    atomic_load_explicit(&m->prompt_predicted_us[PROMPT_COMPILE], memory_order_relaxed);
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
    entry->channel.journal = &e->journal;
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
  live_journal_touch(ch->journal);
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
  if (e && !isfinite(value)) {
    engine_set_error_text(e, "a control channel value must be a finite number (NaN and "
                             "infinities are refused)");
    return CSJ_ERR_BAD_ARG;
  }
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
