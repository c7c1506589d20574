/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The baseline: Csound's own CsoundPerformanceThread (libcsnd6) performing
 * through Csound's own JACK driver, set up as the seed's Python host did
 * (ctcsound's performanceThread with a process-callback queue).
 *
 * Facts this file rests on, checked in Csound 6.18's sources:
 *   - libcsnd6's C wrapper (Interfaces/csPerfThread.cpp, `extern "C"`) has
 *     no header; the prototypes below are copied from its definitions,
 *     with its `typedef void *Cpt`.
 *   - The performance thread calls the process callback just before each
 *     csoundPerformKsmps (once per k-cycle, not per JACK period), outside
 *     Csound's API lock. When the performance ends it calls csoundCleanup
 *     itself, so baseline_stop() must not call it again.
 *   - rtjack (InOut/rtjack.c) has no server-name option: it opens its client
 *     with jack_client_open(name, JackNoStartServer, NULL), so the server
 *     comes from JACK_DEFAULT_SERVER. Its options are -+jack_client,
 *     -+jack_inportname (default "input"), -+jack_outportname (default
 *     "output") and the deprecated -+jack_sleep_time. Ports are named
 *     "<client>:<prefix><n>", n from 1. There is no option to turn
 *     autoconnect off: -odac:REGEX / -iadc:REGEX connect to the ports a
 *     jack_get_ports pattern matches, -odacN / -iadcN to the N-th port of
 *     ALL ports, and a bare -odac / -iadc as -odac0 / -iadc0 (its device
 *     number is zero-initialised), which on a fresh server means
 *     system:playback_1... and system:capture_1... (observed with jack_lsp
 *     -c on the dummy driver). So after csoundStart we disconnect whatever
 *     it connected and, if asked, connect the physical ports ourselves.
 *     It opens without JackUseExactName, so a taken name is silently
 *     changed: we check the ports exist under the requested name.
 *
 * Threads: baseline_start/baseline_stop from one control thread; the eval
 * and score-event functions from any thread between them.
 */

#include "baseline.h"

#include <csound/csound.h>
#include <jack/jack.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- libcsnd6's C wrapper: no header ships with it --------------------- */
/* Exactly as Interfaces/csPerfThread.cpp (Csound 6.18) defines them, inside
 * its extern "C" block. MYFLT is double in libcsound64. */
typedef void *Cpt;
extern Cpt NewCsoundPT(CSOUND *csound);
extern void DeleteCsoundPT(Cpt pt);
extern int CsoundPTisRunning(Cpt pt);
extern void CsoundPTsetProcessCB(Cpt pt, void (*callback)(void *), void *cbData);
extern CSOUND *CsoundPTgetCsound(Cpt pt);
extern int CsoundPTgetStatus(Cpt pt);
extern void CsoundPTplay(Cpt pt);
extern void CsoundPTstop(Cpt pt);
extern void CsoundPTscoreEvent(Cpt pt, int absp2mode, char opcod, int pcnt, MYFLT *p);
extern int CsoundPTjoin(Cpt pt);
extern void CsoundPTflushMessageQueue(Cpt pt);

_Static_assert(sizeof(MYFLT) == sizeof(double), "libcsound64: MYFLT is double");

/* ctcsound's process queue runs at most this many tasks per k-cycle. */
#define TASKS_PER_CYCLE 10
#define NAME_MAX_LEN 256
#define MAX_CHANNELS 64

/* One evalCode request. It lives on the heap because a caller that times
 * out returns while the performance thread may still be running it: whoever
 * is last (the caller or the performer) frees it, decided under b->lock. */
typedef struct EvalRequest {
  struct EvalRequest *next;
  char *code;
  double value;
  bool done;      /* the performer has run it */
  bool abandoned; /* the caller timed out and left */
  bool failed;    /* never run: the performance ended */
  pthread_cond_t cond;
} EvalRequest;

struct BaselineImpl {
  CSOUND *cs;
  Cpt pt;
  /* The ctcsound-style queue: a mutex-protected FIFO drained by the
   * process callback in the performance thread. */
  pthread_mutex_t lock;
  EvalRequest *head;
  EvalRequest *tail;
  bool stopping;
  int nchnls;
  int nchnls_i;
  char client[NAME_MAX_LEN];
  char out_ports[MAX_CHANNELS][NAME_MAX_LEN + 16];
  char in_ports[MAX_CHANNELS][NAME_MAX_LEN + 16];
  bool midi;
  char midi_in[NAME_MAX_LEN];  /* Csound's JACK MIDI input port */
  char midi_out[NAME_MAX_LEN];
  /* The last error Csound printed, kept during baseline_start only. */
  bool keep_errors;
  char last_error[256];
  bool verbose;
  /* rtjack's "xrun in real time audio" warnings (BaselineOptions.count_xruns). */
  atomic_uint_fast64_t rtjack_xruns;
};

/* Csound prints from whichever thread runs it, and prints its banner and
 * summaries as errors too, so nothing goes to stderr unless BASELINE_VERBOSE
 * is set: the bench's output stays readable, and failures come back as
 * return codes. During start the last error line is kept for `why`. */
static void
message_cb(CSOUND *cs, int attr, const char *format, va_list args)
{
  Baseline *b = csoundGetHostData(cs);
  char text[1024];
  vsnprintf(text, sizeof text, format, args);
  const int type = attr & CSOUNDMSG_TYPE_MASK;
  if (b && strstr(text, "xrun in real time audio")) {
    atomic_fetch_add(&b->rtjack_xruns, 1);
  }
  if (b && b->keep_errors && type == CSOUNDMSG_ERROR) {
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ')) {
      text[--n] = '\0';
    }
    if (n > 0) {
      snprintf(b->last_error, sizeof b->last_error, "%.*s", (int)sizeof b->last_error - 1,
               text);
    }
  }
  if (b && b->verbose) {
    fputs(text, stderr);
  }
}

