/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The UDP and OSC servers' one-line reports (errors, malformed datagrams,
 * --udp-echo), at most REPORTS_PER_SECOND a second of each kind, so that a
 * flood of bad datagrams cannot flood the terminal; what is left out is
 * counted and said once a second. Called on the servers' thread and on
 * csjack's worker (compile results): under report_lock.
 */

#include "udp_server_reports.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define REPORTS_PER_SECOND 10

static const char *const k_report_what[R_KINDS] = {
  "malformed-datagram reports",
  "dropped-datagram reports",
  "compile-error reports",
  "echoed datagrams",
  "OSC reports",
  "other reports",
};

static uint64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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

void
udp_server_report(UdpServer *s, int kind, const char *fmt, ...)
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

void
udp_server_flush_reports(UdpServer *s)
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
