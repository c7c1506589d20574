/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack: play a Csound orchestra as a JACK client.
 *
 *   csjack [OPTIONS] FILE.csd|FILE.orc [-- CSOUND-OPTIONS...]
 *
 * Exit codes (also in --help and the README):
 *   0  the score ended, exitnow 0, or stopped by a signal (SIGINT, SIGTERM,
 *      SIGHUP, SIGQUIT) or :quit
 *   1  exitnow with a non-zero code, or Csound aborted the performance
 *   2  usage error
 *   3  file missing or unreadable
 *   4  orchestra compile error
 *   5  no JACK server, or another JACK failure
 *   6  JACK client name already in use
 *   7  unusable orchestra (no outputs, more than 64 channels)
 *   8  the JACK server shut down during the run
 *   9  Csound hung: one call ran longer than the hang limit (an endless
 *      loop), or it did not let go within a second of a stop signal
 *  10  Csound failed to start (csoundStart refused the orchestra)
 *  11  any other failure at start (out of memory, no thread)
 */

#include "console.h"
#include "csjack.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
  EXIT_OK = 0,
  EXIT_PERFORMANCE = 1,
  EXIT_USAGE = 2,
  EXIT_FILE = 3,
  EXIT_COMPILE = 4,
  EXIT_JACK = 5,
  EXIT_NAME_TAKEN = 6,
  EXIT_UNUSABLE = 7,
  EXIT_SERVER_GONE = 8,
  EXIT_HUNG = 9,
  EXIT_CSOUND_START = 10,
  EXIT_INTERNAL = 11,
};

/* The signals that end csjack: taken on a thread of their own, so that a
 * stop is honoured whatever the main thread is doing (compiling, or
 * waiting for a Csound that does not return). */
static sigset_t stop_signals;
static _Atomic int stop_signal;
/* Set by main once it has finished cleanly and is about to return. */
static _Atomic bool main_done;
static CsjEngine *_Atomic running_engine;
/* The console's terminal side, when stdin and stdout are terminals: an
 * exit that cannot wait for the console gives the terminal its mode back. */
static ConsoleTerm *_Atomic console_term;

static const char *
signal_name(int sig)
{
  switch (sig) {
  case SIGINT: return "SIGINT";
  case SIGTERM: return "SIGTERM";
  case SIGHUP: return "SIGHUP";
  case SIGQUIT: return "SIGQUIT";
  default: return "a signal";
  }
}

/*
 * Waits for a stop signal, asks the engine to stop, and gives main one
 * second to end cleanly. A Csound that does not let go in that time (an
 * endless loop, a start-up compile that never returns) cannot be waited
 * for: the recording is closed with a correct header and the process
 * exits with EXIT_HUNG.
 */
static void *
signal_main(void *arg)
{
  (void)arg;
  int sig = 0;
  if (sigwait(&stop_signals, &sig) != 0) {
    return NULL;
  }
  atomic_store_explicit(&stop_signal, sig, memory_order_release);
  CsjEngine *e = atomic_load_explicit(&running_engine, memory_order_acquire);
  if (e) {
    csj_engine_stop(e);
  }
  /* Main closes the console and the engine once the performance has
   * ended. Only a Csound that does not come back is not waited for: a
   * thread inside one Csound call for a second after the signal (an
   * endless loop, a start-up compile that never returns). A close that
   * does not finish at all (a JACK server that stopped answering) is given
   * up after ten seconds. */
  for (int i = 0; !atomic_load_explicit(&main_done, memory_order_acquire); ++i) {
    e = atomic_load_explicit(&running_engine, memory_order_acquire);
    if (e && i >= 100 && csj_engine_csound_busy_ms(e) >= 1000) {
      break;
    }
    if (i >= 1000) {
      console_term_give_back(atomic_load_explicit(&console_term, memory_order_acquire));
      fprintf(stderr, "csjack: stopped by %s, but closing did not finish within 10 s (is the "
                      "JACK server answering?); exiting; status %d\n",
              signal_name(sig), EXIT_JACK);
      _exit(EXIT_JACK);
    }
    const struct timespec tick = {0, 10 * 1000 * 1000};
    nanosleep(&tick, NULL);
  }
  if (atomic_load_explicit(&main_done, memory_order_acquire)) {
    return NULL;
  }
  e = atomic_load_explicit(&running_engine, memory_order_acquire);
  if (e) {
    csj_engine_abandon_record(e);
  }
  console_term_give_back(atomic_load_explicit(&console_term, memory_order_acquire));
  fprintf(stderr,
          "csjack: stopped by %s, but Csound did not let go within a second (an endless "
          "loop?); exiting without waiting for it; status %d\n",
          signal_name(sig), EXIT_HUNG);
  _exit(EXIT_HUNG);
}

