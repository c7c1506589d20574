/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Csound's UDP protocol acted on (udp_actions.c). */

#ifndef CSJ_UDP_ACTIONS_H
#define CSJ_UDP_ACTIONS_H

#include "udp_server_state.h"

#include <stddef.h>

/* Acts on one datagram of Csound's protocol (@p len bytes) from s->peer. */
void udp_server_handle_datagram(UdpServer *s, const char *data, size_t len);

#endif
