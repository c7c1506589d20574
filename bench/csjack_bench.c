/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack-bench: csjack against Csound's own performance thread and JACK
 * driver, on one JACK server, in one run.
 *
 * Systems:
 *   csjack_queued    every call through csjack's command ring
 *   csjack_direct    csj_engine_eval_code_direct / compile_orc_direct from
 *                    the caller's thread
 *   baseline_queued  CsoundPerformanceThread + -+rtaudio=jack, evalCode
 *                    through a process-callback queue (the ctcsound way)
 *   baseline_direct  the same, csoundEvalCode called while the thread runs
 *
 * Workloads, in this order on a fresh instance of each system, after a
 * warm-up that is not counted: an idle stretch (empty ring), evalCode round trips, score
 * event to first sound, an impulse round trip (plus jack_iodelay's figure),
 * and a 100-instrument compile while music plays. xruns, dropped cycles and
 * csjack's callback time are recorded during each.
 *
 * Timing of events and impulses is in JACK frame time, taken by the bench's
 * own JACK client (the probe): it timestamps each call with jack_frame_time()
 * on the calling thread, and in its process callback finds the first non-zero
 * sample of the system's channel 1, at jack_last_frame_time() + offset.
 * Because JACK's frame-time estimate drifts on the dummy driver, each call
 * is also timed by the probe's own cycle clock (see probe_cycle_clock_now).
 *
 * A benchmark prints figures; it asserts nothing. What it cannot measure it
 * says, and the JSON holds null there, with a reason under "not_measured".
 */

#include "bench_config.h"
#include "bench_util.h"
#include "csjack.h"

#ifdef HAVE_BASELINE
#  include "baseline.h"
#endif
#ifdef HAVE_RING_BENCH
#  include "ring_bench.h"
#endif

#include <jack/jack.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CSJ_BENCH_PLOT_GP
#  define CSJ_BENCH_PLOT_GP "bench/plot.gp"
#endif

#define WHY_SIZE 256

/* ---- Systems and workloads ----------------------------------------------- */

enum { SYS_CSJ_Q, SYS_CSJ_D, SYS_BASE_Q, SYS_BASE_D, SYS_COUNT };
static const char *const sys_keys[SYS_COUNT] = {"csjack_queued", "csjack_direct",
                                                "baseline_queued", "baseline_direct"};
static const char *const sys_labels[SYS_COUNT] = {"csjack queued", "csjack direct",
                                                  "baseline queued", "baseline direct"};

static bool
is_csjack(int sys)
{
  return sys == SYS_CSJ_Q || sys == SYS_CSJ_D;
}

static bool
is_queued(int sys)
{
  return sys == SYS_CSJ_Q || sys == SYS_BASE_Q;
}

enum { WL_IDLE, WL_EVALCODE, WL_EVENTS, WL_ROUNDTRIP, WL_COMPILE, WL_COUNT };
static const char *const wl_keys[WL_COUNT] = {"idle", "evalcode", "events", "roundtrip",
                                              "compile"};

/* ---- Options --------------------------------------------------------------- */

#define MAX_SWEEP 16

typedef struct {
  int periods[MAX_SWEEP];
  int n_periods;
  bool sweep;
  int rate;
  const char *server;
  int calls;
  int events;
  int impulses;
  double idle_s;
  double iodelay_s;
  int baseline_b;
  int baseline_B;
  const char *json;
  const char *plot;
  bool quick;
  uint64_t seed;
  double note_s;
} Config;

/* ---- The probe: the bench's own JACK client ---------------------------------- */

typedef struct {
  jack_client_t *client;
  jack_port_t *in;
  jack_port_t *out;
  char name[64];
  atomic_uint_fast64_t xruns;
  /* Written by the control thread, read in the process callback. */
  atomic_int armed;       /* 1: look for the first non-zero input sample */
  atomic_int impulse;     /* 1: asked; the callback plays it and sets 2 */
  atomic_uint t_call;     /* frame time of the call or of the impulse */
  /* Written in the process callback. */
  atomic_uint t_detect;   /* frame time of the first non-zero sample */
  atomic_int detected;
  atomic_uint silent_cycles; /* consecutive cycles of all-zero input */
  /* The latest cycle as the probe saw it run: its frame time and the
   * jack_get_time() at the probe's callback entry, under a sequence lock
   * (odd: being written). */
  atomic_uint cycle_seq;
  atomic_uint cycle_frames;
  atomic_uint_fast64_t cycle_usecs;
  jack_nframes_t period;
  jack_nframes_t rate;
} Probe;

static int
probe_process(jack_nframes_t nframes, void *arg)
{
  Probe *p = arg;
  float *out = jack_port_get_buffer(p->out, nframes);
  const float *in = jack_port_get_buffer(p->in, nframes);
  memset(out, 0, nframes * sizeof(float));
  const jack_nframes_t now = jack_last_frame_time(p->client);
  const unsigned seq = atomic_load_explicit(&p->cycle_seq, memory_order_relaxed);
  atomic_store_explicit(&p->cycle_seq, seq + 1, memory_order_relaxed);
  /* Release fence: a reader that sees the new pair sees the odd sequence. */
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&p->cycle_frames, now, memory_order_relaxed);
  atomic_store_explicit(&p->cycle_usecs, jack_get_time(), memory_order_relaxed);
  atomic_store_explicit(&p->cycle_seq, seq + 2, memory_order_release);
  if (atomic_load_explicit(&p->impulse, memory_order_acquire) == 1) {
    out[0] = 1.0f;
    atomic_store_explicit(&p->t_call, now, memory_order_relaxed);
    atomic_store_explicit(&p->impulse, 2, memory_order_relaxed);
    /* Release: t_call is visible before armed. */
    atomic_store_explicit(&p->armed, 1, memory_order_release);
  }
  jack_nframes_t first = nframes;
  for (jack_nframes_t i = 0; i < nframes; ++i) {
    if (in[i] != 0.0f) {
      first = i;
      break;
    }
  }
  if (first == nframes) {
    atomic_fetch_add_explicit(&p->silent_cycles, 1, memory_order_relaxed);
  } else {
    atomic_store_explicit(&p->silent_cycles, 0, memory_order_relaxed);
    if (atomic_load_explicit(&p->armed, memory_order_acquire)) {
      atomic_store_explicit(&p->t_detect, now + first, memory_order_relaxed);
      atomic_store_explicit(&p->armed, 0, memory_order_relaxed);
      atomic_store_explicit(&p->detected, 1, memory_order_release);
    }
  }
  return 0;
}

/*
 * The frame time of "now" on the calling thread, from the probe's own view
 * of the cycles instead of JACK's DLL estimate: the latest cycle's frame
 * time plus the wall-clock time since the probe's callback ran in it, at
 * the nominal rate, capped at one period. A call after the probe's callback
 * in cycle k cannot be heard before cycle k+1, so this never exceeds the
 * frame time of the cycle that can first answer it.
 */
static jack_nframes_t
probe_cycle_clock_now(Probe *p)
{
  for (;;) {
    const unsigned s1 = atomic_load_explicit(&p->cycle_seq, memory_order_acquire);
    const jack_nframes_t f = atomic_load_explicit(&p->cycle_frames, memory_order_relaxed);
    const jack_time_t t = atomic_load_explicit(&p->cycle_usecs, memory_order_relaxed);
    const jack_time_t now = jack_get_time();
    /* Acquire fence: the reads above happen before the second look. */
    atomic_thread_fence(memory_order_acquire);
    const unsigned s2 = atomic_load_explicit(&p->cycle_seq, memory_order_relaxed);
    if (s1 != s2 || (s1 & 1u) || now < t) {
      bench_sleep_ms(0.02);
      continue;
    }
    double frames = (double)(now - t) * p->rate / 1e6;
    if (frames > p->period) {
      frames = p->period;
    }
    return f + (jack_nframes_t)frames;
  }
}

static int
probe_xrun(void *arg)
{
  Probe *p = arg;
  atomic_fetch_add_explicit(&p->xruns, 1, memory_order_relaxed);
  return 0;
}

static uint64_t
probe_xruns(Probe *p)
{
  return atomic_load_explicit(&p->xruns, memory_order_relaxed);
}