/* The process callback: runs in the performance thread before each
 * k-cycle, outside Csound's API lock, so csoundEvalCode here takes the
 * lock uncontended (unless a direct caller holds it). */
static void
process_cb(void *data)
{
  Baseline *b = data;
  for (int i = 0; i < TASKS_PER_CYCLE; ++i) {
    pthread_mutex_lock(&b->lock);
    EvalRequest *r = b->head;
    if (!r) {
      pthread_mutex_unlock(&b->lock);
      return;
    }
    b->head = r->next;
    if (!b->head) {
      b->tail = NULL;
    }
    pthread_mutex_unlock(&b->lock);

    const double value = csoundEvalCode(b->cs, r->code);

    pthread_mutex_lock(&b->lock);
    r->value = value;
    r->done = true;
    if (r->abandoned) {
      pthread_cond_destroy(&r->cond);
      free(r->code);
      free(r);
    } else {
      pthread_cond_signal(&r->cond);
    }
    pthread_mutex_unlock(&b->lock);
  }
}

static void
set_why(char *why, size_t why_size, const char *fmt, ...)
{
  if (!why || why_size == 0) {
    return;
  }
  va_list args;
  va_start(args, fmt);
  vsnprintf(why, why_size, fmt, args);
  va_end(args);
}

static int
add_option(Baseline *b, const char *fmt, ...)
{
  char opt[NAME_MAX_LEN + 64];
  va_list args;
  va_start(args, fmt);
  vsnprintf(opt, sizeof opt, fmt, args);
  va_end(args);
  return csoundSetOption(b->cs, opt);
}

/* Our own short-lived JACK client on the same server: to learn the period
 * before start, and afterwards to check rtjack's ports and set up their
 * connections. */
static jack_client_t *
open_helper(const char *server, char *why, size_t why_size)
{
  jack_status_t status = 0;
  jack_options_t flags = JackNoStartServer;
  if (server) {
    flags |= JackServerName;
  }
  jack_client_t *c = jack_client_open("baseline-helper", flags, &status, server);
  if (!c) {
    set_why(why, why_size, "baseline: cannot reach JACK server %s (status 0x%x)",
            server ? server : "(default)", (unsigned)status);
  }
  return c;
}

/* Makes the connections of rtjack's ports what the options ask for: none,
 * or channel n to the n-th physical port. rtjack with a bare -odac/-iadc
 * has already connected channel n to the n-th port of all the server's
 * ports (see the top), which is not necessarily a physical one: undo that
 * first. */
