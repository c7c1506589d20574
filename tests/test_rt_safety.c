/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Real-time safety, counted: what csjack's own code calls on the JACK
 * thread while the performance-thread API is used hard.
 *
 * This executable links csjack's objects again with -Wl,--wrap for the
 * functions listed in rt_wrap.h (tests/meson.build). A wrapped call made
 * on the JACK thread (message_log_on_realtime_thread(), which csjack's
 * process callback sets from the first cycle on) is counted with its
 * return address. --wrap redirects only calls from the objects of this
 * link, never calls made inside libcsound64 or libjack: Csound's own work
 * in a k-cycle or a merge is Csound's share and is not counted here.
 */

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sndfile.h>
#include <jack/jack.h>
#include <jack/midiport.h>

#include "csjack.h"
#include "jack_harness.h"
#include "rt_wrap.h"

#define RATE 48000

static CsjEngine *g_e;

static void msg_quiet(void *data, int attr, const char *text)
{
  (void)data;
  (void)attr;
  if (getenv("CSJ_TEST_VERBOSE"))
    fputs(text, stderr);
}

static void teardown(void)
{
  csj_engine_destroy(g_e);
  g_e = NULL;
  harness_server_stop();
}

static void server_256(void) { harness_server_start(256, RATE); }

static CsjEngine *engine_start(const char *base)
{
  const char *path = harness_data("cmd_busy.orc");
  CsjOptions o;
  csj_options_init(&o);
  o.client_name = harness_name(base);
  o.no_connect = true;
  o.message_fn = msg_quiet;
  CsjEngine *e = NULL;
  cr_assert(eq(int, csj_engine_create(&o, &e), CSJ_SUCCESS), "%s", csj_last_error(NULL));
  g_e = e;
  cr_assert(eq(int, csj_engine_compile_file(e, path), CSJ_SUCCESS), "%s", csj_last_error(e));
  cr_assert(eq(int, csj_engine_start(e), CSJ_SUCCESS), "%s", csj_last_error(e));
  return e;
}

static void flush_ok(CsjEngine *e)
{
  CsjStatus st = csj_engine_flush(e, 5000);
  cr_assert(eq(int, st, CSJ_SUCCESS), "flush: %s", csj_strerror(st));
}

/* The counts, a table to stderr and the log; and for each forbidden call,
 * where it came from. Returns how many forbidden calls there were. */
static uint64_t report(const char *title, char *why, size_t why_size)
{
  uint64_t forbidden = 0;
  size_t used = 0;
  why[0] = '\0';
  fprintf(stderr, "\n%s: calls from csjack's code on the JACK thread\n", title);
  fprintf(stderr, "  %-24s %10s\n", "function", "calls");
  for (int f = 0; f < RT_FN_COUNT; f++) {
    const uint64_t n = rt_count((RtFn)f);
    const bool is_forbidden = f < RT_FORBIDDEN_COUNT;
    fprintf(stderr, "  %-24s %10llu%s\n", rt_name((RtFn)f), (unsigned long long)n,
            is_forbidden ? "" : "   (allowed, for information)");
    cr_log_info("%s: %-24s %10llu%s", title, rt_name((RtFn)f), (unsigned long long)n,
                is_forbidden ? "" : " (allowed)");
    if (!is_forbidden || n == 0)
      continue;
    forbidden += n;
    void *callers[8];
    const size_t k = rt_callers((RtFn)f, callers, 8);
    for (size_t i = 0; i < k; i++) {
      char where[512];
      rt_describe(callers[i], where, sizeof where);
      fprintf(stderr, "      %s called from %s\n", rt_name((RtFn)f), where);
      if (used < why_size)
        used += (size_t)snprintf(why + used, why_size - used, "%s%s from %s",
                                 used ? "; " : "", rt_name((RtFn)f), where);
    }
  }
  return forbidden;
}

/* ---- the wrapper works ------------------------------------------------------------ */

static void *volatile g_sink;

static void malloc_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  (void)data;
  g_sink = malloc(64);
  free(g_sink);
  g_sink = NULL;
}

/* Proof that the busy run's zeros can fail: one malloc and one free in a
 * task are seen, exactly once each, and nothing else forbidden is. */