static bool
probe_open(Probe *p, const char *server, char *why)
{
  memset(p, 0, sizeof(*p));
  bench_unique_name(p->name, sizeof(p->name), "csjb-probe");
  jack_status_t status = 0;
  jack_options_t flags = JackNoStartServer | JackUseExactName;
  if (server) {
    flags |= JackServerName;
  }
  p->client = jack_client_open(p->name, flags, &status, server);
  if (!p->client) {
    snprintf(why, WHY_SIZE, "cannot open a JACK client on server %s (status 0x%x)",
             server ? server : "(default)", (unsigned)status);
    return false;
  }
  p->in = jack_port_register(p->client, "capture", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
  p->out = jack_port_register(p->client, "impulse", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
  if (!p->in || !p->out || jack_set_process_callback(p->client, probe_process, p) != 0 ||
      jack_set_xrun_callback(p->client, probe_xrun, p) != 0 || jack_activate(p->client) != 0) {
    snprintf(why, WHY_SIZE, "cannot set up the probe client");
    jack_client_close(p->client);
    p->client = NULL;
    return false;
  }
  p->period = jack_get_buffer_size(p->client);
  p->rate = jack_get_sample_rate(p->client);
  return true;
}

static void
probe_close(Probe *p)
{
  if (p->client) {
    jack_deactivate(p->client);
    jack_client_close(p->client);
    p->client = NULL;
  }
}

/* Connects the probe to a system: impulse -> system input, system output ->
 * capture. Drops its earlier connections first. NULL ports connect nothing. */
static bool
probe_attach(Probe *p, const char *sys_out, const char *sys_in)
{
  jack_port_disconnect(p->client, p->in);
  jack_port_disconnect(p->client, p->out);
  bool ok = true;
  if (sys_out) {
    ok &= jack_connect(p->client, sys_out, jack_port_name(p->in)) == 0;
  }
  if (sys_in) {
    ok &= jack_connect(p->client, jack_port_name(p->out), sys_in) == 0;
  }
  /* The new graph order takes effect within a cycle or two. */
  bench_sleep_ms(50);
  return ok;
}

/* Waits until the probe has heard @p cycles silent cycles in a row. */
static bool
probe_wait_silence(Probe *p, unsigned cycles, int timeout_ms)
{
  const uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (atomic_load_explicit(&p->silent_cycles, memory_order_relaxed) < cycles) {
    if (bench_now_ns() > deadline) {
      return false;
    }
    bench_sleep_ms(0.5);
  }
  return true;
}

static bool
probe_wait_detect(Probe *p, int timeout_ms)
{
  const uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (!atomic_load_explicit(&p->detected, memory_order_acquire)) {
    if (bench_now_ns() > deadline) {
      atomic_store(&p->armed, 0);
      return false;
    }
    bench_sleep_ms(0.2);
  }
  return true;
}

/* ---- csjack's callback time, sampled from inside the cycle -------------------- */

/*
 * csjack times its own process callback (clock_gettime around the drain and
 * the k-blocks) and publishes it as stats.callback_ns_last at the end of the
 * cycle. Our process callback runs inside the NEXT cycle, before its
 * k-blocks, and copies that figure into a preallocated array, tagged with
 * the workload running. It keeps the figure only if the previous cycle was
 * performed (cycles advanced by one and no cycle was dropped since our last
 * call), so a stale figure from before a dropped cycle is never counted.
 */
#define COST_CAP (1u << 18)

typedef struct {
  atomic_int phase; /* a WL_* index, or -1: record nothing */
  uint64_t prev_cycles;
  uint64_t prev_dropped;
  bool prev_valid;
  uint32_t *samples[WL_COUNT];
  atomic_size_t count[WL_COUNT];
} CostRecorder;

static void
cost_process(CsjEngine *e, void *csound, uint32_t nframes, void *data)
{
  (void)csound;
  (void)nframes;
  CostRecorder *c = data;
  CsjStats st;
  csj_engine_stats(e, &st);
  const int phase = atomic_load_explicit(&c->phase, memory_order_relaxed);
  if (phase >= 0 && c->prev_valid && st.cycles == c->prev_cycles + 1 &&
      st.dropped_cycles == c->prev_dropped) {
    const size_t i = atomic_load_explicit(&c->count[phase], memory_order_relaxed);
    if (i < COST_CAP) {
      c->samples[phase][i] =
        st.callback_ns_last > UINT32_MAX ? UINT32_MAX : (uint32_t)st.callback_ns_last;
      atomic_store_explicit(&c->count[phase], i + 1, memory_order_release);
    }
  }
  c->prev_cycles = st.cycles;
  c->prev_dropped = st.dropped_cycles;
  c->prev_valid = true;
}

/* ---- Results ------------------------------------------------------------------ */

typedef struct {
  double *v;
  size_t n;
  size_t cap;
} Samples;

static void
samples_push(Samples *s, double x)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 256;
    s->v = realloc(s->v, s->cap * sizeof(double));
    if (!s->v) {
      fprintf(stderr, "csjack-bench: out of memory\n");
      exit(1);
    }
  }
  s->v[s->n++] = x;
}

typedef struct {
  char why[WHY_SIZE]; /* non-empty: the whole system was not measured */

  Samples eval_ms;
  int eval_failures;
  char eval_why[WHY_SIZE];

  Samples event_frames;
  int event_discarded; /* negative or absurd frame-time differences */
  int event_missed;    /* no sound within the timeout */
  Samples event_cc_frames; /* the same events, the call timed by the cycle clock */
  int event_cc_discarded;
  char event_why[WHY_SIZE];

  Samples rt_frames;
  int rt_missed;
  char rt_why[WHY_SIZE];
  double iodelay_frames;
  char iodelay_why[WHY_SIZE];

  Samples cb_us[WL_COUNT];
  bool cb_measured;
  char cb_why[WHY_SIZE];

  bool ran[WL_COUNT];
  int64_t xruns[WL_COUNT];        /* csjack: stats.xruns; baseline: the probe's */
  int64_t xruns_server[WL_COUNT]; /* the probe's count, for every system */
  int64_t dropped[WL_COUNT];
  bool dropped_measured;
  char dropped_why[WHY_SIZE];
  char xruns_source[96];

  double compile_ms;
  bool compile_ok;
  char compile_why[WHY_SIZE];
} SystemResult;

typedef struct {
  int period;
  int rate;
  int ksmps;
  int baseline_b;
  int baseline_B;
  char server[96];
  bool private_server;
  char why[WHY_SIZE]; /* non-empty: nothing could run at this period */
  SystemResult sys[SYS_COUNT];
  char ring_json[4096];
  char ring_table[4096];
  char ring_why[WHY_SIZE];
} PeriodResult;

/* ---- One system under test ---------------------------------------------------- */

typedef struct {
  int kind;
  CsjEngine *e;
#ifdef HAVE_BASELINE
  Baseline *b;
#endif
  CostRecorder *cost;
  char out_port[160]; /* channel 1: thru + the event's constant */
  char in_port[160];
  CsjStats before;
  uint64_t probe_before;
} System;

static const int ksmps = 32;

/* Channel 1: the input thru (instr 1) plus a constant while instr 2 plays;
 * channel 2: the music (instr 3). Instr 2 is silent until triggered. */
static char *
make_orchestra(int rate)
{
  char *text = malloc(1024);
  snprintf(text, 1024,
           "sr = %d\nksmps = %d\nnchnls = 2\nnchnls_i = 1\n0dbfs = 1\n"
           "instr 1\n  a1 inch 1\n  outch 1, a1\nendin\n"
           "instr 2\n  outch 1, a(k(p4))\nendin\n"
           "instr 3\n  asig vco2 0.1, p4\n  afil moogladder asig, 1200, 0.4\n"
           "  outch 2, afil\nendin\n"
           "alwayson 1\n",
           rate, ksmps);
  return text;
}

/* Csound's messages from csjack's engines: dropped, unless CSJ_BENCH_VERBOSE
 * is set, so the table stays readable (failures come back as statuses). */
static void
quiet_messages(void *data, int attr, const char *text)
{
  (void)data;
  (void)attr;
  if (getenv("CSJ_BENCH_VERBOSE")) {
    fputs(text, stderr);
  }
}

static bool
system_start(System *s, int kind, const Config *cfg, const PeriodResult *pr, const char *orc,
             CostRecorder *cost, char *why)
{
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  char client[64];
  if (is_csjack(kind)) {
    bench_unique_name(client, sizeof(client), "csjb");
    CsjOptions opts;
    csj_options_init(&opts);
    opts.client_name = client;
    opts.server_name = pr->server;
    opts.no_connect = true;
    static const char *quiet[] = {"-m0"};
    opts.csound_argc = 1;
    opts.csound_argv = quiet;
    opts.message_fn = quiet_messages;
    CsjStatus st = csj_engine_create(&opts, &s->e);
    if (st != CSJ_SUCCESS) {
      snprintf(why, WHY_SIZE, "csj_engine_create: %s", csj_last_error(NULL));
      return false;
    }
    if (csj_engine_compile_orc_text(s->e, orc) != CSJ_SUCCESS ||
        csj_engine_start(s->e) != CSJ_SUCCESS) {
      snprintf(why, WHY_SIZE, "csjack: %s", csj_last_error(s->e));
      csj_engine_destroy(s->e);
      s->e = NULL;
      return false;
    }
    snprintf(s->out_port, sizeof(s->out_port), "%s:out_1", client);
    snprintf(s->in_port, sizeof(s->in_port), "%s:in_1", client);
    s->cost = cost;
    atomic_store(&cost->phase, -1);
    for (int w = 0; w < WL_COUNT; ++w) {
      atomic_store(&cost->count[w], 0);
    }
    cost->prev_valid = false;
    if (csj_engine_set_process_callback(s->e, cost_process, cost) != CSJ_SUCCESS ||
        csj_engine_flush(s->e, 5000) != CSJ_SUCCESS) {
      snprintf(why, WHY_SIZE, "csjack: cannot set the process callback: %s",
               csj_last_error(s->e));
      csj_engine_destroy(s->e);
      s->e = NULL;
      return false;
    }
    return true;
  }
#ifdef HAVE_BASELINE
  bench_unique_name(client, sizeof(client), "csjb-csound");
  BaselineOptions o = {0};
  o.server_name = pr->server;
  o.client_name = client;
  o.period_b = pr->baseline_b;
  o.buffer_B = pr->baseline_B;
  o.orchestra = orc;
  o.connect_physical = false;
  s->b = baseline_start(&o, why, WHY_SIZE);
  if (!s->b) {
    return false;
  }
  snprintf(s->out_port, sizeof(s->out_port), "%s", baseline_output_port(s->b, 1));
  snprintf(s->in_port, sizeof(s->in_port), "%s", baseline_input_port(s->b, 1));
  (void)cfg;
  return true;
#else
  (void)cfg;
  (void)pr;
  (void)orc;
  (void)cost;
  snprintf(why, WHY_SIZE, "%s", BASELINE_MISSING);
  return false;
#endif
}

