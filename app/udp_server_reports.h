/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The UDP and OSC servers' reports, limited (udp_server_reports.c). */

#ifndef CSJ_UDP_SERVER_REPORTS_H
#define CSJ_UDP_SERVER_REPORTS_H

#include "udp_server_state.h"

/* Reports one line of kind @p kind, unless 10 of that kind were shown in
 * the last second (then it is counted, and said with the others later). */
void udp_server_report(UdpServer *s, int kind, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Says, for each kind, what was left out of the last second's reports. */
void udp_server_flush_reports(UdpServer *s);

#endif
