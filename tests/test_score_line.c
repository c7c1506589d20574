/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Plain numeric score lines (src/parsers/score_line.c), which constant-latency
 * mode stamps like score events: what is read, and what is left to Csound
 * as text.
 */

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "score_line.h"
#include "score_text.h"
#include "score_tempo.h"

#include <stdlib.h>
#include <string.h>

static double p[8];
static int n;

static bool
read(const char *line)
{
  n = -1;
  return score_line_numeric(line, p, 8, &n);
}

Test(score_line, plain_lines_are_read)
{
  cr_assert(read("i 1 0 2 0.5 60"));
  cr_assert(eq(int, n, 5));
  cr_assert(eq(dbl, p[0], 1.0));
  cr_assert(eq(dbl, p[2], 2.0));
  cr_assert(eq(dbl, p[3], 0.5));
  cr_assert(eq(dbl, p[4], 60.0));
  cr_assert(read("i1 0 .5"));
  cr_assert(eq(int, n, 3));
  cr_assert(eq(dbl, p[2], 0.5));
  cr_assert(read("  i\t-1.5  0 -1 ; a held note's end"));
  cr_assert(eq(int, n, 3));
  cr_assert(eq(dbl, p[0], -1.5));
  cr_assert(eq(dbl, p[2], -1.0));
  cr_assert(read("i 2 1e-3 2E2 +4;comment"));
  cr_assert(eq(int, n, 4));
  cr_assert(eq(dbl, p[1], 1e-3));
  cr_assert(eq(dbl, p[2], 200.0));
  cr_assert(eq(dbl, p[3], 4.0));
  cr_assert(read("i 1 0 1\n"));
}

Test(score_line, everything_else_stays_text)
{
  const char *text[] = {
    "f 1 0 8192 10 1",     /* another statement */
    "e",
    "q 1 0 0",
    "i \"name\" 0 1",      /* a named instrument */
    "i 1 0",               /* fewer than three p-fields */
    "i",
    "i 1 . 1",             /* carry */
    "i 1 + 1",             /* the previous end */
    "i 1 0 1 < 3",         /* ramp */
    "i 1 0 1 ^+1",
    "i 1 [1/2] 1",         /* expression */
    "i 1 0 $dur",          /* macro */
    "i 1 0 1 i 2 0 1",     /* two statements */
    "i 1 0 1 /* c */",
    "i 1 0 1e",            /* not a number */
    "i 1 0 1.2.3",
    "i 1 0 1x",
    "i 1 0 -",
    "i 1 0 1e999",         /* not finite */
    "x 1 0 1",
    "",
  };
  for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
    cr_assert(not(read(text[i])), "'%s' is not plain", text[i]);
  cr_assert(not(read("i 1 2 3 4 5 6 7 8 9")), "more p-fields than room: text");
  cr_assert(read("i 1 2 3 4 5 6 7 8"));
  cr_assert(eq(int, n, 8));
}

/* ---- score_text_prepare: comments out, each line as Csound's line events read it. */

static ScoreCarry carry;
static ScoreTextError err;

static char *
prep(const char *text)
{
  return score_text_prepare(text, &carry, &err);
}

static void
takes(const char *text, const char *expected)
{
  carry = 0;
  char *out = prep(text);
  cr_assert(out != NULL, "'%s' is refused: %s", text, err.message);
  cr_assert(eq(str, out, (char *)expected), "'%s' became '%s'", text, out);
  free(out);
}

static void
refuses(const char *text, int line, const char *why)
{
  carry = 0;
  char *out = prep(text);
  cr_assert(out == NULL, "'%s' is taken as '%s'", text, out ? out : "");
  cr_assert(eq(int, err.line, line), "'%s': line %d", text, err.line);
  cr_assert(strstr(err.message, why) != NULL, "'%s': '%s' lacks '%s'", text, err.message, why);
}

Test(score_text, comments_are_removed_as_in_a_score)
{
  takes("i 1 0 0.2 7 ; a comment", "i 1 0 0.2 7 \n");
  takes("i 1 0 0.2 7 // a comment", "i 1 0 0.2 7 \n");
  takes("i 1 0 /* p3: */ 0.2 7", "i 1 0   0.2 7\n");
  takes("i 1 0 1 /* one\ntwo */ 5\ni 2 0 1", "i 1 0 1   5\ni 2 0 1\n");
  takes("; only a comment", "");
  takes("\n\n  \t\n", "");
  takes("/* all\nof it */", "");
  takes("i \"semi;colon\" 0 1 ; real", "i \"semi;colon\" 0 1 \n");
  takes("f 1 0 0 1 \"a//b.wav\" 0 0 0", "f 1 0 0 1 \"a//b.wav\" 0 0 0\n");
  takes("i 1 0 1\r\n", "i 1 0 1\r\n");
}

