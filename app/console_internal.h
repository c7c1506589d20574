/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the console's three files share (console_parse.c defines them,
 * but console_end_reply, which console_exec.c does):
 * numbers in the C locale whatever Csound set, and the escaping that
 * replies and error messages use.
 */

#ifndef CSJ_CONSOLE_INTERNAL_H
#define CSJ_CONSOLE_INTERNAL_H

#include <locale.h>
#include <stddef.h>
#include <stdio.h>

/* The C locale, made once; (locale_t)0 if it cannot be made. */
locale_t console_c_locale(void);

/* strtod in the C locale. */
double console_strtod_c(const char *s, char **end);

/*
 * Writes @p s (@p n bytes, at most @p max_in of them) escaped for a reply
 * line into @p dst at @p at, NUL-terminated; returns the new length. Bytes
 * that are not printable UTF-8 become \xHH; what does not fit is cut with
 * "...".
 */
size_t console_escape_into(char *dst, size_t size, size_t at, const char *s, size_t n,
                           size_t max_in);

/* Ends a reply line: a newline and a flush; a reader that went away
 * (EPIPE) does not stop later replies or commands (console_exec.c). */
void console_end_reply(FILE *out);

/* The terminal console's input descriptor and reply stream
 * (console_tty.c), for console_start_terminal. */
struct ConsoleTermImpl;
int console_term_in_fd(const struct ConsoleTermImpl *t);
FILE *console_term_out(const struct ConsoleTermImpl *t);

#endif
