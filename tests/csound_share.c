/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csound_share: what blocks or allocates on the JACK thread, and whose it
 * is. Counts, process-wide (rt_interpose.h), every allocation, lock, wait,
 * I/O call and sleep made on the JACK thread while csjack's process
 * callback runs, and splits them into csjack's own share and Csound's
 * share per Csound entry point, over a series of scenarios that each use
 * one orchestra feature or one kind of command.
 *
 *   csound_share [PERIOD [CSOUND-OPTION...]]   (period 256; 48 kHz, ksmps 32)
 *
 * It starts its own jackd (dummy driver, unique name) and stops it with
 * SIGTERM. It prints a report and ends with "N passed, N failed":
 *   csjack   csjack's own code made zero forbidden calls in every scenario;
 *   sees     the counter sees Csound: the first note-ons of an instrument
 *            without prealloc allocate inside csoundPerformKsmps, and
 *            csoundPerformKsmps takes Csound's API_lock once per k-block, less
 *            at most one cycle's k-blocks in flight at a scenario's edges
 *            (if either is zero, the interposition is broken and every
 *            zero in the report is meaningless);
 *   prealloc notes of a preallocated instrument, and repeated notes within
 *            the polyphony already reached, allocate nothing in Csound.
 * Csound's share is reported, not judged: it is Csound's.
 */

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sndfile.h>

#include "bench_util.h"
#include "csjack.h"
#include "rt_interpose.h"

#define RATE 48000

static char g_wav[256];

static const char ORC_HEAD[] =
    "sr = 48000\n"
    "ksmps = 32\n"
    "nchnls = 2\n"
    "nchnls_i = 0\n"
    "0dbfs = 1\n"
    "gisine ftgen 100, 0, 4096, 10, 1\n"
    "prealloc 3, 16\n"
    "chn_k \"cutoff\", 1\n"
    "chn_S \"label\", 1\n"
    /* 1: always on, from the start: the steady state */
    "instr 1\n"
    "  kc chnget \"cutoff\"\n"
    "  kc limit kc, 200, 4000\n"
    "  a1 vco2 0.05, 110\n"
    "  a2 moogladder a1, kc, 0.3\n"
    "  outs a2, a2\n"
    "endin\n"
    /* 2: a note, no prealloc */
    "instr 2\n"
    "  aenv linen p4, 0.005, p3, 0.01\n"
    "  a1 poscil aenv, p5, 100\n"
    "  outs a1, a1\n"
    "endin\n"
    /* 3: the same note, preallocated (prealloc 3, 16 above) */
    "instr 3\n"
    "  aenv linen p4, 0.005, p3, 0.01\n"
    "  a1 poscil aenv, p5, 100\n"
    "  outs a1, a1\n"
    "endin\n"
    /* 4: a delay line: its memory is allocated at init */
    "instr 4\n"
    "  a1 poscil p4, p5, 100\n"
    "  adel delayr 0.5\n"
    "  delayw a1\n"
    "  outs adel, adel\n"
    "endin\n"
    /* 5: printing at k-rate */
    "instr 5\n"
    "  printks \"k=%%f\\n\", 0.02, timeinsts()\n"
    "endin\n"
    /* 6: strings built at k-rate */
    "instr 6\n"
    "  S1 sprintfk \"value %%f and more text to make it longer\", timeinsts()\n"
    "  S2 strcatk S1, \" suffix\"\n"
    "  chnset S2, \"label\"\n"
    "endin\n"
    /* 7: events from inside the orchestra, to a preallocated instrument */
    "instr 7\n"
    "  kt metro 50\n"
    "  schedkwhen kt, 0, 0, 3, 0, 0.05, 0.05, 660\n"
    "endin\n"
    /* 8: streaming a sound file from disk */
    "instr 8\n"
    "  a1 diskin2 p4, 1\n"
    "  outs a1*0.1, a1*0.1\n"
    "endin\n"
    "schedule 1, 0, -1\n";

typedef struct {
  CsjEngine *e;
  int period;
} Ctx;