static void
arrange_connections(Baseline *b, jack_client_t *helper, bool physical)
{
  const char **play = NULL, **capture = NULL;
  if (physical) {
    play = jack_get_ports(helper, NULL, JACK_DEFAULT_AUDIO_TYPE,
                          JackPortIsPhysical | JackPortIsInput);
    capture = jack_get_ports(helper, NULL, JACK_DEFAULT_AUDIO_TYPE,
                             JackPortIsPhysical | JackPortIsOutput);
  }
  for (int i = 0; i < b->nchnls; ++i) {
    jack_port_t *port = jack_port_by_name(helper, b->out_ports[i]);
    const char **peers = port ? jack_port_get_all_connections(helper, port) : NULL;
    for (size_t k = 0; peers && peers[k]; ++k) {
      jack_disconnect(helper, b->out_ports[i], peers[k]);
    }
    jack_free(peers);
    if (physical && play) {
      size_t n = 0;
      while (play[n]) {
        ++n;
      }
      if ((size_t)i < n) {
        jack_connect(helper, b->out_ports[i], play[i]);
      }
    }
  }
  for (int i = 0; i < b->nchnls_i; ++i) {
    jack_port_t *port = jack_port_by_name(helper, b->in_ports[i]);
    const char **peers = port ? jack_port_get_all_connections(helper, port) : NULL;
    for (size_t k = 0; peers && peers[k]; ++k) {
      jack_disconnect(helper, peers[k], b->in_ports[i]);
    }
    jack_free(peers);
    if (physical && capture) {
      size_t n = 0;
      while (capture[n]) {
        ++n;
      }
      if ((size_t)i < n) {
        jack_connect(helper, capture[i], b->in_ports[i]);
      }
    }
  }
  jack_free(play);
  jack_free(capture);
}

