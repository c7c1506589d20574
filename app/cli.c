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
 *  12  a network port (--port, --osc-port) cannot be listened on: in use,
 *      or not allowed
 */

#include "console.h"
#include "csjack.h"
#include "csound_options.h"
#include "udp_console.h"
#include "udp_server.h"
#include "text_file.h"
#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>
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
  EXIT_NETWORK = 12,
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

static void cli_report(void *data, const char *line);

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
  for (;;) {
    if (sigwait(&stop_signals, &sig) != 0) {
      return NULL;
    }
    if (sig != SIGTSTP) {
      break;
    }
    /* Ctrl-Z: a stopped client holds up the server's requests (every other
     * client's jack_client_open waits for it) and leaves the graph late
     * for seconds after it resumes. */
    cli_report(NULL, "csjack: Ctrl-Z ignored: a stopped JACK client stalls the JACK server "
                     "for every client (:pause silences csjack, Ctrl-C stops it)");
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
        "      --event-delay FRAMES constant latency: each event (midi_in, a plain\n"
        "                           numeric i line) sounds exactly FRAMES frames after\n"
        "                           it came in (default 0: at the next k-block)\n"
        "      --port N             serve Csound's UDP live-coding protocol on port N\n"
        "                           (what the VS Code, vim and emacs plugins send)\n"
        "      --udp-console HOST:PORT  mirror Csound's and csjack's messages to\n"
        "                           HOST:PORT, one datagram each (emacs' csound-mode)\n"
        "      --udp-echo           print every datagram --port receives\n"
        "      --osc-port N         serve OSC on port N (/csound/compile, /csound/event,\n"
        "                           /csound/event/instr, /csound/channel/NAME; bundles\n"
        "                           with timetags play at their JACK frame)\n"
        "      --listen ADDR        listen on the IPv4 address ADDR (default 127.0.0.1;\n"
        "                           another address lets anyone who reaches it run code)\n"
        "  -h, --help               show this help\n"
        "      --version            show the version\n"
        "\n"
        "csjack's options go before FILE; Csound's go after -- (for example\n"
        "-- -m 7 --ksmps=64), as on Csound's own command line. Options csjack does\n"
        "itself (-o, -i, -b, -B, -r, -M, -Q, -+rtaudio) are left out with a\n"
        "notice; one Csound refuses is an error (status 2). Csound's --port=N,\n"
        "--udp-console=HOST:PORT and --udp-echo, there or in <CsOptions>, start\n"
        "csjack's own UDP server (see docs/live-coding.md).\n"
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
        "SIGTERM, SIGHUP and SIGQUIT; ignores SIGPIPE, SIGUSR1, SIGUSR2, SIGXFSZ,\n"
        "SIGTTIN, SIGTTOU, and SIGTSTP (Ctrl-Z: a stopped JACK client stalls the\n"
        "JACK server; csjack says so and plays on).\n"
        "\n"
        "Exit status: 0 ended normally or stopped; 1 exitnow with a non-zero code\n"
        "or Csound aborted; 2 usage; 3 file; 4 compile error; 5 no JACK server or\n"
        "JACK error; 6 client name in use; 7 no outputs or more than 64\n"
        "channels; 8 JACK server shut down during the run; 9 Csound hung\n"
        "(an endless loop); 10 Csound failed to start; 11 other start-up failure\n"
        "(out of memory); 12 a network port (--port, --osc-port) cannot be\n"
        "listened on (in use, or not allowed).\n",
        to);
}

/* ---- the UDP and OSC servers' options ------------------------------------ */

/* Where the UDP console mirror sends (NULL: nowhere). Set before the
 * engine exists, read by the message sink on any thread but JACK's. */
static UdpConsole *console_mirror;

/* csjack's message sink: stderr (through the terminal console when there
 * is one, so a message never cuts into the line being typed), and the
 * --udp-console mirror. csjack never calls it on the JACK thread
 * (message_log.c). */
