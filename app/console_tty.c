/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The console on a terminal: libedit (BSD editline) gives a prompt, line
 * editing with the arrow keys, a history kept in a file, and completion
 * of ':' commands from the console's one command table. Each line is then
 * run exactly as a line from a pipe (console_execute_line), with the same
 * one reply.
 *
 * How it is driven, and why. libedit reads in "unbuffered" mode
 * (EL_UNBUFFERED): el_wgets processes one key and returns, so the
 * console's thread keeps its poll on the terminal and on the stop pipe
 * (console_stop wakes it, no signal needed), and its own read function
 * (EL_GETCFN) waits on both as well inside a key sequence. The editor's
 * state is guarded by one lock, taken by the console's thread only while
 * libedit processes a key, and by the message sink (console_term_message)
 * while it prints: a message that comes while someone types erases the
 * prompt and the line, is printed, and the line is drawn again
 * (EL_REFRESH), so Csound's chatter never lands in the middle of what is
 * typed. The readline-compatible callback interface of Debian 12's
 * libedit (rl_callback_read_char) was not used: it works on one hidden
 * global editor, reads with libedit's built-in read function, which blocks
 * inside an escape sequence where console_stop cannot wake it, and offers
 * no redisplay hook beyond the same EL_REFRESH. el_gets in a blocking
 * thread of its own was not used either: it could not be woken by
 * console_stop, and a redisplay from another thread would race with it.
 *
 * The terminal is in libedit's raw mode only while a line is being typed;
 * while a command runs it is back in its own mode, so Ctrl-C always
 * reaches csjack's signal thread as SIGINT (libedit keeps ISIG on).
 */

#include "console.h"
#include "console_internal.h"

#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#define PROMPT "csjack> "
#define HISTORY_SIZE 1000
/* How often a background job looks again whether it is in the foreground. */
#define BACKGROUND_RETRY_MS 250

typedef enum {
  READ_OK,
  READ_EOF, /* the terminal is gone */
  READ_ERROR,
  READ_WOKEN, /* console_stop */
} ReadState;

struct ConsoleTermImpl {
  int in_fd;
  FILE *out; /* the terminal: prompt, echo, replies */
  FILE *err; /* messages */
  bool err_is_tty;
  locale_t ctype;       /* UTF-8 character handling for libedit, per thread */
  pthread_mutex_t lock; /* the editor and everything below */
  FILE *in;             /* for el_init only: reads go through term_getc */
  EditLine *el;
  History *hist;
  bool editing;     /* a line is being typed: its prompt belongs on screen */
  bool shown;       /* the prompt and the line are on screen */
  bool err_midline; /* the last message did not end its line */
  int wake_fd;
  ReadState rstate;
  mbstate_t mbs;
  char *history_path;
  bool history_said;    /* one notice about the history file, no more */
  struct termios saved; /* the terminal's mode when the console began */
  bool saved_ok;
};

/* ---- small helpers ---------------------------------------------------------------- */

static void
put_locked(ConsoleTerm *t, const char *text)
{
  fputs(text, t->err);
  fflush(t->err);
  const size_t n = strlen(text);
  if (n > 0) {
    t->err_midline = text[n - 1] != '\n';
  }
}

/* Erases the prompt and the line being typed (they may span rows). */
static void
hide_locked(ConsoleTerm *t)
{
  if (!t->shown || !t->el) {
    return;
  }
  const LineInfoW *li = el_wline(t->el);
  size_t col = strlen(PROMPT);
  for (const wchar_t *p = li->buffer; p < li->cursor; ++p) {
    const int w = wcwidth(*p);
    col += w > 0 ? (size_t)w : (*p < 0x20 ? 2 : 0); /* libedit shows ^X */
  }
  struct winsize ws;
  size_t cols = 80;
  if (ioctl(fileno(t->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    cols = ws.ws_col;
  }
  const size_t up = col / cols;
  fflush(t->out);
  if (up > 0) {
    fprintf(t->out, "\r\033[%zuA\033[J", up);
  } else {
    fputs("\r\033[J", t->out);
  }
  fflush(t->out);
  t->shown = false;
}

/* Draws the prompt and the line again, on a line of their own. */
static void
show_locked(ConsoleTerm *t)
{
  if (!t->editing || t->shown || !t->el) {
    return;
  }
  if (t->err_midline) {
    put_locked(t, "\n");
  }
  el_set(t->el, EL_REFRESH);
  t->shown = true;
}

/* One notice about the history file per run; the console goes on without
 * saving. */
static void
history_notice_locked(ConsoleTerm *t, const char *what, const char *path, int err)
{
  if (t->history_said) {
    return;
  }
  t->history_said = true;
  char text[PATH_MAX + 200];
  snprintf(text, sizeof text,
           "csjack: notice: cannot %s the console history '%s': %s; this session's history "
           "is not kept\n",
           what, path, err ? strerror(err) : "not a history file");
  const bool was_shown = t->shown;
  hide_locked(t);
  put_locked(t, text);
  if (was_shown) {
    show_locked(t);
  }
}

/* Makes every directory of @p path's parent, mode 0700; 0 or an errno. */
static int
make_parents(const char *path)
{
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
    return ENAMETOOLONG;
  }
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) {
    return 0;
  }
  *slash = '\0';
  for (char *p = dir + 1;; ++p) {
    if (*p == '/' || *p == '\0') {
      const char keep = *p;
      *p = '\0';
      if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return errno;
      }
      *p = keep;
      if (keep == '\0') {
        break;
      }
    }
  }
  return 0;
}

