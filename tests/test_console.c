/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of the live console (app/console.c).
 *
 * Suite console_parse (meson suite 'unit', no JACK): console_parse_line on a
 * table of lines, console_execute_line without an engine, and random bytes
 * through both.
 *
 * Suite console (meson suite 'jack'): the real csjack executable
 * ($CSJACK_BIN) on a private jackd, driven through pipes on its stdin and
 * stdout, as a user's script would. Every reply is read with a timeout; a
 * failing test prints csjack's stderr.
 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sndfile.h>

#include "console.h"
#include "csjack.h"
#include "jack_harness.h"

/* ---- the parser: a table of lines ---------------------------------------------- */

typedef struct {
  const char *line;
  size_t len;            /* 0: strlen(line) */
  ConsoleKind kind;
  const char *cmd;       /* NULL: not checked */
  const char *text;      /* NULL: must be NULL */
  const char *name;      /* NULL: must be NULL */
  double value;
  int table;
  int index;
  int bits;
  bool direct;
  const char *error;     /* CONSOLE_ERROR: a substring of the message */
} ParseCase;

#define K(x) CONSOLE_##x

static const ParseCase k_cases[] = {
  /* nothing to do */
  {.line = "", .kind = K(NOTHING)},
  {.line = "   ", .kind = K(NOTHING)},
  {.line = "\t \t", .kind = K(NOTHING)},
  {.line = "\r", .kind = K(NOTHING)},
  {.line = "\n", .kind = K(NOTHING)},
  {.line = "  ; a comment", .kind = K(NOTHING)},
  {.line = "# a comment", .kind = K(NOTHING)},
  /* score lines */
  {.line = "i 1 0 1", .kind = K(SCORE), .cmd = "score", .text = "i 1 0 1"},
  {.line = "   i1 0 1 0.5   ", .kind = K(SCORE), .cmd = "score", .text = "i1 0 1 0.5"},
  {.line = "i \"name\" 0 1", .kind = K(SCORE), .cmd = "score", .text = "i \"name\" 0 1"},
  {.line = "i\"name\" 0 1", .kind = K(SCORE), .cmd = "score", .text = "i\"name\" 0 1"},
  {.line = "i -1 0 0", .kind = K(SCORE), .cmd = "score", .text = "i -1 0 0"},
  {.line = "i.5", .kind = K(SCORE), .cmd = "score", .text = "i.5"},
  {.line = "f 1 0 1024 10 1", .kind = K(SCORE), .cmd = "score", .text = "f 1 0 1024 10 1"},
  {.line = "e", .kind = K(SCORE), .cmd = "score", .text = "e"},
  {.line = "q 1 0 0", .kind = K(SCORE), .cmd = "score", .text = "q 1 0 0"},
  {.line = "a 0 0 10", .kind = K(SCORE), .cmd = "score", .text = "a 0 0 10"},
  {.line = "i 1 0 1 ; héllo", .kind = K(SCORE), .cmd = "score", .text = "i 1 0 1 ; héllo"},
  {.line = "i 1 0 1\r", .kind = K(SCORE), .cmd = "score", .text = "i 1 0 1"},
  {.line = "i 1 0 1\r\n", .kind = K(SCORE), .cmd = "score", .text = "i 1 0 1"},
  /* neither */
  {.line = "exit", .kind = K(ERROR), .cmd = "", .error = "not a command or score line: 'exit'"},
  {.line = "quit", .kind = K(ERROR), .cmd = "", .error = "not a command or score line: 'quit'"},
  {.line = "hello world", .kind = K(ERROR), .cmd = "", .error = "'hello world'"},
  {.line = "t 0 60", .kind = K(ERROR), .cmd = "", .error = "not a command or score line"},
  {.line = "ifoo", .kind = K(ERROR), .cmd = "", .error = "not a command or score line"},
  /* :eval and friends */
  {.line = ":eval return 2+2", .kind = K(EVAL), .cmd = "eval", .text = "return 2+2"},
  {.line = "  :eval   return 2+2  ", .kind = K(EVAL), .cmd = "eval", .text = "return 2+2"},
  {.line = ":eval! return 3", .kind = K(EVAL), .cmd = "eval", .text = "return 3", .direct = true},
  {.line = ":eval gi_t ftgen 0,0,-1024,-2,0\\nreturn gi_t", .kind = K(EVAL), .cmd = "eval", .text = "gi_t ftgen 0,0,-1024,-2,0\nreturn gi_t"},
  {.line = ":eval prints \"a\\\\n\"", .kind = K(EVAL), .cmd = "eval", .text = "prints \"a\\n\""},
  {.line = ":eval prints \"\\\"q\\\"\"", .kind = K(EVAL), .cmd = "eval", .text = "prints \"\\\"q\\\"\""},
  {.line = ":eval a\\tb\\rc\\x41\\x00\\xg1\\", .kind = K(EVAL), .cmd = "eval", .text = "a\tb\rcA\\x00\\xg1\\"},
  {.line = ":eval", .kind = K(ERROR), .cmd = "eval", .error = "missing CODE"},
  {.line = ":eval    ", .kind = K(ERROR), .cmd = "eval", .error = "missing CODE"},
  {.line = ":eval return 1\r", .kind = K(EVAL), .cmd = "eval", .text = "return 1"},
  {.line = ":orc instr 9\\nout oscili(0.1, 440)\\nendin", .kind = K(ORC), .cmd = "orc", .text = "instr 9\nout oscili(0.1, 440)\nendin"},
  {.line = ":orc! instr 9\\nendin", .kind = K(ORC), .cmd = "orc", .text = "instr 9\nendin", .direct = true},
  {.line = ":orc", .kind = K(ERROR), .cmd = "orc", .error = "missing CODE"},
  {.line = ":compile  /tmp/a b.orc  ", .kind = K(COMPILE), .cmd = "compile", .text = "/tmp/a b.orc"},
  {.line = ":compile! f.orc", .kind = K(COMPILE), .cmd = "compile", .text = "f.orc", .direct = true},
  {.line = ":compile a\\nb.orc", .kind = K(COMPILE), .cmd = "compile", .text = "a\\nb.orc"},
  {.line = ":compile", .kind = K(ERROR), .cmd = "compile", .error = "missing FILE"},
  /* channels */
  {.line = ":chn amp 0.25", .kind = K(CHN_SET), .cmd = "chn", .text = NULL, .name = "amp", .value = 0.25},
  {.line = ":chn amp", .kind = K(CHN_GET), .cmd = "chn", .text = NULL, .name = "amp"},
  {.line = ":chn amp\r", .kind = K(CHN_GET), .cmd = "chn", .text = NULL, .name = "amp"},
  {.line = ":chn  amp   -1e3  ", .kind = K(CHN_SET), .cmd = "chn", .text = NULL, .name = "amp", .value = -1000.0},
  {.line = ":chn amp 0x10", .kind = K(CHN_SET), .cmd = "chn", .text = NULL, .name = "amp", .value = 16.0},
  {.line = ":chn amp nan", .kind = K(ERROR), .cmd = "chn", .error = "not a finite number"},
  {.line = ":chn amp inf", .kind = K(ERROR), .cmd = "chn", .error = "not a finite number"},
  {.line = ":chn amp 1e999", .kind = K(ERROR), .cmd = "chn", .error = "not a finite number"},
  {.line = ":chn amp 1,5", .kind = K(ERROR), .cmd = "chn", .error = "not a finite number"},
  {.line = ":chn amp 0.5 x", .kind = K(ERROR), .cmd = "chn", .error = "too many arguments"},
  {.line = ":chn", .kind = K(ERROR), .cmd = "chn", .error = "missing NAME"},
  {.line = ":schn title hello world", .kind = K(SCHN_SET), .cmd = "schn", .text = "hello world", .name = "title"},
  {.line = ":schn title", .kind = K(SCHN_GET), .cmd = "schn", .text = NULL, .name = "title"},
  {.line = ":schn title ", .kind = K(SCHN_SET), .cmd = "schn", .text = "", .name = "title"},
  {.line = ":schn title   two  ", .kind = K(SCHN_SET), .cmd = "schn", .text = "  two  ", .name = "title"},
  {.line = ":schn t a\\nb\\\\", .kind = K(SCHN_SET), .cmd = "schn", .text = "a\nb\\", .name = "t"},
  {.line = ":schn s ünï", .kind = K(SCHN_SET), .cmd = "schn", .text = "ünï", .name = "s"},
  {.line = ":schn", .kind = K(ERROR), .cmd = "schn", .error = "missing NAME"},
  /* tables */
  {.line = ":tget 100 3", .kind = K(TGET), .cmd = "tget", .table = 100, .index = 3},
  {.line = ":tset 100 3 0.5", .kind = K(TSET), .cmd = "tset", .value = 0.5, .table = 100, .index = 3},
  {.line = ":tset -1 -2 -0.5", .kind = K(TSET), .cmd = "tset", .value = -0.5, .table = -1, .index = -2},
  {.line = ":tget 100", .kind = K(ERROR), .cmd = "tget", .error = "INDEX must be an integer"},
  {.line = ":tget x 1", .kind = K(ERROR), .cmd = "tget", .error = "TABLE must be an integer"},
  {.line = ":tget 1.5 1", .kind = K(ERROR), .cmd = "tget", .error = "TABLE must be an integer"},
  {.line = ":tget 99999999999 1", .kind = K(ERROR), .cmd = "tget", .error = "TABLE must be an integer"},
  {.line = ":tget 1 2 3", .kind = K(ERROR), .cmd = "tget", .error = "too many arguments"},
  {.line = ":tset 1 2", .kind = K(ERROR), .cmd = "tset", .error = "VALUE must be a finite number"},
  {.line = ":tset 1 2 3 4", .kind = K(ERROR), .cmd = "tset", .error = "too many arguments"},
  /* no arguments */
  {.line = ":pause", .kind = K(PAUSE), .cmd = "pause"},
  {.line = ":play", .kind = K(PLAY), .cmd = "play"},
  {.line = ":flush", .kind = K(FLUSH), .cmd = "flush"},
  {.line = ":stats", .kind = K(STATS), .cmd = "stats"},
  {.line = ":stats\n", .kind = K(STATS), .cmd = "stats"},
  {.line = ":stats\r\n", .kind = K(STATS), .cmd = "stats"},
  {.line = ":stop-record", .kind = K(STOP_RECORD), .cmd = "stop-record"},
  {.line = ":help", .kind = K(HELP), .cmd = "help"},
  {.line = ":quit", .kind = K(QUIT), .cmd = "quit"},
  {.line = ":quit  ", .kind = K(QUIT), .cmd = "quit"},
  {.line = ":pause now", .kind = K(ERROR), .cmd = "pause", .error = "takes no arguments"},
  /* recording */
  {.line = ":record out.wav", .kind = K(RECORD), .cmd = "record", .text = "out.wav", .bits = 24},
  {.line = ":record out.wav 16", .kind = K(RECORD), .cmd = "record", .text = "out.wav", .bits = 16},
  {.line = ":record my take.wav  32 ", .kind = K(RECORD), .cmd = "record", .text = "my take.wav", .bits = 32},
  {.line = ":record 24", .kind = K(RECORD), .cmd = "record", .text = "24", .bits = 24},
  {.line = ":record x.wav 20", .kind = K(ERROR), .cmd = "record", .error = "BITS must be 16, 24 or 32"},
  {.line = ":record", .kind = K(ERROR), .cmd = "record", .error = "missing FILE"},
  /* unknown commands */
  {.line = ":foo", .kind = K(ERROR), .cmd = "", .error = "unknown command ':foo'"},
  {.line = ":", .kind = K(ERROR), .cmd = "", .error = "unknown command ':'"},
  {.line = ": eval 1", .kind = K(ERROR), .cmd = "", .error = "unknown command ':'"},
  {.line = ":EVAL 1", .kind = K(ERROR), .cmd = "", .error = "unknown command ':EVAL'"},
  {.line = ":foo\x01", .kind = K(ERROR), .cmd = "", .error = "unknown command ':foo\\x01'"},
  {.line = ":foo\\bar", .kind = K(ERROR), .cmd = "", .error = "unknown command ':foo\\\\bar'"},
  /* bytes that never reach Csound */
  {.line = ":eval a\0b", .len = 8, .kind = K(ERROR), .cmd = "", .error = "line contains a NUL byte"},
  {.line = "\0", .len = 1, .kind = K(ERROR), .cmd = "", .error = "line contains a NUL byte"},
  {.line = "i 1\n0 1", .kind = K(ERROR), .cmd = "", .error = "line contains a newline"},
  {.line = "i 1 0 1 \xff\xfe", .kind = K(ERROR), .cmd = "", .error = "not valid UTF-8 (byte 8)"},
  {.line = "\xc0\xaf", .kind = K(ERROR), .cmd = "", .error = "not valid UTF-8 (byte 0)"},     /* overlong '/' */
  {.line = ":eval \xed\xa0\x80", .kind = K(ERROR), .cmd = "", .error = "not valid UTF-8 (byte 6)"}, /* surrogate */
  {.line = "i 1 \xf4\x90\x80\x80", .kind = K(ERROR), .cmd = "", .error = "not valid UTF-8 (byte 4)"}, /* > U+10FFFF */
  {.line = "i 1 \xe2\x82", .kind = K(ERROR), .cmd = "", .error = "not valid UTF-8 (byte 4)"},  /* cut short */
  {.line = "i 1 \xf0\x9f\x8e\xb5", .kind = K(SCORE), .cmd = "score", .text = "i 1 \xf0\x9f\x8e\xb5"},   /* U+1F3B5 */
};

