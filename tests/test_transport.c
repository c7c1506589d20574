/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JACK transport: the score following it (CSJ_TRANSPORT_FOLLOW), the
 * transport channels the orchestra reads, and csjack as timebase master.
 *
 * The transport is driven by the real jack_transport program (Debian's
 * jackd2 example client: `locate FRAME`, `play`, `stop`, `master`,
 * `tempo BPM` on its stdin) on the harness's private server; a plain JACK
 * client of the test reads the position csjack gives as master.
 *
 * The orchestra notes what it sees in channels: instr 1 (the scored
 * event) the transport frame and score time of its first k-block and how
 * often it ran; instr 2 (always on) the transport channels at each k-block.
 * Times are printed, never asserted; waits are bounded only so that a
 * broken build fails instead of hanging.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jack/jack.h>
#include <jack/transport.h>

#include "csjack.h"
#include "jack_harness.h"
#include "test_engine_start.h"

#define RATE 48000
#define KSMPS 64

static const char *const ORC = "sr = 48000\n"
                               "ksmps = 64\n"
                               "nchnls = 2\n"
                               "0dbfs = 1\n"
                               "instr 1\n"
                               "  chnset chnget:i(\"transport_frame\"), \"hit_frame\"\n"
                               "  chnset times:i(), \"hit_score\"\n"
                               "  chnset chnget:i(\"hit_count\") + 1, \"hit_count\"\n"
                               "  turnoff\n"
                               "endin\n"
                               "instr 2\n"
                               "  chnset chnget:k(\"transport_rolling\"), \"seen_rolling\"\n"
                               "  chnset chnget:k(\"transport_bpm\"), \"seen_bpm\"\n"
                               "  chnset chnget:k(\"transport_bar\"), \"seen_bar\"\n"
                               "  chnset times:k(), \"score_now\"\n"
                               "  outs oscili(0.1, 440), oscili(0.1, 440)\n"
                               "endin\n"
                               "schedule 2, 0, -1\n";

static CsjEngine *g_e;
static HarnessMessageLog g_log = HARNESS_MESSAGE_LOG_INIT;
static HarnessChild g_tp;
static int g_tp_in = -1;
static jack_client_t *g_query;

static void
teardown(void)
{
  csj_engine_destroy(g_e);
  g_e = NULL;
  if (g_query)
    jack_client_close(g_query);
  g_query = NULL;
  if (g_tp_in >= 0) {
    close(g_tp_in);
    g_tp_in = -1;
    harness_child_wait(&g_tp, 3000);
    harness_child_cleanup(&g_tp);
  }
  harness_server_stop();
}

static void
server(void)
{
  harness_server_start(256, RATE);
}

TestSuite(transport, .init = server, .fini = teardown, .timeout = 90);

/* jack_transport in PATH, or skip. */
static const char *
transport_program(void)
{
  static char found[512];
  const char *path = getenv("PATH");
  while (path && *path) {
    const char *end = strchr(path, ':');
    const size_t len = end ? (size_t)(end - path) : strlen(path);
    snprintf(found, sizeof found, "%.*s/jack_transport", (int)len, path);
    if (len && access(found, X_OK) == 0)
      return found;
    path = end ? end + 1 : NULL;
  }
  cr_skip_test("jack_transport is not in PATH (Debian: jackd2)");
  return NULL;
}

/* Starts jack_transport on the private server, its stdin ours. */
static void
transport_start(void)
{
  char *argv[] = {(char *)transport_program(), NULL};
  g_tp_in = harness_spawn_piped(&g_tp, argv);
  cr_assert(g_tp_in >= 0, "cannot start jack_transport");
}

/* One command line to jack_transport. */
static void
transport_say(const char *line)
{
  char text[128];
  const int n = snprintf(text, sizeof text, "%s\n", line);
  cr_assert(eq(int, (int)write(g_tp_in, text, (size_t)n), n), "write to jack_transport");
}

static CsjEngine *
start(CsjTransport mode, bool master)
{
  CsjOptions o;
  test_engine_options(&o, "tp", &g_log);
  o.transport = mode;
  o.timebase_master = master;
  return test_engine_start(&o, ORC, &g_e, &g_log);
}

/* The orchestra with a score: a rewind plays the score's events again
 * (live events are Csound's real-time events, which a rewind drops). */
static void
start_csd(const char *score, CsjTransport mode, bool master)
{
  char csd[4096];
  snprintf(csd, sizeof csd,
           "<CsoundSynthesizer>\n<CsInstruments>\n%s</CsInstruments>\n<CsScore>\n%s\n"
           "</CsScore>\n</CsoundSynthesizer>\n",
           ORC, score);
  CsjOptions o;
  test_engine_options(&o, "tp", &g_log);
  o.transport = mode;
  o.timebase_master = master;
  cr_assert(eq(int, csj_engine_create(&o, &g_e), CSJ_SUCCESS), "%s", csj_last_error(NULL));
  cr_assert(eq(int, csj_engine_compile_csd_text(g_e, csd), CSJ_SUCCESS), "%s", g_log.buf);
  cr_assert(eq(int, csj_engine_start(g_e), CSJ_SUCCESS), "%s", g_log.buf);
}