/* The history file: $XDG_STATE_HOME/csjack/history, or, when that is
 * unset or relative, ~/.local/state/csjack/history; NULL without a home.
 * Malloc'd. */
static char *
find_history_path(void)
{
  const char *state = getenv("XDG_STATE_HOME");
  char path[PATH_MAX];
  int n;
  /* XDG: a relative XDG_STATE_HOME is invalid and ignored. */
  if (state && state[0] == '/') {
    n = snprintf(path, sizeof path, "%s/csjack/history", state);
  } else {
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
      const struct passwd *pw = getpwuid(getuid());
      home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !home[0]) {
      return NULL;
    }
    n = snprintf(path, sizeof path, "%s/.local/state/csjack/history", home);
  }
  return n > 0 && n < (int)sizeof path ? strdup(path) : NULL;
}

/* ---- libedit's callbacks ------------------------------------------------------------ */

static char *
prompt_fn(EditLine *el)
{
  (void)el;
  return (char *)PROMPT;
}

/* Waits for input on the terminal or the stop pipe, without the lock (so
 * messages print meanwhile). Returns false when woken by console_stop. */
static bool
wait_input_unlocked(ConsoleTerm *t, int timeout_ms, bool *input)
{
  struct pollfd p[2] = {{t->in_fd, POLLIN, 0}, {t->wake_fd, POLLIN, 0}};
  *input = false;
  int r;
  do {
    r = poll(p, 2, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r > 0 && p[1].revents) {
    return false;
  }
  *input = r > 0 && p[0].revents;
  return true;
}

/*
 * libedit's read function: one character, decoded from UTF-8. Called with
 * the lock held (inside el_wgets); waits without it. Returns 1 with a
 * character, 0 at EOF, -1 on error or when woken by console_stop
 * (t->rstate says which).
 */
static int
term_getc(EditLine *el, wchar_t *wc)
{
  ConsoleTerm *t = NULL;
  el_get(el, EL_CLIENTDATA, &t);
  for (;;) {
    struct pollfd now = {t->in_fd, POLLIN, 0};
    if (poll(&now, 1, 0) <= 0) {
      pthread_mutex_unlock(&t->lock);
      bool input;
      const bool awake = wait_input_unlocked(t, -1, &input);
      pthread_mutex_lock(&t->lock);
      if (!awake) {
        t->rstate = READ_WOKEN;
        return -1;
      }
    }
    unsigned char byte;
    const ssize_t r = read(t->in_fd, &byte, 1);
    if (r == 0) {
      t->rstate = READ_EOF;
      return 0;
    }
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      if (errno == EIO) {
        /* A background job reading its terminal (SIGTTIN is blocked):
         * look again later. Only the stop pipe is watched meanwhile: the
         * terminal stays readable, and watching it would spin. */
        pthread_mutex_unlock(&t->lock);
        struct pollfd w = {t->wake_fd, POLLIN, 0};
        const bool woken = poll(&w, 1, BACKGROUND_RETRY_MS) > 0;
        pthread_mutex_lock(&t->lock);
        if (woken) {
          t->rstate = READ_WOKEN;
          return -1;
        }
        continue;
      }
      t->rstate = READ_ERROR;
      return -1;
    }
    wchar_t c;
    const size_t k = mbrtowc(&c, (const char *)&byte, 1, &t->mbs);
    if (k == (size_t)-2) {
      continue; /* more bytes of this character to come */
    }
    if (k == (size_t)-1) {
      memset(&t->mbs, 0, sizeof t->mbs); /* not UTF-8: dropped */
      continue;
    }
    *wc = c;
    return 1;
  }
}