static void
check_case(size_t i, const ParseCase *pc)
{
  const size_t len = pc->len ? pc->len : strlen(pc->line);
  ConsoleCommand c = console_parse_line(pc->line, len);
  cr_expect(eq(int, (int)c.kind, (int)pc->kind), "case %zu '%s': kind (error: %s)", i, pc->line,
            c.error);
  if (pc->cmd) {
    cr_expect(eq(str, (char *)c.cmd, (char *)pc->cmd), "case %zu '%s': cmd", i, pc->line);
  }
  if (pc->kind == CONSOLE_ERROR) {
    cr_expect(ne(ptr, strstr(c.error, pc->error), NULL), "case %zu '%s': error '%s' lacks '%s'",
              i, pc->line, c.error, pc->error);
    cr_expect(eq(ptr, strchr(c.error, '\n'), NULL), "case %zu: error has a newline", i);
  } else if (pc->kind != CONSOLE_NOTHING) {
    if (pc->text) {
      cr_expect(ne(ptr, c.text, NULL), "case %zu '%s': no text", i, pc->line);
      if (c.text) {
        cr_expect(eq(str, c.text, (char *)pc->text), "case %zu '%s': text", i, pc->line);
      }
    } else {
      cr_expect(eq(ptr, c.text, NULL), "case %zu '%s': text '%s'", i, pc->line, c.text);
    }
    if (pc->name) {
      cr_expect(ne(ptr, c.name, NULL), "case %zu '%s': no name", i, pc->line);
      if (c.name) {
        cr_expect(eq(str, c.name, (char *)pc->name), "case %zu '%s': name", i, pc->line);
      }
    } else {
      cr_expect(eq(ptr, c.name, NULL), "case %zu '%s': name", i, pc->line);
    }
    cr_expect(eq(dbl, c.value, pc->value), "case %zu '%s': value", i, pc->line);
    cr_expect(eq(int, c.table, pc->table), "case %zu '%s': table", i, pc->line);
    cr_expect(eq(int, c.index, pc->index), "case %zu '%s': index", i, pc->line);
    cr_expect(eq(int, c.bits, pc->bits), "case %zu '%s': bits", i, pc->line);
    cr_expect(eq(int, c.direct, pc->direct), "case %zu '%s': direct", i, pc->line);
  }
  console_command_free(&c);
  console_command_free(&c); /* idempotent */
}

Test(console_parse, table)
{
  for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; ++i) {
    check_case(i, &k_cases[i]);
  }
}

Test(console_parse, null_line_is_nothing)
{
  ConsoleCommand c = console_parse_line(NULL, 5);
  cr_expect(eq(int, (int)c.kind, (int)CONSOLE_NOTHING));
  console_command_free(&c);
  console_command_free(NULL);
}

/* Lengths around the cap: CONSOLE_MAX_LINE bytes pass, one more does not,
 * and a CR after the longest line is still dropped. */
Test(console_parse, line_length_cap)
{
  const size_t max = CONSOLE_MAX_LINE;
  char *line = malloc(max + 3);
  cr_assert(ne(ptr, line, NULL));
  memcpy(line, ":eval ", 6);
  memset(line + 6, 'x', max + 2 - 6);

  ConsoleCommand c = console_parse_line(line, max);
  cr_expect(eq(int, (int)c.kind, (int)CONSOLE_EVAL), "%zu bytes: %s", max, c.error);
  cr_expect(eq(sz, c.text ? strlen(c.text) : 0, max - 6));
  console_command_free(&c);

  line[max] = '\r';
  c = console_parse_line(line, max + 1);
  cr_expect(eq(int, (int)c.kind, (int)CONSOLE_EVAL), "%zu bytes and a CR: %s", max, c.error);
  console_command_free(&c);

  line[max] = 'x';
  c = console_parse_line(line, max + 1);
  cr_expect(eq(int, (int)c.kind, (int)CONSOLE_ERROR));
  char want[96];
  snprintf(want, sizeof want, "line too long (%zu bytes, max %d)", max + 1, CONSOLE_MAX_LINE);
  cr_expect(eq(str, c.error, want));
  console_command_free(&c);
  free(line);
}

