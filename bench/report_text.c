/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* csjack-bench's text output: one period's tables; see report.h. */

#include "report.h"

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The result of system @p key, NULL if the table has none. */
static SystemResult *
find_system(PeriodResult *pr, const char *key)
{
  for (int k = 0; k < pr->n_sys; ++k) {
    if (!strcmp(pr->sys[k].key, key)) {
      return &pr->sys[k];
    }
  }
  return NULL;
}

static void
print_na(const char *label, const char *why)
{
  printf("%-16s not measured: %s\n", label, why);
}

void
print_table(PeriodResult *pr, const Config *cfg)
{
  printf("\n== csjack-bench: period %d, %d Hz (%.2f ms), ksmps %d, server %s%s ==\n", pr->period,
         pr->rate, frames_ms(pr->period, pr->rate), pr->ksmps, pr->server,
         pr->private_server ? " (private jackd -d dummy, --no-realtime)" : "");
  printf("baseline: CsoundPerformanceThread, -+rtaudio=jack -b%d -B%d\n", pr->baseline_b,
         pr->baseline_B);
  if (pr->why[0]) {
    printf("nothing measured: %s\n", pr->why);
    return;
  }

  /* The lead table: every path's evalCode p50/p99, idle and while three
   * voices play, with the ratios of its p50 to the baselines', and the
   * cycles it dropped meanwhile. */
  printf("\nevalCode, every path (ms; %d calls each; x bq = p50 / baseline queued's p50, "
         "x cq = / csjack queued's)\n",
         cfg->calls);
  printf("%-16s %8s %8s %7s %7s %8s %8s %7s %7s %9s\n", "system", "p50", "p99", "x bq", "x cq",
         "mus p50", "mus p99", "x bq", "x cq", "dropped");
  {
    SystemResult *bq = find_system(pr, "baseline_queued");
    SystemResult *cq = find_system(pr, "csjack_queued");
    for (int k = 0; k < pr->n_sys; ++k) {
      SystemResult *r = &pr->sys[k];
      if (r->why[0]) {
        print_na(pr->sys[k].label, r->why);
        continue;
      }
      printf("%-16s", pr->sys[k].label);
      for (int m = 0; m < 2; ++m) {
        Samples *own = m ? &r->eval_music_ms : &r->eval_ms;
        BenchSummary s = bench_summarise(own->v, own->n);
        SystemResult *refs[2] = {bq, cq};
        printf(" %8.3f %8.3f", own->n ? s.p50 : NAN, own->n ? s.p99 : NAN);
        for (int i = 0; i < 2; ++i) {
          Samples *ref = refs[i] ? (m ? &refs[i]->eval_music_ms : &refs[i]->eval_ms) : NULL;
          if (!own->n || !ref || !ref->n) {
            printf(" %7s", "-");
            continue;
          }
          BenchSummary sr = bench_summarise(ref->v, ref->n);
          printf(" %7.2f", s.p50 / sr.p50);
        }
      }
      char dr[32];
      if (r->dropped_measured) {
        snprintf(dr, sizeof(dr), "%lld/%lld", (long long)r->dropped[WL_EVALCODE],
                 (long long)r->dropped[WL_EVALCODE_MUSIC]);
      } else {
        snprintf(dr, sizeof(dr), "n/a");
      }
      printf(" %9s\n", dr);
    }
  }
  printf("(mus: while three voices play; dropped: cycles dropped during the idle/music "
         "evalCode runs)\n");

  printf("\nevalCode round trip (ms): %d calls, gaps uniform 0-5 ms\n", cfg->calls);
  printf("%-16s %5s %5s %8s %8s %8s %8s %8s %8s\n", "system", "n", "fail", "mean", "p50", "p90",
         "p99", "p99.9", "max");
  for (int k = 0; k < pr->n_sys; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0]) {
      print_na(pr->sys[k].label, r->why);
      continue;
    }
    BenchSummary s = bench_summarise(r->eval_ms.v, r->eval_ms.n);
    printf("%-16s %5zu %5d %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", pr->sys[k].label, s.n,
           r->eval_failures, s.mean, s.p50, s.p90, s.p99, s.p999, s.max);
  }

  printf("\nScore event to first sound: %d events (a %.0f ms constant), frames [ms]; jitter in "
         "frames.\nThe call timed by jack_frame_time() (ft), and by the probe's cycle clock (cc, "
         "see docs/benchmark.md)\n",
         cfg->events, cfg->note_s * 1000);
  printf("%-16s %-3s %4s %4s %4s %7s %7s %7s %7s %8s %8s %8s %8s %7s %7s\n", "system", "clk", "n",
         "disc", "miss", "mean", "p50", "p99", "max", "mean ms", "p50 ms", "p99 ms", "max ms", "sd",
         "max-min");
  for (int k = 0; k < pr->n_sys; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0] || r->event_why[0]) {
      print_na(pr->sys[k].label, r->why[0] ? r->why : r->event_why);
      continue;
    }
    for (int clock = 0; clock < 2; ++clock) {
      Samples *smp = clock ? &r->event_cc_frames : &r->event_frames;
      BenchSummary s = bench_summarise(smp->v, smp->n);
      printf("%-16s %-3s %4zu %4d %4d %7.1f %7.0f %7.0f %7.0f %8.2f %8.2f %8.2f %8.2f %7.1f "
             "%7.0f\n",
             clock ? "" : pr->sys[k].label, clock ? "cc" : "ft", s.n,
             clock ? r->event_cc_discarded : r->event_discarded, r->event_missed, s.mean, s.p50,
             s.p99, s.max, frames_ms(s.mean, pr->rate), frames_ms(s.p50, pr->rate),
             frames_ms(s.p99, pr->rate), frames_ms(s.max, pr->rate), s.sd, s.max - s.min);
    }
  }
  printf("(disc: discarded, a negative or > 1 s difference; miss: no sound within 2 s)\n");

  printf("\nAudio round trip through a thru orchestra (frames; the floor is one period, %d)\n",
         pr->period);
  printf("%-16s %4s %4s %7s %7s %7s %7s %14s\n", "system", "n", "miss", "min", "p50", "mean",
         "max", "jack_iodelay");
  for (int k = 0; k < pr->n_sys; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0] || r->rt_why[0]) {
      print_na(pr->sys[k].label, r->why[0] ? r->why : r->rt_why);
      continue;
    }
    BenchSummary s = bench_summarise(r->rt_frames.v, r->rt_frames.n);
    char iod[64];
    if (isnan(r->iodelay_frames)) {
      snprintf(iod, sizeof(iod), "n/a");
    } else {
      snprintf(iod, sizeof(iod), "%.0f", r->iodelay_frames);
    }
    printf("%-16s %4zu %4d %7.0f %7.0f %7.1f %7.0f %14s\n", pr->sys[k].label, s.n, r->rt_missed,
           s.min, s.p50, s.mean, s.max, iod);
    if (isnan(r->iodelay_frames)) {
      printf("%-16s jack_iodelay not measured: %s\n", "", r->iodelay_why);
    }
  }

  printf("\nCallback time per cycle (us): csjack's own timing of its process callback, the "
         "previous\ncycle's, sampled each cycle; budget %.0f us\n",
         1e6 * pr->period / pr->rate);
  printf("%-16s %-22s %-22s %-22s %-22s\n", "system", "idle (empty ring)", "evalcode",
         "events", "compile + music");
  printf("%-16s %-22s %-22s %-22s %-22s\n", "", "p50/p99/max", "p50/p99/max", "p50/p99/max",
         "p50/p99/max");
  for (int k = 0; k < pr->n_sys; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0] || !r->cb_measured) {
      print_na(pr->sys[k].label, r->why[0] ? r->why : r->cb_why);
      continue;
    }
    printf("%-16s", pr->sys[k].label);
    const int cols[] = {WL_IDLE, WL_EVALCODE, WL_EVENTS, WL_COMPILE};
    for (int c = 0; c < 4; ++c) {
      Samples *smp = &r->cb_us[cols[c]];
      char cell[64];
      if (smp->n == 0) {
        snprintf(cell, sizeof(cell), "-");
      } else {
        BenchSummary s = bench_summarise(smp->v, smp->n);
        snprintf(cell, sizeof(cell), "%.0f/%.0f/%.0f", s.p50, s.p99, s.max);
      }
      printf(" %-22s", cell);
    }
    printf("\n");
  }

  printf("\nxruns and dropped cycles during each workload (csjack: its stats; baseline: the "
         "bench's\nJACK client, server-wide). 100-instrument compile while 3 voices play: "
         "caller's time\n");
  printf("%-16s %-30s %-34s %12s\n", "system", "xruns idle/ev/evt/rt/comp/evmus",
         "dropped idle/ev/evt/rt/comp/evmus", "compile ms");
  for (int k = 0; k < pr->n_sys; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0]) {
      print_na(pr->sys[k].label, r->why);
      continue;
    }
    char xr[64] = "", dr[64] = "";
    size_t xl = 0, dl = 0;
    for (int w = 0; w < WL_COUNT; ++w) {
      const char *sep = w ? "/" : "";
      if (!r->ran[w]) {
        xl += (size_t)snprintf(xr + xl, sizeof(xr) - xl, "%s-", sep);
        dl += (size_t)snprintf(dr + dl, sizeof(dr) - dl, "%s-", sep);
        continue;
      }
      xl += (size_t)snprintf(xr + xl, sizeof(xr) - xl, "%s%lld", sep, (long long)r->xruns[w]);
      if (r->dropped_measured) {
        dl += (size_t)snprintf(dr + dl, sizeof(dr) - dl, "%s%lld", sep,
                               (long long)r->dropped[w]);
      }
    }
    if (!r->dropped_measured) {
      snprintf(dr, sizeof(dr), "n/a");
    }
    char cm[32];
    if (r->compile_ok) {
      snprintf(cm, sizeof(cm), "%.1f", r->compile_ms);
    } else {
      snprintf(cm, sizeof(cm), "failed");
    }
    printf("%-16s %-30s %-34s %12s\n", pr->sys[k].label, xr, dr, cm);
  }

  printf("\nThe command ring (bench/ring_bench)\n");
  if (pr->ring_table[0]) {
    fputs(pr->ring_table, stdout);
  } else {
    printf("not measured: %s\n", pr->ring_why);
  }

  if (pr->midi_table[0]) {
    fputs(pr->midi_table, stdout);
  } else {
    printf("\nMIDI loop not measured: %s\n", pr->midi_why);
  }

  /* Goals, reported against, not asserted. */
  if (pr->period == 256 && pr->rate == 48000) {
    printf("\nGoals at period 256 / 48 kHz (seed's baseline: queued mean 2.3 ms, p99 5.2 ms; "
           "direct\nmean 6.9 ms, p99 23 ms):\n");
    const char *pairs[2][2] = {{"csjack_queued", "baseline_queued"},
                               {"csjack_direct", "baseline_direct"}};
    for (int i = 0; i < 2; ++i) {
      SystemResult *a = find_system(pr, pairs[i][0]), *b = find_system(pr, pairs[i][1]);
      if (!a || !b) {
        continue;
      }
      if (a->why[0] || a->eval_ms.n == 0) {
        printf("  %s: not measured\n", a->label);
        continue;
      }
      BenchSummary sa = bench_summarise(a->eval_ms.v, a->eval_ms.n);
      if (b->why[0] || b->eval_ms.n == 0) {
        printf("  %s mean %.2f ms, p99 %.2f ms; %s not measured this run: compare with the "
               "seed's figures above\n",
               a->label, sa.mean, sa.p99, b->label);
        continue;
      }
      BenchSummary sb = bench_summarise(b->eval_ms.v, b->eval_ms.n);
      printf("  %s mean %.2f / p99 %.2f ms vs %s mean %.2f / p99 %.2f ms: %s\n",
             a->label, sa.mean, sa.p99, b->label, sb.mean, sb.p99,
             sa.mean < sb.mean && sa.p99 < sb.p99 ? "beats it (mean and p99)"
                                                   : "does not beat it on both");
    }
  }

  printf("\nNot measured:\n");
  int none = 1;
  for (int k = 0; k < pr->n_sys; ++k) {
    SystemResult *r = &pr->sys[k];
    if (r->why[0]) {
      printf("  %s: everything: %s\n", pr->sys[k].label, r->why);
      none = 0;
      continue;
    }
    const char *items[][2] = {{"event latency", r->event_why},
                              {"round trip", r->rt_why},
                              {"jack_iodelay", r->iodelay_why},
                              {"callback time", r->cb_measured ? "" : r->cb_why},
                              {"dropped cycles", r->dropped_measured ? "" : r->dropped_why}};
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); ++i) {
      if (items[i][1][0] && !(i == 2 && !strcmp(items[i][1], r->rt_why))) {
        printf("  %s: %s: %s\n", pr->sys[k].label, items[i][0], items[i][1]);
        none = 0;
      }
    }
  }
  if (!pr->ring_table[0]) {
    printf("  ring: %s\n", pr->ring_why);
    none = 0;
  }
  if (!pr->midi_json[0]) {
    printf("  midi_loop_frames: %s\n", pr->midi_why);
    none = 0;
  }
  if (none) {
    printf("  nothing\n");
  }
}
