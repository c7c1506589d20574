/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's messages, printed off the real-time thread.
 *
 * Csound calls its message callback on whatever thread prints. On the JACK
 * thread a message is formatted into a stack buffer and pushed into a
 * lock-free SPSC ring; a printer thread drains the ring every few
 * milliseconds and hands the text to the sink. On any other thread the
 * message goes to the sink directly, under a mutex that also serialises it
 * with the printer.
 */

#ifndef CSJ_MESSAGE_LOG_H
#define CSJ_MESSAGE_LOG_H

#include "csjack.h"

#include <stdarg.h>
#include <stdint.h>

typedef struct MessageLogImpl MessageLog;

/** Starts the printer thread. NULL @p sink prints to stderr. NOT RT safe. */
MessageLog *message_log_new(CsjMessageFn sink, void *sink_data);

/** Drains what is left, stops the printer and frees. NULL is a no-op. */
void message_log_free(MessageLog *log);

/**
 * Marks the calling thread as the real-time thread (or not). Messages from
 * the marked thread take the ring. Real-time safe (a thread-local store).
 */
void message_log_mark_realtime_thread(bool is_realtime);

/** Whether the calling thread is marked real-time. Real-time safe. */
bool message_log_on_realtime_thread(void);

/**
 * Logs one message. On the real-time thread: formats into a fixed buffer
 * with vsnprintf (which does not allocate for the conversions Csound uses)
 * and pushes to the ring; a full ring drops the message and counts it. On
 * other threads: prints through the sink, after what the ring holds.
 */
void message_log_vprintf(MessageLog *log, int attr, const char *fmt, va_list args);

/** printf-style convenience for csjack's own notices. Not for the RT thread. */
void message_log_printf(MessageLog *log, int attr, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/** Prints everything the ring holds now. Not for the RT thread. */
void message_log_flush(MessageLog *log);

/** Messages dropped because the ring was full. Any thread. */
uint64_t message_log_dropped(const MessageLog *log);

#endif