/* ---- the executor without an engine -------------------------------------------------- */

/* Runs lines through console_execute_line(NULL, ...) and returns the output
 * (malloc'd). */
static char *
run_no_engine(const char *const *lines, size_t n, bool *go_on)
{
  char *buf = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&buf, &size);
  cr_assert(ne(ptr, out, NULL));
  *go_on = true;
  for (size_t i = 0; i < n; ++i) {
    *go_on = console_execute_line(NULL, lines[i], strlen(lines[i]), out);
  }
  fclose(out);
  return buf;
}

Test(console_parse, execute_without_engine)
{
  bool go_on = false;
  const char *blank[] = {"", "   ", "; c"};
  char *out = run_no_engine(blank, 3, &go_on);
  cr_expect(eq(str, out, ""), "blank lines gave output: %s", out);
  cr_expect(go_on);
  free(out);

  const char *foo[] = {":foo"};
  out = run_no_engine(foo, 1, &go_on);
  cr_expect(eq(str, out, "error unknown command ':foo' (try :help)\n"));
  free(out);

  const char *eval[] = {":eval return 1"};
  out = run_no_engine(eval, 1, &go_on);
  char want[256];
  snprintf(want, sizeof want, "error eval: %s: no engine\n", csj_strerror(CSJ_ERR_BAD_ARG));
  cr_expect(eq(str, out, want));
  free(out);

  const char *quit[] = {":quit"};
  out = run_no_engine(quit, 1, &go_on);
  cr_expect(eq(str, out, "ok quit\n"));
  cr_expect(not(go_on));
  free(out);

  const char *help[] = {":help"};
  out = run_no_engine(help, 1, &go_on);
  cr_expect(go_on);
  /* every line but the last is "# ...", the last "ok help" */
  size_t lines = 0;
  for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
    *nl = '\0';
    ++lines;
    if (nl[1] != '\0') {
      cr_expect(eq(int, strncmp(p, "# ", 2), 0), "help line: %s", p);
    } else {
      cr_expect(eq(str, p, "ok help"));
    }
  }
  cr_expect(gt(sz, lines, 10));
  free(out);
}

/* Whether @p s (n bytes) is one line of valid UTF-8 that starts like a reply. */
static bool
is_reply_text(const char *s, size_t n)
{
  if (n == 0 || s[n - 1] != '\n') {
    return false;
  }
  size_t i = 0;
  while (i < n) {
    /* lines: "# ...", "ok ...", "error ..." */
    const char *line = s + i;
    const char *nl = memchr(line, '\n', n - i);
    if (!nl) {
      return false;
    }
    const size_t len = (size_t)(nl - line);
    if (!(len >= 2 && (strncmp(line, "# ", 2) == 0 || strncmp(line, "ok", 2) == 0 ||
                       (len >= 5 && strncmp(line, "error", 5) == 0)))) {
      return false;
    }
    for (size_t k = 0; k < len; ++k) {
      const unsigned char b = (unsigned char)line[k];
      if (b < 0x20 || b == 0x7F) {
        return false;
      }
    }
    ConsoleCommand probe = console_parse_line(line, len);
    /* a reply line that is not valid UTF-8 would be rejected as such */
    const bool bad_utf8 =
      probe.kind == CONSOLE_ERROR && strncmp(probe.error, "line is not valid UTF-8", 23) == 0;
    console_command_free(&probe);
    if (bad_utf8) {
      return false;
    }
    i += len + 1;
  }
  return true;
}

/* Random bytes, and random mixes of the grammar's own pieces: the parser
 * never crashes and every reply is one line (or :help's block) of valid
 * UTF-8. A fuzzer goes further; this keeps the property in the unit suite. */
Test(console_parse, random_lines)
{
  static const char *const pieces[] = {
    ":eval", ":eval!", ":orc", ":compile", ":chn", ":schn", ":tget", ":tset", ":record",
    ":pause", ":stats", ":help", ":foo", "i", "f", "e", " ", "\t", "\\", "\\n", "\\x", "\\x4",
    "\\x00", "\\\\", "1", "-2.5e3", "nan", "0x1p3", "\"", ";", "#", "\r", "\xff", "\xc3",
    "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f", ":", "24", "x.wav", "\x01", "\x7f",
  };
  const size_t npieces = sizeof pieces / sizeof pieces[0];
  unsigned seed = 12345;
  char line[512];
  for (int iter = 0; iter < 20000; ++iter) {
    size_t len = 0;
    if (iter % 2) {
      const size_t want = (size_t)(rand_r(&seed) % 200);
      for (len = 0; len < want; ++len) {
        line[len] = (char)(rand_r(&seed) & 0xFF);
      }
    } else {
      const int count = rand_r(&seed) % 8;
      for (int k = 0; k < count; ++k) {
        const char *p = pieces[(size_t)rand_r(&seed) % npieces];
        const size_t pl = strlen(p);
        if (len + pl >= sizeof line) {
          break;
        }
        memcpy(line + len, p, pl);
        len += pl;
      }
    }
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    cr_assert(ne(ptr, out, NULL));
    console_execute_line(NULL, line, len, out);
    fclose(out);
    if (size > 0) {
      cr_assert(is_reply_text(buf, size), "iteration %d: bad reply '%s'", iter, buf);
    }
    free(buf);
  }
}

/* ---- csjack driven through pipes -------------------------------------------------------- */

#define RATE 48000
#define REPLY_MS 10000

typedef struct {
  HarnessChild ch;   /* pid and err_path; out_path is unused */
  int to_fd;         /* csjack's stdin */
  int from_fd;       /* csjack's stdout */
  char buf[1 << 17];
  size_t len;
  char line[1 << 16];
} Cli;

static Cli *g_cli;
static char *g_record_path;

static void
server_up(void)
{
  /* A write to a csjack that died must fail, not kill the test. */
  signal(SIGPIPE, SIG_IGN);
  harness_server_start(256, RATE);
}

static void
teardown(void)
{
  if (g_cli) {
    if (g_cli->to_fd >= 0) {
      close(g_cli->to_fd);
    }
    close(g_cli->from_fd);
    harness_child_cleanup(&g_cli->ch);
    free(g_cli);
    g_cli = NULL;
  }
  if (g_record_path) {
    unlink(g_record_path);
    free(g_record_path);
    g_record_path = NULL;
  }
  harness_server_stop();
}


static char *
cli_stderr(void)
{
  return harness_read_file(g_cli->ch.err_path);
}

/* Starts csjack on the orchestra @p file with pipes on stdin and stdout and
 * stderr to a file. Like harness_spawn: it dies with the test process. */
static Cli *
cli_start(const char *file)
{
  const char *bin = getenv("CSJACK_BIN");
  cr_assert(ne(ptr, (void *)bin, NULL), "CSJACK_BIN is not set (run via meson test)");
  Cli *c = calloc(1, sizeof *c);
  cr_assert(ne(ptr, c, NULL));
  g_cli = c;
  snprintf(c->ch.err_path, sizeof c->ch.err_path, "/tmp/csjtest-%d-console.err", (int)getpid());
  c->ch.out_path[0] = '\0';
  int in[2];
  int out[2];
  cr_assert(eq(int, pipe2(in, O_CLOEXEC), 0));
  cr_assert(eq(int, pipe2(out, O_CLOEXEC), 0));
  const char *name = harness_name("csjcon");
  char *const argv[] = {(char *)bin, "--no-connect", "-n", (char *)name, (char *)file, NULL};
  const pid_t parent = getpid();
  fflush(NULL);
  const pid_t pid = fork();
  cr_assert(ge(int, pid, 0), "fork: %s", strerror(errno));
  if (pid == 0) {
    harness_child_setup(parent);
    dup2(in[0], 0);
    dup2(out[1], 1);
    const int err = open(c->ch.err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err < 0) {
      _exit(126);
    }
    dup2(err, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  c->ch.pid = pid;
  c->to_fd = in[1];
  c->from_fd = out[0];
  return c;
}

static void
cli_send_bytes(const char *s, size_t n)
{
  while (n > 0) {
    const ssize_t w = write(g_cli->to_fd, s, n);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w < 0) {
      char *err = cli_stderr();
      cr_fatal("write to csjack: %s. Its stderr:\n%s", strerror(errno), err);
    }
    s += w;
    n -= (size_t)w;
  }
}

static void
cli_send_raw(const char *s)
{
  cli_send_bytes(s, strlen(s));
}

static void
cli_send(const char *line)
{
  cli_send_bytes(line, strlen(line));
  cli_send_bytes("\n", 1);
}

/* The next line of csjack's stdout (without '\n'), or NULL after
 * @p timeout_ms or at EOF. Valid until the next call. */
static const char *
cli_try_read(int timeout_ms)
{
  Cli *c = g_cli;
  const double deadline = harness_now_ms() + timeout_ms;
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      size_t n = (size_t)(nl - c->buf);
      const size_t keep = n < sizeof c->line - 1 ? n : sizeof c->line - 1;
      memcpy(c->line, c->buf, keep);
      c->line[keep] = '\0';
      memmove(c->buf, nl + 1, c->len - n - 1);
      c->len -= n + 1;
      return c->line;
    }
    const int left = (int)(deadline - harness_now_ms());
    if (left <= 0 || c->len == sizeof c->buf) {
      return NULL;
    }
    struct pollfd p = {c->from_fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) {
      continue;
    }
    const ssize_t r = read(c->from_fd, c->buf + c->len, sizeof c->buf - c->len);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      return NULL;
    }
    c->len += (size_t)r;
  }
}

