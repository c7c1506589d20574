/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack: play a Csound orchestra as a JACK client.
 *
 *   csjack [OPTIONS] FILE.csd|FILE.orc [-- CSOUND-OPTIONS...]
 *
 * Exit codes (also in --help and the README):
 *   0  the score ended, exitnow 0, or stopped by SIGINT/SIGTERM
 *   1  exitnow with a non-zero code, or Csound aborted the performance
 *   2  usage error
 *   3  file missing or unreadable
 *   4  orchestra compile error
 *   5  no JACK server, or another JACK failure
 *   6  JACK client name already in use
 *   7  unusable orchestra (ksmps larger than the period, no outputs)
 *   8  the JACK server shut down during the run
 */

#include "console.h"
#include "csjack.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
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
};

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
        "      --no-connect         connect nothing\n"
        "  -h, --help               show this help\n"
        "      --version            show the version\n"
        "\n"
        "Options after -- go to Csound (for example -- -m7 --ksmps=64).\n"
        "Csound's sample rate always follows the JACK server's.\n"
        "An .orc file has no score: it plays until stopped (Ctrl-C).\n"
        "While it plays, commands are read from stdin (score lines, :eval CODE,\n"
        ":chn NAME VALUE, :help, ...; see docs/console.md), one reply per line.\n"
        "\n"
        "Exit status: 0 ended normally or stopped; 1 exitnow with a non-zero code\n"
        "or Csound aborted; 2 usage; 3 file; 4 compile error; 5 no JACK server or\n"
        "JACK error; 6 client name in use; 7 ksmps > period or no outputs;\n"
        "8 JACK server shut down during the run.\n",
        to);
}

static int
exit_code_for(CsjStatus status)
{
  switch (status) {
  case CSJ_ERR_FILE: return EXIT_FILE;
  case CSJ_ERR_COMPILE: return EXIT_COMPILE;
  case CSJ_ERR_NO_SERVER:
  case CSJ_ERR_JACK: return EXIT_JACK;
  case CSJ_ERR_NAME_TAKEN: return EXIT_NAME_TAKEN;
  case CSJ_ERR_KSMPS:
  case CSJ_ERR_NO_OUTPUTS: return EXIT_UNUSABLE;
  default: return EXIT_PERFORMANCE;
  }
}

/* Tears down first, so Csound's closing chatter comes before our one line. */
static int
fail(CsjEngine *e, CsjStatus status)
{
  char why[512];
  snprintf(why, sizeof(why), "%s", csj_last_error(e));
  csj_engine_destroy(e);
  fprintf(stderr, "csjack: error: %s\n", why);
  return exit_code_for(status);
}

int
main(int argc, char **argv)
{
  enum { OPT_CONNECT_OUT = 256, OPT_CONNECT_IN, OPT_NO_CONNECT, OPT_VERSION };
  static const struct option long_options[] = {
    {"name", required_argument, NULL, 'n'},
    {"server", required_argument, NULL, 's'},
    {"connect-out", required_argument, NULL, OPT_CONNECT_OUT},
    {"connect-in", required_argument, NULL, OPT_CONNECT_IN},
    {"no-connect", no_argument, NULL, OPT_NO_CONNECT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
  };
  CsjOptions opts;
  csj_options_init(&opts);
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
    case 'h': usage(stdout); return EXIT_OK;
    case OPT_VERSION: printf("csjack %s\n", CSJ_VERSION_STRING); return EXIT_OK;
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
  if (optind < argc && strcmp(argv[optind], "--") == 0) {
    ++optind;
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

  /* SIGINT and SIGTERM are blocked before any thread exists, so JACK's and
   * Csound's threads inherit the mask and no signal interrupts a JACK
   * request halfway (that leaves libjack's request channel out of step).
   * The main thread takes them synchronously with sigtimedwait: no handler
   * runs at all. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  int stop_signal = 0;

  CsjEngine *e = NULL;
  CsjStatus status = csj_engine_create(&opts, &e);
  if (status != CSJ_SUCCESS) {
    fprintf(stderr, "csjack: error: %s\n", csj_last_error(NULL));
    return exit_code_for(status);
  }
  if ((status = csj_engine_compile_file(e, path)) != CSJ_SUCCESS ||
      (status = csj_engine_start(e)) != CSJ_SUCCESS) {
    return fail(e, status);
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
  Console *console = console_start(e, STDIN_FILENO, replies);

  const struct timespec poll_interval = {0, 50 * 1000 * 1000};
  while (csj_engine_wait(e, 0) == CSJ_ERR_TIMEOUT) {
    const int sig = sigtimedwait(&stop_signals, NULL, &poll_interval);
    if (sig > 0) {
      stop_signal = sig;
      break;
    }
  }
  if (stop_signal && !csj_engine_finished(e)) {
    csj_engine_stop(e);
    csj_engine_wait(e, 1000);
  }
  int code = 0;
  CsjEndReason reason = csj_engine_end_reason(e, &code);
  if (stop_signal && reason == CSJ_END_NONE) {
    reason = CSJ_END_STOPPED;
  }
  csj_engine_stats(e, &stats);
  console_stop(console);
  csj_engine_destroy(e);

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
  fprintf(stderr, "csjack: %s%s; cycles %llu, ksmps blocks %llu, xruns %llu, status %d",
          csj_end_reason_name(reason),
          stop_signal ? (stop_signal == SIGINT ? " (SIGINT)" : " (SIGTERM)") : "",
          (unsigned long long)stats.cycles, (unsigned long long)stats.ksmps_blocks,
          (unsigned long long)stats.xruns, exit_status);
  if (reason == CSJ_END_EXITNOW) {
    fprintf(stderr, ", exitnow code %d", code);
  }
  fputc('\n', stderr);
  return exit_status;
}
