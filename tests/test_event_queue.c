/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The held-event queue (src/queues/event_queue.c), alone: items come out by
 * frame on JACK's wrapping frame clock, items of one frame in the order
 * they went in, a full queue refuses without changing, and a random mix
 * of pushes and pops matches a sorted model.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "event_queue.h"

typedef struct {
  uint32_t id;
  char pad[60];
} Item;

static EventQueue *q;

static void
make8(void)
{
  q = event_queue_new(8, sizeof(Item));
  cr_assert(q != NULL);
}

static void
done(void)
{
  event_queue_free(q);
  q = NULL;
}

static void
push(uint32_t frame, uint32_t id)
{
  Item it = {.id = id};
  memset(it.pad, (int)id, sizeof it.pad);
  cr_assert(event_queue_push(q, frame, &it), "push %u at %u", id, frame);
}

static uint32_t
pop_id(uint32_t want_frame)
{
  Item it;
  uint32_t frame = 0;
  cr_assert(event_queue_pop(q, &frame, &it));
  cr_assert(eq(u32, frame, want_frame));
  for (size_t i = 0; i < sizeof it.pad; ++i)
    cr_assert(eq(int, it.pad[i], (char)it.id), "the item came out whole");
  return it.id;
}

Test(event_queue, by_frame_then_push_order, .init = make8, .fini = done)
{
  push(500, 1);
  push(100, 2);
  push(300, 3);
  push(100, 4);
  push(300, 5);
  push(100, 6);
  uint32_t f;
  cr_assert(event_queue_peek(q, &f));
  cr_assert(eq(u32, f, 100));
  cr_assert(eq(u32, pop_id(100), 2));
  cr_assert(eq(u32, pop_id(100), 4));
  cr_assert(eq(u32, pop_id(100), 6));
  cr_assert(eq(u32, pop_id(300), 3));
  cr_assert(eq(u32, pop_id(300), 5));
  cr_assert(eq(u32, pop_id(500), 1));
  cr_assert(not(event_queue_peek(q, &f)));
  Item it;
  cr_assert(not(event_queue_pop(q, NULL, &it)));
}

Test(event_queue, frames_wrap_around, .init = make8, .fini = done)
{
  push(10, 1);               /* after the wrap */
  push(UINT32_MAX - 5, 2);   /* before it */
  push(UINT32_MAX, 3);
  cr_assert(eq(u32, pop_id(UINT32_MAX - 5), 2));
  cr_assert(eq(u32, pop_id(UINT32_MAX), 3));
  cr_assert(eq(u32, pop_id(10), 1));
}

Test(event_queue, full_refuses_and_keeps_what_it_holds, .init = make8, .fini = done)
{
  for (uint32_t i = 0; i < 8; ++i)
    push(1000 - i, i);
  cr_assert(eq(u32, event_queue_count(q), 8));
  Item it = {.id = 99};
  cr_assert(not(event_queue_push(q, 1, &it)), "a full queue refuses");
  cr_assert(eq(u32, event_queue_count(q), 8));
  for (uint32_t i = 0; i < 8; ++i)
    cr_assert(eq(u32, pop_id(993 + i), 7 - i));
  push(5, 42); /* room again */
  cr_assert(eq(u32, pop_id(5), 42));
}

/* A model: the same pushes and pops against a sorted list. */
Test(event_queue, random_mix_matches_a_model)
{
  q = event_queue_new(64, sizeof(Item));
  cr_assert(q != NULL);
  struct {
    uint32_t frame, seq, id;
  } model[64];
  int n = 0;
  uint32_t seq = 0, id = 0;
  unsigned seed = 7;
  const uint32_t base = UINT32_MAX - 20000; /* crosses the wrap */
  for (int step = 0; step < 100000; ++step) {
    if (n < 64 && (n == 0 || rand_r(&seed) % 3 != 0)) {
      const uint32_t frame = base + (uint32_t)(rand_r(&seed) % 40000);
      push(frame, id);
      model[n].frame = frame;
      model[n].seq = seq++;
      model[n].id = id++;
      ++n;
    } else {
      int best = 0;
      for (int i = 1; i < n; ++i) {
        const int32_t d = (int32_t)(model[i].frame - model[best].frame);
        if (d < 0 || (d == 0 && model[i].seq < model[best].seq))
          best = i;
      }
      cr_assert(eq(u32, pop_id(model[best].frame), model[best].id), "step %d", step);
      model[best] = model[--n];
    }
    cr_assert(eq(u32, event_queue_count(q), (uint32_t)n));
  }
  event_queue_free(q);
  q = NULL;
}
