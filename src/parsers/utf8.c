/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UTF-8 validation shared by the text parsers (the console, the UDP
 * dialect): one definition of what counts as well-formed text. */
#include "utf8.h"

#include <string.h>

/* The length of the well-formed UTF-8 sequence at @p s (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
  const unsigned char b = s[0];
  if (b < 0x80) {
    return 1;
  }
  size_t need = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b == 0xE0) {
    need = 2;
    lo = 0xA0;
  } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
    need = 2;
  } else if (b == 0xED) {
    need = 2;
    hi = 0x9F;
  } else if (b == 0xF0) {
    need = 3;
    lo = 0x90;
  } else if (b >= 0xF1 && b <= 0xF3) {
    need = 3;
  } else if (b == 0xF4) {
    need = 3;
    hi = 0x8F;
  } else {
    return 0;
  }
  if (n - 1 < need || s[1] < lo || s[1] > hi) {
    return 0;
  }
  for (size_t k = 2; k <= need; ++k) {
    if ((s[k] & 0xC0) != 0x80) {
      return 0;
    }
  }
  return need + 1;
}

const char *
utf8_name_problem(const char *name)
{
  if (!name[0]) {
    return "is empty";
  }
  const unsigned char *s = (const unsigned char *)name;
  size_t n = strlen(name);
  while (n > 0) {
    const size_t k = utf8_seq_len(s, n);
    if (k == 0) {
      return "is not valid UTF-8";
    }
    /* C0 controls and DEL, and C1 controls (U+0080..U+009F: C2 80..9F). */
    if ((k == 1 && (s[0] < 0x20 || s[0] == 0x7F)) || (k == 2 && s[0] == 0xC2 && s[1] < 0xA0)) {
      return "holds a control character (a newline, a tab, ...)";
    }
    s += k;
    n -= k;
  }
  return NULL;
}