/* The event threads keep the ring full on purpose, and the JACK thread
 * drains only its budget's worth per cycle: a full ring refuses at once,
 * and a caller that must get its command in tries again, as here. */
#define UNTIL_ACCEPTED(st, call)                                                \
  do {                                                                          \
    for (int i_ = 0; ((st) = (call)) == CSJ_ERR_RING_FULL && i_ < 5000; i_++) { \
      harness_sleep_ms(1);                                                      \
    }                                                                           \
  } while (0)

Test(jack, rt_counter_sees_a_malloc_in_a_task, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  CsjEngine *e = engine_start("csjrtproof");
  harness_sleep_ms(100);
  flush_ok(e);
  rt_reset();
  cr_assert(eq(int, csj_engine_task(e, malloc_task, NULL), CSJ_SUCCESS));
  flush_ok(e);
  harness_sleep_ms(20);
  cr_assert(eq(u64, rt_count(RT_MALLOC), 1), "malloc counted %llu times",
            (unsigned long long)rt_count(RT_MALLOC));
  cr_assert(eq(u64, rt_count(RT_FREE), 1), "free counted %llu times",
            (unsigned long long)rt_count(RT_FREE));
  void *callers[8];
  cr_assert(eq(sz, rt_callers(RT_MALLOC, callers, 8), 1));
  char where[512];
  rt_describe(callers[0], where, sizeof where);
  cr_assert(ne(ptr, strstr(where, "malloc_task"), NULL), "malloc's caller: %s", where);
  char why[2048];
  uint64_t forbidden = report("proof", why, sizeof why);
  cr_assert(eq(u64, forbidden, 2), "besides the task's malloc and free: %s", why);
  /* and the test thread's own calls are not counted */
  void *volatile p = malloc(8);
  free(p);
  cr_assert(eq(u64, rt_count(RT_MALLOC), 1));
}

/* ---- the busy run ------------------------------------------------------------------- */

typedef struct {
  CsjEngine *e;
  CsjChannel *amp;
  atomic_bool stop;
  int id;
  /* results, read after join */
  long accepted;
  long refused;
  long failed;
  long ok;
  char last_error[256];
} Worker;

static atomic_long g_tasks_run;
static atomic_long g_callback_calls;

static void busy_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  CsjChannel *ch = data;
  if (ch)
    (void)csj_channel_get(ch);
  atomic_fetch_add_explicit(&g_tasks_run, 1, memory_order_relaxed);
}

static void busy_callback(CsjEngine *e, void *csound, uint32_t nframes, void *data)
{
  (void)e;
  (void)csound;
  (void)nframes;
  CsjChannel *ch = data;
  csj_channel_set(ch, 0.5 + 0.5 * sin((double)atomic_load(&g_callback_calls) * 0.01));
  atomic_fetch_add_explicit(&g_callback_calls, 1, memory_order_relaxed);
}

static void tally(Worker *w, CsjStatus st)
{
  if (st == CSJ_SUCCESS)
    w->accepted++;
  else if (st == CSJ_ERR_RING_FULL)
    w->refused++;
  else {
    w->failed++;
    snprintf(w->last_error, sizeof w->last_error, "%s", csj_strerror(st));
  }
}

static void nap_us(long us)
{
  struct timespec t = {0, us * 1000};
  nanosleep(&t, NULL);
}

/* Score events at a high rate, some as text, some absolute, some for an
 * instrument that does not exist (Csound then prints on the JACK thread). */
static void *events_thread(void *p)
{
  Worker *w = p;
  for (long k = 0; !atomic_load(&w->stop); k++) {
    const double ev[] = {2, 0, 0.03, 0.04, 300 + (double)((k * 37 + w->id * 101) % 600)};
    tally(w, csj_engine_score_event(w->e, 'i', ev, 5, false));
    if (k % 10 == 0)
      tally(w, csj_engine_input_message(w->e, "i 2 0 0.02 0.03 880"));
    if (k % 25 == 0) {
      const double abs_ev[] = {2, 0, 0.02, 0.03, 660};
      tally(w, csj_engine_score_event(w->e, 'i', abs_ev, 5, true));
    }
    if (k % 200 == 0)
      tally(w, csj_engine_input_message(w->e, "i 99 0 0.01"));
    if (k % 300 == 0) {
      double many[40] = {2, 0, 0.02, 0.03, 500};
      tally(w, csj_engine_score_event(w->e, 'i', many, 40, false)); /* a job */
    }
    nap_us(500);
  }
  return NULL;
}

