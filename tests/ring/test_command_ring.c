/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the command ring, single-threaded except for the last one.
 * Built with -DCOMMAND_RING_TESTING for the test-only claim/publish hooks,
 * which stand in for a producer preempted between claiming its slot and
 * publishing it.
 */

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* sched_yield() under -std=c11 */
#endif

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include "command_ring.h"

#ifndef COMMAND_RING_TESTING
#error "build this test with -DCOMMAND_RING_TESTING"
#endif

/*
 * Criterion 2.4 itself leaks the strdup() of an -O argument (here
 * -Otap:/dev/stdout) in criterion_handle_args(), which fails every
 * AddressSanitizer build of this test at exit. LeakSanitizer reads its
 * built-in suppressions from this hook; other builds never call it.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
  return "leak:criterion_handle_args\n";
}

/* A ring bug can make a push or a drain spin for ever: fail instead. */
TestSuite(command_ring, .timeout = 30);

/* ---- helpers ---------------------------------------------------------------- */

static CommandRing *g_ring;

static void
teardown(void)
{
  command_ring_free(g_ring);
  g_ring = NULL;
}

/* The payload of item @p n: its number, then a pattern derived from it, of
 * a size that varies with n so that a size mix-up shows. */
static uint32_t
make_item(uint32_t n, uint8_t *buf)
{
  const uint32_t size = (uint32_t)sizeof(n) + (n * 37u) % (COMMAND_RING_PAYLOAD_MAX - 3u);
  memcpy(buf, &n, sizeof(n));
  for (uint32_t i = (uint32_t)sizeof(n); i < size; ++i) {
    buf[i] = (uint8_t)(n * 131u + i);
  }
  return size;
}

static void
push_item(CommandRing *ring, uint32_t n)
{
  uint8_t buf[COMMAND_RING_PAYLOAD_MAX];
  const uint32_t size = make_item(n, buf);
  cr_assert(eq(int, command_ring_push(ring, buf, size), COMMAND_RING_OK), "push of item %u",
            n);
}

/* Pops one item under @p bound and checks that it is item @p n, byte-exact. */
static void
pop_item(CommandRing *ring, uint64_t bound, uint32_t n)
{
  uint8_t want[COMMAND_RING_PAYLOAD_MAX];
  uint8_t got[COMMAND_RING_PAYLOAD_MAX];
  const uint32_t want_size = make_item(n, want);
  uint32_t got_size = UINT32_MAX;
  cr_assert(command_ring_pop(ring, bound, got, &got_size), "item %u missing", n);
  cr_assert(eq(u32, got_size, want_size), "size of item %u", n);
  struct cr_mem w = {.data = want, .size = want_size};
  struct cr_mem g = {.data = got, .size = got_size};
  cr_assert(eq(mem, g, w), "content of item %u", n);
}

static void
assert_nothing_to_pop(CommandRing *ring, uint64_t bound)
{
  uint8_t out[COMMAND_RING_PAYLOAD_MAX];
  uint32_t size = 12345;
  cr_assert(not(command_ring_pop(ring, bound, out, &size)));
  cr_assert(eq(u32, size, 12345), "a failed pop must not touch *size");
}

/* ---- creation --------------------------------------------------------------- */

Test(command_ring, capacity_rounds_up_to_a_power_of_two, .fini = teardown)
{
  static const uint32_t cases[][2] = {
    {0, 2}, {1, 2}, {2, 2}, {3, 4}, {8, 8}, {9, 16}, {1000, 1024},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    g_ring = command_ring_new(cases[i][0]);
    cr_assert(not(eq(ptr, g_ring, NULL)));
    cr_assert(eq(u32, command_ring_capacity(g_ring), cases[i][1]), "min_slots %u",
              cases[i][0]);
    teardown();
  }
}

Test(command_ring, absurd_size_and_free_null)
{
  cr_assert(eq(ptr, command_ring_new((1u << 31) + 1u), NULL));
  command_ring_free(NULL);
}

/* ---- single items ----------------------------------------------------------- */