Baseline *
baseline_start(const BaselineOptions *opts, char *why, size_t why_size)
{
  set_why(why, why_size, "baseline: unknown error");
  if (!opts || !opts->orchestra) {
    set_why(why, why_size, "baseline: no orchestra");
    return NULL;
  }
  const char *client = opts->client_name ? opts->client_name : "csound6";
  if (strlen(client) >= NAME_MAX_LEN) {
    set_why(why, why_size, "baseline: client name too long");
    return NULL;
  }

  jack_client_t *helper = open_helper(opts->server_name, why, why_size);
  if (!helper) {
    return NULL;
  }
  /* rtjack would silently rename itself on a clash, and the ports we
   * report would be the other client's: refuse a taken name up front. */
  char *uuid = jack_get_uuid_for_client_name(helper, client);
  if (uuid) {
    jack_free(uuid);
    jack_client_close(helper);
    set_why(why, why_size, "baseline: JACK client name %s is taken", client);
    return NULL;
  }
  const int period = (int)jack_get_buffer_size(helper);
  const int bsize = opts->period_b > 0 ? opts->period_b : period;
  const int Bsize = opts->buffer_B > 0 ? opts->buffer_B : (2 * bsize > 256 ? 2 * bsize : 256);

  Baseline *b = calloc(1, sizeof *b);
  if (!b) {
    jack_client_close(helper);
    set_why(why, why_size, "baseline: out of memory");
    return NULL;
  }
  pthread_mutex_init(&b->lock, NULL);
  snprintf(b->client, sizeof b->client, "%s", client);
  b->verbose = getenv("BASELINE_VERBOSE") != NULL;
  b->keep_errors = true;

  csoundInitialize(CSOUNDINIT_NO_SIGNAL_HANDLER | CSOUNDINIT_NO_ATEXIT);
  b->cs = csoundCreate(b);
  if (!b->cs) {
    set_why(why, why_size, "baseline: csoundCreate failed");
    goto fail;
  }
  csoundSetMessageCallback(b->cs, message_cb);

  /* The seed's options. The bare -odac/-iadc autoconnect: see
   * arrange_connections(). */
  if (add_option(b, "-+rtaudio=jack") || add_option(b, "-odac") || add_option(b, "-iadc") ||
      add_option(b, "-b%d", bsize) || add_option(b, "-B%d", Bsize) || add_option(b, "-d") ||
      add_option(b, "-m%d", opts->count_xruns ? 4 : 0) || add_option(b, "-+jack_client=%s", client)) {
    set_why(why, why_size, "baseline: Csound refused an option");
    goto fail;
  }
  /* Csound's own JACK MIDI module: -M0/-Q0 name its device 0 (a client
   * of its own each way, csound6-midi_in and csound6-midi_out). */
  if (opts->midi &&
      (add_option(b, "-+rtmidi=jack") || add_option(b, "-M0") || add_option(b, "-Q0"))) {
    set_why(why, why_size, "baseline: Csound refused a MIDI option");
    goto fail;
  }
  b->midi = opts->midi;
  if (csoundCompileOrc(b->cs, opts->orchestra) != 0) {
    set_why(why, why_size, "baseline: orchestra does not compile: %s", b->last_error);
    goto fail;
  }

  /* rtjack takes its server from the environment only (see the top). Set
   * it for the start, when rtjack opens its clients, then put it back.
   * setenv is not thread safe: no other thread of the process should read
   * or change the environment meanwhile (libjack reads it when a client
   * opens without a server name). */
  const char *old_env = getenv("JACK_DEFAULT_SERVER");
  char *saved = old_env ? strdup(old_env) : NULL;
  if (opts->server_name) {
    setenv("JACK_DEFAULT_SERVER", opts->server_name, 1);
  }
  const int started = csoundStart(b->cs);
  if (opts->server_name) {
    if (saved) {
      setenv("JACK_DEFAULT_SERVER", saved, 1);
    } else {
      unsetenv("JACK_DEFAULT_SERVER");
    }
  }
  free(saved);
  if (started != 0) {
    set_why(why, why_size, "baseline: csoundStart failed (%d): %s", started, b->last_error);
    csoundCleanup(b->cs);
    goto fail;
  }
  b->keep_errors = false;

  b->nchnls = (int)csoundGetNchnls(b->cs);
  b->nchnls_i = (int)csoundGetNchnlsInput(b->cs);
  if (b->nchnls > MAX_CHANNELS) {
    b->nchnls = MAX_CHANNELS;
  }
  if (b->nchnls_i > MAX_CHANNELS) {
    b->nchnls_i = MAX_CHANNELS;
  }
  for (int i = 0; i < b->nchnls; ++i) {
    snprintf(b->out_ports[i], sizeof b->out_ports[i], "%s:output%d", client, i + 1);
  }
  for (int i = 0; i < b->nchnls_i; ++i) {
    snprintf(b->in_ports[i], sizeof b->in_ports[i], "%s:input%d", client, i + 1);
  }
  /* rtjack does not ask for its exact name: if it was renamed, the ports
   * we would report do not exist. */
  if (b->nchnls < 1 || !jack_port_by_name(helper, b->out_ports[0]) ||
      (b->nchnls_i > 0 && !jack_port_by_name(helper, b->in_ports[0]))) {
    set_why(why, why_size, "baseline: port %s not found (JACK client name %s taken?)",
            b->nchnls > 0 ? b->out_ports[0] : "output1", client);
    csoundCleanup(b->cs);
    goto fail;
  }
  arrange_connections(b, helper, opts->connect_physical);
  if (b->midi) {
    /* Csound's JACK MIDI clients have fixed names and no exact-name flag:
     * find them by their port type and name, and leave them unconnected
     * (device 0 may have been connected to some other client's port). */
    const char **ports = jack_get_ports(helper, "^csound6-midi_(in|out)", JACK_DEFAULT_MIDI_TYPE, 0);
    for (size_t k = 0; ports && ports[k]; ++k) {
      jack_port_t *port = jack_port_by_name(helper, ports[k]);
      const bool input = port && (jack_port_flags(port) & JackPortIsInput);
      snprintf(input ? b->midi_in : b->midi_out, NAME_MAX_LEN, "%s", ports[k]);
      const char **peers = port ? jack_port_get_all_connections(helper, port) : NULL;
      for (size_t i = 0; peers && peers[i]; ++i) {
        if (input) {
          jack_disconnect(helper, peers[i], ports[k]);
        } else {
          jack_disconnect(helper, ports[k], peers[i]);
        }
      }
      jack_free(peers);
    }
    jack_free(ports);
    if (!b->midi_in[0] || !b->midi_out[0]) {
      set_why(why, why_size, "baseline: Csound's JACK MIDI ports (csound6-midi_in/out) not found");
      csoundCleanup(b->cs);
      goto fail;
    }
  }
  jack_client_close(helper);
  helper = NULL;

  b->pt = NewCsoundPT(b->cs);
  if (!b->pt || CsoundPTgetStatus(b->pt) != 0) {
    set_why(why, why_size, "baseline: NewCsoundPT failed");
    if (b->pt) {
      DeleteCsoundPT(b->pt);
      b->pt = NULL;
    }
    csoundCleanup(b->cs);
    goto fail;
  }
  /* Set before Play: the thread starts paused, so the callback is in place
   * before the first k-cycle. */
  CsoundPTsetProcessCB(b->pt, process_cb, b);
  CsoundPTplay(b->pt);
  set_why(why, why_size, "ok");
  return b;

fail:
  if (helper) {
    jack_client_close(helper);
  }
  if (b->cs) {
    csoundDestroy(b->cs);
  }
  pthread_mutex_destroy(&b->lock);
  free(b);
  return NULL;
}

