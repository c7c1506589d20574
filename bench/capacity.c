/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack-bench --capacity: voices of a reference instrument per system
 * before the first late callback or xrun (see capacity.h).
 */

#include "capacity.h"

#include "bench_config.h"
#include "bench_util.h"
#include "csjack.h"
#include "workloads.h"

#ifdef HAVE_BASELINE
#include "baseline.h"
#endif

#include <jack/jack.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CAP_CSJACK, CAP_CSJACK_J2, CAP_BASELINE, CAP_COUNT };

static const char *const cap_keys[CAP_COUNT] = {"csjack", "csjack_j2", "baseline"};

/* The finest step of the bisection, in voices. */
#define CAP_RESOLUTION 8
/* Steps kept per system (doubling and bisection, retries included). */
#define CAP_MAX_STEPS 48

typedef struct {
  int voices;
  uint64_t late;  /* csjack: callbacks_late; baseline: rtjack's xrun warnings */
  uint64_t xruns; /* csjack: stats.xruns; baseline: the probe's server xruns */
  bool ok;
} CapStep;

typedef struct {
  int kind;
  CsjEngine *e;
#ifdef HAVE_BASELINE
  Baseline *b;
#endif
  BenchProbe *probe;
  int voices; /* held now */
  int latency_frames;
  CapStep steps[CAP_MAX_STEPS];
  int n_steps;
  int capacity;      /* the most voices that held; -1: not measured */
  int first_failure; /* the fewest voices that failed; -1: none */
  char why[WHY_SIZE];
} CapRun;

/* ---- The systems --------------------------------------------------------------------- */

static char *
cap_orchestra(int rate)
{
  char *text = malloc(1024);
  snprintf(text, 1024,
           "sr = %d\nksmps = %d\nnchnls = 2\nnchnls_i = 1\n0dbfs = 1\n"
           "instr 10\n"
           "  kenv madsr 0.01, 0.1, 0.8, 0.2\n"
           "  asig vco2 0.05, p4\n"
           "  afil moogladder asig, 2000 + p5, 0.6\n"
           "  outs afil*kenv, afil*kenv\n"
           "endin\n",
           rate, BENCH_KSMPS);
  return text;
}

static void
cap_quiet(void *data, int attr, const char *text)
{
  (void)data;
  (void)attr;
  if (getenv("CSJ_BENCH_VERBOSE")) {
    fputs(text, stderr);
  }
}

static bool
cap_open(CapRun *r, const PeriodResult *pr, const char *orc)
{
  char client[64];
  if (r->kind == CAP_BASELINE) {
#ifdef HAVE_BASELINE
    bench_unique_name(client, sizeof(client), "csjb-cap-csound");
    BaselineOptions o = {0};
    o.server_name = pr->server;
    o.client_name = client;
    o.period_b = pr->baseline_b;
    o.buffer_B = pr->baseline_B;
    o.orchestra = orc;
    o.count_xruns = true;
    r->b = baseline_start(&o, r->why, WHY_SIZE);
    r->latency_frames = pr->period + pr->baseline_B;
    return r->b != NULL;
#else
    snprintf(r->why, WHY_SIZE, "%s", BASELINE_MISSING);
    return false;
#endif
  }
  bench_unique_name(client, sizeof(client), "csjb-cap");
  CsjOptions opts;
  csj_options_init(&opts);
  opts.client_name = client;
  opts.server_name = pr->server;
  opts.no_connect = true;
  static const char *argv1[] = {"-m0"};
  static const char *argv2[] = {"-m0", "-j", "2"};
  opts.csound_argc = r->kind == CAP_CSJACK_J2 ? 3 : 1;
  opts.csound_argv = r->kind == CAP_CSJACK_J2 ? argv2 : argv1;
  opts.message_fn = cap_quiet;
  if (csj_engine_create(&opts, &r->e) != CSJ_SUCCESS) {
    snprintf(r->why, WHY_SIZE, "csj_engine_create: %s", csj_last_error(NULL));
    r->e = NULL;
    return false;
  }
  if (csj_engine_compile_orc_text(r->e, orc) != CSJ_SUCCESS ||
      csj_engine_start(r->e) != CSJ_SUCCESS) {
    snprintf(r->why, WHY_SIZE, "csjack: %s", csj_last_error(r->e));
    csj_engine_destroy(r->e);
    r->e = NULL;
    return false;
  }
  CsjStats st;
  csj_engine_stats(r->e, &st);
  r->latency_frames = pr->period + (int)st.latency;
  return true;
}

static void
cap_close(CapRun *r)
{
  if (r->e) {
    csj_engine_stop(r->e);
    csj_engine_wait(r->e, 2000);
    csj_engine_destroy(r->e);
    r->e = NULL;
  }
#ifdef HAVE_BASELINE
  if (r->b) {
    baseline_stop(r->b);
    r->b = NULL;
  }
#endif
}

