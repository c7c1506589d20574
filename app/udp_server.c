/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The csjack command's UDP and OSC servers: see udp_server.h. */

#include "udp_server.h"

#include "console_internal.h"
#include "osc_protocol.h"
#include "udp_protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long the thread waits in poll: the bound on a stop's delay. */
#define POLL_MS 50
/* Datagrams read per socket per wake-up, before the stop flag is looked at. */
#define BURST 256
#define RECV_BUFFER 65536
/* Queue only while the ring is less than this full (so the console, and
 * everyone else, always find room). */
#define RING_SHARE_NUM 3
#define RING_SHARE_DEN 4
/* Commands the servers queue, at most, per second (and in a burst): what a
 * flood gets through. Csound's own work for a queued event (its note, its
 * instance) happens in the k-cycles, outside the JACK thread's command
 * budget, so the rate itself must be bounded: measured on the dummy server
 * (period 256), an unbounded flood of 46000 events a second made half the
 * cycles late. */
#define COMMANDS_PER_SECOND 4000.0
#define COMMANDS_BURST 512.0
/* OSC messages other than events held for a future timetag, at most. */
#define MAX_HELD 1024
/* Distinct channel names the servers may create (each is a direct call). */
#define MAX_CHANNELS 1024
/* Reports of one kind per second; the rest are counted. */
#define REPORTS_PER_SECOND 10
/* The longest string channel value read back. */
#define MAX_STRING_REPLY 60000

enum { R_MALFORMED, R_DROPPED, R_COMPILE, R_ECHO, R_OSC, R_OTHER, R_KINDS };

static const char *const k_report_what[R_KINDS] = {
  "malformed-datagram reports", "dropped-datagram reports", "compile-error reports",
  "echoed datagrams", "OSC reports", "other reports",
};

typedef struct {
  uint64_t window_ms;
  unsigned shown;
  uint64_t hidden;
} Limiter;

struct UdpServerImpl {
  UdpServerOptions opts;
  char listen[16];
  int udp_fd;
  int osc_fd;
  int udp_port;
  int osc_port;
  CsjEngine *e;
  pthread_t thread;
  bool started;
  atomic_bool stop;
  UdpParser parser;
  char *buf;
  char *reply;
  locale_t c_locale;
  /* channels created through the servers */
  char (*names)[UDP_MAX_NAME + 1];
  int n_names;
  uint32_t last_kernel_drops[2];
  pthread_mutex_t report_lock;
  Limiter limit[R_KINDS];
  _Atomic uint64_t datagrams, malformed, dropped, kernel_dropped, compiles, compiled, compile_errors,
    blocks_dropped, replies, osc_packets, osc_messages, osc_malformed, osc_dropped, osc_timed,
    osc_held, paced;
  /* the datagram being handled: its sender, for reports */
  char peer[32];
  /* OSC messages other than events, held until their bundle's time (the
   * server thread only; unsorted, at most MAX_HELD) */
  struct Held *held;
  int n_held;
  /* the token bucket of COMMANDS_PER_SECOND (the server thread only) */
  double tokens;
  uint64_t tokens_ns;
};

typedef struct {
  UdpServer *s;
  char peer[32];
  bool osc;
} CompileContext;

/* A timed OSC message that is not an event, held until its wall-clock time. */
struct Held {
  double due;            /* Unix time, seconds */
  OscKind kind;
  char name[256];
  char *text;
  double value;
  char peer[32];
};

