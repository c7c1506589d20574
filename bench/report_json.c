/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack-bench's JSON output; see report.h. A value that was not measured
 * is null, with a reason under the nearest "not_measured" object.
 */

#include "report.h"

#include "bench_util.h"
#include "csjack.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  FILE *f;
  int depth;
  bool first[32];
} Json;

static void
j_sep(Json *j, const char *key)
{
  if (!j->first[j->depth]) {
    fputc(',', j->f);
  }
  j->first[j->depth] = false;
  fprintf(j->f, "\n%*s", 2 * j->depth, "");
  if (key) {
    fprintf(j->f, "\"%s\": ", key);
  }
}

static void
j_open(Json *j, const char *key, char c)
{
  j_sep(j, key);
  fputc(c, j->f);
  j->first[++j->depth] = true;
}

static void
j_close(Json *j, char c)
{
  const bool empty = j->first[j->depth];
  --j->depth;
  if (!empty) {
    fprintf(j->f, "\n%*s", 2 * j->depth, "");
  }
  fputc(c, j->f);
}

static void
j_num(Json *j, const char *key, double v)
{
  j_sep(j, key);
  if (isnan(v) || isinf(v)) {
    fputs("null", j->f);
  } else if (v == floor(v) && fabs(v) < 1e15) {
    fprintf(j->f, "%.0f", v);
  } else {
    fprintf(j->f, "%.6g", v);
  }
}

static void
j_null(Json *j, const char *key)
{
  j_sep(j, key);
  fputs("null", j->f);
}

/* One event-latency measurement (one clock): its percentiles in frames and
 * ms, and its jitter. NULL samples, or none, are written as nulls. */
static void
write_event_json(Json *j, const char *latency_key, const char *jitter_key, Samples *frames,
                 int discarded, int missed, int rate)
{
  if (!frames || frames->n == 0) {
    j_null(j, latency_key);
    j_null(j, jitter_key);
    return;
  }
  BenchSummary s = bench_summarise(frames->v, frames->n);
  j_open(j, latency_key, '{');
  j_num(j, "n", (double)s.n);
  j_num(j, "discarded", discarded);
  j_num(j, "missed", missed);
  j_num(j, "mean", s.mean);
  j_num(j, "p50", s.p50);
  j_num(j, "p99", s.p99);
  j_num(j, "max", s.max);
  j_num(j, "min", s.min);
  j_num(j, "mean_ms", frames_ms(s.mean, rate));
  j_num(j, "p50_ms", frames_ms(s.p50, rate));
  j_num(j, "p99_ms", frames_ms(s.p99, rate));
  j_num(j, "max_ms", frames_ms(s.max, rate));
  j_close(j, '}');
  j_open(j, jitter_key, '{');
  j_num(j, "sd", s.sd);
  j_num(j, "range", s.max - s.min);
  j_close(j, '}');
}

static void
j_bool(Json *j, const char *key, bool v)
{
  j_sep(j, key);
  fputs(v ? "true" : "false", j->f);
}

static void
j_str(Json *j, const char *key, const char *s)
{
  j_sep(j, key);
  fputc('"', j->f);
  for (; *s; ++s) {
    const unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      fprintf(j->f, "\\%c", c);
    } else if (c < 0x20) {
      fprintf(j->f, "\\u%04x", c);
    } else {
      fputc(c, j->f);
    }
  }
  fputc('"', j->f);
}

static void
j_raw(Json *j, const char *key, const char *raw)
{
  j_sep(j, key);
  fputs(raw, j->f);
}

/* {n, mean, p50, p90, p99, p99_9, max, min} or null when empty. */
static void
j_summary(Json *j, const char *key, Samples *smp, bool full)
{
  if (smp->n == 0) {
    j_null(j, key);
    return;
  }
  BenchSummary s = bench_summarise(smp->v, smp->n);
  j_open(j, key, '{');
  j_num(j, "n", (double)s.n);
  j_num(j, "mean", s.mean);
  j_num(j, "p50", s.p50);
  if (full) {
    j_num(j, "p90", s.p90);
  }
  j_num(j, "p99", s.p99);
  if (full) {
    j_num(j, "p99_9", s.p999);
  }
  j_num(j, "max", s.max);
  j_num(j, "min", s.min);
  j_close(j, '}');
}

static int64_t
sum_ran(const SystemResult *r, const int64_t *v)
{
  int64_t total = 0;
  for (int w = 0; w < WL_COUNT; ++w) {
    total += r->ran[w] ? v[w] : 0;
  }
  return total;
}