static void
usage(FILE *to)
{
  fputs("Usage: csjack [OPTIONS] FILE.csd|FILE.orc [-- CSOUND-OPTIONS...]\n"
        "Performs a Csound orchestra inside the JACK process callback.\n"
        "\n"
        "  -n, --name NAME          JACK client name (exact; default csjack)\n"
        "  -s, --server NAME        JACK server name (default: the default server)\n"
        "      --connect-out REGEX  connect outputs to ports matching REGEX\n"
        "                           (default: physical playback ports)\n"
        "      --connect-in REGEX   connect inputs from ports matching REGEX\n"
        "                           (default: physical capture ports)\n"
        "      --no-connect         connect nothing (audio or MIDI)\n"
        "      --connect-midi-in REGEX   connect midi_in from every MIDI output\n"
        "                           port matching REGEX (default: none)\n"
        "      --connect-midi-out REGEX  connect midi_out to every MIDI input\n"
        "                           port matching REGEX (default: none)\n"
        "      --no-midi            no MIDI ports; Csound's MIDI stays off\n"
        "      --record FILE        record the outputs to a WAV file (24-bit)\n"
        "      --hang-limit MS      end the performance when one Csound call runs\n"
        "                           longer than MS milliseconds (default 2000; 0: never)\n"
        "  -h, --help               show this help\n"
        "      --version            show the version\n"
        "\n"
        "csjack's options go before FILE; Csound's go after -- (for example\n"
        "-- -m 7 --ksmps=64), as on Csound's own command line. Options csjack does\n"
        "itself (-o, -i, -b, -B, -r, -M, -Q, -+rtaudio, --port) are left out with a\n"
        "notice; one Csound refuses is an error (status 2).\n"
        "Csound's sample rate always follows the JACK server's.\n"
        "MIDI: the ports midi_in and midi_out are Csound's MIDI input and output\n"
        "(massign, midiin, ctrl7, midiout, ... with no -M or -Q), each event in\n"
        "the k-block of its frame. They are connected to nothing by default (a\n"
        "studio patches MIDI by hand): use --connect-midi-in/--connect-midi-out.\n"
        "An .orc file has no score: it plays until stopped (Ctrl-C).\n"
        "While it plays, commands are read from stdin (score lines, :eval CODE,\n"
        ":chn NAME VALUE, :help, ...; see docs/console.md), one reply per line.\n"
        "\n"
        "Stops cleanly (recording closed, summary printed, exit 0) on SIGINT,\n"
        "SIGTERM, SIGHUP and SIGQUIT; ignores SIGPIPE, SIGUSR1, SIGUSR2, SIGXFSZ.\n"
        "\n"
        "Exit status: 0 ended normally or stopped; 1 exitnow with a non-zero code\n"
        "or Csound aborted; 2 usage; 3 file; 4 compile error; 5 no JACK server or\n"
        "JACK error; 6 client name in use; 7 no outputs or more than 64\n"
        "channels; 8 JACK server shut down during the run; 9 Csound hung\n"
        "(an endless loop); 10 Csound failed to start; 11 other start-up failure\n"
        "(out of memory).\n",
        to);
}

static int
exit_code_for(CsjStatus status)
{
  switch (status) {
  case CSJ_ERR_OPTION: return EXIT_USAGE;
  case CSJ_ERR_FILE: return EXIT_FILE;
  case CSJ_ERR_COMPILE: return EXIT_COMPILE;
  case CSJ_ERR_NO_SERVER:
  case CSJ_ERR_JACK: return EXIT_JACK;
  case CSJ_ERR_NAME_TAKEN: return EXIT_NAME_TAKEN;
  case CSJ_ERR_KSMPS:
  case CSJ_ERR_NO_OUTPUTS:
  case CSJ_ERR_CHANNELS: return EXIT_UNUSABLE;
  case CSJ_ERR_CSOUND: return EXIT_CSOUND_START;
  default: return EXIT_INTERNAL;
  }
}