/* Voice v (from 0): instr 10.(v+1), held; a negative p1 turns it off. */
static int
cap_event(CapRun *r, int v, bool on)
{
  const double insno = 10.0 + (double)(v + 1) / 10000.0;
  const double p[5] = {on ? insno : -insno, 0, on ? -1 : 0,
                       55.0 * (1.0 + (double)((v * 7) % 48) / 12.0), (double)((v * 37) % 1000)};
  if (r->e) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (csj_engine_score_event(r->e, 'i', p, 5, false) == CSJ_SUCCESS) {
        return 0;
      }
      csj_engine_flush(r->e, 2000); /* the ring was full: let it drain */
    }
    return -1;
  }
#ifdef HAVE_BASELINE
  return baseline_score_event(r->b, 'i', p, 5);
#else
  return -1;
#endif
}

static void
cap_counters(CapRun *r, uint64_t *late, uint64_t *xruns)
{
  if (r->e) {
    CsjStats st;
    csj_engine_stats(r->e, &st);
    *late = st.callbacks_late;
    *xruns = st.xruns;
    return;
  }
#ifdef HAVE_BASELINE
  *late = baseline_rtjack_xruns(r->b);
#else
  *late = 0;
#endif
  *xruns = bench_probe_xruns(r->probe);
}

/* ---- The steps ----------------------------------------------------------------------- */

static bool
cap_set_voices(CapRun *r, int n)
{
  while (r->voices < n) {
    if (cap_event(r, r->voices, true) != 0) {
      snprintf(r->why, WHY_SIZE, "a score event failed at %d voices", r->voices);
      return false;
    }
    ++r->voices;
  }
  while (r->voices > n) {
    if (cap_event(r, r->voices - 1, false) != 0) {
      snprintf(r->why, WHY_SIZE, "a turn-off event failed at %d voices", r->voices);
      return false;
    }
    --r->voices;
  }
  return true;
}

/* Holds @p n voices for the hold time: true when no late callback and no
 * xrun. A failure is held once more, and stands only if that fails too. */
static bool
cap_step(CapRun *r, int n, double hold_s, bool *error)
{
  const bool down = n < r->voices;
  if (!cap_set_voices(r, n)) {
    *error = true;
    return false;
  }
  /* The new voices start (or the old ones release, 0.2 s) before the hold. */
  bench_sleep_ms(down ? 700 : 300);
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint64_t l0, x0, l1, x1;
    cap_counters(r, &l0, &x0);
    bench_sleep_ms(hold_s * 1000);
    cap_counters(r, &l1, &x1);
    const bool ok = l1 == l0 && x1 == x0;
    if (r->n_steps < CAP_MAX_STEPS) {
      r->steps[r->n_steps++] = (CapStep){n, l1 - l0, x1 - x0, ok};
    }
    if (ok) {
      return true;
    }
    bench_sleep_ms(500);
  }
  return false;
}

