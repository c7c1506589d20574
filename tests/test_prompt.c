/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The prompt path (csj_engine_eval_code_prompt, csj_engine_compile_orc_prompt):
 * evalCode merged on the caller's thread in a window between two cycles.
 *
 * Behaviour only: values, errors, order with commands queued before it,
 * the fall back to the ring. Times and dropped cycles are printed, never
 * asserted (a noisy machine decides them, not csjack).
 */

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "csjack.h"
#include "jack_harness.h"
#include "test_engine_start.h"

#define RATE 48000

static CsjEngine *g_e;
static HarnessMessageLog g_log = HARNESS_MESSAGE_LOG_INIT;

static void teardown(void)
{
  csj_engine_destroy(g_e);
  g_e = NULL;
  harness_server_stop();
}

static void server_256(void) { harness_server_start(256, RATE); }
static void server_64(void) { harness_server_start(64, RATE); }

/* A sine that always plays, and a channel the tests read at i-time. */
static const char SINE_ORC[] =
    "sr = 48000\nksmps = 32\nnchnls = 2\nnchnls_i = 0\n0dbfs = 1\n"
    "chn_k \"ord\", 3\n"
    "instr 1\n"
    "  a1 oscili 0.1, 440\n"
    "  outs a1, a1\n"
    "endin\n"
    "schedule 1, 0, -1\n";

static CsjEngine *engine_start(const char *base)
{
  CsjOptions o;
  test_engine_options(&o, base, &g_log);
  CsjEngine *e = test_engine_start(&o, SINE_ORC, &g_e, &g_log);
  /* a few cycles, so the JACK thread has published its timing */
  harness_sleep_ms(50);
  return e;
}

static double prompt_ok(CsjEngine *e, const char *code)
{
  double v = NAN;
  char err[512] = "";
  CsjStatus st = csj_engine_eval_code_prompt(e, code, 5000, &v, err, sizeof err);
  cr_assert(eq(int, st, CSJ_SUCCESS), "eval_code_prompt(%s): %s: %s", code, csj_strerror(st),
            err);
  return v;
}