const char *
baseline_midi_in_port(const Baseline *b)
{
  return b && b->midi ? b->midi_in : NULL;
}

const char *
baseline_midi_out_port(const Baseline *b)
{
  return b && b->midi ? b->midi_out : NULL;
}

int
baseline_eval_queued(Baseline *b, const char *code, int timeout_ms, double *value)
{
  if (!b || !code) {
    return -1;
  }
  EvalRequest *r = calloc(1, sizeof *r);
  if (!r || !(r->code = strdup(code))) {
    free(r);
    return -1;
  }
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cond, &attr);
  pthread_condattr_destroy(&attr);

  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1000000000L;
  }

  pthread_mutex_lock(&b->lock);
  if (b->stopping) {
    pthread_mutex_unlock(&b->lock);
    pthread_cond_destroy(&r->cond);
    free(r->code);
    free(r);
    return -3;
  }
  if (b->tail) {
    b->tail->next = r;
  } else {
    b->head = r;
  }
  b->tail = r;
  int rc = 0;
  while (!r->done && !r->failed && rc != ETIMEDOUT) {
    rc = pthread_cond_timedwait(&r->cond, &b->lock, &deadline);
  }
  int result;
  if (r->done) {
    if (value) {
      *value = r->value;
    }
    result = isnan(r->value) ? -2 : 0;
  } else if (r->failed) {
    result = -3;
  } else {
    /* Timed out. Still queued: unlink and free it. Being run: leave it to
     * the performer, which frees an abandoned request when it finishes. */
    EvalRequest **link = &b->head;
    EvalRequest *prev = NULL;
    while (*link && *link != r) {
      prev = *link;
      link = &(*link)->next;
    }
    if (*link == r) {
      *link = r->next;
      if (b->tail == r) {
        b->tail = prev;
      }
    } else {
      r->abandoned = true;
      r = NULL;
    }
    result = -1;
  }
  pthread_mutex_unlock(&b->lock);
  if (r) {
    pthread_cond_destroy(&r->cond);
    free(r->code);
    free(r);
  }
  return result;
}

int
baseline_eval_direct(Baseline *b, const char *code, double *value)
{
  if (!b || !code) {
    return -1;
  }
  /* Takes Csound's API lock, which csoundPerformKsmps holds for each whole
   * k-cycle: this waits for a gap between k-cycles, and while it compiles
   * the performance thread waits in turn. */
  const double v = csoundEvalCode(b->cs, code);
  if (value) {
    *value = v;
  }
  return isnan(v) ? -2 : 0;
}

int
baseline_score_event(Baseline *b, char type, const double *pfields, int count)
{
  if (!b || count < 0 || (count > 0 && !pfields)) {
    return -1;
  }
  /* The wrapper takes a non-const pointer but copies the p-fields into its
   * message before returning (CsPerfThreadMsg_ScoreEvent). */
  CsoundPTscoreEvent(b->pt, 0, type, count, (MYFLT *)pfields);
  return CsoundPTgetStatus(b->pt) == 0 ? 0 : -1;
}

const char *
baseline_output_port(const Baseline *b, int channel)
{
  if (!b || channel < 1 || channel > b->nchnls) {
    return NULL;
  }
  return b->out_ports[channel - 1];
}

const char *
baseline_input_port(const Baseline *b, int channel)
{
  if (!b || channel < 1 || channel > b->nchnls_i) {
    return NULL;
  }
  return b->in_ports[channel - 1];
}