Test(score_text, statements_as_csound_line_events_read_them)
{
  takes("i1 0 .5", "i1 0 .5\n");
  takes("i 1 0 1\ni 2 0 1\n", "i 1 0 1\ni 2 0 1\n");
  takes("e", "e\n");
  takes("f -1 0", "f -1 0\n");
  takes("q 1 0 0", "q 1 0 0\n");
  takes("d 1 0 0", "d 1 0 0\n");
  takes("i -1 0 1", "i -1 0 1\n");
  takes("i 1 0 1 1e3 -2.5e-1 +4 0x10", "i 1 0 1 1e3 -2.5e-1 +4 0x10\n");
  takes("i \"two\nlines\" 0 1", "i \"two\nlines\" 0 1\n");
  takes("i 1 0 1 440\ni 1 1 . .", "i 1 0 1 440\ni 1 1 . .\n");
  cr_assert(eq(int, (int)(carry & 0xffff), 4), "the carry word keeps the last 'i' line");
}

Test(score_text, what_csound_would_throw_away_is_refused)
{
  refuses("a 0 0 10", 1, "'a'");
  refuses("i 1 0 1\n  a 0 0 1e7", 2, "'a'");
  refuses("abc", 1, "not a real-time score statement");
  refuses("t 0 60", 1, "not a real-time score statement");
  refuses("i 1 0 1 np3", 1, "'np3' is not a number");
  refuses("i 1 0 [1+1]", 1, "not a number");
  refuses("i 1 0 $dur", 1, "not a number");
  refuses("i 1 0 1 +nan", 1, "not a finite number");
  refuses("i 1 0 1 1e999", 1, "not a finite number");
  refuses("i 1 0", 1, "too few");
  refuses("f 1 0", 1, "too few");
  refuses("i 1 -1 1", 1, "negative start");
  refuses("i 1 0 1 .", 1, "carry");
  refuses("i \"a\" 0 1\ni . 1 1", 2, "string");
  refuses("i 1 0 1 /* open", 1, "does not end");
  refuses("i \"open 0 1", 1, "does not end");
  refuses("i 1 0 1\n\ni 1 0 1 x", 3, "'x'");
}

Test(score_text, a_carry_reaches_across_texts)
{
  carry = 0;
  char *a = prep("i 1 0 1 440");
  cr_assert(a != NULL);
  char *b = prep("i 1 1 . .");
  cr_assert(b != NULL, "%s", err.message);
  free(a);
  free(b);
}

/* The tempo a timebase master starts at: the score's `t` statement. */
Test(score_tempo, the_first_t_statement_of_the_score)
{
  double bpm = 0;
  bool changes = true;
  cr_assert(score_tempo_at_start("<CsScore>\n; a comment\nt 0 140\ni 1 0 1\n</CsScore>", &bpm,
                                 &changes));
  cr_expect(eq(dbl, bpm, 140.0));
  cr_expect(not(changes));
  cr_assert(score_tempo_at_start("<CsScore>\n/* t 0 90 */ t 0 60 4 120 ; speeds up\n</CsScore>",
                                 &bpm, &changes));
  cr_expect(eq(dbl, bpm, 60.0));
  cr_expect(changes);
  cr_assert(score_tempo_at_start("<CsScore>t 0 100 8 100\n</CsScore>", &bpm, &changes));
  cr_expect(not(changes));
  /* No score, no t, a t in the orchestra or a comment, or one not at 0. */
  cr_expect(not(score_tempo_at_start("<CsInstruments>\nt 0 90\n</CsInstruments>", &bpm, &changes)));
  cr_expect(not(score_tempo_at_start("<CsScore>\ni 1 0 1\n; t 0 90\n</CsScore>", &bpm, &changes)));
  cr_expect(not(score_tempo_at_start("<CsScore>\ntable 1\n</CsScore>", &bpm, &changes)));
  cr_expect(not(score_tempo_at_start("<CsScore>\nt 2 90\n</CsScore>", &bpm, &changes)));
  cr_expect(not(score_tempo_at_start("<CsScore>\nt 0 -5\n</CsScore>", &bpm, &changes)));
  cr_expect(not(score_tempo_at_start("<CsScore>\ni 1 0 1\n</CsScore>\nt 0 90\n", &bpm, &changes)));
}