/* Channels, tables, tasks, string channels, flushes. */
static void *control_thread(void *p)
{
  Worker *w = p;
  double buf[16];
  for (long k = 0; !atomic_load(&w->stop); k++) {
    csj_channel_set(w->amp, (double)(k % 100) / 100.0);
    if (k % 5 == 0)
      tally(w, csj_engine_set_control(w->e, "amp", (double)(k % 50) / 50.0));
    tally(w, csj_engine_table_set(w->e, 100, (int)(k % 1024), (double)k));
    tally(w, csj_engine_task(w->e, busy_task, w->amp));
    if (k % 50 == 0) {
      double v;
      size_t len;
      for (int i = 0; i < 16; i++)
        buf[i] = (double)(k + i);
      tally(w, csj_engine_table_copy_in(w->e, 100, buf, 16));
      tally(w, csj_engine_table_copy_out(w->e, 100, buf, 16, &len, 5000));
      tally(w, csj_engine_table_get(w->e, 100, 3, &v, 5000));
      const CsjStatus missing = csj_engine_table_get(w->e, 777, 3, &v, 5000);
      tally(w, missing == CSJ_ERR_NOT_FOUND ? CSJ_SUCCESS
                                            : missing == CSJ_ERR_RING_FULL ? missing
                                                                           : CSJ_ERR_BAD_ARG);
      char text[32];
      snprintf(text, sizeof text, "k=%ld", k);
      tally(w, csj_engine_set_string_channel(w->e, "s", text));
      tally(w, csj_engine_flush(w->e, 5000));
    }
    nap_us(1000);
  }
  return NULL;
}

/* Queued evalCode every 20 ms; compiles (one failing at the merge, one at
 * the parse) and callback forms now and then. */
static void result_ignored(void *data, const CsjResult *r)
{
  (void)r;
  atomic_fetch_add((atomic_long *)data, 1);
}

static atomic_long g_async_results;

static void *eval_thread(void *p)
{
  Worker *w = p;
  for (long k = 1; !atomic_load(&w->stop); k++) {
    char code[128];
    double v = NAN;
    snprintf(code, sizeof code, "return %ld", k);
    CsjStatus st = csj_engine_eval_code(w->e, code, 5000, &v, w->last_error,
                                        sizeof w->last_error);
    if (st == CSJ_SUCCESS && v == (double)k) {
      w->ok++;
    } else if (st == CSJ_ERR_RING_FULL) {
      w->refused++; /* the event threads keep the ring full on purpose */
    } else {
      w->failed++;
      if (!w->last_error[0]) {
        snprintf(w->last_error, sizeof w->last_error, "%s (value %g for %ld)", csj_strerror(st),
                 v, k);
      }
    }
    if (k % 10 == 0) {
      snprintf(code, sizeof code, "instr %ld\n a1 poscil 0.01, 300\n outs a1, a1\nendin\n",
               200 + k);
      tally(w, csj_engine_compile_orc(w->e, code, 5000, NULL, 0));
    }
    if (k % 15 == 0)
      csj_engine_compile_orc(w->e, "instr 300\n a1 poscil 0.1,\nendin\n", 5000, NULL, 0);
    if (k % 7 == 0)
      tally(w, csj_engine_eval_code_async(w->e, "return 1", result_ignored, &g_async_results));
    if (k % 9 == 0)
      tally(w, csj_engine_compile_orc_async(w->e, "instr 301\nendin\n", result_ignored,
                                            &g_async_results));
    nap_us(20000);
  }
  return NULL;
}

