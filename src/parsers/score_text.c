/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Live score text made ready for Csound's line events: comments out, each
 * line checked as Csound 6's line-event reader reads it (score_text.h).
 */

#include "score_text.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The carry word: p-field count in the low 16 bits, string p1..p48 above. */

#define CARRY_STRING_BITS 48

static int
carry_count(ScoreCarry c)
{
  return (int)(c & 0xffffu);
}

static bool
carry_is_string(ScoreCarry c, int p)
{
  return p >= 1 && p <= CARRY_STRING_BITS && ((c >> (15 + p)) & 1u);
}

/* ---- Numbers: C's strtod in the C locale, whatever the process's locale. */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
make_c_locale(void)
{
  c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static double
read_number(const char *s, char **end)
{
  pthread_once(&c_locale_once, make_c_locale);
  if (c_locale == (locale_t)0) {
    return strtod(s, end);
  }
  return strtod_l(s, end, c_locale);
}

/* ---- Comments ----------------------------------------------------------------- */

/*
 * Copies @p text to @p out without comments. A block comment stands for
 * one blank, also when it holds newlines: the statement it interrupts
 * goes on after it. False when a block comment or a string does not end
 * (@p err says on which line it began).
 */
static bool
strip_comments(const char *text, char *out, ScoreTextError *err)
{
  int line = 1;
  int opened = 0;
  bool in_string = false;
  const char *s = text;
  char *o = out;
  while (*s) {
    if (in_string) {
      if (*s == '"') {
        in_string = false;
      } else if (*s == '\n') {
        ++line;
      }
      *o++ = *s++;
      continue;
    }
    if (*s == '"') {
      in_string = true;
      opened = line;
      *o++ = *s++;
    } else if (*s == ';' || (s[0] == '/' && s[1] == '/')) {
      while (*s && *s != '\n') {
        ++s;
      }
    } else if (s[0] == '/' && s[1] == '*') {
      opened = line;
      s += 2;
      while (*s && !(s[0] == '*' && s[1] == '/')) {
        if (*s == '\n') {
          ++line;
        }
        ++s;
      }
      if (!*s) {
        err->line = opened;
        snprintf(err->message, sizeof(err->message), "a /* comment that does not end");
        return false;
      }
      s += 2;
      *o++ = ' '; /* a comment separates what stands on either side */
    } else {
      if (*s == '\n') {
        ++line;
      }
      *o++ = *s++;
    }
  }
  *o = '\0';
  if (in_string) {
    err->line = opened;
    snprintf(err->message, sizeof(err->message), "a quoted string that does not end");
    return false;
  }
  return true;
}

/* ---- One statement -------------------------------------------------------------- */

static bool
blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r';
}

typedef struct {
  const char *s;   /* where reading goes on */
  int line;        /* the text's line number at s */
  ScoreCarry last; /* the last 'i' line taken */
} Reader;

static bool
refuse(ScoreTextError *err, int line, const char *why, const char *token)
{
  err->line = line;
  if (token) {
    int n = 0;
    while (token[n] && !blank(token[n]) && token[n] != '\n' && n < 24) {
      ++n;
    }
    snprintf(err->message, sizeof(err->message), why, n, token);
  } else {
    snprintf(err->message, sizeof(err->message), "%s", why);
  }
  return false;
}

/*
 * Reads the statement at r->s, which starts with a non-blank character,
 * up to and including its line's end; false with @p err set when Csound's
 * line-event reader would refuse it.
 */
