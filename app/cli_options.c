/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack command's options: its own command line, the file it plays
 * (read here, before JACK is touched), and the network options Csound's
 * words carry (in <CsOptions>, then after --), which csjack's own
 * override. The result is the run's settings (CliSettings, cli_settings.h).
 */

#include "cli_options.h"
#include "text_file.h"
#include "utf8.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
usage(FILE *to)
{
  fputs("Usage: csjack [OPTIONS] FILE.csd|FILE.orc [-- CSOUND-OPTIONS...]\n"
        "       csjack [OPTIONS] --restore DIR [FILE] [-- CSOUND-OPTIONS...]\n"
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
        "      --record FILE        record the outputs to a WAV file (24-bit; RF64\n"
        "                           past 4 GiB, Wave64 if FILE ends in .w64)\n"
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
        "      --transport MODE     ignore (default): the score runs from the start;\n"
        "                           follow: the score runs while the JACK transport\n"
        "                           rolls, from its position (qjackctl, a DAW, a locate)\n"
        "      --timebase-master    be the JACK timebase master if none is: bars and\n"
        "                           beats at the tempo of the channel transport_bpm\n"
        "      --freewheel          render: freewheel the JACK server (the whole graph,\n"
        "                           as fast as it goes) from start to end, then back to\n"
        "                           real time; with --record, a faster-than-real-time\n"
        "                           render of every frame\n"
        "      --reconnect[=SECONDS]  when the JACK server goes away, keep Csound and\n"
        "                           its state and reconnect when a server is back (for\n"
        "                           ever, or SECONDS): same ports, connections restored\n"
        "      --restore DIR        play the file DIR/csjack.session names (or FILE,\n"
        "                           or an empty orchestra), then replay the live code\n"
        "                           and channels the console's :save DIR saved\n",
        to);
  fputs("  -h, --help               show this help\n"
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
        ":chn NAME VALUE, :save DIR, :help, ...; see docs/console.md), one reply\n"
        "per line.\n"
        "With NSM_URL set, csjack is a client of that session manager (NSM API\n"
        "1.1): it opens no JACK client before the session manager names it, and\n"
        "saves into the folder it is given (see docs/sessions.md).\n"
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
        "listened on (in use, or not allowed); 13 the session manager (NSM_URL)\n"
        "refused csjack.\n",
        to);
}

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

/* ---- the network options in Csound's words ------------------------------ */

/* Where the network options found in Csound's words go, and the first
 * error among them. */
typedef struct {
  CliNetSettings *net;
  const char *from; /* where they were, for messages: " in <CsOptions>" */
  int status;
} HostOptionsTaken;

static void
take_host_option(void *data, const char *o)
{
  HostOptionsTaken *taken = data;
  if (taken->status != 0) {
    return;
  }
  CliNetSettings *net = taken->net;
  const char *eq = strchr(o, '=');
  if (strcmp(o, "--udp-echo") == 0) {
    net->echo = true;
  } else if (strncmp(o, "--port", 6) == 0) {
    if (!eq || !parse_port(eq + 1, &net->port)) {
      fprintf(stderr, "csjack: error: '%s'%s: --port takes a port number, 1-65535\n", o,
              taken->from);
      taken->status = EXIT_USAGE;
    } else {
      snprintf(net->port_from, sizeof(net->port_from), "'%s'%s", o, taken->from);
    }
  } else if (eq) { /* --udp-console=, --udp-mirror-console= */
    snprintf(net->console, sizeof(net->console), "%s", eq + 1);
  } else {
    fprintf(stderr, "csjack: error: '%s'%s takes HOST:PORT\n", o, taken->from);
    taken->status = EXIT_USAGE;
  }
}

bool
cli_is_orc(const char *path)
{
  const size_t n = strlen(path);
  return n >= 4 && strcasecmp(path + n - 4, ".orc") == 0;
}

/* The network options of a CSD's <CsOptions> (the engine reads the rest),
 * then of Csound's words after --. Returns 0, or the status to exit with
 * after saying why. */
static int
take_csound_net_options(const CliSettings *run, CliNetSettings *net)
{
  HostOptionsTaken taken = {net, " in <CsOptions>", 0};
  bool enough_memory = cli_is_orc(run->path) ||
                       csj_csd_host_options(run->text, take_host_option, &taken) == CSJ_SUCCESS;
  if (enough_memory && taken.status == 0) {
    taken.from = " (after --)";
    enough_memory = csj_host_options(run->engine.csound_argc, run->engine.csound_argv,
                                     take_host_option, &taken) == CSJ_SUCCESS;
  }
  if (!enough_memory) {
    fputs("csjack: error: out of memory\n", stderr);
    return EXIT_INTERNAL;
  }
  return taken.status;
}

