/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The options in Csound's words that the csjack command serves itself
 * (cli_host_options.c).
 */

#ifndef CSJ_CLI_HOST_OPTIONS_H
#define CSJ_CLI_HOST_OPTIONS_H

#include <stdbool.h>

/* Called with each option Csound would give its own UDP server and
 * console, in one word ("--port=1234", "--udp-echo"). */
typedef void (*CliHostOptionFn)(void *data, const char *option);

/* Those among @p count words of Csound's command line, in order. False
 * when memory ran out. */
bool cli_host_options(int count, const char *const *words, CliHostOptionFn fn, void *data);

/* Those in a CSD's <CsOptions>. False when memory ran out. */
bool cli_csd_host_options(const char *csd, CliHostOptionFn fn, void *data);

#endif
