/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "message_log.h"

#include "spsc_ring.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One RT message: longer ones are cut. Csound's lines are far shorter. */
#define RT_MESSAGE_MAX 512
#define RING_BYTES (256u * 1024u)
#define PRINT_INTERVAL_NS (5 * 1000 * 1000)

typedef struct {
  int attr;
  char text[RT_MESSAGE_MAX];
} RtRecord;

struct MessageLogImpl {
  CsjMessageFn sink;
  void *sink_data;
  SpscRing *ring;
  pthread_mutex_t print_lock; /* serialises the sink; never taken on RT */
  pthread_mutex_t wake_lock;
  pthread_cond_t wake;
  bool quit;
  pthread_t printer;
  _Atomic uint64_t dropped;
};

static _Thread_local bool on_realtime_thread;

static void
stderr_sink(void *data, int attr, const char *text)
{
  (void)data;
  (void)attr;
  fputs(text, stderr);
}

void
message_log_mark_realtime_thread(bool is_realtime)
{
  on_realtime_thread = is_realtime;
}

bool
message_log_on_realtime_thread(void)
{
  return on_realtime_thread;
}

/* Caller holds print_lock. */
static void
drain_locked(MessageLog *log)
{
  RtRecord record;
  uint32_t size;
  while ((size = spsc_ring_pop(log->ring, &record, sizeof(record))) > 0) {
    record.text[sizeof(record.text) - 1] = '\0';
    log->sink(log->sink_data, record.attr, record.text);
  }
}

void
message_log_flush(MessageLog *log)
{
  pthread_mutex_lock(&log->print_lock);
  drain_locked(log);
  pthread_mutex_unlock(&log->print_lock);
}

static void *
printer_main(void *arg)
{
  MessageLog *log = arg;
  pthread_mutex_lock(&log->wake_lock);
  while (!log->quit) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += PRINT_INTERVAL_NS;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&log->wake, &log->wake_lock, &deadline);
    pthread_mutex_unlock(&log->wake_lock);
    message_log_flush(log);
    pthread_mutex_lock(&log->wake_lock);
  }
  pthread_mutex_unlock(&log->wake_lock);
  return NULL;
}

MessageLog *
message_log_new(CsjMessageFn sink, void *sink_data)
{
  MessageLog *log = calloc(1, sizeof(*log));
  if (!log) {
    return NULL;
  }
  log->sink = sink ? sink : stderr_sink;
  log->sink_data = sink_data;
  log->ring = spsc_ring_new(RING_BYTES);
  pthread_mutex_init(&log->print_lock, NULL);
  pthread_mutex_init(&log->wake_lock, NULL);
  pthread_cond_init(&log->wake, NULL);
  atomic_init(&log->dropped, 0);
  if (!log->ring || pthread_create(&log->printer, NULL, printer_main, log) != 0) {
    spsc_ring_free(log->ring);
    free(log);
    return NULL;
  }
  return log;
}

void
message_log_free(MessageLog *log)
{
  if (!log) {
    return;
  }
  pthread_mutex_lock(&log->wake_lock);
  log->quit = true;
  pthread_cond_signal(&log->wake);
  pthread_mutex_unlock(&log->wake_lock);
  pthread_join(log->printer, NULL);
  message_log_flush(log);
  pthread_cond_destroy(&log->wake);
  pthread_mutex_destroy(&log->wake_lock);
  pthread_mutex_destroy(&log->print_lock);
  spsc_ring_free(log->ring);
  free(log);
}

void
message_log_vprintf(MessageLog *log, int attr, const char *fmt, va_list args)
{
  if (on_realtime_thread) {
    RtRecord record;
    record.attr = attr;
    int n = vsnprintf(record.text, sizeof(record.text), fmt, args);
    if (n < 0) {
      return;
    }
    uint32_t len = (uint32_t)n < sizeof(record.text) - 1 ? (uint32_t)n : sizeof(record.text) - 1;
    uint32_t size = (uint32_t)offsetof(RtRecord, text) + len + 1;
    if (!spsc_ring_push(log->ring, &record, size)) {
      atomic_fetch_add_explicit(&log->dropped, 1, memory_order_relaxed);
    }
    return;
  }
  char small[1024];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(small, sizeof(small), fmt, copy);
  va_end(copy);
  char *text = small;
  if (n >= (int)sizeof(small)) {
    text = malloc((size_t)n + 1);
    if (!text) {
      return;
    }
    vsnprintf(text, (size_t)n + 1, fmt, args);
  }
  if (n >= 0) {
    pthread_mutex_lock(&log->print_lock);
    drain_locked(log);
    log->sink(log->sink_data, attr, text);
    pthread_mutex_unlock(&log->print_lock);
  }
  if (text != small) {
    free(text);
  }
}

void
message_log_printf(MessageLog *log, int attr, const char *fmt, ...)
{
  va_list args;
  va_start(args, fmt);
  message_log_vprintf(log, attr, fmt, args);
  va_end(args);
}

uint64_t
message_log_dropped(const MessageLog *log)
{
  return atomic_load_explicit(&((MessageLog *)log)->dropped, memory_order_relaxed);
}
