/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The console's parser: one command line in, one ConsoleCommand out. Pure:
 * no engine, no I/O, no global state but the C locale (fuzzed by
 * tests/fuzz/fuzz_console.c). The grammar is in console.h and
 * docs/console.md; the commands are the table k_commands below.
 */

#include "console.h"
#include "utf8.h"
#include "console_internal.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the C locale --------------------------------------------------------- */

/* Csound may set LC_NUMERIC for the whole process; numbers on the console
 * are always read and written with a '.', so the parser uses strtod_l and
 * the executor switches its own thread to the C locale. */
static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init(void)
{
  g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t
console_c_locale(void)
{
  pthread_once(&g_c_locale_once, c_locale_init);
  return g_c_locale;
}

double
console_strtod_c(const char *s, char **end)
{
  locale_t loc = console_c_locale();
  return loc ? strtod_l(s, end, loc) : strtod(s, end);
}

/* ---- UTF-8 and escapes ------------------------------------------------------ */

/* The offset of the first byte that does not start a well-formed sequence,
 * or @p n if all of it is valid UTF-8. */
static size_t
utf8_invalid_at(const char *s, size_t n)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    const size_t k = utf8_seq_len(u + i, n - i);
    if (k == 0) {
      return i;
    }
    i += k;
  }
  return n;
}

static int
hex_value(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/* Decodes the console's escapes from @p src into @p dst (room for n + 1
 * bytes: decoding never lengthens) and NUL-terminates. An escape that is not
 * ours stays as written, so Csound's own \" and \n inside its strings reach
 * Csound when written \" and \\n. \x00 is not decoded: a NUL would cut the
 * code short without a word. */
static size_t
decode_escapes(const char *src, size_t n, char *dst)
{
  size_t o = 0;
  for (size_t i = 0; i < n; ++i) {
    if (src[i] != '\\' || i + 1 >= n) {
      dst[o++] = src[i];
      continue;
    }
    const char next = src[i + 1];
    char c = 0;
    size_t used = 2;
    switch (next) {
    case 'n': c = '\n'; break;
    case 't': c = '\t'; break;
    case 'r': c = '\r'; break;
    case '\\': c = '\\'; break;
    case 'x':
      if (i + 3 < n && hex_value(src[i + 2]) >= 0 && hex_value(src[i + 3]) >= 0) {
        c = (char)(hex_value(src[i + 2]) * 16 + hex_value(src[i + 3]));
        used = 4;
      }
      break;
    default: break;
    }
    if (c == 0) {
      dst[o++] = src[i];
      continue;
    }
    dst[o++] = c;
    i += used - 1;
  }
  dst[o] = '\0';
  return o;
}

/* Appends @p s escaped (the inverse of decode_escapes, and \xHH for any byte
 * that is not valid UTF-8) to @p dst of @p size bytes, at most @p max_in
 * input bytes and never half a character; "..." marks a cut. Returns the
 * new length of dst. */
size_t
console_escape_into(char *dst, size_t size, size_t at, const char *s, size_t n, size_t max_in)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  bool cut = false;
  while (i < n) {
    char piece[8];
    size_t plen = 0;
    size_t k = 1;
    const unsigned char b = u[i];
    if (b == '\\') {
      memcpy(piece, "\\\\", 2);
      plen = 2;
    } else if (b == '\n') {
      memcpy(piece, "\\n", 2);
      plen = 2;
    } else if (b == '\r') {
      memcpy(piece, "\\r", 2);
      plen = 2;
    } else if (b == '\t') {
      memcpy(piece, "\\t", 2);
      plen = 2;
    } else if (b < 0x20 || b == 0x7F || (b >= 0x80 && (k = utf8_seq_len(u + i, n - i)) == 0)) {
      static const char digits[] = "0123456789abcdef";
      piece[0] = '\\';
      piece[1] = 'x';
      piece[2] = digits[b >> 4];
      piece[3] = digits[b & 15];
      plen = 4;
      k = 1;
    } else {
      memcpy(piece, u + i, k);
      plen = k;
    }
    if (i + k > max_in || at + plen + 4 > size) {
      cut = true;
      break;
    }
    memcpy(dst + at, piece, plen);
    at += plen;
    i += k;
  }
  if (cut && at + 4 <= size) {
    memcpy(dst + at, "...", 3);
    at += 3;
  }
  if (size > 0) {
    dst[at < size ? at : size - 1] = '\0';
  }
  return at;
}

