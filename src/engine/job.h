/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* job.c: jobs, the memory a command carries beyond its ring slot:
 * allocation, references, message capture */

#ifndef CSJ_JOB_H
#define CSJ_JOB_H

#include "command.h"

#include <stdarg.h>
#include <stddef.h>

struct CsjEngineImpl;

/* A job of @p type with @p refs references, or NULL with errno EAGAIN when
 * MAX_JOBS are in flight, ENOMEM when memory is short. Any thread but the
 * JACK thread. */
Job *job_new(struct CsjEngineImpl *e, CommandType type, int refs);
/* Drops one reference; the last frees. Any thread but the JACK thread. */
void job_release(struct CsjEngineImpl *e, Job *job);
/* From now on, Csound's messages on this thread are copied into @p job
 * (NULL: nowhere). Real-time safe (a thread-local store). */
void job_capture_begin(Job *job);
void job_capture_end(void);
/* Appends a Csound message to the job this thread captures for, if any.
 * Real-time safe: a fixed buffer and vsnprintf. */
void job_capture_message(const char *fmt, va_list args);
/* Csound's captured text, trimmed, or the status's description. */
void job_copy_message(const Job *job, char *error, size_t error_size);

#endif
