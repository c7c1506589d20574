/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stress test of the command ring: P producer threads each push N numbered
 * items, retrying with sched_yield() while the ring is full, and one
 * consumer thread drains in snapshot rounds, as the RT thread would once a
 * cycle. Every producer's items must arrive complete, exactly once, in
 * order and byte-exact.
 *
 * A plain executable, not Criterion, so that it runs under ThreadSanitizer.
 *
 *   stress_command_ring [PRODUCERS [ITEMS_PER_PRODUCER [SLOTS]]]
 *
 * Defaults: 4 producers, 200000 items each, 256 slots. The last line is
 * "P passed, F failed", one check per producer (plus one failure for any
 * ring-wide inconsistency); the exit status is 0 only when nothing failed.
 */

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime(), sched_yield() under -std=c11 */
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command_ring.h"

#define MAX_PRODUCERS 64

/* The consumer gives up when nothing arrives for this long: a lost or stuck
 * slot would otherwise leave producers retrying forever on a full ring. */
#define STALL_SECONDS 10.0

/* What each item starts with; a filler pattern follows, of a length that
 * varies with the item, so that torn or mixed-up slots show. */
typedef struct {
  uint32_t producer;
  uint32_t size;
  uint64_t seq;
} ItemHeader;

typedef struct {
  CommandRing *ring;
  uint32_t id;
  uint32_t items;
  const atomic_bool *go;
  uint64_t full_retries; /* written by the producer, read after join */
} Producer;

typedef struct {
  uint64_t next;      /* sequence number expected next */
  uint64_t received;  /* items received */
  uint64_t misorders; /* items that were not the expected next one */
  uint64_t corrupt;   /* items with a wrong size or content */
} Tally;

typedef struct {
  CommandRing *ring;
  uint32_t producers;
  uint64_t total;
  const atomic_bool *producers_done;
  Tally tally[MAX_PRODUCERS];
  uint64_t strangers;       /* items naming no known producer */
  uint64_t bound_overruns;  /* rounds that popped past their snapshot */
  uint64_t rounds;          /* drain rounds that popped something */
  uint64_t max_round;       /* most items popped in one round */
} Consumer;

static uint32_t
item_size(uint32_t producer, uint64_t seq)
{
  const uint32_t span = COMMAND_RING_PAYLOAD_MAX - (uint32_t)sizeof(ItemHeader) + 1u;
  return (uint32_t)sizeof(ItemHeader) + (uint32_t)((seq * 7u + producer) % span);
}

static uint8_t
filler(uint32_t producer, uint64_t seq, uint32_t i)
{
  return (uint8_t)(seq * 31u + producer * 17u + i);
}

static void *
producer_main(void *p)
{
  Producer *prod = p;
  uint8_t buf[COMMAND_RING_PAYLOAD_MAX];
  /* Acquire: pairs with the release that opens the gate; only for a
   * common start, nothing is handed over through it. */
  while (!atomic_load_explicit(prod->go, memory_order_acquire)) {
    sched_yield();
  }
  for (uint64_t seq = 0; seq < prod->items; ++seq) {
    const uint32_t size = item_size(prod->id, seq);
    const ItemHeader head = {prod->id, size, seq};
    memcpy(buf, &head, sizeof(head));
    for (uint32_t i = (uint32_t)sizeof(head); i < size; ++i) {
      buf[i] = filler(prod->id, seq, i);
    }
    CommandRingResult r;
    while ((r = command_ring_push(prod->ring, buf, size)) == COMMAND_RING_FULL) {
      ++prod->full_retries;
      sched_yield();
    }
    if (r != COMMAND_RING_OK) {
      fprintf(stderr, "producer %u: push of item %" PRIu64 " returned %d\n", prod->id, seq,
              (int)r);
      return NULL;
    }
  }
  return NULL;
}

