/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command ring's own cost (src/queues/command_ring.c, csjack's only road to the
 * JACK thread), with jack_ringbuffer as the reference.
 *
 * Throughput: producers push 64-byte commands as fast as they can into a
 * ring of 1024 slots (csjack's size); one consumer drains it as the JACK
 * thread does, in snapshot rounds (command_ring_begin_drain, then pop until
 * false), but back to back instead of once per period. A full ring makes a
 * producer yield. Like the JACK thread, which drains once per period, the
 * consumer works in batches: after a round that found less than a quarter
 * of the ring it keeps off the ring for 10 us (spinning on the clock)
 * instead of chasing the producer item by item, where both ends bounce
 * every slot's cache line: a regime a once-per-period drain never enters,
 * which without the pause took over whole runs at random (3.5 instead of
 * 20 million items/s here). When two CPUs are allowed, the consumer is
 * pinned to one and every producer to the other: application threads and
 * the JACK thread on different cores, the case where slots travel between
 * caches (unpinned, the figures depended on where the scheduler put the
 * threads). The main thread samples the consumer's count over equal
 * windows after a warm-up; the figure is the median window's items/s.
 * Every item carries its producer and a sequence number, and the consumer
 * checks per-producer order.
 *
 * Even so, on a shared 2-CPU virtual machine whole runs still came out
 * about four times slower (6.5 instead of 26 million items/s, all cases
 * alike) while other work ran: compare figures within one run, not across.
 *
 * Reference: jack_ringbuffer moving the same 64-byte records through the
 * same 64 KiB (1023 records), read in the same snapshot style (read space
 * once, then that many records). jack_ringbuffer is single producer, single
 * consumer only, so it runs with one producer, and only the 1-producer
 * case of the command ring compares like with like; with N producers it
 * would need a lock around the writes, which is the price the command
 * ring's CAS replaces.
 *
 * Drain cost: a filler thread pushes 1024 commands (a full ring), then the
 * consumer times, with CLOCK_MONOTONIC, one begin_drain plus 1024 pops. The
 * two threads are pinned to different CPUs when two are allowed, so the
 * consumer pulls the slots from another core's cache, as the JACK thread
 * does. Figure: median over the rounds of the drain time / 1024.
 *
 * With N producers on one core, the N-producer figure includes the
 * producers' time-sharing of that core (and their CAS contention when one
 * is preempted between claim and publish); on more CPUs they still share
 * one, so figures compare across machines.
 */

#include "ring_bench.h"

#include "command_ring.h"

#include <jack/ringbuffer.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING_SLOTS 1024u
#define RECORD_SIZE 64u
#define MAX_PRODUCERS 64
#define WINDOWS 5
#define DRAIN_ITEMS 1024u
#define CACHE_LINE 64
/* The throughput consumer pauses after a round of fewer items than this. */
#define LOW_BATCH (RING_SLOTS / 4)
#define PAUSE_NS 10000u

/* One 64-byte command: who sent it, its number, and filler. */
typedef struct {
  uint32_t producer;
  uint32_t reserved;
  uint64_t seq;
  uint8_t body[RECORD_SIZE - 16];
} Record;

_Static_assert(sizeof(Record) == RECORD_SIZE, "a record is 64 bytes");

static double
now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t
now_ns(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void
sleep_s(double s)
{
  if (s <= 0) {
    return;
  }
  struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&t, &t) != 0) {
  }
}

