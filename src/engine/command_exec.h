/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* command_exec.c: the JACK thread's executor: runs what was queued,
 * through the command table */

#ifndef CSJ_COMMAND_EXEC_H
#define CSJ_COMMAND_EXEC_H

#include "command.h"

struct CsjEngineImpl;

/* The command table's row for @p type; NULL for a type that has none.
 * Real-time safe. */
const CommandInfo *command_info(unsigned type);

/* The JACK thread: runs what was queued when the cycle began, in order,
 * within the cycle's command budget. Real-time safe (csjack's share). */
DrainOutcome commands_drain(struct CsjEngineImpl *e);
/* After the JACK client is closed: answers a queued command "not run". */
void commands_answer_not_run(struct CsjEngineImpl *e, const Command *cmd);

#endif