static void msg_quiet(void *data, int attr, const char *text)
{
  (void)data;
  (void)attr;
  if (getenv("CSJ_TEST_VERBOSE"))
    fputs(text, stderr);
}

static void must(CsjStatus st, const char *what)
{
  if (st != CSJ_SUCCESS) {
    fprintf(stderr, "csound_share: %s: %s\n", what, csj_strerror(st));
    exit(2);
  }
}

static void notes(Ctx *c, int instr, int count, double dur)
{
  for (int i = 0; i < count; i++) {
    const double p[] = {instr, 0, dur, 0.02, 300 + 50 * i};
    must(csj_engine_score_event(c->e, 'i', p, 5, false), "score_event");
  }
}

/* ---- the scenarios ---------------------------------------------------------------------- */

static void s_steady(Ctx *c) { (void)c; bench_sleep_ms(1000); }
static void s_notes_first(Ctx *c) { notes(c, 2, 8, 0.2); }
static void s_notes_again(Ctx *c) { notes(c, 2, 8, 0.2); }
static void s_notes_more(Ctx *c) { notes(c, 2, 16, 0.2); }
static void s_prealloc(Ctx *c) { notes(c, 3, 16, 0.2); }
static void s_delay_first(Ctx *c) { notes(c, 4, 1, 0.2); }
static void s_delay_again(Ctx *c) { notes(c, 4, 1, 0.2); }
static void s_printks(Ctx *c) { notes(c, 5, 1, 0.2); }
static void s_strings(Ctx *c) { notes(c, 6, 1, 0.2); }
static void s_event_opcode(Ctx *c) { notes(c, 7, 1, 0.3); }

static void s_diskin(Ctx *c)
{
  char line[400];
  snprintf(line, sizeof line, "i 8 0 0.3 \"%s\"", g_wav);
  must(csj_engine_input_message(c->e, line), "input_message");
}

static void s_score_events(Ctx *c)
{
  for (int i = 0; i < 20; i++) {
    const double p[] = {3, 0, 0.02, 0.02, 500};
    must(csj_engine_score_event(c->e, 'i', p, 5, false), "score_event");
    bench_sleep_ms(5);
  }
}

static void s_input_messages(Ctx *c)
{
  for (int i = 0; i < 20; i++) {
    must(csj_engine_input_message(c->e, "i 3 0 0.02 0.02 550"), "input_message");
    bench_sleep_ms(5);
  }
}

static void s_controls_tables(Ctx *c)
{
  CsjChannel *ch = NULL;
  must(csj_engine_channel(c->e, "cutoff", &ch), "channel");
  for (int i = 0; i < 100; i++) {
    csj_channel_set(ch, 500 + 10 * i);
    must(csj_engine_set_control(c->e, "cutoff", 800 + i), "set_control");
    must(csj_engine_table_set(c->e, 100, i, 0.5), "table_set");
    bench_sleep_ms(2);
  }
}

static void s_string_channel(Ctx *c)
{
  for (int i = 0; i < 20; i++) {
    char text[64];
    snprintf(text, sizeof text, "label %d", i);
    must(csj_engine_set_string_channel(c->e, "label", text), "set_string_channel");
    bench_sleep_ms(5);
  }
}

static void s_eval(Ctx *c)
{
  for (int i = 1; i <= 10; i++) {
    char code[64];
    double v = NAN;
    snprintf(code, sizeof code, "return %d", i);
    must(csj_engine_eval_code(c->e, code, 5000, &v, NULL, 0), "eval_code");
  }
}

static void s_compile(Ctx *c)
{
  for (int i = 0; i < 3; i++) {
    char code[160];
    snprintf(code, sizeof code, "instr %d\n a1 poscil 0.01, 300\n outs a1, a1\nendin\n",
             20 + i);
    must(csj_engine_compile_orc(c->e, code, 5000, NULL, 0), "compile_orc");
  }
}

typedef struct {
  const char *name;
  const char *what;
  void (*run)(Ctx *);
  int settle_ms; /* after the commands are flushed: let notes finish */
} Scenario;

