/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The console's executor: runs one parsed command line through the
 * library's API and writes exactly one reply line (ok CMD ... or error
 * ...), through one table of executors, one per command kind. Runs on the
 * console's thread (or the fuzzer's), never on the JACK thread.
 */

#include "console.h"
#include "console_internal.h"
#include "text_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (console_strtod_c(buf, NULL) == v) {
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
    const size_t len = console_escape_into(buf, sizeof buf, 0, s + i, take, take);
    fwrite(buf, 1, len, out);
    i += take;
  }
}

static void
put_escaped_str(FILE *out, const char *s)
{
  put_escaped(out, s, strlen(s));
}

void
console_end_reply(FILE *out)
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
  console_end_reply(out);
}

/* "error CMD: what[: detail]", detail escaped and without its trailing
 * newlines. */
static void
reply_status(FILE *out, const char *cmd, CsjStatus status, const char *detail)
{
  fprintf(out, "error %s: %s", cmd, csj_strerror(status));
  if (detail) {
    size_t n = strlen(detail);
    while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == '\r' || detail[n - 1] == ' ' ||
                     detail[n - 1] == '\t')) {
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
  console_end_reply(out);
}

static void
reply_error(FILE *out, const char *cmd, const char *message)
{
  if (cmd && *cmd) {
    fprintf(out, "error %s: %s", cmd, message);
  } else {
    fprintf(out, "error %s", message);
  }
  console_end_reply(out);
}

/* Reads an orchestra file on the console thread, so the JACK thread never
 * waits for a disk. Only regular files: a FIFO or a terminal could block
 * the console for good. */
static CsjStatus
read_orc_file(const char *path, char **out, char *why, size_t why_size)
{
  return text_file_read(path, true, out, why, why_size);
}

/* One :help line: what is typed, then what it does. */
#define HELP_LINE "# %-23s %s\n"

/* The commands from the parser's table, between what is not a command:
 * score lines, and the escapes. */
static void
print_help(FILE *out)
{
  fputs("# csjack console: one command per line; each gets one reply, 'ok CMD ...' or "
        "'error ...'\n",
        out);
  fprintf(out, HELP_LINE, "i f a e q ...",
          "score line (e.g. i 1 0 2 0.5), sent as csoundInputMessage");
  const char *usage = NULL;
  const char *help = NULL;
  for (size_t i = 0; (help = console_command_help(i, &usage)) != NULL; ++i) {
    fprintf(out, HELP_LINE, usage, help);
  }
  fputs("# CODE and TEXT escapes: \\n newline, \\t tab, \\r, \\\\ backslash, \\xHH byte\n", out);
  reply_ok(out, "help");
}

/* More " key=value" pairs for :stats, from the application (the csjack
 * command's UDP and OSC servers); set before any console starts. */
static void (*g_stats_extra)(FILE *out, void *data);
static void *g_stats_extra_data;

void
console_set_stats_extra(void (*fn)(FILE *out, void *data), void *data)
{
  g_stats_extra = fn;
  g_stats_extra_data = data;
}

/* What :save runs (console_set_save); NULL: the library's state only. */
static ConsoleSaveFn g_save;
static void *g_save_data;

void
console_set_save(ConsoleSaveFn fn, void *data)
{
  g_save = fn;
  g_save_data = data;
}

/* Every CsjStats field from the library's table, then whether it runs,
 * then the application's own counters. */
static void
print_stats(FILE *out, CsjEngine *e)
{
  CsjStats s;
  csj_engine_stats(e, &s);
  size_t count = 0;
  const CsjStatField *fields = csj_stats_fields(&count);
  fputs("ok stats", out);
  for (size_t i = 0; i < count; ++i) {
    fprintf(out, " %s=%" PRIu64, fields[i].name, csj_stats_value(&s, &fields[i]));
  }
  fprintf(out, " running=%d", csj_engine_is_running(e) ? 1 : 0);
  if (g_stats_extra) {
    g_stats_extra(out, g_stats_extra_data);
  }
  console_end_reply(out);
}