Test(command_ring, empty_ring_pops_nothing, .fini = teardown)
{
  g_ring = command_ring_new(8);
  cr_assert(eq(u32, command_ring_used(g_ring), 0));
  const uint64_t bound = command_ring_begin_drain(g_ring);
  cr_assert(eq(u64, bound, 0));
  assert_nothing_to_pop(g_ring, bound);
  assert_nothing_to_pop(g_ring, UINT64_MAX);
  cr_assert(eq(u64, command_ring_pops(g_ring), 0));
  cr_assert(eq(u32, command_ring_high_water(g_ring), 0));
}

Test(command_ring, one_item_round_trips_byte_exact, .fini = teardown)
{
  g_ring = command_ring_new(8);
  uint8_t in[COMMAND_RING_PAYLOAD_MAX];
  for (uint32_t i = 0; i < COMMAND_RING_PAYLOAD_MAX; ++i) {
    in[i] = (uint8_t)(255u - i);
  }
  /* The largest payload allowed, every byte distinct from its neighbour. */
  cr_assert(eq(int, command_ring_push(g_ring, in, COMMAND_RING_PAYLOAD_MAX), COMMAND_RING_OK));
  cr_assert(eq(u32, command_ring_used(g_ring), 1));
  cr_assert(eq(u64, command_ring_pushes(g_ring), 1));

  uint8_t out[COMMAND_RING_PAYLOAD_MAX] = {0};
  uint32_t size = 0;
  const uint64_t bound = command_ring_begin_drain(g_ring);
  cr_assert(command_ring_pop(g_ring, bound, out, &size));
  cr_assert(eq(u32, size, COMMAND_RING_PAYLOAD_MAX));
  struct cr_mem a = {.data = in, .size = sizeof(in)};
  struct cr_mem b = {.data = out, .size = sizeof(out)};
  cr_assert(eq(mem, b, a));
  assert_nothing_to_pop(g_ring, bound);
  cr_assert(eq(u32, command_ring_used(g_ring), 0));
  cr_assert(eq(u64, command_ring_pops(g_ring), 1));
}

Test(command_ring, size_out_may_be_null, .fini = teardown)
{
  g_ring = command_ring_new(2);
  const char msg[] = "hello";
  cr_assert(eq(int, command_ring_push(g_ring, msg, sizeof(msg)), COMMAND_RING_OK));
  char out[COMMAND_RING_PAYLOAD_MAX];
  cr_assert(command_ring_pop(g_ring, command_ring_begin_drain(g_ring), out, NULL));
  cr_assert(eq(str, out, "hello"));
}

Test(command_ring, zero_size_payload, .fini = teardown)
{
  g_ring = command_ring_new(4);
  cr_assert(eq(int, command_ring_push(g_ring, NULL, 0), COMMAND_RING_OK));
  push_item(g_ring, 7);
  cr_assert(eq(int, command_ring_push(g_ring, "x", 0), COMMAND_RING_OK));

  const uint64_t bound = command_ring_begin_drain(g_ring);
  uint8_t out[COMMAND_RING_PAYLOAD_MAX];
  uint32_t size = 99;
  cr_assert(command_ring_pop(g_ring, bound, out, &size));
  cr_assert(eq(u32, size, 0));
  pop_item(g_ring, bound, 7);
  size = 99;
  cr_assert(command_ring_pop(g_ring, bound, out, &size));
  cr_assert(eq(u32, size, 0));
  assert_nothing_to_pop(g_ring, bound);
}