static void
check_item(Consumer *con, const uint8_t *buf, uint32_t size)
{
  ItemHeader head;
  if (size < sizeof(head)) {
    ++con->strangers;
    return;
  }
  memcpy(&head, buf, sizeof(head));
  if (head.producer >= con->producers) {
    ++con->strangers;
    return;
  }
  Tally *t = &con->tally[head.producer];
  ++t->received;
  if (head.seq != t->next) {
    if (t->misorders == 0) {
      fprintf(stderr, "producer %u: expected item %" PRIu64 ", got %" PRIu64 " (%s)\n",
              head.producer, t->next, head.seq, head.seq < t->next ? "duplicate or late" : "gap");
    }
    ++t->misorders;
  }
  t->next = head.seq + 1;
  bool intact = size == head.size && size == item_size(head.producer, head.seq);
  for (uint32_t i = (uint32_t)sizeof(head); intact && i < size; ++i) {
    intact = buf[i] == filler(head.producer, head.seq, i);
  }
  if (!intact) {
    if (t->corrupt == 0) {
      fprintf(stderr, "producer %u: item %" PRIu64 " corrupt (size %u)\n", head.producer,
              head.seq, size);
    }
    ++t->corrupt;
  }
}

static double
now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *
consumer_main(void *p)
{
  Consumer *con = p;
  uint8_t buf[COMMAND_RING_PAYLOAD_MAX];
  uint64_t popped = 0;
  double last_item = now_seconds();
  while (popped < con->total) {
    /* Acquire: pairs with the release after every producer was joined, so
     * that, when set, every push is complete and this round sees it all. */
    const bool done = atomic_load_explicit(con->producers_done, memory_order_acquire);
    const uint64_t start = command_ring_pops(con->ring);
    const uint64_t bound = command_ring_begin_drain(con->ring);
    uint64_t round = 0;
    uint32_t size = 0;
    while (command_ring_pop(con->ring, bound, buf, &size)) {
      check_item(con, buf, size);
      ++round;
    }
    if (round > bound - start) {
      ++con->bound_overruns;
    }
    popped += round;
    if (round > 0) {
      last_item = now_seconds();
      ++con->rounds;
      if (round > con->max_round) {
        con->max_round = round;
      }
    } else if (done) {
      break; /* everything pushed has been drained: the rest is lost */
    } else if (now_seconds() - last_item > STALL_SECONDS) {
      /* Producers may be stuck on a ring that never frees: report and stop
       * the whole process, since they cannot be joined. */
      const uint64_t items = con->total / con->producers;
      unsigned passed = 0;
      for (uint32_t i = 0; i < con->producers; ++i) {
        const Tally *t = &con->tally[i];
        passed += t->received == items && t->misorders == 0 && t->corrupt == 0;
      }
      printf("FAIL ring: nothing arrived for %.0f s after %" PRIu64 " of %" PRIu64
             " items (used %u of %u)\n%u passed, %u failed\n",
             STALL_SECONDS, popped, con->total, command_ring_used(con->ring),
             command_ring_capacity(con->ring), passed, con->producers - passed + 1);
      fflush(stdout);
      exit(1);
    } else {
      sched_yield(); /* the RT thread would wait for its next cycle here */
    }
  }
  return NULL;
}

static bool
parse_count(const char *arg, unsigned long min, unsigned long max, unsigned long *out)
{
  char *end = NULL;
  errno = 0;
  const unsigned long v = strtoul(arg, &end, 10);
  if (errno != 0 || end == arg || *end != '\0' || v < min || v > max) {
    return false;
  }
  *out = v;
  return true;
}

