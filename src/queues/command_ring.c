/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Vyukov's bounded queue, one consumer.
 *
 * Every slot carries a sequence number that says whose turn it is. For the
 * slot that position p maps to (p modulo the capacity):
 *   sequence == p             free: the producer that claims p may fill it;
 *   sequence == p + 1         published: the consumer at p may take it;
 *   sequence == p + capacity  given back: free for position p + capacity.
 * A producer claims position p by moving enqueue_pos from p to p + 1 with a
 * CAS, fills the slot, and publishes it by storing p + 1 into its sequence.
 * The consumer, alone on its side, needs no CAS: it checks the sequence,
 * copies the item out and gives the slot back.
 *
 * Positions are 64-bit and never wrap in practice (2^64 pushes at 10^9 per
 * second take 584 years). 32-bit positions with signed differences would
 * work as well, but 64 bits buy two things: no comparison in this file
 * needs wrap-around reasoning (in particular a drain bound can be compared
 * with plain <), and the positions double as the lifetime push and pop
 * counters for free. The price is that a 64-bit atomic must be lock-free on
 * the target, or the consumer would hide a lock; that is checked below,
 * and holds on x86-64, AArch64, i686 (cmpxchg8b) and ARMv7 (ldrexd).
 */

#include "command_ring.h"

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "command_ring needs lock-free 64-bit atomics to keep the consumer wait-free"
#endif

/* Payload and header share the slot's cache lines. The slots are aligned
 * to a cache line, so two producers filling neighbouring slots never write
 * the same line. */
typedef struct {
  _Alignas(CACHE_LINE) _Atomic uint64_t sequence;
  uint32_t size;
  uint8_t payload[COMMAND_RING_PAYLOAD_MAX];
} Slot;

static_assert(sizeof(Slot) == 256, "a slot is exactly four cache lines");

struct CommandRingImpl {
  /* Producers' line: every push CASes it. */
  _Alignas(CACHE_LINE) _Atomic uint64_t enqueue_pos;
  /* Consumer's line: only the consumer writes these. They are atomic only
   * because the monitoring getters read them from other threads. Producers
   * never look at them (the slot sequences tell producers all they need),
   * so pops do not bounce this line to the producers' cores. */
  _Alignas(CACHE_LINE) _Atomic uint64_t dequeue_pos;
  _Atomic uint32_t high_water;
  /* Read-only after creation: shared by every core without traffic. */
  _Alignas(CACHE_LINE) Slot *slots;
  uint32_t capacity; /* power of two, at least 2 */
  uint32_t mask;
};

CommandRing *
command_ring_new(uint32_t min_slots)
{
  /* Two slots at least: with one, a published slot (sequence p + 1) would
   * look free to the producer of position p + 1. */
  size_t capacity = 2;
  while (capacity < min_slots) {
    /* Stop at 2^31 slots (the capacity is kept in 32 bits), or earlier
     * where the byte size would overflow a 32-bit size_t. */
    if (capacity >= (1u << 31) || capacity > SIZE_MAX / sizeof(Slot) / 2) {
      return NULL;
    }
    capacity <<= 1;
  }
  CommandRing *ring = aligned_alloc(CACHE_LINE, sizeof(CommandRing));
  if (!ring) {
    return NULL;
  }
  memset(ring, 0, sizeof(*ring));
  /* sizeof(Slot) is a multiple of the alignment, as aligned_alloc wants. */
  ring->slots = aligned_alloc(CACHE_LINE, capacity * sizeof(Slot));
  if (!ring->slots) {
    free(ring);
    return NULL;
  }
  for (size_t i = 0; i < capacity; ++i) {
    atomic_init(&ring->slots[i].sequence, i);
    ring->slots[i].size = 0;
  }
  ring->capacity = (uint32_t)capacity;
  ring->mask = (uint32_t)capacity - 1;
  atomic_init(&ring->enqueue_pos, 0);
  atomic_init(&ring->dequeue_pos, 0);
  atomic_init(&ring->high_water, 0);
  return ring;
}