/* ---- the command line ------------------------------------------------------ */

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
  OPT_TRANSPORT,
  OPT_TIMEBASE_MASTER,
  OPT_FREEWHEEL,
  OPT_RECONNECT,
  OPT_RESTORE,
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
  {"transport", required_argument, NULL, OPT_TRANSPORT},
  {"timebase-master", no_argument, NULL, OPT_TIMEBASE_MASTER},
  {"freewheel", no_argument, NULL, OPT_FREEWHEEL},
  {"reconnect", optional_argument, NULL, OPT_RECONNECT},
  {"restore", required_argument, NULL, OPT_RESTORE},
  {NULL, 0, NULL, 0},
};

static int
take_hang_limit(const char *text, CsjOptions *opts)
{
  char *end = NULL;
  const long ms = strtol(text, &end, 10);
  if (!end || *end || ms < 0 || ms > 3600 * 1000) {
    fprintf(stderr, "csjack: error: --hang-limit takes milliseconds, 0 for never (see "
                    "csjack --help)\n");
    return EXIT_USAGE;
  }
  opts->hang_limit_ms = ms == 0 ? -1 : (int)ms;
  return CLI_RUN;
}

static int
take_event_delay(const char *text, CliSettings *run)
{
  char *end = NULL;
  errno = 0;
  const unsigned long frames = strtoul(text, &end, 10);
  /* At most ten minutes at 192 kHz: far below the frame clock's
   * 2^31-frame horizon. */
  if (!end || end == text || *end || errno || text[0] == '-' || frames > 192000ul * 600) {
    fprintf(stderr,
            "csjack: error: --event-delay takes frames, 0 to %lu (see csjack "
            "--help)\n",
            192000ul * 600);
    return EXIT_USAGE;
  }
  run->event_delay = (uint32_t)frames;
  return CLI_RUN;
}

/* --reconnect[=SECONDS]: for ever, or for so long. */
static int
take_reconnect(const char *text, CsjOptions *opts)
{
  if (!text) {
    opts->reconnect_ms = -1;
    return CLI_RUN;
  }
  char *end = NULL;
  errno = 0;
  const double seconds = strtod(text, &end);
  if (!end || end == text || *end || errno || !(seconds > 0) || seconds > 86400.0 * 365) {
    fprintf(stderr,
            "csjack: error: --reconnect takes seconds (--reconnect=30), or nothing for ever, "
            "not '%s' (see csjack --help)\n",
            text);
    return EXIT_USAGE;
  }
  opts->reconnect_ms = (int)(seconds * 1000);
  return CLI_RUN;
}

/* Takes one option of csjack's own (getopt_long's @p c). Its network
 * options go to run->net, where they win over Csound's (taken with the
 * file). Returns CLI_RUN, or the status to exit with. */
static int
take_option(int c, char **argv, CliSettings *run)
{
  CsjOptions *opts = &run->engine;
  CliNetSettings *own = &run->net;
  switch (c) {
  case 'n': opts->client_name = optarg; break;
  case 's': opts->server_name = optarg; break;
  case OPT_CONNECT_OUT: opts->connect_out = optarg; break;
  case OPT_CONNECT_IN: opts->connect_in = optarg; break;
  case OPT_NO_CONNECT: opts->no_connect = true; break;
  case OPT_NO_MIDI: opts->no_midi = true; break;
  case OPT_CONNECT_MIDI_IN: opts->connect_midi_in = optarg; break;
  case OPT_CONNECT_MIDI_OUT: opts->connect_midi_out = optarg; break;
  case 'h': usage(stdout); return EXIT_OK;
  case OPT_VERSION: printf("csjack %s\n", CSJ_VERSION_STRING); return EXIT_OK;
  case OPT_RECORD: run->record_path = optarg; break;
  case OPT_HANG_LIMIT: return take_hang_limit(optarg, opts);
  case OPT_EVENT_DELAY: return take_event_delay(optarg, run);
  case OPT_PORT:
  case OPT_OSC_PORT:
    if (!parse_port(optarg, c == OPT_PORT ? &own->port : &own->osc_port)) {
      fprintf(stderr,
              "csjack: error: --%s takes a port number, 1-65535, not '%s' (see "
              "csjack --help)\n",
              c == OPT_PORT ? "port" : "osc-port", optarg);
      return EXIT_USAGE;
    }
    if (c == OPT_PORT) {
      snprintf(own->port_from, sizeof(own->port_from), "'--port %s'", optarg);
    }
    break;
  case OPT_UDP_CONSOLE: snprintf(own->console, sizeof(own->console), "%s", optarg); break;
  case OPT_UDP_ECHO: own->echo = true; break;
  case OPT_LISTEN: own->listen = optarg; break;
  case OPT_TRANSPORT:
    if (strcmp(optarg, "follow") == 0) {
      opts->transport = CSJ_TRANSPORT_FOLLOW;
    } else if (strcmp(optarg, "ignore") == 0) {
      opts->transport = CSJ_TRANSPORT_IGNORE;
    } else {
      fprintf(stderr,
              "csjack: error: --transport takes follow or ignore, not '%s' (see csjack "
              "--help)\n",
              optarg);
      return EXIT_USAGE;
    }
    break;
  case OPT_TIMEBASE_MASTER: opts->timebase_master = true; break;
  case OPT_FREEWHEEL: run->freewheel = true; break;
  case OPT_RECONNECT: return take_reconnect(optarg, opts);
  case OPT_RESTORE: run->session_dir = optarg; break;
  default:
    if (optopt && optopt < 256) {
      fprintf(stderr, "csjack: error: unknown or incomplete option '-%c' (see csjack --help)\n",
              optopt);
    } else {
      fprintf(stderr, "csjack: error: unknown or incomplete option '%s' (see csjack --help)\n",
              argv[optind - 1]);
    }
    return EXIT_USAGE;
  }
  return CLI_RUN;
}

