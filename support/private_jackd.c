/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A private jackd for the tests and the benchmarks; see private_jackd.h. */

#include "private_jackd.h"

#include <jack/jack.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void
sleep_ms(double ms)
{
  struct timespec t = {(time_t)(ms / 1000), (long)((ms - 1000 * (time_t)(ms / 1000)) * 1e6)};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

static void
redirect_fd(int fd, const char *path, int flags)
{
  int f = open(path, flags, 0644);
  if (f < 0) {
    _exit(126);
  }
  if (f != fd) {
    dup2(f, fd);
    close(f);
  }
}

pid_t
private_jackd_spawn(const PrivateJackdOptions *o)
{
  char per[16], rate[16], cap[16], play[16];
  snprintf(per, sizeof per, "%u", o->period);
  snprintf(rate, sizeof rate, "%u", o->rate);
  snprintf(cap, sizeof cap, "%d", o->capture);
  snprintf(play, sizeof play, "%d", o->playback);
  const char *argv[20];
  int n = 0;
  argv[n++] = "jackd";
  argv[n++] = o->realtime ? "-R" : "--no-realtime";
  argv[n++] = "-n";
  argv[n++] = o->name;
  argv[n++] = "-d";
  argv[n++] = "dummy";
  argv[n++] = "-r";
  argv[n++] = rate;
  argv[n++] = "-p";
  argv[n++] = per;
  if (o->capture >= 0) {
    argv[n++] = "-C";
    argv[n++] = cap;
  }
  if (o->playback >= 0) {
    argv[n++] = "-P";
    argv[n++] = play;
  }
  argv[n] = NULL;

  const pid_t parent = getpid();
  fflush(NULL);
  const pid_t pid = fork();
  if (pid != 0) {
    return pid;
  }
  /* The child: die with the caller, start from default signal state. */
  if (o->death_signal > 0) {
    prctl(PR_SET_PDEATHSIG, o->death_signal);
  }
  if (getppid() != parent) {
    _exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  redirect_fd(0, "/dev/null", O_RDONLY);
  if (o->log_path) {
    redirect_fd(1, o->log_path, O_WRONLY | O_CREAT | O_TRUNC);
  } else {
    redirect_fd(1, "/dev/null", O_WRONLY);
  }
  dup2(1, 2);
  setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
  execvp("jackd", (char *const *)argv);
  _exit(127);
}

static void
message_print(const char *text)
{
  fprintf(stderr, "%s\n", text);
}

static void
message_silent(const char *text)
{
  (void)text;
}

static void (*g_error_fn)(const char *) = message_print;
static void (*g_info_fn)(const char *) = message_print;

void
private_jackd_set_jack_messages(void (*error_fn)(const char *), void (*info_fn)(const char *))
{
  g_error_fn = error_fn ? error_fn : message_print;
  g_info_fn = info_fn ? info_fn : message_print;
}

bool
private_jackd_answers(const char *name, const char *client)
{
  jack_set_error_function(message_silent);
  jack_set_info_function(message_silent);
  jack_status_t status = 0;
  jack_client_t *c = jack_client_open(client, JackNoStartServer | JackServerName, &status, name);
  if (c) {
    jack_client_close(c);
  }
  jack_set_error_function(g_error_fn);
  jack_set_info_function(g_info_fn);
  return c != NULL;
}

/* Whether the log at @p path says JACK's registry of servers was full. */
static bool
log_says_registry_full(const char *path)
{
  FILE *f = path ? fopen(path, "rb") : NULL;
  if (!f) {
    return false;
  }
  static const char needle[] = "Too many servers already active";
  char buf[4096];
  bool found = false;
  size_t keep = 0;
  size_t n;
  /* Reads in blocks, keeping the tail of the last one for a split match. */
  while (!found && (n = fread(buf + keep, 1, sizeof buf - 1 - keep, f)) > 0) {
    buf[keep + n] = '\0';
    found = strstr(buf, needle) != NULL;
    const size_t len = keep + n;
    keep = len < sizeof needle ? len : sizeof needle - 1;
    memmove(buf, buf + len - keep, keep);
  }
  fclose(f);
  return found;
}

PrivateJackdWait
private_jackd_wait(pid_t pid, const char *name, const char *client, const char *log_path,
                   int timeout_ms, int *status)
{
  const double deadline = now_ms() + timeout_ms;
  for (;;) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      if (status) {
        *status = st;
      }
      return log_says_registry_full(log_path) ? PRIVATE_JACKD_REGISTRY_FULL
                                              : PRIVATE_JACKD_EXITED;
    }
    if (private_jackd_answers(name, client)) {
      return PRIVATE_JACKD_UP;
    }
    if (now_ms() > deadline) {
      return PRIVATE_JACKD_TIMEOUT;
    }
    sleep_ms(50);
  }
}

void
private_jackd_stop(pid_t pid, int timeout_ms)
{
  if (pid <= 0) {
    return;
  }
  kill(pid, SIGTERM);
  const double deadline = now_ms() + timeout_ms;
  for (;;) {
    const pid_t r = waitpid(pid, NULL, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      return;
    }
    if (now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      return;
    }
    sleep_ms(10);
  }
}

void
private_jackd_cleanup_files(const char *name)
{
  char pattern[160];
  snprintf(pattern, sizeof pattern, "/dev/shm/jack*_%s_*", name);
  glob_t g;
  if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; i++) {
      unlink(g.gl_pathv[i]);
    }
  }
  globfree(&g);
}

void
private_jackd_reclaim(const char *name, const char *client)
{
  const PrivateJackdOptions o = {.name = name,
                                 .period = 256,
                                 .rate = 48000,
                                 .capture = 0,
                                 .playback = 0,
                                 .log_path = NULL,
                                 .death_signal = SIGKILL};
  const pid_t pid = private_jackd_spawn(&o);
  if (pid < 0) {
    return;
  }
  const double deadline = now_ms() + 3000;
  for (;;) {
    if (waitpid(pid, NULL, WNOHANG) == pid) {
      private_jackd_cleanup_files(name);
      return; /* exited by itself (e.g. a live server has the name) */
    }
    if (private_jackd_answers(name, client) || now_ms() > deadline) {
      break;
    }
    sleep_ms(20);
  }
  private_jackd_stop(pid, 3000);
  private_jackd_cleanup_files(name);
}
