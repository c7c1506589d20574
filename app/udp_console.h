/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * --udp-console=HOST:PORT: Csound's messages and csjack's own (notices,
 * errors, the UDP server's reports) mirrored to HOST:PORT, one datagram per
 * message, ending in a NUL byte as Csound's own --udp-console sends them
 * (emacs' csound-mode reads errors from this stream). The csjack command
 * calls udp_console_send from its message sink, which csjack never calls
 * on the JACK thread (message_log.c hands the JACK thread's messages to
 * its printer thread first). Sends never block (a non-blocking socket); a
 * datagram the kernel will not take is lost.
 */

#ifndef CSJ_UDP_CONSOLE_H
#define CSJ_UDP_CONSOLE_H

#include <stddef.h>

typedef struct UdpConsoleImpl UdpConsole;

/**
 * Parses "HOST:PORT" (HOST an IPv4 address or localhost) and opens an
 * unbound UDP socket. NULL, with one line in @p err, when it does not
 * parse or the socket cannot be made.
 */
UdpConsole *udp_console_open(const char *host_port, char *err, size_t err_size);

/** Sends @p text (cut at 65506 bytes) and a NUL. Any thread but JACK's. */
void udp_console_send(UdpConsole *c, const char *text);

/** Closes and frees. NULL is a no-op. */
void udp_console_close(UdpConsole *c);

#endif