int
main(int argc, char **argv)
{
  unsigned long producers = 4;
  unsigned long items = 200000;
  unsigned long slots = 256;
  if (argc > 4 || (argc > 1 && !parse_count(argv[1], 1, MAX_PRODUCERS, &producers)) ||
      (argc > 2 && !parse_count(argv[2], 1, UINT32_MAX, &items)) ||
      (argc > 3 && !parse_count(argv[3], 2, 1u << 20, &slots))) {
    fprintf(stderr,
            "usage: %s [PRODUCERS (1-%d) [ITEMS_PER_PRODUCER [SLOTS (2-1048576)]]]\n"
            "defaults: 4 200000 256\n",
            argv[0], MAX_PRODUCERS);
    return 2;
  }

  CommandRing *ring = command_ring_new((uint32_t)slots);
  if (!ring) {
    fprintf(stderr, "command_ring_new(%lu) failed\n", slots);
    return 1;
  }
  printf("command_ring stress: %lu producers x %lu items, %u slots\n", producers, items,
         command_ring_capacity(ring));

  atomic_bool go;
  atomic_bool producers_done;
  atomic_init(&go, false);
  atomic_init(&producers_done, false);

  static Producer prod[MAX_PRODUCERS];
  static Consumer con;
  con = (Consumer){
    .ring = ring,
    .producers = (uint32_t)producers,
    .total = (uint64_t)producers * items,
    .producers_done = &producers_done,
  };

  pthread_t consumer_thread;
  pthread_t producer_threads[MAX_PRODUCERS];
  if (pthread_create(&consumer_thread, NULL, consumer_main, &con) != 0) {
    fprintf(stderr, "cannot start the consumer thread\n");
    return 1;
  }
  for (uint32_t i = 0; i < producers; ++i) {
    prod[i] = (Producer){.ring = ring, .id = i, .items = (uint32_t)items, .go = &go};
    if (pthread_create(&producer_threads[i], NULL, producer_main, &prod[i]) != 0) {
      fprintf(stderr, "cannot start producer thread %u\n", i);
      return 1;
    }
  }

  const double t0 = now_seconds();
  /* Release: see the producers' acquire; opens the gate for all at once. */
  atomic_store_explicit(&go, true, memory_order_release);
  uint64_t full_retries = 0;
  for (uint32_t i = 0; i < producers; ++i) {
    pthread_join(producer_threads[i], NULL);
    full_retries += prod[i].full_retries;
  }
  /* Release: every push happens before the consumer's final round. */
  atomic_store_explicit(&producers_done, true, memory_order_release);
  pthread_join(consumer_thread, NULL);
  const double elapsed = now_seconds() - t0;

  unsigned passed = 0;
  unsigned failed = 0;
  for (uint32_t i = 0; i < producers; ++i) {
    const Tally *t = &con.tally[i];
    if (t->received == items && t->next == items && t->misorders == 0 && t->corrupt == 0) {
      ++passed;
    } else {
      ++failed;
      printf("FAIL producer %u: %" PRIu64 " of %lu items received, %" PRIu64
             " out of order, %" PRIu64 " corrupt\n",
             i, t->received, items, t->misorders, t->corrupt);
    }
  }

  const uint64_t total = (uint64_t)producers * items;
  const uint64_t pushes = command_ring_pushes(ring);
  const uint64_t pops = command_ring_pops(ring);
  if (con.strangers != 0 || con.bound_overruns != 0 || pushes != total || pops != total ||
      command_ring_used(ring) != 0) {
    ++failed;
    printf("FAIL ring: %" PRIu64 " pushes and %" PRIu64 " pops for %" PRIu64 " items, %u left,"
           " %" PRIu64 " items of no producer, %" PRIu64 " rounds past their snapshot\n",
           pushes, pops, total, command_ring_used(ring), con.strangers, con.bound_overruns);
  }

  printf("ring: high water %u of %u slots, %" PRIu64 " full retries, %" PRIu64
         " drain rounds (at most %" PRIu64 " items in one)\n",
         command_ring_high_water(ring), command_ring_capacity(ring), full_retries, con.rounds,
         con.max_round);
  printf("throughput: %" PRIu64 " items in %.3f s, %.0f items/s\n", pops, elapsed,
         elapsed > 0 ? (double)pops / elapsed : 0.0);
  printf("%u passed, %u failed\n", passed, failed);

  command_ring_free(ring);
  return failed == 0 ? 0 : 1;
}