uint64_t
baseline_rtjack_xruns(Baseline *b)
{
  return atomic_load(&b->rtjack_xruns);
}

void
baseline_stop(Baseline *b)
{
  if (!b) {
    return;
  }
  /* Stop queues a stop message; the performance thread leaves its loop,
   * calls csoundCleanup itself (which closes rtjack's client) and ends.
   * So no csoundCleanup here: it would be a second one. */
  CsoundPTstop(b->pt);
  CsoundPTjoin(b->pt);
  DeleteCsoundPT(b->pt);
  b->pt = NULL;

  /* The process callback will not run again: fail what is still queued,
   * and free what its callers have abandoned. */
  pthread_mutex_lock(&b->lock);
  b->stopping = true;
  EvalRequest *r = b->head;
  b->head = b->tail = NULL;
  while (r) {
    EvalRequest *next = r->next;
    r->failed = true;
    pthread_cond_signal(&r->cond);
    r = next;
  }
  pthread_mutex_unlock(&b->lock);

  csoundDestroy(b->cs);
  pthread_mutex_destroy(&b->lock);
  free(b);
}

/* ---- Self-check ---------------------------------------------------------- */
#ifdef BASELINE_SELFTEST
/*
 * Starts the baseline on a running server and evaluates the seed's code 20
 * times each way, printing mean and max ms. A pseudo-random pause of 1 to
 * 11 ms comes before each call, so calls land anywhere in the JACK period:
 * back-to-back calls would fall into the burst of k-cycles Csound runs after
 * each period and look faster than a caller at a random moment sees.
 *
 *   baseline-selftest SERVER [B [BIG_B]]
 */

static double
now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s SERVER [b [B]]\n", argv[0]);
    return 2;
  }
  static const char orc[] = "sr = 48000\nksmps = 32\nnchnls = 1\nnchnls_i = 1\n0dbfs = 1\n"
                            "instr 1\n  a1 inch 1\n  out a1\nendin\n";
  BaselineOptions o = {0};
  o.server_name = argv[1];
  o.client_name = "baseline-selftest";
  o.period_b = argc > 2 ? atoi(argv[2]) : 0;
  o.buffer_B = argc > 3 ? atoi(argv[3]) : 0;
  o.orchestra = orc;
  char why[512];
  Baseline *b = baseline_start(&o, why, sizeof why);
  if (!b) {
    fprintf(stderr, "%s\n", why);
    return 1;
  }
  printf("ports: in %s, out %s (channel 2: %s)\n", baseline_input_port(b, 1),
         baseline_output_port(b, 1), baseline_output_port(b, 2) ? "?" : "none");
  const double note[] = {1, 0, 3600};
  printf("score event: %d\n", baseline_score_event(b, 'i', note, 3));
  struct timespec settle = {0, 300000000L};
  nanosleep(&settle, NULL);

  int serial = 100;
  int failures = 0;
  for (int way = 0; way < 2; ++way) {
    double sum = 0, max = 0;
    double last = NAN;
    for (int i = 0; i < 20; ++i) {
      char code[128];
      snprintf(code, sizeof code, "gi__t%03d ftgen 0, 0, -1024, -2, 0\nreturn gi__t%03d", serial,
               serial);
      ++serial;
      const long pause_us = 1000 + (long)((unsigned)(serial * 2654435761u) % 10000u);
      const struct timespec pause = {0, pause_us * 1000L};
      nanosleep(&pause, NULL);
      double v = NAN;
      const double t0 = now_ms();
      const int rc = way == 0 ? baseline_eval_queued(b, code, 2000, &v)
                              : baseline_eval_direct(b, code, &v);
      const double dt = now_ms() - t0;
      if (rc != 0) {
        ++failures;
        fprintf(stderr, "eval %s failed: %d\n", way == 0 ? "queued" : "direct", rc);
      }
      last = v;
      sum += dt;
      if (dt > max) {
        max = dt;
      }
    }
    printf("%-7s 20 evals: mean %.3f ms, max %.3f ms (last table %g)\n",
           way == 0 ? "queued" : "direct", sum / 20, max, last);
  }
  baseline_stop(b);
  printf("stopped; %d failures\n", failures);
  return failures ? 1 : 0;
}
#endif
