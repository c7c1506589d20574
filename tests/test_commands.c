/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The performance-thread API (csjack.h, "The performance-thread API"):
 * commands from application threads into the JACK thread, checked against
 * what a probe client records.
 *
 * Every test gets its own private jackd (dummy driver, 48 kHz) and wires
 * the engine's outputs to a probe by hand (options.no_connect).
 *
 * Which cycle is which. The tests that time something play a cycle clock
 * on the orchestra's last output: a process callback counts the JACK
 * thread's cycles and writes a value unique to the cycle into channel
 * "clk", which instr 100 plays (upsamp, so every frame of the cycle holds
 * it). A task queued by the test reads the counter in the JACK thread, so
 * it knows the number of the cycle that drained it, and the probe's
 * recording of the clock output says where that cycle's output is. The
 * probe records whole cycles, so a cycle is a period-aligned block of the
 * recording. This needs no frame clock: JACK2's dummy driver re-estimates
 * its frame time after a late cycle (not by whole periods), so
 * jack_last_frame_time() cannot locate frames in a recording on a busy
 * machine; the cycle clock can.
 */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jack/jack.h>
#include <sndfile.h>

#include "csjack.h"
#include "csound_adapter.h"
#include "jack_harness.h"
#include "test_engine_start.h"

#define RATE 48000
#define KSMPS 32

/* ---- per-test state, released by the .fini fixture --------------------------- */

static CsjEngine *g_e;
static HarnessProbe *g_probe;
static uint32_t g_period;   /* the server's period */
static int g_clock_in = -1; /* the probe input that records the cycle clock */
/* A recording read back: closed and freed here, so that a failed assertion
 * leaks nothing under memcheck (meson test --setup=valgrind). */
static SNDFILE *g_sf;
static float *g_wav;
static long g_wav_frames;

/* Csound's messages, collected from the engine's message thread. */
static HarnessMessageLog g_log = HARNESS_MESSAGE_LOG_INIT;

static void teardown(void)
{
  probe_close(g_probe);
  g_probe = NULL;
  csj_engine_destroy(g_e);
  g_e = NULL;
  if (g_sf)
    sf_close(g_sf);
  g_sf = NULL;
  free(g_wav);
  g_wav = NULL;
  harness_server_stop();
}

static void server_256(void) { harness_server_start(256, RATE); }
static void server_4096(void) { harness_server_start(4096, RATE); }

/* ---- orchestras ------------------------------------------------------------------ */

#define HEADER(nchnls)                                                          \
  "sr = 48000\nksmps = 32\nnchnls = " #nchnls "\nnchnls_i = 0\n0dbfs = 1\n"

/* The cycle clock on output @p ch: see the top of the file. */
#define CLOCK_INSTR(ch)                                                         \
  "instr 100\n"                                                                 \
  "  kclk chnget \"clk\"\n"                                                     \
  "  aclk upsamp kclk\n"                                                        \
  "  outch " #ch ", aclk\n"                                                     \
  "endin\n"                                                                     \
  "schedule 100, 0, -1\n"

/* instr 1: a constant p4 on output 1, from its first sample. */
static const char DC_ORC[] = HEADER(2)
    "instr 1\n"
    "  a1 upsamp p4\n"
    "  outch 1, a1\n"
    "endin\n"
    CLOCK_INSTR(2);

/* The same, and it plays 0.25 from the start. */
static const char DC_ON_ORC[] = HEADER(2)
    "instr 1\n"
    "  a1 upsamp p4\n"
    "  outch 1, a1\n"
    "endin\n"
    "schedule 1, 0, -1, 0.25\n"
    CLOCK_INSTR(2);

/* Three outputs: instr 1 plays a constant 0.125 on output 1, always;
 * output 2 is for instruments compiled later; 3 is the clock. */
static const char TWO_CH_ORC[] = HEADER(3)
    "instr 1\n"
    "  a1 upsamp p4\n"
    "  outch 1, a1\n"
    "endin\n"
    "schedule 1, 0, -1, 0.125\n"
    CLOCK_INSTR(3);

/* ---- helpers ----------------------------------------------------------------------- */

static CsjEngine *engine_start(const char *base, const char *orc)
{
  CsjOptions o;
  test_engine_options(&o, base, &g_log);
  CsjEngine *e = test_engine_start(&o, orc, &g_e, &g_log);
  CsjStats s;
  csj_engine_stats(e, &s);
  g_period = s.period;
  return e;
}

static void task_ok(CsjEngine *e, CsjTaskFn fn, void *data)
{
  CsjStatus st = csj_engine_task(e, fn, data);
  cr_assert(eq(int, st, CSJ_SUCCESS), "csj_engine_task: %s", csj_strerror(st));
}

static void flush_ok(CsjEngine *e)
{
  CsjStatus st = csj_engine_flush(e, 5000);
  cr_assert(eq(int, st, CSJ_SUCCESS), "csj_engine_flush: %s", csj_strerror(st));
}

/* ---- the cycle clock ---------------------------------------------------------------- */

typedef struct {
  CsjChannel *ch;
  _Atomic uint64_t n; /* cycles counted (written by the JACK thread only) */
  pthread_t thread;  /* the JACK thread */
  atomic_int known;
} CycleClock;

static CycleClock g_clk;

/* Never 0 (silence), exact in a float, unique for 4095 cycles (21 s). */
static float clock_value(uint64_t cycle)
{
  return (float)((double)(cycle % 4095 + 1) / 4096.0);
}

static void clock_tick(CsjEngine *e, void *csound, uint32_t nframes, void *data)
{
  (void)e;
  (void)csound;
  (void)nframes;
  (void)data;
  const uint64_t n = atomic_load_explicit(&g_clk.n, memory_order_relaxed) + 1;
  csj_channel_set(g_clk.ch, clock_value(n));
  atomic_store_explicit(&g_clk.n, n, memory_order_release);
  if (!atomic_load_explicit(&g_clk.known, memory_order_relaxed)) {
    g_clk.thread = pthread_self();
    atomic_store_explicit(&g_clk.known, 1, memory_order_release);
  }
}

static void clock_install(CsjEngine *e)
{
  cr_assert(eq(int, csj_engine_channel(e, "clk", &g_clk.ch), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_set_process_callback(e, clock_tick, NULL), CSJ_SUCCESS));
  flush_ok(e);
}

/* Opens the probe with one input per engine output, wires them, arms it
 * and waits until it records. With @p clock, the last output is the cycle
 * clock and the clock's process callback is installed. */
static void probe_attach(CsjEngine *e, size_t capacity_frames, bool clock)
{
  CsjStats s;
  csj_engine_stats(e, &s);
  if (clock) {
    clock_install(e);
    g_clock_in = (int)s.outputs - 1;
  }
  g_probe = probe_open("probe", 0, (int)s.outputs, capacity_frames);
  for (uint32_t c = 0; c < s.outputs; c++) {
    char src[160], dst[32];
    snprintf(src, sizeof src, "%s:out_%u", csj_engine_client_name(e), c + 1);
    snprintf(dst, sizeof dst, "in_%u", c + 1);
    int r = harness_connect(probe_client(g_probe), src, probe_port(g_probe, dst));
    cr_assert(eq(int, r, 0), "jack_connect(%s) failed", src);
  }
  harness_sleep_ms(30);
  probe_arm(g_probe);
  cr_assert(probe_wait_recorded(g_probe, 1, 3000), "the probe does not record");
}

/* Where cycle @p cycle's output is in the recording (a period-aligned
 * index), or -1. With @p wait, waits up to 5 s for it to be recorded. */
static long find_cycle(uint64_t cycle, bool wait)
{
  const float v = clock_value(cycle);
  const float *k = probe_recording(g_probe, g_clock_in);
  const long p = g_period;
  const double deadline = harness_now_ms() + (wait ? 5000 : 0);
  long from = 0;
  for (;;) {
    const long n = (long)probe_recorded(g_probe);
    for (long i = from; i + p <= n; i += p)
      if (k[i] == v && k[i + p - 1] == v)
        return i;
    from = n - n % p;
    if (!wait || harness_now_ms() > deadline)
      return -1;
    harness_sleep_ms(2);
  }
}

static long cycle_index(uint64_t cycle)
{
  long i = find_cycle(cycle, true);
  cr_assert(ge(long, i, 0L), "cycle %llu is not in the recording (%zu frames)",
            (unsigned long long)cycle, probe_recorded(g_probe));
  return i;
}

static void wait_recorded_to(long index)
{
  cr_assert(ge(long, index, 0L));
  cr_assert(probe_wait_recorded(g_probe, (size_t)index, 10000),
            "probe recorded only %zu of %ld frames", probe_recorded(g_probe),
            index);
}

/* How many samples of x[from, to) differ from v. */
static long count_not(const float *x, long from, long to, float v)
{
  long n = 0;
  for (long i = from < 0 ? 0 : from; i < to; i++)
    if (x[i] != v)
      n++;
  return n;
}

static long first_nonzero(const float *x, long from, long to)
{
  for (long i = from < 0 ? 0 : from; i < to; i++)
    if (x[i] != 0.0f)
      return i;
  return -1;
}

/* What a task sees in the JACK thread: the number of the cycle it runs in
 * and Csound's score time at that cycle's start. */
typedef struct {
  uint64_t cycle;
  double score_time;
  atomic_int runs;
} Stamp;

static void stamp_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  Stamp *s = data;
  /* the clock ticks after the drain */
  s->cycle = atomic_load_explicit(&g_clk.n, memory_order_relaxed) + 1;
  s->score_time = csound_adapter_score_time(csound_adapter_from_handle(csound));
  atomic_fetch_add(&s->runs, 1);
}

/* The cycle that runs the next command queued now. */
static uint64_t stamp_now(CsjEngine *e)
{
  Stamp s = {0};
  task_ok(e, stamp_task, &s);
  flush_ok(e);
  cr_assert(eq(int, atomic_load(&s.runs), 1));
  return s.cycle;
}

static void event_ok(CsjEngine *e, const double *p, int n, bool absp2)
{
  CsjStatus st = csj_engine_score_event(e, 'i', p, n, absp2);
  cr_assert(eq(int, st, CSJ_SUCCESS), "score_event: %s", csj_strerror(st));
}

/* ---- score events -------------------------------------------------------------------- */

/*
 * An event with p2 = 0 sounds in the cycle that drains it. Stamps A and B
 * are queued right before and right after the event from this thread, so
 * the event was drained in a cycle between them; when both are in one
 * cycle (retry until they are) that is the event's cycle, and its first
 * non-zero sample must be at most one ksmps into that cycle's output. An
 * event run one cycle late is 256 frames late: this fails.
 */
Test(jack, score_event_sounds_in_its_drain_cycle, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjev", DC_ORC);
  probe_attach(e, 10 * RATE, true);
  harness_sleep_ms(50);

  int checked = 0;
  for (int attempt = 0; attempt < 40 && checked < 5; attempt++) {
    Stamp a = {0}, b = {0};
    const double p[] = {1, 0, 0.02, 0.25};
    task_ok(e, stamp_task, &a);
    event_ok(e, p, 4, false);
    task_ok(e, stamp_task, &b);
    flush_ok(e);
    harness_sleep_ms(60); /* the 20 ms note is over */
    if (a.cycle != b.cycle)
      continue; /* the event may be in either cycle: not a measurement */
    const long cycle = cycle_index(a.cycle);
    wait_recorded_to(cycle + 2 * 1024);
    const float *x = probe_recording(g_probe, 0);
    /* silent before, on from within the first k-block of the cycle */
    cr_assert(eq(long, count_not(x, cycle - 256, cycle, 0.0f), 0L),
              "sound before the event's cycle");
    long on = first_nonzero(x, cycle, cycle + 2 * 1024);
    cr_assert(ge(long, on, 0L), "the event never sounded");
    long late = on - cycle;
    cr_assert(le(long, late, (long)KSMPS),
              "an event drained in the cycle at recording index %ld sounded %ld "
              "frames later (allowed: one ksmps, %d)", cycle, late, KSMPS);
    /* and it is the event's value, for its 20 ms (960 frames) */
    cr_assert(eq(long, count_not(x, on, on + 960 - KSMPS, 0.25f), 0L));
    checked++;
  }
  cr_assert(eq(int, checked, 5), "only %d events could be measured", checked);

  /*
   * The same from the submitting thread's side, without trusting the
   * order of drain and clock: n0 and n1 are the clock's count read right
   * before and right after queueing the event. Cycle n1 + 1 had not run
   * its process callback when the event was queued, so (unless its drain
   * was under way at that very moment) it drains and plays the event: the
   * sound starts no later than one ksmps into cycle n1 + 1, and not
   * before cycle n0 + 1. An engine that drained after performing, or ran
   * events a cycle late, is late here nearly every time.
   */
  int late = 0;
  long worst = 0;
  for (int trial = 0; trial < 10; trial++) {
    const double p[] = {1, 0, 0.02, 0.25};
    const uint64_t n0 = atomic_load_explicit(&g_clk.n, memory_order_acquire);
    event_ok(e, p, 4, false);
    const uint64_t n1 = atomic_load_explicit(&g_clk.n, memory_order_acquire);
    flush_ok(e);
    harness_sleep_ms(60);
    const long first = cycle_index(n0 + 1), last = cycle_index(n1 + 1);
    wait_recorded_to(last + 2 * 1024);
    const float *x = probe_recording(g_probe, 0);
    long on = first_nonzero(x, first - 1024, last + 2 * 1024);
    cr_assert(ge(long, on, first), "an event sounded %ld frames before the first cycle "
              "that could drain it", first - on);
    if (on - last > KSMPS) {
      late++;
      if (on - last > worst)
        worst = on - last;
    }
  }
  cr_assert(le(int, late, 2), "%d of 10 events sounded after the first cycle that began "
            "after they were queued (the latest %ld frames into it)", late, worst);
}