/* Refused here, before anything is opened, as the usage error it is (the
 * library refuses them too). */
static int
check_jack_names(const CsjOptions *opts)
{
  const char *const names[][2] = {{"--name", opts->client_name}, {"--server", opts->server_name}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    const char *bad = names[i][1] ? utf8_name_problem(names[i][1]) : NULL;
    if (bad) {
      fprintf(stderr,
              "csjack: error: the JACK %s name given with %s %s: a JACK name is one "
              "line of UTF-8 text\n",
              i == 0 ? "client" : "server", names[i][0], bad);
      return EXIT_USAGE;
    }
  }
  return CLI_RUN;
}

/* FILE, then Csound's words after --. FILE may be left out with --restore
 * (the folder names it) and under a session manager. */
static int
take_file_and_csound_words(int argc, char **argv, CliSettings *run)
{
  const bool file_optional = run->session_dir || run->session_managed;
  /* getopt_long takes a -- that comes before any FILE itself: Csound's
   * words follow, and there is no FILE. */
  const bool dashes_taken = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
  if (optind >= argc || (file_optional && dashes_taken)) {
    if (!file_optional) {
      fputs("csjack: error: no orchestra given (csjack FILE.csd|FILE.orc; see csjack --help)\n",
            stderr);
      return EXIT_USAGE;
    }
    run->engine.csound_argc = argc - optind;
    run->engine.csound_argv = (const char *const *)(argv + optind);
    return CLI_RUN;
  }
  run->path = argv[optind++];
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
  run->engine.csound_argc = argc - optind;
  run->engine.csound_argv = (const char *const *)(argv + optind);
  return CLI_RUN;
}

int
cli_options_read(int argc, char **argv, CliSettings *run)
{
  memset(run, 0, sizeof(*run));
  csj_options_init(&run->engine);
  /* NULL until --name (the library's default is csjack), so that a
   * session folder's name can take its place. */
  run->engine.client_name = NULL;
  run->session_managed = getenv("NSM_URL") && *getenv("NSM_URL");
  opterr = 0;
  int c;
  int status = CLI_RUN;
  /* '+' stops at the first non-option, so Csound's options after the file
   * (and after --) are not ours to parse. */
  while (status == CLI_RUN && (c = getopt_long(argc, argv, "+n:s:h", long_options, NULL)) != -1) {
    status = take_option(c, argv, run);
  }
  if (status == CLI_RUN) {
    status = check_jack_names(&run->engine);
  }
  if (status == CLI_RUN) {
    status = take_file_and_csound_words(argc, argv, run);
  }
  if (status != CLI_RUN) {
    return status;
  }
  /* Without FILE, the session folder or the session manager names it
   * later (cli_session.c), which then reads it here; under a session
   * manager FILE too is read after its open, so that the session manager
   * hears of a file that is missing. */
  return run->path && !run->session_managed ? cli_options_take_file(run) : CLI_RUN;
}

int
cli_options_take_file(CliSettings *run)
{
  /* Read before reaching for JACK, so the error names the file; a pipe
   * works too (text_file.h). */
  char why[600];
  if (text_file_read(run->path, false, &run->text, why, sizeof why) != CSJ_SUCCESS) {
    fprintf(stderr, "csjack: error: %s\n", why);
    return EXIT_FILE;
  }

  /* The UDP server and console: Csound's own options for them (in
   * <CsOptions>, then after --), then csjack's, already in run->net,
   * which win. */
  CliNetSettings csound_net;
  memset(&csound_net, 0, sizeof(csound_net));
  const int status = take_csound_net_options(run, &csound_net);
  if (status != 0) {
    return status;
  }
  CliNetSettings *net = &run->net;
  if (!net->port && csound_net.port) {
    net->port = csound_net.port;
    snprintf(net->port_from, sizeof(net->port_from), "%s", csound_net.port_from);
  }
  if (!net->console[0]) {
    snprintf(net->console, sizeof(net->console), "%s", csound_net.console);
  }
  net->echo = net->echo || csound_net.echo;
  return CLI_RUN;
}
