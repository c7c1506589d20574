/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack command's signals (cli_signals.c): a thread of their own
 * takes the ones that stop csjack.
 */

#ifndef CSJ_CLI_SIGNALS_H
#define CSJ_CLI_SIGNALS_H

#include "csjack.h"

#include <stdbool.h>

/* Blocks the stop signals for every thread made after (JACK's, Csound's),
 * ignores those that must not stop csjack, and starts the thread that
 * takes the stop signals. False if the thread cannot start. */
bool cli_signals_start(void);

/* The engine a stop signal stops; NULL: none (it is being destroyed). */
void cli_signals_watch(CsjEngine *e);

/* The stop signal received, or 0. */
int cli_signals_received(void);

/* Main has closed everything cleanly: the signal thread no longer gives up
 * on it. */
void cli_signals_main_done(void);

/* "SIGINT", "SIGTERM", ... */
const char *cli_signal_name(int sig);

#endif
