/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the orchestra splitter (no JACK, no Csound). */

#include "orchestra_split.h"

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <string.h>

static char **units;
static uint32_t count;

static void
split(const char *text)
{
  units = orchestra_split(text, &count);
}

static void
cleanup(void)
{
  orchestra_split_free(units, count);
  units = NULL;
  count = 0;
}

TestSuite(split, .fini = cleanup);

Test(split, instruments_and_globals_in_order)
{
  split("giA = 1\n"
        "instr 1\n  out oscili(0.1, 440)\nendin\n"
        "gkB init 2\n"
        "opcode Twice, k, k\n  kx xin\n  xout kx * 2\nendop\n"
        "instr 2, 3\n  out 0\nendin\n");
  cr_assert(eq(u32, count, 5));
  cr_assert(eq(str, units[0], "giA = 1\n"));
  cr_assert(eq(str, units[1], "instr 1\n  out oscili(0.1, 440)\nendin\n"));
  cr_assert(eq(str, units[2], "gkB init 2\n"));
  cr_assert(eq(int, strncmp(units[3], "opcode Twice", 12), 0));
  cr_assert(eq(int, strncmp(units[4], "instr 2, 3", 10), 0));
}

Test(split, keywords_in_comments_and_strings_are_text)
{
  split("instr 1 ; endin here is a comment\n"
        "  prints \"endin\"\n"
        "  /* instr 9\n endin */\n"
        "  // endin\n"
        "endin\n");
  cr_assert(eq(u32, count, 1));
}

Test(split, a_last_line_without_newline_gets_one)
{
  split("instr 1\nendin");
  cr_assert(eq(u32, count, 1));
  cr_assert(eq(str, units[0], "instr 1\nendin\n"));
}

Test(split, comments_alone_make_no_unit)
{
  split("; a comment\n\ninstr 1\nendin\n; trailing\n");
  cr_assert(eq(u32, count, 1));
}

/* Cases it must refuse, so the text compiles in one piece. The texts are
 * inline arrays: Criterion runs each case in a fresh process, where pointers
 * into the parent's memory would be meaningless. */
typedef struct {
  char text[64];
} Refused;

static Refused refused[] = {
  {"#define X #1#\ninstr 1\nendin\n"},          /* preprocessor */
  {"  #include \"other.orc\"\n"},                /* preprocessor, indented */
  {"instr 1\nS = {{ endin }}\nendin\n"},          /* {{ }} string */
  {"instr 1\n  out 0\n"},                         /* unterminated */
  {"instr 1\ninstr 2\nendin\nendin\n"},           /* nested */
  {"endin\n"},                                    /* end without a start */
  {"instr 1\nendin\n/* open comment\n"},          /* unterminated comment */
  {""},                                           /* nothing */
  {"   \n\n; only a comment\n"},                  /* no code */
};

ParameterizedTestParameters(split, refuses)
{
  return cr_make_param_array(Refused, refused, sizeof(refused) / sizeof(refused[0]));
}

ParameterizedTest(Refused *c, split, refuses)
{
  split(c->text);
  cr_assert(eq(ptr, units, NULL), "split '%s' into %u units", c->text, count);
  cr_assert(eq(u32, count, 0));
}