/* The direct path every 100 ms. */
static void *direct_thread(void *p)
{
  Worker *w = p;
  for (long k = 1; !atomic_load(&w->stop); k++) {
    char code[64];
    double v = NAN;
    snprintf(code, sizeof code, "return %ld*2", k);
    CsjStatus st = csj_engine_eval_code_direct(w->e, code, &v, w->last_error,
                                               sizeof w->last_error);
    if (st == CSJ_SUCCESS && v == 2.0 * (double)k)
      w->ok++;
    else
      w->failed++;
    if (k % 5 == 0) {
      snprintf(code, sizeof code, "instr %ld\nendin\n", 400 + k);
      tally(w, csj_engine_compile_orc_direct(w->e, code, NULL, 0));
    }
    nap_us(100000);
  }
  return NULL;
}

Test(jack, rt_busy_run_makes_no_forbidden_calls, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  CsjEngine *e = engine_start("csjrtbusy");
  CsjChannel *amp = NULL;
  cr_assert(eq(int, csj_engine_channel(e, "amp", &amp), CSJ_SUCCESS));
  CsjChannel *cb_ch = NULL;
  cr_assert(eq(int, csj_engine_channel(e, "cb", &cb_ch), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_set_process_callback(e, busy_callback, cb_ch), CSJ_SUCCESS));
  flush_ok(e);

  Worker w[5];
  void *(*const fns[5])(void *) = {events_thread, events_thread, control_thread, eval_thread,
                                  direct_thread};
  static const char *const names[5] = {"events 1", "events 2", "control", "eval queued",
                                       "eval direct"};
  pthread_t th[5];
  for (int i = 0; i < 5; i++) {
    w[i] = (Worker){.e = e, .amp = amp, .id = i};
    cr_assert(eq(int, pthread_create(&th[i], NULL, fns[i], &w[i]), 0));
  }

  char path[128];
  snprintf(path, sizeof path, "/tmp/csjack-rt-%d.wav", (int)getpid());
  const double t0 = harness_now_ms();
  bool reset = false, recording = false, recorded = false;
  CsjStats before = {0};
  int toggles = 0;
  while (harness_now_ms() - t0 < 3000) {
    const double t = harness_now_ms() - t0;
    if (!reset && t >= 500) {
      rt_reset(); /* after the warm-up */
      csj_engine_stats(e, &before);
      reset = true;
    }
    if (!recording && !recorded && t >= 1000) {
      CsjStatus st;
      UNTIL_ACCEPTED(st, csj_engine_record(e, path, 32));
      cr_assert(eq(int, st, CSJ_SUCCESS), "%s", csj_last_error(e));
      recording = true;
    }
    if (recording && t >= 2000) {
      CsjStatus st;
      UNTIL_ACCEPTED(st, csj_engine_stop_record(e));
      cr_assert(eq(int, st, CSJ_SUCCESS));
      recording = false;
      recorded = true;
    }
    CsjStatus toggled;
    UNTIL_ACCEPTED(toggled, csj_engine_toggle_pause(e));
    cr_assert(eq(int, toggled, CSJ_SUCCESS));
    toggles++;
    harness_sleep_ms(150);
  }
  for (int i = 0; i < 5; i++)
    atomic_store(&w[i].stop, true);
  for (int i = 0; i < 5; i++)
    pthread_join(th[i], NULL);
  cr_assert(eq(int, csj_engine_play(e), CSJ_SUCCESS));
  flush_ok(e);
  harness_sleep_ms(50);

  /* The counts, now: the JACK thread keeps running; it must stay clean. */
  char why[4096];
  const uint64_t forbidden = report("busy run (2.5 s after warm-up)", why, sizeof why);
  CsjStats after;
  csj_engine_stats(e, &after);

  /* It was busy: all of this went through the JACK thread meanwhile. */
  for (int i = 0; i < 5; i++) {
    fprintf(stderr, "  %-12s accepted %6ld  refused (ring full) %4ld  failed %ld  ok %ld%s%s\n",
            names[i], w[i].accepted, w[i].refused, w[i].failed, w[i].ok,
            w[i].failed ? "  last error: " : "", w[i].failed ? w[i].last_error : "");
  }
  fprintf(stderr,
          "  commands run %llu, cycles %llu, k-blocks %llu, dropped cycles %llu, xruns %llu, "
          "tasks %ld, callbacks %ld, async results %ld, pause toggles %d\n",
          (unsigned long long)(after.commands_run - before.commands_run),
          (unsigned long long)(after.cycles - before.cycles),
          (unsigned long long)(after.ksmps_blocks - before.ksmps_blocks),
          (unsigned long long)(after.dropped_cycles - before.dropped_cycles),
          (unsigned long long)after.xruns, atomic_load(&g_tasks_run),
          atomic_load(&g_callback_calls), atomic_load(&g_async_results), toggles);
  /* Every kind of work went through the JACK thread, and none failed. How
   * much of it did depends on how loaded this machine is (how many cycles
   * it ran, how fast the JACK thread drained within its budget): printed
   * above, not asserted. A count of zero forbidden calls means nothing
   * unless the work ran, hence the lower bounds of one. */
  cr_assert(gt(long, w[0].accepted + w[1].accepted, 0L), "no event accepted");
  cr_assert(gt(long, w[2].accepted, 0L), "no control command accepted");
  cr_assert(eq(long, w[2].failed, 0L), "control: %s", w[2].last_error);
  cr_assert(gt(long, w[3].ok, 0L), "no queued eval");
  cr_assert(eq(long, w[3].failed, 0L), "queued eval: %s", w[3].last_error);
  cr_assert(gt(long, w[4].ok, 0L), "no direct eval");
  cr_assert(eq(long, w[4].failed, 0L), "direct eval: %s", w[4].last_error);
  cr_assert(gt(u64, after.ksmps_blocks - before.ksmps_blocks, (uint64_t)0),
            "Csound did not perform");
  cr_assert(gt(long, atomic_load(&g_tasks_run), 0L), "no task ran");
  cr_assert(gt(long, atomic_load(&g_callback_calls), 0L), "the process callback never ran");
  cr_assert(not(csj_engine_finished(e)));

  SF_INFO info = {0};
  SNDFILE *f = sf_open(path, SFM_READ, &info);
  cr_assert(ne(ptr, f, NULL), "no recording: %s", sf_strerror(NULL));
  sf_close(f);
  unlink(path);
  /* How many cycles a second brings depends on the machine's load: the
   * recording holds whole cycles, and some. */
  fprintf(stderr, "  the 1 s recording holds %ld frames\n", (long)info.frames);
  cr_assert(gt(long, (long)info.frames, 0L), "the recording is empty");
  cr_assert(eq(long, (long)info.frames % 256, 0L), "the recording is not whole cycles");

  cr_assert(eq(u64, forbidden, 0), "csjack made %llu forbidden calls on the JACK thread: %s",
            (unsigned long long)forbidden, why);
}