static void
system_stop(System *s)
{
  if (s->e) {
    csj_engine_stop(s->e);
    csj_engine_wait(s->e, 2000);
    csj_engine_destroy(s->e);
    s->e = NULL;
  }
#ifdef HAVE_BASELINE
  if (s->b) {
    baseline_stop(s->b);
    s->b = NULL;
  }
#endif
}

/* evalCode by the system's path. Returns 0 on success. */
static int
system_eval(System *s, const char *code, double *value)
{
  char err[256];
  switch (s->kind) {
  case SYS_CSJ_Q:
    return csj_engine_eval_code(s->e, code, 5000, value, err, sizeof(err)) == CSJ_SUCCESS ? 0
                                                                                          : -1;
  case SYS_CSJ_D:
    return csj_engine_eval_code_direct(s->e, code, value, err, sizeof(err)) == CSJ_SUCCESS ? 0
                                                                                           : -1;
#ifdef HAVE_BASELINE
  case SYS_BASE_Q: return baseline_eval_queued(s->b, code, 5000, value);
  case SYS_BASE_D: return baseline_eval_direct(s->b, code, value);
#endif
  default: return -1;
  }
}

/* A score event. Both csjack systems queue it (csjack has no direct score
 * event); the baseline goes through CsoundPTscoreEvent. */
static int
system_event(System *s, const double *p, int n)
{
  if (s->e) {
    return csj_engine_score_event(s->e, 'i', p, n, false) == CSJ_SUCCESS ? 0 : -1;
  }
#ifdef HAVE_BASELINE
  if (s->b) {
    return baseline_score_event(s->b, 'i', p, n);
  }
#endif
  return -1;
}

/* The 100-instrument compile by the system's path. The baseline has no
 * compile call of its own: csoundEvalCode compiles the same orchestra
 * (queued: in the performance thread's process callback, as ctcsound's
 * compile; direct: on the caller's thread). */
static int
system_compile(System *s, const char *orc, const char *orc_eval)
{
  char err[512];
  double v;
  switch (s->kind) {
  case SYS_CSJ_Q:
    return csj_engine_compile_orc(s->e, orc, 20000, err, sizeof(err)) == CSJ_SUCCESS ? 0 : -1;
  case SYS_CSJ_D:
    return csj_engine_compile_orc_direct(s->e, orc, err, sizeof(err)) == CSJ_SUCCESS ? 0 : -1;
#ifdef HAVE_BASELINE
  case SYS_BASE_Q: return baseline_eval_queued(s->b, orc_eval, 20000, &v);
  case SYS_BASE_D: return baseline_eval_direct(s->b, orc_eval, &v);
#endif
  default: (void)orc_eval; (void)v; return -1;
  }
}

/* Workload bookkeeping: counters before and after, and the callback tag. */
static void
workload_begin(System *s, Probe *probe, int wl)
{
  if (s->e) {
    csj_engine_stats(s->e, &s->before);
  }
  s->probe_before = probe_xruns(probe);
  if (s->cost) {
    atomic_store(&s->cost->phase, wl);
  }
}

static void
workload_end(System *s, Probe *probe, SystemResult *r, int wl)
{
  if (s->cost) {
    atomic_store(&s->cost->phase, -1);
  }
  /* An xrun is reported after the late cycle: give it a moment. */
  bench_sleep_ms(100);
  r->ran[wl] = true;
  r->xruns_server[wl] = (int64_t)(probe_xruns(probe) - s->probe_before);
  if (s->e) {
    CsjStats after;
    csj_engine_stats(s->e, &after);
    r->xruns[wl] = (int64_t)(after.xruns - s->before.xruns);
    r->dropped[wl] = (int64_t)(after.dropped_cycles - s->before.dropped_cycles);
  } else {
    r->xruns[wl] = r->xruns_server[wl];
  }
}

static void
eval_code_text(char *out, size_t size)
{
  static unsigned serial;
  ++serial;
  snprintf(out, size, "gi__t%06u ftgen 0, 0, -1024, -2, 0\nreturn gi__t%06u", serial, serial);
}

/* ---- Workloads -------------------------------------------------------------- */

static void
run_evalcode(System *s, Probe *probe, SystemResult *r, const Config *cfg, BenchRng *rng)
{
  workload_begin(s, probe, WL_EVALCODE);
  char code[128];
  for (int i = 0; i < cfg->calls; ++i) {
    bench_sleep_ms(5.0 * bench_rng_uniform(rng));
    eval_code_text(code, sizeof(code));
    double value = NAN;
    const uint64_t t0 = bench_now_ns();
    const int rc = system_eval(s, code, &value);
    const uint64_t t1 = bench_now_ns();
    if (rc != 0 || isnan(value)) {
      ++r->eval_failures;
      continue;
    }
    samples_push(&r->eval_ms, (double)(t1 - t0) / 1e6);
  }
  workload_end(s, probe, r, WL_EVALCODE);
}

static void
run_events(System *s, Probe *probe, SystemResult *r, const Config *cfg, BenchRng *rng,
           int rate)
{
  /* Only system -> probe: without the impulse connection there is no loop
   * in the graph, so JACK always runs the system before the probe and the
   * probe hears a cycle's output in the same cycle. */
  probe_attach(probe, s->out_port, NULL);
  workload_begin(s, probe, WL_EVENTS);
  const double note[] = {2, 0, cfg->note_s, 0.5};
  for (int i = 0; i < cfg->events; ++i) {
    if (!probe_wait_silence(probe, 2, 2000)) {
      ++r->event_missed;
      continue;
    }
    bench_sleep_ms(5.0 * bench_rng_uniform(rng));
    atomic_store(&probe->detected, 0);
    const jack_nframes_t t = jack_frame_time(probe->client);
    const jack_nframes_t t_cc = probe_cycle_clock_now(probe);
    atomic_store_explicit(&probe->t_call, t, memory_order_relaxed);
    atomic_store_explicit(&probe->armed, 1, memory_order_release);
    if (system_event(s, note, 4) != 0 || !probe_wait_detect(probe, 2000)) {
      atomic_store(&probe->armed, 0);
      ++r->event_missed;
      continue;
    }
    const jack_nframes_t detect = atomic_load(&probe->t_detect);
    const int32_t d = (int32_t)(detect - t);
    const int32_t d_cc = (int32_t)(detect - t_cc);
    if (getenv("CSJ_BENCH_DEBUG")) {
      fprintf(stderr, "event: jack_frame_time %d, cycle clock %d frames\n", d, d_cc);
    }
    if (d_cc < 0 || d_cc > rate) {
      ++r->event_cc_discarded;
    } else {
      samples_push(&r->event_cc_frames, d_cc);
    }
    /* JACK2's dummy driver re-estimates its frame time after a late cycle,
     * so jack_frame_time() on another thread can be off: a difference below
     * zero or above a second is not a latency. */
    if (d < 0 || d > rate) {
      ++r->event_discarded;
      continue;
    }
    samples_push(&r->event_frames, d);
  }
  probe_wait_silence(probe, 2, 2000);
  workload_end(s, probe, r, WL_EVENTS);
  probe_attach(probe, s->out_port, s->in_port);
}

static void
run_roundtrip(System *s, Probe *probe, SystemResult *r, const Config *cfg, BenchRng *rng)
{
  workload_begin(s, probe, WL_ROUNDTRIP);
  for (int i = 0; i < cfg->impulses; ++i) {
    if (!probe_wait_silence(probe, 4, 2000)) {
      ++r->rt_missed;
      continue;
    }
    bench_sleep_ms(5.0 * bench_rng_uniform(rng));
    atomic_store(&probe->detected, 0);
    atomic_store(&probe->armed, 0);
    atomic_store_explicit(&probe->impulse, 1, memory_order_release);
    if (!probe_wait_detect(probe, 2000)) {
      atomic_store(&probe->impulse, 0);
      ++r->rt_missed;
      continue;
    }
    atomic_store(&probe->impulse, 0);
    const int32_t d =
      (int32_t)(atomic_load(&probe->t_detect) - atomic_load(&probe->t_call));
    samples_push(&r->rt_frames, d);
  }
  workload_end(s, probe, r, WL_ROUNDTRIP);
}