static uint64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
inc(_Atomic uint64_t *counter)
{
  atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static uint64_t
get(const _Atomic uint64_t *counter)
{
  return atomic_load_explicit((_Atomic uint64_t *)counter, memory_order_relaxed);
}

/* Says what was left out of the last second's reports. Under report_lock. */
static void
flush_hidden_locked(UdpServer *s, int kind, uint64_t now)
{
  Limiter *l = &s->limit[kind];
  if (now - l->window_ms < 1000) {
    return;
  }
  if (l->hidden) {
    char line[160];
    snprintf(line, sizeof(line), "csjack: UDP: %llu more %s in the last second, not shown",
             (unsigned long long)l->hidden, k_report_what[kind]);
    s->opts.report(s->opts.report_data, line);
  }
  l->window_ms = now;
  l->shown = 0;
  l->hidden = 0;
}

static void __attribute__((format(printf, 3, 4)))
report(UdpServer *s, int kind, const char *fmt, ...)
{
  if (!s->opts.report) {
    return;
  }
  char line[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(line, sizeof(line), fmt, args);
  va_end(args);
  pthread_mutex_lock(&s->report_lock);
  const uint64_t now = now_ms();
  flush_hidden_locked(s, kind, now);
  Limiter *l = &s->limit[kind];
  if (l->shown < REPORTS_PER_SECOND) {
    ++l->shown;
    s->opts.report(s->opts.report_data, line);
  } else {
    ++l->hidden;
  }
  pthread_mutex_unlock(&s->report_lock);
}

static void
flush_all_hidden(UdpServer *s)
{
  if (!s->opts.report) {
    return;
  }
  pthread_mutex_lock(&s->report_lock);
  const uint64_t now = now_ms();
  for (int k = 0; k < R_KINDS; ++k) {
    flush_hidden_locked(s, k, now);
  }
  pthread_mutex_unlock(&s->report_lock);
}

/* @p text escaped into @p out, at most @p max input bytes of it. */
static const char *
escaped(char *out, size_t size, const char *text, size_t len, size_t max)
{
  out[0] = '\0';
  console_escape_into(out, size, 0, text, len, max);
  return out;
}

static int
bind_socket(const char *addr, int port, char *err, size_t err_size, const char *what)
{
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, err_size, "cannot make a socket for %s: %s", what, strerror(errno));
    return -1;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, addr, &sa.sin_addr);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    snprintf(err, err_size, "cannot listen for %s on %s:%d: %s%s", what, addr, port,
             strerror(errno),
             errno == EADDRINUSE ? " (another program, or another csjack, has it)" : "");
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
  const int rcvbuf = 1 << 20; /* capped by net.core.rmem_max */
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  return fd;
}

UdpServer *
udp_server_open(const UdpServerOptions *opts, char *err, size_t err_size)
{
  UdpServer *s = calloc(1, sizeof(*s));
  if (!s) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  s->opts = *opts;
  s->udp_fd = -1;
  s->osc_fd = -1;
  const char *listen = opts->listen ? opts->listen : "127.0.0.1";
  if (strcmp(listen, "localhost") == 0) {
    listen = "127.0.0.1";
  }
  struct in_addr addr;
  if (inet_pton(AF_INET, listen, &addr) != 1) {
    snprintf(err, err_size, "--listen takes an IPv4 address (a.b.c.d), not '%s'", listen);
    free(s);
    return NULL;
  }
  inet_ntop(AF_INET, &addr, s->listen, sizeof(s->listen));
  pthread_mutex_init(&s->report_lock, NULL);
  udp_parser_init(&s->parser, UDP_MAX_BLOCK);
  s->buf = malloc(RECV_BUFFER);
  s->reply = malloc(MAX_STRING_REPLY + UDP_MAX_NAME + 8);
  s->names = calloc(MAX_CHANNELS, sizeof(*s->names));
  s->held = calloc(MAX_HELD, sizeof(*s->held));
  if (!s->buf || !s->reply || !s->names || !s->held) {
    snprintf(err, err_size, "out of memory");
    udp_server_free(s);
    return NULL;
  }
  if (opts->udp_port > 0) {
    s->udp_fd = bind_socket(s->listen, opts->udp_port, err, err_size,
                            "Csound's UDP protocol (--port)");
    if (s->udp_fd < 0) {
      udp_server_free(s);
      return NULL;
    }
    s->udp_port = opts->udp_port;
  }
  if (opts->osc_port > 0) {
    s->osc_fd = bind_socket(s->listen, opts->osc_port, err, err_size, "OSC (--osc-port)");
    if (s->osc_fd < 0) {
      udp_server_free(s);
      return NULL;
    }
    s->osc_port = opts->osc_port;
  }
  const bool loopback = (ntohl(addr.s_addr) >> 24) == 127;
  if (!loopback && opts->report) {
    char line[256];
    snprintf(line, sizeof(line),
             "csjack: warning: listening on %s, not on loopback: anyone who can reach this "
             "address can run code in this Csound",
             s->listen);
    opts->report(opts->report_data, line);
  }
  return s;
}