/* ---- MIDI flowing both ways ------------------------------------------------------ */

/* A JACK client that plays, every cycle, note-ons, note-offs and a control
 * change into csjack's midi_in, and takes what comes back on midi_out. */
typedef struct {
  jack_client_t *client;
  jack_port_t *out;
  jack_port_t *in;
  _Atomic long sent;
  _Atomic long received;
  unsigned cycle;
} MidiSource;

static int midi_source_process(jack_nframes_t n, void *arg)
{
  MidiSource *m = arg;
  void *out = jack_port_get_buffer(m->out, n);
  jack_midi_clear_buffer(out);
  void *in = jack_port_get_buffer(m->in, n);
  atomic_fetch_add(&m->received, (long)jack_midi_get_event_count(in));
  const unsigned note = 36 + m->cycle % 48;
  const uint8_t on[3] = {0x90, (uint8_t)note, 100};
  const uint8_t off[3] = {0x80, (uint8_t)(36 + (m->cycle + 47) % 48), 0};
  const uint8_t cc[3] = {0xB0, 7, (uint8_t)(m->cycle % 128)};
  long sent = 0;
  for (jack_nframes_t f = 0; f + 40 < n; f += 40) {
    sent += jack_midi_event_write(out, f, on, 3) == 0;
    sent += jack_midi_event_write(out, f + 13, cc, 3) == 0;
    sent += jack_midi_event_write(out, f + 29, off, 3) == 0;
  }
  atomic_fetch_add(&m->sent, sent);
  m->cycle++;
  return 0;
}

static MidiSource g_midi_source;

