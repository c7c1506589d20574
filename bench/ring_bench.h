/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command ring's own cost, measured without Csound or JACK running:
 * push/pop throughput of 64-byte commands with one and with N producers,
 * jack_ringbuffer moving the same records as a reference, and what the RT
 * thread pays per command when it drains a full ring.
 */

#ifndef CSJ_BENCH_RING_BENCH_H
#define CSJ_BENCH_RING_BENCH_H

typedef struct {
  double ops_per_sec_1p;              /* command ring, 1 producer, 1 consumer: items/s */
  double ops_per_sec_np;              /* command ring, `producers` producers: items/s */
  int producers;                      /* N of the case above */
  double jack_ringbuffer_ops_per_sec; /* jack_ringbuffer, 1 producer (it is SPSC): items/s */
  double drain_ns_per_command;        /* consumer's drain of 1024 queued commands, per command */
} RingBenchResult;

/**
 * Runs the four cases, each for about @p seconds_per_case (at least 0.05 s;
 * a warm-up at the start of each case is not counted), and fills @p out
 * with medians over the rounds of each case. @p producers below 1 means 4.
 * Starts and joins its own threads; not for an RT thread. Figures only, it
 * asserts nothing; an item out of order (a ring bug) is reported on stderr.
 */
void ring_bench_run(int producers, double seconds_per_case, RingBenchResult *out);

#endif
