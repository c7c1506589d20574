/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's UDP live-coding dialect (Csound 6.18, Top/server.c), parsed:
 * one datagram in, one action out. Pure: no socket, no engine, no clock,
 * no global state but the C locale; fuzzed by tests/fuzz/fuzz_udp.c. The
 * server thread (udp_server.c) does what the action says.
 *
 * Per datagram (its trailing NUL bytes dropped first; the full rules, and
 * where csjack differs from Csound, in docs/live-coding.md):
 *
 *   !!close!!... or ##close##...   UDP_CLOSE: end the performance
 *   $TEXT                          UDP_SCORE: score text
 *   &TEXT                          UDP_SCORE: score events
 *   @NAME VALUE                    UDP_SET_CONTROL
 *   %NAME TEXT                     UDP_SET_STRING
 *   :@NAME HOST PORT               UDP_GET_CONTROL: reply "NAME::VALUE"
 *   :%NAME HOST PORT               UDP_GET_STRING: reply "NAME::TEXT"
 *   {...      a block: datagrams are collected (these commands still
 *             act between them) until the closing one: Csound's rule, the
 *             last '}' of a datagram that is not preceded by another '}';
 *             for a block opened with {{, a datagram ending in }}
 *   anything else                  UDP_COMPILE: orchestra code
 *
 * A datagram with a NUL byte inside, bytes that are not UTF-8, control
 * characters other than tab, newline, CR, FF and VT, or a command whose
 * arguments do not parse is UDP_MALFORMED, and changes nothing (an open
 * block stays open). A block larger than the parser's limit is dropped
 * (UDP_BLOCK_DROPPED) and what follows, up to its closing datagram, is
 * skipped.
 */

#ifndef CSJ_UDP_PROTOCOL_H
#define CSJ_UDP_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The largest UDP payload over IPv4 (65535 - 8 - 20). */
#define UDP_MAX_DATAGRAM 65507
/** The default limit of a { } block, in bytes. */
#define UDP_MAX_BLOCK (1024u * 1024u)
/** The longest channel name, in bytes. */
#define UDP_MAX_NAME 255

typedef enum {
  UDP_NOTHING = 0,   /**< A blank datagram, or one kept in an open block. */
  UDP_COMPILE,       /**< text: orchestra code. */
  UDP_SCORE,         /**< text: score text; prefix is '$' or '&'. */
  UDP_SET_CONTROL,   /**< name, value (finite). */
  UDP_SET_STRING,    /**< name, text. */
  UDP_GET_CONTROL,   /**< name, host (dotted IPv4), port. */
  UDP_GET_STRING,    /**< name, host, port. */
  UDP_CLOSE,         /**< end the performance. */
  UDP_MALFORMED,     /**< message says why; nothing happens. */
  UDP_BLOCK_DROPPED, /**< message says why; the block is gone. */
} UdpKind;

/** One action. Release with udp_action_free(). */
typedef struct {
  UdpKind kind;
  char prefix; /**< UDP_SCORE: '$' or '&'. */
  char *text;  /**< malloc'd, NUL-terminated, or NULL. */
  size_t text_len;
  char name[UDP_MAX_NAME + 1];
  double value;
  char host[16];
  uint16_t port;
  /** UDP_MALFORMED, UDP_BLOCK_DROPPED: why. Other kinds: a notice, or "". */
  char message[200];
} UdpAction;

/** The state between datagrams: an open block. */
typedef struct {
  char *buf;
  size_t len;
  size_t cap;
  size_t max_block;
  size_t skipped; /**< bytes of a dropped block seen so far */
  bool open;
  bool doubled;  /**< opened with {{ */
  bool dropping; /**< over the limit: skipping to the closing datagram */
} UdpParser;

/** Starts with no block open; @p max_block 0 means UDP_MAX_BLOCK. */
void udp_parser_init(UdpParser *p, size_t max_block);

/** Frees an open block's text. The parser can be used again after init. */
void udp_parser_free(UdpParser *p);

/** Whether a block is open (collecting or skipping). */
bool udp_parser_block_open(const UdpParser *p);

/**
 * Parses one datagram of @p len bytes (any bytes; need not be
 * NUL-terminated). Never fails: an allocation failure is UDP_MALFORMED
 * ("out of memory"). Not thread-safe for one parser; parsers are
 * independent. Not real-time safe (allocates).
 */
UdpAction udp_parse_datagram(UdpParser *p, const char *data, size_t len);

/** Frees what the action owns. Idempotent. */
void udp_action_free(UdpAction *a);

#endif
