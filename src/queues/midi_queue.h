/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MIDI events held across cycles, for the JACK thread: constant-latency
 * mode (csj_engine_set_event_delay) hands each midi_in event to Csound a
 * fixed number of frames after its own frame, often cycles later. Events
 * come in frame order and the delay is the same for all, so a FIFO keeps
 * them in frame order: a byte ring of variable-length records (a JACK
 * frame time, a size, the bytes), preallocated and prefaulted by
 * midi_queue_init. Push, peek and pop copy bytes only: real-time safe.
 * One thread at a time.
 */

#ifndef CSJ_MIDI_QUEUE_H
#define CSJ_MIDI_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *bytes;
  uint32_t capacity; /* bytes */
  uint32_t head;     /* the oldest record */
  uint32_t tail;     /* where the next record goes */
  uint32_t used;     /* bytes in use, wrap padding included */
  uint32_t count;    /* records */
} MidiQueue;

/** Room for @p capacity bytes of records (each takes its size plus 8,
 *  rounded up to 4). False when out of memory. Not real-time safe. */
bool midi_queue_init(MidiQueue *q, uint32_t capacity);
void midi_queue_free(MidiQueue *q);

/** Appends an event for JACK frame @p frame; false (nothing changed) when
 *  it does not fit, or @p size is 0 or over 65535. */
bool midi_queue_push(MidiQueue *q, uint32_t frame, const uint8_t *data, size_t size);
/** The oldest event, left in place (@p data valid until it is popped). */
bool midi_queue_peek(const MidiQueue *q, uint32_t *frame, const uint8_t **data, size_t *size);
/** Removes the oldest event. */
void midi_queue_pop(MidiQueue *q);
static inline bool
midi_queue_empty(const MidiQueue *q)
{
  return q->count == 0;
}

#endif
