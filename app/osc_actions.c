/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * OSC (--osc-port), acted on: each message osc_protocol.c decodes becomes
 * a compile, score text, an instrument event, or a channel set. An event
 * in a bundle with a timetag is stamped with the JACK frame of that time
 * (the engine holds it until then); any other timed message is held here
 * until its time comes on the wall clock. On the servers' thread.
 */

#include "osc_actions.h"
#include "udp_server_feed.h"
#include "udp_server_reports.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
wall_now(void)
{
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  return (double)wall.tv_sec + (double)wall.tv_nsec * 1e-9;
}

/* ---- acting on one message --------------------------------------------- */

/* An /csound/event/instr, at once or at its timetag's JACK frame. */
static void
send_instr_event(UdpServer *s, const OscAction *a)
{
  if (!udp_server_wait_for_room(s)) {
    udp_server_dropped(s, "/csound/event/instr", true);
    return;
  }
  CsjStatus st;
  if (a->timetag == OSC_TIMETAG_IMMEDIATE) {
    st = csj_engine_score_event(s->e, 'i', a->pfields, a->count, false);
  } else {
    double ahead = osc_timetag_to_unix(a->timetag) - wall_now();
    /* A past timetag is late (run at once, counted by the engine); keep it
     * within a second back so the frame does not wrap forwards, and a
     * far-future one within 2^30 frames (6.2 h at 48 kHz): the frame clock
     * wraps at 2^32, and a frame over 2^31 ahead would count as past and
     * play at once. */
    if (ahead < -1.0) {
      ahead = -1.0;
    }
    CsjStats stats;
    csj_engine_stats(s->e, &stats);
    const double horizon = stats.sample_rate ? 1073741824.0 / stats.sample_rate : 0.0;
    if (ahead > horizon) {
      udp_server_count(&s->counts.osc_malformed);
      udp_server_report(s, R_OSC,
                        "csjack: error: OSC from %s: a timetag %.0f s ahead is refused: csjack "
                        "holds events up to %.0f s ahead",
                        s->peer, ahead, horizon);
      return;
    }
    const uint32_t frame = csj_engine_frame_time_in(s->e, (int64_t)llround(ahead * 1e6));
    st = csj_engine_score_event_at(s->e, 'i', a->pfields, a->count, frame);
    if (st == CSJ_SUCCESS) {
      udp_server_count(&s->counts.osc_timed);
    }
  }
  if (st != CSJ_SUCCESS) {
    udp_server_dropped(s, "/csound/event/instr", true);
  }
}

static void
act(UdpServer *s, const OscAction *a)
{
  CsjStatus st = CSJ_SUCCESS;
  switch (a->kind) {
  case OSC_MALFORMED:
    udp_server_count(&s->counts.osc_malformed);
    udp_server_report(s, R_OSC, "csjack: error: malformed OSC from %s: %s", s->peer, a->message);
    return;
  case OSC_COMPILE:
    if (!udp_server_wait_for_room(s) || !udp_server_queue_compile(s, a->text, true)) {
      udp_server_dropped(s, "/csound/compile", true);
    }
    return;
  case OSC_EVENT_TEXT: udp_server_send_score_text(s, a->text, "/csound/event", true); return;
  case OSC_EVENT_INSTR: send_instr_event(s, a); return;
  case OSC_SET_CONTROL:
    if (!udp_server_channel_allowed(s, a->name)) {
      udp_server_report(s, R_OSC,
                        "csjack: error: OSC from %s: channel '%s' not set: over %d channels",
                        s->peer, a->name, MAX_CHANNELS);
    } else if ((st = csj_engine_set_control(s->e, a->name, a->value)) != CSJ_SUCCESS) {
      udp_server_report(s, R_OSC, "csjack: error: OSC from %s: channel '%s' not set: %s", s->peer,
                        a->name, csj_strerror(st));
    }
    return;
  case OSC_SET_STRING:
    if (!udp_server_wait_for_room(s) ||
        csj_engine_set_string_channel(s->e, a->name, a->text) != CSJ_SUCCESS) {
      udp_server_dropped(s, "a string channel", true);
    }
    return;
  }
}

/* ---- the hold queue ------------------------------------------------------ */

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
    udp_server_report(s, R_OSC, "csjack: OSC from %s: %s, so this timed message acts now", s->peer,
                      ahead > 86400.0 ? "its timetag is over a day ahead"
                                      : "1024 timed messages are already waiting");
    return false;
  }
  HeldMessage *h = &s->held[s->n_held];
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
  udp_server_count(&s->counts.osc_held);
  return true;
}

static void
on_message(void *data, const OscAction *a)
{
  UdpServer *s = data;
  udp_server_count(&s->counts.osc_messages);
  if (a->kind != OSC_MALFORMED && a->kind != OSC_EVENT_INSTR && hold(s, a)) {
    return;
  }
  act(s, a);
}

void
udp_server_handle_osc(UdpServer *s, const char *packet, size_t len)
{
  osc_decode(packet, len, on_message, s);
}

int
udp_server_release_held(UdpServer *s)
{
  int wait_ms = POLL_MS;
  const double now = wall_now();
  for (int i = 0; i < s->n_held;) {
    HeldMessage *h = &s->held[i];
    if (h->due <= now + 0.0005) {
      OscAction a;
      memset(&a, 0, sizeof(a));
      a.kind = h->kind;
      a.timetag = OSC_TIMETAG_IMMEDIATE;
      a.name = h->name;
      a.text = h->text;
      a.value = h->value;
      /* Its reports name its own sender. */
      char peer[32];
      memcpy(peer, s->peer, sizeof(peer));
      memcpy(s->peer, h->peer, sizeof(peer));
      act(s, &a);
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

void
udp_server_drop_held(UdpServer *s)
{
  if (s->n_held) {
    udp_server_report(s, R_OSC, "csjack: OSC: %d timed message%s not yet due dropped at the end",
                      s->n_held, s->n_held == 1 ? "" : "s");
  }
  for (int i = 0; i < s->n_held; ++i) {
    free(s->held[i].text);
  }
  s->n_held = 0;
}