/*
 * absp2: p2 counts from the start of the score. A stamp reads the score
 * time s0; an event with absp2 and p2 = s0 + 0.5, queued 100 ms later,
 * must start at score time s0 + 0.5 (located in the recording from a
 * later stamp's cycle and score time), to the ksmps: not at once, nor
 * s0 + 0.5 s after it was queued (the relative reading).
 */
Test(jack, score_event_absp2_counts_from_score_start, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjabs", DC_ORC);
  probe_attach(e, 10 * RATE, true);
  harness_sleep_ms(700); /* s0 > 0.5 s: the relative reading is far off */

  Stamp s0 = {0};
  task_ok(e, stamp_task, &s0);
  flush_ok(e);
  cr_assert(gt(dbl, s0.score_time, 0.5), "score time %.3f", s0.score_time);
  harness_sleep_ms(100); /* queued well after s0 */
  const double p[] = {1, s0.score_time + 0.5, 0.1, 0.25};
  event_ok(e, p, 4, true);
  const uint64_t queued = stamp_now(e);

  /* Where score time s0 + 0.5 is in the recording, from a stamp taken
   * just after it: cycle c1 starts at score time t1. (Measured near the
   * onset: a cycle the engine missed in an xrun puts the recording and
   * Csound's clock apart from then on.) */
  harness_sleep_ms(550);
  Stamp s1 = {0};
  task_ok(e, stamp_task, &s1);
  flush_ok(e);
  cr_assert(gt(dbl, s1.score_time, s0.score_time + 0.5), "score time %.3f", s1.score_time);
  const long tq = cycle_index(queued);
  const long want = cycle_index(s1.cycle) - lround((s1.score_time - (s0.score_time + 0.5)) * RATE);
  wait_recorded_to(want + RATE / 10);
  const float *x = probe_recording(g_probe, 0);
  long on = first_nonzero(x, tq - 4096, want + RATE / 10);
  CsjStats st;
  csj_engine_stats(e, &st);
  cr_assert(ge(long, on, 0L), "the absp2 event never sounded");
  cr_assert(gt(long, on, tq + RATE / 4),
            "the absp2 event started at once (%ld frames after it was queued)", on - tq);
  cr_assert(le(long, labs(on - want), (long)KSMPS),
            "an absp2 event at score time %.4f + 0.5 s started at recording index %ld, "
            "expected %ld (xruns so far: %llu)", s0.score_time, on, want,
            (unsigned long long)st.xruns);
}

/* ---- evalCode ------------------------------------------------------------------------- */

static double eval_ok(CsjEngine *e, const char *code)
{
  double v = NAN;
  char err[512] = "";
  CsjStatus st = csj_engine_eval_code(e, code, 5000, &v, err, sizeof err);
  cr_assert(eq(int, st, CSJ_SUCCESS), "eval_code(%s): %s: %s", code,
            csj_strerror(st), err);
  return v;
}

Test(jack, eval_code_returns_values, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  CsjEngine *e = engine_start("csjeval", DC_ON_ORC);
  cr_assert(eq(dbl, eval_ok(e, "return 2+2"), 4.0));

  double t1 = eval_ok(e, "gi__tabnum ftgen 0, 0, -1024, -2, 0\n"
                         "return gi__tabnum");
  cr_assert(gt(dbl, t1, 0.0), "ftgen returned table %g", t1);
  cr_assert(eq(dbl, t1, floor(t1)));
  double t2 = eval_ok(e, "gi__tabnum2 ftgen 0, 0, -1024, -2, 0\n"
                         "return gi__tabnum2");
  cr_assert(eq(dbl, t2, t1 + 1.0), "second table %g after %g", t2, t1);
  /* and the table is really there, 1024 long */
  double buf[4];
  size_t len = 0;
  cr_assert(eq(int, csj_engine_table_copy_out(e, (int)t2, buf, 4, &len, 5000),
               CSJ_SUCCESS));
  cr_assert(eq(sz, len, 1024));

  /* the direct path */
  double v = NAN;
  char err[256] = "";
  CsjStatus st = csj_engine_eval_code_direct(e, "return 3*5", &v, err, sizeof err);
  cr_assert(eq(int, st, CSJ_SUCCESS), "eval_code_direct: %s", err);
  cr_assert(eq(dbl, v, 15.0));
  st = csj_engine_eval_code_direct(e, "gi__tabnum3 ftgen 0, 0, -16, -2, 0\n"
                                      "return gi__tabnum3",
                                   &v, err, sizeof err);
  cr_assert(eq(int, st, CSJ_SUCCESS), "eval_code_direct: %s", err);
  cr_assert(eq(dbl, v, t2 + 1.0));
  /* queued again after a direct call */
  cr_assert(eq(dbl, eval_ok(e, "return 10/4"), 2.5));
}

