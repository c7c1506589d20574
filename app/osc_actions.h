/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OSC acted on, and timed messages held (osc_actions.c). */

#ifndef CSJ_OSC_ACTIONS_H
#define CSJ_OSC_ACTIONS_H

#include "udp_server_state.h"

#include <stddef.h>

/* Acts on one OSC packet from s->peer; timed messages other than events
 * are held. */
void udp_server_handle_osc(UdpServer *s, const char *packet, size_t len);

/* Acts on held messages whose time has come; returns the milliseconds
 * until the next one (POLL_MS when none). */
int udp_server_release_held(UdpServer *s);

/* Drops the held messages not yet due, saying how many. */
void udp_server_drop_held(UdpServer *s);

#endif
