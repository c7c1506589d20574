/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The systems under test, behind one small vtable. A system is an
 * adapter (system_csjack.c, system_baseline.c) plus a row in systems.c's
 * table; the workloads (workloads.c) drive every system through this
 * interface only, and the report prints them in the table's order.
 *
 * Adding a system (say a csjack path with other timing): one file that
 * defines a `const BenchSystem` and one row in bench_systems[].
 */

#ifndef CSJ_BENCH_SYSTEMS_H
#define CSJ_BENCH_SYSTEMS_H

#include "results.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * csjack's callback time, sampled from inside the cycle (system_csjack.c
 * attaches it to an engine): one array of samples per workload, tagged by
 * `phase`, which the workloads set. Preallocated (COST_CAP each): the
 * recording runs in the RT thread.
 */
#define COST_CAP (1u << 18)

typedef struct {
  atomic_int phase; /* a WL_* index, or -1: record nothing */
  uint64_t prev_cycles;
  uint64_t prev_dropped;
  bool prev_valid;
  uint32_t *samples[WL_COUNT]; /* nanoseconds */
  atomic_size_t count[WL_COUNT];
} CostRecorder;

/* What a system needs to start. */
typedef struct {
  const char *server;    /* the JACK server */
  int baseline_b;        /* the baseline's -b and -B */
  int baseline_B;
  const char *orchestra; /* workloads.c's thru orchestra */
  CostRecorder *cost;    /* for the adapters that can time their callback */
} SystemSetup;

typedef struct BenchSystem BenchSystem;

/* One started instance of a system. */
typedef struct {
  const BenchSystem *sys;
  void *impl;          /* the adapter's own */
  CostRecorder *cost;  /* non-NULL: the adapter records callback times there */
  char out_port[160];  /* channel 1: thru + the event's constant */
  char in_port[160];
  /* Counters at the start of the current workload (workloads.c). */
  uint64_t xruns_before, dropped_before;
  uint64_t probe_before;
} SystemRun;

struct BenchSystem {
  const char *key;   /* JSON key: "csjack_queued" */
  const char *label; /* table label: "csjack queued" */
  /* Score events and impulses are measured on queued systems only; a
   * direct one says why not (events_why) and names its queued twin. */
  bool queued;
  const char *events_why; /* queued == false: why no events */
  const char *twin;       /* queued == false: the key of the queued twin */
  /* Where xruns come from ("..."), and why there are no callback times or
   * dropped cycles (NULL: the system measures them). */
  const char *xruns_source;
  const char *callback_why;
  const char *dropped_why;

  /* Starts an instance: fills r->impl, the ports and r->cost (or leaves it
   * NULL). False and a reason in @p why (WHY_SIZE bytes). */
  bool (*open)(SystemRun *r, const SystemSetup *setup, char *why);
  /* evalCode by the system's path; 0 on success. */
  int (*eval)(SystemRun *r, const char *code, double *value);
  /* A score event 'i' with @p n pfields; 0 on success. */
  int (*event)(SystemRun *r, const double *p, int n);
  /* The 100-instrument compile: @p orc as an orchestra, or @p orc_eval
   * (the same + "return 1") for systems that compile through evalCode. */
  int (*compile)(SystemRun *r, const char *orc, const char *orc_eval);
  /* The system's own xrun and dropped-cycle counters; NULL: it has none
   * (the probe's server-wide xruns stand in). */
  void (*counters)(SystemRun *r, uint64_t *xruns, uint64_t *dropped);
  /* Stops and frees the instance. */
  void (*close)(SystemRun *r);
};

/* The adapters (system_*.c). */
extern const BenchSystem bench_csjack_queued, bench_csjack_direct, bench_csjack_prompt;
extern const BenchSystem bench_csjack_stamped; /* system_csjack_stamped.c */
extern const BenchSystem bench_baseline_queued, bench_baseline_direct;

/* The systems in the order they run and are reported (systems.c). */
extern const BenchSystem *const bench_systems[];
extern const int bench_system_count;

#endif
