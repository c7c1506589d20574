/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where the csjack command's text goes: Csound's and csjack's messages to
 * stderr (through the terminal console when there is one, so that a
 * message never cuts into the line being typed) and to the --udp-console
 * mirror; the console's replies to a stdout of their own. The message
 * sink runs on any thread but JACK's (message_log.c hands the JACK
 * thread's messages to its printer thread first).
 */

#include "cli_output.h"
#include "udp_console.h"

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

/* Where the mirror sends (NULL: nowhere). Set before the engine exists,
 * read by the message sink on any thread. */
static UdpConsole *mirror;

/* The terminal side, when stdin and the replies are terminals; the signal
 * thread gives the terminal its mode back through it on an exit that
 * cannot wait for the console. */
static ConsoleTerm *_Atomic term;

void
cli_message_sink(void *data, int attr, const char *text)
{
  (void)data;
  ConsoleTerm *t = atomic_load_explicit(&term, memory_order_acquire);
  if (t) {
    console_term_message(t, attr, text);
  } else {
    fputs(text, stderr);
  }
  if (mirror) {
    udp_console_send(mirror, text);
  }
}

void
cli_report(void *data, const char *line)
{
  char text[1100];
  snprintf(text, sizeof(text), "%s\n", line);
  cli_message_sink(data, 0, text);
}

bool
cli_output_open_mirror(const char *host_port, char *why, size_t why_size)
{
  mirror = udp_console_open(host_port, why, why_size);
  return mirror != NULL;
}

void
cli_output_close_mirror(void)
{
  udp_console_close(mirror);
  mirror = NULL;
}

/* stdout carries the console's replies and nothing else: csjack keeps a
 * copy of it for them and points fd 1 at stderr, because Csound prints
 * some errors straight to stdout (its lexer's "Error: character ..."),
 * which would otherwise land between two replies. */
FILE *
cli_output_take_stdout(void)
{
  FILE *replies = stdout;
  fflush(stdout);
  const int reply_fd = dup(STDOUT_FILENO);
  if (reply_fd >= 0 && (replies = fdopen(reply_fd, "w")) != NULL) {
    dup2(STDERR_FILENO, STDOUT_FILENO);
  } else {
    if (reply_fd >= 0) {
      close(reply_fd);
    }
    replies = stdout;
  }
  return replies;
}

/* On a terminal (stdin and the replies both), the console edits lines with
 * libedit, and the messages go through it (console_tty.c). Pipes keep the
 * plain protocol. */
ConsoleTerm *
cli_output_open_term(FILE *replies)
{
  ConsoleTerm *t = console_term_new(STDIN_FILENO, replies, stderr);
  if (t) {
    atomic_store_explicit(&term, t, memory_order_release);
  }
  return t;
}

void
cli_output_drop_term(void)
{
  ConsoleTerm *t = atomic_exchange_explicit(&term, NULL, memory_order_acq_rel);
  console_term_free(t);
}

void
cli_output_give_back_term(void)
{
  console_term_give_back(atomic_load_explicit(&term, memory_order_acquire));
}