static int
compare_double(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
  if (n == 0) {
    return 0;
  }
  qsort(v, n, sizeof *v, compare_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- CPUs ------------------------------------------------------------------ */

static void
pin_to(int cpu)
{
  if (cpu < 0) {
    return;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  /* Best effort: unpinned, the figure is only less controlled. */
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* The first two CPUs this process may use, or -1. */
static void
pick_cpus(int *a, int *b)
{
  *a = *b = -1;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    return;
  }
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (CPU_ISSET(i, &set)) {
      if (*a < 0) {
        *a = i;
      } else {
        *b = i;
        return;
      }
    }
  }
  *a = -1; /* one CPU only: pinning both to it would prove nothing */
}

/* ---- Throughput ------------------------------------------------------------ */

typedef enum { KIND_COMMAND_RING, KIND_JACK_RINGBUFFER } Kind;

typedef struct {
  Kind kind;
  CommandRing *ring;
  jack_ringbuffer_t *jrb;
  int producers;
  int producer_cpu; /* -1: not pinned */
  int consumer_cpu;
  /* Each on its own line: the flag is read by all, the count written by the
   * consumer and read by the sampling main thread. */
  _Alignas(CACHE_LINE) atomic_bool stop;
  _Alignas(CACHE_LINE) _Atomic uint64_t consumed;
  _Alignas(CACHE_LINE) uint64_t order_errors; /* consumer's, read after join */
} Case;

typedef struct {
  Case *c;
  uint32_t id;
} ProducerArg;

static void *
producer_main(void *data)
{
  const ProducerArg *arg = data;
  Case *c = arg->c;
  pin_to(c->producer_cpu);
  Record rec;
  memset(&rec, 0xA5, sizeof rec);
  rec.producer = arg->id;
  rec.seq = 0;
  while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
    if (c->kind == KIND_COMMAND_RING) {
      if (command_ring_push(c->ring, &rec, sizeof rec) == COMMAND_RING_OK) {
        ++rec.seq;
      } else {
        sched_yield();
      }
    } else {
      if (jack_ringbuffer_write_space(c->jrb) >= sizeof rec) {
        jack_ringbuffer_write(c->jrb, (const char *)&rec, sizeof rec);
        ++rec.seq;
      } else {
        sched_yield();
      }
    }
  }
  return NULL;
}

/* Checks per-producer order; returns 1 for an item out of order. */
static inline uint64_t
check(const Record *r, uint32_t size, uint64_t *next_seq, int producers)
{
  if (size != RECORD_SIZE || r->producer >= (uint32_t)producers ||
      r->seq != next_seq[r->producer]) {
    return 1;
  }
  ++next_seq[r->producer];
  return 0;
}

static void *
consumer_main(void *data)
{
  Case *c = data;
  pin_to(c->consumer_cpu);
  uint64_t next_seq[MAX_PRODUCERS] = {0};
  _Alignas(CACHE_LINE) uint8_t buf[COMMAND_RING_PAYLOAD_MAX];
  uint64_t total = 0, errors = 0;
  while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
    uint64_t n = 0;
    if (c->kind == KIND_COMMAND_RING) {
      /* One snapshot round, as the JACK thread drains once per cycle. */
      const uint64_t bound = command_ring_begin_drain(c->ring);
      uint32_t size = 0;
      while (command_ring_pop(c->ring, bound, buf, &size)) {
        errors += check((const Record *)buf, size, next_seq, c->producers);
        ++n;
      }
    } else {
      /* The same snapshot: what is readable now, record by record. */
      const size_t ready = jack_ringbuffer_read_space(c->jrb) / RECORD_SIZE;
      for (size_t i = 0; i < ready; ++i) {
        jack_ringbuffer_read(c->jrb, (char *)buf, RECORD_SIZE);
        errors += check((const Record *)buf, RECORD_SIZE, next_seq, c->producers);
      }
      n = ready;
    }
    if (n) {
      total += n;
      /* Relaxed: the main thread wants the figure, not data behind it. */
      atomic_store_explicit(&c->consumed, total, memory_order_relaxed);
    }
    if (n < LOW_BATCH) {
      /* Batch, as a once-per-period drain does: keep off the ring's cache
       * lines for a moment rather than chase the producer item by item. */
      const uint64_t until = now_ns() + PAUSE_NS;
      while (now_ns() < until) {
      }
    }
  }
  c->order_errors = errors;
  return NULL;
}

/* Runs one throughput case for about `seconds`: a warm-up of a tenth, then
 * WINDOWS equal windows; returns the median window's items/s. */
static double
run_throughput(Kind kind, int producers, double seconds)
{
  Case *c = aligned_alloc(CACHE_LINE, sizeof(Case));
  if (!c) {
    return 0;
  }
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->producers = producers;
  pick_cpus(&c->producer_cpu, &c->consumer_cpu);
  atomic_init(&c->stop, false);
  atomic_init(&c->consumed, 0);
  if (kind == KIND_COMMAND_RING) {
    c->ring = command_ring_new(RING_SLOTS);
  } else {
    c->jrb = jack_ringbuffer_create(RING_SLOTS * RECORD_SIZE);
  }
  if (!c->ring && !c->jrb) {
    free(c);
    return 0;
  }

  pthread_t consumer;
  pthread_t threads[MAX_PRODUCERS];
  ProducerArg args[MAX_PRODUCERS];
  int started = 0;
  const bool consumer_ok = pthread_create(&consumer, NULL, consumer_main, c) == 0;
  for (int i = 0; consumer_ok && i < producers; ++i) {
    args[i].c = c;
    args[i].id = (uint32_t)i;
    if (pthread_create(&threads[i], NULL, producer_main, &args[i]) != 0) {
      break;
    }
    ++started;
  }

  double rates[WINDOWS];
  size_t nrates = 0;
  if (consumer_ok && started == producers) {
    const double window = seconds * 0.9 / WINDOWS;
    sleep_s(seconds * 0.1);
    double t0 = now_s();
    uint64_t n0 = atomic_load_explicit(&c->consumed, memory_order_relaxed);
    for (int w = 0; w < WINDOWS; ++w) {
      sleep_s(window);
      const double t1 = now_s();
      const uint64_t n1 = atomic_load_explicit(&c->consumed, memory_order_relaxed);
      rates[nrates++] = (double)(n1 - n0) / (t1 - t0);
      t0 = t1;
      n0 = n1;
    }
  }
  atomic_store_explicit(&c->stop, true, memory_order_relaxed);
  for (int i = 0; i < started; ++i) {
    pthread_join(threads[i], NULL);
  }
  if (consumer_ok) {
    pthread_join(consumer, NULL);
  }
  if (c->order_errors) {
    fprintf(stderr, "ring_bench: %s: %llu items out of order or damaged\n",
            kind == KIND_COMMAND_RING ? "command ring" : "jack_ringbuffer",
            (unsigned long long)c->order_errors);
  }
  command_ring_free(c->ring);
  if (c->jrb) {
    jack_ringbuffer_free(c->jrb);
  }
  free(c);
  return median(rates, nrates);
}

