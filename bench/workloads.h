/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The workloads (workloads.c, one table): in this order on a fresh instance
 * of each system, after a warm-up that is not counted, an idle stretch
 * (empty ring), evalCode round trips, score event to first sound, an
 * impulse round trip (plus jack_iodelay's figure), and a 100-instrument
 * compile while music plays. xruns, dropped cycles and csjack's callback
 * time are recorded during each. Events and the round trip run on queued
 * systems only.
 */

#ifndef CSJ_BENCH_WORKLOADS_H
#define CSJ_BENCH_WORKLOADS_H

#include "bench_util.h"
#include "probe.h"
#include "results.h"
#include "systems.h"

/* The orchestra's ksmps. */
#define BENCH_KSMPS 32

/**
 * Starts @p sys on server pr->server, connects @p probe to it, runs the
 * workloads and fills @p r; stops the system. @p cost: the callback-time
 * recorder (its arrays allocated, COST_CAP each), reset here.
 */
void run_system(const BenchSystem *sys, SystemResult *r, const Config *cfg, PeriodResult *pr,
                BenchProbe *probe, CostRecorder *cost, BenchRng *rng);

/** The command ring's own cost (ring_bench.h, no JACK): fills pr->ring_json
 *  and pr->ring_table, or pr->ring_why. */
void run_ring(PeriodResult *pr, const Config *cfg);

#endif
