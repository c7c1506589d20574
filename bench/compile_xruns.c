/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * compile-xruns: what compiling a 100-instrument orchestra while music plays
 * costs the JACK graph, three ways:
 *
 *   in-callback  csoundCompileOrc run inside the JACK callback (a csjack task)
 *   staged       csj_engine_compile_orc: parse on csjack's worker thread,
 *                merge and instr 0 in the JACK callback
 *   idle         no compile at all: the machine's own xrun floor
 *   direct       csj_engine_compile_orc_direct: parse and merge on the
 *                caller's thread; the JACK callback drops cycles meanwhile
 *
 * It starts its own private jackd (dummy driver) unless --server is given,
 * and prints, for each way, xruns, dropped cycles and the longest callback,
 * as medians over the repetitions. A benchmark prints figures; it asserts
 * nothing.
 *
 *   csjack-compile-xruns [--period 64] [--rate 48000] [--reps 5] [--server NAME]
 */

#include "bench_util.h"
#include "csjack.h"

#include <csound/csound.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *text;
  int result;
} InCallbackCompile;

static void
compile_in_callback(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  InCallbackCompile *c = data;
  c->result = csoundCompileOrc(csound, c->text);
}

typedef enum { WAY_IDLE, WAY_IN_CALLBACK, WAY_STAGED, WAY_DIRECT, WAY_COUNT } Way;
static const char *way_names[WAY_COUNT] = {"idle", "in-callback", "staged", "direct"};

