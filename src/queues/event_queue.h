/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Held events: a fixed-capacity priority queue of items keyed by a JACK
 * frame time, for the JACK thread. A stamped score event for a frame
 * beyond the cycle that runs its command waits here and is released in
 * the cycle whose output holds its frame (as scsynth holds a bundle until
 * its time), so it stays on its frame whatever happens to Csound's own
 * clock meanwhile (a pause, cycles a direct call dropped).
 *
 * Order: by frame, on JACK's wrapping 32-bit frame clock (a signed
 * difference, so every frame held must lie within 2^31 frames of the
 * others: about 12 hours at 48 kHz), then by the order of pushing: items
 * for the same frame come out in the order they went in.
 *
 * A binary heap of small keys over a pool of fixed-size items, both
 * allocated (and prefaulted) once by event_queue_new. Push, peek and pop
 * are O(log n), allocate nothing, lock nothing: real-time safe. One
 * thread at a time (the JACK thread while performing; the control thread
 * after the JACK client is closed).
 */

#ifndef CSJ_EVENT_QUEUE_H
#define CSJ_EVENT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct EventQueue EventQueue;

/** A queue of @p capacity items of @p item_size bytes; NULL when out of
 *  memory. Not real-time safe (allocates). */
EventQueue *event_queue_new(uint32_t capacity, size_t item_size);
void event_queue_free(EventQueue *q);

/** Copies @p item in, to come out at @p frame. False (nothing changed)
 *  when the queue is full. */
bool event_queue_push(EventQueue *q, uint32_t frame, const void *item);
/** The earliest item's frame; false when empty. */
bool event_queue_peek(const EventQueue *q, uint32_t *frame);
/** Copies the earliest item out and removes it; false when empty. */
bool event_queue_pop(EventQueue *q, uint32_t *frame, void *item);
uint32_t event_queue_count(const EventQueue *q);
uint32_t event_queue_capacity(const EventQueue *q);

#endif
