/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UTF-8 validation for csjack's text parsers. Pure; any thread. */
#ifndef CSJ_UTF8_H
#define CSJ_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the well-formed UTF-8 sequence at @p s, of the
 * @p n bytes there (n >= 1): RFC 3629, so no overlong forms, no surrogates,
 * nothing above U+10FFFF. 0 when the bytes there are not one. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* Why @p name (NUL-terminated) cannot be a name printed on one line, a
 * JACK client's or server's: "is empty", "is not valid UTF-8", "holds a
 * control character (...)"; NULL when it can. */
const char *utf8_name_problem(const char *name);

#endif