Test(jack, eval_code_error_keeps_music_playing, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjevalerr", DC_ON_ORC);
  probe_attach(e, 10 * RATE, true);

  double v = 0;
  char err[1024] = "";
  CsjStatus st = csj_engine_eval_code(e, "return 2 +* (", 5000, &v, err, sizeof err);
  cr_assert(eq(int, st, CSJ_ERR_EVAL), "a syntax error gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err), 0), "no error text");
  cr_assert(ne(str, err, (char *)csj_strerror(CSJ_ERR_EVAL)),
            "the error text is not Csound's: '%s'", err);
  cr_assert(eq(int, isnan(v) != 0, 1), "value %g on failure", v);

  /* an unknown opcode (a semantic error, not a syntax error) */
  char err2[1024] = "";
  st = csj_engine_eval_code(e, "ires nosuchopcode 3\nreturn ires", 5000, &v, err2,
                            sizeof err2);
  cr_assert(eq(int, st, CSJ_ERR_EVAL), "an unknown opcode gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err2), 0));
  cr_log_info("eval errors: \"%s\" / \"%s\"", err, err2);

  /* the direct path's error */
  char err3[1024] = "";
  st = csj_engine_eval_code_direct(e, "return (((", &v, err3, sizeof err3);
  cr_assert(eq(int, st, CSJ_ERR_EVAL), "direct syntax error gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err3), 0));

  /* the music keeps playing: 0.25 in every sample of 100 ms from now */
  long at = cycle_index(stamp_now(e));
  wait_recorded_to(at + RATE / 10);
  cr_assert(eq(long, count_not(probe_recording(g_probe, 0), at, at + RATE / 10, 0.25f),
               0L),
            "the always-on instrument went silent after the failed evals");
  cr_assert(not(csj_engine_finished(e)));
  /* and evaluation still works */
  cr_assert(eq(dbl, eval_ok(e, "return 7*6"), 42.0));
}

/* ---- compile ------------------------------------------------------------------------------ */

typedef struct {
  atomic_int calls;
  CsjStatus status;
  double value;
  char message[1024];
  pthread_t thread;
} ResultBox;

static void on_result(void *data, const CsjResult *r)
{
  ResultBox *b = data;
  b->status = r->status;
  b->value = r->value;
  snprintf(b->message, sizeof b->message, "%s", r->message ? r->message : "(null)");
  b->thread = pthread_self();
  atomic_fetch_add(&b->calls, 1);
}

static void wait_calls(ResultBox *b, int n)
{
  double deadline = harness_now_ms() + 5000;
  while (atomic_load(&b->calls) < n && harness_now_ms() < deadline)
    harness_sleep_ms(2);
  cr_assert(eq(int, atomic_load(&b->calls), n));
}

static const char INSTR2_CODE[] =
    "instr 2\n"
    "  a1 upsamp p4\n"
    "  outch 2, a1\n"
    "endin\n";

/*
 * A compile and a score event for the new instrument, queued back to back
 * without waiting: the event must run after the merge and sound. Checked
 * twice: the callback form (returns at once) and the waiting form with a
 * timeout of 0 (returns CSJ_ERR_TIMEOUT or SUCCESS, stays queued).
 */
Test(jack, compile_orc_then_event_in_one_breath, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjcomp", TWO_CH_ORC);
  probe_attach(e, 10 * RATE, true);

  ResultBox box = {0};
  cr_assert(eq(int, csj_engine_compile_orc_async(e, INSTR2_CODE, on_result, &box),
               CSJ_SUCCESS));
  const double p2[] = {2, 0, 0.2, 0.5};
  event_ok(e, p2, 4, false);
  Stamp after = {0};
  task_ok(e, stamp_task, &after);
  flush_ok(e);
  wait_calls(&box, 1);
  cr_assert(eq(int, box.status, CSJ_SUCCESS), "compile failed: %s", box.message);

  long at = cycle_index(after.cycle);
  wait_recorded_to(at + RATE / 10);
  const float *ch2 = probe_recording(g_probe, 1);
  long on = first_nonzero(ch2, at - 2048, at + RATE / 10);
  cr_assert(ge(long, on, 0L), "instr 2, compiled and played in one breath, is silent."
            " Log:\n%s", g_log.buf);
  cr_assert(le(long, on, at + KSMPS), "instr 2 sounded %ld frames after the "
            "cycle that ran the commands behind it", on - at);
  cr_assert(eq(long, count_not(ch2, on, on + 4800, 0.5f), 0L));

  /* the waiting form, not waiting: instr 3 on channel 2 at 0.75 */
  harness_sleep_ms(250); /* instr 2's note is over */
  char err[256] = "";
  CsjStatus st = csj_engine_compile_orc(e, "instr 3\n a1 upsamp p4\n outch 2, a1\nendin\n", 0,
                                        err, sizeof err);
  cr_assert(eq(int, st == CSJ_ERR_TIMEOUT || st == CSJ_SUCCESS, 1), "compile_orc: %s",
            csj_strerror(st));
  const double p3[] = {3, 0, 0.2, 0.75};
  event_ok(e, p3, 4, false);
  Stamp after3 = {0};
  task_ok(e, stamp_task, &after3);
  flush_ok(e);
  at = cycle_index(after3.cycle);
  wait_recorded_to(at + RATE / 10);
  on = first_nonzero(ch2, at - 2048, at + RATE / 10);
  cr_assert(ge(long, on, 0L), "instr 3 is silent. Log:\n%s", g_log.buf);
  cr_assert(eq(flt, ch2[on + 1], 0.75f));

  /* and the plain waiting form */
  st = csj_engine_compile_orc(e, "instr 4\n a1 upsamp p4\n outch 2, a1\nendin\n", 5000, err, sizeof err);
  cr_assert(eq(int, st, CSJ_SUCCESS), "compile_orc: %s", err);
  harness_sleep_ms(250);
  const double p4[] = {4, 0, 0.2, 0.375};
  event_ok(e, p4, 4, false);
  at = cycle_index(stamp_now(e));
  wait_recorded_to(at + RATE / 10);
  on = first_nonzero(ch2, at - 2048, at + RATE / 10);
  cr_assert(ge(long, on, 0L), "instr 4 is silent");
  cr_assert(eq(flt, ch2[on + 1], 0.375f));
  cr_assert(eq(int, atomic_load(&box.calls), 1), "the callback ran again");
}

Test(jack, compile_orc_error_keeps_music_playing, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjcomperr", TWO_CH_ORC);
  probe_attach(e, 10 * RATE, true);

  char err[1024] = "";
  CsjStatus st = csj_engine_compile_orc(e, "instr 5\n a1 poscil 0.5,\n outch 2, a1 ((\nendin\n",
                                        5000, err, sizeof err);
  cr_assert(eq(int, st, CSJ_ERR_COMPILE), "a syntax error gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err), 0));
  cr_assert(ne(str, err, (char *)csj_strerror(CSJ_ERR_COMPILE)),
            "the error text is not Csound's: '%s'", err);

  char err2[1024] = "";
  st = csj_engine_compile_orc(e, "instr 6\n a1 nosuchopcode 1\n outch 2, a1\nendin\n", 5000,
                              err2, sizeof err2);
  cr_assert(eq(int, st, CSJ_ERR_COMPILE), "an unknown opcode gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err2), 0));
  cr_log_info("eval errors: \"%s\" / \"%s\"", err, err2);

  char err3[1024] = "";
  st = csj_engine_compile_orc_direct(e, "instr 7\n outch 2, a(\nendin\n", err3, sizeof err3);
  cr_assert(eq(int, st, CSJ_ERR_COMPILE), "direct syntax error gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err3), 0));

  long at = cycle_index(stamp_now(e));
  wait_recorded_to(at + RATE / 10);
  cr_assert(eq(long, count_not(probe_recording(g_probe, 0), at, at + RATE / 10, 0.125f),
               0L),
            "the always-on instrument went silent after the failed compiles");
  /* compiling still works */
  st = csj_engine_compile_orc(e, INSTR2_CODE, 5000, err, sizeof err);
  cr_assert(eq(int, st, CSJ_SUCCESS), "%s", err);
}

Test(jack, async_callbacks_once_off_the_jack_thread, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjasync", DC_ON_ORC);
  clock_install(e); /* its callback learns which thread is the JACK thread */
  harness_sleep_ms(20);
  cr_assert(eq(int, atomic_load(&g_clk.known), 1));

  ResultBox ok_compile = {0}, bad_compile = {0}, ok_eval = {0}, bad_eval = {0};
  cr_assert(eq(int, csj_engine_compile_orc_async(e, INSTR2_CODE, on_result, &ok_compile),
               CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_compile_orc_async(e, "instr 9\n a1 bogus\nendin\n", on_result,
                                                 &bad_compile),
               CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_eval_code_async(e, "return 6*7", on_result, &ok_eval),
               CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_eval_code_async(e, "return )(", on_result, &bad_eval),
               CSJ_SUCCESS));
  flush_ok(e);
  ResultBox *all[] = {&ok_compile, &bad_compile, &ok_eval, &bad_eval};
  for (int i = 0; i < 4; i++)
    wait_calls(all[i], 1);
  harness_sleep_ms(200);
  for (int i = 0; i < 4; i++) {
    cr_assert(eq(int, atomic_load(&all[i]->calls), 1), "callback %d ran %d times", i,
              atomic_load(&all[i]->calls));
    cr_assert(eq(int, pthread_equal(all[i]->thread, g_clk.thread), 0),
              "callback %d ran on the JACK thread", i);
    cr_assert(eq(int, pthread_equal(all[i]->thread, pthread_self()), 0),
              "callback %d ran on the caller's thread", i);
  }
  cr_assert(eq(int, ok_compile.status, CSJ_SUCCESS), "%s", ok_compile.message);
  cr_assert(eq(str, ok_compile.message, ""));
  cr_assert(eq(int, bad_compile.status, CSJ_ERR_COMPILE));
  cr_assert(gt(sz, strlen(bad_compile.message), 0));
  cr_assert(eq(int, ok_eval.status, CSJ_SUCCESS), "%s", ok_eval.message);
  cr_assert(eq(dbl, ok_eval.value, 42.0));
  cr_assert(eq(int, bad_eval.status, CSJ_ERR_EVAL));
  cr_assert(eq(int, isnan(bad_eval.value) != 0, 1));
  cr_assert(gt(sz, strlen(bad_eval.message), 0));
}

/* ---- pause -------------------------------------------------------------------------------- */

static void expect_paused(CsjEngine *e, bool want)
{
  CsjStats s;
  csj_engine_stats(e, &s);
  cr_assert(eq(int, s.paused, want), "stats.paused is %d", s.paused);
}

static void assert_playing(long from, long frames, const char *what)
{
  wait_recorded_to(from + frames);
  long wrong = count_not(probe_recording(g_probe, 0), from, from + frames, 0.25f);
  cr_assert(eq(long, wrong, 0L), "%s: %ld of %ld samples are not the instrument's", what,
            wrong, frames);
}

/*
 * A pause whose stamp (a task queued right after the pause command) ran in
 * cycle p0, a later stamp in p1, and a stamp queued right after play in r0.
 * Paused cycles output silence on every output, the clock's too, so:
 * cycles p0..p1 are nowhere in the recording (p0 included: the pause takes
 * effect in the cycle that drains it); between the last cycle played before
 * and the first played after, every sample is zero, and that stretch is at
 * least p1 - p0 + 1 cycles; the first cycle played after is one of
 * p1+1..r0 (play ran in r0 or before); and from cycle r0 on the instrument
 * plays again.
 */
static void assert_pause_window(uint64_t p0, uint64_t p1, uint64_t r0, const char *what)
{
  cr_assert(gt(u64, p1 - p0, (uint64_t)8), "%s: only %llu cycles paused", what,
            (unsigned long long)(p1 - p0));
  const long ir = cycle_index(r0);
  for (uint64_t c = p0; c <= p1; c++)
    cr_assert(eq(long, find_cycle(c, false), -1L), "%s: cycle %llu of the pause was played",
              what, (unsigned long long)c);
  long ia = -1;
  for (uint64_t c = p0 - 1; c + 40 > p0 && ia < 0; c--)
    ia = find_cycle(c, false);
  cr_assert(ge(long, ia, 0L), "%s: no cycle played before the pause", what);
  const long silent_from = ia + (long)g_period;
  const float *clk = probe_recording(g_probe, g_clock_in);
  const long resumed = first_nonzero(clk, silent_from, ir + 1);
  cr_assert(ge(long, resumed, 0L));
  cr_assert(ge(long, resumed - silent_from, (long)(p1 - p0 + 1) * (long)g_period),
            "%s: %ld silent frames for %llu paused cycles", what, resumed - silent_from,
            (unsigned long long)(p1 - p0 + 1));
  for (int ch = 0; ch <= g_clock_in; ch++)
    cr_assert(eq(long, count_not(probe_recording(g_probe, ch), silent_from, resumed, 0.0f), 0L),
              "%s: sound on output %d while paused", what, ch + 1);
  bool after_p1 = false;
  for (uint64_t c = p1 + 1; c <= r0 && !after_p1; c++)
    after_p1 = clk[resumed] == clock_value(c);
  cr_assert(after_p1, "%s: the first cycle played after the pause is not after p1", what);
  assert_playing(ir, 4096, what);
}

Test(jack, pause_play_toggle, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjpause", DC_ON_ORC);
  probe_attach(e, 10 * RATE, true);
  harness_sleep_ms(50);
  expect_paused(e, false);
  assert_playing(cycle_index(stamp_now(e)), 2048, "before pausing");

  cr_assert(eq(int, csj_engine_pause(e), CSJ_SUCCESS));
  uint64_t p0 = stamp_now(e);
  expect_paused(e, true);
  harness_sleep_ms(100);
  CsjStats a, b;
  csj_engine_stats(e, &a);
  harness_sleep_ms(50);
  csj_engine_stats(e, &b);
  cr_assert(eq(u64, a.ksmps_blocks, b.ksmps_blocks), "k-cycles ran while paused");
  cr_assert(gt(u64, b.cycles, a.cycles));
  uint64_t p1 = stamp_now(e); /* commands are still drained while paused */
  cr_assert(eq(int, csj_engine_play(e), CSJ_SUCCESS));
  uint64_t r0 = stamp_now(e);
  expect_paused(e, false);
  assert_pause_window(p0, p1, r0, "pause/play");

  cr_assert(eq(int, csj_engine_toggle_pause(e), CSJ_SUCCESS));
  uint64_t q0 = stamp_now(e);
  expect_paused(e, true);
  harness_sleep_ms(80);
  uint64_t q1 = stamp_now(e);
  cr_assert(eq(int, csj_engine_toggle_pause(e), CSJ_SUCCESS));
  uint64_t s0 = stamp_now(e);
  expect_paused(e, false);
  assert_pause_window(q0, q1, s0, "toggle/toggle");

  /* pausing twice is still paused; play twice is still playing */
  cr_assert(eq(int, csj_engine_pause(e), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_pause(e), CSJ_SUCCESS));
  flush_ok(e);
  expect_paused(e, true);
  cr_assert(eq(int, csj_engine_play(e), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_play(e), CSJ_SUCCESS));
  flush_ok(e);
  expect_paused(e, false);
  assert_playing(cycle_index(stamp_now(e)), 2048, "after pause, pause, play, play");
}

/* ---- the end ------------------------------------------------------------------------------- */

static void noop_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  (void)data;
}

static void noop_result(void *data, const CsjResult *r)
{
  (void)data;
  (void)r;
}

static void noop_off_task(CsjEngine *e, void *data)
{
  (void)e;
  (void)data;
}

Test(jack, stop_then_commands_are_refused, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  CsjEngine *e = engine_start("csjend", DC_ON_ORC);
  cr_assert(eq(int, csj_engine_wait(e, 200), CSJ_ERR_TIMEOUT));
  cr_assert(csj_engine_is_running(e));
  csj_engine_stop(e);
  cr_assert(eq(int, csj_engine_wait(e, 3000), CSJ_SUCCESS));
  int code = -1;
  cr_assert(eq(int, csj_engine_end_reason(e, &code), CSJ_END_STOPPED));
  cr_assert(csj_engine_finished(e));
  cr_assert(not(csj_engine_is_running(e)));

  const double p[] = {1, 0, 1, 0.5};
  double v = 0, buf[4] = {0};
  size_t len = 0;
  char err[128];
  char text[64];
  struct {
    const char *what;
    CsjStatus st;
  } calls[] = {
      {"score_event", csj_engine_score_event(e, 'i', p, 4, false)},
      {"score_event absp2", csj_engine_score_event(e, 'i', p, 4, true)},
      {"input_message", csj_engine_input_message(e, "i 1 0 1 0.5")},
      {"set_score_offset", csj_engine_set_score_offset_seconds(e, 1.0)},
      {"play", csj_engine_play(e)},
      {"pause", csj_engine_pause(e)},
      {"toggle_pause", csj_engine_toggle_pause(e)},
      {"task", csj_engine_task(e, noop_task, NULL)},
      {"task_off_thread", csj_engine_task_off_thread(e, noop_off_task, NULL)},
      {"set_process_callback", csj_engine_set_process_callback(e, NULL, NULL)},
      {"flush", csj_engine_flush(e, 1000)},
      {"eval_code", csj_engine_eval_code(e, "return 1", 1000, &v, err, sizeof err)},
      {"eval_code_async", csj_engine_eval_code_async(e, "return 1", noop_result, NULL)},
      {"eval_code_direct", csj_engine_eval_code_direct(e, "return 1", &v, err, sizeof err)},
      {"compile_orc", csj_engine_compile_orc(e, "instr 9\nendin\n", 1000, err, sizeof err)},
      {"compile_orc_async", csj_engine_compile_orc_async(e, "instr 9\nendin\n", noop_result, NULL)},
      {"compile_orc_direct", csj_engine_compile_orc_direct(e, "instr 9\nendin\n", err, sizeof err)},
      {"set_string_channel", csj_engine_set_string_channel(e, "s", "x")},
      {"get_string_channel", csj_engine_get_string_channel(e, "s", text, sizeof text)},
      {"table_set", csj_engine_table_set(e, 1, 0, 1.0)},
      {"table_get", csj_engine_table_get(e, 1, 0, &v, 1000)},
      {"table_copy_in", csj_engine_table_copy_in(e, 1, buf, 4)},
      {"table_copy_out", csj_engine_table_copy_out(e, 1, buf, 4, &len, 1000)},
      {"record", csj_engine_record(e, "/tmp/csjack-test-never.wav", 32)},
      {"stop_record", csj_engine_stop_record(e)},
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
    cr_expect(eq(int, calls[i].st, CSJ_ERR_STATE), "%s after the end: %s", calls[i].what,
              csj_strerror(calls[i].st));
  cr_assert(eq(int, access("/tmp/csjack-test-never.wav", F_OK), -1),
            "record created a file after the end");
  cr_assert(eq(int, csj_engine_end_reason(e, NULL), CSJ_END_STOPPED));
}

/* ---- flush and tasks -------------------------------------------------------------------------- */

static void count_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  atomic_fetch_add_explicit((atomic_int *)data, 1, memory_order_relaxed);
}

Test(jack, flush_waits_for_everything_queued_before, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  CsjEngine *e = engine_start("csjflush", DC_ON_ORC);
  for (int round = 0; round < 5; round++) {
    atomic_int counter = 0;
    for (int i = 0; i < 100; i++)
      task_ok(e, count_task, &counter);
    cr_assert(eq(int, csj_engine_flush(e, 5000), CSJ_SUCCESS));
    cr_assert(eq(int, atomic_load(&counter), 100), "round %d: %d tasks ran before flush returned",
              round, atomic_load(&counter));
    harness_sleep_ms(20);
    cr_assert(eq(int, atomic_load(&counter), 100), "tasks ran twice");
  }
}

enum { ORDER_N = 3000 };
typedef struct {
  int seq[ORDER_N + 16];
  int n;
} OrderLog;

static OrderLog g_order;

static void seq_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  if (g_order.n < ORDER_N + 16)
    g_order.seq[g_order.n] = (int)(intptr_t)data;
  g_order.n++;
}

Test(jack, tasks_run_once_in_order, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjorder", DC_ON_ORC);
  csj_engine_set_submit_timeout(e, -1); /* 3000 tasks, 1024 slots */
  for (int i = 0; i < ORDER_N; i++)
    task_ok(e, seq_task, (void *)(intptr_t)i);
  flush_ok(e);
  cr_assert(eq(int, g_order.n, ORDER_N));
  for (int i = 0; i < ORDER_N; i++)
    cr_assert(eq(int, g_order.seq[i], i), "position %d holds task %d", i, g_order.seq[i]);
  harness_sleep_ms(30);
  cr_assert(eq(int, g_order.n, ORDER_N), "tasks ran again");
}

/* ---- off-thread tasks ---------------------------------------------------------------------- */

/* instr 10 does not exist at start; a task compiles it. When it runs it
 * adds p4 to channel "seen" (at i-time), so the channel says how many of
 * its events ran, and each event is counted once. */
static const char SEEN_ORC[] = HEADER(2)
    "instr 1\n"
    "  a1 upsamp p4\n"
    "  outch 1, a1\n"
    "endin\n"
    "schedule 1, 0, -1, 0.25\n"
    "instr 2\n"
    "  chnset chnget:i(\"seen\") + p4, \"seen\"\n"
    "  turnoff\n"
    "endin\n";

typedef struct {
  CsjEngine *e;
  pthread_t jack_thread;      /* learnt from a JACK-thread task */
  atomic_int jack_known;
  atomic_int runs;
  atomic_int on_jack_thread;  /* runs that found themselves on the JACK thread */
  uint64_t cycles_before, cycles_after, commands_before, commands_after;
  CsjStatus compile, eval, queued_eval, flush, table_get, prompt, record, async;
  double value;
  int sleep_ms;
} OffTask;

static void learn_jack_thread(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  OffTask *t = data;
  t->jack_thread = pthread_self();
  atomic_store(&t->jack_known, 1);
}

static void noop_result_cb(void *data, const CsjResult *r)
{
  (void)r;
  atomic_fetch_add((atomic_int *)data, 1);
}

static atomic_int g_async_results;

/* Holds the line for a while (cycles must go on), then compiles instr 10
 * on the direct path and tries every call that would wait for the line. */
static void compile_in_task(CsjEngine *e, void *data)
{
  OffTask *t = data;
  if (atomic_load(&t->jack_known) && pthread_equal(pthread_self(), t->jack_thread))
    atomic_fetch_add(&t->on_jack_thread, 1);
  CsjStats s;
  csj_engine_stats(e, &s);
  t->cycles_before = s.cycles;
  t->commands_before = s.commands_run;
  /* Hold the line across several cycles (however slowly they come, under
   * memcheck too). */
  const double give_up = harness_now_ms() + 5000;
  do {
    harness_sleep_ms(t->sleep_ms);
    csj_engine_stats(e, &s);
  } while (s.cycles < t->cycles_before + 4 && harness_now_ms() < give_up);
  char err[256];
  t->compile = csj_engine_compile_orc_direct(e,
      "instr 10\n"
      "  chnset chnget:i(\"seen\") + p4, \"seen\"\n"
      "  turnoff\n"
      "endin\n", err, sizeof err);
  t->eval = csj_engine_eval_code_direct(e, "return 40 + 2", &t->value, err, sizeof err);
  double v;
  t->queued_eval = csj_engine_eval_code(e, "return 1", 1000, &v, err, sizeof err);
  t->prompt = csj_engine_eval_code_prompt(e, "return 1", 1000, &v, err, sizeof err);
  t->flush = csj_engine_flush(e, 1000);
  t->table_get = csj_engine_table_get(e, 1, 0, &v, 1000);
  t->record = csj_engine_record(e, "/tmp/csjack-test-off-task-never.wav", 16);
  /* Queueing is fine: it runs after this task. */
  t->async = csj_engine_eval_code_async(e, "return 7", noop_result_cb, &g_async_results);
  csj_engine_stats(e, &s);
  t->cycles_after = s.cycles;
  t->commands_after = s.commands_run;
  atomic_fetch_add(&t->runs, 1);
}

/*
 * The notebook's case: a task compiles instr 10, and an event for instr 10
 * queued right after the task (before it has run) finds it. The task holds
 * the line for at least four cycles: the JACK thread goes on performing,
 * runs no later command meanwhile, and the task runs once,
 * not on the JACK thread. Calls that would wait behind the held line are
 * refused at once instead of hanging.
 */
Test(jack, off_thread_task_holds_the_line, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjofft", SEEN_ORC);
  double seen = -1;
  cr_assert(eq(int, csj_engine_set_control(e, "seen", 0), CSJ_SUCCESS));
  static OffTask t;
  memset(&t, 0, sizeof t);
  t.e = e;
  t.sleep_ms = 20;
  task_ok(e, learn_jack_thread, &t);
  flush_ok(e);
  cr_assert(eq(int, atomic_load(&t.jack_known), 1));

  cr_assert(eq(int, csj_engine_task_off_thread(e, compile_in_task, &t), CSJ_SUCCESS));
  const double p10[] = {10, 0, 0.01, 1};
  const double p2[] = {2, 0, 0.01, 100};
  event_ok(e, p10, 4, false);
  event_ok(e, p2, 4, false);
  flush_ok(e);
  cr_assert(eq(int, atomic_load(&t.runs), 1), "the task ran %d times", atomic_load(&t.runs));
  cr_assert(eq(int, atomic_load(&t.on_jack_thread), 0), "the task ran on the JACK thread");
  cr_assert(eq(int, t.compile, CSJ_SUCCESS), "compile_orc_direct in the task: %s\n%s",
            csj_strerror(t.compile), g_log.buf);
  cr_assert(eq(int, t.eval, CSJ_SUCCESS));
  cr_assert(eq(dbl, t.value, 42.0));
  cr_assert(eq(int, t.queued_eval, CSJ_ERR_STATE), "eval_code in the task: %s",
            csj_strerror(t.queued_eval));
  cr_assert(eq(int, t.prompt, CSJ_ERR_STATE), "eval_code_prompt in the task: %s",
            csj_strerror(t.prompt));
  cr_assert(eq(int, t.flush, CSJ_ERR_STATE));
  cr_assert(eq(int, t.table_get, CSJ_ERR_STATE));
  cr_assert(eq(int, t.record, CSJ_ERR_STATE));
  cr_assert(eq(int, access("/tmp/csjack-test-off-task-never.wav", F_OK), -1));
  cr_assert(eq(int, t.async, CSJ_SUCCESS));
  /* The music went on while the task held the line, and no command ran. */
  fprintf(stderr, "off-thread task: %llu cycles and %llu commands while it held the line\n",
         (unsigned long long)(t.cycles_after - t.cycles_before),
         (unsigned long long)(t.commands_after - t.commands_before));
  cr_assert(ge(u64, t.cycles_after - t.cycles_before, 3),
            "the JACK thread stopped performing while the task ran");
  cr_assert(eq(u64, t.commands_after, t.commands_before),
            "commands ran while the task held the line");

  /* The events' init runs in the k-blocks of the cycle that ran them,
   * which may end after flush returned. */
  for (int i = 0; i < 200; i++) {
    cr_assert(eq(int, csj_engine_get_control(e, "seen", &seen), CSJ_SUCCESS));
    if (seen >= 101.0)
      break;
    harness_sleep_ms(5);
  }
  harness_sleep_ms(30);
  cr_assert(eq(int, csj_engine_get_control(e, "seen", &seen), CSJ_SUCCESS));
  cr_assert(eq(dbl, seen, 101.0), "seen = %g: instr 10's event %s\n--- log:\n%s", seen,
            seen == 100.0 ? "came before the task's compile" : "did not run once", g_log.buf);
  cr_assert(strstr(g_log.buf, "invalid instrument") == NULL, "log:\n%s", g_log.buf);
  for (int i = 0; i < 100 && atomic_load(&g_async_results) < 1; i++)
    harness_sleep_ms(10);
  cr_assert(eq(int, atomic_load(&g_async_results), 1));
  harness_sleep_ms(50);
  cr_assert(eq(int, atomic_load(&t.runs), 1), "the task ran again");
  cr_assert(eq(dbl, (csj_engine_get_control(e, "seen", &seen), seen), 101.0));
}

enum { MIX_N = 200 };
static int g_mix_seq[MIX_N + 8];
static atomic_int g_mix_n;

static void mix_jack_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  const int i = atomic_fetch_add(&g_mix_n, 1);
  if (i < MIX_N + 8)
    g_mix_seq[i] = (int)(intptr_t)data;
}

static void mix_off_task(CsjEngine *e, void *data)
{
  mix_jack_task(e, NULL, data);
}

/* Off-thread tasks and JACK-thread tasks, alternated: each runs once, in
 * the order queued. */
Test(jack, off_thread_tasks_run_once_in_order, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  CsjEngine *e = engine_start("csjoffo", DC_ON_ORC);
  atomic_store(&g_mix_n, 0);
  for (int i = 0; i < MIX_N; i++) {
    CsjStatus st = i % 3 == 0 ? csj_engine_task_off_thread(e, mix_off_task, (void *)(intptr_t)i)
                              : csj_engine_task(e, mix_jack_task, (void *)(intptr_t)i);
    cr_assert(eq(int, st, CSJ_SUCCESS), "task %d: %s", i, csj_strerror(st));
  }
  cr_assert(eq(int, csj_engine_flush(e, 20000), CSJ_SUCCESS));
  cr_assert(eq(int, atomic_load(&g_mix_n), MIX_N));
  for (int i = 0; i < MIX_N; i++)
    cr_assert(eq(int, g_mix_seq[i], i), "position %d holds task %d", i, g_mix_seq[i]);
  harness_sleep_ms(30);
  cr_assert(eq(int, atomic_load(&g_mix_n), MIX_N), "tasks ran again");
}

/* An off-thread task queued while another holds the line may be the
 * performance's last: destroy answers it without running it, and does not
 * hang on the one that holds the line. */
static void slow_off_task(CsjEngine *e, void *data)
{
  (void)e;
  harness_sleep_ms(100);
  atomic_fetch_add((atomic_int *)data, 1);
}

Test(jack, off_thread_task_at_the_end, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjoffe", DC_ON_ORC);
  static atomic_int ran;
  atomic_store(&ran, 0);
  cr_assert(eq(int, csj_engine_task_off_thread(e, slow_off_task, &ran), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_task_off_thread(e, slow_off_task, &ran), CSJ_SUCCESS));
  harness_sleep_ms(30); /* the first is running now */
  csj_engine_stop(e);
  cr_assert(eq(int, csj_engine_wait(e, 3000), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_task_off_thread(e, slow_off_task, &ran), CSJ_ERR_STATE));
  csj_engine_destroy(e);
  g_e = NULL;
  cr_assert(eq(int, atomic_load(&ran), 1), "%d tasks ran: the first, reached, must have run; "
            "the second, never reached, must not", atomic_load(&ran));
}

static void endless_off_task(CsjEngine *e, void *data)
{
  (void)e;
  atomic_store((atomic_int *)data, 1);
  for (;;) {
    pause(); /* never returns, as a script's task that waits for ever */
  }
}

/* A task that never returns: the close gives up on it after the hang limit,
 * says so, and returns (the task's thread, the engine's memory and its
 * Csound are left to the process's exit). Before, destroy waited for ever. */
Test(jack, off_thread_task_that_never_returns_is_given_up, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  const char *name = harness_name("csjoffn");
  CsjOptions o;
  csj_options_init(&o);
  o.client_name = name;
  o.no_connect = true;
  o.hang_limit_ms = 300;
  o.message_fn = harness_message_collect;
  o.message_data = &g_log;
  CsjEngine *e = NULL;
  cr_assert(eq(int, csj_engine_create(&o, &e), CSJ_SUCCESS), "%s", csj_last_error(NULL));
  cr_assert(eq(int, csj_engine_compile_orc_text(e, DC_ON_ORC), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_start(e), CSJ_SUCCESS), "%s", csj_last_error(e));
  static atomic_int entered;
  atomic_store(&entered, 0);
  cr_assert(eq(int, csj_engine_task_off_thread(e, endless_off_task, &entered), CSJ_SUCCESS));
  while (!atomic_load(&entered)) {
    harness_sleep_ms(5);
  }
  csj_engine_stop(e);
  const double t0 = harness_now_ms();
  csj_engine_destroy(e);
  const double ms = harness_now_ms() - t0;
  cr_assert(ne(ptr, strstr(g_log.buf, "has not returned"), NULL), "--- log:\n%s", g_log.buf);
  cr_assert(ne(ptr, strstr(g_log.buf, "off-thread task"), NULL), "--- log:\n%s", g_log.buf);
  fprintf(stderr, "destroy with an endless task returned after %.0f ms (hang limit 300)\n", ms);
  /* The JACK client is gone: its name can be taken again at once. */
  CsjEngine *again = NULL;
  cr_assert(eq(int, csj_engine_create(&o, &again), CSJ_SUCCESS), "%s", csj_last_error(NULL));
  csj_engine_destroy(again);
}

/* ---- the process callback ------------------------------------------------------------------------ */

enum { CB_LOG = 4096 };
typedef struct {
  CsjChannel *ch;
  jack_client_t *clock; /* the probe's client: jack_last_frame_time() */
  atomic_uint_fast64_t calls;
  struct {
    jack_nframes_t frame;
    uint32_t nframes;
    float value;
  } log[CB_LOG];
  atomic_int logged;
} CycleMark;

static CycleMark g_mark;

/* Each cycle writes a new value into channel "cyc", which instr 1 plays. */
static void mark_cycle(CsjEngine *e, void *csound, uint32_t nframes, void *data)
{
  (void)e;
  (void)csound;
  CycleMark *m = data;
  uint64_t n = atomic_fetch_add_explicit(&m->calls, 1, memory_order_relaxed) + 1;
  csj_channel_set(m->ch, clock_value(n));
  int i = atomic_load_explicit(&m->logged, memory_order_relaxed);
  if (i < CB_LOG) {
    m->log[i].frame = jack_last_frame_time(m->clock);
    m->log[i].nframes = nframes;
    m->log[i].value = clock_value(n);
    atomic_store_explicit(&m->logged, i + 1, memory_order_release);
  }
}

/*
 * Once per cycle: callback calls against stats.cycles over 0.5 s.
 *
 * Per cycle, not per k-block: every value the callback sets fills one whole
 * period-aligned block of the recording (8 k-blocks).
 *
 * Before performing: the callback logs the JACK frame time of its cycle.
 * The recording index of that frame, rec(F) = F - probe_start_frame(), must
 * be where the callback's value was recorded: a callback that ran after
 * the cycle's k-blocks would show up one period later (offset +256). A late
 * cycle makes JACK2's dummy driver re-estimate its frame time (forward, by
 * a time estimate), after which rec(F) runs ahead of the recording: those
 * cycles have a negative offset and are not counted, but no cycle may have
 * a positive one.
 */
Test(jack, process_callback_once_per_cycle_before_performing, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjcb", HEADER(1)
                                           "instr 1\n"
                                           "  k1 chnget \"cyc\"\n"
                                           "  a1 upsamp k1\n"
                                           "  out a1\n"
                                           "endin\n"
                                           "schedule 1, 0, -1\n");
  cr_assert(eq(int, csj_engine_channel(e, "cyc", &g_mark.ch), CSJ_SUCCESS));
  probe_attach(e, 10 * RATE, false);
  g_mark.clock = probe_client(g_probe);

  cr_assert(eq(int, csj_engine_set_process_callback(e, mark_cycle, &g_mark), CSJ_SUCCESS));
  flush_ok(e);
  CsjStats s0, s1;
  csj_engine_stats(e, &s0);
  uint64_t n0 = atomic_load(&g_mark.calls);
  harness_sleep_ms(500);
  csj_engine_stats(e, &s1);
  uint64_t n1 = atomic_load(&g_mark.calls);
  long calls = (long)(n1 - n0), cycles = (long)(s1.cycles - s0.cycles);
  cr_assert(gt(long, cycles, 50L), "only %ld cycles in 0.5 s", cycles);
  cr_assert(le(long, labs(calls - cycles), 2L), "%ld callback calls in %ld cycles", calls,
            cycles);

  int logged = atomic_load_explicit(&g_mark.logged, memory_order_acquire);
  cr_assert(gt(int, logged, 60));
  const long p = 256;
  const jack_nframes_t start = probe_start_frame(g_probe);
  const long last = (long)(int32_t)(g_mark.log[logged - 1].frame - start);
  wait_recorded_to(last + 4 * p);
  const long n = (long)probe_recorded(g_probe);
  const float *x = probe_recording(g_probe, 0);
  int exact = 0, behind = 0, ahead = 0, missing = 0;
  long ahead_by = 0;
  for (int i = 0; i < logged; i++) {
    cr_assert(eq(u32, g_mark.log[i].nframes, 256));
    const float v = g_mark.log[i].value;
    long found = -1;
    for (long j = 0; j + p <= n && found < 0; j += p)
      if (x[j] == v)
        found = j;
    if (found < 0) {
      missing++; /* e.g. set while the probe was not yet recording */
      continue;
    }
    cr_assert(eq(long, count_not(x, found, found + p, v), 0L),
              "callback %d's value fills only part of a cycle: called per k-block?", i);
    const long off = found - (long)(int32_t)(g_mark.log[i].frame - start);
    if (off == 0)
      exact++;
    else if (off < 0)
      behind++;
    else {
      ahead++;
      ahead_by = off;
    }
  }
  cr_log_info("process callback: %d cycles at their own frames, %d after a frame-time "
              "re-estimate, %d not recorded (probe discontinuities %u)",
              exact, behind, missing, probe_discontinuities(g_probe));
  cr_assert(eq(int, ahead, 0),
              "%d callbacks' values were played %ld frames after their cycle began: "
              "the callback runs after the cycle's k-blocks", ahead, ahead_by);
  cr_assert(ge(int, exact, 20), "only %d of %d cycles could be placed (%d missing, %d behind)",
            exact, logged, missing, behind);
  cr_assert(le(int, missing, 8), "%d callback values were never played", missing);

  /* NULL removes it */
  cr_assert(eq(int, csj_engine_set_process_callback(e, NULL, NULL), CSJ_SUCCESS));
  flush_ok(e);
  uint64_t m0 = atomic_load(&g_mark.calls);
  harness_sleep_ms(200);
  cr_assert(eq(u64, (uint64_t)atomic_load(&g_mark.calls), m0), "the callback is still called");
}

/* ---- channels --------------------------------------------------------------------------------- */

Test(jack, control_channels_round_trip, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjchan", HEADER(2)
                                             "instr 1\n"
                                             "  kamp chnget \"amp\"\n"
                                             "  a1 poscil kamp, 1000\n"
                                             "  outch 1, a1\n"
                                             "endin\n"
                                             "instr 2\n"
                                             "  chnset k(42), \"out\"\n"
                                             "endin\n"
                                             "schedule 1, 0, -1\n"
                                             "schedule 2, 0, -1\n"
                                             CLOCK_INSTR(2));
  probe_attach(e, 10 * RATE, true);

  double v = -1;
  cr_assert(eq(int, csj_engine_set_control(e, "x", 3.25), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_get_control(e, "x", &v), CSJ_SUCCESS));
  cr_assert(eq(dbl, v, 3.25));
  cr_assert(eq(int, csj_engine_set_control(e, "x", -1e-3), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_get_control(e, "x", &v), CSJ_SUCCESS));
  cr_assert(eq(dbl, v, -1e-3));
  /* the same handle each time */
  CsjChannel *h1 = NULL, *h2 = NULL;
  cr_assert(eq(int, csj_engine_channel(e, "x", &h1), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_channel(e, "x", &h2), CSJ_SUCCESS));
  cr_assert(eq(ptr, h1, h2));
  cr_assert(eq(dbl, csj_channel_get(h1), -1e-3));

  /* the orchestra's output channel */
  harness_sleep_ms(30);
  cr_assert(eq(int, csj_engine_get_control(e, "out", &v), CSJ_SUCCESS));
  cr_assert(eq(dbl, v, 42.0));

  /* amp drives the oscillator's level, from the cycle of the next command on */
  static const double amps[] = {0.2, 0.6, 0.0, 0.35};
  for (size_t i = 0; i < sizeof amps / sizeof amps[0]; i++) {
    cr_assert(eq(int, csj_engine_set_control(e, "amp", amps[i]), CSJ_SUCCESS));
    long at = cycle_index(stamp_now(e));
    wait_recorded_to(at + 4800);
    float peak = harness_peak(probe_recording(g_probe, 0) + at, 4800);
    cr_assert(epsilon_eq(flt, peak, (float)amps[i], 0.005f), "amp %g: peak %g", amps[i],
              (double)peak);
    cr_assert(eq(int, csj_engine_get_control(e, "amp", &v), CSJ_SUCCESS));
    cr_assert(eq(dbl, v, amps[i]));
  }
}

/* Values whose 32-bit halves are all different: a torn read of two of
 * them (one's high half, another's low half) is none of them. */
static const uint64_t TEAR_BITS[] = {
    0x3ff0000000000000ull, /* 1.0 */
    0xc004000000000000ull, /* -2.5 */
    0x7e37e43c8800759cull, /* 1e300 */
    0x0123456789abcdefull,
    0x40fe240c9fbe76c9ull,
    0xbfd5555555555555ull,
    0x4415af1d78b58c40ull,
    0xc1d2d2d2d2d2d2d3ull,
};
enum { N_TEAR = sizeof TEAR_BITS / sizeof TEAR_BITS[0] };

typedef struct {
  CsjChannel *ch;
  int id;
  long bad;
  double bad_value;
} TearArg;

static double bits_to_double(uint64_t b)
{
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

static bool is_written(double d)
{
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  if (b == 0)
    return true; /* the channel's initial value */
  for (int i = 0; i < N_TEAR; i++)
    if (TEAR_BITS[i] == b)
      return true;
  return false;
}

static void *tear_thread(void *p)
{
  TearArg *a = p;
  for (int i = 0; i < 300000; i++) {
    csj_channel_set(a->ch, bits_to_double(TEAR_BITS[(i + a->id * 3) % N_TEAR]));
    double d = csj_channel_get(a->ch);
    if (!is_written(d)) {
      a->bad++;
      a->bad_value = d;
    }
  }
  return NULL;
}

Test(jack, channel_handles_from_four_threads_do_not_tear, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjtear", HEADER(1)
                                             "instr 1\n"
                                             "  k1 chnget \"t\"\n"
                                             "  a1 upsamp k1 * 0\n"
                                             "  out a1\n"
                                             "endin\n"
                                             "schedule 1, 0, -1\n");
  CsjChannel *ch = NULL;
  cr_assert(eq(int, csj_engine_channel(e, "t", &ch), CSJ_SUCCESS));
  pthread_t th[4];
  TearArg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (TearArg){.ch = ch, .id = i};
    cr_assert(eq(int, pthread_create(&th[i], NULL, tear_thread, &args[i]), 0));
  }
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++)
    cr_assert(eq(long, args[i].bad, 0L), "thread %d read %ld torn values (e.g. %a)", i,
              args[i].bad, args[i].bad_value);
  double v = 0;
  cr_assert(eq(int, csj_engine_get_control(e, "t", &v), CSJ_SUCCESS));
  cr_assert(eq(int, is_written(v) && v != 0.0, 1), "final value %a", v);
}