/* ---- the parser ------------------------------------------------------------------ */

static bool
is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* A cursor over the rest of the line. */
typedef struct {
  const char *p;
  const char *end;
} Cursor;

static void
skip_blanks(Cursor *c)
{
  while (c->p < c->end && is_blank(*c->p)) {
    ++c->p;
  }
}

/* The next run of non-blank bytes (after any blanks). */
static bool
next_token(Cursor *c, const char **tok, size_t *len)
{
  skip_blanks(c);
  const char *start = c->p;
  while (c->p < c->end && !is_blank(*c->p)) {
    ++c->p;
  }
  *tok = start;
  *len = (size_t)(c->p - start);
  return *len > 0;
}

/* The rest of the line without leading and trailing blanks. */
static void
rest_trimmed(Cursor *c, const char **s, size_t *len)
{
  skip_blanks(c);
  const char *end = c->end;
  while (end > c->p && is_blank(end[-1])) {
    --end;
  }
  *s = c->p;
  *len = (size_t)(end - c->p);
}

static bool
at_end(Cursor *c)
{
  skip_blanks(c);
  return c->p == c->end;
}

static char *
copy_bytes(const char *s, size_t n)
{
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static char *
copy_decoded(const char *s, size_t n)
{
  char *d = malloc(n + 1);
  if (d) {
    decode_escapes(s, n, d);
  }
  return d;
}

static bool
parse_double(const char *tok, size_t n, double *out)
{
  char buf[128];
  if (n == 0 || n >= sizeof buf) {
    return false;
  }
  memcpy(buf, tok, n);
  buf[n] = '\0';
  char *end = NULL;
  errno = 0;
  const double v = console_strtod_c(buf, &end);
  /* ERANGE on underflow still gives a usable (tiny or zero) value; only a
   * value that is not finite is refused. */
  if (end != buf + n || !isfinite(v)) {
    return false;
  }
  *out = v;
  return true;
}

static bool
parse_int(const char *tok, size_t n, int *out)
{
  char buf[32];
  if (n == 0 || n >= sizeof buf) {
    return false;
  }
  memcpy(buf, tok, n);
  buf[n] = '\0';
  char *end = NULL;
  errno = 0;
  const long v = strtol(buf, &end, 10);
  if (end != buf + n || errno == ERANGE || v < INT_MIN || v > INT_MAX) {
    return false;
  }
  *out = (int)v;
  return true;
}

static ConsoleCommand error_cmd(const char *cmd, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static ConsoleCommand
error_cmd(const char *cmd, const char *fmt, ...)
{
  ConsoleCommand c;
  memset(&c, 0, sizeof c);
  c.kind = CONSOLE_ERROR;
  c.cmd = cmd;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c.error, sizeof c.error, fmt, ap);
  va_end(ap);
  return c;
}

/* Frees what @p c holds and turns it into an error. */
static ConsoleCommand
fail_cmd(ConsoleCommand *c, const char *message)
{
  const char *cmd = c->cmd;
  console_command_free(c);
  return error_cmd(cmd, "%s", message);
}

static ConsoleCommand
oom_cmd(ConsoleCommand *c)
{
  return fail_cmd(c, "out of memory");
}

/* Everything a :command can be. */
typedef enum {
  ARGS_NONE,   /* no arguments */
  ARGS_CODE,   /* CODE: rest of the line, escapes decoded */
  ARGS_FILE,   /* FILE: rest of the line, verbatim */
  ARGS_DIR,    /* DIR: rest of the line, verbatim */
  ARGS_CHN,    /* NAME [VALUE] */
  ARGS_SCHN,   /* NAME[ TEXT] */
  ARGS_TGET,   /* N INDEX */
  ARGS_TSET,   /* N INDEX VALUE */
  ARGS_RECORD, /* FILE [BITS] */
} ArgShape;

typedef struct {
  const char *word; /* after the ':' */
  const char *cmd;  /* the reply's CMD */
  ConsoleKind kind;
  bool direct;
  bool prompt;
  ArgShape args;
  const char *usage; /* for error messages and :help */
  const char *help;  /* what it does, one line of :help */
} CommandSpec;

/* The console's commands: the parser, the terminal's completion and :help
 * all read this one table. */
static const CommandSpec k_commands[] = {
  {"eval", "eval", CONSOLE_EVAL, false, false, ARGS_CODE, ":eval CODE",
   "evaluate code through the command ring, print its return value"},
  {"eval!", "eval", CONSOLE_EVAL, true, false, ARGS_CODE, ":eval! CODE",
   "the same on the direct path (may drop cycles)"},
  {"eval~", "eval", CONSOLE_EVAL, false, true, ARGS_CODE, ":eval~ CODE",
   "the same on the prompt path: between two cycles, when it fits"},
  {"orc", "orc", CONSOLE_ORC, false, false, ARGS_CODE, ":orc CODE",
   "compile orchestra code through the command ring"},
  {"orc!", "orc", CONSOLE_ORC, true, false, ARGS_CODE, ":orc! CODE",
   "the same on the direct path (may drop cycles)"},
  {"orc~", "orc", CONSOLE_ORC, false, true, ARGS_CODE, ":orc~ CODE", "the same on the prompt path"},
  {"compile", "compile", CONSOLE_COMPILE, false, false, ARGS_FILE, ":compile FILE",
   "read FILE and compile it through the command ring"},
  {"compile!", "compile", CONSOLE_COMPILE, true, false, ARGS_FILE, ":compile! FILE",
   "the same on the direct path (may drop cycles)"},
  {"compile~", "compile", CONSOLE_COMPILE, false, true, ARGS_FILE, ":compile~ FILE",
   "the same on the prompt path"},
  {"chn", "chn", CONSOLE_CHN_GET, false, false, ARGS_CHN, ":chn NAME [VALUE]",
   "set or get a control channel"},
  {"schn", "schn", CONSOLE_SCHN_GET, false, false, ARGS_SCHN, ":schn NAME [TEXT]",
   "set or get a string channel (TEXT after one blank, verbatim)"},
  {"tget", "tget", CONSOLE_TGET, false, false, ARGS_TGET, ":tget TABLE INDEX",
   "get one value of a table"},
  {"tset", "tset", CONSOLE_TSET, false, false, ARGS_TSET, ":tset TABLE INDEX VALUE",
   "set one value of a table"},
  {"pause", "pause", CONSOLE_PAUSE, false, false, ARGS_NONE, ":pause",
   "pause: silence, no k-cycles"},
  {"play", "play", CONSOLE_PLAY, false, false, ARGS_NONE, ":play", "resume after :pause"},
  {"record", "record", CONSOLE_RECORD, false, false, ARGS_RECORD, ":record FILE [16|24|32]",
   "record csjack's output to a WAV file (bits: default 24; 32 is float)"},
  {"stop-record", "stop-record", CONSOLE_STOP_RECORD, false, false, ARGS_NONE, ":stop-record",
   "stop recording and close the file"},
  {"save", "save", CONSOLE_SAVE, false, false, ARGS_DIR, ":save DIR",
   "save the live code, the channels and the file played into DIR (csjack --restore DIR)"},
  {"flush", "flush", CONSOLE_FLUSH, false, false, ARGS_NONE, ":flush",
   "wait until every queued command has run"},
  {"stats", "stats", CONSOLE_STATS, false, false, ARGS_NONE, ":stats",
   "counters as key=value pairs"},
  {"reset-peak", "reset-peak", CONSOLE_RESET_PEAK, false, false, ARGS_NONE, ":reset-peak",
   "restart the longest-callback figures of :stats"},
  {"help", "help", CONSOLE_HELP, false, false, ARGS_NONE, ":help", "this list"},
  {"quit", "quit", CONSOLE_QUIT, false, false, ARGS_NONE, ":quit",
   "stop the performance and leave"},
};

static const CommandSpec *
find_command(const char *word, size_t n)
{
  for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; ++i) {
    if (strlen(k_commands[i].word) == n && memcmp(k_commands[i].word, word, n) == 0) {
      return &k_commands[i];
    }
  }
  return NULL;
}