/* The next reply line; fails the test (showing csjack's stderr) if none
 * comes. Every line of csjack's stdout must be a console reply. */
static const char *
cli_read(void)
{
  const char *line = cli_try_read(REPLY_MS);
  if (!line) {
    char *err = cli_stderr();
    cr_fatal("no reply from csjack within %d ms. Its stderr:\n%s", REPLY_MS, err);
  }
  cr_assert(strncmp(line, "ok", 2) == 0 || strncmp(line, "error", 5) == 0 ||
              strncmp(line, "# ", 2) == 0,
            "stdout line is not a console reply: '%s'", line);
  return line;
}

/* Sends @p line and returns its reply. */
static const char *
cli_cmd(const char *line)
{
  cli_send(line);
  return cli_read();
}

static void
expect_reply(const char *line, const char *want)
{
  const char *got = cli_cmd(line);
  if (strcmp(got, want) != 0) {
    char *err = cli_stderr();
    cr_fatal("'%s' gave '%s', want '%s'. csjack's stderr:\n%s", line, got, want, err);
  }
}

static void
expect_prefix(const char *line, const char *prefix)
{
  const char *got = cli_cmd(line);
  if (strncmp(got, prefix, strlen(prefix)) != 0) {
    char *err = cli_stderr();
    cr_fatal("'%s' gave '%s', want '%s...'. csjack's stderr:\n%s", line, got, prefix, err);
  }
}

/* csjack answers and has not exited. */
static void
expect_alive(void)
{
  expect_reply(":eval return 1", "ok eval 1");
  int st;
  cr_assert(eq(int, waitpid(g_cli->ch.pid, &st, WNOHANG), 0), "csjack exited");
}

static double
eval_number(const char *line)
{
  const char *got = cli_cmd(line);
  if (strncmp(got, "ok eval ", 8) != 0) {
    char *err = cli_stderr();
    cr_fatal("'%s' gave '%s'. csjack's stderr:\n%s", line, got, err);
  }
  return strtod(got + 8, NULL);
}

/* The value of "key=" in a :stats reply, or -1. */
static double
stat_value(const char *stats, const char *key)
{
  char pat[64];
  snprintf(pat, sizeof pat, " %s=", key);
  const char *p = strstr(stats, pat);
  return p ? strtod(p + strlen(pat), NULL) : -1;
}

Test(console, eval, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_reply(":eval return 2+2", "ok eval 4");
  /* The seed's check: a new table per call, numbered on from the last. */
  const char *ftgen = ":eval gi__tabnum ftgen 0, 0, -1024, -2, 0\\nreturn gi__tabnum";
  const double n1 = eval_number(ftgen);
  const double n2 = eval_number(ftgen);
  cr_expect(ge(dbl, n1, 100.0), "first ftgen 0 table: %g", n1);
  cr_expect(eq(dbl, n2, n1 + 1), "tables %g then %g", n1, n2);
  expect_reply(":eval! return 3", "ok eval 3");
  expect_reply(":eval! return 0.1", "ok eval 0.1");
  /* The fewest digits that read back as the same double. */
  expect_reply(":eval return 1/3", "ok eval 0.3333333333333333");
  cr_expect(eq(dbl, eval_number(":eval return 1/3"), 1.0 / 3.0));
}

/* NaN or infinite output (a division by zero in live code) never reaches
 * the ports or the recording: silence there, counted, said once. */
Test(console, nonfinite_output_is_silenced, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  g_record_path = malloc(128);
  snprintf(g_record_path, 128, "/tmp/csjtest-%d-nan.wav", (int)getpid());
  unlink(g_record_path);
  char line[256];
  snprintf(line, sizeof line, ":record %s 32", g_record_path);
  expect_prefix(line, "ok record");
  expect_reply(":orc instr 5\\nout a(1/k(0))\\nendin\\ninstr 6\\nout a(sqrt(k(-1)))\\nendin",
               "ok orc");
  expect_reply("i 5 0 0.2", "ok score");
  expect_reply("i 6 0 0.2", "ok score");
  harness_sleep_ms(400);
  expect_reply(":stop-record", "ok stop-record");
  const char *stats = cli_cmd(":stats");
  cr_assert(gt(dbl, stat_value(stats, "output_nonfinite"), 0.0), "%s", stats);
  SF_INFO info = {0};
  SNDFILE *f = sf_open(g_record_path, SFM_READ, &info);
  cr_assert(ne(ptr, f, NULL), "cannot read %s", g_record_path);
  float frame[64];
  sf_count_t frames = 0;
  long bad = 0;
  while (sf_readf_float(f, frame, 1) == 1) {
    for (int c = 0; c < info.channels; ++c) {
      bad += !isfinite(frame[c]);
    }
    ++frames;
  }
  sf_close(f);
  cr_assert(gt(long, (long)frames, 9600L), "%ld frames", (long)frames);
  cr_assert(eq(long, bad, 0L), "%ld non-finite samples in the recording", bad);
  expect_alive();
  expect_reply(":quit", "ok quit");
  cr_assert(eq(int, harness_child_wait(&g_cli->ch, 10000), 0));
  char *err = cli_stderr();
  cr_assert(ne(ptr, strstr(err, "NaN or infinite samples"), NULL), "stderr:\n%s", err);
  free(err);
}

Test(console, orc_and_score, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_reply(":orc instr 9\\nout oscili(0.1, 440)\\nendin", "ok orc");
  expect_reply("i 9 0 0.5", "ok score");
  expect_reply("i 9 0 5", "ok score");
  expect_reply(":flush", "ok flush");
  /* The flush returned after the event was queued into Csound; a later
   * eval runs after at least one more k-cycle, when the note is on. */
  cr_expect(ge(dbl, eval_number(":eval return active:i(9)"), 1.0));
  expect_reply(":orc! instr 10\\nout oscili(0.1, 660)\\nendin", "ok orc");
  expect_reply("i 10 0 0.2", "ok score");
  expect_alive();
}

Test(console, compile_errors, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_prefix(":orc instr 11\\nfoo bar baz\\nendin", "error orc: ");
  expect_reply(":eval return 1", "ok eval 1");
  char want[256];
  snprintf(want, sizeof want, "error eval: %s", csj_strerror(CSJ_ERR_EVAL));
  expect_prefix(":eval this is not csound", want);
  expect_reply(":eval return 1", "ok eval 1");
  expect_prefix(":orc! instr 12\\nfoo bar baz\\nendin", "error orc: ");
  expect_prefix(":eval! this is not csound", want);
  expect_alive();
}

Test(console, compile_file, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  char line[1200];
  snprintf(line, sizeof line, ":compile %s", harness_data("console_instr.orc"));
  expect_reply(line, "ok compile");
  snprintf(line, sizeof line, ":compile! %s", harness_data("console_instr.orc"));
  expect_reply(line, "ok compile");
  expect_reply("i 20 0 5", "ok score");
  expect_reply(":flush", "ok flush");
  cr_expect(ge(dbl, eval_number(":eval return active:i(20)"), 1.0));

  char want[256];
  snprintf(want, sizeof want, "error compile: %s: cannot open '/nonexistent/x.orc'",
           csj_strerror(CSJ_ERR_FILE));
  expect_prefix(":compile /nonexistent/x.orc", want);
  snprintf(line, sizeof line, ":compile %s", getenv("CSJ_TEST_DATA"));
  expect_prefix(line, "error compile: ");
  snprintf(line, sizeof line, ":compile %s", harness_data("console_bad.orc"));
  expect_prefix(line, "error compile: ");
  expect_alive();
}

Test(console, channels, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_reply(":chn amp 0.25", "ok chn amp 0.25");
  expect_reply(":chn amp", "ok chn amp 0.25");
  cr_expect(eq(dbl, eval_number(":eval return chnget:i(\"amp\")"), 0.25));
  expect_reply(":chn amp 0.1", "ok chn amp 0.1");
  expect_reply(":chn fresh_channel 7", "ok chn fresh_channel 7");
  expect_reply(":chn fresh_channel", "ok chn fresh_channel 7");
  expect_prefix(":chn amp nan", "error chn: ");
  expect_reply(":schn title hello world", "ok schn title hello world");
  expect_reply(":schn title", "ok schn title hello world");
  expect_reply(":schn title a\\tb\\\\c ünï", "ok schn title a\\tb\\\\c ünï");
  expect_reply(":schn title", "ok schn title a\\tb\\\\c ünï");
  expect_alive();
}