Test(command_ring, oversized_payload_is_refused_and_ring_unchanged, .fini = teardown)
{
  g_ring = command_ring_new(2);
  uint8_t big[COMMAND_RING_PAYLOAD_MAX + 1];
  memset(big, 0xAB, sizeof(big));

  cr_assert(eq(int, command_ring_push(g_ring, big, COMMAND_RING_PAYLOAD_MAX + 1),
               COMMAND_RING_TOO_BIG));
  cr_assert(eq(int, command_ring_push(g_ring, big, UINT32_MAX), COMMAND_RING_TOO_BIG));
  cr_assert(eq(u32, command_ring_used(g_ring), 0));
  cr_assert(eq(u64, command_ring_pushes(g_ring), 0));
  cr_assert(eq(u64, command_ring_begin_drain(g_ring), 0));

  /* Also with items in it, and when full: TOO_BIG is checked first, and
   * what was queued comes out intact. */
  push_item(g_ring, 1);
  push_item(g_ring, 2);
  cr_assert(eq(int, command_ring_push(g_ring, big, sizeof(big)), COMMAND_RING_TOO_BIG));
  cr_assert(eq(u32, command_ring_used(g_ring), 2));
  cr_assert(eq(u64, command_ring_pushes(g_ring), 2));
  const uint64_t bound = command_ring_begin_drain(g_ring);
  pop_item(g_ring, bound, 1);
  pop_item(g_ring, bound, 2);
  assert_nothing_to_pop(g_ring, bound);
}

/* ---- capacity edges ------------------------------------------------------- */

typedef struct {
  uint32_t min_slots; /* capacity asked for */
  uint32_t capacity;  /* what it rounds to */
  uint32_t items;     /* pushes attempted */
} FillCase;

