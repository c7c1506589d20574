/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack command's network servers, on one thread of their own (never
 * the JACK thread):
 *
 *   - Csound's UDP live-coding protocol (--port), as Csound 6.18's
 *     Top/server.c speaks it, parsed by udp_protocol.c: what the VS Code
 *     extension, the vim plugins and emacs' csound-mode send;
 *   - OSC (--osc-port), decoded by osc_protocol.c: /csound/compile,
 *     /csound/event, /csound/event/instr, /csound/channel/NAME, and bundles
 *     whose timetags place events at their JACK frame.
 *
 * Both listen on 127.0.0.1 unless another address is given. The thread
 * polls its sockets with a short timeout (so a stop is prompt) and feeds
 * the engine through the public API. What it was sent is paced, never
 * dropped for want of room: it queues at most 4000 commands a second (a
 * burst of 512), since Csound's own work for a queued event happens in the
 * k-cycles, outside the JACK thread's command budget, and only while the
 * command ring is less than three quarters full, so that the console
 * always has room; past either, it waits (counted as paced), and
 * datagrams wait in the socket's buffer meanwhile, where what the kernel
 * drops is counted. Compiles go through the staged queued path; their
 * result (Csound's error text) is reported.
 *
 * Reports (one line each: errors, malformed datagrams, --udp-echo) go to
 * the report function, at most 10 a second of each kind; what is left out
 * is counted and said once a second.
 */

#ifndef CSJ_UDP_SERVER_H
#define CSJ_UDP_SERVER_H

#include "csjack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Prints one line (no newline at its end): any thread, must be thread-safe. */
typedef void (*UdpReportFn)(void *data, const char *line);

typedef struct {
  const char *listen; /**< dotted IPv4 address; NULL: 127.0.0.1 */
  int udp_port;       /**< Csound's protocol; 0: none */
  int osc_port;       /**< OSC; 0: none */
  bool echo;          /**< --udp-echo: report every datagram */
  UdpReportFn report;
  void *report_data;
} UdpServerOptions;

/** Counters, any thread; :stats prints each as its field's name. */
typedef struct {
  uint64_t udp_datagrams;      /**< UDP datagrams received (Csound's protocol) */
  uint64_t udp_malformed;      /**< ... that were malformed */
  uint64_t udp_dropped;        /**< ... dropped: not queued (the performance
                                    ended, or the engine refused it) */
  uint64_t udp_kernel_dropped; /**< datagrams the kernel dropped (socket buffer full) */
  uint64_t udp_compiles;       /**< compiles queued (UDP and OSC) */
  uint64_t udp_compiled;       /**< ... that Csound compiled and merged */
  uint64_t udp_compile_errors; /**< ... that Csound refused */
  uint64_t udp_blocks_dropped; /**< { } blocks over the size limit */
  uint64_t udp_replies;        /**< channel values sent back */
  uint64_t osc_packets;        /**< OSC packets received */
  uint64_t osc_messages;       /**< OSC messages in them (bundles unpacked) */
  uint64_t osc_malformed;      /**< malformed OSC packets or messages */
  uint64_t osc_dropped;        /**< OSC messages dropped: not queued, as udp_dropped */
  uint64_t osc_timed;          /**< events placed at a bundle's timetag */
  uint64_t osc_held;           /**< other messages held until their bundle's time */
  uint64_t net_paced;          /**< commands (UDP and OSC) that waited for room: over
                                    4000 a second, or the ring three quarters full */
} UdpServerStats;

typedef struct UdpServerImpl UdpServer;

/**
 * Opens and binds the sockets (nothing runs yet), so that a port in use is
 * found before JACK is touched. Returns NULL, with one line in @p err, when
 * a socket cannot be bound (in use, or not allowed) or the address is not
 * an IPv4 address. Warns through the report function when listening on an
 * address other than loopback.
 */
UdpServer *udp_server_open(const UdpServerOptions *opts, char *err, size_t err_size);

/** Starts the thread feeding @p e (performing). False if it cannot start. */
bool udp_server_start(UdpServer *s, CsjEngine *e);

/** Stops the thread (within about 50 ms) and closes the sockets. */
void udp_server_stop(UdpServer *s);

/** Frees the server: after csj_engine_destroy (compile results arrive on
 *  csjack's worker until then). NULL is a no-op. */
void udp_server_free(UdpServer *s);

void udp_server_stats(const UdpServer *s, UdpServerStats *out);

/** Writes the counters as " key=value" pairs (for the console's :stats),
 *  from the counters' one table. */
void udp_server_print_stats(const UdpServer *s, FILE *out);

#endif
