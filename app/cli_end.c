/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The end of a run: waiting for the performance to end, closing the front
 * ends and the engine in an order that loses nothing, and the one summary
 * line with the exit status.
 */

#include "cli_end.h"
#include "cli_output.h"
#include "cli_signals.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double
cli_seconds_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
hang_limit_ms(const CliSettings *run)
{
  return run->engine.hang_limit_ms == 0 ? CSJ_DEFAULT_HANG_LIMIT_MS : run->engine.hang_limit_ms;
}

void
cli_wait_for_end(const CliRunning *r, const CliSettings *run)
{
  CsjEngine *e = r->engine;
  const struct timespec poll_interval = {0, 50 * 1000 * 1000};
  while (csj_engine_wait(e, 0) == CSJ_ERR_TIMEOUT && !cli_signals_received()) {
    nanosleep(&poll_interval, NULL);
  }
  if (cli_signals_received() && !csj_engine_finished(e)) {
    csj_engine_stop(e);
    csj_engine_wait(e, 1000);
  }
  /* Closing waits for every thread to leave Csound. One that is still
   * inside (a parse reading an #include that does not end) is given the
   * hang limit, so that the watchdog says so, rather than a close that
   * waits for ever in silence. */
  const int limit_ms = hang_limit_ms(run);
  const int settle_ms = limit_ms > 0 ? limit_ms + 500 : 0;
  for (int waited = 0;
       waited < settle_ms && csj_engine_csound_busy_ms(e) > 0 && !csj_engine_is_hung(e);
       waited += 50) {
    nanosleep(&poll_interval, NULL);
  }
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

/* What the summary line reports of the performance's end. */
typedef struct {
  CsjEndReason reason;
  int code;   /* exitnow's */
  int signal; /* the stop signal, or 0 */
  CsjStats stats;
  double played_s;
} Ending;

static Ending
how_it_ended(const CliRunning *r)
{
  Ending end = {0};
  end.reason = csj_engine_end_reason(r->engine, &end.code);
  end.signal = cli_signals_received();
  if (end.signal && end.reason == CSJ_END_NONE) {
    end.reason = CSJ_END_STOPPED;
  }
  if (csj_engine_is_hung(r->engine)) {
    end.reason = CSJ_END_CSOUND_HUNG;
  }
  csj_engine_stats(r->engine, &end.stats);
  end.played_s = cli_seconds_now() - r->started_s;
  return end;
}

/* A thread is inside Csound for good (perhaps the console's, in a direct
 * call): neither the console nor the engine can be closed. The recording
 * can. */
static void __attribute__((noreturn)) exit_hung(const CliRunning *r, const Ending *end)
{
  csj_engine_abandon_record(r->engine);
  cli_output_give_back_term();
  fprintf(stderr, "csjack: %s; ", csj_end_reason_name(end->reason));
  print_counts(&end->stats, end->played_s);
  fprintf(stderr, ", status %d\n", EXIT_HUNG);
  fflush(stderr);
  _exit(EXIT_HUNG);
}

static int
exit_status_for(const Ending *end)
{
  switch (end->reason) {
  case CSJ_END_EXITNOW: return end->code == 0 ? EXIT_OK : EXIT_PERFORMANCE;
  case CSJ_END_CSOUND_ERROR: return EXIT_PERFORMANCE;
  case CSJ_END_SERVER_GONE: return EXIT_SERVER_GONE;
  default: return EXIT_OK;
  }
}

static void
print_summary(const Ending *end, int exit_status, const CliNetSettings *net,
              const UdpServerStats *net_stats)
{
  const CsjStats *stats = &end->stats;
  const int sig = end->signal;
  fprintf(stderr, "csjack: %s%s%s%s; ", csj_end_reason_name(end->reason), sig ? " (" : "",
          sig ? cli_signal_name(sig) : "", sig ? ")" : "");
  print_counts(stats, end->played_s);
  fprintf(stderr, ", status %d", exit_status);
  if (stats->output_nonfinite) {
    fprintf(stderr, ", NaN or infinite samples played as silence %llu",
            (unsigned long long)stats->output_nonfinite);
  }
  if (stats->record_errors) {
    fprintf(stderr, ", recordings failed %llu", (unsigned long long)stats->record_errors);
  }
  if (stats->record_dropped) {
    fprintf(stderr, ", recorded frames lost %llu", (unsigned long long)stats->record_dropped);
  }
  if (stats->freewheel_cycles) {
    const double audio_s =
      stats->sample_rate ? (double)stats->freewheel_frames / stats->sample_rate : 0.0;
    const double wall_s = (double)stats->freewheel_ns * 1e-9;
    fprintf(stderr, ", freewheeled %.1f s (%.1f s of audio, %.1f times real time", wall_s, audio_s,
            wall_s > 0 ? audio_s / wall_s : 0.0);
    if (stats->record_wait_ns) {
      fprintf(stderr, "; waited for the disk %.1f s", (double)stats->record_wait_ns * 1e-9);
    }
    fputc(')', stderr);
  }
  if (stats->midi_in_events || stats->midi_in_dropped || stats->midi_out_events ||
      stats->midi_out_dropped) {
    fprintf(stderr, ", MIDI in %llu (dropped %llu), out %llu (dropped %llu)",
            (unsigned long long)stats->midi_in_events, (unsigned long long)stats->midi_in_dropped,
            (unsigned long long)stats->midi_out_events,
            (unsigned long long)stats->midi_out_dropped);
  }
  if (net->port) {
    fprintf(stderr, ", UDP datagrams %llu (malformed %llu, dropped %llu)",
            (unsigned long long)net_stats->udp_datagrams,
            (unsigned long long)net_stats->udp_malformed,
            (unsigned long long)(net_stats->udp_dropped + net_stats->udp_kernel_dropped));
  }
  if (net->osc_port) {
    fprintf(stderr, ", OSC messages %llu (malformed %llu, dropped %llu)",
            (unsigned long long)net_stats->osc_messages,
            (unsigned long long)net_stats->osc_malformed,
            (unsigned long long)net_stats->osc_dropped);
  }
  if (end->reason == CSJ_END_EXITNOW) {
    fprintf(stderr, ", exitnow code %d", end->code);
  }
  fputc('\n', stderr);
}

int
cli_close(CliRunning *r, const CliSettings *run)
{
  const Ending end = how_it_ended(r);
  /* The server goes back to real time before anything closes: the other
   * clients are not left freewheeling after us. */
  if (run->freewheel) {
    (void)csj_engine_set_freewheel(r->engine, false);
  }
  if (end.reason == CSJ_END_CSOUND_HUNG) {
    exit_hung(r, &end);
  }
  /* The servers stop first (nothing new comes in), then the session
   * manager's thread, the engine goes (the last compile results reach the
   * server's callback), then the server. */
  udp_server_stop(r->server);
  console_stop(r->console);
  r->console = NULL;
  /* Its thread saves through the engine: it goes before the engine. */
  nsm_free(r->nsm);
  r->nsm = NULL;
  cli_signals_watch(NULL);
  csj_engine_destroy(r->engine);
  r->engine = NULL;
  UdpServerStats net_stats;
  udp_server_stats(r->server, &net_stats);
  udp_server_free(r->server);
  r->server = NULL;
  cli_output_drop_term();
  cli_signals_main_done();

  const int exit_status = exit_status_for(&end);
  if (end.reason == CSJ_END_SERVER_GONE) {
    fputs("csjack: error: the JACK server shut down during the performance\n", stderr);
  }
  print_summary(&end, exit_status, &run->net, &net_stats);
  cli_output_close_mirror();
  return exit_status;
}
