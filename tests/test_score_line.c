/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Plain numeric score lines (src/score_line.c), which constant-latency
 * mode stamps like score events: what is read, and what is left to Csound
 * as text.
 */

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "score_line.h"

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

Test(score_line, advance_statements_are_found)
{
  cr_assert(score_text_advances("a 0 0 10"));
  cr_assert(score_text_advances("a0 0 10\n"));
  cr_assert(score_text_advances("i 1 0 1\n  a 0 0 1e7\ni 1 0 1"));
  cr_assert(score_text_advances("\ta\n"));
  cr_assert(score_text_advances("a"));
  cr_assert(not(score_text_advances("i 1 0 1 ; a 0 0 1")));
  cr_assert(not(score_text_advances("i \"alpha\" 0 1")));
  cr_assert(not(score_text_advances("f 1 0 16 10 1\ne")));
  cr_assert(not(score_text_advances("abc")));
  cr_assert(not(score_text_advances("")));
  cr_assert(not(score_text_advances(NULL)));
}