int
udp_server_port(const UdpServer *s, bool osc)
{
  return s ? (osc ? s->osc_port : s->udp_port) : 0;
}

/* Whether one more command may be queued now: under the rate limit, and
 * the ring less than three quarters full. Takes a token. */
static bool
ring_has_room(UdpServer *s)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  if (s->tokens_ns == 0) {
    s->tokens = COMMANDS_BURST;
  } else {
    s->tokens += (double)(now - s->tokens_ns) * 1e-9 * COMMANDS_PER_SECOND;
    if (s->tokens > COMMANDS_BURST) {
      s->tokens = COMMANDS_BURST;
    }
  }
  s->tokens_ns = now;
  if (s->tokens < 1.0) {
    return false;
  }
  CsjStats st;
  csj_engine_stats(s->e, &st);
  if (st.ring_capacity != 0 &&
      (uint64_t)st.ring_used * RING_SHARE_DEN >= (uint64_t)st.ring_capacity * RING_SHARE_NUM) {
    return false;
  }
  s->tokens -= 1.0;
  return true;
}

/*
 * Waits until one more command may be queued (backpressure: what was sent
 * is paced, never dropped for want of room); false only when the server
 * is stopping or the performance has ended. Meanwhile datagrams wait in
 * the socket's buffer, and what the kernel drops there is counted.
 */
static bool
wait_for_room(UdpServer *s)
{
  bool waited = false;
  while (!ring_has_room(s)) {
    if (atomic_load_explicit(&s->stop, memory_order_relaxed) || !csj_engine_is_running(s->e)) {
      return false;
    }
    if (!waited) {
      inc(&s->paced);
      waited = true;
    }
    const struct timespec tick = {0, 1000 * 1000};
    nanosleep(&tick, NULL);
  }
  return true;
}

/* Whether a channel may be used: known already, or room for a new one. */
static bool
channel_allowed(UdpServer *s, const char *name)
{
  for (int i = 0; i < s->n_names; ++i) {
    if (strcmp(s->names[i], name) == 0) {
      return true;
    }
  }
  if (s->n_names >= MAX_CHANNELS) {
    return false;
  }
  snprintf(s->names[s->n_names++], sizeof(s->names[0]), "%s", name);
  return true;
}

/* One line of Csound's (multi-line) text, for a report. */
static void
one_line(char *out, size_t size, const char *text)
{
  size_t n = 0;
  bool space = false;
  for (const char *p = text ? text : ""; *p && n + 4 < size; ++p) {
    if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
      space = n > 0;
      continue;
    }
    if (space) {
      out[n++] = ' ';
      space = false;
    }
    out[n++] = *p;
  }
  out[n] = '\0';
}

static void
on_compile(void *data, const CsjResult *r)
{
  CompileContext *c = data;
  UdpServer *s = c->s;
  if (r->status == CSJ_SUCCESS) {
    inc(&s->compiled);
    if (s->opts.echo) {
      report(s, R_ECHO, "csjack: %s: code from %s compiled", c->osc ? "OSC" : "UDP", c->peer);
    }
  } else if (r->status != CSJ_ERR_NOT_RUN) {
    inc(&s->compile_errors);
    char text[600];
    one_line(text, sizeof(text), r->message && r->message[0] ? r->message
                                                             : csj_strerror(r->status));
    report(s, R_COMPILE, "csjack: error: %s code from %s did not compile: %s",
           c->osc ? "OSC" : "UDP", c->peer, text);
  }
  free(c);
}