/* Runs jack_iodelay against the system's ports for a few seconds and parses
 * its last "total roundtrip latency" line. NaN and a reason if it cannot. */
static double
run_iodelay(System *s, Probe *probe, const char *server, double seconds, char *why)
{
  char log[96];
  snprintf(log, sizeof(log), "/tmp/csjb-iodelay-%d.txt", (int)getpid());
  const bool have_stdbuf = system("command -v stdbuf >/dev/null 2>&1") == 0;
  if (system("command -v jack_iodelay >/dev/null 2>&1") != 0) {
    snprintf(why, WHY_SIZE, "jack_iodelay is not installed");
    return NAN;
  }
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!freopen(log, "w", stdout) || !freopen("/dev/null", "w", stderr)) {
      _exit(126);
    }
    setenv("JACK_DEFAULT_SERVER", server, 1);
    setenv("JACK_NO_START_SERVER", "1", 1);
    if (have_stdbuf) {
      execlp("stdbuf", "stdbuf", "-o0", "jack_iodelay", (char *)NULL);
    } else {
      execlp("jack_iodelay", "jack_iodelay", (char *)NULL);
    }
    _exit(127);
  }
  if (pid < 0) {
    snprintf(why, WHY_SIZE, "fork failed");
    return NAN;
  }
  /* Its ports appear once it is up. */
  bool up = false;
  for (int i = 0; i < 50 && !up; ++i) {
    bench_sleep_ms(100);
    up = jack_port_by_name(probe->client, "jack_delay:out") &&
         jack_port_by_name(probe->client, "jack_delay:in");
  }
  probe_attach(probe, NULL, NULL);
  bool connected = up && jack_connect(probe->client, "jack_delay:out", s->in_port) == 0 &&
                   jack_connect(probe->client, s->out_port, "jack_delay:in") == 0;
  if (connected) {
    bench_sleep_ms(seconds * 1000.0);
  }
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  probe_attach(probe, s->out_port, s->in_port);
  if (!up || !connected) {
    snprintf(why, WHY_SIZE, "jack_iodelay did not start or could not be connected");
    unlink(log);
    return NAN;
  }
  FILE *f = fopen(log, "r");
  double value = NAN;
  if (f) {
    /* Lines end in \r or \n; keep the number before the last match. */
    char buf[65536];
    const size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    const char *last = NULL;
    for (const char *q = buf; (q = strstr(q, "total roundtrip latency")) != NULL; ++q) {
      last = q;
    }
    if (last) {
      const char *start = last;
      while (start > buf && start[-1] != '\n' && start[-1] != '\r') {
        --start;
      }
      double frames;
      if (sscanf(start, "%lf frames", &frames) == 1) {
        value = frames;
      }
    }
  }
  unlink(log);
  if (isnan(value)) {
    snprintf(why, WHY_SIZE, "jack_iodelay printed no total (signal below threshold?)");
  }
  return value;
}

static void
run_idle(System *s, Probe *probe, SystemResult *r, const Config *cfg)
{
  workload_begin(s, probe, WL_IDLE);
  bench_sleep_ms(cfg->idle_s * 1000.0);
  workload_end(s, probe, r, WL_IDLE);
}

static void
run_compile(System *s, Probe *probe, SystemResult *r, const char *orc, const char *orc_eval)
{
  /* Music first (not timed): three held voices on channel 2. */
  for (int v = 0; v < 3; ++v) {
    const double p[] = {3, 0, -1, 110.0 * (1 + 0.5 * v)};
    system_event(s, p, 4);
  }
  bench_sleep_ms(300);
  workload_begin(s, probe, WL_COMPILE);
  const uint64_t t0 = bench_now_ns();
  const int rc = system_compile(s, orc, orc_eval);
  r->compile_ms = (double)(bench_now_ns() - t0) / 1e6;
  r->compile_ok = rc == 0;
  if (rc != 0) {
    snprintf(r->compile_why, WHY_SIZE, "the compile failed (%d)", rc);
  }
  bench_sleep_ms(300); /* music goes on; a late xrun report still counts */
  workload_end(s, probe, r, WL_COMPILE);
}

static void
collect_cost(System *s, SystemResult *r)
{
  if (!s->cost) {
    return;
  }
  r->cb_measured = true;
  for (int w = 0; w < WL_COUNT; ++w) {
    const size_t n = atomic_load_explicit(&s->cost->count[w], memory_order_acquire);
    for (size_t i = 0; i < n; ++i) {
      samples_push(&r->cb_us[w], s->cost->samples[w][i] / 1000.0);
    }
  }
}

static void
run_system(int kind, const Config *cfg, PeriodResult *pr, Probe *probe, CostRecorder *cost,
           BenchRng *rng)
{
  SystemResult *r = &pr->sys[kind];
  char *orc = make_orchestra(pr->rate);
  char *big = bench_big_orchestra(100);
  char *big_eval = malloc(strlen(big) + 32);
  sprintf(big_eval, "%s\nreturn 1\n", big);
  r->iodelay_frames = NAN;
  r->compile_ms = NAN;
  snprintf(r->xruns_source, sizeof(r->xruns_source), "%s",
           is_csjack(kind) ? "csjack stats.xruns (JACK xrun callback)"
                           : "the bench's own JACK client's xrun callback (server-wide)");
  if (!is_csjack(kind)) {
    snprintf(r->cb_why, WHY_SIZE,
             "Csound's JACK driver only copies blocks in its callback; the work runs in the "
             "performance thread, which baseline.h does not time");
    snprintf(r->dropped_why, WHY_SIZE,
             "Csound's JACK driver counts no dropped cycles (its ring under-runs silently)");
  } else {
    r->dropped_measured = true;
  }
  if (!is_queued(kind)) {
    snprintf(r->event_why, WHY_SIZE, "%s",
             kind == SYS_CSJ_D ? "csjack has no direct score-event call (score_event is queued "
                                 "only): see csjack_queued"
                               : "baseline.h has no direct score event (CsoundPTscoreEvent is "
                                 "queued): see baseline_queued");
    snprintf(r->rt_why, WHY_SIZE, "no queued/direct distinction: see %s",
             sys_keys[kind == SYS_CSJ_D ? SYS_CSJ_Q : SYS_BASE_Q]);
    snprintf(r->iodelay_why, WHY_SIZE, "%s", r->rt_why);
  }

  System s;
  char why[WHY_SIZE] = "";
  if (!system_start(&s, kind, cfg, pr, orc, cost, why)) {
    snprintf(r->why, WHY_SIZE, "%s", why);
    free(orc);
    free(big);
    free(big_eval);
    return;
  }
  if (!probe_attach(probe, s.out_port, s.in_port)) {
    fprintf(stderr, "csjack-bench: warning: cannot connect the probe to %s / %s\n", s.out_port,
            s.in_port);
  }

  /* Warm-up, not counted: first calls pay for page faults and caches. */
  char code[128];
  for (int i = 0; i < (cfg->quick ? 5 : 20); ++i) {
    double v;
    eval_code_text(code, sizeof(code));
    system_eval(&s, code, &v);
    bench_sleep_ms(2);
  }
  if (is_queued(kind)) {
    const double note[] = {2, 0, cfg->note_s, 0.5};
    for (int i = 0; i < 3; ++i) {
      system_event(&s, note, 4);
      bench_sleep_ms(cfg->note_s * 1000 + 30);
    }
  }
  bench_sleep_ms(300);

  fprintf(stderr, "csjack-bench: period %d: %s ...\n", pr->period, sys_labels[kind]);
  run_idle(&s, probe, r, cfg);
  run_evalcode(&s, probe, r, cfg, rng);
  if (is_queued(kind)) {
    run_events(&s, probe, r, cfg, rng, pr->rate);
    run_roundtrip(&s, probe, r, cfg, rng);
    r->iodelay_frames = run_iodelay(&s, probe, pr->server, cfg->iodelay_s, r->iodelay_why);
  }
  run_compile(&s, probe, r, big, big_eval);
  collect_cost(&s, r);
  probe_attach(probe, NULL, NULL);
  system_stop(&s);
  free(orc);
  free(big);
  free(big_eval);
}

/* ---- The ring benchmark (another helper's) ------------------------------------- */

