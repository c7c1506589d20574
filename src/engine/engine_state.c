/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one function of the engine's state that is not inline (engine_state.h). */

#include "engine_state.h"

void
engine_log_text(void *data, const char *text)
{
  CsjEngine *e = data;
  message_log_printf(e->log, 0, "%s", text);
}
