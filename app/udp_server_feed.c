/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the UDP and OSC servers both do to the engine: queue commands at a
 * bounded rate and only while the ring has room for others (waiting, never
 * dropping, past either), queue compiles whose results are reported, send
 * score text, and keep the channels they create bounded.
 */

#include "udp_server_feed.h"
#include "udp_server_reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
 * Backpressure: what was sent is paced, never dropped for want of room.
 * Meanwhile datagrams wait in the socket's buffer, and what the kernel
 * drops there is counted.
 */
bool
udp_server_wait_for_room(UdpServer *s)
{
  bool waited = false;
  while (!ring_has_room(s)) {
    if (atomic_load_explicit(&s->stop, memory_order_relaxed) || !csj_engine_is_running(s->e)) {
      return false;
    }
    if (!waited) {
      udp_server_count(&s->counts.net_paced);
      waited = true;
    }
    const struct timespec tick = {0, 1000 * 1000};
    nanosleep(&tick, NULL);
  }
  return true;
}

bool
udp_server_channel_allowed(UdpServer *s, const char *name)
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

/* ---- compiles and their results ------------------------------------------ */

typedef struct {
  UdpServer *s;
  char peer[32];
  bool osc;
} CompileContext;

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

/* A compile's result, on csjack's worker thread. */
static void
on_compile(void *data, const CsjResult *r)
{
  CompileContext *c = data;
  UdpServer *s = c->s;
  if (r->status == CSJ_SUCCESS) {
    udp_server_count(&s->counts.udp_compiled);
    if (s->opts.echo) {
      udp_server_report(s, R_ECHO, "csjack: %s: code from %s compiled", c->osc ? "OSC" : "UDP",
                        c->peer);
    }
  } else if (r->status != CSJ_ERR_NOT_RUN) {
    udp_server_count(&s->counts.udp_compile_errors);
    char text[600];
    one_line(text, sizeof(text),
             r->message && r->message[0] ? r->message : csj_strerror(r->status));
    udp_server_report(s, R_COMPILE, "csjack: error: %s code from %s did not compile: %s",
                      c->osc ? "OSC" : "UDP", c->peer, text);
  }
  free(c);
}

bool
udp_server_queue_compile(UdpServer *s, const char *code, bool osc)
{
  CompileContext *c = malloc(sizeof(*c));
  if (!c) {
    return false;
  }
  c->s = s;
  c->osc = osc;
  snprintf(c->peer, sizeof(c->peer), "%s", s->peer);
  /* Counted first: the result can reach on_compile before this returns. */
  udp_server_count(&s->counts.udp_compiles);
  const CsjStatus st = csj_engine_compile_orc_async(s->e, code, on_compile, c);
  if (st != CSJ_SUCCESS) {
    __atomic_fetch_sub(&s->counts.udp_compiles, 1, __ATOMIC_RELAXED);
    free(c);
    return false;
  }
  return true;
}

/* ---- score text, and what is dropped ------------------------------------- */

void
udp_server_dropped(UdpServer *s, const char *what, bool osc)
{
  udp_server_count(osc ? &s->counts.osc_dropped : &s->counts.udp_dropped);
  udp_server_report(
    s, R_DROPPED, "csjack: %s: %s from %s dropped: %s", osc ? "OSC" : "UDP", what, s->peer,
    csj_engine_is_running(s->e) ? "csjack could not queue it" : "the performance has ended");
}

/* Refused with csjack's reason: an 'a' statement, say. */
void
udp_server_send_score_text(UdpServer *s, const char *text, const char *what, bool osc)
{
  const CsjStatus st =
    udp_server_wait_for_room(s) ? csj_engine_input_message(s->e, text) : CSJ_ERR_RING_FULL;
  if (st == CSJ_ERR_BAD_ARG) {
    udp_server_report(s, R_OTHER, "csjack: error: %s %s from %s refused: %s", osc ? "OSC" : "UDP",
                      what, s->peer, csj_last_error(s->e));
  } else if (st != CSJ_SUCCESS) {
    udp_server_dropped(s, what, osc);
  }
}