/* Tab: completes the ':' command word under the cursor from the console's
 * command table; lists the candidates when there is more than one. */
static unsigned char
complete_fn(EditLine *el, int ch)
{
  (void)ch;
  ConsoleTerm *t = NULL;
  el_get(el, EL_CLIENTDATA, &t);
  const LineInfo *li = el_line(el);
  const char *start = li->buffer;
  while (start < li->cursor && (*start == ' ' || *start == '\t')) {
    ++start;
  }
  if (start >= li->cursor || *start != ':') {
    return CC_ERROR;
  }
  const char *word = start + 1;
  const size_t n = (size_t)(li->cursor - word);
  if (memchr(word, ' ', n) || memchr(word, '\t', n)) {
    return CC_ERROR; /* past the command word */
  }
  const bool at_end = li->cursor == li->lastchar;
  const char *first = NULL;
  bool first_args = false;
  size_t matches = 0;
  size_t common = 0;
  bool takes_args = false;
  const char *w;
  for (size_t i = 0; (w = console_command_word(i, &takes_args)) != NULL; ++i) {
    if (strncmp(w, word, n) != 0) {
      continue;
    }
    if (matches++ == 0) {
      first = w;
      first_args = takes_args;
      common = strlen(w);
    } else {
      size_t k = n;
      while (k < common && w[k] == first[k]) {
        ++k;
      }
      common = k;
    }
  }
  if (matches == 0) {
    return CC_ERROR;
  }
  if (common > n || matches == 1) {
    char add[64];
    size_t len = common - n < sizeof add - 2 ? common - n : sizeof add - 2;
    memcpy(add, first + n, len);
    if (matches == 1 && first_args && at_end) {
      add[len++] = ' ';
    }
    add[len] = '\0';
    if (len == 0) {
      return CC_NORM;
    }
    return el_insertstr(el, add) == 0 ? CC_REFRESH : CC_ERROR;
  }
  /* Several, and nothing to add: list them under the line and draw it
   * again below. */
  fputc('\n', t->out);
  for (size_t i = 0; (w = console_command_word(i, NULL)) != NULL; ++i) {
    if (strncmp(w, word, n) == 0) {
      fprintf(t->out, ":%s  ", w);
    }
  }
  fputc('\n', t->out);
  fflush(t->out);
  return CC_REDISPLAY;
}

/* ---- the terminal console's life ------------------------------------------------ */

static bool
is_terminal(int in_fd, FILE *out)
{
  return out && isatty(in_fd) && isatty(fileno(out));
}

int
console_term_in_fd(const ConsoleTerm *t)
{
  return t->in_fd;
}

FILE *
console_term_out(const ConsoleTerm *t)
{
  return t->out;
}

ConsoleTerm *
console_term_new(int in_fd, FILE *out, FILE *err)
{
  if (!is_terminal(in_fd, out) || !err) {
    return NULL;
  }
  ConsoleTerm *t = calloc(1, sizeof *t);
  if (!t) {
    return NULL;
  }
  t->in_fd = in_fd;
  t->out = out;
  t->err = err;
  t->err_is_tty = isatty(fileno(err));
  t->wake_fd = -1;
  t->saved_ok = tcgetattr(in_fd, &t->saved) == 0;
  /* The console's lines are UTF-8 whatever the environment's locale: keys
   * are decoded as UTF-8 on the console's thread alone (uselocale), so
   * nothing else in the process changes. */
  t->ctype = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  if (t->ctype == (locale_t)0) {
    t->ctype = newlocale(LC_CTYPE_MASK, "", (locale_t)0);
  }
  pthread_mutex_init(&t->lock, NULL);
  return t;
}

void
console_term_give_back(ConsoleTerm *t)
{
  if (t && t->saved_ok) {
    tcsetattr(t->in_fd, TCSANOW, &t->saved);
    const char nl = '\n';
    ssize_t ignored = write(fileno(t->out), &nl, 1);
    (void)ignored;
  }
}

void
console_term_free(ConsoleTerm *t)
{
  if (!t) {
    return;
  }
  pthread_mutex_destroy(&t->lock);
  if (t->ctype != (locale_t)0) {
    freelocale(t->ctype);
  }
  free(t->history_path);
  free(t);
}