static const Scenario SCENARIOS[] = {
    {"steady", "instr 1 alone, always on (vco2, moogladder, a chnget), 1 s", s_steady, 0},
    {"notes-first", "8 overlapping notes of instr 2 (no prealloc), the first ever", s_notes_first,
     300},
    {"notes-again", "the same 8 notes again", s_notes_again, 300},
    {"notes-more", "16 overlapping notes of instr 2: 8 more than ever before", s_notes_more, 300},
    {"prealloc", "16 overlapping notes of instr 3 (prealloc 3, 16)", s_prealloc, 300},
    {"delay-first", "instr 4, a delayr/delayw note, the first", s_delay_first, 300},
    {"delay-again", "instr 4 again", s_delay_again, 300},
    {"printks", "instr 5: printks every 20 ms for 0.2 s", s_printks, 300},
    {"strings", "instr 6: sprintfk, strcatk and chnset of a string every k-cycle", s_strings,
     300},
    {"event-opcode", "instr 7: schedkwhen 50 times/s to instr 3 (preallocated)",
     s_event_opcode, 400},
    {"diskin2", "instr 8: diskin2 streams a 1 s WAV file for 0.3 s", s_diskin, 400},
    {"score-events", "20 csj_engine_score_event (instr 3)", s_score_events, 100},
    {"input-messages", "20 csj_engine_input_message \"i 3 ...\"", s_input_messages, 100},
    {"controls-tables", "100 channel handle writes, set_control and table_set", s_controls_tables,
     50},
    {"string-channel", "20 csj_engine_set_string_channel", s_string_channel, 50},
    {"eval", "10 queued csj_engine_eval_code \"return N\"", s_eval, 50},
    {"compile", "3 queued csj_engine_compile_orc, one new instrument each", s_compile, 50},
};
enum { N_SCENARIOS = sizeof SCENARIOS / sizeof SCENARIOS[0] };

/* ---- the report ---------------------------------------------------------------------------- */

typedef struct {
  uint64_t n[RI_WHO_COUNT][RI_FN_COUNT];
  uint64_t entries[RI_WHO_COUNT];
  uint64_t callbacks, kblocks;
} Snapshot;

static void snapshot(Snapshot *s, uint64_t kblocks)
{
  for (int w = 0; w < RI_WHO_COUNT; w++) {
    s->entries[w] = ri_entries((RiWho)w);
    for (int f = 0; f < RI_FN_COUNT; f++)
      s->n[w][f] = ri_count((RiWho)w, (RiFn)f);
  }
  s->callbacks = ri_callbacks();
  s->kblocks = kblocks;
}

static uint64_t forbidden_of(const Snapshot *s, int who)
{
  uint64_t n = 0;
  for (int f = 0; f < RI_FORBIDDEN_COUNT; f++)
    n += s->n[who][f];
  return n;
}

static uint64_t allocs_of(const Snapshot *s, int who)
{
  return s->n[who][RI_MALLOC] + s->n[who][RI_CALLOC] + s->n[who][RI_REALLOC] +
         s->n[who][RI_MEMALIGN];
}

static void print_scenario(const Scenario *sc, const Snapshot *s, bool sites)
{
  printf("\n== %s: %s\n", sc->name, sc->what);
  printf("   %llu callbacks, %llu k-blocks\n", (unsigned long long)s->callbacks,
         (unsigned long long)s->kblocks);
  for (int w = 0; w < RI_WHO_COUNT; w++) {
    bool any = false;
    for (int f = 0; f < RI_FN_COUNT; f++)
      any |= s->n[w][f] != 0;
    if (w != RI_CSJACK && !any && s->entries[w] == 0)
      continue;
    if (w == RI_CSJACK)
      printf("   %-28s forbidden calls: %llu\n", ri_who_name((RiWho)w),
             (unsigned long long)forbidden_of(s, w));
    else
      printf("   %-28s %llu calls into it; forbidden calls inside: %llu\n",
             ri_who_name((RiWho)w), (unsigned long long)s->entries[w],
             (unsigned long long)forbidden_of(s, w));
    for (int f = 0; f < RI_FN_COUNT; f++) {
      if (s->n[w][f] == 0)
        continue;
      printf("      %-30s %8llu%s\n", ri_fn_name((RiFn)f), (unsigned long long)s->n[w][f],
             f >= RI_FORBIDDEN_COUNT ? "   (allowed)" : "");
      if (sites && f < RI_FORBIDDEN_COUNT)
        ri_print_sites((RiWho)w, (RiFn)f, "         ");
    }
  }
}