void
command_ring_free(CommandRing *ring)
{
  if (ring) {
    free(ring->slots);
    free(ring);
  }
}

/* Claims the next position for this producer, or returns false when the
 * slot it maps to has not been given back yet. */
static bool
claim(CommandRing *ring, uint64_t *position)
{
  /* Relaxed: the position is only a guess to start from. The CAS below
   * checks it, and the slot's sequence, not this load, is what orders our
   * writes after the consumer's reads. */
  uint64_t pos = atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
  for (;;) {
    Slot *slot = &ring->slots[pos & ring->mask];
    /* Acquire: pairs with the consumer's release when it gave the slot
     * back, so its copy-out of the previous item is complete before we
     * overwrite the payload. */
    const uint64_t seq = atomic_load_explicit(&slot->sequence, memory_order_acquire);
    const int64_t dif = (int64_t)(seq - pos);
    if (dif == 0) {
      /* Relaxed, success and failure: the CAS only decides which producer
       * owns position pos; it publishes nothing (the release on the slot's
       * sequence does that). On failure it reloads pos, and we retry:
       * another producer won, so the ring as a whole made progress. This
       * loop is why a push is lock-free and not wait-free. */
      if (atomic_compare_exchange_weak_explicit(&ring->enqueue_pos, &pos, pos + 1,
                                                memory_order_relaxed, memory_order_relaxed)) {
        *position = pos;
        return true;
      }
    } else if (dif < 0) {
      /* The slot still holds the item from one lap ago: full, unless our
       * guess of pos was stale and other producers have moved on since.
       * Relaxed: as above, only a guess that the next round checks. */
      const uint64_t now = atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
      if (now == pos) {
        return false;
      }
      pos = now;
    } else {
      /* Another producer claimed pos after we read it: catch up. */
      pos = atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
    }
  }
}

static void
publish(CommandRing *ring, uint64_t position, const void *payload, uint32_t size)
{
  Slot *slot = &ring->slots[position & ring->mask];
  slot->size = size;
  if (size > 0) {
    memcpy(slot->payload, payload, size);
  }
  /* Release: the size and payload become visible together with the
   * sequence that tells the consumer the slot is ready. */
  atomic_store_explicit(&slot->sequence, position + 1, memory_order_release);
}

CommandRingResult
command_ring_push(CommandRing *ring, const void *payload, uint32_t size)
{
  if (size > COMMAND_RING_PAYLOAD_MAX) {
    return COMMAND_RING_TOO_BIG;
  }
  uint64_t position = 0;
  if (!claim(ring, &position)) {
    return COMMAND_RING_FULL;
  }
  publish(ring, position, payload, size);
  return COMMAND_RING_OK;
}

uint64_t
command_ring_begin_drain(CommandRing *ring)
{
  /* Acquire, as the house rule for the other side's index has it, though
   * correctness does not rest on it: producers claim with a relaxed CAS, so
   * there is no release here to pair with, and it is each slot's sequence
   * (loaded with acquire in pop) that makes a payload safe to read. The
   * bound only limits how far this cycle goes. The acquire does keep the
   * slot loads of this drain from being performed before the bound is read,
   * which costs nothing on x86 and one LDAR on ARMv8. */
  const uint64_t bound = atomic_load_explicit(&ring->enqueue_pos, memory_order_acquire);
  /* Relaxed: only this thread writes dequeue_pos. */
  const uint64_t pos = atomic_load_explicit(&ring->dequeue_pos, memory_order_relaxed);

  /* The high-water mark is kept here, by the consumer, once per drain,
   * rather than by producers: it costs producers nothing and keeps them
   * off the consumer's cache line. Between two drains nothing is taken
   * out, so the start of a drain is where occupancy peaks; what this misses
   * is a peak reached and relieved while the consumer is itself popping.
   * A producer can only claim p once the item at p - capacity has been
   * taken, so bound - pos never exceeds the capacity. */
  const uint32_t used = (uint32_t)(bound - pos);
  /* Relaxed, load and store: only this thread writes the mark, and readers
   * want the figure, not any data behind it. */
  if (used > atomic_load_explicit(&ring->high_water, memory_order_relaxed)) {
    atomic_store_explicit(&ring->high_water, used, memory_order_relaxed);
  }
  return bound;
}