/* Queues a compile; false when it was dropped (counted by the caller). */
static bool
queue_compile(UdpServer *s, const char *code, bool osc)
{
  CompileContext *c = malloc(sizeof(*c));
  if (!c) {
    return false;
  }
  c->s = s;
  c->osc = osc;
  snprintf(c->peer, sizeof(c->peer), "%s", s->peer);
  /* Counted first: the result can reach on_compile before this returns. */
  inc(&s->compiles);
  const CsjStatus st = csj_engine_compile_orc_async(s->e, code, on_compile, c);
  if (st != CSJ_SUCCESS) {
    atomic_fetch_sub_explicit(&s->compiles, 1, memory_order_relaxed);
    free(c);
    return false;
  }
  return true;
}

static void
stop_task(CsjEngine *e, void *csound, void *data)
{
  (void)csound;
  (void)data;
  csj_engine_stop(e);
}

static void
send_reply(UdpServer *s, const char *host, uint16_t port, const char *text)
{
  struct sockaddr_in to;
  memset(&to, 0, sizeof(to));
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, host, &to.sin_addr);
  const int fd = s->udp_fd >= 0 ? s->udp_fd : s->osc_fd;
  /* the text and its NUL, as Csound's server sends them */
  if (sendto(fd, text, strlen(text) + 1, MSG_DONTWAIT | MSG_NOSIGNAL,
             (const struct sockaddr *)&to, sizeof(to)) >= 0) {
    inc(&s->replies);
  } else {
    report(s, R_OTHER, "csjack: UDP: cannot send the reply to %s:%u: %s", host, port,
           strerror(errno));
  }
}

static void
dropped(UdpServer *s, const char *what, bool osc)
{
  inc(osc ? &s->osc_dropped : &s->dropped);
  report(s, R_DROPPED, "csjack: %s: %s from %s dropped: %s", osc ? "OSC" : "UDP", what, s->peer,
         csj_engine_is_running(s->e) ? "csjack could not queue it" : "the performance has ended");
}

/* Score text from UDP's $ or OSC's /csound/event: queued, refused with
 * csjack's reason (an 'a' statement), or dropped in a flood. */
static void
send_score_text(UdpServer *s, const char *text, const char *what, bool osc)
{
  const CsjStatus st = wait_for_room(s) ? csj_engine_input_message(s->e, text) : CSJ_ERR_RING_FULL;
  if (st == CSJ_ERR_BAD_ARG) {
    report(s, R_OTHER, "csjack: error: %s %s from %s refused: %s", osc ? "OSC" : "UDP", what,
           s->peer, csj_last_error(s->e));
  } else if (st != CSJ_SUCCESS) {
    dropped(s, what, osc);
  }
}

