/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A private, short-lived jackd (dummy driver) for the tests' harness
 * (tests/jack_harness.c) and the benchmarks (bench/bench_util.c): start it,
 * see whether it answers, stop it, and clean up after a killed one. No
 * Criterion here: every function returns what happened, and the harness
 * asserts on it.
 *
 * JACK keeps a machine-wide registry of running servers with room for only
 * 8. A server killed with SIGKILL cannot unregister, and JACK reclaims a
 * dead entry only when a server of the same name starts:
 * private_jackd_reclaim() does that. A server that cannot start because the
 * registry is full says so in its log (PRIVATE_JACKD_REGISTRY_FULL).
 *
 * None of this is real-time safe; it forks and sleeps.
 */

#ifndef CSJ_PRIVATE_JACKD_H
#define CSJ_PRIVATE_JACKD_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
  const char *name;      /* -n NAME */
  unsigned period;       /* -p */
  unsigned rate;         /* -r */
  bool realtime;         /* -R instead of --no-realtime */
  int capture;           /* the dummy driver's -C; below 0: its default */
  int playback;          /* -P; below 0: its default */
  const char *log_path;  /* its stdout and stderr (truncated); NULL: /dev/null */
  int death_signal;      /* the signal it gets when the caller dies (PR_SET_PDEATHSIG);
                          * SIGTERM lets it free its registry entry, SIGKILL does not */
} PrivateJackdOptions;

/**
 * Forks and execs `jackd --no-realtime|-R -n NAME -d dummy -r RATE -p PERIOD
 * [-C N] [-P N]` with stdin from /dev/null, JACK_NO_AUDIO_RESERVATION=1 and
 * default signal dispositions and mask. Does not wait. Returns the pid, or
 * -1 (errno set) when fork fails. Flushes stdio first.
 */
pid_t private_jackd_spawn(const PrivateJackdOptions *o);

/**
 * Where libjack's error and info messages go after each of the functions
 * below, which silence them while they try to connect (a server still
 * starting is not news). JACK has no getter for the previous functions, so
 * this sets them. Default: both printed to stderr, one a line.
 */
void private_jackd_set_jack_messages(void (*error_fn)(const char *),
                                     void (*info_fn)(const char *));

/**
 * Whether server @p name accepts a client now: opens and closes a client
 * named @p client (JackNoStartServer). libjack keys a client's sockets by
 * its name: use a name unique to the caller.
 */
bool private_jackd_answers(const char *name, const char *client);

typedef enum {
  PRIVATE_JACKD_UP,            /* it accepts clients */
  PRIVATE_JACKD_EXITED,        /* it exited (reaped; see *status) */
  PRIVATE_JACKD_REGISTRY_FULL, /* it exited: JACK's registry of 8 servers is full */
  PRIVATE_JACKD_TIMEOUT,       /* still running, not answering (not stopped) */
} PrivateJackdWait;

/**
 * Waits up to @p timeout_ms until server @p pid / @p name accepts clients
 * (as client @p client) or exits. On
 * an exit, @p log_path (may be NULL) tells whether the registry was full,
 * and *status (may be NULL) gets waitpid's status.
 */
PrivateJackdWait private_jackd_wait(pid_t pid, const char *name, const char *client,
                                    const char *log_path, int timeout_ms, int *status);

/**
 * SIGTERM, waits up to @p timeout_ms for it to exit, then SIGKILL; reaps
 * it. No-op for pid <= 0; a pid already reaped is fine.
 */
void private_jackd_stop(pid_t pid, int timeout_ms);

/**
 * Removes /dev/shm files carrying server @p name ("jack*_NAME_*"), which a
 * SIGKILLed jackd leaves behind. Use a name unique to the caller.
 */
void private_jackd_cleanup_files(const char *name);

/**
 * Frees the registry entry of a dead server @p name: starts a throwaway
 * jackd of that name (no ports) and stops it cleanly, within a few seconds.
 * A live server of that name makes the throwaway one exit at once: nothing
 * is touched then.
 */
void private_jackd_reclaim(const char *name, const char *client);

#endif
