/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where the csjack command's text goes (cli_output.c): the message sink,
 * the --udp-console mirror, the replies' stream, the terminal side.
 */

#ifndef CSJ_CLI_OUTPUT_H
#define CSJ_CLI_OUTPUT_H

#include "console.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* csjack's message sink (a CsjMessageFn): stderr, through the terminal
 * console when there is one, and the --udp-console mirror. Any thread but
 * JACK's. */
void cli_message_sink(void *data, int attr, const char *text);

/* One line (no newline) through the same sink (a UdpReportFn). */
void cli_report(void *data, const char *line);

/* Opens the --udp-console mirror; false, with one line in @p why, when
 * HOST:PORT does not parse or no socket can be made. */
bool cli_output_open_mirror(const char *host_port, char *why, size_t why_size);

/* Closes the mirror (none open is a no-op). */
void cli_output_close_mirror(void);

/* The stream the console's replies go to: a copy of stdout, with fd 1 then
 * pointed at stderr, where Csound's stray prints then go; stdout itself
 * when no copy can be made. */
FILE *cli_output_take_stdout(void);

/* The terminal console's side, when stdin and the replies are terminals:
 * made here, so that messages go through it from now on; NULL otherwise. */
ConsoleTerm *cli_output_open_term(FILE *replies);

/* Frees the terminal side; messages go to stderr again. */
void cli_output_drop_term(void);

/* Gives the terminal its mode back at once, for an exit that cannot wait
 * for the console. Any thread. */
void cli_output_give_back_term(void);

#endif
