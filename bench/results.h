/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack-bench's data: the run's settings (Config), the workloads' ids, and
 * what one period's run measured (PeriodResult, one SystemResult per
 * system). Filled by workloads.c (which also defines wl_keys and
 * samples_push), printed by report.h's functions.
 */

#ifndef CSJ_BENCH_RESULTS_H
#define CSJ_BENCH_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WHY_SIZE 256

/* ---- Settings ---------------------------------------------------------------- */

#define MAX_SWEEP 16

typedef struct {
  int periods[MAX_SWEEP];
  int n_periods;
  bool sweep;
  int rate;
  const char *server;
  int calls;
  int events;
  int impulses;
  double idle_s;
  double iodelay_s;
  int baseline_b;
  int baseline_B;
  const char *json;
  const char *plot;
  bool quick;
  uint64_t seed;
  double note_s;
  int midi_messages; /* midi_loop_frames: messages per run and system */
  int midi_runs;     /* runs per system */
  /* --capacity (capacity.c): only the voice capacity is measured. */
  bool capacity;
  double capacity_hold_s; /* seconds each step is held */
  int capacity_start;     /* voices of the first step */
  int capacity_max;       /* the most voices tried */
  bool realtime;          /* --realtime: the private jackd runs -R */
} Config;

/* ---- Workloads: their ids, in the order they run (workloads.c) ---------------- */

/* WL_EVALCODE_MUSIC: evalCode while the compile workload's three voices
 * still play (it runs last). */
enum { WL_IDLE, WL_EVALCODE, WL_EVENTS, WL_ROUNDTRIP, WL_COMPILE, WL_EVALCODE_MUSIC, WL_COUNT };

/* The JSON keys of the per-workload objects: "idle", "evalcode", ... */
extern const char *const wl_keys[WL_COUNT];

/* ---- Results -------------------------------------------------------------------- */

typedef struct {
  double *v;
  size_t n;
  size_t cap;
} Samples;

/* Appends @p x; exits on out of memory. */
void samples_push(Samples *s, double x);

typedef struct {
  const char *key;   /* the system's JSON key, e.g. "csjack_queued" */
  const char *label; /* its name in the table, e.g. "csjack queued" */
  char why[WHY_SIZE]; /* non-empty: the whole system was not measured */

  Samples eval_ms;
  int eval_failures;
  Samples eval_music_ms; /* the same calls while three voices play */
  int eval_music_failures;
  char eval_why[WHY_SIZE];

  Samples event_frames;
  int event_discarded; /* negative or absurd frame-time differences */
  int event_missed;    /* no sound within the timeout */
  Samples event_cc_frames; /* the same events, the call timed by the cycle clock */
  int event_cc_discarded;
  char event_why[WHY_SIZE];

  Samples rt_frames;
  int rt_missed;
  char rt_why[WHY_SIZE];
  double iodelay_frames;
  char iodelay_why[WHY_SIZE];

  Samples cb_us[WL_COUNT];
  bool cb_measured;
  char cb_why[WHY_SIZE];

  bool ran[WL_COUNT];
  int64_t xruns[WL_COUNT];        /* csjack: stats.xruns; baseline: the probe's */
  int64_t xruns_server[WL_COUNT]; /* the probe's count, for every system */
  int64_t dropped[WL_COUNT];
  bool dropped_measured;
  char dropped_why[WHY_SIZE];
  char xruns_source[96];

  double compile_ms;
  bool compile_ok;
  char compile_why[WHY_SIZE];
} SystemResult;

/* Room for the systems of systems.c's table (bench_system_count). */
#define MAX_SYSTEMS 8

typedef struct {
  int period;
  int rate;
  int ksmps;
  int baseline_b;
  int baseline_B;
  char server[96];
  bool private_server;
  char why[WHY_SIZE]; /* non-empty: nothing could run at this period */
  int n_sys;
  SystemResult sys[MAX_SYSTEMS];
  char ring_json[4096];
  char ring_table[4096];
  char ring_why[WHY_SIZE];
  /* midi_loop_frames (midi_loop.c): its JSON object and text table, or
   * why it was not measured. */
  char midi_json[16384];
  char midi_table[4096];
  char midi_why[WHY_SIZE];
  /* --capacity (capacity.c): its JSON object and text table, or why not. */
  char capacity_json[16384];
  char capacity_table[4096];
  char capacity_why[WHY_SIZE];
} PeriodResult;

#endif
