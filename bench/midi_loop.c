/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* midi_loop_frames: see midi_loop.h. */

#include "midi_loop.h"

#include "bench_config.h"
#include "bench_util.h"

#ifdef HAVE_BASELINE
#  include "baseline.h"
#endif

#include <csjack.h>
#include <jack/jack.h>
#include <jack/midiport.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A message's sequence number rides in its note (7 bits) and velocity
 * (1..126, never 0: a note-on of velocity 0 is a note-off). */
#define MAX_MESSAGES (127 * 126)
#define SEND_EVERY 3 /* cycles between two messages */

enum { SYS_CSJACK, SYS_BASELINE, SYS_COUNT };
static const char *const sys_keys[SYS_COUNT] = {"csjack", "baseline"};
static const char *const sys_labels[SYS_COUNT] = {
  "csjack (midi_in/midi_out)", "baseline (-+rtmidi=jack)"};

/* ---- the probe -------------------------------------------------------------- */

typedef struct {
  jack_client_t *client;
  jack_port_t *out;
  jack_port_t *in;
  int n;                /* messages to send */
  atomic_bool armed;
  unsigned cycle;       /* process thread */
  atomic_int sent;
  atomic_int returned;
  atomic_int strays;    /* echoes that match no message, or twice */
  atomic_int xruns;     /* the server's, while the probe is open */
  uint32_t send_frame[MAX_MESSAGES];
  uint32_t back_frame[MAX_MESSAGES];
  uint8_t back[MAX_MESSAGES];
} MidiProbe;

static int
probe_process(jack_nframes_t nframes, void *arg)
{
  MidiProbe *p = arg;
  const jack_nframes_t now = jack_last_frame_time(p->client);
  void *out = jack_port_get_buffer(p->out, nframes);
  jack_midi_clear_buffer(out);
  void *in = jack_port_get_buffer(p->in, nframes);
  if (!atomic_load_explicit(&p->armed, memory_order_acquire)) {
    return 0;
  }
  const int sent = atomic_load_explicit(&p->sent, memory_order_relaxed);
  const uint32_t count = jack_midi_get_event_count(in);
  for (uint32_t i = 0; i < count; ++i) {
    jack_midi_event_t ev;
    if (jack_midi_event_get(&ev, in, i) != 0 || ev.size != 3 || (ev.buffer[0] & 0xF0) != 0x90 ||
        ev.buffer[2] == 0) {
      atomic_fetch_add_explicit(&p->strays, 1, memory_order_relaxed);
      continue;
    }
    const int seq = ev.buffer[1] | ((ev.buffer[2] - 1) << 7);
    if (seq >= sent || p->back[seq]) {
      atomic_fetch_add_explicit(&p->strays, 1, memory_order_relaxed);
      continue;
    }
    p->back_frame[seq] = now + ev.time;
    p->back[seq] = 1;
    atomic_fetch_add_explicit(&p->returned, 1, memory_order_release);
  }
  if (sent < p->n && p->cycle % SEND_EVERY == 0) {
    /* Offsets that walk the whole period, co-prime with ksmps. */
    const jack_nframes_t offset = (jack_nframes_t)(sent * 89 + 17) % nframes;
    const uint8_t msg[3] = {0x90, (uint8_t)(sent & 0x7F), (uint8_t)(1 + (sent >> 7))};
    if (jack_midi_event_write(out, offset, msg, 3) == 0) {
      p->send_frame[sent] = now + offset;
      atomic_store_explicit(&p->sent, sent + 1, memory_order_release);
    }
  }
  p->cycle++;
  return 0;
}

static int
probe_xrun(void *arg)
{
  MidiProbe *p = arg;
  atomic_fetch_add_explicit(&p->xruns, 1, memory_order_relaxed);
  return 0;
}

