/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack-bench --capacity: how many voices of a reference instrument play
 * at the server's period before the first late callback or xrun.
 *
 * The voice (instr 10): madsr 0.01/0.1/0.8/0.2 on vco2 (0.05, a frequency
 * per voice) through moogladder (cutoff 2000 + a per-voice offset, res 0.6),
 * stereo; every voice a held note (p3 = -1) with its own fractional
 * instrument number, so a step down turns off exactly the voices it added.
 *
 * Three systems, each a fresh instance on the bench's server: csjack (the
 * library as system_csjack.c uses it), csjack_j2 (the same with Csound's
 * -j 2) and baseline (CsoundPerformanceThread, -+rtaudio=jack, -b period
 * -B 2 periods: the smallest ring rtjack accepts, unless --baseline-b/-B).
 *
 * Steps: the voices double from --capacity-start until a step fails, then a
 * bisection between the last step that held and the first that failed, to
 * 8 voices. A step holds --capacity-hold seconds (after a short settle) and
 * fails on any late callback or xrun in the hold: for csjack the deltas of
 * CsjStats.callbacks_late and .xruns; for the baseline the server's xruns
 * (the probe's xrun callback) and rtjack's ring under-runs (its "xrun in
 * real time audio" warning, counted by baseline.c). A failing step is held
 * once more and fails only if that fails too. Capacity: the most voices
 * that held; a first step of no voice shows whether the server xruns idle.
 */

#ifndef CSJ_BENCH_CAPACITY_H
#define CSJ_BENCH_CAPACITY_H

#include "probe.h"
#include "results.h"

/** Measures the three systems at pr->server (the probe already open on
 *  it): fills pr->capacity_json and pr->capacity_table, or
 *  pr->capacity_why. */
void run_capacity(PeriodResult *pr, const Config *cfg, BenchProbe *probe);

#endif