static bool write_wav(const char *path)
{
  SF_INFO info = {.samplerate = RATE, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
  SNDFILE *f = sf_open(path, SFM_WRITE, &info);
  if (!f)
    return false;
  static float buf[RATE];
  for (int i = 0; i < RATE; i++)
    buf[i] = 0.5f * (float)sin(2 * M_PI * 440.0 * i / RATE);
  sf_writef_float(f, buf, RATE);
  sf_close(f);
  return true;
}

int main(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const int period = argc > 1 ? atoi(argv[1]) : 256;
  const bool sites = true;
  char server[64];
  bench_unique_name(server, sizeof server, "csjshare");
  snprintf(g_wav, sizeof g_wav, "/tmp/csjack-share-%d.wav", (int)getpid());
  if (!write_wav(g_wav)) {
    fprintf(stderr, "csound_share: cannot write %s\n", g_wav);
    return 2;
  }
  const pid_t jackd = bench_start_private_server(server, period, RATE);
  if (jackd <= 0 || !bench_wait_for_server(server, 20000)) {
    fprintf(stderr, "csound_share: could not start a private jackd\n");
    unlink(g_wav);
    return 2;
  }
  setenv("JACK_DEFAULT_SERVER", server, 1);

  CsjOptions o;
  csj_options_init(&o);
  char client[80];
  snprintf(client, sizeof client, "%s-client", server);
  o.client_name = client;
  o.server_name = server;
  o.no_connect = true;
  o.message_fn = msg_quiet;
  /* csound_share [PERIOD] [CSOUND-OPTION...]: e.g. --realtime */
  if (argc > 2) {
    o.csound_argc = argc - 2;
    o.csound_argv = (const char *const *)argv + 2;
  }
  CsjEngine *e = NULL;
  must(csj_engine_create(&o, &e), "create");
  must(csj_engine_compile_orc_text(e, ORC_HEAD), "compile");
  must(csj_engine_start(e), "start");
  csj_engine_set_submit_timeout(e, 5000);
  Ctx c = {.e = e, .period = period};

  printf("csound_share: period %d, %d Hz, ksmps 32, server %s (dummy driver)\n", period, RATE,
         server);
  printf("Calls on the JACK thread while csjack's process callback ran, by who made them.\n"
         "Forbidden: allocation, mutex/rwlock/cond/semaphore waits, I/O, sleep, poll, thread\n"
         "creation. Call stacks name the nearest exported symbol of each frame.\n");
  bench_sleep_ms(300); /* warm up: the first cycles */
  must(csj_engine_flush(e, 5000), "flush");

  Snapshot all[N_SCENARIOS];
  uint64_t csjack_total = 0, callbacks_total = 0;
  for (int i = 0; i < N_SCENARIOS; i++) {
    CsjStats s0, s1;
    ri_reset();
    csj_engine_stats(e, &s0);
    SCENARIOS[i].run(&c);
    must(csj_engine_flush(e, 5000), "flush");
    bench_sleep_ms(SCENARIOS[i].settle_ms);
    csj_engine_stats(e, &s1);
    snapshot(&all[i], s1.ksmps_blocks - s0.ksmps_blocks);
    print_scenario(&SCENARIOS[i], &all[i], sites);
    csjack_total += forbidden_of(&all[i], RI_CSJACK);
    callbacks_total += all[i].callbacks;
  }
  CsjStats st;
  csj_engine_stats(e, &st);
  const bool still_running = !csj_engine_finished(e);
  csj_engine_destroy(e);
  bench_stop_private_server(jackd);
  unlink(g_wav);

  /* The summary: one line per scenario. */
  printf("\n%-16s %9s %8s | %8s %8s %8s %8s %8s\n", "scenario", "callbacks", "csjack",
         "cs alloc", "cs free", "cs lock", "cs I/O", "k-blocks");
  for (int i = 0; i < N_SCENARIOS; i++) {
    const Snapshot *s = &all[i];
    uint64_t cs_alloc = 0, cs_free = 0, cs_lock = 0, cs_io = 0;
    for (int w = 1; w < RI_WHO_COUNT; w++) {
      cs_alloc += allocs_of(s, w);
      cs_free += s->n[w][RI_FREE];
      cs_lock += s->n[w][RI_MUTEX_LOCK] + s->n[w][RI_RWLOCK] + s->n[w][RI_COND_WAIT] +
                 s->n[w][RI_SEM_WAIT];
      cs_io += s->n[w][RI_WRITE] + s->n[w][RI_READ] + s->n[w][RI_STDIO] + s->n[w][RI_OPEN] +
               s->n[w][RI_SLEEP] + s->n[w][RI_POLL] + s->n[w][RI_THREAD];
    }
    printf("%-16s %9llu %8llu | %8llu %8llu %8llu %8llu %8llu\n", SCENARIOS[i].name,
           (unsigned long long)s->callbacks, (unsigned long long)forbidden_of(s, RI_CSJACK),
           (unsigned long long)cs_alloc, (unsigned long long)cs_free,
           (unsigned long long)cs_lock, (unsigned long long)cs_io,
           (unsigned long long)s->kblocks);
  }
  printf("(csjack: forbidden calls by csjack's own code; cs: inside Csound, all entry points;\n"
         " cs lock counts mutex, rwlock, condition and semaphore waits.)\n\n");

  const Snapshot *first = &all[1], *again = &all[2], *pre = &all[4], *steady = &all[0];
  bench_check(csjack_total == 0, "csjack",
              "csjack's own code: %llu forbidden calls in %llu callbacks over %d scenarios",
              (unsigned long long)csjack_total, (unsigned long long)callbacks_total, N_SCENARIOS);
  /* The counters are reset, and the k-blocks read, while the JACK thread
   * runs: the cycle in flight at either edge of the scenario may have its
   * k-blocks counted and their locks not (CI saw 1507 locks for 1509
   * k-blocks once), so one cycle's k-blocks are allowed for. */
  const uint64_t one_cycle = (uint64_t)period / 32;
  bench_check(allocs_of(first, RI_CS_PERFORM_KSMPS) > 0 &&
                  steady->n[RI_CS_PERFORM_KSMPS][RI_MUTEX_LOCK] + one_cycle >= steady->kblocks &&
                  steady->kblocks > 0,
              "sees",
              "the counter sees Csound: %llu allocations in the first note-ons, %llu API_lock "
              "locks for %llu k-blocks",
              (unsigned long long)allocs_of(first, RI_CS_PERFORM_KSMPS),
              (unsigned long long)steady->n[RI_CS_PERFORM_KSMPS][RI_MUTEX_LOCK],
              (unsigned long long)steady->kblocks);
  uint64_t pre_allocs = 0, again_allocs = 0;
  for (int w = 1; w < RI_WHO_COUNT; w++) {
    pre_allocs += allocs_of(pre, w);
    again_allocs += allocs_of(again, w);
  }
  bench_check(pre_allocs == 0 && again_allocs == 0, "prealloc",
              "Csound allocations: %llu for 16 preallocated notes, %llu for 8 notes within the "
              "polyphony reached before",
              (unsigned long long)pre_allocs, (unsigned long long)again_allocs);
  bench_check(still_running, "running",
              "the performance ran to the end (xruns %llu, printed only)",
              (unsigned long long)st.xruns);
  return bench_check_report();
}