Test(jack, string_channel_round_trip, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjstr", DC_ON_ORC);
  cr_assert(eq(int, csj_engine_set_string_channel(e, "s", "hello"), CSJ_SUCCESS));
  flush_ok(e);
  char out[1024] = "";
  CsjStatus st = csj_engine_get_string_channel(e, "s", out, sizeof out);
  cr_assert(eq(int, st, CSJ_SUCCESS), "get_string_channel: %s", csj_strerror(st));
  cr_assert(eq(str, out, "hello"));
  /* replaced, in order, by two more */
  cr_assert(eq(int, csj_engine_set_string_channel(e, "s", "x"), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_set_string_channel(e, "s", "a longer string, 31 characters"),
               CSJ_SUCCESS));
  flush_ok(e);
  cr_assert(eq(int, csj_engine_get_string_channel(e, "s", out, sizeof out), CSJ_SUCCESS));
  cr_assert(eq(str, out, "a longer string, 31 characters"));
  /* and the orchestra reads it */
  cr_assert(eq(int, csj_engine_eval_code(e, "Ss chnget \"s\"\nreturn strlen(Ss)", 5000, NULL,
                                         NULL, 0),
               CSJ_SUCCESS));
  double len = 0;
  cr_assert(eq(int, csj_engine_eval_code(e, "Ss chnget \"s\"\nreturn strlen(Ss)", 5000, &len,
                                         NULL, 0),
               CSJ_SUCCESS));
  cr_assert(eq(dbl, len, 30.0));
  /* a buffer too small is refused, not overrun */
  char tiny[8];
  memset(tiny, 'Z', sizeof tiny);
  cr_assert(eq(int, csj_engine_get_string_channel(e, "s", tiny, 4), CSJ_ERR_TOO_BIG));
  cr_assert(eq(chr, tiny[4], 'Z'));
}