void
console_term_message(void *data, int attr, const char *text)
{
  (void)attr;
  ConsoleTerm *t = data;
  pthread_mutex_lock(&t->lock);
  if (!t->err_is_tty || !t->editing) {
    put_locked(t, text);
    pthread_mutex_unlock(&t->lock);
    return;
  }
  const locale_t old = t->ctype != (locale_t)0 ? uselocale(t->ctype) : (locale_t)0;
  hide_locked(t);
  put_locked(t, text);
  /* A message cut in pieces: the line comes back when the last piece ends
   * it, or at the next key. */
  if (!t->err_midline) {
    show_locked(t);
  }
  if (old != (locale_t)0) {
    uselocale(old);
  }
  pthread_mutex_unlock(&t->lock);
}

/* Sets up libedit and the history; false if the terminal cannot be
 * edited (the caller falls back to plain lines). Lock held. */
static bool
open_editor_locked(ConsoleTerm *t)
{
  const int fd = dup(t->in_fd);
  t->in = fd >= 0 ? fdopen(fd, "r") : NULL;
  if (!t->in) {
    if (fd >= 0) {
      close(fd);
    }
    return false;
  }
  t->el = el_init("csjack", t->in, t->out, t->err);
  t->hist = history_init();
  if (!t->el || !t->hist) {
    if (t->el) {
      el_end(t->el);
    }
    if (t->hist) {
      history_end(t->hist);
    }
    t->el = NULL;
    t->hist = NULL;
    fclose(t->in);
    t->in = NULL;
    return false;
  }
  HistEvent ev;
  history(t->hist, &ev, H_SETSIZE, HISTORY_SIZE);
  history(t->hist, &ev, H_SETUNIQUE, 1);
  el_set(t->el, EL_CLIENTDATA, t);
  el_set(t->el, EL_EDITOR, "emacs");
  el_set(t->el, EL_PROMPT, prompt_fn);
  el_set(t->el, EL_HIST, history, t->hist);
  el_set(t->el, EL_GETCFN, term_getc);
  /* The wide call: libedit keeps these pointers as they are, where the
   * narrow el_set copies them and never frees the copies. */
  el_wset(t->el, EL_ADDFN, L"csjack-complete", L"complete a :command", complete_fn);
  el_set(t->el, EL_BIND, "^I", "csjack-complete", NULL);
  el_source(t->el, NULL); /* the user's ~/.editrc, if any */
  memset(&t->mbs, 0, sizeof t->mbs);

  free(t->history_path);
  t->history_path = find_history_path();
  if (!t->history_path) {
    history_notice_locked(t, "find", "$HOME/.local/state/csjack/history", ENOENT);
  } else {
    const int made = make_parents(t->history_path);
    if (made != 0) {
      history_notice_locked(t, "create the directory of", t->history_path, made);
      free(t->history_path);
      t->history_path = NULL;
    } else if (access(t->history_path, F_OK) == 0) {
      errno = 0;
      if (history(t->hist, &ev, H_LOAD, t->history_path) < 0) {
        history_notice_locked(t, "read", t->history_path, errno);
        free(t->history_path);
        t->history_path = NULL;
      }
    }
  }
  return true;
}

static void
close_editor_locked(ConsoleTerm *t)
{
  if (!t->el) {
    return;
  }
  if (t->editing) {
    el_set(t->el, EL_UNBUFFERED, 0);
    /* Stopped while a line was typed: what follows starts on a line of
     * its own. */
    fputc('\n', t->out);
    fflush(t->out);
  }
  t->editing = false;
  t->shown = false;
  el_end(t->el); /* gives the terminal its own mode back */
  history_end(t->hist);
  fclose(t->in);
  t->el = NULL;
  t->hist = NULL;
  t->in = NULL;
}

/* Adds a line to the history and saves the file (every line, so that a
 * csjack that is killed keeps it). Lock held. A line the console refuses
 * for its length is not kept: Up would bring back only the refusal, and
 * the file would carry it into every later session. */
static void
remember_locked(ConsoleTerm *t, const char *line, size_t len)
{
  if (len > 0 && line[len - 1] == '\r') {
    --len; /* the parser's reading, which ignores a final CR */
  }
  if (len > CONSOLE_MAX_LINE) {
    return;
  }
  const char *p = line;
  while (*p == ' ' || *p == '\t') {
    ++p;
  }
  if (!*p) {
    return;
  }
  HistEvent ev;
  history(t->hist, &ev, H_ENTER, line);
  if (t->history_path) {
    errno = 0;
    if (history(t->hist, &ev, H_SAVE, t->history_path) < 0) {
      history_notice_locked(t, "write", t->history_path, errno ? errno : EIO);
      free(t->history_path);
      t->history_path = NULL;
    }
  }
}