static void midi_teardown(void)
{
  csj_engine_destroy(g_e);
  g_e = NULL;
  if (g_midi_source.client) {
    jack_deactivate(g_midi_source.client);
    jack_client_close(g_midi_source.client);
    g_midi_source.client = NULL;
  }
  harness_server_stop();
}

/* Under constant latency: stamped events for later cycles, submitted
 * while the run goes on (some score events, some plain score lines), so
 * the held queue fills and empties on the JACK thread. */
typedef struct {
  CsjEngine *e;
  _Atomic bool stop;
  _Atomic long submitted;
  _Atomic uint32_t held_max;
} StampThread;

static void *stamp_thread(void *p)
{
  StampThread *t = p;
  unsigned i = 0;
  while (!atomic_load(&t->stop)) {
    const double note[] = {3, 0, 0.01};
    CsjStatus st;
    if (i % 2) {
      st = csj_engine_score_event_at(t->e, 'i', note, 3,
                                     csj_engine_frame_time(t->e) + RATE / 5 + (i * 37) % 256);
    } else {
      st = csj_engine_input_message(t->e, "i 3 0 0.01");
    }
    if (st == CSJ_SUCCESS)
      atomic_fetch_add(&t->submitted, 1);
    CsjStats s;
    csj_engine_stats(t->e, &s);
    if (s.events_held > atomic_load(&t->held_max))
      atomic_store(&t->held_max, s.events_held);
    ++i;
    nap_us(3000);
  }
  return NULL;
}

