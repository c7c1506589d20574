/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The baseline systems: Csound's own CsoundPerformanceThread with its JACK
 * driver (baseline.c). baseline_queued hands evalCode to a queue that the
 * performance thread's process callback drains (the ctcsound way);
 * baseline_direct calls csoundEvalCode while the thread runs. Score events
 * go through CsoundPTscoreEvent. The baseline has no compile call of its
 * own: csoundEvalCode compiles the same orchestra (queued: in the
 * performance thread's process callback, as ctcsound's compile; direct: on
 * the caller's thread).
 *
 * Without libcsnd6 at build time (no HAVE_BASELINE) both systems stay in
 * the table and report why they were not measured.
 */

#include "bench_config.h"
#include "bench_util.h"
#include "systems.h"

#ifdef HAVE_BASELINE
#  include "baseline.h"
#endif

#include <stdio.h>

#ifdef HAVE_BASELINE

static bool
baseline_open(SystemRun *r, const SystemSetup *setup, char *why)
{
  char client[64];
  bench_unique_name(client, sizeof(client), "csjb-csound");
  BaselineOptions o = {0};
  o.server_name = setup->server;
  o.client_name = client;
  o.period_b = setup->baseline_b;
  o.buffer_B = setup->baseline_B;
  o.orchestra = setup->orchestra;
  o.connect_physical = false;
  Baseline *b = baseline_start(&o, why, WHY_SIZE);
  if (!b) {
    return false;
  }
  snprintf(r->out_port, sizeof(r->out_port), "%s", baseline_output_port(b, 1));
  snprintf(r->in_port, sizeof(r->in_port), "%s", baseline_input_port(b, 1));
  r->impl = b;
  return true;
}

static void
baseline_close(SystemRun *r)
{
  if (r->impl) {
    baseline_stop(r->impl);
    r->impl = NULL;
  }
}

static int
baseline_eval_q(SystemRun *r, const char *code, double *value)
{
  return baseline_eval_queued(r->impl, code, 5000, value);
}

static int
baseline_eval_d(SystemRun *r, const char *code, double *value)
{
  return baseline_eval_direct(r->impl, code, value);
}

static int
baseline_event(SystemRun *r, const double *p, int n)
{
  return baseline_score_event(r->impl, 'i', p, n);
}

static int
baseline_compile_q(SystemRun *r, const char *orc, const char *orc_eval)
{
  (void)orc;
  double v;
  return baseline_eval_queued(r->impl, orc_eval, 20000, &v);
}

static int
baseline_compile_d(SystemRun *r, const char *orc, const char *orc_eval)
{
  (void)orc;
  double v;
  return baseline_eval_direct(r->impl, orc_eval, &v);
}

#else /* !HAVE_BASELINE: not built; open says why */

static bool
baseline_open(SystemRun *r, const SystemSetup *setup, char *why)
{
  (void)r;
  (void)setup;
  snprintf(why, WHY_SIZE, "%s", BASELINE_MISSING);
  return false;
}

static void
baseline_close(SystemRun *r)
{
  (void)r;
}

static int
baseline_unbuilt_eval(SystemRun *r, const char *code, double *value)
{
  (void)r;
  (void)code;
  (void)value;
  return -1;
}

static int
baseline_unbuilt_event(SystemRun *r, const double *p, int n)
{
  (void)r;
  (void)p;
  (void)n;
  return -1;
}

static int
baseline_unbuilt_compile(SystemRun *r, const char *orc, const char *orc_eval)
{
  (void)r;
  (void)orc;
  (void)orc_eval;
  return -1;
}

#  define baseline_eval_q baseline_unbuilt_eval
#  define baseline_eval_d baseline_unbuilt_eval
#  define baseline_event baseline_unbuilt_event
#  define baseline_compile_q baseline_unbuilt_compile
#  define baseline_compile_d baseline_unbuilt_compile

#endif

#define BASELINE_XRUNS_SOURCE "the bench's own JACK client's xrun callback (server-wide)"
#define BASELINE_CALLBACK_WHY                                                                  \
  "Csound's JACK driver only copies blocks in its callback; the work runs in the "            \
  "performance thread, which baseline.h does not time"
#define BASELINE_DROPPED_WHY                                                                   \
  "Csound's JACK driver counts no dropped cycles (its ring under-runs silently)"

const BenchSystem bench_baseline_queued = {
  .key = "baseline_queued",
  .label = "baseline queued",
  .queued = true,
  .xruns_source = BASELINE_XRUNS_SOURCE,
  .callback_why = BASELINE_CALLBACK_WHY,
  .dropped_why = BASELINE_DROPPED_WHY,
  .open = baseline_open,
  .eval = baseline_eval_q,
  .event = baseline_event,
  .compile = baseline_compile_q,
  .counters = NULL,
  .close = baseline_close,
};

const BenchSystem bench_baseline_direct = {
  .key = "baseline_direct",
  .label = "baseline direct",
  .queued = false,
  .events_why = "baseline.h has no direct score event (CsoundPTscoreEvent is queued): see "
                "baseline_queued",
  .twin = "baseline_queued",
  .xruns_source = BASELINE_XRUNS_SOURCE,
  .callback_why = BASELINE_CALLBACK_WHY,
  .dropped_why = BASELINE_DROPPED_WHY,
  .open = baseline_open,
  .eval = baseline_eval_d,
  .event = baseline_event,
  .compile = baseline_compile_d,
  .counters = NULL,
  .close = baseline_close,
};
