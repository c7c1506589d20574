/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bursts of score events: every event runs once, in order, whether it is
 * for now (handed to Csound over as many cycles as its learnt cost needs)
 * or for later (held in csjack's queue until its cycle, so that Csound's
 * list stays short). The orchestra checks the order itself: each note
 * carries its number in p4 and counts those that come out of turn. The
 * callbacks' times are printed (the figures are the benchmark's to
 * claim, not a test's).
 */

#include <stdio.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "csjack.h"
#include "jack_harness.h"
#include "test_engine_start.h"

static CsjEngine *g_e;
static HarnessMessageLog g_log = HARNESS_MESSAGE_LOG_INIT;

static void teardown(void)
{
  csj_engine_destroy(g_e);
  g_e = NULL;
  harness_server_stop();
}

static void server(void) { harness_server_start(256, 48000); }

TestSuite(bursts, .init = server, .fini = teardown, .timeout = 120);

static const char *const ORC = "sr = 48000\nksmps = 32\nnchnls = 2\n0dbfs = 1\n"
                               "instr 2\n"
                               "  inext = chnget:i(\"count\")\n"
                               "  chnset inext + 1, \"count\"\n"
                               "  if p4 != inext then\n"
                               "    chnset chnget:i(\"out_of_turn\") + 1, \"out_of_turn\"\n"
                               "  endif\n"
                               "  a1 oscili linseg(0, 0.005, 0.01, p3 - 0.005, 0), 440\n"
                               "  outs a1, a1\n"
                               "endin\n";

static double control(const char *name)
{
  double v = -1;
  cr_assert(eq(int, csj_engine_get_control(g_e, name, &v), CSJ_SUCCESS));
  return v;
}

static void wait_count(double n)
{
  for (int i = 0; i < 3000 && control("count") < n; ++i)
    harness_sleep_ms(10);
}

static void say(const char *what, const CsjStats *s)
{
  fprintf(stderr,
          "%s: longest callback %.2f ms of 5.33, late callbacks %llu, events spread over %llu "
          "cycles, learnt cost %.1f us an event, %llu late, %llu overflowed\n",
          what, s->callback_ns_max / 1e6, (unsigned long long)s->callbacks_late,
          (unsigned long long)s->events_spread, s->event_cost_ns / 1e3,
          (unsigned long long)s->events_late, (unsigned long long)s->events_overflow);
}

Test(bursts, two_thousand_events_for_now_all_run_in_order_over_cycles)
{
  CsjOptions o;
  test_engine_options(&o, "burst", &g_log);
  test_engine_start(&o, ORC, &g_e, &g_log);
  csj_engine_set_submit_timeout(g_e, -1);
  harness_sleep_ms(200);
  csj_engine_reset_peak(g_e);
  char line[64];
  for (int i = 0; i < 2000; ++i) {
    snprintf(line, sizeof line, "i 2 0 0.05 %d", i);
    cr_assert(eq(int, csj_engine_input_message(g_e, line), CSJ_SUCCESS));
  }
  wait_count(2000);
  CsjStats s;
  csj_engine_stats(g_e, &s);
  say("2000 for now", &s);
  cr_expect(eq(dbl, control("count"), 2000.0));
  cr_expect(eq(dbl, control("out_of_turn"), 0.0));
  cr_expect(gt(u64, s.events_spread, 0), "handed over in one cycle");
}

Test(bursts, a_score_for_later_waits_in_csjacks_queue_and_runs_in_order)
{
  CsjOptions o;
  test_engine_options(&o, "later", &g_log);
  test_engine_start(&o, ORC, &g_e, &g_log);
  csj_engine_set_submit_timeout(g_e, -1);
  harness_sleep_ms(200);
  csj_engine_reset_peak(g_e);
  char line[64];
  uint32_t held_most = 0;
  for (int i = 0; i < 6000; ++i) {
    snprintf(line, sizeof line, "i 2 %.4f 0.01 %d", 0.5 + i * 0.0005, i);
    cr_assert(eq(int, csj_engine_input_message(g_e, line), CSJ_SUCCESS));
    if (i % 500 == 0) {
      CsjStats s;
      csj_engine_stats(g_e, &s);
      held_most = s.events_held > held_most ? s.events_held : held_most;
    }
  }
  wait_count(6000);
  CsjStats s;
  csj_engine_stats(g_e, &s);
  say("6000 for the next 3.5 s", &s);
  cr_expect(eq(dbl, control("count"), 6000.0));
  cr_expect(eq(dbl, control("out_of_turn"), 0.0));
  cr_expect(gt(u32, held_most, 1000), "the events for later were not held: %u", held_most);
  cr_expect(eq(u64, s.events_overflow, 0));
}
