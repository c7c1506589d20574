/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test harness: a private, short-lived JACK server per test, a "probe" JACK
 * client that plays and records sample-exact buffers, and helpers to run
 * child processes with a timeout.
 *
 * Server: `jackd --no-realtime -n csjtest-<pid>-<n> -d dummy -r RATE -p PERIOD
 * -C 2 -P 2`. The dummy driver keeps its two physical capture and playback
 * ports ("system:capture_N", "system:playback_N") so the CLI's default
 * autoconnection can be tested. Tests that measure signals use
 * no_connect / --no-connect and wire the probe by hand, so the physical ports
 * never carry anything a test looks at.
 *
 * Isolation: harness_server_start() sets JACK_DEFAULT_SERVER to the private
 * name (and JACK_NO_START_SERVER=1) in the test process, so every client of
 * the test (the engine, a CLI child, the probe) can reach only that server.
 * jackd and every child run with PR_SET_PDEATHSIG=SIGKILL: when Criterion
 * kills a timed-out test process, they die with it.
 *
 * Hangs: the first harness_server_start() or harness_no_server() of a test
 * arms a watchdog. At 85% of the test's Criterion timeout it prints every
 * thread's stack (gdb, or /proc without it) and the server's log to stderr,
 * so that a "Timed out" in CI says which call hung.
 */
#ifndef CSJ_JACK_HARNESS_H
#define CSJ_JACK_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include <jack/jack.h>

/**
 * How much longer than planned the harness waits for a child process or a
 * port: 10 under valgrind (CSJ_UNDER_VALGRIND, set by tests/valgrind.sh),
 * where a csjack child starts about that much slower, else 1. Applied by
 * harness_child_wait() and harness_wait_port(), so that a child is not
 * killed before memcheck can report on it.
 */
double harness_time_scale(void);

/* ---- private JACK server ------------------------------------------------ */

/**
 * Starts a private jackd (dummy driver) and waits (up to ~5 s) until it
 * accepts clients. Fails the current Criterion test if it cannot.
 * Sets JACK_DEFAULT_SERVER, JACK_NO_START_SERVER, JACK_NO_AUDIO_RESERVATION.
 */
void harness_server_start(uint32_t period, uint32_t rate);

/**
 * SIGTERM, wait up to 3 s, then SIGKILL. Also frees the JACK registry entry
 * of a server killed by harness_server_kill() in this test. Safe to call
 * when no server runs (the .fini fixture always calls it).
 */
void harness_server_stop(void);

/**
 * SIGKILL the server at once (for "server died" tests) and reap it.
 * JACK's server registry has only 8 slots and a killed server cannot free
 * its own; harness_server_stop() frees it afterwards by starting and cleanly
 * stopping a throwaway jackd of the same name (JACK reclaims dead entries of
 * the same name). harness_server_start() does the same for any dead
 * "csjtest-*" leftovers of crashed runs.
 */
void harness_server_kill(void);

/**
 * Starts a server again under the name of the one harness_server_kill()
 * killed: for clients that wait for their server to come back.
 */
void harness_server_restart(uint32_t period, uint32_t rate);

/** The private server's name ("csjtest-<pid>-<n>"), or NULL. */
const char *harness_server_name(void);

/** Whether the private server process is still alive. */
bool harness_server_running(void);

/**
 * For "no server" tests: starts nothing, but points JACK_DEFAULT_SERVER at a
 * unique name that no server uses, so nothing can reach a user's server.
 */
void harness_no_server(void);

/*
 * Unique JACK client names. libjack names a client's notification socket
 * /dev/shm/jack_<client>_<uid>_0 whatever the server, and unlinks a stale
 * one when it binds: two clients with the same name on two servers of one
 * user break each other. So every client a test creates (the probe, the
 * engine, the CLI child) gets a name unique to the test process: "<base>-<pid>"
 * (a user's own "csjack" or "probe" is never disturbed, nor is a suite that
 * runs at the same time). The strings are allocated and live until exit
 * (kept reachable, so that memcheck does not report them).
 */
const char *harness_name(const char *base);

/** "<base>-<pid>:<port>", the full name of a port of harness_name(base). */
const char *harness_port(const char *base, const char *port);

/** Monotonic milliseconds. */
double harness_now_ms(void);

/** Sleeps @p ms milliseconds. */
void harness_sleep_ms(double ms);

/* ---- probe client --------------------------------------------------------- */

typedef struct HarnessProbe HarnessProbe;

/**
 * Opens and activates a JACK client harness_name(@p base) with output ports out_1..out_N
 * and input ports in_1..in_M. It plays silence and records nothing until
 * probe_arm(). Its latency callback reports 0 for all its ports (it is a pure
 * source and sink), so latency measurements through it see only csjack.
 * Fails the current test on error.
 */
HarnessProbe *probe_open(const char *base, int n_out, int n_in,
                         size_t rec_capacity_frames);

/** The probe's client name. */
const char *probe_name(const HarnessProbe *p);

/** Full name of one of the probe's ports: probe_port(p, "in_1"); lives until exit. */
const char *probe_port(const HarnessProbe *p, const char *port);

/** Copies @p len frames that output @p out_idx (0-based) plays once armed. */
void probe_set_output(HarnessProbe *p, int out_idx, const float *data,
                      size_t len);

/**
 * Starts playing and recording at the next process cycle. Frame 0 of each
 * output buffer and of each recording both correspond to the same absolute
 * frame, probe_start_frame(). Call it when the probe is idle or done: a
 * second recording restarts probe_recorded() and probe_discontinuities().
 */