static void
run_ring(PeriodResult *pr, const Config *cfg)
{
#ifdef HAVE_RING_BENCH
  fprintf(stderr, "csjack-bench: the command ring ...\n");
  RingBenchResult r;
  ring_bench_run(4, cfg->quick ? 0.1 : 1.0, &r);
  snprintf(pr->ring_json, sizeof(pr->ring_json),
           "{\"ops_per_sec_1_producer\": %.6g, \"ops_per_sec_n_producers\": %.6g, "
           "\"producers\": %d, \"jack_ringbuffer_ops_per_sec\": %.6g, "
           "\"drain_ns_per_command\": %.6g}",
           r.ops_per_sec_1p, r.ops_per_sec_np, r.producers, r.jack_ringbuffer_ops_per_sec,
           r.drain_ns_per_command);
  snprintf(pr->ring_table, sizeof(pr->ring_table),
           "%-36s %12.3g items/s\n%-36s %12.3g items/s\n%-36s %12.3g items/s\n"
           "%-36s %12.1f ns per command\n",
           "command ring, 1 producer", r.ops_per_sec_1p, "", r.ops_per_sec_np,
           "jack_ringbuffer, 1 producer (SPSC)", r.jack_ringbuffer_ops_per_sec,
           "RT drain of 1024 queued commands", r.drain_ns_per_command);
  /* The second label names the producer count. */
  char label[64];
  snprintf(label, sizeof(label), "command ring, %d producers", r.producers);
  char *second = strchr(pr->ring_table, '\n') + 1;
  memcpy(second, label, strlen(label));
#else
  (void)cfg;
  snprintf(pr->ring_why, WHY_SIZE, "%s", RING_BENCH_MISSING);
#endif
}

/* ---- Output: the table ------------------------------------------------------- */

static void
print_na(const char *label, const char *why)
{
  printf("%-16s not measured: %s\n", label, why);
}

static double
frames_ms(double frames, int rate)
{
  return 1000.0 * frames / rate;
}

static void
print_table(PeriodResult *pr, const Config *cfg)
{
  printf("\n== csjack-bench: period %d, %d Hz (%.2f ms), ksmps %d, server %s%s ==\n", pr->period,
         pr->rate, frames_ms(pr->period, pr->rate), pr->ksmps, pr->server,
         pr->private_server ? " (private jackd -d dummy, --no-realtime)" : "");
  printf("baseline: CsoundPerformanceThread, -+rtaudio=jack -b%d -B%d\n", pr->baseline_b,
         pr->baseline_B);
  if (pr->why[0]) {
    printf("nothing measured: %s\n", pr->why);
    return;
  }

  printf("\nevalCode round trip (ms): %d calls, gaps uniform 0-5 ms\n", cfg->calls);
  printf("%-16s %5s %5s %8s %8s %8s %8s %8s %8s\n", "system", "n", "fail", "mean", "p50", "p90",
         "p99", "p99.9", "max");
  for (int k = 0; k < SYS_COUNT; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0]) {
      print_na(sys_labels[k], r->why);
      continue;
    }
    BenchSummary s = bench_summarise(r->eval_ms.v, r->eval_ms.n);
    printf("%-16s %5zu %5d %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", sys_labels[k], s.n,
           r->eval_failures, s.mean, s.p50, s.p90, s.p99, s.p999, s.max);
  }

  printf("\nScore event to first sound: %d events (a %.0f ms constant), frames [ms]; jitter in "
         "frames.\nThe call timed by jack_frame_time() (ft), and by the probe's cycle clock (cc, "
         "see README)\n",
         cfg->events, cfg->note_s * 1000);
  printf("%-16s %-3s %4s %4s %4s %7s %7s %7s %7s %8s %8s %8s %8s %7s %7s\n", "system", "clk", "n",
         "disc", "miss", "mean", "p50", "p99", "max", "mean ms", "p50 ms", "p99 ms", "max ms", "sd",
         "max-min");
  for (int k = 0; k < SYS_COUNT; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0] || r->event_why[0]) {
      print_na(sys_labels[k], r->why[0] ? r->why : r->event_why);
      continue;
    }
    for (int clock = 0; clock < 2; ++clock) {
      Samples *smp = clock ? &r->event_cc_frames : &r->event_frames;
      BenchSummary s = bench_summarise(smp->v, smp->n);
      printf("%-16s %-3s %4zu %4d %4d %7.1f %7.0f %7.0f %7.0f %8.2f %8.2f %8.2f %8.2f %7.1f "
             "%7.0f\n",
             clock ? "" : sys_labels[k], clock ? "cc" : "ft", s.n,
             clock ? r->event_cc_discarded : r->event_discarded, r->event_missed, s.mean, s.p50,
             s.p99, s.max, frames_ms(s.mean, pr->rate), frames_ms(s.p50, pr->rate),
             frames_ms(s.p99, pr->rate), frames_ms(s.max, pr->rate), s.sd, s.max - s.min);
    }
  }
  printf("(disc: discarded, a negative or > 1 s difference; miss: no sound within 2 s)\n");

  printf("\nAudio round trip through a thru orchestra (frames; the floor is one period, %d)\n",
         pr->period);
  printf("%-16s %4s %4s %7s %7s %7s %7s %14s\n", "system", "n", "miss", "min", "p50", "mean",
         "max", "jack_iodelay");
  for (int k = 0; k < SYS_COUNT; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0] || r->rt_why[0]) {
      print_na(sys_labels[k], r->why[0] ? r->why : r->rt_why);
      continue;
    }
    BenchSummary s = bench_summarise(r->rt_frames.v, r->rt_frames.n);
    char iod[64];
    if (isnan(r->iodelay_frames)) {
      snprintf(iod, sizeof(iod), "n/a");
    } else {
      snprintf(iod, sizeof(iod), "%.0f", r->iodelay_frames);
    }
    printf("%-16s %4zu %4d %7.0f %7.0f %7.1f %7.0f %14s\n", sys_labels[k], s.n, r->rt_missed,
           s.min, s.p50, s.mean, s.max, iod);
    if (isnan(r->iodelay_frames)) {
      printf("%-16s jack_iodelay not measured: %s\n", "", r->iodelay_why);
    }
  }

  printf("\nCallback time per cycle (us): csjack's own timing of its process callback, the "
         "previous\ncycle's, sampled each cycle; budget %.0f us\n",
         1e6 * pr->period / pr->rate);
  printf("%-16s %-22s %-22s %-22s %-22s\n", "system", "idle (empty ring)", "evalcode",
         "events", "compile + music");
  printf("%-16s %-22s %-22s %-22s %-22s\n", "", "p50/p99/max", "p50/p99/max", "p50/p99/max",
         "p50/p99/max");
  for (int k = 0; k < SYS_COUNT; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0] || !r->cb_measured) {
      print_na(sys_labels[k], r->why[0] ? r->why : r->cb_why);
      continue;
    }
    printf("%-16s", sys_labels[k]);
    const int cols[] = {WL_IDLE, WL_EVALCODE, WL_EVENTS, WL_COMPILE};
    for (int c = 0; c < 4; ++c) {
      Samples *smp = &r->cb_us[cols[c]];
      char cell[64];
      if (smp->n == 0) {
        snprintf(cell, sizeof(cell), "-");
      } else {
        BenchSummary s = bench_summarise(smp->v, smp->n);
        snprintf(cell, sizeof(cell), "%.0f/%.0f/%.0f", s.p50, s.p99, s.max);
      }
      printf(" %-22s", cell);
    }
    printf("\n");
  }

  printf("\nxruns and dropped cycles during each workload (csjack: its stats; baseline: the "
         "bench's\nJACK client, server-wide). 100-instrument compile while 3 voices play: "
         "caller's time\n");
  printf("%-16s %-26s %-26s %12s\n", "system", "xruns idle/eval/ev/rt/comp",
         "dropped idle/eval/ev/rt/comp", "compile ms");
  for (int k = 0; k < SYS_COUNT; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0]) {
      print_na(sys_labels[k], r->why);
      continue;
    }
    char xr[64] = "", dr[64] = "";
    size_t xl = 0, dl = 0;
    for (int w = 0; w < WL_COUNT; ++w) {
      const char *sep = w ? "/" : "";
      if (!r->ran[w]) {
        xl += (size_t)snprintf(xr + xl, sizeof(xr) - xl, "%s-", sep);
        dl += (size_t)snprintf(dr + dl, sizeof(dr) - dl, "%s-", sep);
        continue;
      }
      xl += (size_t)snprintf(xr + xl, sizeof(xr) - xl, "%s%lld", sep, (long long)r->xruns[w]);
      if (r->dropped_measured) {
        dl += (size_t)snprintf(dr + dl, sizeof(dr) - dl, "%s%lld", sep,
                               (long long)r->dropped[w]);
      }
    }
    if (!r->dropped_measured) {
      snprintf(dr, sizeof(dr), "n/a");
    }
    char cm[32];
    if (r->compile_ok) {
      snprintf(cm, sizeof(cm), "%.1f", r->compile_ms);
    } else {
      snprintf(cm, sizeof(cm), "failed");
    }
    printf("%-16s %-26s %-26s %12s\n", sys_labels[k], xr, dr, cm);
  }

  printf("\nThe command ring (bench/ring_bench)\n");
  if (pr->ring_table[0]) {
    fputs(pr->ring_table, stdout);
  } else {
    printf("not measured: %s\n", pr->ring_why);
  }

  /* Goals, reported against, not asserted. */
  if (pr->period == 256 && pr->rate == 48000) {
    printf("\nGoals at period 256 / 48 kHz (seed's baseline: queued mean 2.3 ms, p99 5.2 ms; "
           "direct\nmean 6.9 ms, p99 23 ms):\n");
    const int pairs[2][2] = {{SYS_CSJ_Q, SYS_BASE_Q}, {SYS_CSJ_D, SYS_BASE_D}};
    for (int i = 0; i < 2; ++i) {
      SystemResult *a = &pr->sys[pairs[i][0]], *b = &pr->sys[pairs[i][1]];
      if (a->why[0] || a->eval_ms.n == 0) {
        printf("  %s: not measured\n", sys_labels[pairs[i][0]]);
        continue;
      }
      BenchSummary sa = bench_summarise(a->eval_ms.v, a->eval_ms.n);
      if (b->why[0] || b->eval_ms.n == 0) {
        printf("  %s mean %.2f ms, p99 %.2f ms; %s not measured this run: compare with the "
               "seed's figures above\n",
               sys_labels[pairs[i][0]], sa.mean, sa.p99, sys_labels[pairs[i][1]]);
        continue;
      }
      BenchSummary sb = bench_summarise(b->eval_ms.v, b->eval_ms.n);
      printf("  %s mean %.2f / p99 %.2f ms vs %s mean %.2f / p99 %.2f ms: %s\n",
             sys_labels[pairs[i][0]], sa.mean, sa.p99, sys_labels[pairs[i][1]], sb.mean, sb.p99,
             sa.mean < sb.mean && sa.p99 < sb.p99 ? "beats it (mean and p99)"
                                                   : "does not beat it on both");
    }
  }

  printf("\nNot measured:\n");
  int none = 1;
  for (int k = 0; k < SYS_COUNT; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0]) {
      printf("  %s: everything: %s\n", sys_labels[k], r->why);
      none = 0;
      continue;
    }
    const char *items[][2] = {{"event latency", r->event_why},
                              {"round trip", r->rt_why},
                              {"jack_iodelay", r->iodelay_why},
                              {"callback time", r->cb_measured ? "" : r->cb_why},
                              {"dropped cycles", r->dropped_measured ? "" : r->dropped_why}};
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); ++i) {
      if (items[i][1][0] && !(i == 2 && !strcmp(items[i][1], r->rt_why))) {
        printf("  %s: %s: %s\n", sys_labels[k], items[i][0], items[i][1]);
        none = 0;
      }
    }
  }
  if (!pr->ring_table[0]) {
    printf("  ring: %s\n", pr->ring_why);
    none = 0;
  }
  if (none) {
    printf("  nothing\n");
  }
}

