/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A single-producer, single-consumer ring of variable-length records.
 *
 * Thread-safe for one writer thread and one reader thread; wait-free and
 * real-time safe on both ends (no allocation, no locks, no syscalls). A
 * record is written whole or not at all, and read whole or not at all.
 *
 * Indices run free as 32-bit counters and are reduced modulo the power-of-two
 * capacity only when addressing. Each side loads its own index relaxed and
 * the other side's with acquire, and publishes its own with release.
 */

#ifndef CSJ_SPSC_RING_H
#define CSJ_SPSC_RING_H

#include <stdbool.h>
#include <stdint.h>

typedef struct SpscRingImpl SpscRing;

/** Allocates a ring of at least @p min_capacity bytes. NOT real-time safe. */
SpscRing *spsc_ring_new(uint32_t min_capacity);

/** Frees the ring. NULL is a no-op. NOT real-time safe. */
void spsc_ring_free(SpscRing *ring);

/** Writer: appends one record. False when it does not fit. Real-time safe. */
bool spsc_ring_push(SpscRing *ring, const void *data, uint32_t size);

/**
 * Reader: removes the oldest record into @p buf and returns its size, or 0
 * when the ring is empty. A record larger than @p buf_size is truncated to
 * fit (its tail is discarded). Real-time safe.
 */
uint32_t spsc_ring_pop(SpscRing *ring, void *buf, uint32_t buf_size);

/** Bytes of records waiting. Either side. Real-time safe. */
uint32_t spsc_ring_used(const SpscRing *ring);

#endif