void probe_arm(HarnessProbe *p);

/** Waits until @p frames were recorded (or the buffer is full). */
bool probe_wait_recorded(HarnessProbe *p, size_t frames, int timeout_ms);

/** Frames recorded so far. */
size_t probe_recorded(const HarnessProbe *p);

/** The recording of input @p in_idx (0-based). */
const float *probe_recording(const HarnessProbe *p, int in_idx);

/** Absolute JACK frame time (jack_last_frame_time) of recorded frame 0. */
jack_nframes_t probe_start_frame(const HarnessProbe *p);

/** Cycles in which the frame time did not follow on from the last one. */
unsigned probe_discontinuities(const HarnessProbe *p);

/** The most discontinuities probe_index_of follows. */
#define PROBE_MAX_JUMPS 64

/**
 * The recording index at which JACK frame @p frame was recorded, following
 * the frame clock across discontinuities (a cycle whose frame time jumped:
 * an xrun, JACK2's dummy driver re-estimating its clock). -1 when the
 * frame was skipped by a jump; for a frame after the last jump, the index
 * it will be recorded at if no further jump comes (it may lie beyond what
 * is recorded yet); -2 after more than PROBE_MAX_JUMPS jumps.
 */
long probe_index_of(const HarnessProbe *p, jack_nframes_t frame);

jack_client_t *probe_client(HarnessProbe *p);

/** Deactivates and closes. NULL is a no-op. */
void probe_close(HarnessProbe *p);

/* ---- port helpers (through any client, usually the probe's) --------------- */

/** jack_connect by full names; returns jack_connect's result (0 is ok). */
int harness_connect(jack_client_t *c, const char *src, const char *dst);

/** Waits until port @p full_name exists; returns whether it does. */
bool harness_wait_port(jack_client_t *c, const char *full_name,
                       int timeout_ms);

/** Shows (default) or hides libjack's error messages in the test process. */
void harness_jack_errors(bool show);

/** Whether @p a and @p b (full names) are connected. */
bool harness_connected(jack_client_t *c, const char *a, const char *b);

/* ---- signal analysis ----------------------------------------------------- */

/** Frequency from rising zero crossings (linear interpolation); 0 if none. */
double harness_frequency(const float *x, size_t n, double rate);

/** Largest absolute value. */
float harness_peak(const float *x, size_t n);

/** Index of the first sample with |x| > threshold, or -1. */
long harness_first_above(const float *x, size_t n, float threshold);

/* ---- child processes ------------------------------------------------------- */

typedef struct {
  pid_t pid;
  char out_path[256];  /**< the child's stdout */
  char err_path[256];  /**< the child's stderr */
} HarnessChild;

/**
 * fork/execv @p argv (NULL-terminated) with stdin from /dev/null and
 * stdout/stderr to files in /tmp. The child dies if the test process does.
 * Fails the current test if fork fails.
 */
void harness_spawn(HarnessChild *ch, char *const argv[]);

/**
 * Like harness_spawn, but the child's stdin is a pipe: returns its writing
 * end (close it for EOF). The caller closes it.
 */
int harness_spawn_piped(HarnessChild *ch, char *const argv[]);

/**
 * Whether the server answers a new client: runs `jack_lsp` (a client that
 * opens the server, lists its ports and closes) as a child process and
 * waits up to @p timeout_ms for it to succeed; a wedged server makes it
 * hang, and it is then killed. @p ms, if not NULL, gets how long it took.
 */
bool harness_server_answers(int timeout_ms, double *ms);

/**
 * Waits up to @p timeout_ms for the child to exit. Returns its exit status
 * (0..255), 128+signal if a signal killed it, or -1 on timeout, in which
 * case the child has been SIGKILLed and reaped.
 */
int harness_child_wait(HarnessChild *ch, int timeout_ms);

/** SIGKILL and reap a child that is still running. Safe to call twice. */
void harness_child_kill(HarnessChild *ch);

/** Reads a child's file (out or err) into a malloc'd NUL-terminated string. */
char *harness_read_file(const char *path);

/** Removes the child's capture files. */
void harness_child_cleanup(HarnessChild *ch);

/**
 * For a test that forks its own child: call first thing in the child,
 * with the parent's pid taken before fork(). The child then dies with the
 * test process (PR_SET_PDEATHSIG), and starts with no signal blocked and
 * default dispositions, whatever the test process had.
 */
void harness_child_setup(pid_t parent);

/**
 * The path of @p file in the test data directory (CSJ_TEST_DATA); fails
 * the test if that is not set. Valid until eight more calls.
 */
const char *harness_data(const char *file);

/* ---- Csound's messages, collected from an engine's message thread ---- */

typedef struct {
  pthread_mutex_t mu;
  char buf[256 * 1024];
  size_t len;
} HarnessMessageLog;

#define HARNESS_MESSAGE_LOG_INIT {.mu = PTHREAD_MUTEX_INITIALIZER}

/* A CsjMessageFn: appends the text to the HarnessMessageLog in data (and
 * echoes it to stderr when CSJ_TEST_VERBOSE is set). */
void harness_message_collect(void *data, int attr, const char *text);

/* Whether the log holds needle so far. */
bool harness_message_log_contains(HarnessMessageLog *log, const char *needle);

#endif /* CSJ_JACK_HARNESS_H */
