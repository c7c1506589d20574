/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Counting what csjack's own code calls on the JACK thread.
 *
 * The test executable is linked with -Wl,--wrap=<function> for every
 * function below: calls to it from the objects of that link (csjack's and
 * the test's, not libcsound64's or libjack's) go to __wrap_<function> in
 * rt_wrap.c, which counts the call when the calling thread is the JACK
 * thread (message_log_on_realtime_thread(), set by csjack's process
 * callback) and then calls the real function. Csound's own allocations
 * and locks during a k-cycle are therefore not counted: only ours.
 */
#ifndef CSJ_RT_WRAP_H
#define CSJ_RT_WRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  /* Forbidden on the JACK thread: allocation, locks and waits, printing,
   * writes, sleeps, threads. */
  RT_MALLOC,
  RT_CALLOC,
  RT_REALLOC,
  RT_FREE,
  RT_STRDUP,
  RT_ALIGNED_ALLOC,
  RT_PTHREAD_MUTEX_LOCK,
  RT_PTHREAD_COND_WAIT,
  RT_PTHREAD_COND_TIMEDWAIT,
  RT_SEM_WAIT,
  RT_SEM_TIMEDWAIT,
  RT_PRINTF,
  RT_FPRINTF,
  RT_PUTS,
  RT_FPUTS,
  RT_FWRITE,
  RT_WRITE,
  RT_NANOSLEEP,
  RT_USLEEP,
  RT_SLEEP,
  RT_PTHREAD_CREATE,
  RT_PTHREAD_JOIN,
  RT_FORBIDDEN_COUNT,
  /* Counted for information only: csjack's design allows them there
   * (a semaphore post is a non-blocking futex wake; clock_gettime is a
   * vDSO read). */
  RT_SEM_POST = RT_FORBIDDEN_COUNT,
  RT_PTHREAD_MUTEX_UNLOCK,
  RT_CLOCK_GETTIME,
  RT_FN_COUNT,
} RtFn;

/** The function's name. */
const char *rt_name(RtFn fn);

/** Calls counted on the JACK thread since the last reset. */
uint64_t rt_count(RtFn fn);

/** Zeroes the counters and forgets the callers. */
void rt_reset(void);

/** Up to @p max distinct return addresses of counted calls to @p fn. */
size_t rt_callers(RtFn fn, void **out, size_t max);

/**
 * Describes a code address as "function at file:line" (addr2line on this
 * executable, through dladdr's load base). Not for the JACK thread.
 */
void rt_describe(void *addr, char *out, size_t out_size);

/** The -Wl,--wrap list, for the record. */
extern const char *const rt_wrapped_list;

#endif
