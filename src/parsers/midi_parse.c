/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A MIDI byte stream into messages: see midi_parse.h. */

#include "midi_parse.h"

#include <string.h>

void
midi_parser_init(MidiParser *p)
{
  memset(p, 0, sizeof(*p));
}

size_t
midi_message_length(uint8_t status)
{
  if (status < 0xF0) {
    switch (status & 0xF0) {
    case 0xC0:
    case 0xD0: return 2;
    default: return 3;
    }
  }
  switch (status) {
  case 0xF0: return 0; /* SysEx: until F7 */
  case 0xF1:
  case 0xF3: return 2;
  case 0xF2: return 3;
  default: return 1; /* F4..F7 (lone), F8..FF real-time */
  }
}

static void
start(MidiParser *p, uint8_t status)
{
  p->message[0] = status;
  p->length = 1;
  p->expected = midi_message_length(status);
  p->overflow = 0;
}

void
midi_parser_feed(MidiParser *p, const uint8_t *bytes, size_t size, MidiMessageFn fn, void *context)
{
  for (size_t i = 0; i < size; ++i) {
    const uint8_t b = bytes[i];
    if (b >= 0xF8) {
      /* Real-time: a message of its own, even inside another. */
      fn(context, &b, 1);
      continue;
    }
    const int in_sysex = p->length > 0 && p->message[0] == 0xF0;
    if (b == 0xF7 && in_sysex) {
      if (!p->overflow && p->length < MIDI_PARSE_MAX_MESSAGE) {
        p->message[p->length++] = b;
        fn(context, p->message, p->length);
      }
      p->length = 0;
      continue;
    }
    if (b & 0x80) {
      /* A status byte ends whatever was under way (an unterminated SysEx
       * or a short message is dropped). */
      p->running = b < 0xF0 ? b : 0;
      start(p, b);
      if (p->expected == 1) {
        if (b != 0xF7) {
          fn(context, p->message, 1);
        }
        p->length = 0;
      }
      continue;
    }
    /* A data byte. */
    if (p->length == 0) {
      if (!p->running) {
        continue; /* nothing to attach it to */
      }
      start(p, p->running);
    }
    if (p->expected == 0) {
      if (p->length < MIDI_PARSE_MAX_MESSAGE - 1) {
        p->message[p->length++] = b;
      } else {
        p->overflow = 1;
      }
      continue;
    }
    p->message[p->length++] = b;
    if (p->length == p->expected) {
      fn(context, p->message, p->length);
      p->length = 0;
    }
  }
}