static bool
read_statement(Reader *r, ScoreTextError *err)
{
  const int line = r->line;
  const char op = *r->s++;
  const char after = *r->s;
  if ((after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') || after == '_') {
    return refuse(err, line,
                  "'%.*s' is not a real-time score statement (Csound's line events "
                  "take i, f, q, d and e)",
                  r->s - 1);
  }
  switch (op) {
  case 'i':
  case 'f':
  case 'q':
  case 'd':
  case 'e': break;
  case 'a':
    return refuse(err, line,
                  "the score statement 'a' (advance score time) is refused in real time: "
                  "Csound computes the time it skips inside one JACK cycle",
                  NULL);
  default:
    return refuse(err, line,
                  "'%.*s' is not a real-time score statement (Csound's line events "
                  "take i, f, q, d and e)",
                  r->s - 1);
  }
  int count = 0;
  double p1 = 0, p2 = 0;
  ScoreCarry strings = 0;
  for (;;) {
    while (blank(*r->s)) {
      ++r->s;
    }
    const char c = *r->s;
    if (c == '\n' || c == '\0') {
      break;
    }
    ++count;
    if (c == '"') {
      for (++r->s; *r->s != '"'; ++r->s) {
        if (*r->s == '\n') {
          ++r->line;
        }
      }
      ++r->s;
      if (count <= CARRY_STRING_BITS) {
        strings |= (ScoreCarry)1u << (15 + count);
      }
      continue;
    }
    if (c == '.' && (blank(r->s[1]) || r->s[1] == '\n' || r->s[1] == '\0')) {
      if (op != 'i' || carry_count(r->last) < count) {
        return refuse(err, line,
                      "a '.' carry with nothing to carry (no earlier 'i' line has that "
                      "p-field)",
                      NULL);
      }
      if (carry_is_string(r->last, count)) {
        return refuse(err, line, "a '.' carry of a string p-field (Csound cannot carry it)", NULL);
      }
      ++r->s;
      continue;
    }
    char *end = NULL;
    const double v =
      (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' ? read_number(r->s, &end) : 0.0;
    if (!end || end == r->s) {
      return refuse(err, line,
                    "'%.*s' is not a number (real-time score lines take numbers, quoted "
                    "strings and '.' carries; no expressions, macros or ramps)",
                    r->s);
    }
    if (!isfinite(v)) {
      return refuse(err, line, "'%.*s' is not a finite number", r->s);
    }
    if (count == 1) {
      p1 = v;
    } else if (count == 2) {
      p2 = v;
    }
    r->s = end;
  }
  if (count < 3 && op != 'e' && !(op == 'f' && count >= 1 && p1 < 0)) {
    return refuse(err, line, "too few p-fields (a score statement needs at least three)", NULL);
  }
  if (count >= 2 && p2 < 0) {
    return refuse(err, line, "a negative start time (p2)", NULL);
  }
  if (op == 'i') {
    r->last = (ScoreCarry)count | strings;
  }
  if (*r->s == '\n') {
    ++r->s;
    ++r->line;
  }
  return true;
}

/* ---- The text --------------------------------------------------------------------- */

char *
score_text_prepare(const char *text, ScoreCarry *carry, ScoreTextError *err)
{
  err->line = 0;
  err->message[0] = '\0';
  const size_t len = strlen(text);
  char *stripped = malloc(len + 1);
  /* Each statement is copied with one '\n' added at most. */
  char *out = malloc(len + len / 2 + 2);
  if (!stripped || !out) {
    free(stripped);
    free(out);
    return NULL;
  }
  if (!strip_comments(text, stripped, err)) {
    free(stripped);
    free(out);
    return NULL;
  }
  Reader r = {stripped, 1, *carry};
  char *o = out;
  while (*r.s) {
    while (blank(*r.s)) {
      ++r.s;
    }
    if (*r.s == '\n') {
      ++r.s;
      ++r.line;
      continue;
    }
    if (*r.s == '\0') {
      break;
    }
    const char *start = r.s;
    if (!read_statement(&r, err)) {
      free(stripped);
      free(out);
      return NULL;
    }
    size_t n = (size_t)(r.s - start);
    memcpy(o, start, n);
    o += n;
    if (n == 0 || o[-1] != '\n') {
      *o++ = '\n';
    }
  }
  *o = '\0';
  free(stripped);
  *carry = r.last;
  return out;
}