static void
cap_measure(CapRun *r, const Config *cfg)
{
  bool error = false;
  int lo = 0, hi = -1;
  /* First no voice at all: a server that xruns idle has no capacity to
   * measure (capacity 0, failed at 0). */
  if (!cap_step(r, 0, cfg->capacity_hold_s, &error)) {
    r->capacity = error ? -1 : 0;
    r->first_failure = 0;
    return;
  }
  for (int n = cfg->capacity_start; n <= cfg->capacity_max; n *= 2) {
    if (cap_step(r, n, cfg->capacity_hold_s, &error)) {
      lo = n;
    } else {
      hi = n;
      break;
    }
    if (n < cfg->capacity_max && 2 * n > cfg->capacity_max) {
      n = cfg->capacity_max / 2; /* the last step tries the maximum */
    }
  }
  while (!error && hi > 0 && hi - lo > CAP_RESOLUTION) {
    int mid = lo + (hi - lo) / 2;
    mid -= mid % CAP_RESOLUTION;
    if (mid <= lo) {
      mid = lo + CAP_RESOLUTION;
    }
    if (cap_step(r, mid, cfg->capacity_hold_s, &error)) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  if (error) {
    r->capacity = -1;
    return;
  }
  r->capacity = lo;
  r->first_failure = hi;
}

/* ---- Output ---------------------------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t size, len;
} Out;

static void __attribute__((format(printf, 2, 3))) out(Out *o, const char *fmt, ...)
{
  if (o->len >= o->size) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
  va_end(ap);
  if (n > 0) {
    o->len += (size_t)n;
  }
}

static void
read_load(double load[3])
{
  load[0] = load[1] = load[2] = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) {
      load[0] = load[1] = load[2] = -1;
    }
    fclose(f);
  }
}

static void
cap_report(PeriodResult *pr, const Config *cfg, CapRun *runs, const double lb[3],
           const double la[3], bool realtime)
{
  Out j = {pr->capacity_json, sizeof(pr->capacity_json), 0};
  Out t = {pr->capacity_table, sizeof(pr->capacity_table), 0};
  out(&j, "{\"hold_s\": %g, \"resolution\": %d, \"max\": %d, \"server_realtime\": %s, ",
      cfg->capacity_hold_s, CAP_RESOLUTION, cfg->capacity_max, realtime ? "true" : "false");
  out(&j, "\"load_before\": [%.2f, %.2f, %.2f], \"load_after\": [%.2f, %.2f, %.2f], ", lb[0], lb[1],
      lb[2], la[0], la[1], la[2]);
  out(&j, "\"baseline_options\": {\"b\": %d, \"B\": %d}", pr->baseline_b, pr->baseline_B);
  out(&t,
      "\nCapacity at period %d (%d Hz, ksmps %d, server %s, hold %.1f s): voices of instr 10\n"
      "(madsr, vco2, moogladder, stereo) before the first late callback or xrun;\n"
      "load %.2f %.2f %.2f before, %.2f %.2f %.2f after\n",
      pr->period, pr->rate, pr->ksmps, realtime ? "real-time" : "not real-time",
      cfg->capacity_hold_s, lb[0], lb[1], lb[2], la[0], la[1], la[2]);
  out(&t, "%-10s %7s %8s %9s  %s\n", "system", "voices", "latency", "failed at",
      "steps: voices(late/xruns), x = failed");
  for (int k = 0; k < CAP_COUNT; ++k) {
    CapRun *r = &runs[k];
    out(&j, ", \"%s\": ", cap_keys[k]);
    if (r->capacity < 0) {
      out(&j, "{\"voices\": null, \"period\": %d, \"latency_frames\": null, \"why\": \"",
          pr->period);
      for (const char *c = r->why; *c; ++c) {
        if (*c == '"' || *c == '\\') {
          out(&j, "\\");
        }
        out(&j, "%c", (unsigned char)*c >= 0x20 ? *c : ' ');
      }
      out(&j, "\"}");
      out(&t, "%-10s not measured: %s\n", cap_keys[k], r->why);
      continue;
    }
    out(&j,
        "{\"voices\": %d, \"period\": %d, \"latency_frames\": %d, \"first_failure\": ", r->capacity,
        pr->period, r->latency_frames);
    if (r->first_failure >= 0) {
      out(&j, "%d", r->first_failure);
    } else {
      out(&j, "null");
    }
    out(&j, ", \"steps\": [");
    char ff[16] = "none";
    if (r->first_failure >= 0) {
      snprintf(ff, sizeof(ff), "%d", r->first_failure);
    }
    out(&t, "%-10s %7d %8d %9s  ", cap_keys[k], r->capacity, r->latency_frames, ff);
    for (int i = 0; i < r->n_steps; ++i) {
      const CapStep *s = &r->steps[i];
      out(&j, "%s{\"voices\": %d, \"late\": %llu, \"xruns\": %llu, \"ok\": %s}", i ? ", " : "",
          s->voices, (unsigned long long)s->late, (unsigned long long)s->xruns,
          s->ok ? "true" : "false");
      if (s->ok) {
        out(&t, "%d ", s->voices);
      } else {
        out(&t, "%dx(%llu/%llu) ", s->voices, (unsigned long long)s->late,
            (unsigned long long)s->xruns);
      }
    }
    out(&j, "]}");
    out(&t, "\n");
  }
  out(&j, "}");
  out(&t,
      "latency: frames of the audio round trip each gives (csjack: one period + its added "
      "latency;\nbaseline: one period + -B %d). late: csjack's callbacks_late, the "
      "baseline's rtjack\nxrun warnings; xruns: csjack's stats.xruns, the server's xruns "
      "for the baseline.\n",
      pr->baseline_B);
  if (j.len >= j.size || t.len >= t.size) {
    pr->capacity_json[0] = '\0';
    snprintf(pr->capacity_why, WHY_SIZE, "the capacity report did not fit its buffer");
  }
}

void
run_capacity(PeriodResult *pr, const Config *cfg, BenchProbe *probe)
{
  const bool realtime = jack_is_realtime(probe->client) != 0;
  char *orc = cap_orchestra(pr->rate);
  double lb[3], la[3];
  read_load(lb);
  static CapRun runs[CAP_COUNT];
  for (int k = 0; k < CAP_COUNT; ++k) {
    CapRun *r = &runs[k];
    memset(r, 0, sizeof(*r));
    r->kind = k;
    r->probe = probe;
    r->capacity = -1;
    r->first_failure = -1;
    fprintf(stderr, "csjack-bench: capacity of %s at period %d...\n", cap_keys[k], pr->period);
    if (cap_open(r, pr, orc)) {
      bench_sleep_ms(1000); /* the start's own xruns pass */
      cap_measure(r, cfg);
      cap_close(r);
      bench_sleep_ms(500);
    }
  }
  read_load(la);
  free(orc);
  cap_report(pr, cfg, runs, lb, la, realtime);
}
