/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack systems: csjack_queued (every call through csjack's command
 * ring), csjack_direct (csj_engine_eval_code_direct / compile_orc_direct
 * from the caller's thread) and csjack_prompt (csj_engine_eval_code_prompt /
 * compile_orc_prompt: the caller's thread, in a window between cycles). Score events are queued on
 * both: csjack has no direct score-event call.
 *
 * csjack's callback time is sampled from inside the cycle: csjack times its
 * own process callback (clock_gettime around the drain and the k-blocks)
 * and publishes it as stats.callback_ns_last at the end of the cycle. Our
 * process callback runs inside the NEXT cycle, before its k-blocks, and
 * copies that figure into the CostRecorder, tagged with the workload
 * running. It keeps the figure only if the previous cycle was performed
 * (cycles advanced by one and no cycle was dropped since our last call), so
 * a stale figure from before a dropped cycle is never counted.
 */

#include "bench_util.h"
#include "csjack.h"
#include "systems.h"

#include <stdio.h>
#include <stdlib.h>

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
csjack_open(SystemRun *r, const SystemSetup *setup, char *why)
{
  char client[64];
  bench_unique_name(client, sizeof(client), "csjb");
  CsjOptions opts;
  csj_options_init(&opts);
  opts.client_name = client;
  opts.server_name = setup->server;
  opts.no_connect = true;
  static const char *quiet[] = {"-m0"};
  opts.csound_argc = 1;
  opts.csound_argv = quiet;
  opts.message_fn = quiet_messages;
  CsjEngine *e = NULL;
  CsjStatus st = csj_engine_create(&opts, &e);
  if (st != CSJ_SUCCESS) {
    snprintf(why, WHY_SIZE, "csj_engine_create: %s", csj_last_error(NULL));
    return false;
  }
  if (csj_engine_compile_orc_text(e, setup->orchestra) != CSJ_SUCCESS ||
      csj_engine_start(e) != CSJ_SUCCESS) {
    snprintf(why, WHY_SIZE, "csjack: %s", csj_last_error(e));
    csj_engine_destroy(e);
    return false;
  }
  snprintf(r->out_port, sizeof(r->out_port), "%s:out_1", client);
  snprintf(r->in_port, sizeof(r->in_port), "%s:in_1", client);
  CostRecorder *cost = setup->cost;
  atomic_store(&cost->phase, -1);
  for (int w = 0; w < WL_COUNT; ++w) {
    atomic_store(&cost->count[w], 0);
  }
  cost->prev_valid = false;
  if (csj_engine_set_process_callback(e, cost_process, cost) != CSJ_SUCCESS ||
      csj_engine_flush(e, 5000) != CSJ_SUCCESS) {
    snprintf(why, WHY_SIZE, "csjack: cannot set the process callback: %s", csj_last_error(e));
    csj_engine_destroy(e);
    return false;
  }
  r->impl = e;
  r->cost = cost;
  return true;
}

static void
csjack_close(SystemRun *r)
{
  CsjEngine *e = r->impl;
  if (e) {
    csj_engine_stop(e);
    csj_engine_wait(e, 2000);
    csj_engine_destroy(e);
    r->impl = NULL;
  }
}

static int
csjack_eval_queued(SystemRun *r, const char *code, double *value)
{
  char err[256];
  return csj_engine_eval_code(r->impl, code, 5000, value, err, sizeof(err)) == CSJ_SUCCESS ? 0
                                                                                             : -1;
}

static int
csjack_eval_direct(SystemRun *r, const char *code, double *value)
{
  char err[256];
  return csj_engine_eval_code_direct(r->impl, code, value, err, sizeof(err)) == CSJ_SUCCESS ? 0
                                                                                              : -1;
}

static int
csjack_eval_prompt(SystemRun *r, const char *code, double *value)
{
  char err[256];
  return csj_engine_eval_code_prompt(r->impl, code, 5000, value, err, sizeof(err)) == CSJ_SUCCESS
           ? 0
           : -1;
}

static int
csjack_event(SystemRun *r, const double *p, int n)
{
  return csj_engine_score_event(r->impl, 'i', p, n, false) == CSJ_SUCCESS ? 0 : -1;
}

static int
csjack_compile_queued(SystemRun *r, const char *orc, const char *orc_eval)
{
  (void)orc_eval;
  char err[512];
  return csj_engine_compile_orc(r->impl, orc, 20000, err, sizeof(err)) == CSJ_SUCCESS ? 0 : -1;
}

static int
csjack_compile_direct(SystemRun *r, const char *orc, const char *orc_eval)
{
  (void)orc_eval;
  char err[512];
  return csj_engine_compile_orc_direct(r->impl, orc, err, sizeof(err)) == CSJ_SUCCESS ? 0 : -1;
}

static int
csjack_compile_prompt(SystemRun *r, const char *orc, const char *orc_eval)
{
  (void)orc_eval;
  char err[512];
  return csj_engine_compile_orc_prompt(r->impl, orc, 20000, err, sizeof(err)) == CSJ_SUCCESS ? 0
                                                                                               : -1;
}

static void
csjack_counters(SystemRun *r, uint64_t *xruns, uint64_t *dropped)
{
  CsjStats st;
  csj_engine_stats(r->impl, &st);
  *xruns = st.xruns;
  *dropped = st.dropped_cycles;
}

const BenchSystem bench_csjack_queued = {
  .key = "csjack_queued",
  .label = "csjack queued",
  .queued = true,
  .xruns_source = "csjack stats.xruns (JACK xrun callback)",
  .open = csjack_open,
  .eval = csjack_eval_queued,
  .event = csjack_event,
  .compile = csjack_compile_queued,
  .counters = csjack_counters,
  .close = csjack_close,
};

const BenchSystem bench_csjack_direct = {
  .key = "csjack_direct",
  .label = "csjack direct",
  .queued = false,
  .events_why = "csjack has no direct score-event call (score_event is queued only): see "
                "csjack_queued",
  .twin = "csjack_queued",
  .xruns_source = "csjack stats.xruns (JACK xrun callback)",
  .open = csjack_open,
  .eval = csjack_eval_direct,
  .event = csjack_event,
  .compile = csjack_compile_direct,
  .counters = csjack_counters,
  .close = csjack_close,
};

const BenchSystem bench_csjack_prompt = {
  .key = "csjack_prompt",
  .label = "csjack prompt",
  .queued = false,
  .events_why = "score events are queued on csjack_prompt too (only evalCode and compiles "
                "take the prompt path): see csjack_queued",
  .twin = "csjack_queued",
  .xruns_source = "csjack stats.xruns (JACK xrun callback)",
  .open = csjack_open,
  .eval = csjack_eval_prompt,
  .event = csjack_event,
  .compile = csjack_compile_prompt,
  .counters = csjack_counters,
  .close = csjack_close,
};
