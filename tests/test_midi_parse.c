/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The MIDI stream splitter (src/parsers/midi_parse.c), alone: no JACK, no Csound.
 * What Csound's MIDI write callback emits is a byte stream; midi_out gets
 * one JACK event per complete message. Each test feeds bytes (sometimes
 * across several calls, as Csound's k-blocks split them) and compares the
 * messages that come out, in order, byte for byte.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "midi_parse.h"

#define MAX_OUT 64

typedef struct {
  uint8_t data[MAX_OUT][MIDI_PARSE_MAX_MESSAGE];
  size_t size[MAX_OUT];
  int count;
} Out;

static void
collect(void *context, const uint8_t *data, size_t size)
{
  Out *o = context;
  cr_assert(lt(int, o->count, MAX_OUT), "more messages than the test expects");
  cr_assert(le(sz, size, (size_t)MIDI_PARSE_MAX_MESSAGE));
  cr_assert(gt(sz, size, (size_t)0), "an empty message");
  memcpy(o->data[o->count], data, size);
  o->size[o->count] = size;
  o->count++;
}

static MidiParser parser;
static Out out;

static void
fresh(void)
{
  midi_parser_init(&parser);
  memset(&out, 0, sizeof out);
}

static void
feed(const uint8_t *bytes, size_t n)
{
  midi_parser_feed(&parser, bytes, n, collect, &out);
}

#define FEED(...)                                                                   \
  do {                                                                              \
    const uint8_t bytes_[] = {__VA_ARGS__};                                         \
    feed(bytes_, sizeof bytes_);                                                    \
  } while (0)

/* Message @p i is exactly the bytes given. */
#define EXPECT_MSG(i, ...)                                                          \
  do {                                                                              \
    const uint8_t want_[] = {__VA_ARGS__};                                          \
    cr_assert(lt(int, (i), out.count), "message %d missing (%d came)", (i), out.count); \
    cr_assert(eq(sz, out.size[(i)], sizeof want_), "message %d: %zu bytes, want %zu", \
              (i), out.size[(i)], sizeof want_);                                    \
    cr_assert(eq(int, memcmp(out.data[(i)], want_, sizeof want_), 0),               \
              "message %d: other bytes", (i));                                      \
  } while (0)

Test(midi_parse, message_lengths)
{
  cr_assert(eq(sz, midi_message_length(0x90), (size_t)3));
  cr_assert(eq(sz, midi_message_length(0x8F), (size_t)3));
  cr_assert(eq(sz, midi_message_length(0xB0), (size_t)3));
  cr_assert(eq(sz, midi_message_length(0xC3), (size_t)2));
  cr_assert(eq(sz, midi_message_length(0xD0), (size_t)2));
  cr_assert(eq(sz, midi_message_length(0xE0), (size_t)3));
  cr_assert(eq(sz, midi_message_length(0xF0), (size_t)0));
  cr_assert(eq(sz, midi_message_length(0xF1), (size_t)2));
  cr_assert(eq(sz, midi_message_length(0xF2), (size_t)3));
  cr_assert(eq(sz, midi_message_length(0xF3), (size_t)2));
  cr_assert(eq(sz, midi_message_length(0xF6), (size_t)1));
  cr_assert(eq(sz, midi_message_length(0xF8), (size_t)1));
  cr_assert(eq(sz, midi_message_length(0xFF), (size_t)1));
}

Test(midi_parse, whole_messages_one_event_each, .init = fresh)
{
  FEED(0x90, 60, 100, 0x80, 60, 0, 0xC5, 42, 0xE0, 0x00, 0x40);
  cr_assert(eq(int, out.count, 4));
  EXPECT_MSG(0, 0x90, 60, 100);
  EXPECT_MSG(1, 0x80, 60, 0);
  EXPECT_MSG(2, 0xC5, 42);
  EXPECT_MSG(3, 0xE0, 0x00, 0x40);
}

Test(midi_parse, running_status_is_expanded, .init = fresh)
{
  FEED(0x90, 60, 100, 61, 101, 62, 0);
  cr_assert(eq(int, out.count, 3));
  EXPECT_MSG(0, 0x90, 60, 100);
  EXPECT_MSG(1, 0x90, 61, 101);
  EXPECT_MSG(2, 0x90, 62, 0);
}

Test(midi_parse, running_status_two_byte_messages, .init = fresh)
{
  FEED(0xC0, 5, 6, 7);
  cr_assert(eq(int, out.count, 3));
  EXPECT_MSG(0, 0xC0, 5);
  EXPECT_MSG(1, 0xC0, 6);
  EXPECT_MSG(2, 0xC0, 7);
}

Test(midi_parse, running_status_carries_across_calls, .init = fresh)
{
  FEED(0xB2, 7);
  cr_assert(eq(int, out.count, 0), "half a message is kept, not sent");
  FEED(99);
  FEED(10);
  FEED(64, 1);
  cr_assert(eq(int, out.count, 2));
  EXPECT_MSG(0, 0xB2, 7, 99);
  EXPECT_MSG(1, 0xB2, 10, 64);
  FEED(2); /* the 1 above waited for this one */
  cr_assert(eq(int, out.count, 3));
  EXPECT_MSG(2, 0xB2, 1, 2);
}

Test(midi_parse, realtime_byte_inside_a_note_message, .init = fresh)
{
  FEED(0x90, 0xF8, 60, 0xFA, 100, 0xFE);
  cr_assert(eq(int, out.count, 4));
  EXPECT_MSG(0, 0xF8);
  EXPECT_MSG(1, 0xFA);
  EXPECT_MSG(2, 0x90, 60, 100);
  EXPECT_MSG(3, 0xFE);
  /* Running status survives real-time bytes. */
  FEED(61, 0xF8, 90);
  cr_assert(eq(int, out.count, 6));
  EXPECT_MSG(4, 0xF8);
  EXPECT_MSG(5, 0x90, 61, 90);
}

Test(midi_parse, sysex_whole, .init = fresh)
{
  FEED(0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7);
  cr_assert(eq(int, out.count, 1));
  EXPECT_MSG(0, 0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7);
}

Test(midi_parse, sysex_split_across_calls, .init = fresh)
{
  FEED(0xF0, 0x43);
  FEED(0x10);
  cr_assert(eq(int, out.count, 0));
  FEED(0x4C, 0x00);
  FEED(0xF7, 0x90, 64, 1);
  cr_assert(eq(int, out.count, 2));
  EXPECT_MSG(0, 0xF0, 0x43, 0x10, 0x4C, 0x00, 0xF7);
  EXPECT_MSG(1, 0x90, 64, 1);
}

Test(midi_parse, realtime_byte_inside_sysex, .init = fresh)
{
  FEED(0xF0, 0x01, 0xF8, 0x02, 0xF7);
  cr_assert(eq(int, out.count, 2));
  EXPECT_MSG(0, 0xF8);
  EXPECT_MSG(1, 0xF0, 0x01, 0x02, 0xF7);
}

Test(midi_parse, sysex_interrupted_by_a_status_byte, .init = fresh)
{
  /* The unterminated SysEx is dropped; the note that cut it is whole. */
  FEED(0xF0, 0x01, 0x02, 0x90, 60, 100);
  cr_assert(eq(int, out.count, 1));
  EXPECT_MSG(0, 0x90, 60, 100);
  /* Its late F7 is a stray one: nothing. */
  FEED(0xF7);
  cr_assert(eq(int, out.count, 1));
}

Test(midi_parse, sysex_cancels_running_status, .init = fresh)
{
  FEED(0x90, 60, 100, 0xF0, 0x01, 0xF7, 61, 100);
  cr_assert(eq(int, out.count, 2), "data after a SysEx has no status");
  EXPECT_MSG(0, 0x90, 60, 100);
  EXPECT_MSG(1, 0xF0, 0x01, 0xF7);
}

Test(midi_parse, lone_data_bytes_are_dropped, .init = fresh)
{
  FEED(60, 100, 0x7F, 0);
  cr_assert(eq(int, out.count, 0));
  FEED(0x80, 60, 0);
  cr_assert(eq(int, out.count, 1));
  EXPECT_MSG(0, 0x80, 60, 0);
}

Test(midi_parse, f7_without_f0, .init = fresh)
{
  FEED(0xF7);
  cr_assert(eq(int, out.count, 0), "a lone F7 is not a message");
  FEED(0x90, 60, 100, 0xF7, 61, 100);
  cr_assert(eq(int, out.count, 1), "a stray F7 cancels running status");
  EXPECT_MSG(0, 0x90, 60, 100);
}

Test(midi_parse, short_message_cut_by_a_status_is_dropped, .init = fresh)
{
  FEED(0x90, 60, 0xB0, 7, 64);
  cr_assert(eq(int, out.count, 1));
  EXPECT_MSG(0, 0xB0, 7, 64);
}

Test(midi_parse, system_common_messages, .init = fresh)
{
  FEED(0xF1, 0x23, 0xF2, 0x10, 0x20, 0xF3, 0x05, 0xF6, 0x40);
  cr_assert(eq(int, out.count, 4), "the data byte after F6 has no status");
  EXPECT_MSG(0, 0xF1, 0x23);
  EXPECT_MSG(1, 0xF2, 0x10, 0x20);
  EXPECT_MSG(2, 0xF3, 0x05);
  EXPECT_MSG(3, 0xF6);
}

/* The largest SysEx kept is MIDI_PARSE_MAX_MESSAGE bytes, F0 and F7
 * included; one byte more and it is dropped whole, up to its F7, and what
 * follows is parsed as usual. */
static void
feed_sysex(size_t total)
{
  uint8_t b[MIDI_PARSE_MAX_MESSAGE + 64];
  cr_assert(le(sz, total, sizeof b));
  b[0] = 0xF0;
  for (size_t i = 1; i + 1 < total; ++i) {
    b[i] = (uint8_t)(i & 0x7F);
  }
  b[total - 1] = 0xF7;
  /* In two calls, split in the middle. */
  feed(b, total / 2);
  feed(b + total / 2, total - total / 2);
}

Test(midi_parse, sysex_of_the_largest_size_is_kept, .init = fresh)
{
  feed_sysex(MIDI_PARSE_MAX_MESSAGE);
  cr_assert(eq(int, out.count, 1));
  cr_assert(eq(sz, out.size[0], (size_t)MIDI_PARSE_MAX_MESSAGE));
  cr_assert(eq(u8, out.data[0][0], 0xF0));
  cr_assert(eq(u8, out.data[0][MIDI_PARSE_MAX_MESSAGE - 1], 0xF7));
  cr_assert(eq(u8, out.data[0][100], 100));
}

Test(midi_parse, oversized_sysex_is_dropped_whole, .init = fresh)
{
  feed_sysex(MIDI_PARSE_MAX_MESSAGE + 1);
  cr_assert(eq(int, out.count, 0));
  feed_sysex(MIDI_PARSE_MAX_MESSAGE + 50);
  cr_assert(eq(int, out.count, 0));
  FEED(0x90, 60, 100);
  cr_assert(eq(int, out.count, 1), "the parser recovers");
  EXPECT_MSG(0, 0x90, 60, 100);
  /* And the next SysEx of a fitting size is kept. */
  FEED(0xF0, 0x11, 0xF7);
  cr_assert(eq(int, out.count, 2));
  EXPECT_MSG(1, 0xF0, 0x11, 0xF7);
}

Test(midi_parse, oversized_sysex_cut_by_a_status, .init = fresh)
{
  uint8_t b[MIDI_PARSE_MAX_MESSAGE + 10];
  b[0] = 0xF0;
  memset(b + 1, 0x55, sizeof b - 1);
  feed(b, sizeof b);
  FEED(0xC1, 3);
  cr_assert(eq(int, out.count, 1));
  EXPECT_MSG(0, 0xC1, 3);
}

/* ---- midi_queue: MIDI events held across cycles (src/queues/midi_queue.c) ------ */

#include "midi_queue.h"

/* Random pushes and pops of random sizes against a FIFO model, on a small
 * ring so that it wraps often: every event comes out whole, in order; a
 * push is refused only when the ring has no room for it. */
Test(midi_queue, fifo_across_wraps)
{
  MidiQueue q;
  cr_assert(midi_queue_init(&q, 256));
  struct {
    uint32_t frame;
    size_t size;
    uint8_t first;
  } model[256];
  int head = 0, n = 0;
  unsigned seed = 3;
  uint32_t frame = 0;
  int refused = 0, pushed = 0;
  for (int step = 0; step < 200000; ++step) {
    if (rand_r(&seed) % 2) {
      const size_t size = 1 + rand_r(&seed) % (rand_r(&seed) % 8 ? 3 : 60);
      uint8_t b[64];
      for (size_t i = 0; i < size; ++i)
        b[i] = (uint8_t)(frame + i);
      if (midi_queue_push(&q, frame, b, size)) {
        cr_assert(lt(int, n, 256));
        model[(head + n) % 256].frame = frame;
        model[(head + n) % 256].size = size;
        model[(head + n) % 256].first = b[0];
        ++n;
        ++pushed;
      } else {
        /* Refused only when nearly full: the records held leave less
         * than this one (8 + size, rounded) plus one wrap's waste. */
        cr_assert(gt(int, n, 0), "an empty ring refused %zu bytes", size);
        ++refused;
      }
      ++frame;
    } else if (n) {
      uint32_t f;
      const uint8_t *d;
      size_t size;
      cr_assert(midi_queue_peek(&q, &f, &d, &size));
      cr_assert(eq(u32, f, model[head].frame), "step %d", step);
      cr_assert(eq(sz, size, model[head].size));
      for (size_t i = 0; i < size; ++i)
        cr_assert(eq(u8, d[i], (uint8_t)(model[head].first + i)));
      midi_queue_pop(&q);
      head = (head + 1) % 256;
      --n;
    } else {
      uint32_t f;
      const uint8_t *d;
      size_t size;
      cr_assert(not(midi_queue_peek(&q, &f, &d, &size)));
    }
    cr_assert(eq(int, midi_queue_empty(&q), n == 0));
  }
  cr_assert(gt(int, refused, 0), "the test filled the ring");
  cr_assert(gt(int, pushed, 10000));
  /* 256 bytes hold 21 three-byte events (12 bytes each); the 22nd is
   * refused. */
  while (!midi_queue_empty(&q))
    midi_queue_pop(&q);
  const uint8_t note[3] = {0x90, 60, 100};
  int fit = 0;
  while (midi_queue_push(&q, (uint32_t)fit, note, 3))
    ++fit;
  cr_assert(eq(int, fit, 256 / 12));
  cr_assert(not(midi_queue_push(&q, 0, note, 0)), "an empty event is refused");
  midi_queue_free(&q);
}
