/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack's OSC address space, decoded: one packet in (a message, or a
 * bundle, nested up to 8 deep), one call of the action function per
 * message, in order. Messages are decoded with liblo
 * (lo_message_deserialise); bundles are walked here, so each message comes
 * with its bundle's timetag untouched (liblo's server would hold future
 * bundles back and dispatch them on the wall clock, and its 0.31 servers
 * cannot be bound to one address). Pure: no socket, no engine, no clock;
 * fuzzed with the UDP parser (tests/fuzz/fuzz_udp.c).
 *
 *   /csound/compile s            orchestra code
 *   /csound/event s              score text
 *   /csound/event/instr N...     an i-event: p1 p2 p3 ... (int, float,
 *                                double or int64 arguments)
 *   /csound/channel/NAME f|i|d|h a control channel
 *   /csound/channel/NAME s       a string channel
 *
 * Anything else (another address, wrong arguments, a broken packet) is an
 * OSC_MALFORMED action that says why.
 */

#ifndef CSJ_OSC_PROTOCOL_H
#define CSJ_OSC_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/** OSC's "immediately" timetag (also given to messages outside bundles). */
#define OSC_TIMETAG_IMMEDIATE 1ull
/** The most p-fields /csound/event/instr takes (CSJ_MAX_PFIELDS). */
#define OSC_MAX_PFIELDS 1024
/** Bundles nested deeper than this are malformed. */
#define OSC_MAX_DEPTH 8

typedef enum {
  OSC_COMPILE = 0, /**< text */
  OSC_EVENT_TEXT,  /**< text: a score line */
  OSC_EVENT_INSTR, /**< pfields, count (at least 1) */
  OSC_SET_CONTROL, /**< name, value (finite) */
  OSC_SET_STRING,  /**< name, text */
  OSC_MALFORMED,   /**< message */
} OscKind;

/** One message's meaning; valid during the call of the action function. */
typedef struct {
  OscKind kind;
  /** The enclosing bundle's timetag, NTP format (seconds since 1900 in
   *  the high 32 bits, the fraction in the low); OSC_TIMETAG_IMMEDIATE
   *  outside bundles. */
  uint64_t timetag;
  const char *text;
  const char *name;
  double value;
  const double *pfields;
  int count;
  char message[200];
} OscAction;

typedef void (*OscActionFn)(void *data, const OscAction *action);

/** Decodes one packet of @p len bytes (any bytes). Not real-time safe. */
void osc_decode(const void *packet, size_t len, OscActionFn fn, void *data);

/** Seconds from the Unix epoch for an NTP timetag (not for IMMEDIATE). */
double osc_timetag_to_unix(uint64_t timetag);

#endif