Test(console, tables, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_reply(":tset 50 3 0.5", "ok tset 50 3 0.5");
  expect_reply(":tget 50 3", "ok tget 50 3 0.5");
  expect_reply(":tget 50 0", "ok tget 50 0 0");
  expect_prefix(":tget 999 0", "error tget: ");
  expect_prefix(":tset 999 0 1", "error tset: ");
  expect_prefix(":tset 50 8 1", "error tset: ");
  expect_prefix(":tget 50 -1", "error tget: ");
  expect_reply(":tset 50 7 -2.5", "ok tset 50 7 -2.5");
  expect_alive();
}

Test(console, transport_and_stats, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_reply(":pause", "ok pause");
  char s1[2048];
  snprintf(s1, sizeof s1, "%s", cli_cmd(":stats"));
  cr_assert(eq(int, strncmp(s1, "ok stats ", 9), 0), "%s", s1);
  cr_expect(ne(ptr, strstr(s1, " paused=1"), NULL), "%s", s1);
  harness_sleep_ms(100);
  char s2[2048];
  snprintf(s2, sizeof s2, "%s", cli_cmd(":stats"));
  cr_expect(eq(dbl, stat_value(s2, "ksmps_blocks"), stat_value(s1, "ksmps_blocks")),
            "k-cycles ran while paused:\n%s\n%s", s1, s2);
  cr_expect(gt(dbl, stat_value(s2, "cycles"), stat_value(s1, "cycles")),
            "no JACK cycles while paused:\n%s\n%s", s1, s2);
  expect_reply(":play", "ok play");
  const char *s3 = cli_cmd(":stats");
  const char *keys[] = {"cycles", "ksmps_blocks", "xruns", "messages_dropped", "dropped_cycles",
                        "commands_run", "ring_capacity", "ring_high_water", "record_dropped",
                        "period", "sample_rate", "ksmps", "latency", "inputs", "outputs",
                        "paused", "running"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i) {
    cr_expect(ge(dbl, stat_value(s3, keys[i]), 0.0), "no %s= in %s", keys[i], s3);
  }
  cr_expect(eq(dbl, stat_value(s3, "paused"), 0.0), "%s", s3);
  cr_expect(eq(dbl, stat_value(s3, "running"), 1.0), "%s", s3);
  cr_expect(eq(dbl, stat_value(s3, "period"), 256.0), "%s", s3);
  cr_expect(eq(dbl, stat_value(s3, "sample_rate"), (double)RATE), "%s", s3);
  expect_reply(":flush", "ok flush");
  expect_alive();
}

Test(console, record, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  g_record_path = malloc(128);
  snprintf(g_record_path, 128, "/tmp/csjtest-%d-console.wav", (int)getpid());
  unlink(g_record_path);
  expect_reply(":chn amp 0.5", "ok chn amp 0.5");
  char line[256];
  char want[256];
  snprintf(line, sizeof line, ":record %s 16", g_record_path);
  snprintf(want, sizeof want, "ok record %s 16", g_record_path);
  expect_reply(line, want);
  harness_sleep_ms(300);
  expect_reply(":stop-record", "ok stop-record");
  struct stat st;
  cr_assert(eq(int, stat(g_record_path, &st), 0), "no file %s", g_record_path);
  /* 0.3 s of 2 channels of 16 bits at 48 kHz is 57600 bytes; ask for half */
  cr_expect(gt(long, (long)st.st_size, 44L + 28800L), "size %ld", (long)st.st_size);
  expect_prefix(":record /nonexistent-dir/x.wav", "error record: ");
  expect_alive();
}

Test(console, bad_lines, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();

  expect_reply(":foo", "error unknown command ':foo' (try :help)");
  expect_alive();

  expect_prefix("hello", "error not a command or score line: 'hello'");
  expect_alive();

  /* Csound rejects it (no instrument 999) on stderr; the console queued it. */
  expect_reply("i 999 0 1", "ok score");
  expect_alive();

  cli_send_bytes(":eval a\0b\n", 10);
  cr_expect(eq(str, (char *)cli_read(), "error line contains a NUL byte"));
  expect_alive();

  const size_t big = 70000;
  char *line = malloc(big + 1);
  cr_assert(ne(ptr, line, NULL));
  memcpy(line, ":eval ", 6);
  memset(line + 6, 'x', big - 6);
  line[big] = '\n';
  cli_send_bytes(line, big + 1);
  free(line);
  cr_expect(eq(str, (char *)cli_read(), "error line too long (70000 bytes, max 65536)"));
  expect_alive();

  expect_reply("i 1 0 1 \xff\xfe", "error line is not valid UTF-8 (byte 8)");
  expect_alive();

  cli_send_raw(":eval return 6\r\n");
  cr_expect(eq(str, (char *)cli_read(), "ok eval 6"));
  cli_send_raw(":chn amp 0.125\r\n:chn amp\r\n");
  cr_expect(eq(str, (char *)cli_read(), "ok chn amp 0.125"));
  cr_expect(eq(str, (char *)cli_read(), "ok chn amp 0.125"));

  /* Blank lines get no reply: the next reply is the eval's. */
  cli_send_raw("\n   \n\t\n\r\n; comment\n:eval return 5\n");
  cr_expect(eq(str, (char *)cli_read(), "ok eval 5"));

  expect_alive();
}

Test(console, help, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  cli_send(":help");
  int info = 0;
  for (;;) {
    const char *l = cli_read();
    if (strncmp(l, "# ", 2) == 0) {
      ++info;
      continue;
    }
    cr_expect(eq(str, (char *)l, "ok help"));
    break;
  }
  cr_expect(gt(int, info, 10));
  expect_alive();
}

typedef struct {
  const char *data;
  size_t len;
  int error;
} Flood;

static void *
flood_writer(void *arg)
{
  Flood *f = arg;
  const char *p = f->data;
  size_t n = f->len;
  while (n > 0) {
    const ssize_t w = write(g_cli->to_fd, p, n);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w < 0) {
      f->error = errno;
      break;
    }
    p += w;
    n -= (size_t)w;
  }
  return NULL;
}

/* Reads channel @p name through the console. */
static double
channel_value(const char *name)
{
  char line[128];
  snprintf(line, sizeof line, ":chn %s", name);
  const char *r = cli_cmd(line);
  double v = NAN;
  char prefix[128];
  snprintf(prefix, sizeof prefix, "ok chn %s ", name);
  cr_assert(eq(int, strncmp(r, prefix, strlen(prefix)), 0), "%s", r);
  sscanf(r + strlen(prefix), "%lf", &v);
  return v;
}

/*
 * A pasted score: 10,000 lines with comments through the pipe at once. The
 * console is not a real-time thread: it waits for room in the ring instead
 * of refusing, so every line is answered "ok score" and every note runs,
 * in order (instrument 2 counts them).
 */
Test(console, pasted_score_loses_nothing, .init = server_up, .fini = teardown, .timeout = 120)
{
  cli_start(harness_data("score_order.orc"));
  expect_alive();
  enum { N = 10000 };
  char *all = malloc((size_t)N * 64);
  cr_assert(ne(ptr, all, NULL));
  size_t len = 0;
  for (int i = 0; i < N; ++i) {
    len += (size_t)sprintf(all + len, i % 2 ? "i 2 0 0.01 %d ; note %d\n" : "i 2 0 0.01 %d // %d\n",
                           i, i);
  }
  /* A writer thread sends while this one reads, as a paste into a pipe. */
  Flood flood = {all, len, 0};
  pthread_t writer;
  cr_assert(eq(int, pthread_create(&writer, NULL, flood_writer, &flood), 0));
  int ok = 0;
  for (int i = 0; i < N; ++i) {
    const char *l = cli_read();
    cr_assert(eq(str, (char *)l, "ok score"), "reply %d: '%s'", i, l);
    ++ok;
  }
  pthread_join(writer, NULL);
  free(all);
  cr_expect(eq(int, flood.error, 0), "write: %s", strerror(flood.error));
  expect_reply(":flush", "ok flush");
  double ran;
  while ((ran = channel_value("ran")) < N) {
    harness_sleep_ms(20); /* the notes start at the k-blocks after the flush */
  }
  cr_expect(eq(dbl, ran, (double)N));
  cr_expect(eq(dbl, channel_value("wrong"), 0.0), "notes out of order");
  const char *s = cli_cmd(":stats");
  cr_log_info("paste: %d lines, all ran in order; %s", ok, s);
  expect_alive();
}

