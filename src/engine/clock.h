/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The clocks csjack reads, and its sleep. */

#ifndef CSJ_CLOCK_H
#define CSJ_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC through the vDSO: no syscall, safe on the JACK thread. */
static inline uint64_t
engine_now_ns(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The calling thread's CPU time. A system call (no vDSO for this clock;
 * about 0.5 us here), but one that never waits: it reads the task's
 * run-time counter. CPU time leaves out what wall time cannot: time the
 * thread was preempted or its virtual CPU was stolen by the host. Read
 * twice per cycle, not per section. */
static inline uint64_t
engine_cpu_ns(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Sleeps on a control thread (never the JACK thread). */
static inline void
engine_sleep_us(long us)
{
  const struct timespec t = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&t, NULL);
}

/* Milliseconds since @p since (CLOCK_MONOTONIC). */
static inline long
engine_elapsed_ms(const struct timespec *since)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

#endif
