/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack: play a Csound orchestra as a JACK client.
 *
 *   csjack [OPTIONS] FILE.csd|FILE.orc [-- CSOUND-OPTIONS...]
 *   csjack [OPTIONS] --restore DIR [FILE] [-- CSOUND-OPTIONS...]
 *
 * main() tells the run in phases: the options (cli_options.c), the
 * session (a session manager's open or --restore: cli_session.c), the
 * network front ends (bound before JACK is touched), the signals
 * (cli_signals.c), the engine (where the JACK server is found), the front
 * ends it feeds (the console, the UDP and OSC servers, the session
 * manager's thread), the wait and the close (cli_end.c). Where text goes,
 * on any thread, is cli_output.c's; the settings every phase reads and
 * the exit statuses, cli_settings.h.
 */

#include "cli_end.h"
#include "cli_options.h"
#include "cli_output.h"
#include "cli_session.h"
#include "cli_settings.h"
#include "cli_signals.h"
#include "console.h"
#include "udp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- the network front ends, before JACK --------------------------------- */

/* The --udp-console mirror and the UDP and OSC servers' sockets: bound
 * now, so that a port in use is one line and status 12 before JACK is
 * touched. Their thread starts with the engine. */
static int
open_network(const CliNetSettings *net, UdpServer **server)
{
  if (net->console[0]) {
    char why[256];
    if (!cli_output_open_mirror(net->console, why, sizeof(why))) {
      fprintf(stderr, "csjack: error: %s\n", why);
      return EXIT_USAGE;
    }
  }
  if (net->port || net->osc_port) {
    const UdpServerOptions server_opts = {
      .listen = net->listen,
      .udp_port = net->port,
      .osc_port = net->osc_port,
      .echo = net->echo,
      .report = cli_report,
      .report_data = NULL,
    };
    char why[320];
    *server = udp_server_open(&server_opts, why, sizeof(why));
    if (!*server) {
      fprintf(stderr, "csjack: error: %s\n", why);
      cli_output_close_mirror();
      return strncmp(why, "cannot listen", 13) == 0 ? EXIT_NETWORK : EXIT_USAGE;
    }
  }
  return CLI_RUN;
}

/* ---- the engine ------------------------------------------------------------ */

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

/* Ends a run that never played: the engine goes, the terminal side too. */
static void
abandon_engine(CsjEngine *e)
{
  cli_signals_watch(NULL);
  csj_engine_destroy(e);
  cli_output_drop_term();
}

/* The file played, quoted, for messages; a session without one plays
 * the empty orchestra. */
static const char *
played_name(const CliSettings *run, char *buf, size_t size)
{
  if (!run->path) {
    return "an empty orchestra";
  }
  snprintf(buf, size, "'%s'", run->path);
  return buf;
}

static void
say_playing(const CliSettings *run, CsjEngine *e)
{
  CsjStats stats;
  csj_engine_stats(e, &stats);
  char name[4200];
  fprintf(stderr,
          "csjack: %s playing as JACK client '%s': %u Hz, period %u, ksmps %u, "
          "%u in, %u out, added latency %u frames\n",
          played_name(run, name, sizeof name), csj_engine_client_name(e), stats.sample_rate,
          stats.period, stats.ksmps, stats.inputs, stats.outputs, stats.latency);
  if (run->event_delay) {
    const uint32_t reach = stats.period + stats.latency;
    fprintf(stderr,
            "csjack: constant latency: MIDI and plain score lines sound %lu frames (%.1f ms) "
            "after they come in%s\n",
            (unsigned long)run->event_delay, 1000.0 * (double)run->event_delay / stats.sample_rate,
            run->event_delay < 2 * reach ? "; under two periods plus the added latency, some "
                                           "score lines may be late (see :stats events_late)"
                                         : "");
  }
}

/* The engine: its JACK client opened (no server is status 5, a name taken
 * 6), the file compiled, the performance started, the recording begun.
 * Returns CLI_RUN with r->engine and r->started_s set, or the status to
 * exit with, having said why, with the engine and the terminal side gone. */
static int
start_engine(CliSettings *run, CliRunning *r)
{
  CsjOptions opts = run->engine;
  opts.message_fn = cli_message_sink;
  CsjEngine *e = NULL;
  CsjStatus status = csj_engine_create(&opts, &e);
  if (status != CSJ_SUCCESS) {
    fprintf(stderr, "csjack: error: %s\n", csj_last_error(NULL));
    cli_output_drop_term();
    return exit_code_for(status);
  }
  cli_signals_watch(e);
  /* Before the first cycle, so that every MIDI event is delayed alike. */
  csj_engine_set_event_delay(e, run->event_delay);
  /* The console and the network servers are not real-time threads: they
   * wait for room in a full ring rather than lose what they were sent. */
  csj_engine_set_submit_timeout(e, -1);
  /* What lies beside the file is found from any folder, as with
   * `csound FILE` (a folder that cannot be added was warned about). */
  if (run->path) {
    (void)csj_engine_add_file_folder(e, run->path);
  }
  status = !run->path || cli_is_orc(run->path) ? csj_engine_compile_orc_text(e, run->text)
                                               : csj_engine_compile_csd_text(e, run->text);
  free(run->text);
  run->text = NULL;
  /* Before the start, so that the file holds the performance from its
   * first cycle: asked for after it, the first cycles could play first. */
  if (status == CSJ_SUCCESS && run->record_path &&
      (status = csj_engine_record(e, run->record_path, 24)) != CSJ_SUCCESS) {
    fprintf(stderr, "csjack: error: cannot record to '%s': %s\n", run->record_path,
            csj_last_error(e));
    abandon_engine(e);
    return EXIT_FILE;
  }
  if (status != CSJ_SUCCESS || (status = csj_engine_start(e)) != CSJ_SUCCESS) {
    char why[4400];
    if (status == CSJ_ERR_COMPILE) {
      char name[4200];
      snprintf(why, sizeof why, "Csound could not compile %s (see Csound's messages above)",
               played_name(run, name, sizeof name));
    } else {
      snprintf(why, sizeof why, "%s", csj_last_error(e));
    }
    /* Torn down first, so Csound's closing chatter comes before our one
     * line. */
    abandon_engine(e);
    fprintf(stderr, "csjack: error: %s\n", why);
    return exit_code_for(status);
  }
  r->engine = e;
  r->started_s = cli_seconds_now();
  say_playing(run, e);
  if (run->freewheel) {
    /* After the start, never before: a client that joins a freewheeling
     * jackd can stall it. */
    if (csj_engine_set_freewheel(e, true) == CSJ_SUCCESS) {
      fputs("csjack: the JACK server freewheels until the end (the whole graph, as fast as "
            "it goes)\n",
            stderr);
    } else {
      fprintf(stderr, "csjack: warning: no freewheel: %s; playing in real time\n",
              csj_last_error(e));
    }
  }
  return CLI_RUN;
}

/* ---- the front ends the engine feeds ------------------------------------- */

static void
print_server_stats(FILE *out, void *server)
{
  udp_server_print_stats(server, out);
}

static void
say_serving(const CliNetSettings *net)
{
  char line[400];
  const char *where = net->listen ? net->listen : "127.0.0.1";
  if (net->port) {
    snprintf(line, sizeof(line), "csjack: UDP server (Csound's --port protocol) on %s:%d, from %s",
             where, net->port, net->port_from);
    cli_report(NULL, line);
  }
  if (net->osc_port) {
    snprintf(line, sizeof(line), "csjack: OSC server on %s:%d", where, net->osc_port);
    cli_report(NULL, line);
  }
}

/* The UDP and OSC servers' thread, and the live console, which reads
 * commands from stdin on its own thread (none if stdin is closed, nor on
 * a session manager's terminal, which every client of it shares); both
 * inherit the blocked stop signals. */
static int
start_front_ends(const CliSettings *run, CliRunning *r, ConsoleTerm *term, FILE *replies)
{
  if (r->server) {
    if (!udp_server_start(r->server, r->engine)) {
      fputs("csjack: error: cannot start the UDP server's thread\n", stderr);
      abandon_engine(r->engine);
      udp_server_free(r->server);
      return EXIT_INTERNAL;
    }
    say_serving(&run->net);
    console_set_stats_extra(print_server_stats, r->server);
  }
  if (term) {
    r->console = console_start_terminal(r->engine, term);
  } else if (!run->session_managed || !isatty(STDIN_FILENO)) {
    r->console = console_start(r->engine, STDIN_FILENO, replies);
  }
  return CLI_RUN;
}

/* What the console's :save DIR runs: the live state, and csjack.session
 * naming the file played and the client (session.c). */
static CsjStatus
save_for_console(void *data, CsjEngine *e, const char *dir, char *why, size_t why_size)
{
  return session_save(e, dir, data, why, why_size);
}

/* A run that ends before it plays: what the options read goes too, and a
 * session manager waiting for the answer to open hears why. */
static int
end_early(CliSettings *run, Nsm *nsm, int status)
{
  cli_session_failed(nsm, status);
  nsm_free(nsm);
  free(run->text);
  run->text = NULL;
  return status;
}

int
main(int argc, char **argv)
{
  keep_standard_fds_open();
  CliSettings run;
  int status = cli_options_read(argc, argv, &run);
  if (status != CLI_RUN) {
    return end_early(&run, NULL, status);
  }
  /* From here on the engine and the front ends read `run` only, so a
   * front end that learns the settings elsewhere fills it here, before any
   * JACK client exists: a session manager (NSM_URL) names the JACK client
   * and the folder, which, like --restore's, names the file. */
  CliRunning r = {0};
  if ((status = cli_session_prepare(argv[0], &run, &r.nsm)) != CLI_RUN) {
    return end_early(&run, r.nsm, status);
  }
  if ((status = open_network(&run.net, &r.server)) != CLI_RUN) {
    return end_early(&run, r.nsm, status);
  }
  FILE *replies = cli_output_take_stdout();
  if (!cli_signals_start()) {
    fputs("csjack: error: cannot start the signal thread\n", stderr);
    return end_early(&run, r.nsm, EXIT_PERFORMANCE);
  }
  ConsoleTerm *term = run.session_managed ? NULL : cli_output_open_term(replies);
  if ((status = start_engine(&run, &r)) != CLI_RUN) {
    udp_server_free(r.server);
    return end_early(&run, r.nsm, status);
  }
  /* The folder's live state before any front end can add to it; then the
   * session manager hears that the open is done. */
  cli_session_started(&run, r.engine, r.nsm, &r.saved_as);
  console_set_save(save_for_console, &r.saved_as);
  if ((status = start_front_ends(&run, &r, term, replies)) != CLI_RUN) {
    nsm_free(r.nsm);
    return status;
  }
  if (r.nsm && !nsm_start(r.nsm, r.engine, &r.saved_as)) {
    fputs("csjack: warning: cannot start the session manager's thread: saves are not "
          "answered\n",
          stderr);
  }
  cli_wait_for_end(&r, &run);
  return cli_close(&r, &run);
}
