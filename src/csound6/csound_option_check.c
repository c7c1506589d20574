/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whether Csound accepts an option, asked of a scratch instance: a
 * refusal there leaves no trace on the real one, and Csound's error
 * message says why ("no message level", "unknown long option").
 */

#include "csound6_internal.h"

#include <stdio.h>
#include <string.h>

/* The scratch instance's error messages, kept: they come in pieces. */
typedef struct {
  char errors[256];
  size_t len;
} OptionCheck;

static void
on_check_message(CSOUND *csound, int attr, const char *fmt, va_list args)
{
  OptionCheck *check = csoundGetHostData(csound);
  if (!check || (attr & CSOUNDMSG_TYPE_MASK) != CSOUNDMSG_ERROR ||
      check->len >= sizeof(check->errors) - 1) {
    return;
  }
  char piece[256];
  vsnprintf(piece, sizeof(piece), fmt, args);
  const char *s = piece;
  if (strncmp(s, "--Csound version", 16) == 0 || strncmp(s, "[commit", 7) == 0) {
    return; /* the banner, printed as an error before the usage text */
  }
  const char *prefix = "Csound Command ERROR:";
  if (strncmp(s, prefix, strlen(prefix)) == 0) {
    s += strlen(prefix);
  }
  for (; *s; ++s) {
    const char c = *s == '\n' || *s == '\t' ? ' ' : *s;
    if (c == ' ' && (check->len == 0 || check->errors[check->len - 1] == ' ')) {
      continue;
    }
    if (check->len < sizeof(check->errors) - 1) {
      check->errors[check->len++] = c;
    }
  }
  check->errors[check->len] = '\0';
}

int
csound_adapter_check_option(const char *option, char *why, size_t why_size)
{
  csound6_initialize();
  OptionCheck check = {{0}, 0};
  CSOUND *scratch = csoundCreate(&check);
  if (!scratch) {
    snprintf(why, why_size, "cannot create a Csound instance");
    return -1;
  }
  csoundSetMessageCallback(scratch, on_check_message);
  (void)csound6_guard_scratch(scratch);
  bool jumped;
  int result = 0;
  CSOUND6_GUARDED(jumped, result = csoundSetOption(scratch, option));
  const bool refused = jumped || result != 0;
  if (refused) {
    while (check.len > 0 && check.errors[check.len - 1] == ' ') {
      check.errors[--check.len] = '\0';
    }
    snprintf(why, why_size, "%s", check.len ? check.errors : "Csound refuses it");
  }
  if (!jumped) {
    csoundDestroy(scratch);
  } else {
    /* After a jump the scratch instance cannot be destroyed (its state is
     * Csound's after a long jump): it is kept, a few kilobytes per refused
     * option at start-up, and still pointed to. */
    static CSOUND *abandoned[16];
    static atomic_int n_abandoned;
    const int slot = atomic_fetch_add_explicit(&n_abandoned, 1, memory_order_relaxed);
    if (slot < (int)(sizeof abandoned / sizeof abandoned[0])) {
      abandoned[slot] = scratch;
    }
  }
  return refused ? -1 : 0;
}
