/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A bounded multi-producer, single-consumer queue of fixed-size command
 * slots: the only road from application threads to the real-time (RT)
 * thread.
 *
 * The design is Dmitry Vyukov's bounded MPMC queue (a sequence number per
 * slot, a compare-and-swap on the enqueue position), specialised to one
 * consumer, which then needs no compare-and-swap at all.
 *
 * Thread safety and progress, stated honestly:
 *   - Producers: any number of threads may push at once. A push is
 *     LOCK-FREE, NOT wait-free: producers race for a slot with a CAS loop,
 *     so one producer can in principle lose every round to others (some
 *     producer always wins, so the system as a whole makes progress). A
 *     push never blocks, never waits for space, never overwrites and never
 *     allocates: a full ring fails the push at once.
 *   - Consumer: exactly one thread (the RT thread) may call the consumer
 *     functions. They are WAIT-FREE and real-time safe: a bounded number of
 *     steps, no allocation, no locks, no syscalls.
 *   - Creation and destruction allocate and free: NOT real-time safe, and
 *     no other thread may use the ring meanwhile.
 *
 * Per-producer order is kept: two pushes from the same thread come out in
 * the order they were made. Pushes from different threads are ordered by
 * the moment each claimed its slot. Every pushed item comes out exactly
 * once.
 *
 * Draining is by snapshot, once per cycle: command_ring_begin_drain() fixes a
 * bound, and command_ring_pop() hands out items only below it, so items
 * pushed while the RT thread is draining wait for the next cycle and the
 * work per cycle is bounded by the capacity. A slot that a producer has
 * claimed but not yet filled stops the drain there for this cycle: that
 * item and every later one come out next cycle, in order.
 */

#ifndef CSJ_COMMAND_RING_H
#define CSJ_COMMAND_RING_H

#include <stdbool.h>
#include <stdint.h>

typedef struct CommandRingImpl CommandRing;

/**
 * Largest payload of one item, in bytes. With its size and sequence number
 * a slot is then exactly 256 bytes, four 64-byte cache lines.
 */
#define COMMAND_RING_PAYLOAD_MAX 240u

/** Result of command_ring_push(). */
typedef enum {
  COMMAND_RING_OK = 0,  /**< The item is queued. */
  COMMAND_RING_FULL,    /**< No free slot: nothing was queued; retry later. */
  COMMAND_RING_TOO_BIG, /**< Payload over COMMAND_RING_PAYLOAD_MAX: ring untouched. */
} CommandRingResult;

/* ---- Any thread, NOT real-time safe ------------------------------------ */

/**
 * Allocates a ring of at least @p min_slots slots (rounded up to a power of
 * two, and to at least 2). Returns NULL when out of memory or when the size
 * is absurd (over 2^31 slots). NOT thread safe or real-time safe.
 */
CommandRing *command_ring_new(uint32_t min_slots);

/**
 * Frees the ring. NULL is a no-op. No thread may be using the ring.
 * NOT thread safe or real-time safe.
 */
void command_ring_free(CommandRing *ring);

/* ---- Producers: any number of threads ------------------------------------ */

/**
 * Queues a copy of @p size bytes from @p payload (which may be NULL when
 * @p size is 0).
 *
 * Returns COMMAND_RING_OK; COMMAND_RING_TOO_BIG, without touching the ring,
 * when @p size exceeds COMMAND_RING_PAYLOAD_MAX; or COMMAND_RING_FULL, at
 * once and with nothing queued, when the slot this push would take has not
 * yet been given back by the consumer (the ring is full, or the consumer is
 * in the middle of copying out the oldest item).
 *
 * Thread safe for any number of producers. Lock-free, NOT wait-free (a CAS
 * loop that retries only when another producer has just succeeded). Never
 * blocks or allocates, so it may be called from an RT thread too.
 */
CommandRingResult command_ring_push(CommandRing *ring, const void *payload, uint32_t size);

/* ---- Consumer: exactly one thread (the RT thread) ------------------------- */

/**
 * Starts a drain: returns the bound to pass to command_ring_pop() for this
 * cycle, covering every slot claimed by producers so far. Also updates the
 * high-water mark. Consumer thread only. Wait-free, real-time safe.
 */
uint64_t command_ring_begin_drain(CommandRing *ring);

/**
 * Takes the oldest item if it lies below @p bound and its producer has
 * finished writing it: copies its payload into @p out, which must have
 * room for COMMAND_RING_PAYLOAD_MAX bytes, stores its size in @p size
 * (unless NULL), and returns true. Returns false, touching nothing, when the
 * drain has reached @p bound or the oldest slot is claimed but not yet
 * published; the caller should then stop until its next cycle.
 * Consumer thread only. Wait-free, real-time safe.
 */
bool command_ring_pop(CommandRing *ring, uint64_t bound, void *out, uint32_t *size);

/* ---- Any thread: figures for monitoring ----------------------------------- */

/** Number of slots (a power of two). Any thread. Real-time safe. */
/**
 * Whether items below @p bound are still to be popped in this drain.
 * Consumer thread only. Wait-free, real-time safe.
 */
bool command_ring_pending(const CommandRing *ring, uint64_t bound);

uint32_t command_ring_capacity(const CommandRing *ring);

/**
 * Slots claimed and not yet given back, 0 to capacity. A snapshot of
 * moving counters, so only approximate while other threads run.
 * Any thread. Wait-free, real-time safe.
 */
uint32_t command_ring_used(const CommandRing *ring);

/**
 * Largest occupancy seen at the start of a drain, in slots (see
 * command_ring_begin_drain()). Any thread. Wait-free, real-time safe.
 */
uint32_t command_ring_high_water(const CommandRing *ring);

/**
 * Total successful pushes since creation (slots ever claimed, including any
 * being written right now). Any thread. Wait-free, real-time safe.
 */
uint64_t command_ring_pushes(const CommandRing *ring);

/** Total pops since creation. Any thread. Wait-free, real-time safe. */
uint64_t command_ring_pops(const CommandRing *ring);

#ifdef COMMAND_RING_TESTING
/* ---- TEST ONLY: compiled only with -DCOMMAND_RING_TESTING ---------------- */

/*
 * The two halves of command_ring_push(), so that a test can hold a slot
 * claimed but unpublished, as a producer preempted between the two would.
 * Never use these outside tests: a slot claimed and never published stops
 * the consumer for good.
 */

/** TEST ONLY. Claims the next slot; false when full. */
bool command_ring_test_claim(CommandRing *ring, uint64_t *position);

/** TEST ONLY. Fills and publishes a slot claimed by command_ring_test_claim(). */
void command_ring_test_publish(CommandRing *ring, uint64_t position, const void *payload,
                               uint32_t size);
#endif

#endif
