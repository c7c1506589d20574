/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Connections and servers that come back: csjack remembers its ports'
 * connections and makes each again when its peer port reappears (a peer
 * client restarted), and with CsjOptions.reconnect_ms it outlives its JACK
 * server: killed and restarted under the same name, the server gets
 * csjack back with its live-coded instrument, its channels, its ports and
 * its connections, while the recording ends whole at the loss.
 *
 * Waits are bounded only so that a broken build fails instead of hanging;
 * times are printed, never asserted.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jack/jack.h>
#include <sndfile.h>

#include "csjack.h"
#include "jack_harness.h"
#include "test_engine_start.h"

static const char *const ORC = "sr = 48000\nksmps = 32\nnchnls = 2\n0dbfs = 1\n";

static CsjEngine *g_e;
static HarnessMessageLog g_log = HARNESS_MESSAGE_LOG_INIT;
static jack_client_t *g_query;
static HarnessProbe *g_probe;
static char g_wav[128];

static void teardown(void)
{
  csj_engine_destroy(g_e);
  g_e = NULL;
  probe_close(g_probe);
  g_probe = NULL;
  if (g_query)
    jack_client_close(g_query);
  g_query = NULL;
  if (g_wav[0])
    unlink(g_wav);
  harness_server_stop();
}

static void server(void) { harness_server_start(256, 48000); }

TestSuite(reconnect, .init = server, .fini = teardown, .timeout = 120);

static CsjStats stats(void)
{
  CsjStats s;
  csj_engine_stats(g_e, &s);
  return s;
}

typedef bool (*StatsTest)(const CsjStats *s);

static bool wait_for(StatsTest done, int ms)
{
  const double deadline = harness_now_ms() + ms * harness_time_scale();
  while (harness_now_ms() < deadline) {
    const CsjStats s = stats();
    if (done(&s))
      return true;
    harness_sleep_ms(10);
  }
  const CsjStats s = stats();
  return done(&s);
}

static bool gone(const CsjStats *s) { return !s->server_connected; }
static bool back(const CsjStats *s) { return s->reconnects == 1 && s->server_connected; }
static bool restored_two(const CsjStats *s) { return s->connections_restored >= 2; }
static bool restored_one(const CsjStats *s) { return s->connections_restored >= 1; }

static jack_client_t *query(void)
{
  if (!g_query) {
    g_query = jack_client_open(harness_name("query"), JackNoStartServer, NULL);
    cr_assert(g_query != NULL, "cannot open a client on the restarted server");
  }
  return g_query;
}

static double control(const char *name)
{
  double v = -1;
  cr_assert(eq(int, csj_engine_get_control(g_e, name, &v), CSJ_SUCCESS), "%s", name);
  return v;
}