static void
j_system(Json *j, PeriodResult *pr, int k)
{
  SystemResult *r = &pr->sys[k];
  const char *whole = r->why[0] ? r->why : NULL;
  j_open(j, pr->sys[k].key, '{');

  /* evalcode_ms */
  if (whole || r->eval_ms.n == 0) {
    j_null(j, "evalcode_ms");
  } else {
    BenchSummary s = bench_summarise(r->eval_ms.v, r->eval_ms.n);
    j_open(j, "evalcode_ms", '{');
    j_num(j, "n", (double)s.n);
    j_num(j, "failures", r->eval_failures);
    j_num(j, "mean", s.mean);
    j_num(j, "p50", s.p50);
    j_num(j, "p90", s.p90);
    j_num(j, "p99", s.p99);
    j_num(j, "p99_9", s.p999);
    j_num(j, "max", s.max);
    j_num(j, "min", s.min);
    j_close(j, '}');
  }

  /* evalcode_music_ms: the same calls while three voices play */
  if (whole || r->eval_music_ms.n == 0) {
    j_null(j, "evalcode_music_ms");
  } else {
    BenchSummary s = bench_summarise(r->eval_music_ms.v, r->eval_music_ms.n);
    j_open(j, "evalcode_music_ms", '{');
    j_num(j, "n", (double)s.n);
    j_num(j, "failures", r->eval_music_failures);
    j_num(j, "mean", s.mean);
    j_num(j, "p50", s.p50);
    j_num(j, "p90", s.p90);
    j_num(j, "p99", s.p99);
    j_num(j, "p99_9", s.p999);
    j_num(j, "max", s.max);
    j_num(j, "min", s.min);
    j_close(j, '}');
  }

  /* event_latency_frames, event_jitter_frames: by jack_frame_time() and by
   * the cycle clock, the same keys for both */
  const bool events_ok = !whole && !r->event_why[0];
  const bool ev = events_ok && r->event_frames.n > 0;
  const bool ev_cc = events_ok && r->event_cc_frames.n > 0;
  write_event_json(j, "event_latency_frames", "event_jitter_frames",
                   events_ok ? &r->event_frames : NULL, r->event_discarded, r->event_missed,
                   pr->rate);
  write_event_json(j, "event_latency_frames_cycle_clock", "event_jitter_frames_cycle_clock",
                   events_ok ? &r->event_cc_frames : NULL, r->event_cc_discarded,
                   r->event_missed, pr->rate);

  /* roundtrip_frames */
  const bool rt = !whole && !r->rt_why[0] && r->rt_frames.n > 0;
  if (!rt) {
    j_null(j, "roundtrip_frames");
  } else {
    BenchSummary s = bench_summarise(r->rt_frames.v, r->rt_frames.n);
    j_open(j, "roundtrip_frames", '{');
    j_num(j, "n", (double)s.n);
    j_num(j, "missed", r->rt_missed);
    j_num(j, "mean", s.mean);
    j_num(j, "p50", s.p50);
    j_num(j, "max", s.max);
    j_num(j, "min", s.min);
    j_close(j, '}');
  }
  j_num(j, "roundtrip_frames_iodelay", whole ? NAN : r->iodelay_frames);

  /* callback_us: empty ring; callback_us_load: compile while music plays */
  if (whole || !r->cb_measured) {
    j_null(j, "callback_us");
    j_null(j, "callback_us_load");
    j_null(j, "callback_us_by_workload");
  } else {
    j_summary(j, "callback_us", &r->cb_us[WL_IDLE], false);
    j_summary(j, "callback_us_load", &r->cb_us[WL_COMPILE], false);
    j_open(j, "callback_us_by_workload", '{');
    for (int w = 0; w < WL_COUNT; ++w) {
      j_summary(j, wl_keys[w], &r->cb_us[w], false);
    }
    j_close(j, '}');
  }

  /* xruns, dropped_cycles: totals over the workloads, and per workload */
  if (whole) {
    j_null(j, "xruns");
    j_null(j, "xruns_by_workload");
    j_null(j, "xruns_server");
    j_null(j, "dropped_cycles");
    j_null(j, "dropped_cycles_by_workload");
    j_null(j, "compile_ms");
  } else {
    j_num(j, "xruns", (double)sum_ran(r, r->xruns));
    j_open(j, "xruns_by_workload", '{');
    for (int w = 0; w < WL_COUNT; ++w) {
      r->ran[w] ? j_num(j, wl_keys[w], (double)r->xruns[w]) : j_null(j, wl_keys[w]);
    }
    j_close(j, '}');
    j_str(j, "xruns_source", r->xruns_source);
    j_num(j, "xruns_server", (double)sum_ran(r, r->xruns_server));
    if (r->dropped_measured) {
      j_num(j, "dropped_cycles", (double)sum_ran(r, r->dropped));
      j_open(j, "dropped_cycles_by_workload", '{');
      for (int w = 0; w < WL_COUNT; ++w) {
        r->ran[w] ? j_num(j, wl_keys[w], (double)r->dropped[w]) : j_null(j, wl_keys[w]);
      }
      j_close(j, '}');
    } else {
      j_null(j, "dropped_cycles");
      j_null(j, "dropped_cycles_by_workload");
    }
    j_num(j, "compile_ms", r->compile_ok ? r->compile_ms : NAN);
  }

  /* not_measured: a reason for every null above */
  j_open(j, "not_measured", '{');
  if (whole) {
    j_str(j, "all", whole);
  } else {
    if (r->eval_ms.n == 0) {
      j_str(j, "evalcode_ms", "every call failed");
    }
    if (r->eval_music_ms.n == 0) {
      j_str(j, "evalcode_music_ms", r->ran[WL_EVALCODE_MUSIC] ? "every call failed"
                                                               : "the workload did not run");
    }
    if (!ev) {
      const char *w = r->event_why[0] ? r->event_why : "no event produced a valid latency";
      j_str(j, "event_latency_frames", w);
      j_str(j, "event_jitter_frames", w);
    }
    if (!ev_cc) {
      const char *w = r->event_why[0] ? r->event_why : "no event produced a valid latency";
      j_str(j, "event_latency_frames_cycle_clock", w);
      j_str(j, "event_jitter_frames_cycle_clock", w);
    }
    if (!rt) {
      j_str(j, "roundtrip_frames", r->rt_why[0] ? r->rt_why : "no impulse came back");
    }
    if (isnan(r->iodelay_frames)) {
      j_str(j, "roundtrip_frames_iodelay", r->iodelay_why[0] ? r->iodelay_why : "unknown");
    }
    if (!r->cb_measured) {
      j_str(j, "callback_us", r->cb_why);
      j_str(j, "callback_us_load", r->cb_why);
      j_str(j, "callback_us_by_workload", r->cb_why);
    }
    if (!r->dropped_measured) {
      j_str(j, "dropped_cycles", r->dropped_why);
      j_str(j, "dropped_cycles_by_workload", r->dropped_why);
    }
    if (!r->compile_ok) {
      j_str(j, "compile_ms", r->compile_why);
    }
  }
  j_close(j, '}');
  j_close(j, '}');
}

