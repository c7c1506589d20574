/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The #include screen (src/parsers/include_check.c): which directives would leave
 * Csound's parser reading for ever, on the real file system (/dev, a named
 * pipe made here), without Csound.
 */

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "include_check.h"

static char why[512];
/* Csound's INCDIR as the adapter passes it. */
static const char *incdir;

static bool
blocks(const char *code)
{
  why[0] = '\0';
  return include_check_blocks(code, incdir, why, sizeof why);
}

Test(include_check, devices_and_pipes_are_refused)
{
  cr_assert(blocks("#include \"/dev/zero\"\ninstr 1\nendin\n"));
  cr_assert(ne(ptr, strstr(why, "\"/dev/zero\" is a character device"), NULL), "why: %s", why);
  cr_assert(blocks("instr 1\nendin\n  #include\t|/dev/null|\n"));
  cr_assert(blocks("#includestr \"/dev/urandom\""));
  char fifo[64];
  snprintf(fifo, sizeof fifo, "/tmp/csjtest-%d-inc-fifo", (int)getpid());
  unlink(fifo);
  cr_assert(eq(int, mkfifo(fifo, 0600), 0));
  char code[160];
  snprintf(code, sizeof code, "gi_a = 1\n#include \"%s\"\n", fifo);
  const bool refused = blocks(code);
  unlink(fifo);
  cr_assert(refused);
  cr_assert(ne(ptr, strstr(why, "named pipe"), NULL), "why: %s", why);
}

Test(include_check, files_and_unknown_names_are_left_to_csound)
{
  cr_assert(not(blocks("instr 1\nendin\n")));
  cr_assert(not(blocks("#include \"/no/such/file.orc\"")));
  cr_assert(not(blocks("#include \"/etc/hostname\"")));
  cr_assert(not(blocks("#include \"/tmp\""))); /* a directory: Csound says so */
  cr_assert(not(blocks("#include \"relative/missing.inc\"")));
  /* a macro: only Csound can expand it */
  cr_assert(not(blocks("#define F #/dev/zero#\n#includestr \"$F\"")));
  /* malformed: Csound's parser reports it */
  cr_assert(not(blocks("#include \"/dev/zero")));
  cr_assert(not(blocks("#include \"/dev/zero\n\"")));
  cr_assert(not(blocks("#include")));
  cr_assert(not(blocks("#include   ")));
  cr_assert(not(blocks("#include \"\"")));
}

Test(include_check, comments_and_strings_are_not_directives)
{
  cr_assert(not(blocks("; #include \"/dev/zero\"\nreturn 1")));
  cr_assert(not(blocks("// #include \"/dev/zero\"\nreturn 1")));
  cr_assert(not(blocks("/* a\n#include \"/dev/zero\"\n*/ return 1")));
  cr_assert(not(blocks("prints \"#include |/dev/zero|\\n\"")));
  /* and code after them is still read */
  cr_assert(blocks("; note\n/* x */ prints \"a\"\n#include \"/dev/zero\""));
  /* an unterminated block comment or string ends the text */
  cr_assert(not(blocks("/* #include \"/dev/zero\"")));
  cr_assert(not(blocks("S = \"#include \"/dev/zero\"")));
}

Test(include_check, incdir_is_searched)
{
  cr_assert(not(blocks("#include \"zero\"")));
  incdir = "/no/such/dir;/dev";
  cr_assert(blocks("#include \"zero\""));
  incdir = "/no/such/dir::/etc";
  cr_assert(not(blocks("#include \"hostname\"")));
  incdir = NULL;
}

Test(include_check, long_names_and_a_small_why_buffer)
{
  char code[6000];
  memset(code, 'a', sizeof code);
  memcpy(code, "#include \"", 10);
  code[sizeof code - 2] = '"';
  code[sizeof code - 1] = '\0';
  cr_assert(not(blocks(code)));
  char small[8];
  cr_assert(include_check_blocks("#include \"/dev/zero\"", NULL, small, sizeof small));
  cr_assert(eq(int, (int)strlen(small), 7));
}