Test(reconnect, a_restarted_server_gets_csjack_back_with_its_state_and_connections)
{
  CsjOptions o;
  test_engine_options(&o, "rc", &g_log);
  o.no_connect = false; /* to the physical ports, as a studio patches it */
  o.reconnect_ms = -1;
  test_engine_start(&o, ORC, &g_e, &g_log);
  char err[256];
  cr_assert(eq(int,
               csj_engine_compile_orc(g_e,
                                      "instr 3\n  kn chnget \"alive\"\n  chnset kn + 1, \"alive\"\n"
                                      "  outs oscili(0.1, 330), oscili(0.1, 330)\nendin\n",
                                      5000, err, sizeof err),
               CSJ_SUCCESS),
            "%s", err);
  cr_assert(eq(int, csj_engine_input_message(g_e, "i 3 0 -1"), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_set_control(g_e, "level", 0.5), CSJ_SUCCESS));
  snprintf(g_wav, sizeof g_wav, "/tmp/csjack-rc-%d.wav", (int)getpid());
  cr_assert(eq(int, csj_engine_record(g_e, g_wav, 24), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  harness_sleep_ms(300);
  cr_assert(gt(dbl, control("alive"), 0.0));
  cr_expect(ge(u32, stats().connections, 4), "connections remembered: %u", stats().connections);

  harness_server_kill();
  const double t0 = harness_now_ms();
  cr_assert(wait_for(gone, 10000), "csjack did not see its server go");
  cr_expect(not(csj_engine_finished(g_e)), "the performance ended with the server\n%s", g_log.buf);
  const double alive_while_gone = control("alive");

  /* The recording ended whole where the server went. */
  SF_INFO info = {0};
  SNDFILE *sf = sf_open(g_wav, SFM_READ, &info);
  cr_expect(ne(ptr, sf, NULL), "the recording is not a whole file: %s", sf_strerror(NULL));
  if (sf) {
    cr_expect(gt(i64, (int64_t)info.frames, 0));
    sf_close(sf);
  }

  harness_server_restart(256, 48000);
  cr_assert(wait_for(back, 20000), "csjack did not come back\n%s", g_log.buf);
  cr_assert(wait_for(restored_two, 20000), "connections not restored: %llu\n%s",
            (unsigned long long)stats().connections_restored, g_log.buf);
  fprintf(stderr, "reconnect: back %.2f s after the kill, %llu connections restored\n",
          (harness_now_ms() - t0) / 1000, (unsigned long long)stats().connections_restored);
  cr_expect(harness_connected(query(), harness_port("rc", "out_1"), "system:playback_1"));
  cr_expect(harness_connected(query(), harness_port("rc", "out_2"), "system:playback_2"));
  cr_expect(harness_message_log_contains(&g_log, "reconnected"), "%s", g_log.buf);

  /* The same Csound: its instrument plays on, its channel kept. */
  harness_sleep_ms(300);
  cr_expect(gt(dbl, control("alive"), alive_while_gone), "instr 3 does not run after the return");
  cr_expect(eq(dbl, control("level"), 0.5));
  double v = 0;
  cr_expect(eq(int, csj_engine_eval_code(g_e, "return nstrnum(3)", 5000, &v, err, sizeof err),
               CSJ_SUCCESS));
  cr_expect(eq(dbl, v, 3.0));
}

Test(reconnect, a_server_back_at_another_rate_ends_the_performance_with_a_reason)
{
  CsjOptions o;
  test_engine_options(&o, "rcrate", &g_log);
  o.reconnect_ms = -1;
  test_engine_start(&o, ORC, &g_e, &g_log);
  harness_server_kill();
  cr_assert(wait_for(gone, 10000));
  harness_server_restart(256, 44100);
  for (int i = 0; i < 2000 && !csj_engine_finished(g_e); ++i)
    harness_sleep_ms(10);
  cr_assert(csj_engine_finished(g_e), "still waiting\n%s", g_log.buf);
  int code = 0;
  cr_expect(eq(int, csj_engine_end_reason(g_e, &code), CSJ_END_SERVER_GONE));
  cr_expect(harness_message_log_contains(&g_log, "cannot change its rate"), "%s", g_log.buf);
}

Test(reconnect, a_limit_ends_the_wait)
{
  CsjOptions o;
  test_engine_options(&o, "rclimit", &g_log);
  o.reconnect_ms = 600;
  test_engine_start(&o, ORC, &g_e, &g_log);
  harness_server_kill();
  for (int i = 0; i < 2000 && !csj_engine_finished(g_e); ++i)
    harness_sleep_ms(10);
  cr_assert(csj_engine_finished(g_e), "still waiting after the limit");
  cr_expect(harness_message_log_contains(&g_log, "no JACK server came back"), "%s", g_log.buf);
}

Test(reconnect, a_peer_that_comes_back_is_connected_again_and_a_cut_stays_cut)
{
  CsjOptions o;
  test_engine_options(&o, "rcpeer", &g_log);
  test_engine_start(&o, ORC, &g_e, &g_log);
  g_probe = probe_open("peer", 0, 2, 48000);
  jack_client_t *c = probe_client(g_probe);
  const char *out1 = harness_port("rcpeer", "out_1");
  const char *out2 = harness_port("rcpeer", "out_2");
  char in1[160], in2[160];
  snprintf(in1, sizeof in1, "%s", probe_port(g_probe, "in_1"));
  snprintf(in2, sizeof in2, "%s", probe_port(g_probe, "in_2"));
  cr_assert(eq(int, harness_connect(c, out1, in1), 0));
  cr_assert(eq(int, harness_connect(c, out2, in2), 0));
  harness_sleep_ms(200);
  cr_expect(eq(u32, stats().connections, 2));

  /* The peer quits and comes back under its name: connected again. */
  probe_close(g_probe);
  g_probe = NULL;
  harness_sleep_ms(500);
  g_probe = probe_open("peer", 0, 2, 48000);
  cr_assert(wait_for(restored_two, 10000), "not reconnected: %llu restored\n%s",
            (unsigned long long)stats().connections_restored, g_log.buf);
  c = probe_client(g_probe);
  cr_expect(harness_connected(c, out1, in1));
  cr_expect(harness_connected(c, out2, in2));

  /* Someone cuts one while both ports are there: it stays cut. */
  cr_assert(eq(int, jack_disconnect(c, out1, in1), 0));
  harness_sleep_ms(1000);
  cr_expect(not(harness_connected(c, out1, in1)), "a cut connection was made again");
  cr_expect(eq(u32, stats().connections, 1));
  cr_expect(eq(u64, stats().connections_restored, 2));
  (void)restored_one;
}