static double now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_dbl(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

Test(prompt, returns_values, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjprompt");
  cr_assert(eq(dbl, prompt_ok(e, "return 2+2"), 4.0));
  const double t1 = prompt_ok(e, "gi__p1 ftgen 0, 0, -1024, -2, 0\nreturn gi__p1");
  cr_assert(gt(dbl, t1, 0.0));
  const double t2 = prompt_ok(e, "gi__p2 ftgen 0, 0, -1024, -2, 0\nreturn gi__p2");
  cr_assert(eq(dbl, t2, t1 + 1.0), "second table %g after %g", t2, t1);
  /* the table is really there */
  double buf[4];
  size_t len = 0;
  cr_assert(eq(int, csj_engine_table_copy_out(e, (int)t2, buf, 4, &len, 5000), CSJ_SUCCESS));
  cr_assert(eq(sz, len, 1024));
  /* the compile twin, then an eval that sees what it defined */
  char err[512] = "";
  CsjStatus st = csj_engine_compile_orc_prompt(e, "gi__seven = 7\n", 5000, err, sizeof err);
  cr_assert(eq(int, st, CSJ_SUCCESS), "compile_orc_prompt: %s", err);
  cr_assert(eq(dbl, prompt_ok(e, "return gi__seven"), 7.0));
  /* the queued and direct paths still agree */
  double v = NAN;
  cr_assert(eq(int, csj_engine_eval_code(e, "return gi__seven * 2", 5000, &v, NULL, 0),
               CSJ_SUCCESS));
  cr_assert(eq(dbl, v, 14.0));
  CsjPromptStats ps;
  csj_engine_prompt_stats(e, &ps);
  cr_log_info("prompt: runs %llu, waited %llu, queued %llu, late %llu, dropped %llu, "
              "predicted %llu us",
              (unsigned long long)ps.runs, (unsigned long long)ps.waited,
              (unsigned long long)ps.queued, (unsigned long long)ps.late,
              (unsigned long long)ps.dropped_cycles, (unsigned long long)ps.predicted_eval_us);
  cr_assert(eq(u64, ps.runs + ps.queued, 5), "every call went one way or the other");
}

Test(prompt, reports_csound_errors, .init = server_256, .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjprerr");
  double v = 0;
  char err[1024] = "";
  CsjStatus st = csj_engine_eval_code_prompt(e, "return 2 +* (", 5000, &v, err, sizeof err);
  cr_assert(eq(int, st, CSJ_ERR_EVAL), "a syntax error gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err), 0), "no error text");
  cr_assert(ne(str, err, (char *)csj_strerror(CSJ_ERR_EVAL)), "not Csound's text: '%s'", err);
  cr_assert(isnan(v), "value %g on failure", v);

  char err2[1024] = "";
  v = 0;
  st = csj_engine_eval_code_prompt(e, "ires nosuchopcode 3\nreturn ires", 5000, &v, err2,
                                   sizeof err2);
  cr_assert(eq(int, st, CSJ_ERR_EVAL), "an unknown opcode gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err2), 0));

  /* an init error in the global code: merged, but reported */
  char err3[1024] = "";
  st = csj_engine_eval_code_prompt(e, "i1 = 1/0\nreturn i1", 5000, &v, err3, sizeof err3);
  cr_log_info("errors: \"%s\" / \"%s\" / %s \"%s\"", err, err2, csj_strerror(st), err3);

  char err4[1024] = "";
  st = csj_engine_compile_orc_prompt(e, "instr 7\n outch 2, a(\nendin\n", 5000, err4,
                                     sizeof err4);
  cr_assert(eq(int, st, CSJ_ERR_COMPILE), "compile syntax error gave %s", csj_strerror(st));
  cr_assert(gt(sz, strlen(err4), 0));

  cr_assert(not(csj_engine_finished(e)), "an error ended the performance");
  cr_assert(eq(dbl, prompt_ok(e, "return 7*6"), 42.0));
}

/* ---- order ------------------------------------------------------------------------ */

typedef struct {
  CsjChannel *ch;
  double value;
} SetChannel;

static void set_channel_task(CsjEngine *e, void *csound, void *data)
{
  (void)e;
  (void)csound;
  SetChannel *s = data;
  csj_channel_set(s->ch, s->value);
}

/*
 * A task queued just before a prompt eval, from the same thread, sets a
 * channel; the eval reads it at i-time and must see the new value. Then
 * the same with a queued compile (which holds the line until merged)
 * before it. Over many rounds, so that some find the task still queued.
 */
Test(prompt, keeps_order_with_commands_queued_before, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  CsjEngine *e = engine_start("csjprord");
  CsjChannel *ch = NULL;
  cr_assert(eq(int, csj_engine_channel(e, "ord", &ch), CSJ_SUCCESS));
  enum { ROUNDS = 100 };
  static SetChannel sets[ROUNDS];
  for (int i = 0; i < ROUNDS; i++) {
    sets[i].ch = ch;
    sets[i].value = i + 1;
    cr_assert(eq(int, csj_engine_task(e, set_channel_task, &sets[i]), CSJ_SUCCESS));
    const double v = prompt_ok(e, "ival chnget \"ord\"\nreturn ival");
    cr_assert(eq(dbl, v, (double)(i + 1)), "round %d: the prompt eval overtook the task", i);
    if (i % 3 == 0)
      harness_sleep_ms(1);
  }
  for (int i = 0; i < 30; i++) {
    char code[64];
    /* the compile's global code sets the channel when it is merged (names
     * the compile defines are not known to the parser before then, on
     * this path as on the queued one: the parse runs at once) */
    snprintf(code, sizeof code, "chnset %d, \"ord\"\n", 1000 + i);
    cr_assert(eq(int, csj_engine_compile_orc_async(e, code, NULL, NULL), CSJ_SUCCESS));
    const double v = prompt_ok(e, "ival chnget \"ord\"\nreturn ival");
    cr_assert(eq(dbl, v, (double)(1000 + i)), "round %d: the prompt eval overtook the compile",
              i);
  }
  CsjPromptStats ps;
  csj_engine_prompt_stats(e, &ps);
  cr_log_info("order: runs %llu (waited %llu), queued %llu, dropped %llu",
              (unsigned long long)ps.runs, (unsigned long long)ps.waited,
              (unsigned long long)ps.queued, (unsigned long long)ps.dropped_cycles);
}

/* ---- the fall back -------------------------------------------------------------------- */

Test(prompt, falls_back_to_the_ring_when_the_cost_is_too_big, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjEngine *e = engine_start("csjprfb");
  /* a cost of a second never fits between two cycles of 5.3 ms */
  csj_engine_set_prompt_min_cost(e, 1000000);
  CsjPromptStats before, after;
  csj_engine_prompt_stats(e, &before);
  for (int i = 0; i < 5; i++)
    cr_assert(eq(dbl, prompt_ok(e, "return 6*7"), 42.0));
  char err[256] = "";
  cr_assert(eq(int, csj_engine_compile_orc_prompt(e, "gi__fb = 3\n", 5000, err, sizeof err),
               CSJ_SUCCESS), "%s", err);
  cr_assert(eq(dbl, prompt_ok(e, "return gi__fb"), 3.0));
  csj_engine_prompt_stats(e, &after);
  cr_assert(eq(u64, after.queued - before.queued, 7), "queued %llu of 7",
            (unsigned long long)(after.queued - before.queued));
  cr_assert(eq(u64, after.runs, before.runs), "a call went prompt with a cost of a second");
  cr_assert(ge(u64, after.predicted_eval_us, 1000000));
  /* errors come back the same way through the ring */
  double v = 0;
  cr_assert(eq(int, csj_engine_eval_code_prompt(e, "return (((", 5000, &v, err, sizeof err),
               CSJ_ERR_EVAL));
  /* without the floor, calls go prompt again */
  csj_engine_set_prompt_min_cost(e, 0);
  for (int i = 0; i < 50; i++)
    cr_assert(eq(dbl, prompt_ok(e, "return 1+1"), 2.0));
  csj_engine_prompt_stats(e, &after);
  cr_log_info("after the floor: runs %llu, queued %llu, predicted %llu us",
              (unsigned long long)after.runs, (unsigned long long)after.queued,
              (unsigned long long)after.predicted_eval_us);
  cr_assert(gt(u64, after.runs, before.runs), "no call went prompt without the floor");
}

Test(prompt, refuses_bad_arguments, .timeout = 30)
{
  harness_no_server();
  double v = 0;
  cr_assert(eq(int, csj_engine_eval_code_prompt(NULL, "return 1", 0, &v, NULL, 0),
               CSJ_ERR_BAD_ARG));
}

/* ---- many calls while a sine plays ---------------------------------------------------------- */

static void many_calls(const char *base)
{
  CsjEngine *e = engine_start(base);
  enum { CALLS = 300 };
  static double ms[CALLS];
  CsjStats s0, s1;
  csj_engine_stats(e, &s0);
  CsjPromptStats p0, p1;
  csj_engine_prompt_stats(e, &p0);
  unsigned seed = 1;
  for (int i = 0; i < CALLS; i++) {
    char code[128];
    snprintf(code, sizeof code, "gi__m%04d ftgen 0, 0, -1024, -2, 0\nreturn gi__m%04d", i, i);
    const double t0 = now_ms();
    const double v = prompt_ok(e, code);
    ms[i] = now_ms() - t0;
    cr_assert(gt(dbl, v, 0.0), "call %d returned %g", i, v);
    harness_sleep_ms((double)(rand_r(&seed) % 5000) / 1000.0);
  }
  csj_engine_stats(e, &s1);
  csj_engine_prompt_stats(e, &p1);
  qsort(ms, CALLS, sizeof ms[0], cmp_dbl);
  const char *m = "prompt, %u calls at period %u while a sine plays: p50 %.3f ms, p99 %.3f ms, "
                  "max %.3f ms; dropped cycles %llu (by prompt callers %llu), xruns %llu; "
                  "runs %llu (waited %llu), queued %llu, late %llu, predicted %llu us\n";
  fprintf(stderr, m, CALLS, s1.period, ms[CALLS / 2], ms[CALLS * 99 / 100], ms[CALLS - 1],
          (unsigned long long)(s1.dropped_cycles - s0.dropped_cycles),
          (unsigned long long)(p1.dropped_cycles - p0.dropped_cycles),
          (unsigned long long)(s1.xruns - s0.xruns), (unsigned long long)(p1.runs - p0.runs),
          (unsigned long long)(p1.waited - p0.waited), (unsigned long long)(p1.queued - p0.queued),
          (unsigned long long)(p1.late - p0.late), (unsigned long long)p1.predicted_eval_us);
  cr_log_info(m, CALLS, s1.period, ms[CALLS / 2], ms[CALLS * 99 / 100], ms[CALLS - 1],
              (unsigned long long)(s1.dropped_cycles - s0.dropped_cycles),
              (unsigned long long)(p1.dropped_cycles - p0.dropped_cycles),
              (unsigned long long)(s1.xruns - s0.xruns), (unsigned long long)(p1.runs - p0.runs),
              (unsigned long long)(p1.waited - p0.waited),
              (unsigned long long)(p1.queued - p0.queued), (unsigned long long)(p1.late - p0.late),
              (unsigned long long)p1.predicted_eval_us);
  cr_assert(eq(u64, (p1.runs - p0.runs) + (p1.queued - p0.queued), CALLS));
  cr_assert(not(csj_engine_finished(e)));
}

Test(prompt, many_calls_while_a_sine_plays_256, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  many_calls("csjprm256");
}

Test(prompt, many_calls_while_a_sine_plays_64, .init = server_64, .fini = teardown,
     .timeout = 60)
{
  many_calls("csjprm64");
}