/*
 * Regression: get_string_channel once refused any buffer smaller than
 * Csound's allocation for the channel (csoundGetChannelDatasize is the
 * STRINGDAT's capacity: 128 bytes at first, then the longest text ever
 * set), so "hello" did not fit a 64-byte buffer. Only the text must fit.
 */
Test(jack, string_channel_get_needs_room_for_the_text_only, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjstr2", DC_ON_ORC);
  cr_assert(eq(int, csj_engine_set_string_channel(e, "s", "hello"), CSJ_SUCCESS));
  flush_ok(e);
  char out[64] = "";
  CsjStatus st = csj_engine_get_string_channel(e, "s", out, sizeof out);
  cr_assert(eq(int, st, CSJ_SUCCESS), "\"hello\" into 64 bytes: %s", csj_strerror(st));
  cr_assert(eq(str, out, "hello"));
  char longer[300];
  memset(longer, 'a', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  cr_assert(eq(int, csj_engine_set_string_channel(e, "s", longer), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_set_string_channel(e, "s", "hi"), CSJ_SUCCESS));
  flush_ok(e);
  st = csj_engine_get_string_channel(e, "s", out, sizeof out);
  cr_assert(eq(int, st, CSJ_SUCCESS), "\"hi\" into 64 bytes after a 299-character string: %s",
            csj_strerror(st));
  cr_assert(eq(str, out, "hi"));
}

/* ---- tables ---------------------------------------------------------------------------------------- */

Test(jack, tables_set_get_copy_and_missing, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  CsjEngine *e = engine_start("csjtab", DC_ON_ORC);
  double t = eval_ok(e, "gi__tab ftgen 0, 0, -1024, -2, 0\nreturn gi__tab");
  cr_assert(gt(dbl, t, 0.0));
  const int tab = (int)t;

  cr_assert(eq(int, csj_engine_table_set(e, tab, 5, 0.75), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_table_set(e, tab, 1023, -4.5), CSJ_SUCCESS));
  double v = 0;
  /* in order with the sets: no flush needed */
  cr_assert(eq(int, csj_engine_table_get(e, tab, 5, &v, 5000), CSJ_SUCCESS));
  cr_assert(eq(dbl, v, 0.75));
  cr_assert(eq(int, csj_engine_table_get(e, tab, 1023, &v, 5000), CSJ_SUCCESS));
  cr_assert(eq(dbl, v, -4.5));
  cr_assert(eq(int, csj_engine_table_get(e, tab, 6, &v, 5000), CSJ_SUCCESS));
  cr_assert(eq(dbl, v, 0.0));
  /* Csound sees it too */
  double ev = eval_ok(e, "return table:i(5, gi__tab)");
  cr_assert(eq(dbl, ev, 0.75));

  enum { N = 100 };
  double in[N], out[1024];
  for (int i = 0; i < N; i++)
    in[i] = i * 0.5 - 7.0;
  cr_assert(eq(int, csj_engine_table_copy_in(e, tab, in, N), CSJ_SUCCESS));
  size_t len = 0;
  for (int i = 0; i < 1024; i++)
    out[i] = 1e9;
  cr_assert(eq(int, csj_engine_table_copy_out(e, tab, out, 1024, &len, 5000), CSJ_SUCCESS));
  cr_assert(eq(sz, len, 1024));
  for (int i = 0; i < N; i++)
    cr_assert(eq(dbl, out[i], in[i]), "index %d", i);
  for (int i = N; i < 1023; i++)
    cr_assert(eq(dbl, out[i], 0.0), "index %d", i);
  cr_assert(eq(dbl, out[1023], -4.5));
  /* a short buffer gets what fits, and still the length */
  double few[3] = {9, 9, 9};
  len = 0;
  cr_assert(eq(int, csj_engine_table_copy_out(e, tab, few, 2, &len, 5000), CSJ_SUCCESS));
  cr_assert(eq(sz, len, 1024));
  cr_assert(eq(dbl, few[0], in[0]));
  cr_assert(eq(dbl, few[1], in[1]));
  cr_assert(eq(dbl, few[2], 9.0), "copy_out wrote past its capacity");

  /* missing tables */
  cr_assert(eq(int, csj_engine_table_get(e, 9999, 0, &v, 5000), CSJ_ERR_NOT_FOUND));
  cr_assert(eq(int, csj_engine_table_copy_out(e, 9999, out, 4, &len, 5000),
               CSJ_ERR_NOT_FOUND));
  /* out of range */
  cr_assert(eq(int, csj_engine_table_get(e, tab, 1024, &v, 5000), CSJ_ERR_BAD_ARG));
  cr_assert(eq(int, csj_engine_table_get(e, tab, -1, &v, 5000), CSJ_ERR_BAD_ARG));
}

/* A count whose size in bytes does not fit a size_t is refused at once:
 * count * sizeof(double) wrapped to 16 bytes, and the JACK thread then
 * read (copy_in) or wrote (copy_out) far beyond them. */
Test(jack, table_copy_sizes_that_wrap_are_refused, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  CsjEngine *e = engine_start("csjtabwrap", DC_ON_ORC);
  double v = 0;
  char err[256];
  CsjStatus st = csj_engine_eval_code(e, "gi__w ftgen 1, 0, -64, -2, 0\nreturn gi__w", 5000, &v,
                                      err, sizeof err);
  cr_assert(eq(int, st, CSJ_SUCCESS), "ftgen: %s", err);
  double two[2] = {0.5, 0.5};
  const size_t wraps = SIZE_MAX / sizeof(double) + 3; /* * 8 == 16 mod 2^64 */
  cr_assert(eq(int, csj_engine_table_copy_in(e, 1, two, wraps), CSJ_ERR_TOO_BIG));
  size_t length = 0;
  cr_assert(eq(int, csj_engine_table_copy_out(e, 1, two, wraps, &length, 5000),
               CSJ_ERR_TOO_BIG));
  /* and the engine still answers */
  cr_assert(eq(int, csj_engine_table_get(e, 1, 0, &v, 5000), CSJ_SUCCESS));
}

/* ---- recording ------------------------------------------------------------------------------------- */

Test(jack, recording_equals_what_the_probe_heard, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  CsjEngine *e = engine_start("csjrec", HEADER(2)
                                            "instr 1\n"
                                            "  a1 rand 0.5, 0.37\n"
                                            "  a2 poscil 0.3, 1234.5\n"
                                            "  outs a1, a2\n"
                                            "endin\n"
                                            "schedule 1, 0, -1\n");
  probe_attach(e, 4 * RATE, false);
  /* A recording is compared with what the probe heard; when the graph
   * itself skipped a cycle (the probe's capture has a gap), the two are
   * not comparable, and the take is made again, up to 3 times. */
  for (int attempt = 1;; attempt++) {
    harness_sleep_ms(300);
    probe_arm(g_probe);
    harness_sleep_ms(30);

    char path[128];
    snprintf(path, sizeof path, "/tmp/csjack-test-rec-%d.wav", (int)getpid());
    unlink(path);
    CsjStatus st = csj_engine_record(e, path, 32);
    cr_assert(eq(int, st, CSJ_SUCCESS), "record: %s: %s", csj_strerror(st), csj_last_error(e));
    cr_assert(eq(int, csj_engine_record(e, path, 32), CSJ_ERR_STATE), "a second recording");
    harness_sleep_ms(1000);
    cr_assert(eq(int, csj_engine_stop_record(e), CSJ_SUCCESS));
    cr_assert(eq(int, csj_engine_stop_record(e), CSJ_ERR_STATE));

    SF_INFO info = {0};
    SNDFILE *f = g_sf = sf_open(path, SFM_READ, &info);
    cr_assert(ne(ptr, f, NULL), "cannot read %s: %s", path, sf_strerror(NULL));
    cr_assert(eq(int, info.channels, 2));
    cr_assert(eq(int, info.samplerate, RATE));
    /* RF64 written, a WAV (WAVE_FORMAT_EXTENSIBLE) once closed under 4 GiB. */
    cr_assert(eq(int, info.format, SF_FORMAT_WAVEX | SF_FORMAT_FLOAT));
    const long frames = g_wav_frames = (long)info.frames;
    cr_assert(ge(long, frames, RATE * 9 / 10), "only %ld frames in 1 s", frames);
    cr_assert(le(long, frames, RATE * 2), "%ld frames in 1 s", frames);
    cr_assert(eq(long, frames % 256, 0L), "the recording is not whole cycles");
    float *wav = g_wav = malloc(sizeof(float) * 2 * (size_t)frames);
    cr_assert(ne(ptr, wav, NULL));
    cr_assert(eq(long, (long)sf_readf_float(f, wav, frames), frames));
    sf_close(f);
    g_sf = NULL;
    unlink(path);

    /* find the first 64 frames of channel 1 (noise) in the probe's capture */
    const long n = (long)probe_recorded(g_probe);
    const float *c1 = probe_recording(g_probe, 0), *c2 = probe_recording(g_probe, 1);
    long at = -1;
    for (long i = 0; i + 64 <= n && at < 0; i++) {
      long k = 0;
      while (k < 64 && c1[i + k] == wav[2 * k])
        k++;
      if (k == 64)
        at = i;
    }
    cr_assert(ge(long, at, 0), "the recording's start is not in the probe's capture");
    cr_assert(eq(long, at % 256, 0L), "the recording starts mid-cycle (%ld)", at);
    cr_assert(le(long, at + frames, n), "the probe stopped before the recording");
    long diff = 0, first = -1;
    for (long i = 0; i < frames; i++) {
      if (memcmp(&c1[at + i], &wav[2 * i], sizeof(float)) != 0 ||
          memcmp(&c2[at + i], &wav[2 * i + 1], sizeof(float)) != 0) {
        if (first < 0)
          first = i;
        diff++;
      }
    }
    const unsigned gaps = probe_discontinuities(g_probe);
    if (diff != 0 && gaps > 0 && attempt < 3) {
      fprintf(stderr, "test: the probe's capture has %u gaps (the graph skipped a cycle); "
                      "recording again\n", gaps);
      free(g_wav);
      g_wav = NULL;
      continue;
    }
    cr_assert(eq(long, diff, 0L), "%ld of %ld frames differ, the first at %ld (probe gaps: %u)",
              diff, frames, first, gaps);
    break;
  }
  const float *wav = g_wav;
  const long frames = g_wav_frames;
  cr_assert(gt(flt, harness_peak(wav, 2 * (size_t)frames), 0.2f), "recorded silence");
}

/* Period-aligned blocks of a 2-channel recording whose every sample is 0. */
static long silent_cycles(const float *wav, long frames, uint32_t period)
{
  long n = 0;
  for (long b = 0; b + (long)period <= frames; b += period) {
    long k = 0;
    while (k < 2 * (long)period && wav[2 * b + k] == 0.0f)
      k++;
    n += k == 2 * (long)period;
  }
  return n;
}

/* Reads a 2-channel float recording made by csj_engine_record into g_wav. */
static long read_recording(const char *path)
{
  SF_INFO info = {0};
  SNDFILE *f = g_sf = sf_open(path, SFM_READ, &info);
  cr_assert(ne(ptr, f, NULL), "cannot read %s: %s", path, sf_strerror(NULL));
  cr_assert(eq(int, info.channels, 2));
  const long frames = (long)info.frames;
  float *wav = g_wav = malloc(sizeof(float) * 2 * (size_t)(frames ? frames : 1));
  cr_assert(ne(ptr, wav, NULL));
  cr_assert(eq(long, (long)sf_readf_float(f, wav, frames), frames));
  sf_close(f);
  g_sf = NULL;
  return frames;
}

/*
 * A cycle the direct path drops (a direct call holds Csound when the cycle
 * starts) sends silence to JACK. The recording must get that silence too,
 * so that it is as long as the performance: before, the dropped cycle was
 * missing from the file. The orchestra plays a constant on both outputs,
 * so a silent cycle in the file is a dropped one, and their numbers agree.
 */
Test(jack, recording_keeps_dropped_cycles_as_silence, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  CsjEngine *e = engine_start("csjrecdrop", HEADER(2)
                                                "instr 1\n"
                                                "  a1 upsamp 0.25\n"
                                                "  outs a1, a1\n"
                                                "endin\n"
                                                "schedule 1, 0, -1\n");
  harness_sleep_ms(100);
  char path[128];
  snprintf(path, sizeof path, "/tmp/csjack-test-recdrop-%d.wav", (int)getpid());
  unlink(path);
  CsjStats s0, s1;
  CsjStatus st = csj_engine_record(e, path, 32);
  cr_assert(eq(int, st, CSJ_SUCCESS), "record: %s: %s", csj_strerror(st), csj_last_error(e));
  csj_engine_stats(e, &s0);
  /* A direct eval that runs an i-time loop holds Csound across cycles. */
  const char *slow = "i1 = 0\n"
                     "loop:\n"
                     "i1 = i1 + 1\n"
                     "if i1 < 400000 igoto loop\n"
                     "return i1\n";
  for (int i = 0; i < 40; i++) {
    double v = 0;
    char err[256];
    st = csj_engine_eval_code_direct(e, slow, &v, err, sizeof err);
    cr_assert(eq(int, st, CSJ_SUCCESS), "eval_code_direct: %s", err);
    csj_engine_stats(e, &s1);
    if (s1.dropped_cycles - s0.dropped_cycles >= 3)
      break;
    harness_sleep_ms(7);
  }
  harness_sleep_ms(50);
  cr_assert(eq(int, csj_engine_stop_record(e), CSJ_SUCCESS), "%s", csj_last_error(e));
  csj_engine_stats(e, &s1);
  const long dropped = (long)(s1.dropped_cycles - s0.dropped_cycles);
  const long frames = read_recording(path);
  unlink(path);
  fprintf(stderr, "recording_keeps_dropped_cycles: %ld cycles dropped, %ld frames recorded\n",
          dropped, frames);
  cr_assert(gt(long, dropped, 0L), "no cycle was dropped: the test did not test");
  cr_assert(eq(long, frames % (long)g_period, 0L), "the recording is not whole cycles");
  cr_assert(eq(long, silent_cycles(g_wav, frames, g_period), dropped),
            "%ld dropped cycles, %ld silent cycles in the recording", dropped,
            silent_cycles(g_wav, frames, g_period));
}

/*
 * The performance ends by itself (the score ends mid-cycle) while a
 * recording runs; csj_engine_stop_record then closes it. The JACK thread
 * writes that last cycle after it has marked the end: stop_record must wait
 * until it has let go, and the file keep every cycle up to the end. Ten
 * runs; ASan or TSan builds catch a close under the JACK thread's write.
 */
Test(jack, stop_record_after_the_score_ended, .init = server_256, .fini = teardown,
     .timeout = 90)
{
  const int runs = harness_time_scale() > 1 ? 2 : 10;
  for (int run = 0; run < runs; run++) {
    char base[32];
    snprintf(base, sizeof base, "csjrecend%d", run);
    const char *name = harness_name(base);
    CsjOptions o;
    csj_options_init(&o);
    o.client_name = name;
    o.no_connect = true;
    o.message_fn = harness_message_collect;
    o.message_data = &g_log;
    CsjStatus st = csj_engine_create(&o, &g_e);
    cr_assert(eq(int, st, CSJ_SUCCESS), "create: %s", csj_last_error(NULL));
    st = csj_engine_compile_csd_text(g_e,
        "<CsoundSynthesizer>\n<CsInstruments>\n" HEADER(2)
        "instr 1\n  a1 upsamp 0.25\n  outs a1, a1\nendin\n"
        "</CsInstruments>\n<CsScore>\ni 1 0 0.3\ne\n</CsScore>\n</CsoundSynthesizer>\n");
    cr_assert(eq(int, st, CSJ_SUCCESS), "compile: %s", csj_last_error(g_e));
    cr_assert(eq(int, csj_engine_start(g_e), CSJ_SUCCESS), "start: %s", csj_last_error(g_e));
    char path[128];
    snprintf(path, sizeof path, "/tmp/csjack-test-recend-%d.wav", (int)getpid());
    unlink(path);
    st = csj_engine_record(g_e, path, 32);
    cr_assert(eq(int, st, CSJ_SUCCESS), "record: %s", csj_last_error(g_e));
    const double deadline = harness_now_ms() + 10000;
    while (!csj_engine_finished(g_e) && harness_now_ms() < deadline)
      ; /* spin: stop as soon as the end is seen, mid-cycle if it can */
    cr_assert(csj_engine_finished(g_e), "the 0.3 s score did not end");
    st = csj_engine_stop_record(g_e);
    cr_assert(eq(int, st, CSJ_SUCCESS), "stop_record after the end: %s: %s", csj_strerror(st),
              csj_last_error(g_e));
    const long frames = read_recording(path);
    unlink(path);
    free(g_wav);
    g_wav = NULL;
    cr_assert(eq(long, frames % 256, 0L), "run %d: not whole cycles (%ld frames)", run, frames);
    cr_assert(gt(long, frames, 0L), "run %d: empty recording", run);
    csj_engine_destroy(g_e);
    g_e = NULL;
  }
}

/* ---- bad input ------------------------------------------------------------------------------------- */

/* Output 1: instr 1's constant 0.125, always. Output 2: instr 2 plays p4;
 * instr 3 a sine of frequency p5 whose amplitude is its last p-field (so
 * an event sounds at that level only if every p-field arrived). Output 3:
 * the clock. No instr 98 or 99. */
static const char BAD_INPUT_ORC[] = HEADER(3)
    "instr 1\n"
    "  a1 upsamp p4\n"
    "  outch 1, a1\n"
    "endin\n"
    "schedule 1, 0, -1, 0.125\n"
    "instr 2\n"
    "  a1 upsamp p4\n"
    "  outch 2, a1\n"
    "endin\n"
    "instr 3\n"
    "  iamp pindex pcount()\n"
    "  a1 poscil iamp, p5\n"
    "  outch 2, a1\n"
    "endin\n"
    CLOCK_INSTR(3);

static bool wait_log_contains(const char *needle, int timeout_ms)
{
  const double deadline = harness_now_ms() + timeout_ms;
  while (!harness_message_log_contains(&g_log, needle)) {
    if (harness_now_ms() > deadline)
      return false;
    harness_sleep_ms(10);
  }
  return true;
}

/* Where the output of cycle @p cycle is in the recording or, if the probe
 * missed that cycle (it can on a loaded machine, e.g. under valgrind), of
 * the first of the next 8 it heard. */
static long cycle_index_or_next(uint64_t cycle)
{
  cycle_index(cycle + 8); /* waits until they are all recorded */
  for (uint64_t c = cycle; c < cycle + 8; c++) {
    const long i = find_cycle(c, false);
    if (i >= 0)
      return i;
  }
  return cycle_index(cycle + 8);
}

/* Output 1 holds instr 1's 0.125 in every sample from the output of cycle
 * @p from to 100 ms past the output of cycle @p to. */
static void assert_always_on(uint64_t from, uint64_t to, const char *what)
{
  const long a = cycle_index_or_next(from);
  const long b = cycle_index_or_next(to) + RATE / 10;
  wait_recorded_to(b);
  cr_assert(eq(long, count_not(probe_recording(g_probe, 0), a, b, 0.125f), 0L),
            "%s: the always-on instrument was not heard in every sample", what);
}

/* Where a note queued before the command that ran in cycle @p cycle starts
 * on output 2; waits until @p frames of it are recorded. */
static long note_on_output_2(uint64_t cycle, long frames, const char *what)
{
  const long at = cycle_index_or_next(cycle);
  wait_recorded_to(at + RATE / 10);
  const long on = first_nonzero(probe_recording(g_probe, 1), at - 4 * (long)g_period,
                                at + RATE / 10);
  cr_assert(ge(long, on, 0L), "%s is silent. Log:\n%s", what, g_log.buf);
  wait_recorded_to(on + frames);
  return on;
}

/*
 * A score event or score line for an instrument that does not exist: the
 * call says CSJ_SUCCESS (it only queues), Csound says what is wrong through
 * the message callback when the JACK thread runs it, the music plays on
 * and the next event sounds.
 */
Test(jack, undefined_instrument_is_reported_music_goes_on, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjundef", BAD_INPUT_ORC);
  probe_attach(e, 10 * RATE, true);
  const uint64_t before = stamp_now(e);

  const double p99[] = {99, 0, 1, 0.5};
  cr_assert(eq(int, csj_engine_score_event(e, 'i', p99, 4, false), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_input_message(e, "i 98 0 1"), CSJ_SUCCESS));
  const double p2[] = {2, 0, 0.2, 0.5};
  event_ok(e, p2, 4, false);
  const uint64_t after = stamp_now(e);

  /* Csound 6.18's words, from insert_score_event_at_sample(), for both */
  cr_assert(wait_log_contains("insert_score_event(): invalid instrument number or name 99\n",
                              3000),
            "Log:\n%s", g_log.buf);
  cr_assert(wait_log_contains("insert_score_event(): invalid instrument number or name 98\n",
                              3000),
            "Log:\n%s", g_log.buf);

  const long on = note_on_output_2(after, 4800, "instr 2, queued after the bad events");
  cr_assert(eq(long, count_not(probe_recording(g_probe, 1), on, on + 4800, 0.5f), 0L));
  assert_always_on(before, after, "undefined instruments");
  cr_assert(not(csj_engine_finished(e)));
}

/* The note queued last, by an event or a score line, is a sine of @p freq
 * and @p amp on output 2 (instr 3). Waits until it is over. */
/* With @p may_retry, false (after saying so) when the probe's capture had
 * a gap meanwhile: the graph itself skipped a cycle, and the note is not
 * measurable. Without it, the note must be right. */
static bool expect_note(CsjEngine *e, double freq, double amp, const char *what,
                        bool may_retry)
{
  const unsigned gaps = probe_discontinuities(g_probe);
  const long on = note_on_output_2(stamp_now(e), RATE / 10, what);
  const float *ch2 = probe_recording(g_probe, 1);
  const double f = harness_frequency(ch2 + on, RATE / 10, RATE);
  const float peak = harness_peak(ch2 + on, RATE / 10);
  harness_sleep_ms(250);
  if (may_retry && probe_discontinuities(g_probe) != gaps &&
      (fabs(f - freq) > 2.0 || fabsf(peak - (float)amp) > 0.01f)) {
    fprintf(stderr, "test: %s: the probe's capture has a gap; playing it again\n", what);
    return false;
  }
  cr_assert(epsilon_eq(dbl, f, freq, 2.0), "%s: %.2f Hz", what, f);
  cr_assert(epsilon_eq(flt, peak, (float)amp, 0.01f), "%s: peak %f", what, (double)peak);
  return true;
}

/* Plays instr 3 with @p count p-fields: p5 the frequency, the last the
 * amplitude, the rest 0. */
static void play_pfields(CsjEngine *e, int count, double freq, double amp)
{
  static double p[CSJ_MAX_PFIELDS];
  memset(p, 0, sizeof p);
  p[0] = 3;
  p[2] = 0.2;
  p[4] = freq;
  p[count - 1] = amp;
  char what[64];
  snprintf(what, sizeof what, "an event of %d p-fields", count);
  for (int attempt = 1;; attempt++) {
    event_ok(e, p, count, false);
    if (expect_note(e, freq, amp, what, attempt < 3)) {
      break;
    }
  }
}

/* A score line for instr 3 of @p count p-fields: p5 = @p freq, p@p amp_at
 * = @p amp, the others 0. With @p length, the last p-field is padded with
 * leading zeros so that the line is @p length bytes. No newline. */
static char *score_line(int count, int amp_at, double freq, double amp, size_t length)
{
  char *l = malloc((size_t)count * 24 + length + 64);
  if (!l)
    abort(); /* (not cr_assert: GCC then warns that sprintf may get NULL) */
  size_t n = (size_t)sprintf(l, "i 3 0 0.2 0 %g", freq);
  for (int i = 6; i <= count; i++) {
    char value[32];
    snprintf(value, sizeof value, "%g", i == amp_at ? amp : 0.0);
    l[n++] = ' ';
    if (i == count && length > 0) {
      cr_assert(ge(sz, length, n + strlen(value)));
      while (n < length - strlen(value))
        l[n++] = '0';
    }
    n += (size_t)sprintf(l + n, "%s", value);
  }
  l[n] = '\0';
  if (length > 0)
    cr_assert(eq(sz, strlen(l), length));
  return l;
}

/* The commands the JACK thread runs for a flush queued now, once it has
 * counted them (it counts after completing the flush). */
static uint64_t commands_run_after_flush(CsjEngine *e)
{
  flush_ok(e);
  harness_sleep_ms(50);
  CsjStats s;
  csj_engine_stats(e, &s);
  return s.commands_run;
}

/*
 * p-fields: up to INLINE_PFIELDS (28) travel inline in the ring, more in a
 * heap job, up to CSJ_MAX_PFIELDS (1024); every one arrives. 1025 is
 * refused at once with CSJ_ERR_TOO_BIG and a reason in csj_last_error, and
 * nothing is queued. A score line with more p-fields is Csound's to judge.
 */
Test(jack, too_many_pfields_refused_at_once, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  CsjEngine *e = engine_start("csjpfields", BAD_INPUT_ORC);
  probe_attach(e, 30 * RATE, true);
  const uint64_t before = stamp_now(e);

  play_pfields(e, 28, 400, 0.125); /* the most that travel inline */
  play_pfields(e, 29, 450, 0.25);  /* the fewest that need a job */
  play_pfields(e, 40, 500, 0.375);

  static double p[CSJ_MAX_PFIELDS + 1];
  p[0] = 3;
  p[2] = 0.2;
  p[4] = 900;
  p[CSJ_MAX_PFIELDS] = 0.5;
  const uint64_t run0 = commands_run_after_flush(e);
  const uint64_t run1 = commands_run_after_flush(e);
  cr_assert(eq(u64, run1 - run0, 1), "a flush alone ran %llu commands",
            (unsigned long long)(run1 - run0));
  CsjStatus st = csj_engine_score_event(e, 'i', p, CSJ_MAX_PFIELDS + 1, false);
  cr_assert(eq(int, st, CSJ_ERR_TOO_BIG), "1025 p-fields: %s", csj_strerror(st));
  cr_assert(eq(str, (char *)csj_last_error(e),
               "a score event of 1025 p-fields is refused: csjack takes at most 1024 "
               "(CSJ_MAX_PFIELDS)"));
  const uint64_t run2 = commands_run_after_flush(e);
  cr_assert(eq(u64, run2 - run1, 1), "the refused event was queued: %llu commands ran",
            (unsigned long long)(run2 - run1));

  play_pfields(e, CSJ_MAX_PFIELDS, 750, 0.5); /* exactly the most */

  /* Score lines are Csound's to judge: it takes up to 1998 p-fields
   * (PMAX). 1100 all arrive... */
  char *line = score_line(1100, 1100, 600, 0.25, 0);
  cr_assert(eq(int, csj_engine_input_message(e, line), CSJ_SUCCESS));
  free(line);
  expect_note(e, 600, 0.25, "a score line of 1100 p-fields", false);
  /* ...of 2100, Csound keeps the first 1998 and says so */
  line = score_line(2100, 1998, 650, 0.125, 0);
  cr_assert(eq(int, csj_engine_input_message(e, line), CSJ_SUCCESS));
  free(line);
  expect_note(e, 650, 0.125, "a score line of 2100 p-fields", false);
  cr_assert(wait_log_contains("too many pfields", 3000), "Log:\n%s", g_log.buf);

  assert_always_on(before, stamp_now(e), "p-fields");
  cr_assert(not(csj_engine_finished(e)));
}

/*
 * A score line longer than Csound's 32 KiB line buffer. Csound 6.18 grows
 * the buffer to the line's length and then appends the newline the line
 * lacks one byte past the end: with lengths of 8 mod 16 that broke glibc's
 * heap (an abort: "corrupted size vs. prev_size") before csjack added the
 * newline itself. Sixteen lengths, one of each residue, then one measured.
 */
Test(jack, score_line_over_32_kib_plays, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  CsjEngine *e = engine_start("csjlongline", BAD_INPUT_ORC);
  probe_attach(e, 30 * RATE, true);
  const uint64_t before = stamp_now(e);
  for (size_t k = 0; k < 16; k++) {
    char *line = score_line(1100, 1100, 600, 0.25, 40000 + k);
    cr_assert(eq(int, csj_engine_input_message(e, line), CSJ_SUCCESS));
    free(line);
    flush_ok(e);
  }
  harness_sleep_ms(300);
  char *line = score_line(1100, 1100, 700, 0.375, 50008);
  cr_assert(eq(int, csj_engine_input_message(e, line), CSJ_SUCCESS));
  free(line);
  expect_note(e, 700, 0.375, "a score line of 50008 bytes", false);
  assert_always_on(before, stamp_now(e), "long score lines");
  cr_assert(not(csj_engine_finished(e)));
}

/* ---- a full ring ----------------------------------------------------------------------------------- */

Test(jack, full_ring_refuses_at_once_and_loses_nothing, .init = server_4096,
     .fini = teardown, .timeout = 30)
{
  enum { N = 5000, LEN = 8192 };
  CsjEngine *e = engine_start("csjfull", DC_ON_ORC);
  double t = eval_ok(e, "gi__big ftgen 0, 0, -8192, -2, 0\nreturn gi__big");
  const int tab = (int)t;
  CsjStats s;
  csj_engine_stats(e, &s);
  cr_assert(eq(u32, s.period, 4096));
  cr_assert(lt(u32, s.ring_capacity, (uint32_t)N), "the ring holds %u", s.ring_capacity);

  static CsjStatus st[N];
  static double out[LEN];
  double slowest_full_ms = 0;
  int full = 0, ok = 0;
  for (int i = 0; i < N; i++) {
    double t0 = harness_now_ms();
    st[i] = csj_engine_table_set(e, tab, i, i + 1.0);
    double ms = harness_now_ms() - t0;
    if (st[i] == CSJ_ERR_RING_FULL) {
      full++;
      if (ms > slowest_full_ms)
        slowest_full_ms = ms;
    } else if (st[i] == CSJ_SUCCESS) {
      ok++;
    }
  }
  cr_assert(eq(int, ok + full, N), "other statuses than SUCCESS / RING_FULL");
  cr_assert(gt(int, full, 0), "a 5000-command burst never filled a %u-slot ring",
            s.ring_capacity);
  cr_assert(ge(int, ok, (int)s.ring_capacity), "only %d accepted", ok);
  cr_log_info("full ring: %d accepted, %d refused; slowest refusal %.3f ms", ok, full,
              slowest_full_ms);

  csj_engine_set_submit_timeout(e, -1);
  flush_ok(e);
  size_t len = 0;
  cr_assert(eq(int, csj_engine_table_copy_out(e, tab, out, LEN, &len, 5000), CSJ_SUCCESS));
  cr_assert(eq(sz, len, LEN));
  long lost = 0, ghost = 0;
  for (int i = 0; i < N; i++) {
    if (st[i] == CSJ_SUCCESS && out[i] != i + 1.0)
      lost++;
    if (st[i] != CSJ_SUCCESS && out[i] != 0.0)
      ghost++;
  }
  cr_assert(eq(long, lost, 0L), "%ld accepted table_sets never ran", lost);
  cr_assert(eq(long, ghost, 0L), "%ld refused table_sets ran anyway", ghost);

  /* waiting for room: every one is accepted and runs */
  for (int i = 0; i < N; i++) {
    CsjStatus r = csj_engine_table_set(e, tab, i, -(i + 1.0));
    cr_assert(eq(int, r, CSJ_SUCCESS), "set %d with submit timeout -1: %s", i,
              csj_strerror(r));
  }
  flush_ok(e);
  cr_assert(eq(int, csj_engine_table_copy_out(e, tab, out, LEN, &len, 5000), CSJ_SUCCESS));
  for (int i = 0; i < N; i++)
    cr_assert(eq(dbl, out[i], -(i + 1.0)), "index %d", i);

  /* a bounded wait: 1 ms is not enough for a burst at an 85 ms period */
  csj_engine_set_submit_timeout(e, 1);
  int refused = 0;
  for (int i = 0; i < 3000; i++)
    if (csj_engine_table_set(e, tab, i, 1.0) == CSJ_ERR_RING_FULL)
      refused++;
  cr_assert(gt(int, refused, 0));
  csj_engine_set_submit_timeout(e, -1);
  flush_ok(e);
  cr_assert(csj_engine_is_running(e));
}

/* Text commands count against the jobs in flight (4096) as well as the
 * ring's slots: with a submit timeout they wait for both, so a paste of
 * 6000 score lines is all accepted; without one, some are refused. */
Test(jack, text_commands_wait_for_jobs_in_flight, .init = server_4096, .fini = teardown,
     .timeout = 60)
{
  enum { N = 6000 };
  CsjEngine *e = engine_start("csjjobs", DC_ON_ORC);
  eval_ok(e, "giCount init 0\nreturn 0");
  csj_engine_compile_orc(e, "instr 7\ngiCount = giCount + 1\nendin\n", 5000, NULL, 0);
  int refused = 0;
  for (int i = 0; i < N; i++) {
    const CsjStatus r = csj_engine_input_message(e, "i 7 0 0");
    cr_assert(r == CSJ_SUCCESS || r == CSJ_ERR_RING_FULL, "%s", csj_strerror(r));
    refused += r == CSJ_ERR_RING_FULL;
  }
  cr_assert(gt(int, refused, 0), "6000 lines at an 85 ms period never found the limit");
  const int accepted_first = N - refused;
  csj_engine_set_submit_timeout(e, -1);
  for (int i = 0; i < N; i++) {
    const CsjStatus r = csj_engine_input_message(e, "i 7 0 0 ; with a comment");
    cr_assert(eq(int, r, CSJ_SUCCESS), "line %d with submit timeout -1: %s", i,
              csj_strerror(r));
  }
  flush_ok(e);
  double count;
  while ((count = eval_ok(e, "return giCount")) < accepted_first + N) {
    harness_sleep_ms(50); /* the notes start in the k-blocks after the flush */
  }
  cr_assert(eq(dbl, count, (double)(accepted_first + N)), "every accepted line ran once");
  cr_log_info("jobs in flight: %d of %d refused without a wait, none with", refused, N);
}

/* NaN and infinities are refused as p-fields and channel values, on every
 * path (the UDP and OSC parsers refused them already). */
Test(jack, nonfinite_values_are_refused, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjnan", DC_ON_ORC);
  const double p[] = {1, 0, 1, NAN};
  cr_assert(eq(int, csj_engine_score_event(e, 'i', p, 4, false), CSJ_ERR_BAD_ARG));
  cr_assert(ne(ptr, strstr(csj_last_error(e), "p4"), NULL), "%s", csj_last_error(e));
  const double q[] = {1, 0, INFINITY};
  cr_assert(eq(int, csj_engine_score_event_at(e, 'i', q, 3, 0), CSJ_ERR_BAD_ARG));
  cr_assert(eq(int, csj_engine_set_control(e, "nanchn", NAN), CSJ_ERR_BAD_ARG));
  cr_assert(eq(int, csj_engine_set_control(e, "nanchn", -INFINITY), CSJ_ERR_BAD_ARG));
  cr_assert(eq(int, csj_engine_input_message(e, "i 1 0 1 -nan"), CSJ_ERR_BAD_ARG));
  cr_assert(ne(ptr, strstr(csj_last_error(e), "finite"), NULL), "%s", csj_last_error(e));
  cr_assert(eq(int, csj_engine_set_control(e, "nanchn", 0.5), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_record(e, "/tmp/never.wav", 8), CSJ_ERR_BAD_ARG));
  cr_assert(eq(str, (char *)csj_last_error(e), "bits must be 16, 24 or 32"));
  cr_assert(csj_engine_is_running(e));
}

/* ---- hammer ---------------------------------------------------------------------------------------- */

enum { HAMMER_THREADS = 4, HAMMER_TASKS = 2000 };

typedef struct {
  uint32_t seq[HAMMER_TASKS + 64];
  int n; /* JACK thread only */
} HammerLog;

static HammerLog g_hammer[HAMMER_THREADS];

/* data: thread id << 32 | sequence. Appends into preallocated memory. */
static void hammer_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  const uint64_t d = (uint64_t)(uintptr_t)data;
  HammerLog *log = &g_hammer[d >> 32];
  if (log->n < HAMMER_TASKS + 64)
    log->seq[log->n] = (uint32_t)(d & 0xffffffffu);
  log->n++;
}

