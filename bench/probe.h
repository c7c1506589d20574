/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bench's own JACK client, the probe: it times a system from outside.
 *
 * Its output port "impulse" plays a one-sample impulse on request; its
 * input port "capture" listens to the system's channel 1, and the process
 * callback notes the frame time of the first non-zero sample once armed
 * (jack_last_frame_time() + offset). It also counts the server's xruns and
 * keeps its own view of the cycles (the cycle clock, bench_probe_cycle_clock_now),
 * because JACK's frame-time estimate drifts on the dummy driver.
 *
 * Not tests/jack_harness.c's probe, which plays and records whole buffers
 * and asserts through Criterion.
 */

#ifndef CSJ_BENCH_PROBE_H
#define CSJ_BENCH_PROBE_H

#include <jack/jack.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
  jack_client_t *client;
  jack_port_t *in;
  jack_port_t *out;
  char name[64];
  atomic_uint_fast64_t xruns;
  /* Written by the control thread, read in the process callback. */
  atomic_int armed;       /* 1: look for the first non-zero input sample */
  atomic_int impulse;     /* 1: asked; the callback plays it and sets 2 */
  atomic_uint t_call;     /* frame time of the call or of the impulse */
  /* Written in the process callback. */
  atomic_uint t_detect;   /* frame time of the first non-zero sample */
  atomic_int detected;
  atomic_uint silent_cycles; /* consecutive cycles of all-zero input */
  /* The latest cycle as the probe saw it run: its frame time and the
   * jack_get_time() at the probe's callback entry, under a sequence lock
   * (odd: being written). */
  atomic_uint cycle_seq;
  atomic_uint cycle_frames;
  atomic_uint_fast64_t cycle_usecs;
  jack_nframes_t period;
  jack_nframes_t rate;
} BenchProbe;

/** Opens and activates the probe on @p server (NULL: the default one).
 *  False and a reason in @p why (WHY_SIZE bytes) on failure. */
bool bench_probe_open(BenchProbe *p, const char *server, char *why);

/** Deactivates and closes; a closed probe is a no-op. */
void bench_probe_close(BenchProbe *p);

/** The server's xruns the probe has been told of so far. */
uint64_t bench_probe_xruns(BenchProbe *p);

/** Connects the probe to a system: impulse -> @p sys_in, @p sys_out ->
 *  capture. Drops its earlier connections first; NULL ports connect
 *  nothing. Waits 50 ms for the new graph order. */
bool bench_probe_attach(BenchProbe *p, const char *sys_out, const char *sys_in);

/** Waits until the probe has heard @p cycles silent cycles in a row. */
bool bench_probe_wait_silence(BenchProbe *p, unsigned cycles, int timeout_ms);

/** Waits until the armed probe detected sound; disarms it on timeout. */
bool bench_probe_wait_detect(BenchProbe *p, int timeout_ms);

/**
 * The frame time of "now" on the calling thread, from the probe's own view
 * of the cycles instead of JACK's DLL estimate: the latest cycle's frame
 * time plus the wall-clock time since the probe's callback ran in it, at
 * the nominal rate, capped at one period. A call after the probe's callback
 * in cycle k cannot be heard before cycle k+1, so this never exceeds the
 * frame time of the cycle that can first answer it.
 */
jack_nframes_t bench_probe_cycle_clock_now(BenchProbe *p);

#endif