const char *
console_command_word(size_t i, bool *takes_args)
{
  if (i >= sizeof k_commands / sizeof k_commands[0]) {
    return NULL;
  }
  if (takes_args) {
    *takes_args = k_commands[i].args != ARGS_NONE;
  }
  return k_commands[i].word;
}

const char *
console_command_help(size_t i, const char **usage)
{
  if (i >= sizeof k_commands / sizeof k_commands[0]) {
    return NULL;
  }
  if (usage) {
    *usage = k_commands[i].usage;
  }
  return k_commands[i].help;
}

/* Parses the arguments of a known command; @p c is at the first byte after
 * the command word. */
static ConsoleCommand
parse_args(const CommandSpec *spec, Cursor *c)
{
  ConsoleCommand r;
  memset(&r, 0, sizeof r);
  r.kind = spec->kind;
  r.cmd = spec->cmd;
  r.direct = spec->direct;
  r.prompt = spec->prompt;
  const char *tok = NULL;
  size_t n = 0;

  switch (spec->args) {
  case ARGS_NONE:
    if (!at_end(c)) {
      return error_cmd(spec->cmd, "takes no arguments (%s)", spec->usage);
    }
    return r;

  case ARGS_CODE:
  case ARGS_FILE:
  case ARGS_DIR:
    rest_trimmed(c, &tok, &n);
    if (n == 0) {
      return error_cmd(spec->cmd, "missing %s (%s)",
                       spec->args == ARGS_CODE  ? "CODE"
                       : spec->args == ARGS_DIR ? "DIR"
                                                : "FILE",
                       spec->usage);
    }
    r.text = spec->args == ARGS_CODE ? copy_decoded(tok, n) : copy_bytes(tok, n);
    return r.text ? r : oom_cmd(&r);

  case ARGS_CHN:
    if (!next_token(c, &tok, &n)) {
      return error_cmd(spec->cmd, "missing NAME (%s)", spec->usage);
    }
    if (!(r.name = copy_bytes(tok, n))) {
      return oom_cmd(&r);
    }
    if (next_token(c, &tok, &n)) {
      if (!parse_double(tok, n, &r.value)) {
        return fail_cmd(&r, "VALUE is not a finite number (:chn NAME [VALUE])");
      }
      if (!at_end(c)) {
        return fail_cmd(&r, "too many arguments (:chn NAME [VALUE])");
      }
      r.kind = CONSOLE_CHN_SET;
    }
    return r;

  case ARGS_SCHN:
    if (!next_token(c, &tok, &n)) {
      return error_cmd(spec->cmd, "missing NAME (%s)", spec->usage);
    }
    if (!(r.name = copy_bytes(tok, n))) {
      return oom_cmd(&r);
    }
    /* TEXT is everything after the one blank that ends NAME, kept as it is
     * (leading and trailing blanks too); nothing after NAME means get, a
     * lone blank sets the empty string. */
    if (c->p < c->end) {
      ++c->p;
      r.kind = CONSOLE_SCHN_SET;
      if (!(r.text = copy_decoded(c->p, (size_t)(c->end - c->p)))) {
        return oom_cmd(&r);
      }
    }
    return r;

  case ARGS_TGET:
  case ARGS_TSET:
    if (!next_token(c, &tok, &n) || !parse_int(tok, n, &r.table)) {
      return error_cmd(spec->cmd, "TABLE must be an integer (%s)", spec->usage);
    }
    if (!next_token(c, &tok, &n) || !parse_int(tok, n, &r.index)) {
      return error_cmd(spec->cmd, "INDEX must be an integer (%s)", spec->usage);
    }
    if (spec->args == ARGS_TSET && (!next_token(c, &tok, &n) || !parse_double(tok, n, &r.value))) {
      return error_cmd(spec->cmd, "VALUE must be a finite number (%s)", spec->usage);
    }
    if (!at_end(c)) {
      return error_cmd(spec->cmd, "too many arguments (%s)", spec->usage);
    }
    return r;

  case ARGS_RECORD: {
    /* FILE is the rest of the line, so it may hold blanks; a last word of
     * 16, 24 or 32 after it is BITS. */
    rest_trimmed(c, &tok, &n);
    if (n == 0) {
      return error_cmd(spec->cmd, "missing FILE (%s)", spec->usage);
    }
    r.bits = 24;
    size_t file_len = n;
    size_t w = n;
    while (w > 0 && !is_blank(tok[w - 1])) {
      --w;
    }
    if (w > 0) {
      int bits = 0;
      if (parse_int(tok + w, n - w, &bits)) {
        if (bits != 16 && bits != 24 && bits != 32) {
          return error_cmd(spec->cmd, "BITS must be 16, 24 or 32 (%s)", spec->usage);
        }
        r.bits = bits;
        file_len = w;
        while (file_len > 0 && is_blank(tok[file_len - 1])) {
          --file_len;
        }
      }
    }
    r.text = copy_bytes(tok, file_len);
    return r.text ? r : oom_cmd(&r);
  }
  }
  return error_cmd(spec->cmd, "internal error: unknown argument shape");
}

