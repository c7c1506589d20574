/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the benchmark programs: a private dummy-driver jackd,
 * the 100-instrument compile workload, clocks and order statistics.
 *
 * None of these is real-time safe; they are for the benchmarks' control
 * threads.
 */

#ifndef CSJ_BENCH_UTIL_H
#define CSJ_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Sleeps @p ms milliseconds (restarting after signals). */
void bench_sleep_ms(double ms);

/** CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/**
 * Starts `jackd --no-realtime -n NAME -d dummy -r RATE -p PERIOD` as a child
 * that dies with us (PR_SET_PDEATHSIG). Its output goes to /tmp/NAME.log.
 * Returns the pid, or -1.
 */
pid_t bench_start_private_server(const char *name, int period, int rate);

/**
 * The same, with `-R` instead of `--no-realtime` when @p realtime: JACK's
 * threads, ours included, then run SCHED_FIFO where the system allows it
 * (jackd carries on without it where it does not).
 */
pid_t bench_start_private_server_rt(const char *name, int period, int rate, bool realtime);

/**
 * Waits up to @p timeout_ms until server @p name accepts clients. Returns
 * true when it does.
 */
bool bench_wait_for_server(const char *name, int timeout_ms);

/** SIGTERM, then waits for the server to exit. No-op for pid <= 0. */
void bench_stop_private_server(pid_t pid);

/**
 * The compile workload: 100 instruments of vco2, moogladder and reverbsc,
 * numbered from @p base. The caller frees the text.
 */
char *bench_big_orchestra(int base);

/**
 * A fresh JACK client name: "PREFIX-PID-N", N counting up per process.
 * libjack keys a client's sockets by its name, and reusing one at once
 * after a close can fail, so every engine gets its own.
 */
void bench_unique_name(char *out, size_t size, const char *prefix);

/** A small deterministic generator (xorshift64*): uniform in [0, 1). */
typedef struct {
  uint64_t state;
} BenchRng;
void bench_rng_seed(BenchRng *rng, uint64_t seed);
double bench_rng_uniform(BenchRng *rng);

/** Order statistics of a sample. */
typedef struct {
  size_t n;
  double mean, sd, min, p50, p90, p99, p999, max;
} BenchSummary;

/**
 * Sorts @p v in place and summarises it. Percentiles are nearest-rank:
 * the smallest value with at least p% of the sample at or below it. With
 * n == 0 every field but n is NaN. sd is the population standard deviation.
 */
BenchSummary bench_summarise(double *v, size_t n);

/**
 * A named check of a plain test program: prints "PASS name ..." or
 * "FAIL name ..." and counts it.
 */
void bench_check(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Prints the last line, "N passed, N failed"; returns the exit status. */
int bench_check_report(void);

#endif