typedef struct {
  CsjEngine *e;
  int id;
  int errors;
  CsjStatus last_error;
} HammerArg;

static void *hammer_thread(void *p)
{
  HammerArg *a = p;
  for (uint64_t i = 0; i < HAMMER_TASKS; i++) {
    uint64_t d = ((uint64_t)a->id << 32) | i;
    CsjStatus st = csj_engine_task(a->e, hammer_task, (void *)(uintptr_t)d);
    if (st != CSJ_SUCCESS) {
      a->errors++;
      a->last_error = st;
    }
    if (i % 64 == 0)
      sched_yield();
  }
  return NULL;
}

typedef struct {
  CsjEngine *e;
  atomic_bool stop;
  int evals;
  int wrong;
  char why[256];
} EvalArg;

static void *eval_thread(void *p)
{
  EvalArg *a = p;
  for (int k = 1; !atomic_load(&a->stop); k++) {
    char code[64];
    snprintf(code, sizeof code, "return %d", k);
    double v = NAN;
    CsjStatus st = csj_engine_eval_code(a->e, code, 5000, &v, a->why, sizeof a->why);
    if (st != CSJ_SUCCESS || v != (double)k)
      a->wrong++;
    a->evals++;
    if (k % 4 == 0) {
      const double ev[] = {2, 0, 0.05, 0.1, 200 + k % 500};
      csj_engine_score_event(a->e, 'i', ev, 5, false);
    }
  }
  return NULL;
}

