/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The live console: csjack reads commands from stdin, one per line, on its
 * own thread (never the JACK thread), and answers each on stdout.
 *
 * Input, one command per line (full grammar in docs/console.md):
 *
 *   i 1 0 2 0.5          a score line (first letter i f a e q), passed to
 *                        csj_engine_input_message() verbatim
 *   :eval CODE           csj_engine_eval_code (queued); :eval! is direct
 *   :orc CODE            csj_engine_compile_orc (queued); :orc! is direct
 *   :compile FILE        reads FILE here, then compiles it; :compile! direct
 *   :chn NAME [VALUE]    sets or gets a control channel
 *   :schn NAME[ TEXT]    sets or gets a string channel
 *   :tget N I, :tset N I V    reads or writes one value of table N
 *   :save DIR            saves the live state into the folder DIR
 *   :record FILE [BITS], :pause, :stats, ...: every command is a row of
 *                        console_parse.c's one table, which :help prints
 *
 * CODE and TEXT take the escapes \n (newline), \t, \r, \\ and \xHH (HH not
 * 00); any other backslash is kept as it is, so Csound's own escapes inside
 * its strings pass through (write a Csound "\n" as \\n).
 *
 * Output: every line that is not blank (nor a ';' or '#' comment) gets
 * exactly one reply line, flushed at once:
 *
 *   ok CMD[ VALUE...]        e.g. "ok eval 4", "ok chn amp 0.25"
 *   error CMD: MESSAGE       e.g. "error eval: Csound could not evaluate ..."
 *   error MESSAGE            for a line that is not a command at all:
 *                            "error unknown command ':foo'",
 *                            "error line too long (70000 bytes, max 65536)"
 *
 * :help first prints informational lines that start with "# ". Numbers are
 * printed in the C locale with the fewest digits (15 to 17) that read back
 * as the same double; text in replies is escaped as above, so a reply is
 * always one line of valid UTF-8. Only the console writes to stdout; Csound's
 * messages and csjack's own go to stderr.
 *
 * Lines must be valid UTF-8 without NUL bytes and at most
 * CONSOLE_MAX_LINE bytes (not counting the newline); other lines are
 * rejected whole and nothing of them reaches Csound. A trailing CR is
 * dropped (CRLF input).
 */
#ifndef CSJACK_CONSOLE_H
#define CSJACK_CONSOLE_H

#include "csjack.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The longest line accepted, in bytes, without its newline. */
#define CONSOLE_MAX_LINE 65536

/** How long the commands that wait for the JACK thread (:eval, :orc,
 *  :compile, :tget, :tset, :schn set, :pause, :play, :flush) wait, in
 *  milliseconds. */
#define CONSOLE_TIMEOUT_MS 5000

/** What a line asks for. */
typedef enum {
  CONSOLE_NOTHING = 0, /**< Blank or comment line: no reply at all. */
  CONSOLE_ERROR,       /**< Rejected line: error holds the reply's message. */
  CONSOLE_SCORE,       /**< text: the score line. */
  CONSOLE_EVAL,        /**< text: the code; direct for :eval!. */
  CONSOLE_ORC,         /**< text: the code; direct for :orc!. */
  CONSOLE_COMPILE,     /**< text: the file name; direct for :compile!. */
  CONSOLE_CHN_SET,     /**< name, value. */
  CONSOLE_CHN_GET,     /**< name. */
  CONSOLE_SCHN_SET,    /**< name, text. */
  CONSOLE_SCHN_GET,    /**< name. */
  CONSOLE_TGET,        /**< table, index. */
  CONSOLE_TSET,        /**< table, index, value. */
  CONSOLE_PAUSE,
  CONSOLE_PLAY,
  CONSOLE_RECORD, /**< text: the file name; bits. */
  CONSOLE_STOP_RECORD,
  CONSOLE_FLUSH,
  CONSOLE_STATS,
  CONSOLE_RESET_PEAK,
  CONSOLE_QUIT,
  CONSOLE_HELP,
  CONSOLE_SAVE, /**< text: the folder. */
} ConsoleKind;

/**
 * One parsed line. Produced by console_parse_line(), released with
 * console_command_free(). The strings are owned by the struct and
 * NUL-terminated, with escapes already decoded.
 */
typedef struct {
  ConsoleKind kind;
  /** The reply's CMD ("eval", "chn", ...), static; "" when the line is not
   *  a known command (its error reply then has no "CMD: " part). */
  const char *cmd;
  bool direct;     /**< :eval!, :orc!, :compile!: bypass the ring. */
  bool prompt;     /**< :eval~, :orc~, :compile~: the prompt path. */
  char *text;      /**< Score line, code, file or folder name, string value; or NULL. */
  char *name;      /**< Channel name; or NULL. */
  double value;    /**< :chn and :tset value. */
  int table;       /**< :tget, :tset. */
  int index;       /**< :tget, :tset. */
  int bits;        /**< :record: 16, 24 or 32. */
  char error[320]; /**< CONSOLE_ERROR: the message, already escaped. */
} ConsoleCommand;

/**
 * Parses one line (@p len bytes, without its newline; need not be
 * NUL-terminated and may hold any bytes). Pure: touches no engine, no file
 * and no global state, and never fails on any input (allocation failure
 * gives CONSOLE_ERROR). Thread-safe. Not real-time safe (allocates).
 */
ConsoleCommand console_parse_line(const char *line, size_t len);

/** Frees what console_parse_line() allocated. Idempotent. */
void console_command_free(ConsoleCommand *cmd);

