/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the benchmark programs; see bench_util.h. */

#include "bench_util.h"

#include "private_jackd.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
bench_sleep_ms(double ms)
{
  if (ms <= 0) {
    return;
  }
  const double whole = floor(ms / 1000.0);
  struct timespec t = {(time_t)whole, (long)((ms - whole * 1000.0) * 1e6)};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

uint64_t
bench_now_ns(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

pid_t
bench_start_private_server(const char *name, int period, int rate)
{
  return bench_start_private_server_rt(name, period, rate, false);
}

pid_t
bench_start_private_server_rt(const char *name, int period, int rate, bool realtime)
{
  char log[160];
  snprintf(log, sizeof(log), "/tmp/%s.log", name);
  const PrivateJackdOptions o = {
    .name = name,
    .period = (unsigned)period,
    .rate = (unsigned)rate,
    .realtime = realtime,
    .capture = -1,
    .playback = -1,
    .log_path = log,
    .death_signal = SIGTERM, /* TERM, not KILL: a killed jackd keeps its registry slot */
  };
  return private_jackd_spawn(&o);
}

bool
bench_wait_for_server(const char *name, int timeout_ms)
{
  /* A server still starting is not news: private_jackd_answers silences
   * libjack's complaints while it tries, and then sends them to stderr. */
  char client[64];
  const uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
  do {
    /* A fresh name per try: see bench_unique_name. */
    bench_unique_name(client, sizeof(client), "csjb-wait");
    if (private_jackd_answers(name, client)) {
      return true;
    }
    bench_sleep_ms(100);
  } while (bench_now_ns() < deadline);
  return false;
}

void
bench_stop_private_server(pid_t pid)
{
  private_jackd_stop(pid, 5000);
}

char *
bench_big_orchestra(int base)
{
  size_t cap = 100 * 256;
  char *text = malloc(cap);
  if (!text) {
    return NULL;
  }
  size_t len = 0;
  for (int i = 0; i < 100; ++i) {
    len += (size_t)snprintf(text + len, cap - len,
                            "instr %d\n"
                            "  asig vco2 0.1, %d + p4\n"
                            "  afil moogladder asig, 800 + %d, 0.5\n"
                            "  al, ar reverbsc afil, afil, 0.8, 8000\n"
                            "  outs al, ar\n"
                            "endin\n",
                            base + i, 100 + i, 10 * i);
  }
  return text;
}

void
bench_unique_name(char *out, size_t size, const char *prefix)
{
  static atomic_uint counter;
  snprintf(out, size, "%s-%d-%u", prefix, (int)getpid(), atomic_fetch_add(&counter, 1));
}

void
bench_rng_seed(BenchRng *rng, uint64_t seed)
{
  rng->state = seed ? seed : 0x9e3779b97f4a7c15u;
}

double
bench_rng_uniform(BenchRng *rng)
{
  uint64_t x = rng->state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng->state = x;
  return (double)((x * 0x2545f4914f6cdd1du) >> 11) / 9007199254740992.0;
}

static int
cmp_double(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
nearest_rank(const double *sorted, size_t n, double p)
{
  size_t rank = (size_t)ceil(p / 100.0 * (double)n);
  if (rank < 1) {
    rank = 1;
  }
  return sorted[rank > n ? n - 1 : rank - 1];
}

BenchSummary
bench_summarise(double *v, size_t n)
{
  BenchSummary s = {.n = n};
  if (n == 0) {
    s.mean = s.sd = s.min = s.p50 = s.p90 = s.p99 = s.p999 = s.max = NAN;
    return s;
  }
  qsort(v, n, sizeof(*v), cmp_double);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    sum += v[i];
  }
  s.mean = sum / (double)n;
  double sq = 0;
  for (size_t i = 0; i < n; ++i) {
    sq += (v[i] - s.mean) * (v[i] - s.mean);
  }
  s.sd = sqrt(sq / (double)n);
  s.min = v[0];
  s.max = v[n - 1];
  s.p50 = nearest_rank(v, n, 50);
  s.p90 = nearest_rank(v, n, 90);
  s.p99 = nearest_rank(v, n, 99);
  s.p999 = nearest_rank(v, n, 99.9);
  return s;
}

static int checks_passed, checks_failed;

void
bench_check(bool ok, const char *name, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  printf("%s %-8s ", ok ? "PASS" : "FAIL", name);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  if (ok) {
    checks_passed++;
  } else {
    checks_failed++;
  }
}

int
bench_check_report(void)
{
  printf("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed ? 1 : 0;
}