/* Runs a parsed command; returns false after :quit. */
/* ---- one executor per command, and the table ----------------------------- */

/* Each writes exactly one reply; false ends the console (after :quit). The
 * engine is not NULL (console_execute without an engine is the fuzzer's
 * mode, handled before the table). */
typedef bool (*ExecFn)(CsjEngine *e, const ConsoleCommand *cmd, FILE *out);

static bool
exec_score(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  const CsjStatus st = csj_engine_input_message(e, cmd->text);
  if (st == CSJ_SUCCESS) {
    reply_ok(out, "score");
  } else {
    reply_status(out, "score", st, st == CSJ_ERR_BAD_ARG ? csj_last_error(e) : NULL);
  }
  return true;
}

static bool
exec_eval(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  char why[4096] = "";
  char num[40];
  double value = NAN;
  CsjStatus st;
  if (cmd->direct) {
    st = csj_engine_eval_code_direct(e, cmd->text, &value, why, sizeof why);
  } else if (cmd->prompt) {
    st = csj_engine_eval_code_prompt(e, cmd->text, CONSOLE_TIMEOUT_MS, &value, why, sizeof why);
  } else {
    st = csj_engine_eval_code(e, cmd->text, CONSOLE_TIMEOUT_MS, &value, why, sizeof why);
  }
  if (st == CSJ_SUCCESS) {
    fprintf(out, "ok eval %s", format_number(num, value));
    console_end_reply(out);
  } else {
    reply_status(out, "eval", st, why);
  }
  return true;
}

static bool
exec_orc(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  char why[4096] = "";
  const char *name = cmd->kind == CONSOLE_ORC ? "orc" : "compile";
  char *file_text = NULL;
  const char *code = cmd->text;
  CsjStatus st;
  if (cmd->kind == CONSOLE_COMPILE) {
    st = read_orc_file(cmd->text, &file_text, why, sizeof why);
    if (st != CSJ_SUCCESS) {
      reply_status(out, name, st, why);
      return true;
    }
    code = file_text;
    /* Its #include files and samples are found beside it, as the file
     * csjack was started with (a folder that cannot be added was warned
     * about on stderr). */
    (void)csj_engine_add_file_folder(e, cmd->text);
  }
  if (cmd->direct) {
    st = csj_engine_compile_orc_direct(e, code, why, sizeof why);
  } else if (cmd->prompt) {
    st = csj_engine_compile_orc_prompt(e, code, CONSOLE_TIMEOUT_MS, why, sizeof why);
  } else {
    st = csj_engine_compile_orc(e, code, CONSOLE_TIMEOUT_MS, why, sizeof why);
  }
  free(file_text);
  if (st == CSJ_SUCCESS) {
    reply_ok(out, name);
  } else {
    reply_status(out, name, st, why);
  }
  return true;
}

static bool
exec_chn(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  char num[40];
  double value = cmd->value;
  const CsjStatus st = cmd->kind == CONSOLE_CHN_SET ? csj_engine_set_control(e, cmd->name, value)
                                                    : csj_engine_get_control(e, cmd->name, &value);
  if (st != CSJ_SUCCESS) {
    reply_status(out, "chn", st, NULL);
    return true;
  }
  fputs("ok chn ", out);
  put_escaped_str(out, cmd->name);
  fprintf(out, " %s", format_number(num, value));
  console_end_reply(out);
  return true;
}

static bool
exec_schn(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  char *text = NULL;
  CsjStatus st;
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
  console_end_reply(out);
  return true;
}

static bool
exec_table(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  char num[40];
  double value = cmd->value;
  const char *name = cmd->kind == CONSOLE_TGET ? "tget" : "tset";
  /* A table set is queued without a reply: a missing table or an index
   * out of range would pass unnoticed. Reading the value back, in order
   * after the set, makes "ok tset" mean written and turns those into
   * errors. */
  CsjStatus st = cmd->kind == CONSOLE_TSET ? csj_engine_table_set(e, cmd->table, cmd->index, value)
                                           : CSJ_SUCCESS;
  if (st == CSJ_SUCCESS) {
    st = csj_engine_table_get(e, cmd->table, cmd->index, &value, CONSOLE_TIMEOUT_MS);
  }
  if (st != CSJ_SUCCESS) {
    reply_status(out, name, st, NULL);
    return true;
  }
  fprintf(out, "ok %s %d %d %s", name, cmd->table, cmd->index, format_number(num, value));
  console_end_reply(out);
  return true;
}