/* ---- Drain cost ------------------------------------------------------------- */

typedef struct {
  CommandRing *ring;
  int cpu; /* -1: not pinned */
} FillArg;

static void *
filler_main(void *data)
{
  const FillArg *arg = data;
  pin_to(arg->cpu);
  Record rec;
  memset(&rec, 0x5A, sizeof rec);
  for (uint32_t i = 0; i < DRAIN_ITEMS; ++i) {
    rec.seq = i;
    if (command_ring_push(arg->ring, &rec, sizeof rec) != COMMAND_RING_OK) {
      break;
    }
  }
  return NULL;
}

typedef struct {
  double seconds;
  int fill_cpu;
  int drain_cpu;
  double result_ns;
} DrainArg;

static void *
drain_main(void *data)
{
  DrainArg *arg = data;
  pin_to(arg->drain_cpu);
  arg->result_ns = 0;
  CommandRing *ring = command_ring_new(DRAIN_ITEMS);
  enum { MAX_ROUNDS = 4000, WARMUP_ROUNDS = 5, MIN_ROUNDS = 21 };
  double *per_item = malloc(MAX_ROUNDS * sizeof *per_item);
  if (!ring || !per_item) {
    command_ring_free(ring);
    free(per_item);
    return NULL;
  }
  _Alignas(CACHE_LINE) uint8_t buf[COMMAND_RING_PAYLOAD_MAX];
  size_t n = 0;
  uint64_t sink = 0;
  const double end = now_s() + arg->seconds;
  for (int round = 0; round < MAX_ROUNDS + WARMUP_ROUNDS; ++round) {
    if (round >= WARMUP_ROUNDS + MIN_ROUNDS && now_s() > end) {
      break;
    }
    FillArg fill = {ring, arg->fill_cpu};
    pthread_t filler;
    if (pthread_create(&filler, NULL, filler_main, &fill) != 0) {
      break;
    }
    pthread_join(filler, NULL);

    /* What the JACK thread does with a full ring in one cycle. */
    const uint64_t t0 = now_ns();
    const uint64_t bound = command_ring_begin_drain(ring);
    uint32_t size = 0, popped = 0;
    while (command_ring_pop(ring, bound, buf, &size)) {
      sink += buf[RECORD_SIZE - 1];
      ++popped;
    }
    const uint64_t t1 = now_ns();
    if (round >= WARMUP_ROUNDS && popped > 0) {
      per_item[n++] = (double)(t1 - t0) / popped;
    }
  }
  /* Keeps the copies from being optimised away. */
  if (sink == 1) {
    fputs("", stderr);
  }
  arg->result_ns = median(per_item, n);
  free(per_item);
  command_ring_free(ring);
  return NULL;
}

static double
run_drain(double seconds)
{
  DrainArg arg = {seconds, -1, -1, 0};
  pick_cpus(&arg.fill_cpu, &arg.drain_cpu);
  pthread_t t;
  if (pthread_create(&t, NULL, drain_main, &arg) != 0) {
    return 0;
  }
  pthread_join(t, NULL);
  return arg.result_ns;
}

void
ring_bench_run(int producers, double seconds_per_case, RingBenchResult *out)
{
  if (!out) {
    return;
  }
  if (producers < 1) {
    producers = 4;
  }
  if (producers > MAX_PRODUCERS) {
    producers = MAX_PRODUCERS;
  }
  if (seconds_per_case < 0.05) {
    seconds_per_case = 0.05;
  }
  memset(out, 0, sizeof *out);
  out->producers = producers;
  out->ops_per_sec_1p = run_throughput(KIND_COMMAND_RING, 1, seconds_per_case);
  out->ops_per_sec_np = run_throughput(KIND_COMMAND_RING, producers, seconds_per_case);
  out->jack_ringbuffer_ops_per_sec = run_throughput(KIND_JACK_RINGBUFFER, 1, seconds_per_case);
  out->drain_ns_per_command = run_drain(seconds_per_case);
}

#ifdef RING_BENCH_MAIN
/* A stand-alone run: ring-bench [PRODUCERS [SECONDS_PER_CASE]] */
int
main(int argc, char **argv)
{
  const int producers = argc > 1 ? atoi(argv[1]) : 4;
  const double seconds = argc > 2 ? atof(argv[2]) : 1.0;
  RingBenchResult r;
  ring_bench_run(producers, seconds, &r);
  printf("command ring, 1 producer:          %.3g items/s\n", r.ops_per_sec_1p);
  printf("command ring, %d producers:         %.3g items/s\n", r.producers, r.ops_per_sec_np);
  printf("jack_ringbuffer, 1 producer:       %.3g items/s\n", r.jack_ringbuffer_ops_per_sec);
  printf("drain of 1024 queued commands:     %.1f ns per command\n", r.drain_ns_per_command);
  return 0;
}
#endif