static void
handle_udp(UdpServer *s, const char *data, size_t len)
{
  inc(&s->datagrams);
  char esc[300];
  if (s->opts.echo) {
    report(s, R_ECHO, "csjack: UDP from %s: %s", s->peer, escaped(esc, sizeof(esc), data, len, 200));
  }
  UdpAction a = udp_parse_datagram(&s->parser, data, len);
  if (a.message[0] && a.kind != UDP_MALFORMED && a.kind != UDP_BLOCK_DROPPED) {
    report(s, R_OTHER, "csjack: UDP from %s: %s", s->peer, a.message);
  }
  switch (a.kind) {
  case UDP_NOTHING: break;
  case UDP_MALFORMED:
    inc(&s->malformed);
    report(s, R_MALFORMED, "csjack: error: malformed UDP datagram from %s (%zu bytes): %s",
           s->peer, len, a.message);
    break;
  case UDP_BLOCK_DROPPED:
    inc(&s->blocks_dropped);
    report(s, R_MALFORMED, "csjack: error: UDP from %s: %s", s->peer, a.message);
    break;
  case UDP_COMPILE:
    if (!wait_for_room(s) || !queue_compile(s, a.text, false)) {
      dropped(s, "code", false);
    }
    break;
  case UDP_SCORE:
    send_score_text(s, a.text, "score text", false);
    break;
  case UDP_SET_CONTROL:
    if (!channel_allowed(s, a.name)) {
      report(s, R_OTHER, "csjack: error: UDP from %s: channel '%s' not set: over %d channels",
             s->peer, a.name, MAX_CHANNELS);
    } else {
      const CsjStatus st = csj_engine_set_control(s->e, a.name, a.value);
      if (st != CSJ_SUCCESS) {
        report(s, R_OTHER, "csjack: error: UDP from %s: channel '%s' not set: %s", s->peer,
               a.name, csj_strerror(st));
      }
    }
    break;
  case UDP_SET_STRING:
    if (!wait_for_room(s) || csj_engine_set_string_channel(s->e, a.name, a.text) != CSJ_SUCCESS) {
      dropped(s, "a string channel", false);
    }
    break;
  case UDP_GET_CONTROL:
  case UDP_GET_STRING: {
    if (!channel_allowed(s, a.name)) {
      report(s, R_OTHER, "csjack: error: UDP from %s: channel '%s' not read: over %d channels",
             s->peer, a.name, MAX_CHANNELS);
      break;
    }
    CsjStatus st;
    const size_t head = (size_t)snprintf(s->reply, UDP_MAX_NAME + 3, "%s::", a.name);
    if (a.kind == UDP_GET_CONTROL) {
      double v = 0;
      st = csj_engine_get_control(s->e, a.name, &v);
      if (st == CSJ_SUCCESS) {
        snprintf(s->reply + head, 64, "%f", v); /* Csound's format; the C locale */
      }
    } else {
      st = csj_engine_get_string_channel(s->e, a.name, s->reply + head, MAX_STRING_REPLY);
    }
    if (st == CSJ_SUCCESS) {
      send_reply(s, a.host, a.port, s->reply);
    } else {
      report(s, R_OTHER, "csjack: error: UDP from %s: could not read channel '%s': %s", s->peer,
             a.name, csj_strerror(st));
    }
    break;
  }
  case UDP_CLOSE:
    report(s, R_OTHER, "csjack: UDP: %.9s from %s: ending the performance", data, s->peer);
    /* In order: what came before it runs first. */
    if (csj_engine_task(s->e, stop_task, NULL) != CSJ_SUCCESS) {
      csj_engine_stop(s->e);
    }
    break;
  }
  udp_action_free(&a);
}

/* ---- OSC ------------------------------------------------------------------ */

static double
wall_now(void)
{
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  return (double)wall.tv_sec + (double)wall.tv_nsec * 1e-9;
}

/* Holds a timed message other than an event until its time; false when it
 * should act now (its time has come, or no room: then it says so). */
static bool
hold(UdpServer *s, const OscAction *a)
{
  if (a->timetag == OSC_TIMETAG_IMMEDIATE) {
    return false;
  }
  const double due = osc_timetag_to_unix(a->timetag);
  const double ahead = due - wall_now();
  if (ahead <= 0.0005) {
    return false;
  }
  if (ahead > 86400.0 || s->n_held >= MAX_HELD) {
    report(s, R_OSC, "csjack: OSC from %s: %s, so this timed message acts now", s->peer,
           ahead > 86400.0 ? "its timetag is over a day ahead"
                           : "1024 timed messages are already waiting");
    return false;
  }
  struct Held *h = &s->held[s->n_held];
  memset(h, 0, sizeof(*h));
  if (a->text && !(h->text = strdup(a->text))) {
    return false;
  }
  h->due = due;
  h->kind = a->kind;
  h->value = a->value;
  if (a->name) {
    snprintf(h->name, sizeof(h->name), "%s", a->name);
  }
  snprintf(h->peer, sizeof(h->peer), "%s", s->peer);
  ++s->n_held;
  inc(&s->osc_held);
  return true;
}

