/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the command ring's slot codec (src/queues/command_ring.c),
 * single-threaded, checked against a model; -DCOMMAND_RING_TESTING for the
 * claim/publish hooks (a producer preempted between the two). Input: byte 0
 * picks the size asked for (1..64 slots); then each byte is one operation,
 * some taking one more byte as argument:
 *   0-2  push, size = next byte scaled to 0..COMMAND_RING_PAYLOAD_MAX + 15
 *        (so some pushes are too big); payload a pattern of (position, salt)
 *   3    begin_drain: a new bound
 *   4    pop up to next byte % 8 + 1 items under the current bound
 *   5    claim a slot and hold it unpublished (at most one held)
 *   6    publish the held slot
 * At the end the held slot is published and the ring drained completely.
 *
 * Checked (abort() on violation): FIFO order, every item exactly once,
 * byte-exact payload and size; FULL exactly when the model is full;
 * TOO_BIG leaves the ring untouched; a pop never passes the bound or an
 * unpublished slot; the counters, used() and high_water() agree.
 */
#include "command_ring.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "fuzz_command_ring: check failed at %s:%d: %s\n", __FILE__, \
              __LINE__, #cond);                                                   \
      abort();                                                                    \
    }                                                                             \
  } while (0)

#define MODEL_MAX 64u /* the largest ring this target asks for */

typedef struct {
  uint32_t size;
  uint8_t salt;
  int published;
} Item;

static Item model[MODEL_MAX]; /* indexed by position % capacity */

static uint8_t
pattern(uint64_t pos, uint8_t salt, uint32_t i)
{
  return (uint8_t)(pos * 131u + salt * 7u + i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0) {
    return 0;
  }
  const uint32_t asked = 1u + data[0] % MODEL_MAX;
  CommandRing *ring = command_ring_new(asked);
  CHECK(ring != NULL);
  const uint32_t cap = command_ring_capacity(ring);
  CHECK(cap >= 2 && cap >= asked && cap <= MODEL_MAX && (cap & (cap - 1)) == 0);
  CHECK(cap == 2 || cap / 2 < asked);

  uint64_t head = 0, tail = 0, bound = 0, held = 0;
  uint32_t high = 0;
  int holding = 0;
  uint8_t buf[COMMAND_RING_PAYLOAD_MAX], out[COMMAND_RING_PAYLOAD_MAX];

  for (size_t i = 1;; ++i) {
    /* Past the end of the input: publish what is held, then drain all. */
    const int last = i >= size;
    const uint8_t op = last ? 4 : data[i] % 7;
    const uint8_t arg = i + 1 < size ? data[i + 1] : 0;
    if (last && holding) {
      command_ring_test_publish(ring, held, NULL, 0);
      model[held % cap].published = 1;
      holding = 0;
    }
    if (op <= 2) {
      const uint32_t n = (uint32_t)arg * (COMMAND_RING_PAYLOAD_MAX + 16u) / 256u;
      for (uint32_t b = 0; b < n && b < COMMAND_RING_PAYLOAD_MAX; ++b) {
        buf[b] = pattern(tail, (uint8_t)i, b);
      }
      const CommandRingResult r = command_ring_push(ring, n ? buf : NULL, n);
      if (n > COMMAND_RING_PAYLOAD_MAX) {
        CHECK(r == COMMAND_RING_TOO_BIG);
      } else if (tail - head == cap) {
        CHECK(r == COMMAND_RING_FULL);
      } else {
        CHECK(r == COMMAND_RING_OK);
        model[tail % cap] = (Item){.size = n, .salt = (uint8_t)i, .published = 1};
        ++tail;
      }
      ++i;
    } else if (op == 3 || last) {
      bound = command_ring_begin_drain(ring);
      CHECK(bound == tail);
      if (tail - head > high) {
        high = (uint32_t)(tail - head);
      }
    }
    if (op == 4) {
      const unsigned n = last ? cap + 1 : arg % 8u + 1u;
      for (unsigned k = 0; k < n; ++k) {
        uint32_t got = 0xFFFFFFFFu;
        const int popped = command_ring_pop(ring, bound, out, &got);
        const int expect = head < bound && head < tail && model[head % cap].published;
        CHECK(popped == expect);
        if (!popped) {
          break;
        }
        const Item *it = &model[head % cap];
        CHECK(got == it->size && got <= COMMAND_RING_PAYLOAD_MAX);
        for (uint32_t b = 0; b < got; ++b) {
          CHECK(out[b] == pattern(head, it->salt, b));
        }
        ++head;
      }
      i += !last;
    } else if (op == 5 && !holding) {
      uint64_t pos = 0;
      const int ok = command_ring_test_claim(ring, &pos);
      CHECK(ok == (tail - head < cap));
      if (ok) {
        CHECK(pos == tail);
        model[tail % cap] = (Item){.size = 0, .salt = 0, .published = 0};
        held = tail++;
        holding = 1;
      }
    } else if (op == 6 && holding) {
      command_ring_test_publish(ring, held, NULL, 0);
      model[held % cap].published = 1;
      holding = 0;
    }
    CHECK(command_ring_pushes(ring) == tail);
    CHECK(command_ring_pops(ring) == head);
    CHECK(command_ring_used(ring) == tail - head);
    CHECK(command_ring_high_water(ring) == high);
    if (last) {
      break;
    }
  }
  /* Everything pushed came out, in order, exactly once. */
  CHECK(head == tail && command_ring_used(ring) == 0);
  command_ring_free(ring);
  return 0;
}