/* :pause, :play, :flush, :stop-record: a status, then "ok CMD". */
static bool
exec_transport(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  CsjStatus st;
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
}

static bool
exec_record(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  /* csj_engine_record explains some failures (an unwritable file, a
   * recording already running) in csj_last_error, not all: its text is
   * shown only if this call changed it. */
  char before[512];
  snprintf(before, sizeof before, "%s", csj_last_error(e));
  const CsjStatus st = csj_engine_record(e, cmd->text, cmd->bits);
  if (st != CSJ_SUCCESS) {
    const char *after = csj_last_error(e);
    reply_status(out, "record", st, strcmp(after, before) != 0 ? after : NULL);
    return true;
  }
  fputs("ok record ", out);
  put_escaped_str(out, cmd->text);
  fprintf(out, " %d", cmd->bits);
  console_end_reply(out);
  return true;
}

static bool
exec_save(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  char why[1024] = "";
  CsjStatus st;
  if (g_save) {
    st = g_save(g_save_data, e, cmd->text, why, sizeof why);
  } else if ((st = csj_engine_save_state(e, cmd->text)) != CSJ_SUCCESS) {
    snprintf(why, sizeof why, "%s", csj_last_error(e));
  }
  if (st != CSJ_SUCCESS) {
    reply_status(out, "save", st, why);
    return true;
  }
  fputs("ok save ", out);
  put_escaped_str(out, cmd->text);
  console_end_reply(out);
  return true;
}

static bool
exec_stats(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  (void)cmd;
  print_stats(out, e);
  return true;
}

static bool
exec_reset_peak(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  (void)cmd;
  csj_engine_reset_peak(e);
  reply_ok(out, "reset-peak");
  return true;
}

static bool
exec_quit(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
  (void)cmd;
  csj_engine_stop(e);
  reply_ok(out, "quit");
  return false;
}

/* The executor table: one row per kind the parser produces (console.h). */
static const ExecFn k_exec[] = {
  [CONSOLE_SCORE] = exec_score,
  [CONSOLE_EVAL] = exec_eval,
  [CONSOLE_ORC] = exec_orc,
  [CONSOLE_COMPILE] = exec_orc,
  [CONSOLE_CHN_SET] = exec_chn,
  [CONSOLE_CHN_GET] = exec_chn,
  [CONSOLE_SCHN_SET] = exec_schn,
  [CONSOLE_SCHN_GET] = exec_schn,
  [CONSOLE_TGET] = exec_table,
  [CONSOLE_TSET] = exec_table,
  [CONSOLE_PAUSE] = exec_transport,
  [CONSOLE_PLAY] = exec_transport,
  [CONSOLE_FLUSH] = exec_transport,
  [CONSOLE_STOP_RECORD] = exec_transport,
  [CONSOLE_RECORD] = exec_record,
  [CONSOLE_STATS] = exec_stats,
  [CONSOLE_RESET_PEAK] = exec_reset_peak,
  [CONSOLE_QUIT] = exec_quit,
  [CONSOLE_SAVE] = exec_save,
};

static bool
execute(CsjEngine *e, const ConsoleCommand *cmd, FILE *out)
{
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
  const size_t n = sizeof k_exec / sizeof k_exec[0];
  if ((size_t)cmd->kind >= n || !k_exec[cmd->kind]) {
    reply_error(out, cmd->cmd, "internal error: unhandled command");
    return true;
  }
  return k_exec[cmd->kind](e, cmd, out);
}

bool
console_execute_line(CsjEngine *e, const char *line, size_t len, FILE *out)
{
  ConsoleCommand cmd = console_parse_line(line, len);
  const locale_t c = console_c_locale();
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