static void act_osc(UdpServer *s, const OscAction *a);

static void
on_osc(void *data, const OscAction *a)
{
  UdpServer *s = data;
  inc(&s->osc_messages);
  if (a->kind != OSC_MALFORMED && a->kind != OSC_EVENT_INSTR && hold(s, a)) {
    return;
  }
  act_osc(s, a);
}

/* Acts on held messages whose time has come; the milliseconds until the
 * next one (POLL_MS when none). */
static int
release_held(UdpServer *s)
{
  int wait_ms = POLL_MS;
  const double now = wall_now();
  for (int i = 0; i < s->n_held;) {
    struct Held *h = &s->held[i];
    if (h->due <= now + 0.0005) {
      OscAction a;
      memset(&a, 0, sizeof(a));
      a.kind = h->kind;
      a.timetag = OSC_TIMETAG_IMMEDIATE;
      a.name = h->name;
      a.text = h->text;
      a.value = h->value;
      char peer[32];
      memcpy(peer, s->peer, sizeof(peer));
      memcpy(s->peer, h->peer, sizeof(peer));
      act_osc(s, &a);
      memcpy(s->peer, peer, sizeof(peer));
      free(h->text);
      s->held[i] = s->held[--s->n_held];
      continue;
    }
    const double ms = (h->due - now) * 1000.0;
    if (ms < wait_ms) {
      wait_ms = ms < 1.0 ? 1 : (int)ms;
    }
    ++i;
  }
  return wait_ms;
}

static void
act_osc(UdpServer *s, const OscAction *a)
{
  CsjStatus st = CSJ_SUCCESS;
  switch (a->kind) {
  case OSC_MALFORMED:
    inc(&s->osc_malformed);
    report(s, R_OSC, "csjack: error: malformed OSC from %s: %s", s->peer, a->message);
    return;
  case OSC_COMPILE:
    if (!wait_for_room(s) || !queue_compile(s, a->text, true)) {
      dropped(s, "/csound/compile", true);
    }
    return;
  case OSC_EVENT_TEXT:
    send_score_text(s, a->text, "/csound/event", true);
    return;
  case OSC_EVENT_INSTR: {
    if (!wait_for_room(s)) {
      dropped(s, "/csound/event/instr", true);
      return;
    }
    if (a->timetag == OSC_TIMETAG_IMMEDIATE) {
      st = csj_engine_score_event(s->e, 'i', a->pfields, a->count, false);
    } else {
      struct timespec wall;
      clock_gettime(CLOCK_REALTIME, &wall);
      double ahead = osc_timetag_to_unix(a->timetag) -
                     ((double)wall.tv_sec + (double)wall.tv_nsec * 1e-9);
      /* A past timetag is late (run at once, counted by the engine); keep
       * it within a second back so the frame does not wrap forwards, and
       * a far-future one within 2^30 frames (6.2 h at 48 kHz): the frame
       * clock wraps at 2^32, and a frame over 2^31 ahead would count as
       * past and play at once. */
      if (ahead < -1.0) {
        ahead = -1.0;
      }
      CsjStats stats;
      csj_engine_stats(s->e, &stats);
      const double horizon = stats.sample_rate ? 1073741824.0 / stats.sample_rate : 0.0;
      if (ahead > horizon) {
        inc(&s->osc_malformed);
        report(s, R_OSC, "csjack: error: OSC from %s: a timetag %.0f s ahead is refused: csjack "
                         "holds events up to %.0f s ahead", s->peer, ahead, horizon);
        return;
      }
      const uint32_t frame = csj_engine_frame_time_in(s->e, (int64_t)llround(ahead * 1e6));
      st = csj_engine_score_event_at(s->e, 'i', a->pfields, a->count, frame);
      if (st == CSJ_SUCCESS) {
        inc(&s->osc_timed);
      }
    }
    if (st != CSJ_SUCCESS) {
      dropped(s, "/csound/event/instr", true);
    }
    return;
  }
  case OSC_SET_CONTROL:
    if (!channel_allowed(s, a->name)) {
      report(s, R_OSC, "csjack: error: OSC from %s: channel '%s' not set: over %d channels",
             s->peer, a->name, MAX_CHANNELS);
    } else if ((st = csj_engine_set_control(s->e, a->name, a->value)) != CSJ_SUCCESS) {
      report(s, R_OSC, "csjack: error: OSC from %s: channel '%s' not set: %s", s->peer, a->name,
             csj_strerror(st));
    }
    return;
  case OSC_SET_STRING:
    if (!wait_for_room(s) ||
        csj_engine_set_string_channel(s->e, a->name, a->text) != CSJ_SUCCESS) {
      dropped(s, "a string channel", true);
    }
    return;
  }
}

