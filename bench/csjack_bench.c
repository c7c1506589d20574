/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack-bench: csjack against Csound's own performance thread and JACK
 * driver, on one JACK server, in one run.
 *
 * Systems:
 *   csjack_queued    every call through csjack's command ring
 *   csjack_direct    csj_engine_eval_code_direct / compile_orc_direct from
 *                    the caller's thread
 *   csjack_prompt    csj_engine_eval_code_prompt / compile_orc_prompt: the
 *                    caller's thread, in a window between two cycles
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
 * is also timed by the probe's own cycle clock (see bench_probe_cycle_clock_now).
 *
 * A benchmark prints figures; it asserts nothing. What it cannot measure it
 * says, and the JSON holds null there, with a reason under "not_measured".
 *
 * The files:
 *   csjack_bench.c    this: options, and per period a server, the probe and
 *                     each system in turn
 *   probe.c           the bench's JACK client that times the systems
 *   systems.c         the table of systems; system_csjack.c and
 *                     system_baseline.c the adapters (baseline.c: Csound's
 *                     own performance thread)
 *   workloads.c       the workloads, and one system's run through them
 *   report_text.c, report_json.c, report_plot.c   the output
 *   results.h         the data between them
 *   bench_util.c      private jackd, clocks, statistics (shared with
 *                     compile_xruns.c)
 *   ring_bench.c      the command ring's own cost
 */

#include "bench_util.h"
#include "capacity.h"
#include "probe.h"
#include "report.h"
#include "results.h"
#include "systems.h"
#include "workloads.h"
#include "midi_loop.h"

