/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Held events, by frame: see event_queue.h. */

#include "event_queue.h"

#include <stdlib.h>
#include <string.h>

#include "prefault.h"

typedef struct {
  uint32_t frame;
  uint32_t seq;  /* push order, for items of the same frame */
  uint32_t slot; /* the item's place in the pool */
} Key;

struct EventQueue {
  uint32_t capacity;
  uint32_t count;
  uint32_t next_seq;
  size_t item_size;
  Key *heap;      /* count keys, a binary min-heap */
  uint32_t *free; /* capacity - count free slots, a stack */
  unsigned char *pool;
};

EventQueue *
event_queue_new(uint32_t capacity, size_t item_size)
{
  if (capacity == 0 || item_size == 0) {
    return NULL;
  }
  EventQueue *q = calloc(1, sizeof(*q));
  if (!q) {
    return NULL;
  }
  q->capacity = capacity;
  q->item_size = item_size;
  q->heap = calloc(capacity, sizeof(Key));
  q->free = calloc(capacity, sizeof(uint32_t));
  q->pool = calloc(capacity, item_size);
  if (!q->heap || !q->free || !q->pool) {
    event_queue_free(q);
    return NULL;
  }
  csj_prefault(q->heap, capacity * sizeof(Key));
  csj_prefault(q->pool, capacity * item_size);
  for (uint32_t i = 0; i < capacity; ++i) {
    q->free[i] = capacity - 1 - i;
  }
  return q;
}

void
event_queue_free(EventQueue *q)
{
  if (q) {
    free(q->heap);
    free(q->free);
    free(q->pool);
    free(q);
  }
}

/* a before b: the earlier frame on the wrapping clock, then the earlier push. */
static bool
before(const Key *a, const Key *b)
{
  const int32_t d = (int32_t)(a->frame - b->frame);
  if (d != 0) {
    return d < 0;
  }
  return (int32_t)(a->seq - b->seq) < 0;
}

bool
event_queue_push(EventQueue *q, uint32_t frame, const void *item)
{
  if (q->count == q->capacity) {
    return false;
  }
  const uint32_t slot = q->free[q->capacity - 1 - q->count];
  memcpy(q->pool + (size_t)slot * q->item_size, item, q->item_size);
  Key k = {frame, q->next_seq++, slot};
  uint32_t i = q->count++;
  while (i > 0) {
    const uint32_t parent = (i - 1) / 2;
    if (!before(&k, &q->heap[parent])) {
      break;
    }
    q->heap[i] = q->heap[parent];
    i = parent;
  }
  q->heap[i] = k;
  return true;
}

bool
event_queue_peek(const EventQueue *q, uint32_t *frame)
{
  if (q->count == 0) {
    return false;
  }
  *frame = q->heap[0].frame;
  return true;
}

bool
event_queue_pop(EventQueue *q, uint32_t *frame, void *item)
{
  if (q->count == 0) {
    return false;
  }
  const Key top = q->heap[0];
  if (frame) {
    *frame = top.frame;
  }
  memcpy(item, q->pool + (size_t)top.slot * q->item_size, q->item_size);
  const Key last = q->heap[--q->count];
  q->free[q->capacity - 1 - q->count] = top.slot;
  /* Sift the last key down from the root. */
  uint32_t i = 0;
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= q->count) {
      break;
    }
    if (child + 1 < q->count && before(&q->heap[child + 1], &q->heap[child])) {
      ++child;
    }
    if (!before(&q->heap[child], &last)) {
      break;
    }
    q->heap[i] = q->heap[child];
    i = child;
  }
  if (q->count) {
    q->heap[i] = last;
  }
  return true;
}

uint32_t
event_queue_count(const EventQueue *q)
{
  return q->count;
}

uint32_t
event_queue_capacity(const EventQueue *q)
{
  return q->capacity;
}
