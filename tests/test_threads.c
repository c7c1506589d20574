/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's own worker threads (-j N) are found, and said: on a real-time
 * server they take the JACK thread's priority; on the harness's server
 * (jackd --no-realtime) they keep theirs, and csjack says why. Either way
 * the orchestra plays with them inside the JACK thread's k-blocks.
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

TestSuite(threads, .init = server, .fini = teardown, .timeout = 60);

static const char *const ORC = "sr = 48000\nksmps = 32\nnchnls = 2\n0dbfs = 1\n"
                               "instr 1\n  chnset chnget:k(\"k\") + 1, \"k\"\n"
                               "  outs oscili(0.1, 440), oscili(0.1, 550)\nendin\n"
                               "instr 2\n  outs oscili(0.1, 660), oscili(0.1, 770)\nendin\n"
                               "schedule 1, 0, -1\nschedule 2, 0, -1\n";

Test(threads, csounds_workers_are_found_and_said)
{
  static const char *const argv[] = {"-j", "3"};
  CsjOptions o;
  test_engine_options(&o, "thr", &g_log);
  o.csound_argc = 2;
  o.csound_argv = argv;
  test_engine_start(&o, ORC, &g_e, &g_log);
  cr_expect(harness_message_log_contains(&g_log, "Csound runs 2 worker threads of its own (-j)"),
            "%s", g_log.buf);
  CsjChannel *k = NULL;
  cr_assert(eq(int, csj_engine_channel(g_e, "k", &k), CSJ_SUCCESS));
  const double k0 = csj_channel_get(k);
  harness_sleep_ms(300);
  cr_expect(gt(dbl, csj_channel_get(k), k0), "no k-blocks with the workers");
  CsjStats s;
  csj_engine_stats(g_e, &s);
  cr_expect(eq(u32, s.csound_workers, 2));
  fprintf(stderr, "threads: the JACK thread waited %.2f ms at Csound's barriers over %llu cycles\n",
          s.barrier_wait_ns / 1e6, (unsigned long long)s.cycles);
}

Test(threads, without_j_nothing_is_said)
{
  CsjOptions o;
  test_engine_options(&o, "thr1", &g_log);
  test_engine_start(&o, ORC, &g_e, &g_log);
  cr_expect(not(harness_message_log_contains(&g_log, "worker threads")), "%s", g_log.buf);
  CsjStats s;
  csj_engine_stats(g_e, &s);
  cr_expect(eq(u32, s.csound_workers, 0));
  cr_expect(eq(u64, s.barrier_wait_ns, 0));
}