/* Waits until csjack is the terminal's foreground job (a job started with
 * '&' must not put the shell's terminal in raw mode). False when woken by
 * console_stop. */
static bool
wait_foreground(ConsoleTerm *t)
{
  for (;;) {
    const pid_t fg = tcgetpgrp(t->in_fd);
    if (fg < 0 || fg == getpgrp()) {
      return true;
    }
    /* What is typed meanwhile is the shell's: only the stop pipe is
     * watched. */
    struct pollfd w = {t->wake_fd, POLLIN, 0};
    if (poll(&w, 1, BACKGROUND_RETRY_MS) > 0) {
      return false;
    }
  }
}

/* Converts the wide line (without its newline) to UTF-8; NULL if out of
 * memory. *len gets its length (a NUL typed with ^V stays, and the
 * executor rejects the line as it would from a pipe). */
static char *
line_to_utf8(const wchar_t *w, size_t n, size_t *len)
{
  char *s = malloc(n * MB_CUR_MAX + 1);
  if (!s) {
    return NULL;
  }
  size_t o = 0;
  mbstate_t st;
  memset(&st, 0, sizeof st);
  for (size_t i = 0; i < n; ++i) {
    const size_t k = wcrtomb(s + o, w[i], &st);
    if (k != (size_t)-1) {
      o += k;
    }
  }
  s[o] = '\0';
  *len = o;
  return s;
}

ConsoleTermEnd
console_term_run(ConsoleTerm *t, CsjEngine *e, int wake_fd, const atomic_bool *stop)
{
  const locale_t old = t->ctype != (locale_t)0 ? uselocale(t->ctype) : (locale_t)0;
  pthread_mutex_lock(&t->lock);
  t->wake_fd = wake_fd;
  const bool opened = open_editor_locked(t);
  pthread_mutex_unlock(&t->lock);
  if (!opened) {
    if (old != (locale_t)0) {
      uselocale(old);
    }
    return CONSOLE_TERM_FAILED;
  }
  ConsoleTermEnd end = CONSOLE_TERM_CLOSED;
  while (!atomic_load_explicit(stop, memory_order_acquire)) {
    if (!wait_foreground(t)) {
      break;
    }
    pthread_mutex_lock(&t->lock);
    memset(&t->mbs, 0, sizeof t->mbs);
    if (t->err_midline) {
      put_locked(t, "\n");
    }
    el_set(t->el, EL_UNBUFFERED, 1); /* raw mode; draws the prompt */
    t->editing = true;
    t->shown = true;
    pthread_mutex_unlock(&t->lock);

    char *line = NULL;
    size_t len = 0;
    bool done = false; /* the console ends */
    bool ctrl_d = false;
    while (!line && !done) {
      bool input;
      if (!wait_input_unlocked(t, -1, &input)) {
        done = true;
        break;
      }
      if (!input) {
        continue;
      }
      pthread_mutex_lock(&t->lock);
      show_locked(t); /* after a message that did not end its line */
      t->rstate = READ_OK;
      int count = 0;
      const wchar_t *buf = el_wgets(t->el, &count);
      if (t->rstate != READ_OK) {
        done = true;
      } else if (buf && count > 0 && buf[count - 1] == L'\n') {
        line = line_to_utf8(buf, (size_t)count - 1, &len);
        if (!line) {
          done = true;
        }
      } else if (buf && count == 1 && buf[0] == 4) {
        ctrl_d = true; /* Ctrl-D on an empty line */
        done = true;
      }
      if (line || ctrl_d) {
        el_set(t->el, EL_UNBUFFERED, 0); /* the terminal's own mode again */
        t->editing = false;
        t->shown = false;
      }
      if (line) {
        remember_locked(t, line, len);
      }
      pthread_mutex_unlock(&t->lock);
    }
    if (ctrl_d) {
      pthread_mutex_lock(&t->lock);
      fputs("\nconsole closed; the music plays on (Ctrl-C to stop)\n", t->out);
      fflush(t->out);
      pthread_mutex_unlock(&t->lock);
      break;
    }
    if (done) {
      break;
    }
    const bool go_on = console_execute_line(e, line, len, t->out);
    free(line);
    if (!go_on) {
      end = CONSOLE_TERM_QUIT;
      break;
    }
  }
  pthread_mutex_lock(&t->lock);
  close_editor_locked(t);
  pthread_mutex_unlock(&t->lock);
  if (old != (locale_t)0) {
    uselocale(old);
  }
  return end;
}
