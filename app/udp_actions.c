/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's UDP live-coding protocol (--port), acted on: one datagram,
 * parsed by udp_protocol.c, becomes a compile, score text, a channel set
 * or read (the value sent back as Csound's server sends it), or the end of
 * the performance. On the servers' thread.
 */

#include "udp_actions.h"
#include "udp_server_feed.h"
#include "udp_server_reports.h"

#include "console_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* @p text escaped into @p out, at most @p max input bytes of it. */
static const char *
escaped(char *out, size_t size, const char *text, size_t len, size_t max)
{
  out[0] = '\0';
  console_escape_into(out, size, 0, text, len, max);
  return out;
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
  if (sendto(fd, text, strlen(text) + 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&to,
             sizeof(to)) >= 0) {
    udp_server_count(&s->counts.udp_replies);
  } else {
    udp_server_report(s, R_OTHER, "csjack: UDP: cannot send the reply to %s:%u: %s", host, port,
                      strerror(errno));
  }
}

static void
set_control(UdpServer *s, const UdpAction *a)
{
  if (!udp_server_channel_allowed(s, a->name)) {
    udp_server_report(s, R_OTHER,
                      "csjack: error: UDP from %s: channel '%s' not set: over %d channels", s->peer,
                      a->name, MAX_CHANNELS);
    return;
  }
  const CsjStatus st = csj_engine_set_control(s->e, a->name, a->value);
  if (st != CSJ_SUCCESS) {
    udp_server_report(s, R_OTHER, "csjack: error: UDP from %s: channel '%s' not set: %s", s->peer,
                      a->name, csj_strerror(st));
  }
}

/* A channel's value, sent back as "NAME::VALUE". */
static void
reply_channel(UdpServer *s, const UdpAction *a)
{
  if (!udp_server_channel_allowed(s, a->name)) {
    udp_server_report(s, R_OTHER,
                      "csjack: error: UDP from %s: channel '%s' not read: over %d channels",
                      s->peer, a->name, MAX_CHANNELS);
    return;
  }
  CsjStatus st;
  const size_t head = (size_t)snprintf(s->reply, UDP_MAX_NAME + 3, "%s::", a->name);
  if (a->kind == UDP_GET_CONTROL) {
    double v = 0;
    st = csj_engine_get_control(s->e, a->name, &v);
    if (st == CSJ_SUCCESS) {
      snprintf(s->reply + head, 64, "%f", v); /* Csound's format; the C locale */
    }
  } else {
    st = csj_engine_get_string_channel(s->e, a->name, s->reply + head, MAX_STRING_REPLY);
  }
  if (st == CSJ_SUCCESS) {
    send_reply(s, a->host, a->port, s->reply);
  } else {
    udp_server_report(s, R_OTHER, "csjack: error: UDP from %s: could not read channel '%s': %s",
                      s->peer, a->name, csj_strerror(st));
  }
}

void
udp_server_handle_datagram(UdpServer *s, const char *data, size_t len)
{
  udp_server_count(&s->counts.udp_datagrams);
  char esc[300];
  if (s->opts.echo) {
    udp_server_report(s, R_ECHO, "csjack: UDP from %s: %s", s->peer,
                      escaped(esc, sizeof(esc), data, len, 200));
  }
  UdpAction a = udp_parse_datagram(&s->parser, data, len);
  if (a.message[0] && a.kind != UDP_MALFORMED && a.kind != UDP_BLOCK_DROPPED) {
    udp_server_report(s, R_OTHER, "csjack: UDP from %s: %s", s->peer, a.message);
  }
  switch (a.kind) {
  case UDP_NOTHING: break;
  case UDP_MALFORMED:
    udp_server_count(&s->counts.udp_malformed);
    udp_server_report(s, R_MALFORMED,
                      "csjack: error: malformed UDP datagram from %s (%zu bytes): %s", s->peer, len,
                      a.message);
    break;
  case UDP_BLOCK_DROPPED:
    udp_server_count(&s->counts.udp_blocks_dropped);
    udp_server_report(s, R_MALFORMED, "csjack: error: UDP from %s: %s", s->peer, a.message);
    break;
  case UDP_COMPILE:
    if (!udp_server_wait_for_room(s) || !udp_server_queue_compile(s, a.text, false)) {
      udp_server_dropped(s, "code", false);
    }
    break;
  case UDP_SCORE: udp_server_send_score_text(s, a.text, "score text", false); break;
  case UDP_SET_CONTROL: set_control(s, &a); break;
  case UDP_SET_STRING:
    if (!udp_server_wait_for_room(s) ||
        csj_engine_set_string_channel(s->e, a.name, a.text) != CSJ_SUCCESS) {
      udp_server_dropped(s, "a string channel", false);
    }
    break;
  case UDP_GET_CONTROL:
  case UDP_GET_STRING: reply_channel(s, &a); break;
  case UDP_CLOSE:
    udp_server_report(s, R_OTHER, "csjack: UDP: %.9s from %s: ending the performance", data,
                      s->peer);
    /* In order: what came before it runs first. */
    if (csj_engine_task(s->e, stop_task, NULL) != CSJ_SUCCESS) {
      csj_engine_stop(s->e);
    }
    break;
  }
  udp_action_free(&a);
}