Test(jack, hammer_four_threads_of_tasks_with_music_and_evals, .init = server_256,
     .fini = teardown, .timeout = 40)
{
  CsjEngine *e = engine_start("csjhammer", HEADER(2)
                                               "instr 1\n"
                                               "  a1 poscil 0.3, 440\n"
                                               "  outch 1, a1\n"
                                               "endin\n"
                                               "instr 2\n"
                                               "  a1 poscil p4, p5\n"
                                               "  outch 1, a1\n"
                                               "endin\n"
                                               "schedule 1, 0, -1\n"
                                               CLOCK_INSTR(2));
  probe_attach(e, 10 * RATE, true);
  csj_engine_set_submit_timeout(e, -1);

  EvalArg ea = {.e = e};
  pthread_t et;
  cr_assert(eq(int, pthread_create(&et, NULL, eval_thread, &ea), 0));
  harness_sleep_ms(50);
  pthread_t th[HAMMER_THREADS];
  HammerArg args[HAMMER_THREADS];
  for (int i = 0; i < HAMMER_THREADS; i++) {
    args[i] = (HammerArg){.e = e, .id = i};
    cr_assert(eq(int, pthread_create(&th[i], NULL, hammer_thread, &args[i]), 0));
  }
  for (int i = 0; i < HAMMER_THREADS; i++)
    pthread_join(th[i], NULL);
  harness_sleep_ms(50);
  atomic_store(&ea.stop, true);
  pthread_join(et, NULL);
  flush_ok(e);

  for (int i = 0; i < HAMMER_THREADS; i++) {
    cr_assert(eq(int, args[i].errors, 0), "thread %d: %d submissions failed (%s)", i,
              args[i].errors, csj_strerror(args[i].last_error));
    cr_assert(eq(int, g_hammer[i].n, HAMMER_TASKS), "thread %d: %d of %d tasks ran", i,
              g_hammer[i].n, HAMMER_TASKS);
    for (uint32_t k = 0; k < HAMMER_TASKS; k++)
      cr_assert(eq(u32, g_hammer[i].seq[k], k), "thread %d: position %u holds %u", i, k,
                g_hammer[i].seq[k]);
  }
  cr_assert(gt(int, ea.evals, 0));
  cr_assert(eq(int, ea.wrong, 0), "%d of %d evals failed or returned a wrong value (%s)",
            ea.wrong, ea.evals, ea.why);
  /* the music went on all along */
  long at = cycle_index(stamp_now(e));
  wait_recorded_to(at + 4800);
  cr_assert(gt(flt, harness_peak(probe_recording(g_probe, 0) + at, 4800), 0.29f));
  cr_assert(not(csj_engine_finished(e)));

  CsjStats s;
  csj_engine_stats(e, &s);
  cr_log_info("hammer: %d evals, xruns %llu, ring high water %u of %u, commands run %llu, "
              "dropped cycles %llu",
              ea.evals, (unsigned long long)s.xruns, s.ring_high_water, s.ring_capacity,
              (unsigned long long)s.commands_run, (unsigned long long)s.dropped_cycles);
  fprintf(stderr, "hammer: %d evals, xruns %llu, ring high water %u of %u\n", ea.evals,
          (unsigned long long)s.xruns, s.ring_high_water, s.ring_capacity);
}