/**
 * The console's command words, from its one command table (without the
 * ':'): the @p i th, or NULL past the last. @p takes_args (may be NULL)
 * says whether the command takes arguments. Pure; any thread. For the
 * terminal's completion.
 */
const char *console_command_word(size_t i, bool *takes_args);

/**
 * The one-line help of the @p i th command of the same table, or NULL
 * past the last; @p usage (may be NULL) gets its usage (":eval CODE").
 * Pure; any thread. For :help.
 */
const char *console_command_help(size_t i, const char **usage);

/**
 * Runs one line against @p e and writes its reply line(s) to @p out, then
 * flushes @p out. Returns false after :quit (having called
 * csj_engine_stop()), true otherwise. With @p e NULL, commands that need
 * the engine reply with an error and have no effect (no file is read or
 * written): the fuzzer's mode. May wait up to CONSOLE_TIMEOUT_MS. Any
 * non-JACK thread; NOT real-time safe.
 */
bool console_execute_line(CsjEngine *e, const char *line, size_t len, FILE *out);

/**
 * A console: a thread that reads lines from a file descriptor and runs
 * them with console_execute_line(). Start and stop it from one control
 * thread.
 */
typedef struct ConsoleImpl Console;

/**
 * Starts a console reading @p in_fd (which stays the caller's: it is never
 * closed, nor made non-blocking) and writing @p out. Returns NULL, creating
 * nothing, if @p in_fd is not open or the thread cannot start. The thread
 * blocks SIGPIPE (a closed @p out gives write errors, not death) and
 * SIGTTIN/SIGTTOU (a background job reading its terminal gets EIO and
 * retries, instead of stopping the whole process). It ends at EOF, at :quit
 * or at console_stop(); the engine keeps playing after EOF.
 */
Console *console_start(CsjEngine *e, int in_fd, FILE *out);

/**
 * Stops the console (if still reading), joins its thread and frees it.
 * Safe after EOF or :quit; NULL is a no-op. A command already running is
 * finished first, which can take up to CONSOLE_TIMEOUT_MS.
 */
void console_stop(Console *c);

/**
 * Adds " key=value" pairs to every :stats reply: @p fn writes them to the
 * reply's stream (no newline). For the application's own counters (the
 * csjack command's UDP and OSC servers). Call before console_start; NULL
 * removes it.
 */
void console_set_stats_extra(void (*fn)(FILE *out, void *data), void *data);

/**
 * What :save DIR runs: @p fn saves @p e's state into @p dir and returns
 * CSJ_SUCCESS, or a status with @p why saying what failed. The csjack
 * command's saves the live state and its own csjack.session
 * (app/session.c); without one, :save saves the library's live state only
 * (csj_engine_save_state). Call before console_start; NULL removes it.
 */
typedef CsjStatus (*ConsoleSaveFn)(void *data, CsjEngine *e, const char *dir, char *why,
                                   size_t why_size);
void console_set_save(ConsoleSaveFn fn, void *data);

/* ---- the console on a terminal (console_tty.c) ----------------------------------- */

/**
 * The console's terminal side: libedit's prompt, line editing, history
 * file and completion, and a message sink that keeps the line being typed
 * whole (docs/console.md, "On a terminal"). Used when both the input and
 * the reply stream are terminals; pipes keep the plain protocol.
 */
typedef struct ConsoleTermImpl ConsoleTerm;

/**
 * Makes the terminal side for @p in_fd and @p out (the replies; libedit
 * draws there) with messages going to @p err. NULL when they are not
 * terminals or memory runs out. Create it before the engine, pass
 * console_term_message and it as the engine's message sink, start the
 * console with console_start_terminal(), and free it after the engine.
 */
ConsoleTerm *console_term_new(int in_fd, FILE *out, FILE *err);

/**
 * Gives the terminal back the mode it had when @p t was made, at once,
 * whatever the console's thread is doing, and ends the line: for an exit
 * that cannot wait for the console (_exit after a hung Csound). Any
 * thread; only tcsetattr and write. NULL is a no-op.
 */
void console_term_give_back(ConsoleTerm *t);

/** Frees @p t (NULL is a no-op); its console must have been stopped and
 *  the engine that prints through it destroyed. */
void console_term_free(ConsoleTerm *t);

/**
 * A CsjMessageFn (@p data is the ConsoleTerm): writes @p text to the
 * message stream; while a line is being typed, the prompt and the line are
 * erased first and drawn again after the message. Any thread but the
 * JACK thread; takes the terminal's lock. NOT real-time safe.
 */
void console_term_message(void *data, int attr, const char *text);

/** How console_term_run ended. */
typedef enum {
  CONSOLE_TERM_CLOSED, /**< Ctrl-D, the terminal gone, or console_stop. */
  CONSOLE_TERM_QUIT,   /**< :quit was run. */
  CONSOLE_TERM_FAILED, /**< libedit could not start: read plain lines instead. */
} ConsoleTermEnd;

/** The console thread's loop on a terminal (console.c calls it): reads
 *  lines with libedit until Ctrl-D, :quit, EOF or a byte on @p wake_fd. */
ConsoleTermEnd console_term_run(ConsoleTerm *t, CsjEngine *e, int wake_fd, const atomic_bool *stop);

/**
 * Starts a console on the terminal of @p t (console_term_new), with the
 * same thread, signals and stop as console_start(). Falls back to plain
 * lines if libedit cannot start.
 */
Console *console_start_terminal(CsjEngine *e, ConsoleTerm *t);

#ifdef __cplusplus
}
#endif

#endif /* CSJACK_CONSOLE_H */
