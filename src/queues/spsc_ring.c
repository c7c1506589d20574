/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "spsc_ring.h"

#include "prefault.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64

struct SpscRingImpl {
  /* The two indices live on their own cache lines so that the writer and
   * the reader do not invalidate each other's line on every update. */
  _Alignas(CACHE_LINE) _Atomic uint32_t write_index;
  _Alignas(CACHE_LINE) _Atomic uint32_t read_index;
  _Alignas(CACHE_LINE) uint32_t capacity; /* power of two */
  uint32_t mask;
  uint8_t *bytes;
};

SpscRing *
spsc_ring_new(uint32_t min_capacity)
{
  uint32_t capacity = 64;
  while (capacity < min_capacity && capacity < (1u << 30)) {
    capacity <<= 1;
  }
  SpscRing *ring = aligned_alloc(CACHE_LINE, sizeof(SpscRing));
  if (!ring) {
    return NULL;
  }
  memset(ring, 0, sizeof(*ring));
  ring->bytes = calloc(capacity, 1);
  if (!ring->bytes) {
    free(ring);
    return NULL;
  }
  csj_prefault(ring->bytes, capacity); /* both ends may be a JACK thread */
  ring->capacity = capacity;
  ring->mask = capacity - 1;
  atomic_init(&ring->write_index, 0);
  atomic_init(&ring->read_index, 0);
  return ring;
}

void
spsc_ring_free(SpscRing *ring)
{
  if (ring) {
    free(ring->bytes);
    free(ring);
  }
}

static void
copy_in(SpscRing *ring, uint32_t at, const void *src, uint32_t size)
{
  const uint32_t offset = at & ring->mask;
  const uint32_t first = ring->capacity - offset < size ? ring->capacity - offset : size;
  memcpy(ring->bytes + offset, src, first);
  memcpy(ring->bytes, (const uint8_t *)src + first, size - first);
}

static void
copy_out(const SpscRing *ring, uint32_t at, void *dst, uint32_t size)
{
  const uint32_t offset = at & ring->mask;
  const uint32_t first = ring->capacity - offset < size ? ring->capacity - offset : size;
  memcpy(dst, ring->bytes + offset, first);
  memcpy((uint8_t *)dst + first, ring->bytes, size - first);
}

bool
spsc_ring_push(SpscRing *ring, const void *data, uint32_t size)
{
  const uint32_t w = atomic_load_explicit(&ring->write_index, memory_order_relaxed);
  /* Acquire: the reader's slots must be fully read before we reuse them. */
  const uint32_t r = atomic_load_explicit(&ring->read_index, memory_order_acquire);
  const uint32_t needed = (uint32_t)sizeof(uint32_t) + size;
  if (needed > ring->capacity - (w - r)) {
    return false;
  }
  copy_in(ring, w, &size, sizeof(size));
  copy_in(ring, w + (uint32_t)sizeof(size), data, size);
  /* Release: the header and payload become visible together with the index. */
  atomic_store_explicit(&ring->write_index, w + needed, memory_order_release);
  return true;
}

uint32_t
spsc_ring_pop(SpscRing *ring, void *buf, uint32_t buf_size)
{
  const uint32_t r = atomic_load_explicit(&ring->read_index, memory_order_relaxed);
  /* Acquire: pairs with the writer's release, so the record is complete. */
  const uint32_t w = atomic_load_explicit(&ring->write_index, memory_order_acquire);
  if (w == r) {
    return 0;
  }
  uint32_t size = 0;
  copy_out(ring, r, &size, sizeof(size));
  const uint32_t kept = size < buf_size ? size : buf_size;
  copy_out(ring, r + (uint32_t)sizeof(size), buf, kept);
  /* Release: our reads of the slots happen before the writer may reuse them. */
  atomic_store_explicit(&ring->read_index, r + (uint32_t)sizeof(size) + size, memory_order_release);
  return kept;
}

uint32_t
spsc_ring_used(const SpscRing *ring)
{
  const uint32_t w = atomic_load_explicit(&ring->write_index, memory_order_acquire);
  const uint32_t r = atomic_load_explicit(&ring->read_index, memory_order_acquire);
  return w - r;
}