/* ---- compiles from several threads ------------------------------------------------ */

enum { COMPILERS = 8, COMPILES_EACH = 120 };
static int g_compiles_each = COMPILES_EACH;

typedef struct {
  CsjEngine *e;
  int base;
  atomic_int *ok;
  atomic_int *failed;
  CsjStatus refused;
} Compiler;

static void count_compile(void *data, const CsjResult *r)
{
  Compiler *c = data;
  atomic_fetch_add(r->status == CSJ_SUCCESS ? c->ok : c->failed, 1);
}

static void *compile_thread(void *p)
{
  Compiler *c = p;
  for (int i = 0; i < g_compiles_each; i++) {
    char code[128];
    snprintf(code, sizeof code, "instr %d\n  a1 = 0\nendin\ninstr %d\n  a1 = 0\nendin\n",
             c->base + 2 * i, c->base + 2 * i + 1);
    CsjStatus st = csj_engine_compile_orc_async(c->e, code, count_compile, c);
    if (st != CSJ_SUCCESS) {
      c->refused = st;
      break;
    }
  }
  return NULL;
}

/*
 * Compiles queued from eight threads at once: each is parsed and merged,
 * once. The ring and the worker's parse queue take them in the same order
 * (worker_push_compile); pushed in two steps, two threads could interleave
 * them, and the worker would wait for the JACK thread to merge the one it
 * had parsed while the JACK thread held the line for the other, for ever:
 * before the fix, this test hung (the flush timed out with 379 and 481 of
 * 960 merged) in 2 runs of 6. Under memcheck, fewer compiles.
 */
Test(jack, compiles_from_eight_threads_all_merge, .init = server_256, .fini = teardown,
     .timeout = 90)
{
  if (getenv("CSJ_UNDER_VALGRIND"))
    g_compiles_each = 8;
  CsjEngine *e = engine_start("csjcomp8", DC_ON_ORC);
  csj_engine_set_submit_timeout(e, -1);
  static atomic_int ok, failed;
  atomic_store(&ok, 0);
  atomic_store(&failed, 0);
  Compiler c[COMPILERS];
  pthread_t t[COMPILERS];
  for (int k = 0; k < COMPILERS; k++) {
    c[k] = (Compiler){e, 1000 + k * 1000, &ok, &failed, CSJ_SUCCESS};
    cr_assert(eq(int, pthread_create(&t[k], NULL, compile_thread, &c[k]), 0));
  }
  for (int k = 0; k < COMPILERS; k++)
    pthread_join(t[k], NULL);
  for (int k = 0; k < COMPILERS; k++)
    cr_assert(eq(int, c[k].refused, CSJ_SUCCESS), "thread %d: %s", k, csj_strerror(c[k].refused));
  CsjStatus st = csj_engine_flush(e, 60000);
  cr_assert(eq(int, st, CSJ_SUCCESS), "flush after the compiles: %s (%d merged of %d)",
            csj_strerror(st), atomic_load(&ok), COMPILERS * g_compiles_each);
  const int total = COMPILERS * g_compiles_each;
  for (int i = 0; i < 500 && atomic_load(&ok) + atomic_load(&failed) < total; i++)
    harness_sleep_ms(10);
  cr_assert(eq(int, atomic_load(&failed), 0));
  cr_assert(eq(int, atomic_load(&ok), total));
  fprintf(stderr, "compiles from %d threads: %d merged\n", COMPILERS, atomic_load(&ok));
}