/* ---- the thread -------------------------------------------------------- */

/* Reads what one socket holds (up to BURST datagrams). */
static void
drain(UdpServer *s, int fd, bool osc)
{
  for (int i = 0; i < BURST && !atomic_load_explicit(&s->stop, memory_order_relaxed); ++i) {
    struct sockaddr_in from;
    struct iovec iov = {s->buf, RECV_BUFFER};
    char control[CMSG_SPACE(sizeof(uint32_t))];
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      return; /* EAGAIN: nothing more now; other errors: try again later */
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        uint32_t drops;
        memcpy(&drops, CMSG_DATA(c), sizeof(drops));
        const uint32_t before = s->last_kernel_drops[osc];
        if (drops != before) {
          atomic_fetch_add_explicit(&s->kernel_dropped, (uint32_t)(drops - before),
                                    memory_order_relaxed);
          s->last_kernel_drops[osc] = drops;
        }
      }
    }
    char addr[16] = "?";
    inet_ntop(AF_INET, &from.sin_addr, addr, sizeof(addr));
    snprintf(s->peer, sizeof(s->peer), "%s:%u", addr, ntohs(from.sin_port));
    size_t len = (size_t)n;
    if (osc) {
      inc(&s->osc_packets);
      if (len > RECV_BUFFER || (msg.msg_flags & MSG_TRUNC)) {
        inc(&s->osc_malformed);
        report(s, R_OSC, "csjack: error: OSC packet from %s too long (%zu bytes)", s->peer, len);
        continue;
      }
      osc_decode(s->buf, len, on_osc, s);
    } else {
      if (len > RECV_BUFFER || (msg.msg_flags & MSG_TRUNC)) {
        len = UDP_MAX_DATAGRAM + 1; /* the parser refuses it as too long */
        s->buf[0] = ' ';
      }
      handle_udp(s, s->buf, len);
    }
  }
}

static void *
server_main(void *arg)
{
  UdpServer *s = arg;
  if (s->c_locale) {
    uselocale(s->c_locale);
  }

  struct pollfd fds[2];
  int nfds = 0;
  int kinds[2];
  if (s->udp_fd >= 0) {
    fds[nfds] = (struct pollfd){.fd = s->udp_fd, .events = POLLIN};
    kinds[nfds++] = 0;
  }
  if (s->osc_fd >= 0) {
    fds[nfds] = (struct pollfd){.fd = s->osc_fd, .events = POLLIN};
    kinds[nfds++] = 1;
  }
  int wait_ms = POLL_MS;
  while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
    const int r = poll(fds, (nfds_t)nfds, wait_ms);
    if (r > 0) {
      for (int i = 0; i < nfds; ++i) {
        if (fds[i].revents) {
          drain(s, fds[i].fd, kinds[i] == 1);
        }
      }
    }
    wait_ms = release_held(s);
    flush_all_hidden(s);
  }
  if (s->n_held) {
    report(s, R_OSC, "csjack: OSC: %d timed message%s not yet due dropped at the end", s->n_held,
           s->n_held == 1 ? "" : "s");
  }
  for (int i = 0; i < s->n_held; ++i) {
    free(s->held[i].text);
  }
  s->n_held = 0;
  return NULL;
}