static int
cmp_u64(const void *a, const void *b)
{
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t
median(uint64_t *v, int n)
{
  qsort(v, (size_t)n, sizeof(*v), cmp_u64);
  return v[n / 2];
}

int
main(int argc, char **argv)
{
  int period = 64, rate = 48000, reps = 5;
  const char *server = NULL;
  static const struct option options[] = {
    {"period", required_argument, NULL, 'p'}, {"rate", required_argument, NULL, 'r'},
    {"reps", required_argument, NULL, 'n'},   {"server", required_argument, NULL, 's'},
    {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "p:r:n:s:", options, NULL)) != -1) {
    switch (c) {
    case 'p': period = atoi(optarg); break;
    case 'r': rate = atoi(optarg); break;
    case 'n': reps = atoi(optarg); break;
    case 's': server = optarg; break;
    default: fprintf(stderr, "usage: %s [--period N] [--rate N] [--reps N] [--server NAME]\n", argv[0]); return 2;
    }
  }
  if (reps < 1 || reps > 100) {
    reps = 5;
  }
  char private_name[64];
  pid_t jackd = 0;
  if (!server) {
    snprintf(private_name, sizeof(private_name), "csjack-bench-%d", (int)getpid());
    jackd = bench_start_private_server(private_name, period, rate);
    server = private_name;
  }
  setenv("JACK_NO_START_SERVER", "1", 1);

  CsjOptions opts;
  csj_options_init(&opts);
  char client[64];
  snprintf(client, sizeof(client), "csjack-bench-%d", (int)getpid());
  opts.client_name = client;
  opts.server_name = server;
  opts.no_connect = true;
  static const char *quiet[] = {"-m0"};
  opts.csound_argc = 1;
  opts.csound_argv = quiet;
  /* Music while we compile: a few filtered saws. */
  const char *music = "sr = 48000\nksmps = 32\nnchnls = 2\n0dbfs = 1\n"
                      "instr 1\n  asig vco2 0.1, p4\n  afil moogladder asig, 1200, 0.4\n"
                      "  outs afil, afil\nendin\n"
                      "schedule 1, 0, -1, 110\nschedule 1, 0, -1, 165\nschedule 1, 0, -1, 220\n";
  char *text = bench_big_orchestra(100);

  /* Each measurement gets a fresh engine, so every way compiles the same 100
   * instruments into the same one-instrument orchestra: a merge's cost grows
   * with what is already defined, and redefinitions cost more again. */
  uint64_t xruns[WAY_COUNT][100], dropped[WAY_COUNT][100], peak_us[WAY_COUNT][100];
  int failures = 0;
  CsjStats st = {0};
  for (int rep = 0; rep < reps; ++rep) {
    for (int way = 0; way < WAY_COUNT; ++way) {
      /* A fresh client name each time: libjack keys a client's sockets by
       * its name, and reusing one at once after a close can fail. */
      snprintf(client, sizeof(client), "csjack-bench-%d-%d-%d", (int)getpid(), rep, way);
      CsjEngine *e = NULL;
      CsjStatus created;
      /* A server we just started may need a moment to accept clients. */
      for (int tries = 0; (created = csj_engine_create(&opts, &e)) == CSJ_ERR_NO_SERVER &&
                          jackd > 0 && tries < 50;
           ++tries) {
        bench_sleep_ms(100);
      }
      if (created != CSJ_SUCCESS) {
        fprintf(stderr, "compile-xruns: %s\n", csj_last_error(NULL));
        return 1;
      }
      if (csj_engine_compile_orc_text(e, music) != CSJ_SUCCESS ||
          csj_engine_start(e) != CSJ_SUCCESS) {
        fprintf(stderr, "compile-xruns: %s\n", csj_last_error(e));
        csj_engine_destroy(e);
        return 1;
      }
      bench_sleep_ms(300); /* warm-up, not counted */
      CsjStats before, after;
      csj_engine_reset_peak(e);
      csj_engine_stats(e, &before);
      int ok = 0;
      char err[256];
      if (way == WAY_IDLE) {
        /* The same wait with no compile: the machine's own xrun floor. */
        ok = 1;
      } else if (way == WAY_IN_CALLBACK) {
        InCallbackCompile job = {text, -1};
        csj_engine_task(e, compile_in_callback, &job);
        ok = csj_engine_flush(e, 10000) == CSJ_SUCCESS && job.result == 0;
      } else if (way == WAY_STAGED) {
        ok = csj_engine_compile_orc(e, text, 10000, err, sizeof(err)) == CSJ_SUCCESS;
      } else {
        ok = csj_engine_compile_orc_direct(e, text, err, sizeof(err)) == CSJ_SUCCESS;
      }
      bench_sleep_ms(300); /* let a late xrun report arrive */
      csj_engine_stats(e, &after);
      st = after;
      failures += !ok;
      xruns[way][rep] = after.xruns - before.xruns;
      dropped[way][rep] = after.dropped_cycles - before.dropped_cycles;
      peak_us[way][rep] = after.callback_ns_max / 1000;
      csj_engine_stop(e);
      csj_engine_wait(e, 2000);
      csj_engine_destroy(e);
    }
  }
  free(text);
  printf("compile-xruns: 100-instrument orchestra (vco2, moogladder, reverbsc) compiled while\n"
         "3 voices play; period %u, %u Hz, ksmps %u, %d repetitions (medians; max in brackets)\n\n",
         st.period, st.sample_rate, st.ksmps, reps);
  printf("%-12s %12s %16s %22s\n", "way", "xruns", "dropped cycles", "longest callback (us)");
  for (int way = 0; way < WAY_COUNT; ++way) {
    uint64_t mx = 0, md = 0, mp = 0;
    for (int i = 0; i < reps; ++i) {
      mx = xruns[way][i] > mx ? xruns[way][i] : mx;
      md = dropped[way][i] > md ? dropped[way][i] : md;
      mp = peak_us[way][i] > mp ? peak_us[way][i] : mp;
    }
    const uint64_t x = median(xruns[way], reps), d = median(dropped[way], reps),
                   p = median(peak_us[way], reps);
    printf("%-12s %6llu [%3llu] %10llu [%3llu] %14llu [%6llu]\n", way_names[way],
           (unsigned long long)x, (unsigned long long)mx, (unsigned long long)d,
           (unsigned long long)md, (unsigned long long)p, (unsigned long long)mp);
  }
  printf("\nperiod budget: %.0f us. compile failures: %d\n", 1e6 * st.period / st.sample_rate,
         failures);
  if (jackd > 0) {
    bench_stop_private_server(jackd);
  }
  return 0;
}
