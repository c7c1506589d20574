/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tempo a CSD's score starts at (score_tempo.h). */

#include "score_tempo.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Skips spaces and comments from @p p to @p end; stops at a newline. */
static const char *
skip_blank(const char *p, const char *end)
{
  while (p < end) {
    if (*p == ' ' || *p == '\t' || *p == '\r') {
      ++p;
    } else if (*p == ';' || (*p == '/' && p + 1 < end && p[1] == '/')) {
      while (p < end && *p != '\n') {
        ++p;
      }
    } else if (*p == '/' && p + 1 < end && p[1] == '*') {
      const char *close = p + 2;
      while (close + 1 < end && !(close[0] == '*' && close[1] == '/')) {
        ++close;
      }
      p = close + 1 < end ? close + 2 : end;
    } else {
      break;
    }
  }
  return p;
}

/* A number at @p p (before @p end): true and its value, @p p moved on. */
static bool
number(const char **p, const char *end, double *value)
{
  char buf[64];
  size_t n = 0;
  const char *q = *p;
  while (q < end && n + 1 < sizeof buf && (isdigit((unsigned char)*q) || strchr("+-.eE", *q))) {
    buf[n++] = *q++;
  }
  if (n == 0) {
    return false;
  }
  buf[n] = '\0';
  char *stop = NULL;
  *value = strtod(buf, &stop);
  if (!stop || *stop) {
    return false;
  }
  *p = q;
  return true;
}

bool
score_tempo_at_start(const char *csd, double *bpm, bool *changes)
{
  const char *open = csd ? strstr(csd, "<CsScore") : NULL;
  if (!open || !(open = strchr(open, '>'))) {
    return false;
  }
  const char *p = open + 1;
  const char *end = strstr(p, "</CsScore>");
  if (!end) {
    end = p + strlen(p);
  }
  while (p < end) {
    p = skip_blank(p, end);
    if (p < end && *p == 't' && p + 1 < end && (p[1] == ' ' || p[1] == '\t')) {
      ++p;
      double pairs[32];
      int n = 0;
      for (;;) {
        p = skip_blank(p, end);
        if (n >= 32 || !number(&p, end, &pairs[n])) {
          break;
        }
        ++n;
      }
      if (n < 2 || pairs[0] != 0 || !(pairs[1] > 0) || pairs[1] > 1e5) {
        return false;
      }
      *bpm = pairs[1];
      *changes = false;
      for (int i = 3; i < n; i += 2) {
        *changes = *changes || pairs[i] != pairs[1];
      }
      return true;
    }
    /* On to the next line. */
    while (p < end && *p != '\n') {
      ++p;
    }
    ++p;
  }
  return false;
}