static double
chn(const char *name)
{
  CsjChannel *ch = NULL;
  cr_assert(eq(int, csj_engine_channel(g_e, name, &ch), CSJ_SUCCESS), "channel %s", name);
  return csj_channel_get(ch);
}

static CsjStats
stats(void)
{
  CsjStats s;
  csj_engine_stats(g_e, &s);
  return s;
}

/* Waits until channel @p name is at least @p value; false when it never
 * gets there within @p ms (scaled under valgrind). */
static bool
wait_chn_at_least(const char *name, double value, int ms)
{
  const double deadline = harness_now_ms() + ms * harness_time_scale();
  while (harness_now_ms() < deadline) {
    if (chn(name) >= value)
      return true;
    harness_sleep_ms(5);
  }
  return chn(name) >= value;
}

static bool
wait_chn_equal(const char *name, double value, int ms)
{
  const double deadline = harness_now_ms() + ms * harness_time_scale();
  while (harness_now_ms() < deadline) {
    if (chn(name) == value)
      return true;
    harness_sleep_ms(5);
  }
  return chn(name) == value;
}

/* Lets @p n more cycles run. */
static void
run_cycles(uint64_t n)
{
  const uint64_t until = stats().cycles + n;
  const double deadline = harness_now_ms() + 30000 * harness_time_scale();
  while (stats().cycles < until && harness_now_ms() < deadline)
    harness_sleep_ms(5);
  cr_assert(ge(u64, stats().cycles, until), "the server stopped cycling");
}

static void
send_score(const char *line)
{
  cr_assert(eq(int, csj_engine_input_message(g_e, line), CSJ_SUCCESS), "%s: %s", line,
            csj_last_error(g_e));
}

Test(transport, a_stopped_transport_holds_the_score_and_play_runs_it_from_the_located_frame)
{
  /* The score's event at 2 s; `f 0` keeps the score going for an hour. */
  start_csd("i 1 2 0.1\nf 0 3600", CSJ_TRANSPORT_FOLLOW, false);
  /* A fresh server's transport is stopped at frame 0: two seconds of
   * cycles, and the event at 2 s has not run, nor has any k-block. */
  run_cycles(2 * RATE / 256 + 10);
  cr_expect(eq(dbl, chn("hit_count"), 0.0), "the event ran with the transport stopped");
  cr_expect(eq(dbl, chn("score_now"), 0.0), "k-blocks ran with the transport stopped");
  cr_expect(gt(u64, stats().transport_held_cycles, 2 * RATE / 256));
  cr_expect(not(stats().transport_rolling));

  transport_start();
  transport_say("locate 72000");
  transport_say("play");
  cr_assert(wait_chn_at_least("hit_count", 1, 20000), "the event never ran after play\n%s",
            g_log.buf);
  /* At the located position plus the half second to the event: frame
   * 96000 exactly, at score time 2 s. */
  cr_expect(eq(dbl, chn("hit_frame"), 96000.0));
  cr_expect(eq(dbl, chn("hit_score"), 2.0));
  cr_expect(eq(dbl, chn("seen_rolling"), 1.0));
  cr_expect(eq(u64, stats().transport_locates, 1));

  /* Back to 0 while rolling: the score is rewound, the event runs again at
   * the same frame. */
  transport_say("locate 0");
  cr_assert(wait_chn_at_least("hit_count", 2, 20000), "no second run after locate 0\n%s",
            g_log.buf);
  cr_expect(eq(dbl, chn("hit_frame"), 96000.0));
  cr_expect(eq(u64, stats().transport_locates, 2));

  /* Stopped again: the orchestra is held where it was. */
  transport_say("stop");
  run_cycles(20);
  const double held_at = chn("score_now");
  run_cycles(100);
  cr_expect(eq(dbl, chn("score_now"), held_at), "score time moved while stopped");
}

Test(transport, a_far_locate_is_skipped_over_many_cycles_and_lands_exactly)
{
  start(CSJ_TRANSPORT_FOLLOW, false);
  /* An hour in: 2.7 million k-blocks of score, which Csound would pass in
   * one call (some 60 ms) if asked to at once. */
  send_score("i 1 3600.5 0.1");
  transport_start();
  csj_engine_reset_peak(g_e);
  transport_say("locate 172800000");
  transport_say("play");
  cr_assert(wait_chn_at_least("hit_count", 1, 30000), "the event never ran\n%s", g_log.buf);
  cr_expect(eq(dbl, chn("hit_frame"), 172800000.0 + RATE / 2));
  cr_expect(eq(dbl, chn("hit_score"), 3600.5));
  const CsjStats s = stats();
  /* Never more than TRANSPORT_SKIP_BLOCKS (40000) blocks in one cycle. */
  const uint64_t blocks = 172800000ull / KSMPS;
  cr_expect(ge(u64, s.transport_held_cycles, blocks / 40000), "the skip was not spread");
  fprintf(stderr,
          "far locate: %llu k-blocks skipped over %llu held cycles; longest callback %.2f ms of "
          "%.2f ms\n",
          (unsigned long long)blocks, (unsigned long long)s.transport_held_cycles,
          s.callback_ns_max / 1e6, 256.0 * 1000 / RATE);
}