bool
udp_server_start(UdpServer *s, CsjEngine *e)
{
  if (!s || s->started) {
    return false;
  }
  s->e = e;
  s->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  atomic_store(&s->stop, false);
  if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
    return false;
  }
  s->started = true;
  return true;
}

void
udp_server_stop(UdpServer *s)
{
  if (!s) {
    return;
  }
  if (s->started) {
    atomic_store_explicit(&s->stop, true, memory_order_release);
    pthread_join(s->thread, NULL);
    s->started = false;
    flush_all_hidden(s);
  }
  if (s->udp_fd >= 0) {
    close(s->udp_fd);
    s->udp_fd = -1;
  }
  if (s->osc_fd >= 0) {
    close(s->osc_fd);
    s->osc_fd = -1;
  }
}

void
udp_server_free(UdpServer *s)
{
  if (!s) {
    return;
  }
  udp_server_stop(s);
  udp_parser_free(&s->parser);
  if (s->c_locale) {
    freelocale(s->c_locale);
  }
  pthread_mutex_destroy(&s->report_lock);
  free(s->held);
  free(s->names);
  free(s->reply);
  free(s->buf);
  free(s);
}

void
udp_server_stats(const UdpServer *s, UdpServerStats *o)
{
  memset(o, 0, sizeof(*o));
  if (!s) {
    return;
  }
  o->datagrams = get(&s->datagrams);
  o->malformed = get(&s->malformed);
  o->dropped = get(&s->dropped);
  o->kernel_dropped = get(&s->kernel_dropped);
  o->compiles = get(&s->compiles);
  o->compiled = get(&s->compiled);
  o->compile_errors = get(&s->compile_errors);
  o->blocks_dropped = get(&s->blocks_dropped);
  o->replies = get(&s->replies);
  o->osc_packets = get(&s->osc_packets);
  o->osc_messages = get(&s->osc_messages);
  o->osc_malformed = get(&s->osc_malformed);
  o->osc_dropped = get(&s->osc_dropped);
  o->osc_timed = get(&s->osc_timed);
  o->osc_held = get(&s->osc_held);
  o->paced = get(&s->paced);
}

void
udp_server_print_stats(const UdpServer *s, FILE *out)
{
  UdpServerStats st;
  udp_server_stats(s, &st);
  fprintf(out,
          " udp_datagrams=%llu udp_malformed=%llu udp_dropped=%llu udp_kernel_dropped=%llu "
          "udp_compiles=%llu udp_compiled=%llu udp_compile_errors=%llu udp_blocks_dropped=%llu "
          "udp_replies=%llu "
          "osc_packets=%llu osc_messages=%llu osc_malformed=%llu osc_dropped=%llu "
          "osc_timed=%llu osc_held=%llu net_paced=%llu",
          (unsigned long long)st.datagrams, (unsigned long long)st.malformed,
          (unsigned long long)st.dropped, (unsigned long long)st.kernel_dropped,
          (unsigned long long)st.compiles, (unsigned long long)st.compiled,
          (unsigned long long)st.compile_errors,
          (unsigned long long)st.blocks_dropped, (unsigned long long)st.replies,
          (unsigned long long)st.osc_packets, (unsigned long long)st.osc_messages,
          (unsigned long long)st.osc_malformed, (unsigned long long)st.osc_dropped,
          (unsigned long long)st.osc_timed, (unsigned long long)st.osc_held,
          (unsigned long long)st.paced);
}
