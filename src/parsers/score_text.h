/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Live score text, made ready for Csound's line events
 * (csoundInputMessage), or refused with the reason Csound would give.
 *
 * Csound reads a CSD's score through its score preprocessor, which removes
 * comments; live score text goes to its line-event reader instead
 * (sensLine in Csound 6's linevent.c), which knows no comments and throws
 * a line it cannot read away with "illegal RT scoreline" on the message
 * stream, long after the caller was told the text was taken. So comments
 * are removed here as the score preprocessor does (';' and '//' to the end
 * of the line, '/' '*' to the next '*' '/', across lines; none inside a
 * quoted string), and every remaining line is checked against the
 * line-event reader's grammar:
 *
 *   statement  'i', 'f', 'q', 'd' or 'e' first (after blanks); 'a' is refused
 *              (csjack's rule: Csound computes the skipped time inside one
 *              JACK cycle)
 *   p-fields   numbers (what C's strtod reads, finite), quoted strings
 *              (which may span lines), and for 'i' a lone '.' that carries
 *              the previous 'i' line's p-field
 *   counts     at least 3 p-fields but for 'e' and 'f' with a negative p1;
 *              p2 not negative (of a line over 1998 p-fields, Csound's
 *              PMAX, Csound keeps the first 1998 and says so: left to it)
 *
 * Blank lines are dropped. Pure: no I/O; allocates only the result.
 */

#ifndef CSJ_SCORE_TEXT_H
#define CSJ_SCORE_TEXT_H

#include <stdbool.h>
#include <stdint.h>

/* What a lone '.' may carry: the last 'i' line Csound's line-event reader
 * took (its count of p-fields, and which of p1..p48 were strings, which
 * Csound cannot carry). Packed in 64 bits, so that an engine can keep it
 * in one atomic word. 0: no 'i' line yet. */
typedef uint64_t ScoreCarry;

typedef struct {
  int line;          /* 1-based line of the text the problem is on; 0: none */
  char message[200]; /* why, in one sentence */
} ScoreTextError;

/*
 * Reads @p text (NUL-terminated) and returns a malloc'd copy without
 * comments and blank lines, each line ending in '\n' ("" when nothing is
 * left), with *carry updated to its last 'i' line; or NULL with @p err
 * set (err->line 0 with an empty message: out of memory). @p carry is the
 * state before the text; it is only written on success.
 */
char *score_text_prepare(const char *text, ScoreCarry *carry, ScoreTextError *err);

#endif