/* Score text with comments plays as in a CSD's score; a line Csound's
 * line events would throw away ("illegal RT scoreline") is refused, never
 * answered "ok". */
Test(console, score_comments_and_refused_lines, .init = server_up, .fini = teardown,
     .timeout = 60)
{
  cli_start(harness_data("score_order.orc"));
  expect_alive();
  expect_reply("i 2 0 0.01 0 ; a comment", "ok score");
  expect_reply("i 2 0 0.01 1 // another", "ok score");
  expect_reply("i 2 0 0.01 /* p4: */ 2", "ok score");
  const char *r = cli_cmd("i 2 0 0.01 np3");
  cr_expect(ne(ptr, strstr(r, "error score:"), NULL), "%s", r);
  cr_expect(ne(ptr, strstr(r, "'np3' is not a number"), NULL), "%s", r);
  r = cli_cmd("d 2 0 0 x");
  cr_expect(ne(ptr, strstr(r, "error score:"), NULL), "%s", r);
  r = cli_cmd("i 2 0 0.01 nan");
  cr_expect(ne(ptr, strstr(r, "error score:"), NULL), "%s", r);
  expect_reply(":flush", "ok flush");
  double ran;
  while ((ran = channel_value("ran")) < 3) {
    harness_sleep_ms(20);
  }
  expect_reply(":eval return 0", "ok eval 0");
  cr_expect(eq(dbl, channel_value("ran"), 3.0), "the refused lines did not run");
  cr_expect(eq(dbl, channel_value("wrong"), 0.0));
  expect_alive();
}

/*
 * Random bytes on the console while the music plays: 256 KiB of them in
 * seeded pseudo-random lines (a newline about every 40 bytes), a third of
 * the lines starting with a real command or score statement so that the
 * garbage reaches the commands' own parsers and Csound's. Every stdout
 * line must be a console reply, csjack must still answer afterwards, the
 * always-on instrument must still be active, and k-blocks must keep
 * coming at the sample rate's pace.
 */
Test(console, random_bytes_keep_music_playing, .init = server_up, .fini = teardown,
     .timeout = 120)
{
  static const char *const prefixes[] = {":eval ", ":eval! ", ":orc ", ":chn ", ":schn ",
                                         ":tget ", ":tset ", "i ", "i 2 ", "f ", "a ",
                                         ":pause", ":play", ":flush", ":stats", ":help "};
  enum { SIZE = 256 * 1024 };
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  const double blocks0 = stat_value(cli_cmd(":stats"), "ksmps_blocks");
  const double t0 = harness_now_ms();

  char *all = malloc(SIZE + 64);
  cr_assert(ne(ptr, all, NULL));
  uint64_t x = 0x9e3779b97f4a7c15u;
  size_t n = 0;
  bool line_start = true;
  while (n < SIZE) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (line_start && x % 3 == 0) {
      const char *p = prefixes[(x >> 8) % (sizeof prefixes / sizeof prefixes[0])];
      memcpy(all + n, p, strlen(p));
      n += strlen(p);
    }
    const unsigned char b = (unsigned char)(x >> 24);
    all[n++] = (x >> 40) % 40 == 0 ? '\n' : (char)b;
    line_start = all[n - 1] == '\n';
  }
  /* play on, whatever the garbage paused; then a marker */
  static const char tail[] = "\n:play\n:eval return 4242\n";
  memcpy(all + n, tail, sizeof tail - 1);
  n += sizeof tail - 1;

  Flood flood = {all, n, 0};
  pthread_t writer;
  cr_assert(eq(int, pthread_create(&writer, NULL, flood_writer, &flood), 0));
  long ok = 0, errors = 0;
  for (;;) {
    const char *l = cli_read(); /* fails on anything that is not a reply */
    if (strcmp(l, "ok eval 4242") == 0)
      break;
    if (strncmp(l, "ok", 2) == 0)
      ok++;
    else if (strncmp(l, "error", 5) == 0)
      errors++;
  }
  pthread_join(writer, NULL);
  free(all);
  cr_expect(eq(int, flood.error, 0), "write: %s", strerror(flood.error));
  cr_log_info("random bytes: %ld ok and %ld error replies", ok, errors);
  cr_expect(gt(long, errors, 1000L), "only %ld error replies", errors);

  expect_alive();
  cr_expect(ge(dbl, eval_number(":eval return active(1)"), 1.0),
            "the always-on instrument is gone");
  harness_sleep_ms(300);
  const double blocks1 = stat_value(cli_cmd(":stats"), "ksmps_blocks");
  const double expected = (harness_now_ms() - t0) * 1e-3 * 48000.0 / 32.0;
  cr_expect(gt(dbl, blocks1 - blocks0, 0.5 * expected),
            "%.0f k-blocks in %.0f ms (expected about %.0f)", blocks1 - blocks0,
            harness_now_ms() - t0, expected);
}

Test(console, quit, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  const double t0 = harness_now_ms();
  expect_reply(":quit", "ok quit");
  const int rc = harness_child_wait(&g_cli->ch, 3000);
  const double ms = harness_now_ms() - t0;
  char *err = cli_stderr();
  cr_assert(eq(int, rc, 0), "after :quit (%.0f ms): %d. stderr:\n%s", ms, rc, err);
  free(err);
  cr_expect(eq(ptr, (void *)cli_try_read(1000), NULL), "output after ok quit");
}

/* A ':quit' as the last bytes, without a newline, still counts (at EOF). */
Test(console, quit_without_newline_at_eof, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  cli_send_bytes(":quit", 5);
  close(g_cli->to_fd);
  g_cli->to_fd = -1;
  cr_expect(eq(str, (char *)cli_read(), "ok quit"));
  const int rc = harness_child_wait(&g_cli->ch, 3000);
  cr_assert(eq(int, rc, 0), "exit %d", rc);
}

Test(console, eof_keeps_playing, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  close(g_cli->to_fd);
  g_cli->to_fd = -1;
  harness_sleep_ms(300);
  int st;
  cr_assert(eq(int, waitpid(g_cli->ch.pid, &st, WNOHANG), 0), "csjack ended at EOF");
  const double t0 = harness_now_ms();
  cr_assert(eq(int, kill(g_cli->ch.pid, SIGINT), 0));
  const int rc = harness_child_wait(&g_cli->ch, 3000);
  char *err = cli_stderr();
  cr_assert(eq(int, rc, 0), "after SIGINT (%.0f ms): %d. stderr:\n%s", harness_now_ms() - t0, rc,
            err);
  free(err);
}

/* The console thread is blocked reading an idle stdin: SIGINT must still
 * end csjack at once. */
Test(console, sigint_with_console_open, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  const double t0 = harness_now_ms();
  cr_assert(eq(int, kill(g_cli->ch.pid, SIGINT), 0));
  const int rc = harness_child_wait(&g_cli->ch, 3000);
  const double ms = harness_now_ms() - t0;
  char *err = cli_stderr();
  cr_assert(eq(int, rc, 0), "after SIGINT (%.0f ms): %d. stderr:\n%s", ms, rc, err);
  fprintf(stderr, "test: csjack ended %.0f ms after SIGINT\n", ms);
  free(err);
}

/* The score ends while the console waits on an idle stdin: csjack ends. */
Test(console, score_end_with_console_open, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_finite.csd"));
  expect_alive();
  const int rc = harness_child_wait(&g_cli->ch, 5000);
  char *err = cli_stderr();
  cr_assert(eq(int, rc, 0), "exit %d. stderr:\n%s", rc, err);
  free(err);
}

/* ---- Csound's own failure paths (live code) ------------------------------ */

/* The reply to @p line starts with "error", and csjack plays on. */
static void
expect_error_alive(const char *line)
{
  expect_prefix(line, "error");
  expect_alive();
}

/* Fatal errors in Csound's parser (a missing #include) long-jump on the
 * thread that parses: the caller's for :eval and :eval!, the worker's for
 * :orc. Each is that command's error; the music plays on. */
Test(console, fatal_parse_errors_are_errors, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  expect_error_alive(":eval #include \"/no/such/file.orc\"\\nreturn 1");
  expect_error_alive(":eval! #include \"/no/such/file.orc\"\\nreturn 1");
  expect_error_alive(":orc #include \"/no/such/file.orc\"");
  expect_error_alive(":orc! #include \"/no/such/file.orc\"");
  expect_error_alive(":compile /no/such/file.orc");
  /* and Csound's parser still works afterwards */
  expect_reply(":eval return 6*7", "ok eval 42");
  expect_reply(":eval! return 6*7", "ok eval 42");
}

/* A named pipe at a path that lives as long as the test. */
static char g_fifo_path[128];

static void
remove_fifo(void)
{
  if (g_fifo_path[0]) {
    unlink(g_fifo_path);
  }
}