Test(transport, the_orchestra_reads_rolling_and_a_masters_tempo_in_channels)
{
  start(CSJ_TRANSPORT_IGNORE, false);
  run_cycles(20);
  /* Ignoring the transport, the orchestra plays while it is stopped, and
   * sees it stopped, with no BBT. */
  cr_expect(gt(dbl, chn("score_now"), 0.0));
  cr_expect(eq(dbl, chn("seen_rolling"), 0.0));
  cr_expect(eq(dbl, chn("seen_bpm"), 0.0));
  transport_start();
  transport_say("master");
  transport_say("tempo 140");
  transport_say("play");
  cr_expect(wait_chn_equal("seen_rolling", 1.0, 20000), "transport_rolling never 1");
  cr_expect(wait_chn_equal("seen_bpm", 140.0, 20000), "transport_bpm never 140: %g",
            chn("seen_bpm"));
  cr_expect(ge(dbl, chn("seen_bar"), 1.0));
  transport_say("stop");
  cr_expect(wait_chn_equal("seen_rolling", 0.0, 20000), "transport_rolling never 0 again");
}

/* The transport as another client sees it. */
static jack_position_t
query(void)
{
  if (!g_query) {
    g_query = jack_client_open(harness_name("query"), JackNoStartServer, NULL);
    cr_assert(g_query != NULL, "cannot open the query client");
  }
  jack_position_t pos;
  memset(&pos, 0, sizeof pos);
  jack_transport_query(g_query, &pos);
  return pos;
}

static bool
wait_bpm(double bpm, jack_position_t *pos, int ms)
{
  const double deadline = harness_now_ms() + ms * harness_time_scale();
  do {
    *pos = query();
    if ((pos->valid & JackPositionBBT) && pos->beats_per_minute == bpm && pos->frame > 0)
      return true;
    harness_sleep_ms(10);
  } while (harness_now_ms() < deadline);
  return false;
}

Test(transport, as_timebase_master_csjack_counts_bars_at_the_channels_tempo)
{
  start(CSJ_TRANSPORT_IGNORE, true);
  cr_expect(stats().timebase_master);
  cr_expect(harness_message_log_contains(&g_log, "timebase master"));
  transport_start();
  transport_say("play");
  jack_position_t pos;
  cr_assert(wait_bpm(120.0, &pos, 20000), "no BBT at 120 bpm from csjack: valid %#x bpm %g",
            (unsigned)pos.valid, pos.beats_per_minute);
  /* At one tempo since frame 0: the beat count is the frame's. */
  const double beats = (double)pos.frame / RATE * 120.0 / 60.0;
  const double counted =
    (pos.bar - 1) * pos.beats_per_bar + (pos.beat - 1) + pos.tick / pos.ticks_per_beat;
  cr_expect(lt(dbl, fabs(beats - counted), 1.0 / pos.ticks_per_beat + 1e-9),
            "frame %u is beat %.5f, BBT says %d|%d|%d", pos.frame, beats, pos.bar, pos.beat,
            pos.tick);
  cr_expect(eq(flt, pos.beats_per_bar, 4.0f));

  /* The orchestra's (here the caller's) tempo is the master's. */
  CsjChannel *bpm = NULL;
  cr_assert(eq(int, csj_engine_channel(g_e, "transport_bpm", &bpm), CSJ_SUCCESS));
  csj_channel_set(bpm, 90.0);
  cr_expect(wait_bpm(90.0, &pos, 20000), "the tempo did not follow the channel: %g",
            pos.beats_per_minute);
}

Test(transport, the_timebase_is_not_taken_from_another_master)
{
  transport_start();
  transport_say("master");
  transport_say("tempo 140");
  transport_say("play");
  jack_position_t pos;
  cr_assert(wait_bpm(140.0, &pos, 20000), "jack_transport did not become master");
  start(CSJ_TRANSPORT_IGNORE, true);
  cr_expect(not(stats().timebase_master));
  cr_expect(harness_message_log_contains(&g_log, "another client is"), "%s", g_log.buf);
  /* The other master's tempo is what the orchestra reads. */
  cr_expect(wait_chn_equal("seen_bpm", 140.0, 20000), "transport_bpm %g", chn("seen_bpm"));
}

Test(transport, as_timebase_master_csjack_starts_at_the_scores_tempo)
{
  start_csd("t 0 140\nf 0 3600", CSJ_TRANSPORT_IGNORE, true);
  transport_start();
  transport_say("play");
  jack_position_t pos;
  cr_expect(wait_bpm(140.0, &pos, 20000), "not the score's 140 bpm: %g", pos.beats_per_minute);
  cr_expect(wait_chn_equal("seen_bpm", 140.0, 20000), "transport_bpm %g", chn("seen_bpm"));
}
