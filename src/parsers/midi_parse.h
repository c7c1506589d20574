/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Splits a MIDI byte stream (what Csound's MIDI write callback emits) into
 * complete messages, one per JACK MIDI event: channel messages by their
 * length, with running status expanded (a message always carries its
 * status byte), system common messages, SysEx from F0 to F7 as one message,
 * and real-time bytes (F8..FF) as one-byte messages wherever they occur,
 * also inside a SysEx. Data bytes with no status to attach to are dropped.
 * A SysEx longer than MIDI_PARSE_MAX_MESSAGE is dropped whole.
 *
 * Pure and real-time safe: fixed storage, no allocation, no I/O.
 */

#ifndef CSJ_MIDI_PARSE_H
#define CSJ_MIDI_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define MIDI_PARSE_MAX_MESSAGE 512u

typedef struct {
  uint8_t running; /* the running status (a channel status), or 0 */
  uint8_t message[MIDI_PARSE_MAX_MESSAGE];
  size_t length;   /* bytes of the message under way */
  size_t expected; /* its complete length; 0 for a SysEx (until F7) */
  int overflow;    /* a SysEx too long: dropped up to its F7 */
} MidiParser;

/** Called once per complete message; @p data is valid during the call. */
typedef void (*MidiMessageFn)(void *context, const uint8_t *data, size_t size);

void midi_parser_init(MidiParser *p);

/** Feeds @p size bytes; calls @p fn for each message they complete. */
void midi_parser_feed(MidiParser *p, const uint8_t *bytes, size_t size, MidiMessageFn fn,
                      void *context);

/** The length of a message starting with @p status (0 for SysEx, which
 *  ends at F7; 1 for real-time and the one-byte system messages). */
size_t midi_message_length(uint8_t status);

#endif
