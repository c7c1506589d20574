/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack command's options (cli_options.c): the command line, the
 * file played, and the network options in Csound's words, into the run's
 * settings.
 */

#ifndef CSJ_CLI_OPTIONS_H
#define CSJ_CLI_OPTIONS_H

#include "cli_settings.h"

#include <stdbool.h>

/* Fills @p run from the command line, reads the file and takes the network
 * options from its <CsOptions> and from Csound's words after --. Returns
 * CLI_RUN, or the status to exit with (after --help, or having said why). */
int cli_options_read(int argc, char **argv, CliSettings *run);

/* Reads run->path's text and takes the network options from its
 * <CsOptions> and Csound's words after --, under csjack's own (already in
 * run->net): for a FILE a session folder names. Returns CLI_RUN, or the
 * status to exit with, having said why. */
int cli_options_take_file(CliSettings *run);

/* Whether @p path names orchestra text (".orc", any case) rather than a
 * CSD. */
bool cli_is_orc(const char *path);

#endif
