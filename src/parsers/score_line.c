/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plain numeric score lines: see score_line.h. */

#include "score_line.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool
blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
digit(char c)
{
  return c >= '0' && c <= '9';
}

/* The length of a decimal number at @p s ([+-] digits [. digits]
 * [e [+-] digits], at least one digit before the exponent), or 0. */
static size_t
number_length(const char *s)
{
  size_t i = 0, digits = 0;
  if (s[i] == '+' || s[i] == '-') {
    ++i;
  }
  while (digit(s[i])) {
    ++i;
    ++digits;
  }
  if (s[i] == '.') {
    ++i;
    while (digit(s[i])) {
      ++i;
      ++digits;
    }
  }
  if (digits == 0) {
    return 0;
  }
  if (s[i] == 'e' || s[i] == 'E') {
    size_t j = i + 1;
    if (s[j] == '+' || s[j] == '-') {
      ++j;
    }
    if (!digit(s[j])) {
      return 0; /* "1e" is not plain */
    }
    while (digit(s[j])) {
      ++j;
    }
    i = j;
  }
  return i;
}

bool
score_line_numeric(const char *text, double *p, int max, int *count)
{
  const char *s = text;
  while (blank(*s)) {
    ++s;
  }
  if (*s != 'i') {
    return false;
  }
  ++s;
  int n = 0;
  for (;;) {
    while (blank(*s)) {
      ++s;
    }
    if (*s == '\0' || *s == ';') {
      break;
    }
    const size_t len = number_length(s);
    if (len == 0 || !(blank(s[len]) || s[len] == '\0' || s[len] == ';')) {
      return false;
    }
    if (n == max) {
      return false;
    }
    char *end = NULL;
    const double v = strtod(s, &end);
    if (end != s + len || !isfinite(v)) {
      return false; /* another locale's decimal point, or out of range */
    }
    p[n++] = v;
    s += len;
  }
  if (n < 3) {
    return false;
  }
  *count = n;
  return true;
}
