/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The baseline the benchmark compares csjack against: Csound's own
 * CsoundPerformanceThread (libcsnd6's C wrapper) performing with Csound's
 * own JACK driver (-+rtaudio=jack -odac -iadc, -b/-B buffers), as the seed's
 * Python setup (ctcsound's performance thread with a process-callback queue)
 * does.
 */

#ifndef CSJ_BENCH_BASELINE_H
#define CSJ_BENCH_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct BaselineImpl Baseline;

typedef struct {
  const char *server_name;  /* JACK server (the bench's private one) */
  const char *client_name;  /* Csound's -+jack_client */
  int period_b;             /* -b (default: the JACK period) */
  int buffer_B;             /* -B (default: max(2 * b, 256)) */
  const char *orchestra;    /* orchestra text, started with csoundStart */
  bool connect_physical;    /* let rtjack autoconnect (default false) */
  /* Csound's own JACK MIDI too (-+rtmidi=jack -M0 -Q0): its clients
   * csound6-midi_in and csound6-midi_out, left unconnected. */
  bool midi;
  /* Run at -m4 instead of -m0 so that rtjack warns of its xruns (a ring
   * under-run: the performance thread late, or a JACK xrun), and count
   * the warnings: baseline_rtjack_xruns. */
  bool count_xruns;
} BaselineOptions;

/** Starts Csound and its performance thread; NULL and a reason on failure.
 *  rtjack has no server option, so this sets JACK_DEFAULT_SERVER for the
 *  duration of the call: no other thread may use the environment meanwhile.
 *  A client name already on the server is refused (rtjack would rename). */
Baseline *baseline_start(const BaselineOptions *opts, char *why, size_t why_size);

/**
 * The queued path: the code is handed to a queue that the performance
 * thread's process callback drains before each k-cycle (the ctcsound way);
 * waits for the value up to timeout_ms. Returns 0 on success, -1 on timeout
 * (or bad arguments), -2 when Csound failed (evalCode gave NaN; *value is
 * still set), -3 when the performance has ended.
 */
int baseline_eval_queued(Baseline *b, const char *code, int timeout_ms, double *value);

/** The direct path: csoundEvalCode on the caller's thread while it runs.
 *  Returns 0, or -2 when Csound failed (NaN). */
int baseline_eval_direct(Baseline *b, const char *code, double *value);

/** A score event through CsoundPTscoreEvent. */
int baseline_score_event(Baseline *b, char type, const double *pfields, int count);

/** The JACK port names Csound's driver registered (e.g. "csound:output1").
 *  Channels count from 1, like Csound's (inch 1) and the port names:
 *  channel 1 is "<client>:output1". NULL when out of range. */
const char *baseline_output_port(const Baseline *b, int channel);
const char *baseline_input_port(const Baseline *b, int channel);

/** With BaselineOptions.midi: the full names of Csound's JACK MIDI input
 *  (what plays into Csound) and output ports; NULL without. */
const char *baseline_midi_in_port(const Baseline *b);
const char *baseline_midi_out_port(const Baseline *b);

/** With BaselineOptions.count_xruns: rtjack's "xrun in real time audio"
 *  warnings so far. rtjack warns from the performance thread's next read,
 *  once for any number of xruns since the last warning. */
uint64_t baseline_rtjack_xruns(Baseline *b);

/** Stops the performance thread, joins, and destroys Csound. */
void baseline_stop(Baseline *b);

#endif