/* ---- Output: JSON ---------------------------------------------------------------- */

typedef struct {
  FILE *f;
  int depth;
  bool first[32];
} Json;

static void
j_sep(Json *j, const char *key)
{
  if (!j->first[j->depth]) {
    fputc(',', j->f);
  }
  j->first[j->depth] = false;
  fprintf(j->f, "\n%*s", 2 * j->depth, "");
  if (key) {
    fprintf(j->f, "\"%s\": ", key);
  }
}

static void
j_open(Json *j, const char *key, char c)
{
  j_sep(j, key);
  fputc(c, j->f);
  j->first[++j->depth] = true;
}

static void
j_close(Json *j, char c)
{
  const bool empty = j->first[j->depth];
  --j->depth;
  if (!empty) {
    fprintf(j->f, "\n%*s", 2 * j->depth, "");
  }
  fputc(c, j->f);
}

static void
j_num(Json *j, const char *key, double v)
{
  j_sep(j, key);
  if (isnan(v) || isinf(v)) {
    fputs("null", j->f);
  } else if (v == floor(v) && fabs(v) < 1e15) {
    fprintf(j->f, "%.0f", v);
  } else {
    fprintf(j->f, "%.6g", v);
  }
}

static void
j_null(Json *j, const char *key)
{
  j_sep(j, key);
  fputs("null", j->f);
}

/* One event-latency measurement (one clock): its percentiles in frames and
 * ms, and its jitter. NULL samples, or none, are written as nulls. */
static void
write_event_json(Json *j, const char *latency_key, const char *jitter_key, Samples *frames,
                 int discarded, int missed, int rate)
{
  if (!frames || frames->n == 0) {
    j_null(j, latency_key);
    j_null(j, jitter_key);
    return;
  }
  BenchSummary s = bench_summarise(frames->v, frames->n);
  j_open(j, latency_key, '{');
  j_num(j, "n", (double)s.n);
  j_num(j, "discarded", discarded);
  j_num(j, "missed", missed);
  j_num(j, "mean", s.mean);
  j_num(j, "p50", s.p50);
  j_num(j, "p99", s.p99);
  j_num(j, "max", s.max);
  j_num(j, "min", s.min);
  j_num(j, "mean_ms", frames_ms(s.mean, rate));
  j_num(j, "p50_ms", frames_ms(s.p50, rate));
  j_num(j, "p99_ms", frames_ms(s.p99, rate));
  j_num(j, "max_ms", frames_ms(s.max, rate));
  j_close(j, '}');
  j_open(j, jitter_key, '{');
  j_num(j, "sd", s.sd);
  j_num(j, "range", s.max - s.min);
  j_close(j, '}');
}

static void
j_bool(Json *j, const char *key, bool v)
{
  j_sep(j, key);
  fputs(v ? "true" : "false", j->f);
}

static void
j_str(Json *j, const char *key, const char *s)
{
  j_sep(j, key);
  fputc('"', j->f);
  for (; *s; ++s) {
    const unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      fprintf(j->f, "\\%c", c);
    } else if (c < 0x20) {
      fprintf(j->f, "\\u%04x", c);
    } else {
      fputc(c, j->f);
    }
  }
  fputc('"', j->f);
}

static void
j_raw(Json *j, const char *key, const char *raw)
{
  j_sep(j, key);
  fputs(raw, j->f);
}

/* {n, mean, p50, p90, p99, p99_9, max, min} or null when empty. */
static void
j_summary(Json *j, const char *key, Samples *smp, bool full)
{
  if (smp->n == 0) {
    j_null(j, key);
    return;
  }
  BenchSummary s = bench_summarise(smp->v, smp->n);
  j_open(j, key, '{');
  j_num(j, "n", (double)s.n);
  j_num(j, "mean", s.mean);
  j_num(j, "p50", s.p50);
  if (full) {
    j_num(j, "p90", s.p90);
  }
  j_num(j, "p99", s.p99);
  if (full) {
    j_num(j, "p99_9", s.p999);
  }
  j_num(j, "max", s.max);
  j_num(j, "min", s.min);
  j_close(j, '}');
}

static int64_t
sum_ran(const SystemResult *r, const int64_t *v)
{
  int64_t total = 0;
  for (int w = 0; w < WL_COUNT; ++w) {
    total += r->ran[w] ? v[w] : 0;
  }
  return total;
}

