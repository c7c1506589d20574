/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every engine file may do with the engine's state and is not inline
 * (engine_state.h): messages, notices, the last error. */

#include "engine_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Why the last csj_engine_create or csj_check_options on this thread
 * failed: there is no engine to hold it. */
static _Thread_local char create_error[ENGINE_CREATE_ERROR_SIZE];

char *
engine_create_error(void)
{
  return create_error;
}

void
engine_set_error(CsjEngine *e, const char *fmt, ...)
{
  char text[sizeof(e->last_error)];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof(text), fmt, args);
  va_end(args);
  engine_set_error_text(e, text);
}

void
engine_notice(CsjEngine *e, const char *text)
{
  message_log_printf(e->log, 0, "csjack: notice: %s\n", text);
}

/* Each thread reads its own copy, taken under the lock: a writer on
 * another thread (a failing API call, the recorder's writer) can never
 * change the text under a reader. Valid until this thread's next call. */
const char *
csj_last_error(const CsjEngine *e)
{
  static _Thread_local char copy[sizeof(((CsjEngine *)0)->last_error)];
  if (!e) {
    return create_error;
  }
  CsjEngine *m = (CsjEngine *)e;
  pthread_mutex_lock(&m->error_lock);
  memcpy(copy, m->last_error, sizeof(copy));
  pthread_mutex_unlock(&m->error_lock);
  return copy;
}

void
engine_log_text(void *data, const char *text)
{
  CsjEngine *e = data;
  message_log_printf(e->log, 0, "%s", text);
}
