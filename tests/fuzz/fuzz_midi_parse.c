/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the MIDI stream splitter (src/parsers/midi_parse.c). The input
 * is fed in pieces (its first byte picks the piece size, as Csound's
 * k-blocks cut the stream), and every message that comes out must be one
 * well-formed MIDI message: a status byte first; a channel or system
 * common message of exactly its length with data bytes only after the
 * status; a real-time or one-byte message alone; a SysEx from F0 to F7
 * with only data bytes between, no longer than MIDI_PARSE_MAX_MESSAGE.
 * Every real-time byte of the input comes out as a message of its own.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "midi_parse.h"

static size_t realtime_out;

static void
check(void *context, const uint8_t *d, size_t n)
{
  (void)context;
  if (n == 0 || n > MIDI_PARSE_MAX_MESSAGE || d[0] < 0x80) {
    abort();
  }
  if (d[0] >= 0xF8) {
    if (n != 1) {
      abort();
    }
    ++realtime_out;
    return;
  }
  if (d[0] == 0xF0) {
    if (n < 2 || d[n - 1] != 0xF7) {
      abort();
    }
    for (size_t i = 1; i + 1 < n; ++i) {
      if (d[i] & 0x80) {
        abort();
      }
    }
    return;
  }
  if (d[0] == 0xF7 || n != midi_message_length(d[0])) {
    abort();
  }
  for (size_t i = 1; i < n; ++i) {
    if (d[i] & 0x80) {
      abort();
    }
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0) {
    return 0;
  }
  const size_t piece = 1 + data[0] % 64;
  ++data;
  --size;
  size_t realtime_in = 0;
  for (size_t i = 0; i < size; ++i) {
    realtime_in += data[i] >= 0xF8;
  }
  MidiParser p;
  midi_parser_init(&p);
  realtime_out = 0;
  for (size_t at = 0; at < size; at += piece) {
    midi_parser_feed(&p, data + at, size - at < piece ? size - at : piece, check, NULL);
  }
  if (realtime_out != realtime_in) {
    abort();
  }
  return 0;
}