static const char *
make_fifo(void)
{
  snprintf(g_fifo_path, sizeof g_fifo_path, "/tmp/csjtest-%d-fifo", (int)getpid());
  unlink(g_fifo_path);
  cr_assert(eq(int, mkfifo(g_fifo_path, 0600), 0), "mkfifo: %s", strerror(errno));
  atexit(remove_fifo);
  return g_fifo_path;
}

/* Csound's parser reads an #include to its end: a named pipe or a device
 * would hold the parsing thread (and every compile queued after it) for
 * ever. Each is that command's error, named; the music plays on. */
Test(console, include_of_pipe_or_device_is_refused, .init = server_up, .fini = teardown,
     .timeout = 60)
{
  const char *fifo = make_fifo();
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  char line[512];
  const char *forms[] = {":orc #include \"%s\"", ":orc! #include \"%s\"",
                         ":orc~ #include  |%s|", ":eval #include \"%s\"\\nreturn 1",
                         ":eval! #include \"%s\"\\nreturn 1"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; ++i) {
    snprintf(line, sizeof line, forms[i], fifo);
    const char *got = cli_cmd(line);
    cr_assert(ne(ptr, strstr(got, "named pipe, not a file"), NULL), "'%s' gave '%s'", line, got);
    expect_alive();
  }
  const char *got = cli_cmd(":eval #include \"/dev/zero\"\\nreturn 1");
  cr_assert(ne(ptr, strstr(got, "character device, not a file"), NULL), "got '%s'", got);
  /* commented out, it is no directive */
  expect_reply(":eval ; #include \"/dev/zero\"\\nreturn 6*7", "ok eval 42");
  expect_reply(":eval! return 6*7", "ok eval 42");
}

/* Csound's 'a' statement in real time computes the score time it skips
 * inside one JACK cycle ("a 0 0 1e7" never came back): refused, said why;
 * the rest of the score goes on. */
Test(console, score_advance_is_refused, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  const char *got = cli_cmd("a 0 0 1e7");
  cr_assert(ne(ptr, strstr(got, "'a' (advance score time) is refused"), NULL), "got '%s'", got);
  expect_alive();
  expect_reply("i 1 0 0.1", "ok score");
  expect_alive();
}

/* A recording needs a regular file: opening a named pipe for writing
 * waited for a reader, and the console with it, for ever. */
Test(console, record_to_a_pipe_or_device_is_refused, .init = server_up, .fini = teardown,
     .timeout = 60)
{
  const char *fifo = make_fifo();
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  char line[256];
  snprintf(line, sizeof line, ":record %s", fifo);
  const char *got = cli_cmd(line);
  cr_assert(ne(ptr, strstr(got, "not a regular file"), NULL), "got '%s'", got);
  expect_alive();
  got = cli_cmd(":record /dev/full 16");
  cr_assert(ne(ptr, strstr(got, "not a regular file"), NULL), "got '%s'", got);
  expect_prefix(":record /tmp", "error record: ");
  expect_alive();
}

/* A parse that never ends through a path only Csound can expand (a macro
 * in #includestr naming the pipe): the watchdog calls it after the hang
 * limit, and :quit meanwhile does not wait in silence for ever; csjack
 * exits with status 9 and says which thread is stuck. */
Test(console, parse_that_never_ends_is_reported, .init = server_up, .fini = teardown,
     .timeout = 60)
{
  const char *fifo = make_fifo();
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  char line[512];
  snprintf(line, sizeof line, ":orc #define PIPE #%s#\\n#includestr \"$PIPE\"", fifo);
  cli_send(line);
  cli_send(":quit");
  const int rc = harness_child_wait(&g_cli->ch, 20000);
  char *err = cli_stderr();
  cr_assert(eq(int, rc, 9), "exit %d. stderr:\n%s", rc, err);
  cr_assert(ne(ptr, strstr(err, "the parser of a compile"), NULL), "stderr:\n%s", err);
  free(err);
}

/* An init error in instr 0 is an error, not "ok": Csound merges the code
 * and says success, but prints INIT ERROR. */
Test(console, init_errors_are_errors, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  expect_error_alive(":eval gi_big ftgen 0,0,-2000000000,-2,0\\nreturn gi_big");
  expect_error_alive(":eval i1 table 0, 999\\nreturn 5");
  expect_error_alive(":eval! i1 table 0, 999\\nreturn 5");
  expect_error_alive(":orc i_x table 0, 999");
  expect_error_alive(":orc! i_x table 0, 999");
}

/* A staged compile means what one piece means: the global code runs after
 * every instrument of the text exists, so `prealloc 10` before `instr 10`
 * is fine, and `schedule 11` before `instr 11` plays instr 11. */
Test(console, staged_compile_keeps_meaning, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  expect_reply(":orc prealloc 10, 8\\ninstr 10\\na1 oscili 0.1, 220\\nout a1\\nendin\\n"
               "instr 12\\nendin\\ninstr 14\\nendin",
               "ok orc");
  expect_alive();
  expect_reply(":orc schedule 11, 0, 1\\ninstr 11\\nchnset 42, \"eleven\"\\nendin\\n"
               "instr 13\\nendin\\ninstr 15\\nendin",
               "ok orc");
  double value = 0;
  for (int i = 0; i < 100 && value != 42; ++i) {
    const char *got = cli_cmd(":chn eleven");
    cr_assert(eq(int, strncmp(got, "ok chn eleven ", 14), 0), "got '%s'", got);
    value = strtod(got + 14, NULL);
    if (value != 42) {
      harness_sleep_ms(20);
    }
  }
  cr_assert(eq(dbl, value, 42.0), "instr 11, scheduled before it was defined, did not run");
  /* a named instrument before a numbered one: Csound numbers the named one
   * after the text's numbered ones, so `subinstr "foo"` is not instr 3
   * itself (merged in text order, foo took number 3, was replaced by it,
   * and instr 3 called itself until the stack ran out) */
  expect_reply(":orc instr foo\\nout oscili(0.1, 440)\\nendin\\n"
               "instr 3\\na1 subinstr \"foo\"\\nout a1\\nendin",
               "ok orc");
  expect_reply("i 3 0 0.2", "ok score");
  harness_sleep_ms(400);
  expect_alive();
  /* an instrument that uses a global its own text declares: one piece */
  expect_reply(":orc gk_level init 0.5\\ninstr 16\\nchnset gk_level, \"level\"\\nendin\\n"
               "instr 17\\nendin\\nschedule 16, 0, 0.1",
               "ok orc");
  expect_alive();
}

/* An endless loop in live code: the watchdog ends the performance after
 * the hang limit, with one line that names the likely cause, and csjack
 * exits with status 9 instead of staying silent for ever. */
static void
endless_loop_ends(const char *line, const char *then)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  cli_send(line);
  if (then) {
    cli_send(then);
  }
  const int rc = harness_child_wait(&g_cli->ch, 20000);
  char *err = cli_stderr();
  cr_assert(eq(int, rc, 9), "exit %d after '%s'. stderr:\n%s", rc, line, err);
  cr_assert(ne(ptr, strstr(err, "endless loop"), NULL), "stderr:\n%s", err);
  free(err);
}

Test(console, endless_loop_queued_eval, .init = server_up, .fini = teardown, .timeout = 60)
{
  endless_loop_ends(":eval while 1 == 1 do\\nod\\nreturn 1", NULL);
}

Test(console, endless_loop_direct_eval, .init = server_up, .fini = teardown, .timeout = 60)
{
  endless_loop_ends(":eval! while 1 == 1 do\\nod\\nreturn 1", NULL);
}

Test(console, endless_loop_in_instrument, .init = server_up, .fini = teardown, .timeout = 60)
{
  endless_loop_ends(":orc instr 5\\nwhile 1 == 1 do\\nod\\nendin", "i 5 0 1");
}

/* SIGTERM while a direct call is stuck in Csound (before the watchdog's
 * limit): csjack does not wait for it, and exits with status 9. */
Test(console, sigterm_while_csound_stuck, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  cli_send(":eval! while 1 == 1 do\\nod\\nreturn 1");
  harness_sleep_ms(300);
  cr_assert(eq(int, kill(g_cli->ch.pid, SIGTERM), 0));
  const int rc = harness_child_wait(&g_cli->ch, 20000);
  char *err = cli_stderr();
  cr_assert(eq(int, rc, 9), "exit %d. stderr:\n%s", rc, err);
  free(err);
}

/* ---- recordings end cleanly ---------------------------------------------------- */

static long
le32(const unsigned char *p)
{
  return (long)p[0] | (long)p[1] << 8 | (long)p[2] << 16 | (long)p[3] << 24;
}

/* The recording at @p path is a valid WAV whose header describes exactly
 * the frames in the file; returns its frames. 16-bit stereo. The header is
 * walked chunk by chunk: csjack writes RF64 with libsndfile's downgrade,
 * so a WAV under 4 GiB starts with a JUNK chunk (RF64's ds64 to be) and
 * an extensible fmt chunk. */