static void
j_period(Json *j, const char *key, PeriodResult *pr, const Config *cfg)
{
  j_open(j, key, '{');
  j_num(j, "period", pr->period);
  j_num(j, "rate", pr->rate);
  j_open(j, "systems", '{');
  for (int k = 0; k < pr->n_sys; ++k) {
    j_system(j, pr, k);
  }
  j_close(j, '}');
  j_num(j, "ksmps", pr->ksmps);
  j_str(j, "server", pr->server);
  j_bool(j, "private_server", pr->private_server);
  j_open(j, "baseline_options", '{');
  j_num(j, "b", pr->baseline_b);
  j_num(j, "B", pr->baseline_B);
  j_close(j, '}');
  j_open(j, "settings", '{');
  j_num(j, "calls", cfg->calls);
  j_num(j, "events", cfg->events);
  j_num(j, "impulses", cfg->impulses);
  j_num(j, "note_ms", cfg->note_s * 1000);
  j_num(j, "idle_s", cfg->idle_s);
  j_num(j, "gap_ms_max", 5);
  j_bool(j, "quick", cfg->quick);
  j_num(j, "seed", (double)cfg->seed);
  j_close(j, '}');
  if (pr->ring_json[0]) {
    j_raw(j, "ring", pr->ring_json);
  } else {
    j_null(j, "ring");
  }
  if (pr->midi_json[0]) {
    j_raw(j, "midi_loop_frames", pr->midi_json);
  } else {
    j_null(j, "midi_loop_frames");
  }
  if (cfg->capacity) {
    if (pr->capacity_json[0]) {
      j_raw(j, "capacity", pr->capacity_json);
    } else {
      j_null(j, "capacity");
    }
  }
  j_open(j, "not_measured", '{');
  if (cfg->capacity && !pr->capacity_json[0]) {
    j_str(j, "capacity", pr->capacity_why[0] ? pr->capacity_why : pr->why);
  }
  if (pr->why[0]) {
    j_str(j, "all", pr->why);
  }
  if (!pr->ring_json[0]) {
    j_str(j, "ring", pr->ring_why);
  }
  if (!pr->midi_json[0]) {
    j_str(j, "midi_loop_frames", pr->midi_why);
  }
  j_close(j, '}');
  {
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
    j_str(j, "date", date);
    struct utsname u;
    char machine[256] = "unknown";
    if (uname(&u) == 0) {
      snprintf(machine, sizeof(machine), "%s %s %s, %ld CPUs", u.sysname, u.release, u.machine,
               sysconf(_SC_NPROCESSORS_ONLN));
    }
    j_str(j, "machine", machine);
    j_str(j, "csjack_version", CSJ_VERSION_STRING);
  }
  j_close(j, '}');
}

bool
write_json(const char *path, PeriodResult *prs, int n, const Config *cfg)
{
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "csjack-bench: cannot write %s: %s\n", path, strerror(errno));
    return false;
  }
  Json j = {.f = f, .depth = 0};
  j.first[0] = true;
  if (cfg->sweep) {
    j_open(&j, NULL, '[');
    for (int i = 0; i < n; ++i) {
      j_period(&j, NULL, &prs[i], cfg);
    }
    j_close(&j, ']');
  } else {
    j_period(&j, NULL, &prs[0], cfg);
  }
  fputc('\n', f);
  return fclose(f) == 0;
}