#include <jack/jack.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Options ---------------------------------------------------------------------- */

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
          "  --midi-messages N   MIDI loop: messages per run and system (default 200; 0: off)\n"
          "  --midi-runs N       MIDI loop: runs per system, at most 8 (default 3)\n"
          "  --capacity          measure only the voice capacity of csjack, csjack -j 2 and\n"
          "                      the baseline (docs/benchmark.md); the baseline at -B 2b\n"
          "  --capacity-hold S   seconds each capacity step is held (default 2)\n"
          "  --capacity-start N  voices of the first step (default 16; then doubling)\n"
          "  --capacity-max N    the most voices tried (default 2048)\n"
          "  --realtime          run the private jackd real-time (-R) instead of\n"
          "                      --no-realtime\n"
          "  --quick             a short smoke run (20 calls, 20 events, 1 s idle, 50 MIDI\n"
          "                      messages once)\n"
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
  pr->ksmps = BENCH_KSMPS;
  pr->n_sys = bench_system_count;
  for (int k = 0; k < pr->n_sys; ++k) {
    pr->sys[k].key = bench_systems[k]->key;
    pr->sys[k].label = bench_systems[k]->label;
  }
  pid_t jackd = 0;
  if (cfg->server) {
    snprintf(pr->server, sizeof(pr->server), "%s", cfg->server);
  } else {
    bench_unique_name(pr->server, sizeof(pr->server), "csjb-server");
    pr->private_server = true;
    jackd = bench_start_private_server_rt(pr->server, period, cfg->rate, cfg->realtime);
    if (jackd < 0 || !bench_wait_for_server(pr->server, 10000)) {
      snprintf(pr->why, WHY_SIZE, "the private jackd did not start (see /tmp/%s.log)",
               pr->server);
      bench_stop_private_server(jackd);
      return;
    }
  }
  BenchProbe probe;
  char why[WHY_SIZE];
  if (!bench_probe_open(&probe, pr->server, why)) {
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
  if (cfg->capacity) {
    /* The baseline at its smallest ring (rtjack wants (B/b - 1) b >= the
     * period), the other workloads not run. */
    pr->baseline_B = cfg->baseline_B > 0 ? cfg->baseline_B : 2 * pr->baseline_b;
    run_capacity(pr, cfg, &probe);
    for (int k = 0; k < pr->n_sys; ++k) {
      snprintf(pr->sys[k].why, WHY_SIZE, "not run: --capacity measures the capacity only");
    }
    snprintf(pr->midi_why, WHY_SIZE, "not run: --capacity measures the capacity only");
    bench_probe_close(&probe);
    bench_stop_private_server(jackd);
    return;
  }
  for (int k = 0; k < pr->n_sys; ++k) {
    run_system(bench_systems[k], &pr->sys[k], cfg, pr, &probe, cost, rng);
  }
  bench_probe_close(&probe);
  run_midi_loop(pr, cfg);
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
    .midi_messages = 200,
    .midi_runs = 3,
    .capacity_hold_s = 2,
    .capacity_start = 16,
    .capacity_max = 2048,
  };
  int calls = -1, events = -1, impulses = -1;
  double idle = -1;
  enum { OPT_BB = 256, OPT_BBB, OPT_CALLS, OPT_EVENTS, OPT_IMPULSES, OPT_IDLE, OPT_SEED,
         OPT_MIDI_MESSAGES, OPT_MIDI_RUNS, OPT_CAPACITY, OPT_CAP_HOLD, OPT_CAP_START,
         OPT_CAP_MAX, OPT_REALTIME };
  int midi_messages = -1, midi_runs = -1;
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
    {"midi-messages", required_argument, NULL, OPT_MIDI_MESSAGES},
    {"midi-runs", required_argument, NULL, OPT_MIDI_RUNS},
    {"capacity", no_argument, NULL, OPT_CAPACITY},
    {"capacity-hold", required_argument, NULL, OPT_CAP_HOLD},
    {"capacity-start", required_argument, NULL, OPT_CAP_START},
    {"capacity-max", required_argument, NULL, OPT_CAP_MAX},
    {"realtime", no_argument, NULL, OPT_REALTIME},
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
    case OPT_MIDI_MESSAGES: midi_messages = atoi(optarg); break;
    case OPT_MIDI_RUNS: midi_runs = atoi(optarg); break;
    case OPT_CAPACITY: cfg.capacity = true; break;
    case OPT_CAP_HOLD: cfg.capacity_hold_s = atof(optarg); break;
    case OPT_CAP_START: cfg.capacity_start = atoi(optarg); break;
    case OPT_CAP_MAX: cfg.capacity_max = atoi(optarg); break;
    case OPT_REALTIME: cfg.realtime = true; break;
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
    cfg.midi_messages = 50;
    cfg.midi_runs = 1;
  }
  if (midi_messages >= 0) cfg.midi_messages = midi_messages > 16000 ? 16000 : midi_messages;
  if (midi_runs >= 0) cfg.midi_runs = midi_runs > 8 ? 8 : midi_runs;
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
      cfg.impulses < 0 || cfg.capacity_hold_s <= 0 || cfg.capacity_start < 1 ||
      cfg.capacity_max < cfg.capacity_start || cfg.capacity_max > 9999) {
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
  if (cfg.capacity) {
    snprintf(ring.ring_why, WHY_SIZE, "not run: --capacity measures the capacity only");
  } else {
    run_ring(&ring, &cfg);
  }
  for (int i = 0; i < cfg.n_periods; ++i) {
    run_period(&cfg, cfg.periods[i], &prs[i], cost, &rng);
    memcpy(prs[i].ring_json, ring.ring_json, sizeof(ring.ring_json));
    memcpy(prs[i].ring_table, ring.ring_table, sizeof(ring.ring_table));
    memcpy(prs[i].ring_why, ring.ring_why, sizeof(ring.ring_why));
    if (cfg.capacity) {
      if (prs[i].why[0]) {
        printf("\nperiod %d not measured: %s\n", prs[i].period, prs[i].why);
      } else if (prs[i].capacity_json[0]) {
        fputs(prs[i].capacity_table, stdout);
      } else {
        printf("\ncapacity at period %d not measured: %s\n", prs[i].period,
               prs[i].capacity_why);
      }
    } else {
      print_table(&prs[i], &cfg);
    }
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