static void
cli_message_sink(void *data, int attr, const char *text)
{
  (void)data;
  ConsoleTerm *term = atomic_load_explicit(&console_term, memory_order_acquire);
  if (term) {
    console_term_message(term, attr, text);
  } else {
    fputs(text, stderr);
  }
  if (console_mirror) {
    udp_console_send(console_mirror, text);
  }
}

/* The UDP server's one-line reports, through the same sink. */
static void
cli_report(void *data, const char *line)
{
  char text[1100];
  snprintf(text, sizeof(text), "%s\n", line);
  cli_message_sink(data, 0, text);
}

static void
print_server_stats(FILE *out, void *data)
{
  udp_server_print_stats(data, out);
}

/* The network options, from <CsOptions>, Csound's options after --, and
 * csjack's own, each overriding the one before. */
typedef struct {
  int port;
  char port_from[160];
  char console[96];
  bool echo;
  int osc_port;
  const char *listen;
} NetOptions;

static bool
parse_port(const char *text, int *port)
{
  char *end = NULL;
  const long p = strtol(text, &end, 10);
  if (!end || *end || end == text || p < 1 || p > 65535) {
    return false;
  }
  *port = (int)p;
  return true;
}

/*
 * Takes the options csound_options.c's table gives the host (OPTION_HOST:
 * --port, --udp-console, --udp-mirror-console, --udp-echo) from @p count
 * Csound words; @p from says where they were (for messages). Returns 0, or
 * EXIT_USAGE after printing why.
 */
static int
take_net_options(int count, const char *const *words, const char *from, NetOptions *net)
{
  int n = 0;
  char **options = csound_options_normalize(count, words, &n);
  if (!options) {
    fputs("csjack: error: out of memory\n", stderr);
    return EXIT_INTERNAL;
  }
  int status = 0;
  for (int i = 0; i < n && status == 0; ++i) {
    char replacement[128];
    char notice[512];
    const char *o = options[i];
    if (csound_options_classify(o, 48000, true, replacement, sizeof(replacement), notice,
                                sizeof(notice)) != OPTION_HOST) {
      continue;
    }
    const char *eq = strchr(o, '=');
    if (strcmp(o, "--udp-echo") == 0) {
      net->echo = true;
    } else if (strncmp(o, "--port", 6) == 0) {
      if (!eq || !parse_port(eq + 1, &net->port)) {
        fprintf(stderr, "csjack: error: '%s'%s: --port takes a port number, 1-65535\n", o,
                from);
        status = EXIT_USAGE;
      } else {
        snprintf(net->port_from, sizeof(net->port_from), "'%s'%s", o, from);
      }
    } else if (eq) { /* --udp-console=, --udp-mirror-console= */
      snprintf(net->console, sizeof(net->console), "%s", eq + 1);
    } else {
      fprintf(stderr, "csjack: error: '%s'%s takes HOST:PORT\n", o, from);
      status = EXIT_USAGE;
    }
  }
  csound_options_free(options, n);
  return status;
}

static bool
is_orc(const char *path)
{
  const size_t n = strlen(path);
  return n >= 4 && strcasecmp(path + n - 4, ".orc") == 0;
}

/* The file played: read once, here, before JACK is reached, and given to
 * Csound as text (text_file.h: a pipe works too). */
static char *input_text;

static bool
read_input(const char *path, char *why, size_t why_size)
{
  return text_file_read(path, false, &input_text, why, why_size) == CSJ_SUCCESS;
}