/* Whether the line at @p p is a score statement: one of Csound's real-time
 * statements, then what can follow the letter (so "exit" or "quit" are not
 * sent to Csound as an 'e' or a 'q'). */
static bool
is_score_line(const char *p, const char *end)
{
  if (!strchr("ifaeqd", *p) || *p == '\0') {
    return false;
  }
  if (p + 1 == end) {
    return true;
  }
  const char next = p[1];
  return is_blank(next) || (next >= '0' && next <= '9') || next == '"' || next == '.' ||
         next == '+' || next == '-';
}

ConsoleCommand
console_parse_line(const char *line, size_t len)
{
  ConsoleCommand none;
  memset(&none, 0, sizeof none);
  none.cmd = "";
  if (!line) {
    return none;
  }
  /* A caller may pass the newline; the reader never does. */
  if (len > 0 && line[len - 1] == '\n') {
    --len;
  }
  if (len > 0 && line[len - 1] == '\r') {
    --len;
  }
  if (len > CONSOLE_MAX_LINE) {
    return error_cmd("", "line too long (%zu bytes, max %d)", len, CONSOLE_MAX_LINE);
  }
  if (memchr(line, '\0', len)) {
    return error_cmd("", "line contains a NUL byte");
  }
  if (memchr(line, '\n', len)) {
    return error_cmd("", "line contains a newline (write \\n for one in CODE or TEXT)");
  }
  const size_t bad = utf8_invalid_at(line, len);
  if (bad != len) {
    return error_cmd("", "line is not valid UTF-8 (byte %zu)", bad);
  }

  Cursor c = {line, line + len};
  skip_blanks(&c);
  if (c.p == c.end || *c.p == ';' || *c.p == '#') {
    return none;
  }
  char quoted[96];
  if (*c.p == ':') {
    const char *word = NULL;
    size_t wlen = 0;
    ++c.p;
    /* The word runs to the first blank: ":eval!" and ":stop-record" are
     * one word each. */
    const char *start = c.p;
    while (c.p < c.end && !is_blank(*c.p)) {
      ++c.p;
    }
    word = start;
    wlen = (size_t)(c.p - start);
    const CommandSpec *spec = find_command(word, wlen);
    if (!spec) {
      console_escape_into(quoted, sizeof quoted, 0, word, wlen, 40);
      return error_cmd("", "unknown command ':%s' (try :help)", quoted);
    }
    return parse_args(spec, &c);
  }
  if (is_score_line(c.p, c.end)) {
    ConsoleCommand r = none;
    r.kind = CONSOLE_SCORE;
    r.cmd = "score";
    const char *s = NULL;
    size_t n = 0;
    rest_trimmed(&c, &s, &n);
    r.text = copy_bytes(s, n);
    return r.text ? r : oom_cmd(&r);
  }
  const char *s = NULL;
  size_t n = 0;
  rest_trimmed(&c, &s, &n);
  console_escape_into(quoted, sizeof quoted, 0, s, n, 40);
  return error_cmd("",
                   "not a command or score line: '%s' (score lines start with i f q d e, "
                   "commands with ':'; try :help)",
                   quoted);
}

void
console_command_free(ConsoleCommand *cmd)
{
  if (!cmd) {
    return;
  }
  free(cmd->text);
  free(cmd->name);
  cmd->text = NULL;
  cmd->name = NULL;
}
