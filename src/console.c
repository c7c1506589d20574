/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The live console: a parser of command lines that touches nothing, an
 * executor that calls the performance-thread API and writes one reply line,
 * and a thread that cuts a file descriptor's bytes into lines. The grammar
 * and the reply format are in console.h and docs/console.md.
 */

#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static locale_t
c_locale(void)
{
  pthread_once(&g_c_locale_once, c_locale_init);
  return g_c_locale;
}

static double
strtod_c(const char *s, char **end)
{
  locale_t loc = c_locale();
  return loc ? strtod_l(s, end, loc) : strtod(s, end);
}

/* ---- UTF-8 and escapes ------------------------------------------------------ */

/* The length of the well-formed UTF-8 sequence at @p s (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
  const unsigned char b = s[0];
  if (b < 0x80) {
    return 1;
  }
  size_t need = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b == 0xE0) {
    need = 2;
    lo = 0xA0;
  } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
    need = 2;
  } else if (b == 0xED) {
    need = 2;
    hi = 0x9F;
  } else if (b == 0xF0) {
    need = 3;
    lo = 0x90;
  } else if (b >= 0xF1 && b <= 0xF3) {
    need = 3;
  } else if (b == 0xF4) {
    need = 3;
    hi = 0x8F;
  } else {
    return 0;
  }
  if (n - 1 < need || s[1] < lo || s[1] > hi) {
    return 0;
  }
  for (size_t k = 2; k <= need; ++k) {
    if ((s[k] & 0xC0) != 0x80) {
      return 0;
    }
  }
  return need + 1;
}

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
static size_t
escape_into(char *dst, size_t size, size_t at, const char *s, size_t n, size_t max_in)
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
  const double v = strtod_c(buf, &end);
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

static ConsoleCommand
error_cmd(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
  ARGS_NONE,     /* no arguments */
  ARGS_CODE,     /* CODE: rest of the line, escapes decoded */
  ARGS_FILE,     /* FILE: rest of the line, verbatim */
  ARGS_CHN,      /* NAME [VALUE] */
  ARGS_SCHN,     /* NAME[ TEXT] */
  ARGS_TGET,     /* N INDEX */
  ARGS_TSET,     /* N INDEX VALUE */
  ARGS_RECORD,   /* FILE [BITS] */
} ArgShape;

typedef struct {
  const char *word;    /* after the ':' */
  const char *cmd;     /* the reply's CMD */
  ConsoleKind kind;
  bool direct;
  ArgShape args;
  const char *usage;   /* for error messages and :help */
} CommandSpec;

