/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MIDI events held across cycles: see midi_queue.h. */

#include "midi_queue.h"

#include <stdlib.h>
#include <string.h>

#include "prefault.h"

/* A record: frame (4 bytes), size (2), 2 spare, then the bytes, padded to
 * 4. A size of 0 marks the end of the ring's bytes: the next record is at
 * offset 0. */
#define HEADER 8u
#define WRAP_MARK 0u

static uint32_t
record_bytes(size_t size)
{
  return (uint32_t)((HEADER + size + 3u) & ~(size_t)3u);
}

bool
midi_queue_init(MidiQueue *q, uint32_t capacity)
{
  memset(q, 0, sizeof(*q));
  capacity &= ~3u;
  q->bytes = calloc(capacity, 1);
  if (!q->bytes) {
    return false;
  }
  csj_prefault(q->bytes, capacity);
  q->capacity = capacity;
  return true;
}

void
midi_queue_free(MidiQueue *q)
{
  free(q->bytes);
  memset(q, 0, sizeof(*q));
}

static void
write_header(uint8_t *at, uint32_t frame, uint16_t size)
{
  memcpy(at, &frame, 4);
  memcpy(at + 4, &size, 2);
}

bool
midi_queue_push(MidiQueue *q, uint32_t frame, const uint8_t *data, size_t size)
{
  if (size == 0 || size > 0xFFFF || !q->bytes) {
    return false;
  }
  const uint32_t need = record_bytes(size);
  uint32_t at = q->tail;
  uint32_t pad = 0;
  if (q->count == 0) {
    /* Empty: start from the beginning, all of it free. */
    q->head = q->tail = at = 0;
    q->used = 0;
  }
  if (q->count && at == q->head) {
    return false; /* every byte in use */
  }
  if (at > q->head && q->count) {
    /* Free: [tail, capacity) and [0, head). */
    if (q->capacity - at < need) {
      pad = q->capacity - at; /* skip to 0 */
      if (need > q->head) {
        return false;
      }
    }
  } else if (q->count) {
    /* Free: [tail, head). */
    if (q->head - at < need) {
      return false;
    }
  } else if (need > q->capacity) {
    return false;
  }
  if (pad) {
    if (pad >= HEADER) {
      write_header(q->bytes + at, 0, WRAP_MARK);
    }
    at = 0;
  }
  write_header(q->bytes + at, frame, (uint16_t)size);
  memcpy(q->bytes + at + HEADER, data, size);
  q->tail = at + need;
  if (q->tail == q->capacity) {
    q->tail = 0;
  }
  q->used += pad + need;
  q->count++;
  return true;
}

/* The offset of the oldest record, past a wrap mark or an end too short
 * for a header. */
static uint32_t
head_record(const MidiQueue *q)
{
  uint32_t at = q->head;
  if (q->capacity - at < HEADER) {
    return 0;
  }
  uint16_t size;
  memcpy(&size, q->bytes + at + 4, 2);
  return size == WRAP_MARK ? 0 : at;
}

bool
midi_queue_peek(const MidiQueue *q, uint32_t *frame, const uint8_t **data, size_t *size)
{
  if (q->count == 0) {
    return false;
  }
  const uint32_t at = head_record(q);
  uint16_t n;
  memcpy(frame, q->bytes + at, 4);
  memcpy(&n, q->bytes + at + 4, 2);
  *data = q->bytes + at + HEADER;
  *size = n;
  return true;
}

void
midi_queue_pop(MidiQueue *q)
{
  if (q->count == 0) {
    return;
  }
  const uint32_t at = head_record(q);
  uint16_t n;
  memcpy(&n, q->bytes + at + 4, 2);
  const uint32_t skipped = at == q->head ? 0 : q->capacity - q->head;
  const uint32_t rec = record_bytes(n);
  q->head = at + rec;
  if (q->head == q->capacity) {
    q->head = 0;
  }
  q->used -= skipped + rec;
  q->count--;
  if (q->count == 0) {
    q->head = q->tail = q->used = 0;
  }
}