/* The network options in a CSD's <CsOptions> (the engine reads the rest). */
static int
take_csd_net_options(const char *path, NetOptions *net)
{
  if (is_orc(path)) {
    return 0;
  }
  char **words = NULL;
  int count = 0;
  char *rest = csound_options_take_from_csd(input_text, &words, &count);
  int status = 0;
  if (rest) {
    status = take_net_options(count, (const char *const *)words, " in <CsOptions>", net);
  }
  csound_options_free(words, count);
  free(rest);
  return status;
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
fail(CsjEngine *e, ConsoleTerm *term, CsjStatus status, const char *why)
{
  csj_engine_destroy(e);
  drop_term(term);
  fprintf(stderr, "csjack: error: %s\n", why);
  return exit_code_for(status);
}

/* Started with stdin, stdout or stderr closed (a service manager, `>&-`),
 * the next files opened would take their numbers: libjack's metadata
 * database among them, which Csound's and csjack's messages to "stdout"
 * and "stderr" then overwrote (a crash, and a database that wedged every
 * JACK client of the machine). /dev/null takes each closed one first. */
static void
keep_standard_fds_open(void)
{
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      const int null_fd = open("/dev/null", O_RDWR);
      if (null_fd >= 0 && null_fd != fd) {
        dup2(null_fd, fd);
        close(null_fd);
      }
    }
  }
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
  keep_standard_fds_open();
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
    OPT_EVENT_DELAY,
    OPT_PORT,
    OPT_UDP_CONSOLE,
    OPT_UDP_ECHO,
    OPT_OSC_PORT,
    OPT_LISTEN,
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
    {"event-delay", required_argument, NULL, OPT_EVENT_DELAY},
    {"port", required_argument, NULL, OPT_PORT},
    {"udp-console", required_argument, NULL, OPT_UDP_CONSOLE},
    {"udp-mirror-console", required_argument, NULL, OPT_UDP_CONSOLE},
    {"udp-echo", no_argument, NULL, OPT_UDP_ECHO},
    {"osc-port", required_argument, NULL, OPT_OSC_PORT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {NULL, 0, NULL, 0},
  };
  CsjOptions opts;
  csj_options_init(&opts);
  const char *record_path = NULL;
  unsigned long event_delay = 0;
  NetOptions own = {0};     /* csjack's own network options */
  bool own_echo = false;
  const char *own_console = NULL;
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
    case OPT_PORT:
    case OPT_OSC_PORT:
      if (!parse_port(optarg, c == OPT_PORT ? &own.port : &own.osc_port)) {
        fprintf(stderr, "csjack: error: --%s takes a port number, 1-65535, not '%s' (see "
                        "csjack --help)\n", c == OPT_PORT ? "port" : "osc-port", optarg);
        return EXIT_USAGE;
      }
      if (c == OPT_PORT) {
        snprintf(own.port_from, sizeof(own.port_from), "'--port %s'", optarg);
      }
      break;
    case OPT_UDP_CONSOLE: own_console = optarg; break;
    case OPT_UDP_ECHO: own_echo = true; break;
    case OPT_LISTEN: own.listen = optarg; break;
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
    case OPT_EVENT_DELAY: {
      char *end = NULL;
      errno = 0;
      event_delay = strtoul(optarg, &end, 10);
      /* At most ten minutes at 192 kHz: far below the frame clock's
       * 2^31-frame horizon. */
      if (!end || end == optarg || *end || errno || optarg[0] == '-' ||
          event_delay > 192000ul * 600) {
        fprintf(stderr, "csjack: error: --event-delay takes frames, 0 to %lu (see csjack "
                        "--help)\n", 192000ul * 600);
        return EXIT_USAGE;
      }
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
  /* Refused here, before anything is opened, as the usage error it is
   * (the library refuses them too). */
  const char *const names[][2] = {{"--name", opts.client_name}, {"--server", opts.server_name}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    const char *bad = names[i][1] ? utf8_name_problem(names[i][1]) : NULL;
    if (bad) {
      fprintf(stderr, "csjack: error: the JACK %s name given with %s %s: a JACK name is one "
                      "line of UTF-8 text\n", i == 0 ? "client" : "server", names[i][0], bad);
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

  /* Read the file before reaching for JACK, so the error names the file. */
  char file_why[600];
  if (!read_input(path, file_why, sizeof file_why)) {
    fprintf(stderr, "csjack: error: %s\n", file_why);
    return EXIT_FILE;
  }

  /* The UDP server and console: Csound's own options for them (in
   * <CsOptions>, then after --), then csjack's, which win. Bound now, so a
   * port in use is one line and status 12 before JACK is touched. */
  NetOptions net = {0};
  int net_status = take_csd_net_options(path, &net);
  if (net_status == 0) {
    net_status = take_net_options(opts.csound_argc, opts.csound_argv, " (after --)", &net);
  }
  if (net_status != 0) {
    return net_status;
  }
  if (own.port) {
    net.port = own.port;
    snprintf(net.port_from, sizeof(net.port_from), "%s", own.port_from);
  }
  if (own_console) {
    snprintf(net.console, sizeof(net.console), "%s", own_console);
  }
  net.echo = net.echo || own_echo;
  net.osc_port = own.osc_port;
  net.listen = own.listen;
  if (net.console[0]) {
    char why[256];
    console_mirror = udp_console_open(net.console, why, sizeof(why));
    if (!console_mirror) {
      fprintf(stderr, "csjack: error: %s\n", why);
      return EXIT_USAGE;
    }
  }
  opts.message_fn = cli_message_sink;
  UdpServer *server = NULL;
  if (net.port || net.osc_port) {
    const UdpServerOptions server_opts = {
      .listen = net.listen, .udp_port = net.port, .osc_port = net.osc_port,
      .echo = net.echo, .report = cli_report, .report_data = NULL,
    };
    char why[320];
    server = udp_server_open(&server_opts, why, sizeof(why));
    if (!server) {
      fprintf(stderr, "csjack: error: %s\n", why);
      udp_console_close(console_mirror);
      console_mirror = NULL;
      return strncmp(why, "cannot listen", 13) == 0 ? EXIT_NETWORK : EXIT_USAGE;
    }
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
  sigaddset(&stop_signals, SIGTSTP); /* said and ignored by signal_main */
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  /* A background job is never stopped by its terminal either: reading it
   * fails with EIO (the console waits for the foreground), writing it
   * goes through even under `stty tostop`. */
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
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
    atomic_store_explicit(&console_term, term, memory_order_release);
  }

  CsjEngine *e = NULL;
  CsjStatus status = csj_engine_create(&opts, &e);
  if (status != CSJ_SUCCESS) {
    fprintf(stderr, "csjack: error: %s\n", csj_last_error(NULL));
    udp_server_free(server);
    drop_term(term);
    return exit_code_for(status);
  }
  atomic_store_explicit(&running_engine, e, memory_order_release);
  /* Before the first cycle, so that every MIDI event is delayed alike. */
  csj_engine_set_event_delay(e, (uint32_t)event_delay);
  /* The console and the network servers are not real-time threads: they
   * wait for room in a full ring rather than lose what they were sent. */
  csj_engine_set_submit_timeout(e, -1);
  /* What lies beside the file is found from any folder, as with
   * `csound FILE` (a folder that cannot be added was warned about). */
  (void)csj_engine_add_file_folder(e, path);
  status = is_orc(path) ? csj_engine_compile_orc_text(e, input_text)
                         : csj_engine_compile_csd_text(e, input_text);
  free(input_text);
  input_text = NULL;
  const bool compiled = status == CSJ_SUCCESS;
  if (!compiled || (status = csj_engine_start(e)) != CSJ_SUCCESS) {
    atomic_store_explicit(&running_engine, NULL, memory_order_release);
    char why[600];
    if (status == CSJ_ERR_COMPILE) {
      snprintf(why, sizeof why, "Csound could not compile '%s' (see Csound's messages above)",
               path);
    } else {
      snprintf(why, sizeof why, "%s", csj_last_error(e));
    }
    const int rc = fail(e, term, status, why);
    udp_server_free(server);
    return rc;
  }
  const double started_s = seconds_now();
  if (record_path && (status = csj_engine_record(e, record_path, 24)) != CSJ_SUCCESS) {
    fprintf(stderr, "csjack: error: cannot record to '%s': %s\n", record_path,
            csj_last_error(e));
    atomic_store_explicit(&running_engine, NULL, memory_order_release);
    csj_engine_destroy(e);
    udp_server_free(server);
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
  if (event_delay) {
    const uint32_t reach = stats.period + stats.latency;
    fprintf(stderr,
            "csjack: constant latency: MIDI and plain score lines sound %lu frames (%.1f ms) "
            "after they come in%s\n",
            event_delay, 1000.0 * (double)event_delay / stats.sample_rate,
            event_delay < 2 * reach ? "; under two periods plus the added latency, some "
                                      "score lines may be late (see :stats events_late)"
                                    : "");
  }

  if (server) {
    if (!udp_server_start(server, e)) {
      fputs("csjack: error: cannot start the UDP server's thread\n", stderr);
      atomic_store_explicit(&running_engine, NULL, memory_order_release);
      csj_engine_destroy(e);
      udp_server_free(server);
      return EXIT_INTERNAL;
    }
    char line[400];
    const char *where = net.listen ? net.listen : "127.0.0.1";
    if (net.port) {
      snprintf(line, sizeof(line),
               "csjack: UDP server (Csound's --port protocol) on %s:%d, from %s", where,
               net.port, net.port_from);
      cli_report(NULL, line);
    }
    if (net.osc_port) {
      snprintf(line, sizeof(line), "csjack: OSC server on %s:%d", where, net.osc_port);
      cli_report(NULL, line);
    }
    console_set_stats_extra(print_server_stats, server);
  }

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
  /* Closing waits for every thread to leave Csound. One that is still
   * inside (a parse reading an #include that does not end) is given the
   * hang limit, so that the watchdog says so, rather than a close that
   * waits for ever in silence. */
  const int hang_limit_ms =
    opts.hang_limit_ms == 0 ? CSJ_DEFAULT_HANG_LIMIT_MS : opts.hang_limit_ms;
  const int settle_ms = hang_limit_ms > 0 ? hang_limit_ms + 500 : 0;
  for (int waited = 0; waited < settle_ms && csj_engine_csound_busy_ms(e) > 0 &&
                       !csj_engine_is_hung(e);
       waited += 50) {
    nanosleep(&poll_interval, NULL);
  }
  int code = 0;
  CsjEndReason reason = csj_engine_end_reason(e, &code);
  const int sig = atomic_load_explicit(&stop_signal, memory_order_acquire);
  if (sig && reason == CSJ_END_NONE) {
    reason = CSJ_END_STOPPED;
  }
  if (csj_engine_is_hung(e)) {
    reason = CSJ_END_CSOUND_HUNG;
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
  /* The servers stop first (nothing new comes in), the engine goes (the
   * last compile results reach the server's callback), then the server. */
  udp_server_stop(server);
  console_stop(console);
  atomic_store_explicit(&running_engine, NULL, memory_order_release);
  csj_engine_destroy(e);
  UdpServerStats net_stats;
  udp_server_stats(server, &net_stats);
  udp_server_free(server);
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
  if (stats.output_nonfinite) {
    fprintf(stderr, ", NaN or infinite samples played as silence %llu",
            (unsigned long long)stats.output_nonfinite);
  }
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
  if (net.port) {
    fprintf(stderr, ", UDP datagrams %llu (malformed %llu, dropped %llu)",
            (unsigned long long)net_stats.datagrams, (unsigned long long)net_stats.malformed,
            (unsigned long long)(net_stats.dropped + net_stats.kernel_dropped));
  }
  if (net.osc_port) {
    fprintf(stderr, ", OSC messages %llu (malformed %llu, dropped %llu)",
            (unsigned long long)net_stats.osc_messages,
            (unsigned long long)net_stats.osc_malformed,
            (unsigned long long)net_stats.osc_dropped);
  }
  if (reason == CSJ_END_EXITNOW) {
    fprintf(stderr, ", exitnow code %d", code);
  }
  fputc('\n', stderr);
  udp_console_close(console_mirror);
  console_mirror = NULL;
  return exit_status;
}
