/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The workloads, and one system's run through them (run_system): a fresh
 * instance, a warm-up that is not counted, then bench_workloads[] in order.
 * Each workload is bracketed by workload_begin/end, which record xruns and
 * dropped cycles and tag csjack's callback times with the workload.
 *
 * Timing of events and impulses is in JACK frame time, taken by the probe
 * (probe.h): the call is stamped with jack_frame_time() on the calling
 * thread and with the probe's cycle clock; the probe's process callback
 * finds the first non-zero sample of the system's channel 1.
 */

#include "workloads.h"

#include "bench_config.h"
#include "bench_util.h"

#ifdef HAVE_RING_BENCH
#  include "ring_bench.h"
#endif

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const wl_keys[WL_COUNT] = {"idle",      "evalcode", "events",
                                        "roundtrip", "compile",  "evalcode_music"};

/* What a workload runs on. */
typedef struct {
  SystemRun *s;
  BenchProbe *probe;
  SystemResult *r;
  const Config *cfg;
  BenchRng *rng;
  int rate;
  const char *server;
  const char *big;      /* the 100-instrument orchestra */
  const char *big_eval; /* the same for evalCode ("return 1" at the end) */
} WorkloadRun;

/* ---- The orchestra ---------------------------------------------------------------- */

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
           rate, BENCH_KSMPS);
  return text;
}

/* ---- Results -------------------------------------------------------------------- */

void
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

/* ---- Bookkeeping and the workloads ----------------------------------------------- */

/* Workload bookkeeping: counters before and after, and the callback tag. */
static void
workload_begin(SystemRun *s, BenchProbe *probe, int wl)
{
  if (s->sys->counters) {
    s->sys->counters(s, &s->xruns_before, &s->dropped_before);
  }
  s->probe_before = bench_probe_xruns(probe);
  if (s->cost) {
    atomic_store(&s->cost->phase, wl);
  }
}