static const CommandSpec k_commands[] = {
  {"eval", "eval", CONSOLE_EVAL, false, ARGS_CODE, ":eval CODE"},
  {"eval!", "eval", CONSOLE_EVAL, true, ARGS_CODE, ":eval! CODE"},
  {"orc", "orc", CONSOLE_ORC, false, ARGS_CODE, ":orc CODE"},
  {"orc!", "orc", CONSOLE_ORC, true, ARGS_CODE, ":orc! CODE"},
  {"compile", "compile", CONSOLE_COMPILE, false, ARGS_FILE, ":compile FILE"},
  {"compile!", "compile", CONSOLE_COMPILE, true, ARGS_FILE, ":compile! FILE"},
  {"chn", "chn", CONSOLE_CHN_GET, false, ARGS_CHN, ":chn NAME [VALUE]"},
  {"schn", "schn", CONSOLE_SCHN_GET, false, ARGS_SCHN, ":schn NAME [TEXT]"},
  {"tget", "tget", CONSOLE_TGET, false, ARGS_TGET, ":tget TABLE INDEX"},
  {"tset", "tset", CONSOLE_TSET, false, ARGS_TSET, ":tset TABLE INDEX VALUE"},
  {"pause", "pause", CONSOLE_PAUSE, false, ARGS_NONE, ":pause"},
  {"play", "play", CONSOLE_PLAY, false, ARGS_NONE, ":play"},
  {"record", "record", CONSOLE_RECORD, false, ARGS_RECORD, ":record FILE [16|24|32]"},
  {"stop-record", "stop-record", CONSOLE_STOP_RECORD, false, ARGS_NONE, ":stop-record"},
  {"flush", "flush", CONSOLE_FLUSH, false, ARGS_NONE, ":flush"},
  {"stats", "stats", CONSOLE_STATS, false, ARGS_NONE, ":stats"},
  {"help", "help", CONSOLE_HELP, false, ARGS_NONE, ":help"},
  {"quit", "quit", CONSOLE_QUIT, false, ARGS_NONE, ":quit"},
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
    rest_trimmed(c, &tok, &n);
    if (n == 0) {
      return error_cmd(spec->cmd, "missing %s (%s)", spec->args == ARGS_CODE ? "CODE" : "FILE",
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
    if (spec->args == ARGS_TSET &&
        (!next_token(c, &tok, &n) || !parse_double(tok, n, &r.value))) {
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
  if (!strchr("ifaeq", *p) || *p == '\0') {
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
      escape_into(quoted, sizeof quoted, 0, word, wlen, 40);
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
  escape_into(quoted, sizeof quoted, 0, s, n, 40);
  return error_cmd("",
                   "not a command or score line: '%s' (score lines start with i f a e q, "
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

/* ---- the executor ------------------------------------------------------------------ */

/* The fewest significant digits (15 to 17) that read back as @p v. */
static const char *
format_number(char buf[40], double v)
{
  if (isnan(v)) {
    return "nan";
  }
  if (isinf(v)) {
    return v > 0 ? "inf" : "-inf";
  }
  for (int digits = 15; digits <= 17; ++digits) {
    snprintf(buf, 40, "%.*g", digits, v);
    if (strtod_c(buf, NULL) == v) {
      break;
    }
  }
  return buf;
}

/* Writes @p s escaped (no cut). */
static void
put_escaped(FILE *out, const char *s, size_t n)
{
  char buf[1024];
  size_t i = 0;
  while (i < n) {
    /* Feed pieces small enough that escape_into never cuts: at most four
     * output bytes per input byte. */
    size_t take = n - i < 200 ? n - i : 200;
    /* Do not split a UTF-8 sequence between pieces. */
    while (take < n - i && take > 0 && ((unsigned char)s[i + take] & 0xC0) == 0x80) {
      --take;
    }
    if (take == 0) {
      take = n - i < 200 ? n - i : 200;
    }
    const size_t len = escape_into(buf, sizeof buf, 0, s + i, take, take);
    fwrite(buf, 1, len, out);
    i += take;
  }
}

static void
put_escaped_str(FILE *out, const char *s)
{
  put_escaped(out, s, strlen(s));
}

static void
end_reply(FILE *out)
{
  fputc('\n', out);
  fflush(out);
  /* A reader that went away (EPIPE) must not stop later replies from being
   * tried, nor the commands from running. */
  clearerr(out);
}

static void
reply_ok(FILE *out, const char *cmd)
{
  fprintf(out, "ok %s", cmd);
  end_reply(out);
}

/* "error CMD: what[: detail]", detail escaped and without its trailing
 * newlines. */
static void
reply_status(FILE *out, const char *cmd, CsjStatus status, const char *detail)
{
  fprintf(out, "error %s: %s", cmd, csj_strerror(status));
  if (detail) {
    size_t n = strlen(detail);
    while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == '\r' || is_blank(detail[n - 1]))) {
      --n;
    }
    if (n > 0) {
      fputs(": ", out);
      put_escaped(out, detail, n);
    }
  }
  if (status == CSJ_ERR_TIMEOUT) {
    fputs(" (it stays queued and still runs once)", out);
  }
  end_reply(out);
}

static void
reply_error(FILE *out, const char *cmd, const char *message)
{
  if (cmd && *cmd) {
    fprintf(out, "error %s: %s", cmd, message);
  } else {
    fprintf(out, "error %s", message);
  }
  end_reply(out);
}

/* Reads an orchestra file on the console thread, so the JACK thread never
 * waits for a disk. Only regular files: a FIFO or a terminal could block
 * the console for good. */
static CsjStatus
read_orc_file(const char *path, char **out, char *why, size_t why_size)
{
  *out = NULL;
  const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, why_size, "cannot open '%s': %s", path, strerror(errno));
    return CSJ_ERR_FILE;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(why, why_size, "'%s' is not a regular file", path);
    close(fd);
    return CSJ_ERR_FILE;
  }
  if (st.st_size > CONSOLE_MAX_FILE) {
    snprintf(why, why_size, "'%s' is larger than %d bytes", path, CONSOLE_MAX_FILE);
    close(fd);
    return CSJ_ERR_TOO_BIG;
  }
  const size_t cap = (size_t)st.st_size;
  char *buf = malloc(cap + 1);
  if (!buf) {
    close(fd);
    return CSJ_ERR_NO_MEMORY;
  }
  size_t len = 0;
  while (len < cap) {
    const ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      snprintf(why, why_size, "cannot read '%s': %s", path, strerror(errno));
      free(buf);
      close(fd);
      return CSJ_ERR_FILE;
    }
    if (r == 0) {
      break; /* it shrank meanwhile: take what there is */
    }
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  if (memchr(buf, '\0', len)) {
    snprintf(why, why_size, "'%s' contains a NUL byte (not an orchestra)", path);
    free(buf);
    return CSJ_ERR_FILE;
  }
  *out = buf;
  return CSJ_SUCCESS;
}

static void
print_help(FILE *out)
{
  static const char *const lines[] = {
    "# csjack console: one command per line; each gets one reply, 'ok CMD ...' or 'error ...'",
    "# i f a e q ...            score line (e.g. i 1 0 2 0.5), sent as csoundInputMessage",
    "# :eval CODE              evaluate code through the command ring, print its return value",
    "# :eval! CODE             the same on the direct path (may drop cycles)",
    "# :orc CODE               compile orchestra code (:orc! direct)",
    "# :compile FILE           read FILE and compile it (:compile! direct)",
    "# :chn NAME [VALUE]       set or get a control channel",
    "# :schn NAME [TEXT]       set or get a string channel (TEXT after one blank, verbatim)",
    "# :tget TABLE INDEX       get one value of a table",
    "# :tset TABLE INDEX VALUE set one value of a table",
    "# :pause  :play           pause (silence, no k-cycles) and resume",
    "# :record FILE [BITS]     record csjack's output to a WAV file (16, 24 or 32; default 24)",
    "# :stop-record            stop recording and close the file",
    "# :flush                  wait until every queued command has run",
    "# :stats                  counters as key=value pairs",
    "# :quit                   stop the performance and leave",
    "# CODE and TEXT escapes: \\n newline, \\t tab, \\r, \\\\ backslash, \\xHH byte",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; ++i) {
    fputs(lines[i], out);
    fputc('\n', out);
  }
  reply_ok(out, "help");
}

static void
print_stats(FILE *out, CsjEngine *e)
{
  CsjStats s;
  csj_engine_stats(e, &s);
  fprintf(out,
          "ok stats cycles=%llu ksmps_blocks=%llu xruns=%llu messages_dropped=%llu "
          "dropped_cycles=%llu commands_run=%llu ring_capacity=%u ring_high_water=%u "
          "record_dropped=%llu period=%u sample_rate=%u ksmps=%u latency=%u inputs=%u "
          "outputs=%u paused=%d running=%d callback_ns_last=%llu callback_ns_max=%llu "
          "own_ns_max=%llu callbacks_late=%llu record_errors=%llu",
          (unsigned long long)s.cycles, (unsigned long long)s.ksmps_blocks,
          (unsigned long long)s.xruns, (unsigned long long)s.messages_dropped,
          (unsigned long long)s.dropped_cycles, (unsigned long long)s.commands_run,
          (unsigned)s.ring_capacity, (unsigned)s.ring_high_water,
          (unsigned long long)s.record_dropped, (unsigned)s.period, (unsigned)s.sample_rate,
          (unsigned)s.ksmps, (unsigned)s.latency, (unsigned)s.inputs, (unsigned)s.outputs,
          s.paused ? 1 : 0, csj_engine_is_running(e) ? 1 : 0,
          (unsigned long long)s.callback_ns_last, (unsigned long long)s.callback_ns_max,
          (unsigned long long)s.own_ns_max, (unsigned long long)s.callbacks_late,
          (unsigned long long)s.record_errors);
  end_reply(out);
}

/* Runs a parsed command; returns false after :quit. */
static bool
execute(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  char num[40];
  char num2[40];
  switch (cmd->kind) {
  case CONSOLE_NOTHING: return true;
  case CONSOLE_ERROR: reply_error(out, cmd->cmd, cmd->error); return true;
  case CONSOLE_HELP: print_help(out); return true;
  default: break;
  }
  if (!e) {
    /* The fuzzer's mode: no engine, so no effect at all. */
    if (cmd->kind == CONSOLE_QUIT) {
      reply_ok(out, "quit");
      return false;
    }
    reply_status(out, cmd->cmd, CSJ_ERR_BAD_ARG, "no engine");
    return true;
  }

  CsjStatus st = CSJ_SUCCESS;
  char why[4096];
  why[0] = '\0';
  switch (cmd->kind) {
  case CONSOLE_SCORE:
    st = csj_engine_input_message(e, cmd->text);
    if (st == CSJ_SUCCESS) {
      reply_ok(out, "score");
    } else {
      reply_status(out, "score", st, NULL);
    }
    return true;

  case CONSOLE_EVAL: {
    double value = NAN;
    st = cmd->direct ? csj_engine_eval_code_direct(e, cmd->text, &value, why, sizeof why)
                     : csj_engine_eval_code(e, cmd->text, CONSOLE_TIMEOUT_MS, &value, why,
                                            sizeof why);
    if (st == CSJ_SUCCESS) {
      fprintf(out, "ok eval %s", format_number(num, value));
      end_reply(out);
    } else {
      reply_status(out, "eval", st, why);
    }
    return true;
  }

  case CONSOLE_ORC:
  case CONSOLE_COMPILE: {
    const char *name = cmd->kind == CONSOLE_ORC ? "orc" : "compile";
    char *file_text = NULL;
    const char *code = cmd->text;
    if (cmd->kind == CONSOLE_COMPILE) {
      st = read_orc_file(cmd->text, &file_text, why, sizeof why);
      if (st != CSJ_SUCCESS) {
        reply_status(out, name, st, why);
        return true;
      }
      code = file_text;
    }
    st = cmd->direct ? csj_engine_compile_orc_direct(e, code, why, sizeof why)
                     : csj_engine_compile_orc(e, code, CONSOLE_TIMEOUT_MS, why, sizeof why);
    free(file_text);
    if (st == CSJ_SUCCESS) {
      reply_ok(out, name);
    } else {
      reply_status(out, name, st, why);
    }
    return true;
  }

  case CONSOLE_CHN_SET:
  case CONSOLE_CHN_GET: {
    double value = cmd->value;
    st = cmd->kind == CONSOLE_CHN_SET ? csj_engine_set_control(e, cmd->name, value)
                                      : csj_engine_get_control(e, cmd->name, &value);
    if (st != CSJ_SUCCESS) {
      reply_status(out, "chn", st, NULL);
      return true;
    }
    fputs("ok chn ", out);
    put_escaped_str(out, cmd->name);
    fprintf(out, " %s", format_number(num, value));
    end_reply(out);
    return true;
  }

  case CONSOLE_SCHN_SET:
  case CONSOLE_SCHN_GET: {
    char *text = NULL;
    if (cmd->kind == CONSOLE_SCHN_SET) {
      /* The set is queued, the get is not: wait until the set has run, so
       * that "ok" means done and a :schn get that follows reads it back. */
      st = csj_engine_set_string_channel(e, cmd->name, cmd->text);
      if (st == CSJ_SUCCESS) {
        st = csj_engine_flush(e, CONSOLE_TIMEOUT_MS);
      }
    } else {
      /* As long as the longest line we accept, so what :schn set can be
       * read back whole. */
      const size_t size = CONSOLE_MAX_LINE + 1;
      text = calloc(1, size);
      st = text ? csj_engine_get_string_channel(e, cmd->name, text, size) : CSJ_ERR_NO_MEMORY;
    }
    if (st != CSJ_SUCCESS) {
      free(text);
      reply_status(out, "schn", st, NULL);
      return true;
    }
    fputs("ok schn ", out);
    put_escaped_str(out, cmd->name);
    fputc(' ', out);
    put_escaped_str(out, text ? text : cmd->text);
    free(text);
    end_reply(out);
    return true;
  }

  case CONSOLE_TGET:
  case CONSOLE_TSET: {
    double value = cmd->value;
    const char *name = cmd->kind == CONSOLE_TGET ? "tget" : "tset";
    /* A table set is queued without a reply: a missing table or an index
     * out of range would pass unnoticed. Reading the value back, in order
     * after the set, makes "ok tset" mean written and turns those into
     * errors. */
    st = cmd->kind == CONSOLE_TSET ? csj_engine_table_set(e, cmd->table, cmd->index, value)
                                   : CSJ_SUCCESS;
    if (st == CSJ_SUCCESS) {
      st = csj_engine_table_get(e, cmd->table, cmd->index, &value, CONSOLE_TIMEOUT_MS);
    }
    if (st != CSJ_SUCCESS) {
      reply_status(out, name, st, NULL);
      return true;
    }
    fprintf(out, "ok %s %d %d %s", name, cmd->table, cmd->index, format_number(num2, value));
    end_reply(out);
    return true;
  }

  case CONSOLE_PAUSE:
  case CONSOLE_PLAY:
  case CONSOLE_FLUSH:
  case CONSOLE_STOP_RECORD:
    switch (cmd->kind) {
    case CONSOLE_PAUSE: st = csj_engine_pause(e); break;
    case CONSOLE_PLAY: st = csj_engine_play(e); break;
    case CONSOLE_FLUSH: st = csj_engine_flush(e, CONSOLE_TIMEOUT_MS); break;
    default: st = csj_engine_stop_record(e); break;
    }
    /* Pause and play are queued: the reply waits until they have run, so
     * that a :stats after "ok pause" shows paused=1. */
    if (st == CSJ_SUCCESS && (cmd->kind == CONSOLE_PAUSE || cmd->kind == CONSOLE_PLAY)) {
      st = csj_engine_flush(e, CONSOLE_TIMEOUT_MS);
    }
    if (st == CSJ_SUCCESS) {
      reply_ok(out, cmd->cmd);
    } else {
      /* A failed recording says why (the write error, the frames kept). */
      reply_status(out, cmd->cmd, st, st == CSJ_ERR_RECORD ? csj_last_error(e) : NULL);
    }
    return true;

  case CONSOLE_RECORD: {
    /* csj_engine_record explains some failures (an unwritable file, a
     * recording already running) in csj_last_error, not all: its text is
     * shown only if this call changed it. */
    char before[sizeof why];
    snprintf(before, sizeof before, "%s", csj_last_error(e));
    st = csj_engine_record(e, cmd->text, cmd->bits);
    if (st != CSJ_SUCCESS) {
      const char *after = csj_last_error(e);
      reply_status(out, "record", st, strcmp(after, before) != 0 ? after : NULL);
      return true;
    }
    fputs("ok record ", out);
    put_escaped_str(out, cmd->text);
    fprintf(out, " %d", cmd->bits);
    end_reply(out);
    return true;
  }

  case CONSOLE_STATS: print_stats(out, e); return true;

  case CONSOLE_QUIT:
    csj_engine_stop(e);
    reply_ok(out, "quit");
    return false;

  default: break;
  }
  reply_error(out, cmd->cmd, "internal error: unhandled command");
  return true;
}

bool
console_execute_line(CsjEngine *e, const char *line, size_t len, FILE *out)
{
  ConsoleCommand cmd = console_parse_line(line, len);
  const locale_t c = c_locale();
  const locale_t old = c ? uselocale(c) : (locale_t)0;
  flockfile(out);
  const bool go_on = execute(e, &cmd, out);
  funlockfile(out);
  if (c) {
    uselocale(old);
  }
  console_command_free(&cmd);
  return go_on;
}

/* ---- the reading thread ------------------------------------------------------------- */

struct ConsoleImpl {
  CsjEngine *engine;
  int in_fd;
  FILE *out;
  int wake[2];           /* console_stop writes a byte to wake[1] */
  pthread_t thread;
  atomic_bool stop;
  atomic_bool quit;
  /* The line being read: up to CONSOLE_MAX_LINE bytes and a CR. Bytes of a
   * longer line are counted, not kept. */
  char *line;
  size_t len;
  size_t total;
  bool overlong;
};

/* Runs the line gathered so far; returns false after :quit. */
static bool
end_of_line(Console *c)
{
  bool go_on = true;
  if (c->overlong) {
    flockfile(c->out);
    fprintf(c->out, "error line too long (%zu bytes, max %d)", c->total, CONSOLE_MAX_LINE);
    end_reply(c->out);
    funlockfile(c->out);
  } else {
    go_on = console_execute_line(c->engine, c->line, c->len, c->out);
  }
  c->len = 0;
  c->total = 0;
  c->overlong = false;
  return go_on;
}

/* Cuts @p n bytes into lines; returns false after :quit. */
static bool
feed(Console *c, const char *data, size_t n)
{
  while (n > 0) {
    const char *nl = memchr(data, '\n', n);
    const size_t seg = nl ? (size_t)(nl - data) : n;
    if (!c->overlong && c->len + seg <= CONSOLE_MAX_LINE + 1) {
      memcpy(c->line + c->len, data, seg);
      c->len += seg;
    } else {
      if (!c->overlong) {
        c->total = c->len;
        c->overlong = true;
      }
      c->total += seg;
    }
    if (!nl) {
      return true;
    }
    if (!end_of_line(c)) {
      return false;
    }
    data += seg + 1;
    n -= seg + 1;
  }
  return true;
}

/* Waits up to @p ms for a stop request; returns whether one came. */
static bool
wait_for_stop(Console *c, int ms)
{
  struct pollfd p = {c->wake[0], POLLIN, 0};
  return poll(&p, 1, ms) > 0 || atomic_load_explicit(&c->stop, memory_order_acquire);
}

static void *
console_main(void *arg)
{
  Console *c = arg;
  char chunk[4096];
  while (!atomic_load_explicit(&c->stop, memory_order_acquire)) {
    struct pollfd p[2] = {{c->in_fd, POLLIN, 0}, {c->wake[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (p[1].revents) {
      break;
    }
    if (p[0].revents & POLLNVAL) {
      break; /* the descriptor was closed under us */
    }
    if (!p[0].revents) {
      continue;
    }
    const ssize_t r = read(c->in_fd, chunk, sizeof chunk);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      /* A background job reading its terminal: SIGTTIN is blocked here, so
       * the read fails instead of stopping the whole process. Try again
       * later: the job may be brought to the foreground. */
      if (errno == EIO && isatty(c->in_fd)) {
        if (wait_for_stop(c, 250)) {
          break;
        }
        continue;
      }
      break;
    }
    if (r == 0) {
      /* EOF ends the console only. A last line without a newline still
       * counts. */
      if (c->len > 0 || c->overlong) {
        if (!end_of_line(c)) {
          atomic_store_explicit(&c->quit, true, memory_order_release);
        }
      }
      break;
    }
    if (!feed(c, chunk, (size_t)r)) {
      atomic_store_explicit(&c->quit, true, memory_order_release);
      break;
    }
  }
  return NULL;
}

Console *
console_start(CsjEngine *e, int in_fd, FILE *out)
{
  if (!e || !out || in_fd < 0 || fcntl(in_fd, F_GETFD) < 0) {
    return NULL;
  }
  Console *c = calloc(1, sizeof *c);
  if (!c) {
    return NULL;
  }
  c->engine = e;
  c->in_fd = in_fd;
  c->out = out;
  atomic_init(&c->stop, false);
  atomic_init(&c->quit, false);
  c->line = malloc(CONSOLE_MAX_LINE + 2);
  if (!c->line) {
    free(c);
    return NULL;
  }
  if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    free(c->line);
    free(c);
    return NULL;
  }
  /* The thread starts with these blocked (see console.h); SIGINT and
   * SIGTERM are already blocked by csjack's main before any thread. */
  sigset_t block;
  sigset_t old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  sigaddset(&block, SIGTTIN);
  sigaddset(&block, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  const int rc = pthread_create(&c->thread, NULL, console_main, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    close(c->wake[0]);
    close(c->wake[1]);
    free(c->line);
    free(c);
    return NULL;
  }
  return c;
}

void
console_stop(Console *c)
{
  if (!c) {
    return;
  }
  atomic_store_explicit(&c->stop, true, memory_order_release);
  const char byte = 1;
  /* The pipe is empty or holds a byte already: either way poll wakes. */
  ssize_t ignored = write(c->wake[1], &byte, 1);
  (void)ignored;
  pthread_join(c->thread, NULL);
  close(c->wake[0]);
  close(c->wake[1]);
  free(c->line);
  free(c);
}

bool
console_quit_requested(const Console *c)
{
  return c && atomic_load_explicit(&((Console *)c)->quit, memory_order_acquire);
}
