/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the live console (app/console.c), without an engine.
 *
 * Each input is run three ways:
 *   1. console_parse_line() on the whole input, then console_command_free();
 *   2. console_execute_line(NULL, whole input) into an open_memstream FILE;
 *   3. the input cut at '\n', each line through 1 and 2, as the console's
 *      reading thread would (it never passes the newline).
 *
 * Besides the sanitizers, the documented contract (app/console.h,
 * docs/console.md) is checked and any violation abort()s:
 *   - a blank or comment line (CONSOLE_NOTHING) gets no output at all;
 *   - :help gets "# " lines, then "ok help"; any other line gets exactly
 *     one reply line, starting "ok " or "error ";
 *   - every reply is valid UTF-8 (strict, RFC 3629) without control bytes
 *     other than its final '\n';
 *   - CONSOLE_ERROR carries a non-empty, escaped, NUL-terminated message;
 *   - console_execute_line returns false for :quit only;
 *   - console_command_free is idempotent.
 */
#include "console.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "fuzz_console: check failed at %s:%d: %s\n", __FILE__,     \
              __LINE__, #cond);                                                   \
      abort();                                                                    \
    }                                                                             \
  } while (0)

/* Strict UTF-8 with no C0 controls and no DEL, except '\n' when allowed. */
static int
clean_utf8(const unsigned char *s, size_t n, int allow_newline)
{
  size_t i = 0;
  while (i < n) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      if ((b < 0x20 && !(allow_newline && b == '\n')) || b == 0x7F) {
        return 0;
      }
      ++i;
      continue;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b == 0xE0) {
      need = 2, lo = 0xA0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      need = 2;
    } else if (b == 0xED) {
      need = 2, hi = 0x9F;
    } else if (b == 0xF0) {
      need = 3, lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3) {
      need = 3;
    } else if (b == 0xF4) {
      need = 3, hi = 0x8F;
    } else {
      return 0;
    }
    if (n - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi) {
      return 0;
    }
    for (size_t k = 2; k <= need; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        return 0;
      }
    }
    i += need + 1;
  }
  return 1;
}

static int
starts_with(const char *s, size_t n, const char *prefix)
{
  const size_t p = strlen(prefix);
  return n >= p && memcmp(s, prefix, p) == 0;
}

static void
run_line(const char *line, size_t len)
{
  /* 1. The parser alone. */
  ConsoleCommand cmd = console_parse_line(line, len);
  const ConsoleKind kind = cmd.kind;
  CHECK(cmd.cmd != NULL);
  if (kind == CONSOLE_ERROR) {
    const size_t elen = strnlen(cmd.error, sizeof cmd.error);
    CHECK(elen > 0 && elen < sizeof cmd.error);
    CHECK(clean_utf8((const unsigned char *)cmd.error, elen, 0));
  }
  if (kind == CONSOLE_SCORE || kind == CONSOLE_EVAL || kind == CONSOLE_ORC ||
      kind == CONSOLE_COMPILE || kind == CONSOLE_RECORD || kind == CONSOLE_SCHN_SET) {
    CHECK(cmd.text != NULL);
  }
  if (kind == CONSOLE_CHN_SET || kind == CONSOLE_CHN_GET || kind == CONSOLE_SCHN_SET ||
      kind == CONSOLE_SCHN_GET) {
    CHECK(cmd.name != NULL && cmd.name[0] != '\0');
  }
  console_command_free(&cmd);
  console_command_free(&cmd); /* idempotent */

  /* 2. The executor, no engine, into memory. */
  char *buf = NULL;
  size_t blen = 0;
  FILE *out = open_memstream(&buf, &blen);
  if (!out) {
    return;
  }
  const int go_on = console_execute_line(NULL, line, len, out);
  fclose(out);

  CHECK(go_on == (kind != CONSOLE_QUIT));
  CHECK(clean_utf8((const unsigned char *)buf, blen, 1));
  if (kind == CONSOLE_NOTHING) {
    CHECK(blen == 0);
  } else {
    CHECK(blen > 0 && buf[blen - 1] == '\n');
    /* Walk the reply lines. */
    size_t lines = 0;
    const char *p = buf;
    const char *end = buf + blen;
    const char *last = NULL;
    size_t last_len = 0;
    while (p < end) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      CHECK(nl != NULL);
      const size_t n = (size_t)(nl - p);
      if (nl + 1 < end) {
        /* Only :help prints more than one line: "# " lines first. */
        CHECK(kind == CONSOLE_HELP && starts_with(p, n, "# "));
      }
      last = p;
      last_len = n;
      ++lines;
      p = nl + 1;
    }
    if (kind == CONSOLE_HELP) {
      CHECK(last_len == strlen("ok help") && starts_with(last, last_len, "ok help"));
    } else {
      CHECK(lines == 1);
      CHECK(starts_with(last, last_len, "ok ") || starts_with(last, last_len, "error "));
    }
  }
  free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;

  /* The whole input as one "line" (it may hold newlines, NULs, anything). */
  run_line(s, size);

  /* Line by line, as the reading thread feeds them (no newline passed). */
  size_t start = 0;
  while (start < size) {
    const char *nl = memchr(s + start, '\n', size - start);
    const size_t end = nl ? (size_t)(nl - s) : size;
    run_line(s + start, end - start);
    start = end + 1;
  }
  return 0;
}
