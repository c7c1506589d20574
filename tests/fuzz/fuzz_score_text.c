/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: live score text made ready for Csound's line events
 * (src/parsers/score_text.c). The input (its first 8 bytes the carry word before
 * it, the rest the text, cut at its first NUL) is prepared; what comes out
 * must be text Csound's line-event reader takes, so it must come out of a
 * second preparation unchanged, with the same carry word: no comment, no
 * blank line and no refused statement survives the first. Every prepared
 * text is empty or ends with a newline.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "score_text.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  ScoreCarry carry = 0;
  if (size >= sizeof(carry)) {
    memcpy(&carry, data, sizeof(carry));
    data += sizeof(carry);
    size -= sizeof(carry);
  }
  char *text = malloc(size + 1);
  if (!text) {
    return 0;
  }
  memcpy(text, data, size);
  text[size] = '\0';
  ScoreTextError err;
  ScoreCarry first = carry;
  char *out = score_text_prepare(text, &first, &err);
  if (!out) {
    if (err.line <= 0 || err.message[0] == '\0') {
      abort(); /* a refusal names its line and says why */
    }
    free(text);
    return 0;
  }
  const size_t n = strlen(out);
  if (n > 0 && out[n - 1] != '\n') {
    abort();
  }
  ScoreCarry second = carry;
  char *again = score_text_prepare(out, &second, &err);
  if (!again || strcmp(again, out) != 0 || second != first) {
    abort();
  }
  free(again);
  free(out);
  free(text);
  return 0;
}