static void midi_run(const char *base, const char *title, uint32_t delay)
{
  CsjOptions o;
  csj_options_init(&o);
  o.client_name = harness_name(base);
  o.no_connect = true;
  o.message_fn = msg_quiet;
  CsjEngine *e = NULL;
  cr_assert(eq(int, csj_engine_create(&o, &e), CSJ_SUCCESS), "%s", csj_last_error(NULL));
  g_e = e;
  cr_assert(eq(int, csj_engine_compile_file(e, harness_data("midi_rt.orc")), CSJ_SUCCESS),
            "%s", csj_last_error(e));
  cr_assert(eq(int, csj_engine_start(e), CSJ_SUCCESS), "%s", csj_last_error(e));

  MidiSource *m = &g_midi_source;
  jack_status_t status = 0;
  m->client = jack_client_open(harness_name("midisrc"), JackNoStartServer | JackUseExactName,
                               &status);
  cr_assert(ne(ptr, m->client, NULL));
  m->out = jack_port_register(m->client, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
  m->in = jack_port_register(m->client, "in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
  cr_assert(ne(ptr, m->out, NULL));
  cr_assert(ne(ptr, m->in, NULL));
  jack_set_process_callback(m->client, midi_source_process, m);
  cr_assert(eq(int, jack_activate(m->client), 0));
  char mine[256], theirs[256];
  snprintf(mine, sizeof mine, "%s:out", jack_get_client_name(m->client));
  snprintf(theirs, sizeof theirs, "%s:midi_in", csj_engine_client_name(e));
  cr_assert(eq(int, jack_connect(m->client, mine, theirs), 0));
  snprintf(mine, sizeof mine, "%s:in", jack_get_client_name(m->client));
  snprintf(theirs, sizeof theirs, "%s:midi_out", csj_engine_client_name(e));
  cr_assert(eq(int, jack_connect(m->client, theirs, mine), 0));

  csj_engine_set_event_delay(e, delay);
  StampThread stamps = {.e = e};
  pthread_t stamper;
  if (delay) {
    cr_assert(eq(int, pthread_create(&stamper, NULL, stamp_thread, &stamps), 0));
  }
  harness_sleep_ms(500); /* warm-up: the voices' first allocations */
  rt_reset();
  CsjStats before;
  csj_engine_stats(e, &before);
  harness_sleep_ms(2000);
  char why[4096];
  const uint64_t forbidden = report(title, why, sizeof why);
  CsjStats after;
  csj_engine_stats(e, &after);
  if (delay) {
    atomic_store(&stamps.stop, true);
    pthread_join(stamper, NULL);
    fprintf(stderr, "  delay %u frames: %ld stamped events and lines submitted, at most %u "
                    "held at once, %llu late, %llu overflowed\n",
            delay, atomic_load(&stamps.submitted), atomic_load(&stamps.held_max),
            (unsigned long long)after.events_late, (unsigned long long)after.events_overflow);
    cr_assert(gt(long, atomic_load(&stamps.submitted), 100L), "hardly any events submitted");
    cr_assert(gt(u32, atomic_load(&stamps.held_max), 10u), "the held queue stayed empty");
  }
  fprintf(stderr, "  MIDI in %llu (dropped %llu), out %llu (dropped %llu), sent %ld, back %ld\n",
          (unsigned long long)(after.midi_in_events - before.midi_in_events),
          (unsigned long long)after.midi_in_dropped,
          (unsigned long long)(after.midi_out_events - before.midi_out_events),
          (unsigned long long)after.midi_out_dropped, atomic_load(&m->sent),
          atomic_load(&m->received));
  cr_assert(gt(u64, after.midi_in_events - before.midi_in_events, (uint64_t)1000),
            "MIDI hardly flowed in");
  cr_assert(gt(u64, after.midi_out_events - before.midi_out_events, (uint64_t)1000),
            "MIDI hardly flowed out");
  cr_assert(eq(u64, after.midi_out_dropped, 0));
  cr_assert(not(csj_engine_finished(e)));
  cr_assert(eq(u64, forbidden, 0), "csjack made %llu forbidden calls on the JACK thread: %s",
            (unsigned long long)forbidden, why);
}

Test(jack, rt_midi_run_makes_no_forbidden_calls, .init = server_256, .fini = midi_teardown,
     .timeout = 60)
{
  midi_run("csjrtmidi", "MIDI run (2 s, both ways)", 0);
}

/* The same under constant latency (1500 frames): every MIDI event waits in
 * the held MIDI queue for a few cycles, and stamped events and score
 * lines wait in the held event queue. */
Test(jack, rt_delayed_midi_run_makes_no_forbidden_calls, .init = server_256,
     .fini = midi_teardown, .timeout = 60)
{
  midi_run("csjrtdelay", "delayed MIDI and stamped events (2 s, delay 1500)", 1500);
}

/* ---- the functions csjack.h marks CSJ_REALTIME ------------------------------------- */

typedef struct {
  CsjChannel *ch;
  CsjStats stats;
  volatile bool flag;
  const char *volatile text;
} RtApiData;

static void api_stats(CsjEngine *e, void *csound, void *data)
{
  (void)csound;
  RtApiData *d = data;
  csj_engine_stats(e, &d->stats);
}

static void api_channel(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  RtApiData *d = data;
  csj_channel_set(d->ch, 0.5);
  d->flag = csj_channel_get(d->ch) == 0.5;
}

static void api_state(CsjEngine *e, void *csound, void *data)
{
  (void)csound;
  RtApiData *d = data;
  d->flag = csj_engine_finished(e) || !csj_engine_is_running(e);
  d->text = csj_strerror(CSJ_ERR_RING_FULL);
  d->text = csj_end_reason_name(CSJ_END_STOPPED);
}

static void api_stop(CsjEngine *e, void *csound, void *data)
{
  (void)csound;
  (void)data;
  csj_engine_stop(e);
}

/*
 * Every function csjack.h marks CSJ_REALTIME ("safe to call from the JACK
 * process thread: it does not allocate, free, lock, print or make a
 * syscall that can wait"), called from a task, one at a time.
 *
 * Regression: csj_engine_stats() once took record_lock to read
 * record_dropped, although marked CSJ_REALTIME; on the JACK thread it could
 * wait for csj_engine_record()/stop_record(), which hold that lock while
 * they wait for the JACK thread itself. It now reads an atomic.
 */
Test(jack, rt_realtime_marked_api_makes_no_forbidden_calls, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjrtapi");
  static RtApiData d;
  cr_assert(eq(int, csj_engine_channel(e, "api", &d.ch), CSJ_SUCCESS));
  harness_sleep_ms(50);
  struct {
    const char *what;
    CsjTaskFn fn;
  } calls[] = {
      {"csj_channel_set/csj_channel_get", api_channel},
      {"csj_engine_finished/is_running/csj_strerror/csj_end_reason_name", api_state},
      {"csj_engine_stats", api_stats},
      {"csj_engine_stop", api_stop},
  };
  char failures[4096] = "";
  size_t used = 0;
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    flush_ok(e);
    rt_reset();
    cr_assert(eq(int, csj_engine_task(e, calls[i].fn, &d), CSJ_SUCCESS));
    if (calls[i].fn == api_stop) {
      cr_assert(eq(int, csj_engine_wait(e, 3000), CSJ_SUCCESS));
      harness_sleep_ms(20);
    } else {
      flush_ok(e);
    }
    char why[1024];
    const uint64_t n = report(calls[i].what, why, sizeof why);
    if (n && used < sizeof failures)
      used += (size_t)snprintf(failures + used, sizeof failures - used, "\n  %s: %s",
                               calls[i].what, why);
  }
  cr_assert(eq(int, d.flag, false));
  cr_assert(eq(int, csj_engine_end_reason(e, NULL), CSJ_END_STOPPED));
  cr_assert(eq(sz, used, 0), "CSJ_REALTIME functions made forbidden calls on the JACK "
                             "thread:%s", failures);
}

/* ---- what the lock in csj_engine_stats() does to the JACK thread --------------------- */

static atomic_long g_stats_calls;

static void stats_callback(CsjEngine *e, void *csound, uint32_t nframes, void *data)
{
  (void)csound;
  (void)nframes;
  (void)data;
  CsjStats s;
  csj_engine_stats(e, &s); /* CSJ_REALTIME: "Any thread; real-time safe" */
  atomic_fetch_add_explicit(&g_stats_calls, 1, memory_order_relaxed);
}

typedef struct {
  CsjEngine *e;
  char path[128];
  atomic_int done; /* record and stop_record calls that returned */
} RecordLoop;

static void *record_loop(void *p)
{
  RecordLoop *r = p;
  for (int i = 0; i < 20; i++) {
    csj_engine_record(r->e, r->path, 16);
    atomic_fetch_add(&r->done, 1);
    csj_engine_stop_record(r->e);
    atomic_fetch_add(&r->done, 1);
  }
  return NULL;
}

/*
 * Regression: a process callback that called csj_engine_stats() (marked
 * CSJ_REALTIME) deadlocked the JACK thread against csj_engine_record() and
 * csj_engine_stop_record(), which hold record_lock while they wait for the
 * JACK thread to run their command, when stats took the same lock.
 *
 * On a deadlock the engine is abandoned (not destroyed: its JACK thread
 * would never come back) and the process ends with the test.
 */
Test(jack, rt_stats_in_process_callback_vs_recording, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  CsjEngine *e = engine_start("csjrtstats");
  cr_assert(eq(int, csj_engine_set_process_callback(e, stats_callback, NULL), CSJ_SUCCESS));
  flush_ok(e);
  static RecordLoop r;
  r.e = e;
  snprintf(r.path, sizeof r.path, "/tmp/csjack-rt-stats-%d.wav", (int)getpid());
  pthread_t t;
  cr_assert(eq(int, pthread_create(&t, NULL, record_loop, &r), 0));
  int last = -1;
  double since = harness_now_ms();
  while (atomic_load(&r.done) < 40) {
    const int now = atomic_load(&r.done);
    if (now != last) {
      last = now;
      since = harness_now_ms();
    }
    if (harness_now_ms() - since > 3000) {
      const long c0 = atomic_load(&g_stats_calls);
      harness_sleep_ms(300);
      const long c1 = atomic_load(&g_stats_calls);
      pthread_detach(t);
      g_e = NULL; /* abandoned: see above */
      cr_fatal("deadlock: %s has not returned for 3 s (%d calls returned); the process "
               "callback, which calls csj_engine_stats(), ran %ld times in the last "
               "300 ms",
               now % 2 ? "csj_engine_stop_record" : "csj_engine_record", now, c1 - c0);
    }
    harness_sleep_ms(5);
  }
  pthread_join(t, NULL);
  unlink(r.path);
  cr_assert(gt(long, atomic_load(&g_stats_calls), 0L));
}
