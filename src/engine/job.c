/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Jobs: the memory a command needs beyond its ring slot, and its reply.
 *
 * A job is made by the caller's thread. The JACK thread reads and fills it
 * but never frees it: it hands finished jobs to the worker through the
 * done ring. Two references: the caller's (while it waits) and the
 * system's (dropped by the worker once the JACK thread is done); the last
 * one frees. While a thread parses or merges a job's code, Csound's
 * messages on that thread are copied into the job (the capture), so the
 * reply carries Csound's own words.
 */

#include "engine_state.h"
#include "job.h"

#include <math.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The job whose Csound messages this thread is capturing, if any. */
static _Thread_local Job *capturing;

void
job_capture_begin(Job *job)
{
  capturing = job;
}

void
job_capture_end(void)
{
  capturing = NULL;
}

/* ---- Jobs ------------------------------------------------------------------ */

Job *
job_new(CsjEngine *e, CommandType type, int refs)
{
  if (atomic_fetch_add_explicit(&e->jobs_in_flight, 1, memory_order_relaxed) >= MAX_JOBS) {
    atomic_fetch_sub_explicit(&e->jobs_in_flight, 1, memory_order_relaxed);
    errno = EAGAIN;
    return NULL;
  }
  Job *job = calloc(1, sizeof(*job));
  if (!job) {
    errno = ENOMEM;
    atomic_fetch_sub_explicit(&e->jobs_in_flight, 1, memory_order_relaxed);
    return NULL;
  }
  job->type = type;
  job->status = CSJ_SUCCESS;
  job->value = NAN;
  atomic_init(&job->refs, refs);
  atomic_init(&job->finished, false);
  atomic_init(&job->published, 0);
  atomic_init(&job->merged, 0);
  sem_init(&job->done, 0, 0);
  return job;
}

void
job_release(CsjEngine *e, Job *job)
{
  /* acq_rel: the last holder sees every write the others made. */
  if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) != 1) {
    return;
  }
  /* Trees from the worker's feed are the feed's; a caller's parse is ours. */
  if (job->owns_tree) {
    csound_adapter_free_tree(e->csound, job->tree);
  }
  sem_destroy(&job->done);
  free(job->text);
  free(job->name);
  free(job->values);
  free(job);
  atomic_fetch_sub_explicit(&e->jobs_in_flight, 1, memory_order_relaxed);
}

void
job_capture_message(const char *fmt, va_list args)
{
  Job *job = capturing;
  if (!job || job->message_len >= sizeof(job->message) - 1) {
    return;
  }
  /* A fixed buffer and vsnprintf: fine on the JACK thread too. */
  const size_t room = sizeof(job->message) - job->message_len;
  const int n = vsnprintf(job->message + job->message_len, room, fmt, args);
  if (n > 0) {
    job->message_len += (size_t)n < room ? (size_t)n : room - 1;
  }
}

/* Csound's text, without the blank lines and spaces around it. */
void
job_copy_message(const Job *job, char *error, size_t error_size)
{
  if (!error || error_size == 0) {
    return;
  }
  const char *start = job->message;
  while (*start == '\n' || *start == ' ' || *start == '\r') {
    ++start;
  }
  snprintf(error, error_size, "%s", *start ? start : csj_strerror(job->status));
  for (size_t n = strlen(error); n > 0 && (error[n - 1] == '\n' || error[n - 1] == ' ');) {
    error[--n] = '\0';
  }
}