/* Frees the terminal side; the signal thread no longer sees it. */
static void
drop_term(ConsoleTerm *term)
{
  atomic_store_explicit(&console_term, NULL, memory_order_release);
  console_term_free(term);
}

/* Tears down first, so Csound's closing chatter comes before our one line. */
static int
fail(CsjEngine *e, ConsoleTerm *term, CsjStatus status)
{
  char why[512];
  snprintf(why, sizeof(why), "%s", csj_last_error(e));
  csj_engine_destroy(e);
  drop_term(term);
  fprintf(stderr, "csjack: error: %s\n", why);
  return exit_code_for(status);
}

static double
seconds_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The counts of the summary line: the cycles, the callbacks' worst against
 * the period, what was late or silenced, and how long it played. */
static void
print_counts(const CsjStats *stats, double played_s)
{
  const double period_ms =
    stats->sample_rate ? 1000.0 * (double)stats->period / (double)stats->sample_rate : 0.0;
  fprintf(stderr,
          "cycles %llu, ksmps blocks %llu, xruns %llu, late callbacks %llu, dropped cycles "
          "%llu, longest callback %.2f ms of %.2f ms, played %.1f s",
          (unsigned long long)stats->cycles, (unsigned long long)stats->ksmps_blocks,
          (unsigned long long)stats->xruns, (unsigned long long)stats->callbacks_late,
          (unsigned long long)stats->dropped_cycles, (double)stats->callback_ns_max * 1e-6,
          period_ms, played_s);
}