ParameterizedTestParameters(command_ring, fill_edges)
{
  /* 0, 1, capacity - 1, capacity and capacity + 1 items, for the smallest
   * ring, a small one asked for by a non-power-of-two, and a larger one. */
  static FillCase cases[] = {
    {2, 2, 0},  {2, 2, 1},  {2, 2, 1},  {2, 2, 2},  {2, 2, 3},
    {5, 8, 0},  {5, 8, 1},  {5, 8, 7},  {5, 8, 8},  {5, 8, 9},
    {64, 64, 0}, {64, 64, 1}, {64, 64, 63}, {64, 64, 64}, {64, 64, 65},
  };
  return cr_make_param_array(FillCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(FillCase *fc, command_ring, fill_edges, .fini = teardown)
{
  g_ring = command_ring_new(fc->min_slots);
  cr_assert(eq(u32, command_ring_capacity(g_ring), fc->capacity));

  for (uint32_t n = 0; n < fc->items; ++n) {
    uint8_t buf[COMMAND_RING_PAYLOAD_MAX];
    const uint32_t size = make_item(n, buf);
    const CommandRingResult want = n < fc->capacity ? COMMAND_RING_OK : COMMAND_RING_FULL;
    cr_assert(eq(int, command_ring_push(g_ring, buf, size), want),
              "capacity %u, push %u of %u", fc->capacity, n, fc->items);
  }
  const uint32_t kept = fc->items < fc->capacity ? fc->items : fc->capacity;
  cr_assert(eq(u32, command_ring_used(g_ring), kept));
  cr_assert(eq(u64, command_ring_pushes(g_ring), kept));

  const uint64_t bound = command_ring_begin_drain(g_ring);
  cr_assert(eq(u64, bound, kept));
  cr_assert(eq(u32, command_ring_high_water(g_ring), kept));
  for (uint32_t n = 0; n < kept; ++n) {
    pop_item(g_ring, bound, n);
  }
  assert_nothing_to_pop(g_ring, bound);
  cr_assert(eq(u32, command_ring_used(g_ring), 0));

  /* Every slot was given back: the ring takes a full load again. */
  for (uint32_t n = 0; n < fc->capacity; ++n) {
    push_item(g_ring, 1000 + n);
  }
  cr_assert(eq(int, command_ring_push(g_ring, NULL, 0), COMMAND_RING_FULL));
  const uint64_t again = command_ring_begin_drain(g_ring);
  for (uint32_t n = 0; n < fc->capacity; ++n) {
    pop_item(g_ring, again, 1000 + n);
  }
  assert_nothing_to_pop(g_ring, again);
}

/* ---- wrap-around ---------------------------------------------------------- */

Test(command_ring, wrap_around_keeps_content_and_order, .fini = teardown)
{
  g_ring = command_ring_new(4);
  uint32_t next_in = 0;
  uint32_t next_out = 0;
  /* Batches of 1 to 4 items, popped partly in between, so that the head and
   * tail meet every slot in every phase: 250 laps of the ring and more. */
  for (uint32_t round = 0; round < 1000; ++round) {
    const uint32_t batch = round % 4 + 1;
    for (uint32_t i = 0; i < batch && command_ring_used(g_ring) < 4; ++i) {
      push_item(g_ring, next_in++);
    }
    const uint64_t bound = command_ring_begin_drain(g_ring);
    const uint32_t take = round % 3 == 0 ? 1 : 4;
    for (uint32_t i = 0; i < take && next_out < next_in; ++i) {
      pop_item(g_ring, bound, next_out++);
    }
  }
  const uint64_t bound = command_ring_begin_drain(g_ring);
  while (next_out < next_in) {
    pop_item(g_ring, bound, next_out++);
  }
  assert_nothing_to_pop(g_ring, bound);
  cr_assert(gt(u32, next_in, 40 * 4), "the test must lap the ring many times");
  cr_assert(eq(u64, command_ring_pushes(g_ring), next_in));
  cr_assert(eq(u64, command_ring_pops(g_ring), next_in));
  cr_assert(eq(u32, command_ring_high_water(g_ring), 4));
}

/* ---- snapshot drain -------------------------------------------------------- */

Test(command_ring, items_pushed_after_begin_drain_wait_for_the_next_drain, .fini = teardown)
{
  g_ring = command_ring_new(8);
  push_item(g_ring, 0);
  push_item(g_ring, 1);
  push_item(g_ring, 2);
  const uint64_t first = command_ring_begin_drain(g_ring);
  push_item(g_ring, 3);
  pop_item(g_ring, first, 0);
  push_item(g_ring, 4);
  pop_item(g_ring, first, 1);
  pop_item(g_ring, first, 2);
  /* 3 and 4 are published, but outside this drain's snapshot. */
  assert_nothing_to_pop(g_ring, first);
  cr_assert(eq(u32, command_ring_used(g_ring), 2));

  const uint64_t second = command_ring_begin_drain(g_ring);
  pop_item(g_ring, second, 3);
  pop_item(g_ring, second, 4);
  assert_nothing_to_pop(g_ring, second);
}

Test(command_ring, claimed_but_unpublished_slot_stops_the_drain, .fini = teardown)
{
  g_ring = command_ring_new(8);
  push_item(g_ring, 0);
  uint64_t held = 0;
  cr_assert(command_ring_test_claim(g_ring, &held)); /* a producer preempted here */
  cr_assert(eq(u64, held, 1));
  push_item(g_ring, 2); /* published by another producer, behind the hole */

  const uint64_t first = command_ring_begin_drain(g_ring);
  cr_assert(eq(u64, first, 3), "the bound covers the claimed slot");
  pop_item(g_ring, first, 0);
  /* Item 2 is published and below the bound, yet it must not overtake the
   * held slot: the drain stops, and stays stopped. */
  assert_nothing_to_pop(g_ring, first);
  assert_nothing_to_pop(g_ring, first);
  cr_assert(eq(u32, command_ring_used(g_ring), 2));
  cr_assert(eq(u64, command_ring_pops(g_ring), 1));

  /* The producer wakes up and publishes; the next cycle takes both, in order. */
  uint8_t buf[COMMAND_RING_PAYLOAD_MAX];
  const uint32_t size = make_item(1, buf);
  command_ring_test_publish(g_ring, held, buf, size);
  const uint64_t second = command_ring_begin_drain(g_ring);
  pop_item(g_ring, second, 1);
  pop_item(g_ring, second, 2);
  assert_nothing_to_pop(g_ring, second);
}

Test(command_ring, unpublished_head_blocks_until_published, .fini = teardown)
{
  g_ring = command_ring_new(2);
  uint64_t held = 0;
  cr_assert(command_ring_test_claim(g_ring, &held));
  push_item(g_ring, 1);
  /* Both slots are taken: a claimed slot counts as used. */
  cr_assert(eq(int, command_ring_push(g_ring, NULL, 0), COMMAND_RING_FULL));
  const uint64_t bound = command_ring_begin_drain(g_ring);
  cr_assert(eq(u32, command_ring_high_water(g_ring), 2));
  assert_nothing_to_pop(g_ring, bound);

  uint8_t buf[COMMAND_RING_PAYLOAD_MAX];
  command_ring_test_publish(g_ring, held, buf, make_item(0, buf));
  const uint64_t next = command_ring_begin_drain(g_ring);
  pop_item(g_ring, next, 0);
  pop_item(g_ring, next, 1);
  assert_nothing_to_pop(g_ring, next);
}

/* ---- counters --------------------------------------------------------------- */

Test(command_ring, high_water_is_the_largest_occupancy_at_drain_start, .fini = teardown)
{
  g_ring = command_ring_new(8);
  for (uint32_t n = 0; n < 5; ++n) {
    push_item(g_ring, n);
  }
  cr_assert(eq(u32, command_ring_high_water(g_ring), 0), "sampled at drain start only");
  uint64_t bound = command_ring_begin_drain(g_ring);
  cr_assert(eq(u32, command_ring_high_water(g_ring), 5));
  for (uint32_t n = 0; n < 5; ++n) {
    pop_item(g_ring, bound, n);
  }
  push_item(g_ring, 5);
  push_item(g_ring, 6);
  bound = command_ring_begin_drain(g_ring);
  cr_assert(eq(u32, command_ring_high_water(g_ring), 5), "the mark never goes down");
  pop_item(g_ring, bound, 5);
  pop_item(g_ring, bound, 6);
  for (uint32_t n = 0; n < 8; ++n) {
    push_item(g_ring, 10 + n);
  }
  (void)command_ring_begin_drain(g_ring);
  cr_assert(eq(u32, command_ring_high_water(g_ring), 8));
  cr_assert(eq(u64, command_ring_pushes(g_ring), 15));
  cr_assert(eq(u64, command_ring_pops(g_ring), 7));
}

/* ---- a short concurrent run (the stress executable goes further) --------- */

#define CONC_PRODUCERS 4
#define CONC_ITEMS 20000

typedef struct {
  CommandRing *ring;
  uint32_t id;
} ConcArg;

static void *
conc_producer(void *p)
{
  const ConcArg *arg = p;
  for (uint32_t seq = 0; seq < CONC_ITEMS; ++seq) {
    const uint32_t item[2] = {arg->id, seq};
    while (command_ring_push(arg->ring, item, sizeof(item)) == COMMAND_RING_FULL) {
      sched_yield();
    }
  }
  return NULL;
}

Test(command_ring, concurrent_producers_each_arrive_in_order, .fini = teardown)
{
  g_ring = command_ring_new(16);
  pthread_t threads[CONC_PRODUCERS];
  ConcArg args[CONC_PRODUCERS];
  for (uint32_t i = 0; i < CONC_PRODUCERS; ++i) {
    args[i] = (ConcArg){g_ring, i};
    cr_assert(eq(int, pthread_create(&threads[i], NULL, conc_producer, &args[i]), 0));
  }
  uint32_t next[CONC_PRODUCERS] = {0};
  uint32_t total = 0;
  while (total < CONC_PRODUCERS * CONC_ITEMS) {
    const uint64_t bound = command_ring_begin_drain(g_ring);
    uint32_t item[COMMAND_RING_PAYLOAD_MAX / sizeof(uint32_t)];
    uint32_t size = 0;
    bool any = false;
    while (command_ring_pop(g_ring, bound, item, &size)) {
      cr_assert(eq(u32, size, 2 * sizeof(uint32_t)));
      cr_assert(lt(u32, item[0], CONC_PRODUCERS));
      cr_assert(eq(u32, item[1], next[item[0]]), "producer %u out of order", item[0]);
      ++next[item[0]];
      ++total;
      any = true;
    }
    if (!any) {
      sched_yield();
    }
  }
  for (uint32_t i = 0; i < CONC_PRODUCERS; ++i) {
    cr_assert(eq(int, pthread_join(threads[i], NULL), 0));
  }
  assert_nothing_to_pop(g_ring, command_ring_begin_drain(g_ring));
  cr_assert(eq(u64, command_ring_pops(g_ring), (uint64_t)CONC_PRODUCERS * CONC_ITEMS));
}
