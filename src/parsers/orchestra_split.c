/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "orchestra_split.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SCAN_OK, SCAN_REFUSE } ScanResult;

typedef struct {
  char **units;
  uint32_t count;
  uint32_t capacity;
} Units;

static bool
units_add(Units *u, const char *start, size_t len)
{
  if (u->count == u->capacity) {
    uint32_t cap = u->capacity ? u->capacity * 2 : 16;
    char **bigger = realloc(u->units, cap * sizeof(char *));
    if (!bigger) {
      return false;
    }
    u->units = bigger;
    u->capacity = cap;
  }
  const bool needs_newline = len == 0 || start[len - 1] != '\n';
  char *unit = malloc(len + 2);
  if (!unit) {
    return false;
  }
  memcpy(unit, start, len);
  if (needs_newline) {
    unit[len++] = '\n';
  }
  unit[len] = '\0';
  u->units[u->count++] = unit;
  return true;
}

void
orchestra_split_free(char **units, uint32_t count)
{
  for (uint32_t i = 0; units && i < count; ++i) {
    free(units[i]);
  }
  free(units);
}

/*
 * Finds the first word of a line's code (outside comments and strings),
 * updating the block-comment state that carries across lines. Sets *has_code
 * when the line has any code at all. Refuses preprocessor lines and {{ }}.
 */
static ScanResult
scan_line(const char *line, size_t len, bool *in_comment, char *word, size_t word_size,
          bool *has_code)
{
  word[0] = '\0';
  *has_code = false;
  bool at_start = true;
  size_t i = 0;
  while (i < len) {
    const char c = line[i];
    if (*in_comment) {
      if (c == '*' && i + 1 < len && line[i + 1] == '/') {
        *in_comment = false;
        i += 2;
      } else {
        ++i;
      }
      continue;
    }
    if (c == ';' || (c == '/' && i + 1 < len && line[i + 1] == '/')) {
      break; /* the rest of the line is a comment */
    }
    if (c == '/' && i + 1 < len && line[i + 1] == '*') {
      *in_comment = true;
      i += 2;
      continue;
    }
    if (c == '{' && i + 1 < len && line[i + 1] == '{') {
      return SCAN_REFUSE; /* a multi-line string: keywords inside are text */
    }
    if (isspace((unsigned char)c)) {
      ++i;
      continue;
    }
    if (at_start && c == '#') {
      return SCAN_REFUSE; /* macros and includes span units */
    }
    *has_code = true;
    if (at_start) {
      size_t n = 0;
      while (i < len && (isalnum((unsigned char)line[i]) || line[i] == '_') && n + 1 < word_size) {
        word[n++] = line[i++];
      }
      word[n] = '\0';
      at_start = false;
      if (n > 0) {
        continue;
      }
    }
    if (c == '"') {
      /* A string: skip to its end on this line. */
      ++i;
      while (i < len && line[i] != '"') {
        i += line[i] == '\\' ? 2 : 1;
      }
    }
    ++i;
  }
  return SCAN_OK;
}

char **
orchestra_split(const char *text, uint32_t *count)
{
  *count = 0;
  Units units = {0};
  bool in_comment = false;
  const char *block_end = NULL; /* "endin" or "endop" while in a block */
  const char *unit_start = text;
  bool unit_has_code = false;
  const char *p = text;
  while (*p) {
    const char *eol = strchr(p, '\n');
    const size_t len = eol ? (size_t)(eol - p) : strlen(p);
    const char *next = eol ? eol + 1 : p + len;
    char word[16];
    bool has_code = false;
    if (scan_line(p, len, &in_comment, word, sizeof(word), &has_code) == SCAN_REFUSE) {
      goto refuse;
    }
    const bool opens = strcmp(word, "instr") == 0 || strcmp(word, "opcode") == 0;
    if (block_end) {
      if (opens) {
        goto refuse; /* a block inside a block: not ours to judge */
      }
      if (strcmp(word, block_end) == 0) {
        if (!units_add(&units, unit_start, (size_t)(next - unit_start))) {
          goto refuse;
        }
        block_end = NULL;
        unit_start = next;
        unit_has_code = false;
      }
    } else if (opens) {
      if (unit_has_code && !units_add(&units, unit_start, (size_t)(p - unit_start))) {
        goto refuse;
      }
      block_end = word[0] == 'i' ? "endin" : "endop";
      unit_start = p;
    } else if (strcmp(word, "endin") == 0 || strcmp(word, "endop") == 0) {
      goto refuse; /* an end without a start */
    } else if (has_code) {
      unit_has_code = true;
    }
    p = next;
  }
  if (block_end || in_comment) {
    goto refuse;
  }
  if (unit_has_code && !units_add(&units, unit_start, (size_t)(p - unit_start))) {
    goto refuse;
  }
  if (units.count == 0) {
    goto refuse;
  }
  *count = units.count;
  return units.units;

refuse:
  orchestra_split_free(units.units, units.count);
  *count = 0;
  return NULL;
}
