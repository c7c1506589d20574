/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack_stamped: csjack_queued with constant-latency mode on
 * (csj_engine_set_event_delay): every score event is stamped with
 * jack_frame_time() on the calling thread and starts exactly DELAY frames
 * later at csjack's output. DELAY is CSJ_BENCH_EVENT_DELAY frames if set,
 * else four periods (one period plus csjack's added latency is the least
 * that can be on time; the rest covers a JACK thread woken late: on the
 * 2-core test machine, two periods left 116 of 200 events late at period
 * 256, four left none). Everything else is csjack_queued's (its adapter, through its
 * row). Events that arrived too late to be on time are counted by csjack
 * (CsjStats.events_late) and printed when the instance closes.
 */

#include "csjack.h"
#include "systems.h"

#include <stdio.h>
#include <stdlib.h>

static bool
stamped_open(SystemRun *r, const SystemSetup *setup, char *why)
{
  if (!bench_csjack_queued.open(r, setup, why)) {
    return false;
  }
  CsjStats st;
  csj_engine_stats(r->impl, &st);
  uint32_t delay = 4 * st.period;
  const char *env = getenv("CSJ_BENCH_EVENT_DELAY");
  if (env && atoi(env) > 0) {
    delay = (uint32_t)atoi(env);
  }
  csj_engine_set_event_delay(r->impl, delay);
  return true;
}

static int
stamped_eval(SystemRun *r, const char *code, double *value)
{
  return bench_csjack_queued.eval(r, code, value);
}

static int
stamped_event(SystemRun *r, const double *p, int n)
{
  return bench_csjack_queued.event(r, p, n);
}

static int
stamped_compile(SystemRun *r, const char *orc, const char *orc_eval)
{
  return bench_csjack_queued.compile(r, orc, orc_eval);
}

static void
stamped_counters(SystemRun *r, uint64_t *xruns, uint64_t *dropped)
{
  bench_csjack_queued.counters(r, xruns, dropped);
}

static void
stamped_close(SystemRun *r)
{
  if (r->impl) {
    CsjStats st;
    csj_engine_stats(r->impl, &st);
    fprintf(stderr, "csjack_stamped: event delay %u frames, %llu events late\n",
            st.event_delay, (unsigned long long)st.events_late);
  }
  bench_csjack_queued.close(r);
}

const BenchSystem bench_csjack_stamped = {
  .key = "csjack_stamped",
  .label = "csjack stamped",
  .queued = true,
  .xruns_source = "csjack stats.xruns (JACK xrun callback)",
  .open = stamped_open,
  .eval = stamped_eval,
  .event = stamped_event,
  .compile = stamped_compile,
  .counters = stamped_counters,
  .close = stamped_close,
};