static void
workload_end(SystemRun *s, BenchProbe *probe, SystemResult *r, int wl)
{
  if (s->cost) {
    atomic_store(&s->cost->phase, -1);
  }
  /* An xrun is reported after the late cycle: give it a moment. */
  bench_sleep_ms(100);
  r->ran[wl] = true;
  r->xruns_server[wl] = (int64_t)(bench_probe_xruns(probe) - s->probe_before);
  if (s->sys->counters) {
    uint64_t xruns, dropped;
    s->sys->counters(s, &xruns, &dropped);
    r->xruns[wl] = (int64_t)(xruns - s->xruns_before);
    r->dropped[wl] = (int64_t)(dropped - s->dropped_before);
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

static void
run_evalcode_into(const WorkloadRun *w, int wl, Samples *out, int *failures)
{
  SystemRun *s = w->s;
  BenchProbe *probe = w->probe;
  SystemResult *r = w->r;
  const Config *cfg = w->cfg;
  BenchRng *rng = w->rng;
  workload_begin(s, probe, wl);
  char code[128];
  for (int i = 0; i < cfg->calls; ++i) {
    bench_sleep_ms(5.0 * bench_rng_uniform(rng));
    eval_code_text(code, sizeof(code));
    double value = NAN;
    const uint64_t t0 = bench_now_ns();
    const int rc = s->sys->eval(s, code, &value);
    const uint64_t t1 = bench_now_ns();
    if (rc != 0 || isnan(value)) {
      ++*failures;
      continue;
    }
    samples_push(out, (double)(t1 - t0) / 1e6);
  }
  workload_end(s, probe, r, wl);
}

static void
run_evalcode(const WorkloadRun *w)
{
  run_evalcode_into(w, WL_EVALCODE, &w->r->eval_ms, &w->r->eval_failures);
}

/* The same calls while music plays: the compile workload's three held
 * voices (a loaded callback narrows the window between two cycles). */
static void
run_evalcode_music(const WorkloadRun *w)
{
  run_evalcode_into(w, WL_EVALCODE_MUSIC, &w->r->eval_music_ms, &w->r->eval_music_failures);
}

static void
run_events(const WorkloadRun *w)
{
  SystemRun *s = w->s;
  BenchProbe *probe = w->probe;
  SystemResult *r = w->r;
  const Config *cfg = w->cfg;
  BenchRng *rng = w->rng;
  const int rate = w->rate;
  /* Only system -> probe: without the impulse connection there is no loop
   * in the graph, so JACK always runs the system before the probe and the
   * probe hears a cycle's output in the same cycle. */
  bench_probe_attach(probe, s->out_port, NULL);
  workload_begin(s, probe, WL_EVENTS);
  const double note[] = {2, 0, cfg->note_s, 0.5};
  for (int i = 0; i < cfg->events; ++i) {
    if (!bench_probe_wait_silence(probe, 2, 2000)) {
      ++r->event_missed;
      continue;
    }
    bench_sleep_ms(5.0 * bench_rng_uniform(rng));
    atomic_store(&probe->detected, 0);
    const jack_nframes_t t = jack_frame_time(probe->client);
    const jack_nframes_t t_cc = bench_probe_cycle_clock_now(probe);
    atomic_store_explicit(&probe->t_call, t, memory_order_relaxed);
    atomic_store_explicit(&probe->armed, 1, memory_order_release);
    if (s->sys->event(s, note, 4) != 0 || !bench_probe_wait_detect(probe, 2000)) {
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
  bench_probe_wait_silence(probe, 2, 2000);
  workload_end(s, probe, r, WL_EVENTS);
  bench_probe_attach(probe, s->out_port, s->in_port);
}

static void
run_impulses(const WorkloadRun *w)
{
  SystemRun *s = w->s;
  BenchProbe *probe = w->probe;
  SystemResult *r = w->r;
  const Config *cfg = w->cfg;
  BenchRng *rng = w->rng;
  workload_begin(s, probe, WL_ROUNDTRIP);
  for (int i = 0; i < cfg->impulses; ++i) {
    if (!bench_probe_wait_silence(probe, 4, 2000)) {
      ++r->rt_missed;
      continue;
    }
    bench_sleep_ms(5.0 * bench_rng_uniform(rng));
    atomic_store(&probe->detected, 0);
    atomic_store(&probe->armed, 0);
    atomic_store_explicit(&probe->impulse, 1, memory_order_release);
    if (!bench_probe_wait_detect(probe, 2000)) {
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
run_iodelay(SystemRun *s, BenchProbe *probe, const char *server, double seconds, char *why)
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
  bench_probe_attach(probe, NULL, NULL);
  bool connected = up && jack_connect(probe->client, "jack_delay:out", s->in_port) == 0 &&
                   jack_connect(probe->client, s->out_port, "jack_delay:in") == 0;
  if (connected) {
    bench_sleep_ms(seconds * 1000.0);
  }
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  bench_probe_attach(probe, s->out_port, s->in_port);
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

/* The round trip: impulses through the thru orchestra, then jack_iodelay's
 * figure for the same ports. */
static void
run_roundtrip(const WorkloadRun *w)
{
  run_impulses(w);
  w->r->iodelay_frames =
    run_iodelay(w->s, w->probe, w->server, w->cfg->iodelay_s, w->r->iodelay_why);
}

static void
run_idle(const WorkloadRun *w)
{
  SystemRun *s = w->s;
  BenchProbe *probe = w->probe;
  SystemResult *r = w->r;
  const Config *cfg = w->cfg;
  workload_begin(s, probe, WL_IDLE);
  bench_sleep_ms(cfg->idle_s * 1000.0);
  workload_end(s, probe, r, WL_IDLE);
}

static void
run_compile(const WorkloadRun *w)
{
  SystemRun *s = w->s;
  BenchProbe *probe = w->probe;
  SystemResult *r = w->r;
  /* Music first (not timed): three held voices on channel 2. */
  for (int v = 0; v < 3; ++v) {
    const double p[] = {3, 0, -1, 110.0 * (1 + 0.5 * v)};
    s->sys->event(s, p, 4);
  }
  bench_sleep_ms(300);
  workload_begin(s, probe, WL_COMPILE);
  const uint64_t t0 = bench_now_ns();
  const int rc = s->sys->compile(s, w->big, w->big_eval);
  r->compile_ms = (double)(bench_now_ns() - t0) / 1e6;
  r->compile_ok = rc == 0;
  if (rc != 0) {
    snprintf(r->compile_why, WHY_SIZE, "the compile failed (%d)", rc);
  }
  bench_sleep_ms(300); /* music goes on; a late xrun report still counts */
  workload_end(s, probe, r, WL_COMPILE);
}

/* ---- The table ------------------------------------------------------------------ */

typedef struct {
  int id;           /* WL_*: where its figures go */
  bool queued_only; /* skipped on a system without queued events */
  void (*run)(const WorkloadRun *w);
} Workload;

/* In the order they run on each system. */
static const Workload bench_workloads[] = {
  {WL_IDLE, false, run_idle},           /* an idle stretch: empty ring */
  {WL_EVALCODE, false, run_evalcode},   /* evalCode round trips */
  {WL_EVENTS, true, run_events},        /* score event to first sound */
  {WL_ROUNDTRIP, true, run_roundtrip},  /* impulse round trip + jack_iodelay */
  {WL_COMPILE, false, run_compile},     /* 100 instruments while music plays */
  {WL_EVALCODE_MUSIC, false, run_evalcode_music}, /* evalCode, the voices still on */
};

static void
collect_cost(SystemRun *s, SystemResult *r)
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

void
run_system(const BenchSystem *sys, SystemResult *r, const Config *cfg, PeriodResult *pr,
           BenchProbe *probe, CostRecorder *cost, BenchRng *rng)
{
  char *orc = make_orchestra(pr->rate);
  char *big = bench_big_orchestra(100);
  char *big_eval = malloc(strlen(big) + 32);
  sprintf(big_eval, "%s\nreturn 1\n", big);
  r->iodelay_frames = NAN;
  r->compile_ms = NAN;
  snprintf(r->xruns_source, sizeof(r->xruns_source), "%s", sys->xruns_source);
  if (sys->callback_why) {
    snprintf(r->cb_why, WHY_SIZE, "%s", sys->callback_why);
  }
  if (sys->dropped_why) {
    snprintf(r->dropped_why, WHY_SIZE, "%s", sys->dropped_why);
  } else {
    r->dropped_measured = true;
  }
  if (!sys->queued) {
    snprintf(r->event_why, WHY_SIZE, "%s", sys->events_why);
    snprintf(r->rt_why, WHY_SIZE, "no queued/direct distinction: see %s", sys->twin);
    snprintf(r->iodelay_why, WHY_SIZE, "%s", r->rt_why);
  }

  SystemRun s = {.sys = sys};
  const SystemSetup setup = {.server = pr->server,
                             .baseline_b = pr->baseline_b,
                             .baseline_B = pr->baseline_B,
                             .orchestra = orc,
                             .cost = cost};
  char why[WHY_SIZE] = "";
  if (!sys->open(&s, &setup, why)) {
    snprintf(r->why, WHY_SIZE, "%s", why);
    free(orc);
    free(big);
    free(big_eval);
    return;
  }
  if (!bench_probe_attach(probe, s.out_port, s.in_port)) {
    fprintf(stderr, "csjack-bench: warning: cannot connect the probe to %s / %s\n", s.out_port,
            s.in_port);
  }

  /* Warm-up, not counted: first calls pay for page faults and caches. */
  char code[128];
  for (int i = 0; i < (cfg->quick ? 5 : 20); ++i) {
    double v;
    eval_code_text(code, sizeof(code));
    sys->eval(&s, code, &v);
    bench_sleep_ms(2);
  }
  if (sys->queued) {
    const double note[] = {2, 0, cfg->note_s, 0.5};
    for (int i = 0; i < 3; ++i) {
      sys->event(&s, note, 4);
      bench_sleep_ms(cfg->note_s * 1000 + 30);
    }
  }
  bench_sleep_ms(300);

  fprintf(stderr, "csjack-bench: period %d: %s ...\n", pr->period, sys->label);
  const WorkloadRun w = {.s = &s,
                         .probe = probe,
                         .r = r,
                         .cfg = cfg,
                         .rng = rng,
                         .rate = pr->rate,
                         .server = pr->server,
                         .big = big,
                         .big_eval = big_eval};
  for (size_t i = 0; i < sizeof(bench_workloads) / sizeof(bench_workloads[0]); ++i) {
    if (!bench_workloads[i].queued_only || sys->queued) {
      bench_workloads[i].run(&w);
    }
  }
  collect_cost(&s, r);
  bench_probe_attach(probe, NULL, NULL);
  sys->close(&s);
  free(orc);
  free(big);
  free(big_eval);
}

/* ---- The ring benchmark (another helper's) ------------------------------------- */

void
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
