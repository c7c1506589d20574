/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's worker threads on the JACK thread's terms (engine_threads.h).
 *
 * Csound 6 creates its -j workers inside csoundStart and gives the host
 * no handle on them. They are found as the threads of the process that
 * are new after csoundStart (/proc/self/task), and set to SCHED_FIFO at
 * the JACK thread's priority (jack_client_real_time_priority) by thread
 * id. Without that, the JACK thread, which waits for them at every
 * k-block's barrier, would wait behind every ordinary thread of the
 * machine.
 */

#include "engine_threads.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The process's thread ids into @p ids (at most @p max); how many. */
static uint32_t
list_threads(pid_t *ids, uint32_t max)
{
  DIR *d = opendir("/proc/self/task");
  uint32_t n = 0;
  if (!d) {
    return 0;
  }
  struct dirent *ent;
  while ((ent = readdir(d)) && n < max) {
    const long id = strtol(ent->d_name, NULL, 10);
    if (id > 0) {
      ids[n++] = (pid_t)id;
    }
  }
  closedir(d);
  return n;
}

void
engine_threads_before_start(CsjEngine *e)
{
  e->threads_before = list_threads(e->thread_ids, ENGINE_MAX_THREADS);
}

void
engine_threads_after_start(CsjEngine *e)
{
  pid_t now[ENGINE_MAX_THREADS];
  const uint32_t n = list_threads(now, ENGINE_MAX_THREADS);
  e->csound_threads = 0;
  for (uint32_t i = 0; i < n; ++i) {
    bool old = false;
    for (uint32_t j = 0; j < e->threads_before && !old; ++j) {
      old = e->thread_ids[j] == now[i];
    }
    if (!old && e->csound_threads < ENGINE_MAX_THREADS) {
      e->csound_thread_ids[e->csound_threads++] = now[i];
    }
  }
}

void
engine_threads_match_jack(CsjEngine *e)
{
  if (e->csound_threads == 0) {
    return;
  }
  const int priority = jack_backend_rt_priority(e->jack);
  if (priority <= 0) {
    message_log_printf(e->log, 0,
                       "csjack: Csound runs %u worker threads of its own (-j); the JACK server "
                       "is not real-time, so they keep the ordinary priority\n",
                       e->csound_threads);
    return;
  }
  const struct sched_param param = {.sched_priority = priority};
  uint32_t set = 0;
  int why = 0;
  for (uint32_t i = 0; i < e->csound_threads; ++i) {
    if (sched_setscheduler(e->csound_thread_ids[i], SCHED_FIFO, &param) == 0) {
      ++set;
    } else {
      why = errno;
    }
  }
  if (set == e->csound_threads) {
    message_log_printf(e->log, 0,
                       "csjack: Csound's %u worker threads (-j) run at the JACK thread's "
                       "real-time priority, %d\n",
                       set, priority);
  } else {
    message_log_printf(e->log, 0,
                       "csjack: warning: %u of Csound's %u worker threads (-j) could not take "
                       "the JACK thread's real-time priority %d (%s): the JACK thread may wait "
                       "for them at each k-block\n",
                       e->csound_threads - set, e->csound_threads, priority, strerror(why));
  }
}