static void
j_system(Json *j, PeriodResult *pr, int k)
{
  SystemResult *r = &pr->sys[k];
  const char *whole = r->why[0] ? r->why : NULL;
  j_open(j, sys_keys[k], '{');

  /* evalcode_ms */
  if (whole || r->eval_ms.n == 0) {
    j_null(j, "evalcode_ms");
  } else {
    BenchSummary s = bench_summarise(r->eval_ms.v, r->eval_ms.n);
    j_open(j, "evalcode_ms", '{');
    j_num(j, "n", (double)s.n);
    j_num(j, "failures", r->eval_failures);
    j_num(j, "mean", s.mean);
    j_num(j, "p50", s.p50);
    j_num(j, "p90", s.p90);
    j_num(j, "p99", s.p99);
    j_num(j, "p99_9", s.p999);
    j_num(j, "max", s.max);
    j_num(j, "min", s.min);
    j_close(j, '}');
  }

  /* event_latency_frames, event_jitter_frames: by jack_frame_time() and by
   * the cycle clock, the same keys for both */
  const bool events_ok = !whole && !r->event_why[0];
  const bool ev = events_ok && r->event_frames.n > 0;
  const bool ev_cc = events_ok && r->event_cc_frames.n > 0;
  write_event_json(j, "event_latency_frames", "event_jitter_frames",
                   events_ok ? &r->event_frames : NULL, r->event_discarded, r->event_missed,
                   pr->rate);
  write_event_json(j, "event_latency_frames_cycle_clock", "event_jitter_frames_cycle_clock",
                   events_ok ? &r->event_cc_frames : NULL, r->event_cc_discarded,
                   r->event_missed, pr->rate);

  /* roundtrip_frames */
  const bool rt = !whole && !r->rt_why[0] && r->rt_frames.n > 0;
  if (!rt) {
    j_null(j, "roundtrip_frames");
  } else {
    BenchSummary s = bench_summarise(r->rt_frames.v, r->rt_frames.n);
    j_open(j, "roundtrip_frames", '{');
    j_num(j, "n", (double)s.n);
    j_num(j, "missed", r->rt_missed);
    j_num(j, "mean", s.mean);
    j_num(j, "p50", s.p50);
    j_num(j, "max", s.max);
    j_num(j, "min", s.min);
    j_close(j, '}');
  }
  j_num(j, "roundtrip_frames_iodelay", whole ? NAN : r->iodelay_frames);

  /* callback_us: empty ring; callback_us_load: compile while music plays */
  if (whole || !r->cb_measured) {
    j_null(j, "callback_us");
    j_null(j, "callback_us_load");
    j_null(j, "callback_us_by_workload");
  } else {
    j_summary(j, "callback_us", &r->cb_us[WL_IDLE], false);
    j_summary(j, "callback_us_load", &r->cb_us[WL_COMPILE], false);
    j_open(j, "callback_us_by_workload", '{');
    for (int w = 0; w < WL_COUNT; ++w) {
      j_summary(j, wl_keys[w], &r->cb_us[w], false);
    }
    j_close(j, '}');
  }

  /* xruns, dropped_cycles: totals over the workloads, and per workload */
  if (whole) {
    j_null(j, "xruns");
    j_null(j, "xruns_by_workload");
    j_null(j, "xruns_server");
    j_null(j, "dropped_cycles");
    j_null(j, "dropped_cycles_by_workload");
    j_null(j, "compile_ms");
  } else {
    j_num(j, "xruns", (double)sum_ran(r, r->xruns));
    j_open(j, "xruns_by_workload", '{');
    for (int w = 0; w < WL_COUNT; ++w) {
      r->ran[w] ? j_num(j, wl_keys[w], (double)r->xruns[w]) : j_null(j, wl_keys[w]);
    }
    j_close(j, '}');
    j_str(j, "xruns_source", r->xruns_source);
    j_num(j, "xruns_server", (double)sum_ran(r, r->xruns_server));
    if (r->dropped_measured) {
      j_num(j, "dropped_cycles", (double)sum_ran(r, r->dropped));
      j_open(j, "dropped_cycles_by_workload", '{');
      for (int w = 0; w < WL_COUNT; ++w) {
        r->ran[w] ? j_num(j, wl_keys[w], (double)r->dropped[w]) : j_null(j, wl_keys[w]);
      }
      j_close(j, '}');
    } else {
      j_null(j, "dropped_cycles");
      j_null(j, "dropped_cycles_by_workload");
    }
    j_num(j, "compile_ms", r->compile_ok ? r->compile_ms : NAN);
  }

  /* not_measured: a reason for every null above */
  j_open(j, "not_measured", '{');
  if (whole) {
    j_str(j, "all", whole);
  } else {
    if (r->eval_ms.n == 0) {
      j_str(j, "evalcode_ms", "every call failed");
    }
    if (!ev) {
      const char *w = r->event_why[0] ? r->event_why : "no event produced a valid latency";
      j_str(j, "event_latency_frames", w);
      j_str(j, "event_jitter_frames", w);
    }
    if (!ev_cc) {
      const char *w = r->event_why[0] ? r->event_why : "no event produced a valid latency";
      j_str(j, "event_latency_frames_cycle_clock", w);
      j_str(j, "event_jitter_frames_cycle_clock", w);
    }
    if (!rt) {
      j_str(j, "roundtrip_frames", r->rt_why[0] ? r->rt_why : "no impulse came back");
    }
    if (isnan(r->iodelay_frames)) {
      j_str(j, "roundtrip_frames_iodelay", r->iodelay_why[0] ? r->iodelay_why : "unknown");
    }
    if (!r->cb_measured) {
      j_str(j, "callback_us", r->cb_why);
      j_str(j, "callback_us_load", r->cb_why);
      j_str(j, "callback_us_by_workload", r->cb_why);
    }
    if (!r->dropped_measured) {
      j_str(j, "dropped_cycles", r->dropped_why);
      j_str(j, "dropped_cycles_by_workload", r->dropped_why);
    }
    if (!r->compile_ok) {
      j_str(j, "compile_ms", r->compile_why);
    }
  }
  j_close(j, '}');
  j_close(j, '}');
}

static void
j_period(Json *j, const char *key, PeriodResult *pr, const Config *cfg)
{
  j_open(j, key, '{');
  j_num(j, "period", pr->period);
  j_num(j, "rate", pr->rate);
  j_open(j, "systems", '{');
  for (int k = 0; k < SYS_COUNT; ++k) {
    j_system(j, pr, k);
  }
  j_close(j, '}');
  j_num(j, "ksmps", pr->ksmps);
  j_str(j, "server", pr->server);
  j_bool(j, "private_server", pr->private_server);
  j_open(j, "baseline_options", '{');
  j_num(j, "b", pr->baseline_b);
  j_num(j, "B", pr->baseline_B);
  j_close(j, '}');
  j_open(j, "settings", '{');
  j_num(j, "calls", cfg->calls);
  j_num(j, "events", cfg->events);
  j_num(j, "impulses", cfg->impulses);
  j_num(j, "note_ms", cfg->note_s * 1000);
  j_num(j, "idle_s", cfg->idle_s);
  j_num(j, "gap_ms_max", 5);
  j_bool(j, "quick", cfg->quick);
  j_num(j, "seed", (double)cfg->seed);
  j_close(j, '}');
  if (pr->ring_json[0]) {
    j_raw(j, "ring", pr->ring_json);
  } else {
    j_null(j, "ring");
  }
  j_open(j, "not_measured", '{');
  if (pr->why[0]) {
    j_str(j, "all", pr->why);
  }
  if (!pr->ring_json[0]) {
    j_str(j, "ring", pr->ring_why);
  }
  j_close(j, '}');
  {
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
    j_str(j, "date", date);
    struct utsname u;
    char machine[256] = "unknown";
    if (uname(&u) == 0) {
      snprintf(machine, sizeof(machine), "%s %s %s, %ld CPUs", u.sysname, u.release, u.machine,
               sysconf(_SC_NPROCESSORS_ONLN));
    }
    j_str(j, "machine", machine);
    j_str(j, "csjack_version", CSJ_VERSION_STRING);
  }
  j_close(j, '}');
}

static bool
write_json(const char *path, PeriodResult *prs, int n, const Config *cfg)
{
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "csjack-bench: cannot write %s: %s\n", path, strerror(errno));
    return false;
  }
  Json j = {.f = f, .depth = 0};
  j.first[0] = true;
  if (cfg->sweep) {
    j_open(&j, NULL, '[');
    for (int i = 0; i < n; ++i) {
      j_period(&j, NULL, &prs[i], cfg);
    }
    j_close(&j, ']');
  } else {
    j_period(&j, NULL, &prs[0], cfg);
  }
  fputc('\n', f);
  return fclose(f) == 0;
}

/* ---- Output: plots -------------------------------------------------------------- */

static void
write_cdf(const char *path, Samples *smp)
{
  FILE *f = fopen(path, "w");
  if (!f) {
    return;
  }
  fprintf(f, "# value cumulative_fraction\n");
  if (smp->n > 0) {
    bench_summarise(smp->v, smp->n); /* sorts */
    for (size_t i = 0; i < smp->n; ++i) {
      fprintf(f, "%.6g %.6g\n", smp->v[i], (double)(i + 1) / (double)smp->n);
    }
  }
  fclose(f);
}

static void
write_plots(const char *dir, PeriodResult *prs, int n)
{
  mkdir(dir, 0777);
  for (int i = 0; i < n; ++i) {
    PeriodResult *pr = &prs[i];
    for (int k = 0; k < SYS_COUNT; ++k) {
      char path[1024];
      snprintf(path, sizeof(path), "%s/p%d_evalcode_%s.dat", dir, pr->period, sys_keys[k]);
      write_cdf(path, &pr->sys[k].eval_ms);
      snprintf(path, sizeof(path), "%s/p%d_event_%s.dat", dir, pr->period, sys_keys[k]);
      write_cdf(path, &pr->sys[k].event_frames);
      snprintf(path, sizeof(path), "%s/p%d_event_cc_%s.dat", dir, pr->period, sys_keys[k]);
      write_cdf(path, &pr->sys[k].event_cc_frames);
    }
  }
  const char *script = getenv("CSJ_BENCH_PLOT_GP");
  if (!script) {
    script = CSJ_BENCH_PLOT_GP;
#ifdef CSJ_BENCH_PLOT_GP_INSTALLED
    if (access(script, R_OK) != 0) {
      script = CSJ_BENCH_PLOT_GP_INSTALLED; /* an installed csjack-bench */
    }
#endif
  }
  if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
    printf("\nplots: not drawn (gnuplot is not installed: apt-get install gnuplot-nox); the "
           "data is in %s, draw it with gnuplot -e \"dir='%s'; period=N\" %s\n",
           dir, dir, script);
    return;
  }
  for (int i = 0; i < n; ++i) {
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "gnuplot -e \"dir='%s'; period=%d; rate=%d\" '%s'", dir,
             prs[i].period, prs[i].rate, script);
    if (system(cmd) != 0) {
      printf("\nplots: gnuplot failed for period %d (%s)\n", prs[i].period, cmd);
    } else {
      printf("\nplots: %s/p%d_evalcode_cdf.svg, %s/p%d_event_latency_cdf.svg\n", dir,
             prs[i].period, dir, prs[i].period);
    }
  }
}

/* ---- Main -------------------------------------------------------------------------- */

