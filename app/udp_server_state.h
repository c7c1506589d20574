/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The UDP and OSC servers' state, which all their files share; below every
 * one of them (it includes none). The files, from the top down:
 *
 *   udp_server.c          the sockets, the thread, the counters' table
 *   udp_actions.c         a datagram of Csound's protocol, acted on
 *   osc_actions.c         an OSC packet acted on; timed messages held
 *   udp_server_feed.c     what both protocols do to the engine: paced
 *                         queueing, compiles and their results, channels
 *   udp_server_reports.c  one-line reports, at most 10 a second per kind
 *
 * Everything runs on the servers' thread, but the counters (read on any
 * thread) and the reports (csjack's worker too, for compile results).
 */

#ifndef CSJ_UDP_SERVER_STATE_H
#define CSJ_UDP_SERVER_STATE_H

#include "osc_protocol.h"
#include "udp_protocol.h"
#include "udp_server.h"

#include <locale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long the thread waits in poll: the bound on a stop's delay. */
#define POLL_MS 50
/* OSC messages other than events held for a future timetag, at most. */
#define MAX_HELD 1024
/* Distinct channel names the servers may create (each is a direct call). */
#define MAX_CHANNELS 1024
/* The longest string channel value read back. */
#define MAX_STRING_REPLY 60000

/* The kinds of report, each limited on its own. */
enum { R_MALFORMED, R_DROPPED, R_COMPILE, R_ECHO, R_OSC, R_OTHER, R_KINDS };

typedef struct {
  uint64_t window_ms;
  unsigned shown;
  uint64_t hidden;
} Limiter;

/* A timed OSC message that is not an event, held until its wall-clock time. */
typedef struct {
  double due; /* Unix time, seconds */
  OscKind kind;
  char name[256];
  char *text;
  double value;
  char peer[32];
} HeldMessage;

struct UdpServerImpl {
  UdpServerOptions opts;
  char listen[16];
  int udp_fd;
  int osc_fd;
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
  /* Written with atomic builtins (the servers' thread, csjack's worker),
   * read by any thread: a plain UdpServerStats, so that the counters' one
   * table (udp_server.c) finds each by its offset. */
  UdpServerStats counts;
  /* the datagram being handled: its sender, for reports */
  char peer[32];
  /* OSC messages other than events, held until their bundle's time
   * (unsorted, at most MAX_HELD) */
  HeldMessage *held;
  int n_held;
  /* the token bucket of the command rate (udp_server_feed.c) */
  double tokens;
  uint64_t tokens_ns;
};

static inline void
udp_server_count(uint64_t *counter)
{
  __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

#endif