int
main(int argc, char **argv)
{
  enum {
    OPT_CONNECT_OUT = 256,
    OPT_CONNECT_IN,
    OPT_NO_CONNECT,
    OPT_VERSION,
    OPT_RECORD,
    OPT_HANG_LIMIT,
    OPT_NO_MIDI,
    OPT_CONNECT_MIDI_IN,
    OPT_CONNECT_MIDI_OUT,
  };
  static const struct option long_options[] = {
    {"name", required_argument, NULL, 'n'},
    {"server", required_argument, NULL, 's'},
    {"connect-out", required_argument, NULL, OPT_CONNECT_OUT},
    {"connect-in", required_argument, NULL, OPT_CONNECT_IN},
    {"no-connect", no_argument, NULL, OPT_NO_CONNECT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"record", required_argument, NULL, OPT_RECORD},
    {"hang-limit", required_argument, NULL, OPT_HANG_LIMIT},
    {"no-midi", no_argument, NULL, OPT_NO_MIDI},
    {"connect-midi-in", required_argument, NULL, OPT_CONNECT_MIDI_IN},
    {"connect-midi-out", required_argument, NULL, OPT_CONNECT_MIDI_OUT},
    {NULL, 0, NULL, 0},
  };
  CsjOptions opts;
  csj_options_init(&opts);
  const char *record_path = NULL;
  opterr = 0;
  int c;
  /* '+' stops at the first non-option, so Csound's options after the file
   * (and after --) are not ours to parse. */
  while ((c = getopt_long(argc, argv, "+n:s:h", long_options, NULL)) != -1) {
    switch (c) {
    case 'n': opts.client_name = optarg; break;
    case 's': opts.server_name = optarg; break;
    case OPT_CONNECT_OUT: opts.connect_out = optarg; break;
    case OPT_CONNECT_IN: opts.connect_in = optarg; break;
    case OPT_NO_CONNECT: opts.no_connect = true; break;
    case OPT_NO_MIDI: opts.no_midi = true; break;
    case OPT_CONNECT_MIDI_IN: opts.connect_midi_in = optarg; break;
    case OPT_CONNECT_MIDI_OUT: opts.connect_midi_out = optarg; break;
    case 'h': usage(stdout); return EXIT_OK;
    case OPT_VERSION: printf("csjack %s\n", CSJ_VERSION_STRING); return EXIT_OK;
    case OPT_RECORD: record_path = optarg; break;
    case OPT_HANG_LIMIT: {
      char *end = NULL;
      const long ms = strtol(optarg, &end, 10);
      if (!end || *end || ms < 0 || ms > 3600 * 1000) {
        fprintf(stderr, "csjack: error: --hang-limit takes milliseconds, 0 for never (see "
                        "csjack --help)\n");
        return EXIT_USAGE;
      }
      opts.hang_limit_ms = ms == 0 ? -1 : (int)ms;
      break;
    }
    default:
      if (optopt && optopt < 256) {
        fprintf(stderr, "csjack: error: unknown or incomplete option '-%c' (see csjack --help)\n", optopt);
      } else {
        fprintf(stderr, "csjack: error: unknown or incomplete option '%s' (see csjack --help)\n",
                argv[optind - 1]);
      }
      return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fputs("csjack: error: no orchestra given (csjack FILE.csd|FILE.orc; see csjack --help)\n", stderr);
    return EXIT_USAGE;
  }
  const char *path = argv[optind++];
  if (optind < argc && strcmp(argv[optind], "--") != 0) {
    fprintf(stderr,
            "csjack: error: '%s' after the file: csjack's options go before FILE, and "
            "Csound's after -- (csjack [OPTIONS] FILE [-- CSOUND-OPTIONS]; see csjack --help)\n",
            argv[optind]);
    return EXIT_USAGE;
  }
  if (optind < argc) {
    ++optind; /* the -- */
  }
  opts.csound_argc = argc - optind;
  opts.csound_argv = (const char *const *)(argv + optind);

  /* Check the file before reaching for JACK, so the error names the file. */
  if (access(path, R_OK) != 0) {
    fprintf(stderr, "csjack: error: cannot read '%s': %s\n", path, strerror(errno));
    return EXIT_FILE;
  }

  /* stdout carries the console's replies and nothing else: csjack keeps a
   * copy of it for them and points fd 1 at stderr, because Csound prints
   * some errors straight to stdout (its lexer's "Error: character ..."),
   * which would otherwise land between two replies. */
  FILE *replies = stdout;
  fflush(stdout);
  const int reply_fd = dup(STDOUT_FILENO);
  if (reply_fd >= 0 && (replies = fdopen(reply_fd, "w")) != NULL) {
    dup2(STDERR_FILENO, STDOUT_FILENO);
  } else {
    if (reply_fd >= 0) {
      close(reply_fd);
    }
    replies = stdout;
  }

  /* The stop signals are blocked before any thread exists, so JACK's and
   * Csound's threads inherit the mask and no signal interrupts a JACK
   * request halfway (that leaves libjack's request channel out of step).
   * One thread takes them synchronously (signal_main): no handler runs at
   * all. SIGHUP (terminal closed) and SIGQUIT stop csjack like SIGINT, so a
   * recording is always closed properly. SIGPIPE is ignored: a closed
   * reply pipe is the console's business, not a reason to die. SIGXFSZ is
   * ignored too: a recording past the file-size limit fails and says so
   * (the recorder's writer blocks it as well), Csound's own file output
   * likewise. */
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  sigaddset(&stop_signals, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGUSR1, SIG_IGN);
  signal(SIGUSR2, SIG_IGN);
  pthread_t signal_thread;
  if (pthread_create(&signal_thread, NULL, signal_main, NULL) != 0) {
    fputs("csjack: error: cannot start the signal thread\n", stderr);
    return EXIT_PERFORMANCE;
  }
  pthread_detach(signal_thread);

  /* On a terminal (stdin and stdout both), the console edits lines with
   * libedit, and the messages go through it so they never cut into the
   * line being typed (console_tty.c). Pipes keep the plain protocol. */
  ConsoleTerm *term = console_term_new(STDIN_FILENO, replies, stderr);
  if (term) {
    opts.message_fn = console_term_message;
    opts.message_data = term;
    atomic_store_explicit(&console_term, term, memory_order_release);
  }

  CsjEngine *e = NULL;
  CsjStatus status = csj_engine_create(&opts, &e);
  if (status != CSJ_SUCCESS) {
    fprintf(stderr, "csjack: error: %s\n", csj_last_error(NULL));
    drop_term(term);
    return exit_code_for(status);
  }
  atomic_store_explicit(&running_engine, e, memory_order_release);
  if ((status = csj_engine_compile_file(e, path)) != CSJ_SUCCESS ||
      (status = csj_engine_start(e)) != CSJ_SUCCESS) {
    atomic_store_explicit(&running_engine, NULL, memory_order_release);
    return fail(e, term, status);
  }
  const double started_s = seconds_now();
  if (record_path && (status = csj_engine_record(e, record_path, 24)) != CSJ_SUCCESS) {
    fprintf(stderr, "csjack: error: cannot record to '%s': %s\n", record_path,
            csj_last_error(e));
    atomic_store_explicit(&running_engine, NULL, memory_order_release);
    csj_engine_destroy(e);
    drop_term(term);
    return EXIT_FILE;
  }
  CsjStats stats;
  csj_engine_stats(e, &stats);
  fprintf(stderr,
          "csjack: '%s' playing as JACK client '%s': %u Hz, period %u, ksmps %u, "
          "%u in, %u out, added latency %u frames\n",
          path, csj_engine_client_name(e), stats.sample_rate, stats.period, stats.ksmps,
          stats.inputs, stats.outputs, stats.latency);

  /* The live console reads commands from stdin on its own thread (none if
   * stdin is closed). It inherits the blocked SIGINT/SIGTERM. */
  Console *console =
    term ? console_start_terminal(e, term) : console_start(e, STDIN_FILENO, replies);

  const struct timespec poll_interval = {0, 50 * 1000 * 1000};
  while (csj_engine_wait(e, 0) == CSJ_ERR_TIMEOUT && !atomic_load_explicit(&stop_signal, memory_order_acquire)) {
    nanosleep(&poll_interval, NULL);
  }
  if (atomic_load_explicit(&stop_signal, memory_order_acquire) && !csj_engine_finished(e)) {
    csj_engine_stop(e);
    csj_engine_wait(e, 1000);
  }
  int code = 0;
  CsjEndReason reason = csj_engine_end_reason(e, &code);
  const int sig = atomic_load_explicit(&stop_signal, memory_order_acquire);
  if (sig && reason == CSJ_END_NONE) {
    reason = CSJ_END_STOPPED;
  }
  csj_engine_stats(e, &stats);
  const double played_s = seconds_now() - started_s;
  if (reason == CSJ_END_CSOUND_HUNG) {
    /* A thread is inside Csound for good (perhaps the console's, in a
     * direct call): neither the console nor the engine can be closed. The
     * recording can. */
    csj_engine_abandon_record(e);
    console_term_give_back(term);
    fprintf(stderr, "csjack: %s; ", csj_end_reason_name(reason));
    print_counts(&stats, played_s);
    fprintf(stderr, ", status %d\n", EXIT_HUNG);
    fflush(stderr);
    _exit(EXIT_HUNG);
  }
  console_stop(console);
  atomic_store_explicit(&running_engine, NULL, memory_order_release);
  csj_engine_destroy(e);
  drop_term(term);
  atomic_store_explicit(&main_done, true, memory_order_release);

  int exit_status = EXIT_OK;
  switch (reason) {
  case CSJ_END_EXITNOW: exit_status = code == 0 ? EXIT_OK : EXIT_PERFORMANCE; break;
  case CSJ_END_CSOUND_ERROR: exit_status = EXIT_PERFORMANCE; break;
  case CSJ_END_SERVER_GONE:
    fputs("csjack: error: the JACK server shut down during the performance\n", stderr);
    exit_status = EXIT_SERVER_GONE;
    break;
  default: break;
  }
  fprintf(stderr, "csjack: %s%s%s%s; ", csj_end_reason_name(reason), sig ? " (" : "",
          sig ? signal_name(sig) : "", sig ? ")" : "");
  print_counts(&stats, played_s);
  fprintf(stderr, ", status %d", exit_status);
  if (stats.record_errors) {
    fprintf(stderr, ", recordings failed %llu", (unsigned long long)stats.record_errors);
  }
  if (stats.midi_in_events || stats.midi_in_dropped || stats.midi_out_events ||
      stats.midi_out_dropped) {
    fprintf(stderr, ", MIDI in %llu (dropped %llu), out %llu (dropped %llu)",
            (unsigned long long)stats.midi_in_events, (unsigned long long)stats.midi_in_dropped,
            (unsigned long long)stats.midi_out_events,
            (unsigned long long)stats.midi_out_dropped);
  }
  if (reason == CSJ_END_EXITNOW) {
    fprintf(stderr, ", exitnow code %d", code);
  }
  fputc('\n', stderr);
  return exit_status;
}