bool
command_ring_pop(CommandRing *ring, uint64_t bound, void *out, uint32_t *size)
{
  /* Relaxed: only this thread writes dequeue_pos. */
  const uint64_t pos = atomic_load_explicit(&ring->dequeue_pos, memory_order_relaxed);
  if (pos >= bound) {
    return false;
  }
  Slot *slot = &ring->slots[pos & ring->mask];
  /* Acquire: pairs with the producer's release in publish(), so the size
   * and payload we read are the ones it wrote. */
  const uint64_t seq = atomic_load_explicit(&slot->sequence, memory_order_acquire);
  if (seq != pos + 1) {
    /* Claimed but not yet published (seq == pos): stop here this cycle, so
     * that later items, perhaps from the same producer, do not overtake it. */
    return false;
  }
  const uint32_t n = slot->size;
  memcpy(out, slot->payload, n);
  if (size) {
    *size = n;
  }
  /* Relaxed: nobody synchronises on dequeue_pos; the getters only read the
   * figure. It is stored before the slot is given back, so a producer that
   * acquires the slot below also sees the new dequeue_pos, and
   * command_ring_used() seen from there never exceeds the capacity. */
  atomic_store_explicit(&ring->dequeue_pos, pos + 1, memory_order_relaxed);
  /* Release: our copy-out happens before a producer refills the slot
   * (pairs with the acquire in claim()). */
  atomic_store_explicit(&slot->sequence, pos + ring->capacity, memory_order_release);
  return true;
}

uint32_t
command_ring_capacity(const CommandRing *ring)
{
  return ring->capacity;
}

uint32_t
command_ring_used(const CommandRing *ring)
{
  /* The consumer's position is read first and with acquire, so that the
   * producers' position, read second, is not read earlier than it; on real
   * hardware the difference is then never negative. Nothing pairs with
   * these loads, though, so the memory model does not promise even that,
   * and items that come and go between the two loads can make it overstate:
   * hence both clamps. Only a figure for monitoring. */
  const uint64_t taken = atomic_load_explicit(&ring->dequeue_pos, memory_order_acquire);
  const uint64_t claimed = atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
  if (claimed <= taken) {
    return 0;
  }
  const uint64_t used = claimed - taken;
  return used > ring->capacity ? ring->capacity : (uint32_t)used;
}

uint32_t
command_ring_high_water(const CommandRing *ring)
{
  /* Relaxed: a figure, with no data behind it to order. */
  return atomic_load_explicit(&ring->high_water, memory_order_relaxed);
}

uint64_t
command_ring_pushes(const CommandRing *ring)
{
  /* Relaxed: a figure. Every claim is a successful push, so the enqueue
   * position is the count. */
  return atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
}

uint64_t
command_ring_pops(const CommandRing *ring)
{
  /* Relaxed: a figure; the dequeue position is the count. */
  return atomic_load_explicit(&ring->dequeue_pos, memory_order_relaxed);
}

#ifdef COMMAND_RING_TESTING
bool
command_ring_test_claim(CommandRing *ring, uint64_t *position)
{
  return claim(ring, position);
}

void
command_ring_test_publish(CommandRing *ring, uint64_t position, const void *payload, uint32_t size)
{
  publish(ring, position, payload, size);
}
#endif

bool
command_ring_pending(const CommandRing *ring, uint64_t bound)
{
  /* Relaxed: only the consumer, the caller, writes dequeue_pos. */
  return atomic_load_explicit(&((CommandRing *)ring)->dequeue_pos, memory_order_relaxed) < bound;
}
