/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The console's reading thread: cuts a file descriptor's bytes into lines
 * and hands each to the executor (console_exec.c), whose reply goes to the
 * output stream. EOF ends the console, not the music.
 */

#include "console.h"
#include "console_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the reading thread ------------------------------------------------------------- */

struct ConsoleImpl {
  CsjEngine *engine;
  ConsoleTerm *term; /* on a terminal: libedit (console_tty.c); else NULL */
  int in_fd;
  FILE *out;
  int wake[2]; /* console_stop writes a byte to wake[1] */
  pthread_t thread;
  atomic_bool stop;
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
    console_end_reply(c->out);
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
  if (c->term) {
    if (console_term_run(c->term, c->engine, c->wake[0], &c->stop) != CONSOLE_TERM_FAILED) {
      return NULL;
    }
    /* libedit could not start: plain lines, as from a pipe. */
  }
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
        (void)end_of_line(c);
      }
      break;
    }
    if (!feed(c, chunk, (size_t)r)) {
      break; /* :quit */
    }
  }
  return NULL;
}

static Console *start(CsjEngine *e, int in_fd, FILE *out, ConsoleTerm *term);

Console *
console_start(CsjEngine *e, int in_fd, FILE *out)
{
  return start(e, in_fd, out, NULL);
}

Console *
console_start_terminal(CsjEngine *e, ConsoleTerm *t)
{
  if (!t) {
    return NULL;
  }
  return start(e, console_term_in_fd(t), console_term_out(t), t);
}

static Console *
start(CsjEngine *e, int in_fd, FILE *out, ConsoleTerm *term)
{
  if (!e || !out || in_fd < 0 || fcntl(in_fd, F_GETFD) < 0) {
    return NULL;
  }
  Console *c = calloc(1, sizeof *c);
  if (!c) {
    return NULL;
  }
  c->engine = e;
  c->term = term;
  c->in_fd = in_fd;
  c->out = out;
  atomic_init(&c->stop, false);
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