static void
usage(FILE *f, const char *argv0)
{
  fprintf(f,
          "usage: %s [OPTIONS]\n"
          "  --period N          JACK period of the private server (default 256)\n"
          "  --rate N            sample rate of the private server (default 48000)\n"
          "  --sweep A,B,...     run at several periods (a private server each)\n"
          "  --server NAME       use a running server instead (period and rate are its own)\n"
          "  --calls N           evalCode calls per system (default 500)\n"
          "  --events N          score events per queued system (default 200)\n"
          "  --impulses N        impulses per queued system (default 20)\n"
          "  --idle S            seconds of idle callback timing (default 3)\n"
          "  --baseline-b N      the baseline's -b (default: the period)\n"
          "  --baseline-B N      the baseline's -B (default: max(2 b, 256))\n"
          "  --json FILE         write the results as JSON\n"
          "  --plot DIR          write CDF data and draw SVG plots with gnuplot\n"
          "  --seed N            seed of the random gaps (default 1)\n"
          "  --quick             a short smoke run (20 calls, 20 events, 1 s idle)\n"
          "  -h, --help          this help\n"
          "Environment: CSJ_BENCH_VERBOSE=1 shows Csound's messages, CSJ_BENCH_DEBUG=1 prints\n"
          "every event's latency by both clocks, BASELINE_VERBOSE=1 the baseline's messages.\n",
          argv0);
}

static int
parse_sweep(Config *cfg, const char *arg)
{
  char *copy = strdup(arg);
  int n = 0;
  for (char *tok = strtok(copy, ","); tok && n < MAX_SWEEP; tok = strtok(NULL, ",")) {
    const int p = atoi(tok);
    if (p < 16 || p > 8192) {
      free(copy);
      return -1;
    }
    cfg->periods[n++] = p;
  }
  free(copy);
  cfg->n_periods = n;
  return n > 0 ? 0 : -1;
}

static void
run_period(const Config *cfg, int period, PeriodResult *pr, CostRecorder *cost, BenchRng *rng)
{
  memset(pr, 0, sizeof(*pr));
  pr->period = period;
  pr->rate = cfg->rate;
  pr->ksmps = ksmps;
  pid_t jackd = 0;
  if (cfg->server) {
    snprintf(pr->server, sizeof(pr->server), "%s", cfg->server);
  } else {
    bench_unique_name(pr->server, sizeof(pr->server), "csjb-server");
    pr->private_server = true;
    jackd = bench_start_private_server(pr->server, period, cfg->rate);
    if (jackd < 0 || !bench_wait_for_server(pr->server, 10000)) {
      snprintf(pr->why, WHY_SIZE, "the private jackd did not start (see /tmp/%s.log)",
               pr->server);
      bench_stop_private_server(jackd);
      return;
    }
  }
  Probe probe;
  char why[WHY_SIZE];
  if (!probe_open(&probe, pr->server, why)) {
    snprintf(pr->why, WHY_SIZE, "%s", why);
    bench_stop_private_server(jackd);
    return;
  }
  pr->period = (int)jack_get_buffer_size(probe.client);
  pr->rate = (int)jack_get_sample_rate(probe.client);
  if (cfg->server && (pr->period != period || pr->rate != cfg->rate)) {
    fprintf(stderr, "csjack-bench: server %s runs at period %d, %d Hz: measuring that\n",
            pr->server, pr->period, pr->rate);
  }
  pr->baseline_b = cfg->baseline_b > 0 ? cfg->baseline_b : pr->period;
  pr->baseline_B =
    cfg->baseline_B > 0 ? cfg->baseline_B : (2 * pr->baseline_b > 256 ? 2 * pr->baseline_b : 256);
  for (int k = 0; k < SYS_COUNT; ++k) {
    run_system(k, cfg, pr, &probe, cost, rng);
  }
  probe_close(&probe);
  bench_stop_private_server(jackd);
}

int
main(int argc, char **argv)
{
  Config cfg = {
    .periods = {256},
    .n_periods = 1,
    .rate = 48000,
    .calls = 500,
    .events = 200,
    .impulses = 20,
    .idle_s = 3,
    .iodelay_s = 3,
    .seed = 1,
    .note_s = 0.02,
  };
  int calls = -1, events = -1, impulses = -1;
  double idle = -1;
  enum { OPT_BB = 256, OPT_BBB, OPT_CALLS, OPT_EVENTS, OPT_IMPULSES, OPT_IDLE, OPT_SEED };
  static const struct option options[] = {
    {"period", required_argument, NULL, 'p'},
    {"rate", required_argument, NULL, 'r'},
    {"sweep", required_argument, NULL, 'w'},
    {"server", required_argument, NULL, 's'},
    {"calls", required_argument, NULL, OPT_CALLS},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"impulses", required_argument, NULL, OPT_IMPULSES},
    {"idle", required_argument, NULL, OPT_IDLE},
    {"baseline-b", required_argument, NULL, OPT_BB},
    {"baseline-B", required_argument, NULL, OPT_BBB},
    {"json", required_argument, NULL, 'j'},
    {"plot", required_argument, NULL, 'o'},
    {"seed", required_argument, NULL, OPT_SEED},
    {"quick", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'p': cfg.periods[0] = atoi(optarg); cfg.n_periods = 1; break;
    case 'r': cfg.rate = atoi(optarg); break;
    case 'w':
      if (parse_sweep(&cfg, optarg) != 0) {
        fprintf(stderr, "csjack-bench: bad --sweep list: %s\n", optarg);
        return 2;
      }
      cfg.sweep = true;
      break;
    case 's': cfg.server = optarg; break;
    case OPT_CALLS: calls = atoi(optarg); break;
    case OPT_EVENTS: events = atoi(optarg); break;
    case OPT_IMPULSES: impulses = atoi(optarg); break;
    case OPT_IDLE: idle = atof(optarg); break;
    case OPT_BB: cfg.baseline_b = atoi(optarg); break;
    case OPT_BBB: cfg.baseline_B = atoi(optarg); break;
    case 'j': cfg.json = optarg; break;
    case 'o': cfg.plot = optarg; break;
    case OPT_SEED: cfg.seed = strtoull(optarg, NULL, 10); break;
    case 'q': cfg.quick = true; break;
    case 'h': usage(stdout, argv[0]); return 0;
    default: usage(stderr, argv[0]); return 2;
    }
  }
  if (optind < argc) {
    usage(stderr, argv[0]);
    return 2;
  }
  if (cfg.quick) {
    cfg.calls = 20;
    cfg.events = 20;
    cfg.impulses = 5;
    cfg.idle_s = 1;
    cfg.iodelay_s = 1.5;
  }
  if (calls >= 0) cfg.calls = calls;
  if (events >= 0) cfg.events = events;
  if (impulses >= 0) cfg.impulses = impulses;
  if (idle >= 0) cfg.idle_s = idle;
  if (cfg.server && cfg.sweep && cfg.n_periods > 1) {
    fprintf(stderr, "csjack-bench: --sweep needs private servers: it cannot change the period "
                    "of server %s\n", cfg.server);
    return 2;
  }
  if (cfg.rate < 8000 || cfg.rate > 384000 || cfg.calls < 0 || cfg.events < 0 ||
      cfg.impulses < 0) {
    fprintf(stderr, "csjack-bench: bad numeric option\n");
    return 2;
  }
  setenv("JACK_NO_START_SERVER", "1", 1);
  signal(SIGPIPE, SIG_IGN);

  CostRecorder *cost = calloc(1, sizeof(*cost));
  for (int w = 0; w < WL_COUNT; ++w) {
    cost->samples[w] = calloc(COST_CAP, sizeof(uint32_t));
    if (!cost->samples[w]) {
      fprintf(stderr, "csjack-bench: out of memory\n");
      return 1;
    }
  }
  BenchRng rng;
  bench_rng_seed(&rng, cfg.seed);
  PeriodResult *prs = calloc((size_t)cfg.n_periods, sizeof(*prs));
  int failures = 0;
  /* The ring's figures do not depend on JACK: measured once, reported with
   * every period. */
  PeriodResult ring;
  memset(&ring, 0, sizeof(ring));
  run_ring(&ring, &cfg);
  for (int i = 0; i < cfg.n_periods; ++i) {
    run_period(&cfg, cfg.periods[i], &prs[i], cost, &rng);
    memcpy(prs[i].ring_json, ring.ring_json, sizeof(ring.ring_json));
    memcpy(prs[i].ring_table, ring.ring_table, sizeof(ring.ring_table));
    memcpy(prs[i].ring_why, ring.ring_why, sizeof(ring.ring_why));
    print_table(&prs[i], &cfg);
    failures += prs[i].why[0] != 0;
    fflush(stdout);
  }
  if (cfg.json && !write_json(cfg.json, prs, cfg.n_periods, &cfg)) {
    return 1;
  }
  if (cfg.plot) {
    write_plots(cfg.plot, prs, cfg.n_periods);
  }
  /* Results stay allocated until exit: the process ends here. */
  return failures == cfg.n_periods ? 1 : 0;
}
