/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the UDP and OSC servers both do to the engine (udp_server_feed.c). */

#ifndef CSJ_UDP_SERVER_FEED_H
#define CSJ_UDP_SERVER_FEED_H

#include "udp_server_state.h"

#include <stdbool.h>

/* Waits until one more command may be queued; false only when the server
 * is stopping or the performance has ended. */
bool udp_server_wait_for_room(UdpServer *s);

/* Whether a channel may be used: known already, or room for a new one. */
bool udp_server_channel_allowed(UdpServer *s, const char *name);

/* Queues a compile whose result is reported; false when it was not queued
 * (the caller counts it as dropped). */
bool udp_server_queue_compile(UdpServer *s, const char *code, bool osc);

/* Score text from UDP's $ or OSC's /csound/event: queued, refused with
 * csjack's reason, or dropped. */
void udp_server_send_score_text(UdpServer *s, const char *text, const char *what, bool osc);

/* Counts and reports @p what as dropped. */
void udp_server_dropped(UdpServer *s, const char *what, bool osc);

#endif