static MidiProbe *
probe_open(const char *server, int n, char *why)
{
  MidiProbe *p = calloc(1, sizeof(*p));
  if (!p) {
    snprintf(why, WHY_SIZE, "out of memory");
    return NULL;
  }
  p->n = n;
  char name[64];
  bench_unique_name(name, sizeof(name), "csjb-midiprobe");
  jack_status_t status = 0;
  p->client = jack_client_open(name, JackNoStartServer | JackUseExactName | JackServerName,
                               &status, server);
  if (!p->client) {
    snprintf(why, WHY_SIZE, "MIDI probe: jack_client_open failed (0x%x)", (unsigned)status);
    free(p);
    return NULL;
  }
  p->out = jack_port_register(p->client, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
  p->in = jack_port_register(p->client, "in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
  jack_set_xrun_callback(p->client, probe_xrun, p);
  if (!p->out || !p->in || jack_set_process_callback(p->client, probe_process, p) != 0 ||
      jack_activate(p->client) != 0) {
    snprintf(why, WHY_SIZE, "MIDI probe: cannot register or activate");
    jack_client_close(p->client);
    free(p);
    return NULL;
  }
  return p;
}

static void
probe_close(MidiProbe *p)
{
  if (p) {
    jack_deactivate(p->client);
    jack_client_close(p->client);
    free(p);
  }
}

/* ---- one run's figures ------------------------------------------------------ */

typedef struct {
  bool ok;
  char why[WHY_SIZE];
  int sent, returned, strays, xruns;
  double min, p50, p99, max; /* frames */
} ProbeRun;

typedef struct {
  bool ok;
  char why[WHY_SIZE];
  int sent, received, xruns;
  double average, lowest, highest, peak_jitter, average_jitter; /* frames */
} ToolRun;

typedef struct {
  ProbeRun probe[8];
  ToolRun tool[8];
  Samples pooled; /* every returned message's latency, all runs */
  char why[WHY_SIZE]; /* the system could not start at all */
} SystemLoop;

/* The probe's measurement through ports @p into (the system's MIDI input)
 * and @p from (its output). */
static void
measure_probe(const char *server, const char *into, const char *from, int n, int period,
              ProbeRun *run, Samples *pooled)
{
  memset(run, 0, sizeof(*run));
  MidiProbe *p = probe_open(server, n, run->why);
  if (!p) {
    return;
  }
  char mine[320];
  snprintf(mine, sizeof(mine), "%s:out", jack_get_client_name(p->client));
  const int c1 = jack_connect(p->client, mine, into);
  snprintf(mine, sizeof(mine), "%s:in", jack_get_client_name(p->client));
  const int c2 = jack_connect(p->client, from, mine);
  if (c1 != 0 || c2 != 0) {
    snprintf(run->why, WHY_SIZE, "MIDI probe: cannot connect to %.100s / %.100s", into, from);
    probe_close(p);
    return;
  }
  bench_sleep_ms(200);
  atomic_store_explicit(&p->armed, true, memory_order_release);
  /* Until every message is out and back; a message not back 500 ms after
   * the last was sent is lost. */
  const double cycle_ms = 1000.0 * period / 48000.0 + 1;
  const double limit_ms = (double)n * SEND_EVERY * cycle_ms * 4 + 5000;
  double waited = 0, after_last = 0;
  while (waited < limit_ms) {
    const int sent = atomic_load_explicit(&p->sent, memory_order_acquire);
    const int back = atomic_load_explicit(&p->returned, memory_order_acquire);
    if (sent == n && (back == n || after_last >= 500)) {
      break;
    }
    bench_sleep_ms(10);
    waited += 10;
    if (sent == n) {
      after_last += 10;
    }
  }
  atomic_store_explicit(&p->armed, false, memory_order_release);
  bench_sleep_ms(3 * cycle_ms); /* the process thread sees it */
  run->sent = atomic_load(&p->sent);
  run->returned = atomic_load(&p->returned);
  run->strays = atomic_load(&p->strays);
  run->xruns = atomic_load(&p->xruns);
  Samples mine_s = {0};
  for (int i = 0; i < run->sent; ++i) {
    if (p->back[i]) {
      const double lat = (double)(int32_t)(p->back_frame[i] - p->send_frame[i]);
      samples_push(&mine_s, lat);
      samples_push(pooled, lat);
    }
  }
  if (mine_s.n) {
    BenchSummary s = bench_summarise(mine_s.v, mine_s.n);
    run->min = s.min;
    run->p50 = s.p50;
    run->p99 = s.p99;
    run->max = s.max;
    run->ok = true;
  } else {
    snprintf(run->why, WHY_SIZE, "no message came back (%d sent)", run->sent);
  }
  free(mine_s.v);
  probe_close(p);
}

/* A line "KEY ... (X frames)" of jack_midi_latency_test's report. */
static bool
tool_frames(const char *text, const char *key, double *out)
{
  const char *at = strstr(text, key);
  if (!at) {
    return false;
  }
  const char *paren = strchr(at, '(');
  const char *nl = strchr(at, '\n');
  if (!paren || (nl && paren > nl)) {
    return false;
  }
  if (sscanf(paren + 1, "%lf frames", out) != 1) {
    return false;
  }
  /* Its frame differences are unsigned 32-bit: an echo timestamped
   * before its message (Csound's JACK MIDI writes at a cycle's frame 0)
   * wraps to about 2^32. Read it as the negative difference it is. */
  if (*out >= 2147483648.0) {
    *out -= 4294967296.0;
  }
  return true;
}

static bool
tool_count(const char *text, const char *key, int *out)
{
  const char *at = strstr(text, key);
  return at && sscanf(at + strlen(key), "%d", out) == 1;
}

/* jack_midi_latency_test -s N OUT IN as a child (its output connects to
 * @p into, its input from @p from), its report parsed. */
static void
measure_tool(const char *server, const char *into, const char *from, int n, ToolRun *run)
{
  memset(run, 0, sizeof(*run));
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    snprintf(run->why, WHY_SIZE, "pipe: %s", strerror(errno));
    return;
  }
  char count[32];
  snprintf(count, sizeof(count), "%d", n);
  fflush(NULL);
  const pid_t pid = fork();
  if (pid < 0) {
    snprintf(run->why, WHY_SIZE, "fork: %s", strerror(errno));
    close(out[0]);
    close(out[1]);
    return;
  }
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(out[1], 2);
    setenv("JACK_DEFAULT_SERVER", server, 1);
    setenv("JACK_NO_START_SERVER", "1", 1);
    execlp("jack_midi_latency_test", "jack_midi_latency_test", "-s", count, "-t", "5", into,
           from, (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  char *text = malloc(1 << 16);
  size_t len = 0;
  const double deadline = (double)bench_now_ns() / 1e6 + 30000 + n * 50.0;
  bool timed_out = false;
  for (;;) {
    const double left = deadline - (double)bench_now_ns() / 1e6;
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd pfd = {out[0], POLLIN, 0};
    if (poll(&pfd, 1, (int)left) <= 0) {
      continue;
    }
    const ssize_t r = read(out[0], text + len, (1 << 16) - 1 - len);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0 || len + (size_t)r >= (1 << 16) - 1) {
      if (r > 0) {
        len += (size_t)r;
      }
      break;
    }
    len += (size_t)r;
  }
  text[len] = '\0';
  close(out[0]);
  if (timed_out) {
    kill(pid, SIGTERM);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && len == 0) {
    snprintf(run->why, WHY_SIZE, "jack_midi_latency_test not found (jackd2's example clients)");
  } else if (timed_out) {
    snprintf(run->why, WHY_SIZE, "jack_midi_latency_test did not finish");
  } else if (!tool_count(text, "Messages sent:", &run->sent) ||
             !tool_count(text, "Messages received:", &run->received)) {
    /* Its last line says why (e.g. "message timeout" when one is lost). */
    char *last = text + len;
    while (last > text && (last[-1] == '\n' || last[-1] == ' ')) {
      *--last = '\0';
    }
    while (last > text && last[-1] != '\n') {
      --last;
    }
    snprintf(run->why, WHY_SIZE, "jack_midi_latency_test: %.200s", *last ? last : "no report");
  } else if (!tool_frames(text, "Average latency:", &run->average) ||
             !tool_frames(text, "Lowest latency:", &run->lowest) ||
             !tool_frames(text, "Highest latency:", &run->highest) ||
             !tool_frames(text, "Peak MIDI jitter:", &run->peak_jitter) ||
             !tool_frames(text, "Average MIDI jitter:", &run->average_jitter)) {
    snprintf(run->why, WHY_SIZE, "jack_midi_latency_test: a report without its figures "
                                 "(%d of %d messages back)", run->received, run->sent);
  } else {
    tool_count(text, "Xruns:", &run->xruns);
    run->ok = true;
  }
  free(text);
}

/* ---- the systems ------------------------------------------------------------- */

static char *
echo_orchestra(int rate)
{
  char *orc = malloc(1024);
  snprintf(orc, 1024,
           "sr = %d\nksmps = 32\nnchnls = 1\n0dbfs = 1\nmassign 0, 0\n"
           "instr 1\n"
           "next:\n"
           "  kst, kch, kd1, kd2 midiin\n"
           "  if kst != 0 then\n"
           "    midiout kst, kch, kd1, kd2\n"
           "    kgoto next\n"
           "  endif\n"
           "endin\n"
           "alwayson 1\n",
           rate);
  return orc;
}

static void
quiet(void *data, int attr, const char *text)
{
  (void)data;
  (void)attr;
  if (getenv("CSJ_BENCH_VERBOSE")) {
    fputs(text, stderr);
  }
}

/* One run of one system: start it, the probe, the tool, stop it. */
static void
run_once(int sys, const PeriodResult *pr, const Config *cfg, const char *orc, SystemLoop *loop,
         int run)
{
  char into[320], from[320], why[WHY_SIZE] = "";
  CsjEngine *e = NULL;
#ifdef HAVE_BASELINE
  Baseline *b = NULL;
#endif
  if (sys == SYS_CSJACK) {
    CsjOptions o;
    csj_options_init(&o);
    char name[64];
    bench_unique_name(name, sizeof(name), "csjb-midi");
    o.client_name = name;
    o.server_name = pr->server;
    o.no_connect = true;
    o.message_fn = quiet;
    if (csj_engine_create(&o, &e) != CSJ_SUCCESS) {
      snprintf(why, sizeof(why), "csjack: %s", csj_last_error(NULL));
    } else if (csj_engine_compile_orc_text(e, orc) != CSJ_SUCCESS ||
               csj_engine_start(e) != CSJ_SUCCESS) {
      snprintf(why, sizeof(why), "csjack: %s", csj_last_error(e));
    } else {
      snprintf(into, sizeof(into), "%s:midi_in", csj_engine_client_name(e));
      snprintf(from, sizeof(from), "%s:midi_out", csj_engine_client_name(e));
    }
  } else {
#ifdef HAVE_BASELINE
    char client[64];
    bench_unique_name(client, sizeof(client), "csjb-csound");
    BaselineOptions o = {0};
    o.server_name = pr->server;
    o.client_name = client;
    o.period_b = pr->baseline_b;
    o.buffer_B = pr->baseline_B;
    o.orchestra = orc;
    o.midi = true;
    b = baseline_start(&o, why, sizeof(why));
    if (b) {
      snprintf(into, sizeof(into), "%s", baseline_midi_in_port(b));
      snprintf(from, sizeof(from), "%s", baseline_midi_out_port(b));
      why[0] = '\0';
    }
#else
    snprintf(why, sizeof(why), "%s", BASELINE_MISSING);
#endif
  }
  if (why[0]) {
    snprintf(loop->why, WHY_SIZE, "%s", why);
  } else {
    bench_sleep_ms(300);
    measure_probe(pr->server, into, from, cfg->midi_messages, pr->period, &loop->probe[run],
                  &loop->pooled);
    measure_tool(pr->server, into, from, cfg->midi_messages, &loop->tool[run]);
  }
  if (e) {
    csj_engine_stop(e);
    csj_engine_wait(e, 2000);
    csj_engine_destroy(e);
  }
#ifdef HAVE_BASELINE
  if (b) {
    baseline_stop(b);
  }
#endif
}

/* ---- the report ----------------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t size, len;
} Text;

static void
put(Text *t, const char *fmt, ...)
{
  if (t->len >= t->size) {
    return;
  }
  va_list args;
  va_start(args, fmt);
  const int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, args);
  va_end(args);
  if (n > 0) {
    t->len += (size_t)n;
  }
}

static double
median_of(double *v, int n)
{
  if (n == 0) {
    return NAN;
  }
  return bench_summarise(v, (size_t)n).p50;
}

static void
put_num(Text *t, const char *key, double v, bool comma)
{
  if (isfinite(v)) {
    put(t, "\"%s\": %.6g%s", key, v, comma ? ", " : "");
  } else {
    put(t, "\"%s\": null%s", key, comma ? ", " : "");
  }
}

static void
put_str(Text *t, const char *key, const char *s, bool comma)
{
  put(t, "\"%s\": \"", key);
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\') {
      put(t, "\\%c", *s);
    } else if ((unsigned char)*s < 0x20) {
      put(t, " ");
    } else {
      put(t, "%c", *s);
    }
  }
  put(t, "\"%s", comma ? ", " : "");
}

static void
read_load(double load[3])
{
  load[0] = load[1] = load[2] = NAN;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) {
      load[0] = load[1] = load[2] = NAN;
    }
    fclose(f);
  }
}

/* One system's JSON object and its table row. */
static void
report_system(int sys, SystemLoop *loop, int runs, Text *json, Text *table, int width,
              Text *goals)
{
  put(json, "\"%s\": {", sys_keys[sys]);
  char probe_why[WHY_SIZE] = "", tool_why[WHY_SIZE] = "";
  /* The probe: pooled percentiles, and medians over the runs. */
  double mins[8], p50s[8], maxs[8], jits[8];
  int ok = 0, sent = 0, back = 0, strays = 0, xruns = 0;
  for (int r = 0; r < runs; ++r) {
    const ProbeRun *p = &loop->probe[r];
    sent += p->sent;
    back += p->returned;
    strays += p->strays;
    xruns += p->xruns;
    if (p->ok) {
      mins[ok] = p->min;
      p50s[ok] = p->p50;
      maxs[ok] = p->max;
      jits[ok] = p->max - p->min;
      ++ok;
    } else if (!probe_why[0]) {
      snprintf(probe_why, sizeof(probe_why), "%s", loop->why[0] ? loop->why : p->why);
    }
  }
  double peak = NAN, med_p50 = NAN, med_jit = NAN;
  if (ok) {
    put(json, "\"probe\": {");
    put_num(json, "sent", sent, true);
    put_num(json, "returned", back, true);
    put_num(json, "strays", strays, true);
    put_num(json, "xruns", xruns, true);
    BenchSummary s = bench_summarise(loop->pooled.v, loop->pooled.n);
    put(json, "\"latency\": {");
    put_num(json, "n", (double)s.n, true);
    put_num(json, "mean", s.mean, true);
    put_num(json, "min", s.min, true);
    put_num(json, "p50", s.p50, true);
    put_num(json, "p99", s.p99, true);
    put_num(json, "max", s.max, false);
    put(json, "}, ");
    peak = s.max - s.min;
    put_num(json, "peak_jitter", peak, true);
    med_p50 = median_of(p50s, ok);
    med_jit = median_of(jits, ok);
    put(json, "\"median_of_runs\": {");
    put_num(json, "min", median_of(mins, ok), true);
    put_num(json, "p50", med_p50, true);
    put_num(json, "max", median_of(maxs, ok), true);
    put_num(json, "peak_jitter", med_jit, false);
    put(json, "}, ");
    /* The runs the server had no xrun in: a lost cycle delays or drops
     * MIDI by design, so these show the placement itself. */
    double cmin[8], cp50[8], cmax[8], cjit[8];
    int clean = 0, csent = 0, cback = 0;
    for (int r = 0; r < runs; ++r) {
      const ProbeRun *p = &loop->probe[r];
      if (p->ok && p->xruns == 0) {
        cmin[clean] = p->min;
        cp50[clean] = p->p50;
        cmax[clean] = p->max;
        cjit[clean] = p->max - p->min;
        csent += p->sent;
        cback += p->returned;
        ++clean;
      }
    }
    put(json, "\"runs_without_xruns\": {");
    put_num(json, "count", clean, true);
    put_num(json, "sent", csent, true);
    put_num(json, "returned", cback, true);
    put_num(json, "min", clean ? median_of(cmin, clean) : NAN, true);
    put_num(json, "p50", clean ? median_of(cp50, clean) : NAN, true);
    put_num(json, "max", clean ? median_of(cmax, clean) : NAN, true);
    put_num(json, "peak_jitter", clean ? median_of(cjit, clean) : NAN, false);
    put(json, "}, \"runs\": [");
    char clean_line[256];
    if (clean) {
      snprintf(clean_line, sizeof(clean_line),
               "%d runs without xruns: %d/%d back, medians min %.0f p50 %.0f max %.0f peak "
               "jitter %.0f", clean, cback, csent, median_of(cmin, clean),
               median_of(cp50, clean), median_of(cmax, clean), median_of(cjit, clean));
    } else {
      snprintf(clean_line, sizeof(clean_line), "no run without xruns");
    }
    for (int r = 0; r < runs; ++r) {
      const ProbeRun *p = &loop->probe[r];
      put(json, "%s{", r ? ", " : "");
      put_num(json, "sent", p->sent, true);
      put_num(json, "returned", p->returned, true);
      put_num(json, "xruns", p->xruns, true);
      put_num(json, "min", p->ok ? p->min : NAN, true);
      put_num(json, "p50", p->ok ? p->p50 : NAN, true);
      put_num(json, "p99", p->ok ? p->p99 : NAN, true);
      put_num(json, "max", p->ok ? p->max : NAN, false);
      put(json, "}");
    }
    put(json, "]}, ");
    put(table, "%-*s  probe    %3d/%-3d back  min %4.0f  p50 %4.0f  p99 %4.0f  max %4.0f  "
               "peak jitter %4.0f (median of runs %4.0f); xruns %d\n",
        width, sys_labels[sys], back, sent, s.min, s.p50, s.p99, s.max, peak, med_jit, xruns);
    put(table, "%-*s  probe    %s\n", width, "", clean_line);
    if (sys == SYS_CSJACK && goals) {
      /* The floor is one period; csjack writes an echo at the start of
       * the k-block that held the message's frame, so it comes back up
       * to ksmps - 1 frames before the floor, never after it. */
      put(goals, "  MIDI loop through csjack: latency within one k-block of the floor (256): "
                 "%s (probe %.0f..%.0f, p50 %.0f), peak jitter under 32: %s (median of runs "
                 "%.0f, all runs pooled %.0f), %s (%d of %d back)\n",
          s.min >= 256 - 32 && s.max <= 256 + 32 ? "met" : "not met", s.min, s.max, s.p50,
          med_jit < 32 ? "met" : "not met", med_jit, peak,
          back == sent ? "every message returned" : "MESSAGES LOST", back, sent);
    }
  } else {
    put(json, "\"probe\": null, ");
    put(table, "%-*s  probe    not measured: %s\n", width, sys_labels[sys], probe_why);
  }
  /* jack_midi_latency_test: medians over the runs it finished. */
  double avg[8], low[8], high[8], pj[8], aj[8];
  int tok = 0, tsent = 0, trecv = 0;
  for (int r = 0; r < runs; ++r) {
    const ToolRun *t = &loop->tool[r];
    tsent += t->sent;
    trecv += t->received;
    if (t->ok) {
      avg[tok] = t->average;
      low[tok] = t->lowest;
      high[tok] = t->highest;
      pj[tok] = t->peak_jitter;
      aj[tok] = t->average_jitter;
      ++tok;
    } else if (!tool_why[0]) {
      snprintf(tool_why, sizeof(tool_why), "%s", loop->why[0] ? loop->why : t->why);
    }
  }
  if (tok) {
    put(json, "\"jack_midi_latency_test\": {");
    put_num(json, "sent", tsent, true);
    put_num(json, "received", trecv, true);
    put_num(json, "runs_ok", tok, true);
    const double m_avg = median_of(avg, tok), m_low = median_of(low, tok),
                 m_high = median_of(high, tok), m_pj = median_of(pj, tok),
                 m_aj = median_of(aj, tok);
    put_num(json, "average", m_avg, true);
    put_num(json, "lowest", m_low, true);
    put_num(json, "highest", m_high, true);
    put_num(json, "peak_jitter", m_pj, true);
    put_num(json, "average_jitter", m_aj, true);
    put(json, "\"runs\": [");
    for (int r = 0, k = 0; r < runs; ++r) {
      const ToolRun *t = &loop->tool[r];
      if (!t->ok) {
        continue;
      }
      put(json, "%s{", k++ ? ", " : "");
      put_num(json, "sent", t->sent, true);
      put_num(json, "received", t->received, true);
      put_num(json, "average", t->average, true);
      put_num(json, "lowest", t->lowest, true);
      put_num(json, "highest", t->highest, true);
      put_num(json, "peak_jitter", t->peak_jitter, true);
      put_num(json, "xruns", t->xruns, false);
      put(json, "}");
    }
    put(json, "]}, ");
    put(table, "%-*s  jack_midi_latency_test %3d/%-3d back  lowest %4.0f  average %6.1f  "
               "highest %4.0f  peak jitter %4.0f (medians of %d runs)\n",
        width, "", trecv, tsent, m_low, m_avg, m_high, m_pj, tok);
    if (tok < runs) {
      put(table, "%-*s  (%d runs without a report: %s)\n", width, "", runs - tok, tool_why);
    }
  } else {
    put(json, "\"jack_midi_latency_test\": null, ");
    put(table, "%-*s  jack_midi_latency_test not measured: %s\n", width, "", tool_why);
  }
  put(json, "\"not_measured\": {");
  bool comma = false;
  if (!ok) {
    put_str(json, "probe", probe_why, false);
    comma = true;
  }
  if (!tok) {
    put(json, "%s", comma ? ", " : "");
    put_str(json, "jack_midi_latency_test", tool_why, false);
  } else if (tok < runs) {
    put(json, "%s", comma ? ", " : "");
    put_str(json, "jack_midi_latency_test_some_runs", tool_why, false);
  }
  put(json, "}}");
}

void
run_midi_loop(PeriodResult *pr, const Config *cfg)
{
  pr->midi_json[0] = pr->midi_table[0] = pr->midi_why[0] = '\0';
  if (cfg->midi_messages <= 0 || cfg->midi_runs <= 0) {
    snprintf(pr->midi_why, WHY_SIZE, "turned off (--midi-messages 0)");
    return;
  }
  const int runs = cfg->midi_runs > 8 ? 8 : cfg->midi_runs;
  char *orc = echo_orchestra(pr->rate);
  static SystemLoop loops[SYS_COUNT];
  memset(loops, 0, sizeof(loops));
  double load0[3], load1[3];
  read_load(load0);
  /* Interleaved, so that the machine's load falls on both alike. */
  for (int r = 0; r < runs; ++r) {
    for (int sys = 0; sys < SYS_COUNT; ++sys) {
      if (!loops[sys].why[0]) {
        run_once(sys, pr, cfg, orc, &loops[sys], r);
      }
    }
  }
  read_load(load1);
  free(orc);
  Text json = {pr->midi_json, sizeof(pr->midi_json), 0};
  Text table = {pr->midi_table, sizeof(pr->midi_table), 0};
  put(&table, "\nMIDI loop (midiin -> midiout, ksmps 32), frames: %d messages x %d runs per "
              "system; load %.2f %.2f %.2f before, %.2f %.2f %.2f after\n",
      cfg->midi_messages, runs, load0[0], load0[1], load0[2], load1[0], load1[1], load1[2]);
  put(&json, "{");
  put_num(&json, "messages", cfg->midi_messages, true);
  put_num(&json, "runs", runs, true);
  put_num(&json, "ksmps", 32, true);
  put(&json, "\"load_before\": [%.2f, %.2f, %.2f], ", load0[0], load0[1], load0[2]);
  put(&json, "\"load_after\": [%.2f, %.2f, %.2f], ", load1[0], load1[1], load1[2]);
  char goal_buf[1024] = "";
  Text goal_text = {NULL, 0, 0};
  if (pr->period == 256 && pr->rate == 48000) {
    goal_text.buf = goal_buf;
    goal_text.size = sizeof(goal_buf);
  }
  put(&json, "\"systems\": {");
  for (int sys = 0; sys < SYS_COUNT; ++sys) {
    if (sys) {
      put(&json, ", ");
    }
    report_system(sys, &loops[sys], runs, &json, &table, 26, goal_text.buf ? &goal_text : NULL);
    free(loops[sys].pooled.v);
  }
  put(&json, "}}");
  if (goal_buf[0]) {
    put(&table, "Goal at period 256 / 48 kHz, ksmps 32:\n%s", goal_buf);
  }
  if (json.len >= json.size - 1) {
    snprintf(pr->midi_why, WHY_SIZE, "internal: the report did not fit");
    pr->midi_json[0] = '\0';
  }
}