static long
check_wav(const char *path)
{
  struct stat st;
  cr_assert(eq(int, stat(path, &st), 0), "no file %s", path);
  SF_INFO info = {0};
  SNDFILE *f = sf_open(path, SFM_READ, &info);
  cr_assert(ne(ptr, f, NULL), "%s is not a valid sound file: %s", path, sf_strerror(NULL));
  sf_close(f);
  cr_assert(eq(int, info.channels, 2));
  int fd = open(path, O_RDONLY);
  cr_assert(ge(int, fd, 0));
  unsigned char h[512];
  const long got = (long)read(fd, h, sizeof h);
  close(fd);
  cr_assert(ge(long, got, 12L), "%s: no header", path);
  cr_assert(eq(int, memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WAVE", 4) == 0, 1),
            "%s: not a RIFF WAVE file", path);
  /* A header that was never updated says 0 frames (or libsndfile guesses
   * from the size and the two disagree). */
  cr_assert(eq(long, le32(h + 4), (long)st.st_size - 8), "%s: RIFF size %ld, file %ld bytes",
            path, le32(h + 4), (long)st.st_size);
  long at = 12;
  while (at + 8 <= got && memcmp(h + at, "data", 4) != 0)
    at += 8 + le32(h + at + 4) + (le32(h + at + 4) & 1);
  cr_assert(le(long, at + 8, got), "%s: no data chunk in the first %ld bytes", path, got);
  const long data = le32(h + at + 4);
  cr_assert(eq(long, data, 4L * (long)info.frames), "%s: data chunk of %ld bytes for %ld frames",
            path, data, (long)info.frames);
  cr_assert(eq(long, at + 8 + data, (long)st.st_size),
            "%s: the header says %ld frames, the file holds %ld bytes", path, (long)info.frames,
            (long)st.st_size);
  return (long)info.frames;
}

/*
 * Every signal that ends csjack closes the recording first, with a correct
 * header, and prints the summary naming the signal.
 */
Test(console, every_stop_signal_closes_the_recording, .init = server_up, .fini = teardown,
     .timeout = 150)
{
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  g_record_path = malloc(128);
  snprintf(g_record_path, 128, "/tmp/csjtest-%d-sigrec.wav", (int)getpid());
  for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
    const int sig = sigs[k];
    unlink(g_record_path);
    cli_start(harness_data("console_play.orc"));
    expect_reply(":chn amp 0.5", "ok chn amp 0.5");
    char line[256];
    char want[256];
    snprintf(line, sizeof line, ":record %s 16", g_record_path);
    snprintf(want, sizeof want, "ok record %s 16", g_record_path);
    expect_reply(line, want);
    harness_sleep_ms(300);
    const double t0 = harness_now_ms();
    cr_assert(eq(int, kill(g_cli->ch.pid, sig), 0));
    const int rc = harness_child_wait(&g_cli->ch, 10000);
    const double ms = harness_now_ms() - t0;
    char *err = cli_stderr();
    fprintf(stderr, "every_stop_signal: SIG%s: exit %d after %.0f ms\n", sigabbrev_np(sig), rc,
            ms);
    cr_assert(eq(int, rc, 0), "SIG%s: exit %d (128+n: killed by signal n). stderr:\n%s",
              sigabbrev_np(sig), rc, err);
    char summary[64];
    snprintf(summary, sizeof summary, "csjack: stopped (SIG%s); cycles ", sigabbrev_np(sig));
    cr_assert(ne(ptr, strstr(err, summary), NULL), "no summary '%s...' on stderr:\n%s", summary,
              err);
    free(err);
    const long frames = check_wav(g_record_path);
    cr_assert(gt(long, frames, (long)RATE / 10), "SIG%s: only %ld frames in the recording",
              sigabbrev_np(sig), frames);
    /* the next round starts a new csjack */
    close(g_cli->to_fd);
    close(g_cli->from_fd);
    harness_child_cleanup(&g_cli->ch);
    free(g_cli);
    g_cli = NULL;
  }
}

/* SIGPIPE (a reader of the replies went away), SIGUSR1 and SIGUSR2 (which
 * csjack does not use), SIGXFSZ (a file-size limit), and the terminal's
 * job-control signals do not end or stop the music: csjack answers after
 * each. A stopped JACK client would stall the server for every client
 * (another client's jack_client_open waited for it), so Ctrl-Z (SIGTSTP)
 * is said and ignored. */
Test(console, ignored_signals_keep_playing, .init = server_up, .fini = teardown, .timeout = 60)
{
  static const int sigs[] = {SIGPIPE, SIGUSR1, SIGUSR2, SIGXFSZ, SIGTSTP, SIGTTIN, SIGTTOU};
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
    cr_assert(eq(int, kill(g_cli->ch.pid, sigs[k]), 0));
    harness_sleep_ms(100);
    expect_alive();
  }
  expect_reply(":quit", "ok quit");
  cr_assert(eq(int, harness_child_wait(&g_cli->ch, 10000), 0));
  char *err = cli_stderr();
  cr_assert(ne(ptr, strstr(err, "Ctrl-Z ignored"), NULL), "stderr:\n%s", err);
  free(err);
}

/*
 * A recording that cannot be written on (here: the file-size limit, as a
 * full disk would) is reported at once on stderr, counted in :stats, and
 * :stop-record answers with the error; the file keeps what was written,
 * with a correct header, and the music plays on. (By hand, the same on a
 * full tmpfs: "No space left on device".)
 */
Test(console, record_write_error_is_reported, .init = server_up, .fini = teardown,
     .timeout = 60)
{
  g_record_path = malloc(128);
  snprintf(g_record_path, 128, "/tmp/csjtest-%d-fsize.wav", (int)getpid());
  unlink(g_record_path);
  /* csjack inherits a 64 KiB file-size limit: a third of a second of
   * 16-bit stereo. (Its stderr is a file too: a few KiB.) */
  struct rlimit old;
  cr_assert(eq(int, getrlimit(RLIMIT_FSIZE, &old), 0));
  struct rlimit small = {64 * 1024, old.rlim_max};
  cr_assert(eq(int, setrlimit(RLIMIT_FSIZE, &small), 0));
  cli_start(harness_data("console_play.orc"));
  cr_assert(eq(int, setrlimit(RLIMIT_FSIZE, &old), 0));
  expect_reply(":chn amp 0.5", "ok chn amp 0.5");
  char line[256];
  char want[256];
  snprintf(line, sizeof line, ":record %s 16", g_record_path);
  snprintf(want, sizeof want, "ok record %s 16", g_record_path);
  const double t0 = harness_now_ms();
  expect_reply(line, want);
  /* Said at once: the limit is reached after 1/3 s; allow 10 s for the
   * machine, and print when it came. */
  char *err = NULL;
  bool said = false;
  while (!said && harness_now_ms() - t0 < 10000) {
    free(err);
    harness_sleep_ms(20);
    err = cli_stderr();
    said = strstr(err, "csjack: error: recording '") != NULL;
  }
  fprintf(stderr, "record_write_error: reported %.0f ms after :record\n", harness_now_ms() - t0);
  cr_assert(said, "no error on stderr while the recording failed:\n%s", err);
  free(err);
  expect_alive();
  const char *stats = cli_cmd(":stats");
  cr_assert(eq(dbl, stat_value(stats, "record_errors"), 1.0), "%s", stats);
  const char *got = cli_cmd(":stop-record");
  cr_assert(eq(int, strncmp(got, "error stop-record: the recording failed: recording '", 52), 0),
            ":stop-record gave '%s'", got);
  cr_assert(ne(ptr, strstr(got, "frames"), NULL), "%s", got);
  const long frames = check_wav(g_record_path);
  cr_assert(gt(long, frames, 10000L), "%ld frames kept", frames);
  cr_assert(le(long, 44L + 4L * frames, 64L * 1024L));
  expect_alive();
  expect_reply(":quit", "ok quit");
  const int rc = harness_child_wait(&g_cli->ch, 10000);
  err = cli_stderr();
  cr_assert(eq(int, rc, 0), "exit %d. stderr:\n%s", rc, err);
  cr_assert(ne(ptr, strstr(err, "recordings failed 1"), NULL), "summary:\n%s", err);
  free(err);
}

/* The prompt path from the console: :eval~ and :orc~ answer like :eval and
 * :orc, errors included. */
Test(console, prompt_path, .init = server_up, .fini = teardown, .timeout = 60)
{
  cli_start(harness_data("console_play.orc"));
  expect_alive();
  expect_reply(":eval~ return 6*7", "ok eval 42");
  expect_reply(":orc~ instr 40\\nendin", "ok orc");
  expect_prefix(":eval~ i1 table 0, 999\\nreturn 5", "error eval");
  expect_prefix(":eval~ #include \"/no/such/file.orc\"\\nreturn 1", "error eval");
  expect_alive();
}
