/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack command's signals: the ones that end csjack are taken on a
 * thread of their own, so that a stop is honoured whatever the main thread
 * is doing (compiling, or waiting for a Csound that does not return).
 */

#include "cli_signals.h"
#include "cli_output.h"
#include "cli_settings.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static sigset_t stop_signals;
static _Atomic int stop_signal;
/* Set by main once it has finished cleanly and is about to return. */
static _Atomic bool main_done;
static CsjEngine *_Atomic watched_engine;

const char *
cli_signal_name(int sig)
{
  switch (sig) {
  case SIGINT: return "SIGINT";
  case SIGTERM: return "SIGTERM";
  case SIGHUP: return "SIGHUP";
  case SIGQUIT: return "SIGQUIT";
  default: return "a signal";
  }
}

void
cli_signals_watch(CsjEngine *e)
{
  atomic_store_explicit(&watched_engine, e, memory_order_release);
}

int
cli_signals_received(void)
{
  return atomic_load_explicit(&stop_signal, memory_order_acquire);
}

void
cli_signals_main_done(void)
{
  atomic_store_explicit(&main_done, true, memory_order_release);
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
  CsjEngine *e = atomic_load_explicit(&watched_engine, memory_order_acquire);
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
    e = atomic_load_explicit(&watched_engine, memory_order_acquire);
    if (e && i >= 100 && csj_engine_csound_busy_ms(e) >= 1000) {
      break;
    }
    if (i >= 1000) {
      cli_output_give_back_term();
      fprintf(stderr,
              "csjack: stopped by %s, but closing did not finish within 10 s (is the "
              "JACK server answering?); exiting; status %d\n",
              cli_signal_name(sig), EXIT_JACK);
      _exit(EXIT_JACK);
    }
    const struct timespec tick = {0, 10 * 1000 * 1000};
    nanosleep(&tick, NULL);
  }
  if (atomic_load_explicit(&main_done, memory_order_acquire)) {
    return NULL;
  }
  e = atomic_load_explicit(&watched_engine, memory_order_acquire);
  if (e) {
    csj_engine_abandon_record(e);
  }
  cli_output_give_back_term();
  fprintf(stderr,
          "csjack: stopped by %s, but Csound did not let go within a second (an endless "
          "loop?); exiting without waiting for it; status %d\n",
          cli_signal_name(sig), EXIT_HUNG);
  _exit(EXIT_HUNG);
}

/* The stop signals are blocked before any thread exists, so JACK's and
 * Csound's threads inherit the mask and no signal interrupts a JACK
 * request halfway (that leaves libjack's request channel out of step).
 * One thread takes them synchronously (signal_main): no handler runs at
 * all. SIGHUP (terminal closed) and SIGQUIT stop csjack like SIGINT, so a
 * recording is always closed properly. SIGPIPE is ignored: a closed reply
 * pipe is the console's business, not a reason to die. SIGXFSZ is ignored
 * too: a recording past the file-size limit fails and says so (the
 * recorder's writer blocks it as well), Csound's own file output
 * likewise. */
bool
cli_signals_start(void)
{
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
    return false;
  }
  pthread_detach(signal_thread);
  return true;
}
