/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The supervisor: one control thread that, every few milliseconds, does
 * what JACK's non-real-time callbacks and the JACK thread only flag, and
 * watches for a Csound that does not come back.
 *
 * Housekeeping: a new period is announced and its latency re-reported to
 * JACK, a changed sample rate is warned about, a server that went away
 * ends the performance, whether or not anyone polls csj_engine_wait.
 *
 * The watchdog: a thread stuck inside one Csound call (an endless loop in
 * the orchestra or in live code) cannot be stopped or taken back, and a
 * JACK thread stuck so silences the client for good. When one has been
 * inside for longer than the hang limit, the performance is ended with
 * CSJ_END_CSOUND_HUNG and one line that says why, so the application can
 * close its recording and exit. The JACK thread's clock (rt_busy_since_ns)
 * runs from the start of its cycle; while the server freewheels, where a
 * cycle has no deadline and a render may run slower than real time, the
 * JACK thread restarts it at each k-block, and stops it while it waits for
 * a recording's disk (engine_cycle.c): the limit is then for one call into
 * Csound, and a long freewheel cycle is not a hang.
 */

#include "engine_state.h"
#include "engine_watch.h"
#include "engine_reconnect.h"

#include <stdio.h>

#define TICK_NS (5 * 1000 * 1000)
/* How long libjack's messages are held before they are shown: its burst
 * when the server goes away comes a few microseconds before the shutdown
 * callback, on the same thread. */
#define JACK_MESSAGE_HOLD_NS (100 * 1000 * 1000)

typedef struct {
  uint32_t period;
  uint32_t rate;
  uint64_t nonfinite;      /* output_nonfinite when last said */
  uint64_t nonfinite_said; /* when, engine_now_ns; 0: never */
  bool freewheeling;
  uint64_t freewheel_frames; /* freewheel_frames when it was seen to begin */
  uint64_t freewheel_began;  /* engine_now_ns then */
  uint32_t links_tick;
} Seen;

/* Connections are restored every this many ticks (50 ms). */
#define LINKS_EVERY 10

/* NaN or infinite output, silenced by the JACK thread: said at once, then
 * at most every 10 s while it goes on. */
#define NONFINITE_REPEAT_NS (10ull * 1000 * 1000 * 1000)

/* The server began or stopped freewheeling (an export): said, since the
 * recorder and the watchdog then behave otherwise, with the speed of the
 * render at its end. */
static void
say_freewheel(CsjEngine *e, Seen *seen)
{
  const bool now_on = atomic_load_explicit(&e->freewheeling, memory_order_acquire);
  if (now_on == seen->freewheeling) {
    return;
  }
  seen->freewheeling = now_on;
  const uint64_t frames = atomic_load_explicit(&e->freewheel_frames, memory_order_relaxed);
  const uint64_t now = engine_now_ns();
  if (now_on) {
    seen->freewheel_frames = frames;
    seen->freewheel_began = now;
    message_log_printf(e->log, 0,
                       "csjack: JACK freewheels: no deadlines; a recording waits for its disk "
                       "rather than lose a frame\n");
    return;
  }
  const uint32_t rate = atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  const double audio_s = rate ? (double)(frames - seen->freewheel_frames) / rate : 0.0;
  const double wall_s = (double)(now - seen->freewheel_began) * 1e-9;
  message_log_printf(e->log, 0,
                     "csjack: JACK stopped freewheeling: %.1f s of audio in %.1f s (%.1f times "
                     "real time)\n",
                     audio_s, wall_s, wall_s > 0 ? audio_s / wall_s : 0.0);
}

static void
housekeeping(CsjEngine *e, Seen *seen)
{
  const bool gone = atomic_load_explicit(&e->server_gone, memory_order_acquire);
  /* libjack's own messages, held a moment: a burst that ends with the
   * server gone is not shown (csjack says so in one line). */
  jack_backend_pass_messages(gone, JACK_MESSAGE_HOLD_NS, engine_log_text, e);
  if (gone) {
    if (!engine_reconnect_tick(e)) {
      engine_finish(e, CSJ_END_SERVER_GONE, 0);
    }
    return;
  }
  if (e->links && ++seen->links_tick % LINKS_EVERY == 0) {
    jack_links_service(e->links);
  }
  const uint32_t period = atomic_load_explicit(&e->jack_period, memory_order_relaxed);
  if (period != seen->period) {
    seen->period = period;
    message_log_printf(e->log, 0, "csjack: JACK period is now %u frames; csjack adds %u\n", period,
                       atomic_load_explicit(&e->latency, memory_order_relaxed));
    jack_backend_latency_changed(e->jack);
  }
  const uint64_t nonfinite = atomic_load_explicit(&e->output_nonfinite, memory_order_relaxed);
  const uint64_t now = engine_now_ns();
  if (nonfinite != seen->nonfinite &&
      (!seen->nonfinite_said || now - seen->nonfinite_said >= NONFINITE_REPEAT_NS)) {
    message_log_printf(e->log, 0,
                       "csjack: warning: Csound's output holds NaN or infinite samples (a "
                       "division by zero?): %llu so far, played as silence\n",
                       (unsigned long long)nonfinite);
    seen->nonfinite = nonfinite;
    seen->nonfinite_said = now;
  }
  say_freewheel(e, seen);
  const uint32_t rate = atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  if (rate != seen->rate) {
    /* Csound cannot change sr while it performs: keep playing, say so. */
    seen->rate = rate;
    message_log_printf(e->log, 0,
                       "csjack: warning: JACK's sample rate changed to %u Hz; Csound keeps "
                       "running at %.0f Hz, so pitch and time are off until restarted\n",
                       rate, csound_adapter_sample_rate(e->csound));
  }
}

/* True when a thread has been inside Csound for longer than the limit:
 * the performance is then ended. */
static bool
watchdog(CsjEngine *e)
{
  const int limit_ms = atomic_load_explicit(&e->hang_limit_ms, memory_order_relaxed);
  if (limit_ms < 0) {
    return false;
  }
  const uint64_t now = engine_now_ns();
  const uint64_t limit = (uint64_t)limit_ms * 1000000u;
  const uint64_t rt = atomic_load_explicit(&e->rt_busy_since_ns, memory_order_relaxed);
  const uint64_t direct = atomic_load_explicit(&e->direct_busy_since_ns, memory_order_relaxed);
  const uint64_t parse = atomic_load_explicit(&e->parse_busy_since_ns, memory_order_relaxed);
  const char *where = NULL;
  const char *guess = "an endless loop in the orchestra or in live code?";
  uint64_t since = 0;
  if (rt && now > rt && now - rt > limit) {
    where = "the JACK thread";
    since = rt;
  } else if (direct && now > direct && now - direct > limit) {
    where = "a direct call (evalCode or compile on the caller's thread)";
    since = direct;
  } else if (parse && now > parse && now - parse > limit) {
    /* The music still plays, but every compile and evalCode queued after
     * this one waits behind it, and nothing can take the parser back. */
    where = "the parser of a compile or evalCode";
    guess = "an #include of a file that does not end (a stalled file system?)";
    since = parse;
  }
  if (!where) {
    return false;
  }
  atomic_store_explicit(&e->hung, true, memory_order_release);
  message_log_printf(e->log, 0,
                     "csjack: error: Csound has been inside one call on %s for %.1f s: %s "
                     "The performance is ended\n",
                     where, (double)(now - since) * 1e-9, guess);
  engine_finish(e, CSJ_END_CSOUND_HUNG, 0);
  return true;
}

static void *
supervisor_main(void *arg)
{
  CsjEngine *e = arg;
  Seen seen = {
    atomic_load_explicit(&e->jack_period, memory_order_relaxed),
    atomic_load_explicit(&e->jack_rate, memory_order_relaxed),
    0,
    0,
    false,
    0,
    0,
    0,
  };
  bool watching = true;
  const struct timespec tick = {0, TICK_NS};
  while (!atomic_load_explicit(&e->supervisor_quit, memory_order_acquire)) {
    housekeeping(e, &seen);
    if (watching && watchdog(e)) {
      watching = false; /* said once; the performance is over */
    }
    nanosleep(&tick, NULL);
  }
  return NULL;
}

bool
engine_supervisor_start(CsjEngine *e)
{
  atomic_store_explicit(&e->supervisor_quit, false, memory_order_relaxed);
  e->supervisor_started = pthread_create(&e->supervisor, NULL, supervisor_main, e) == 0;
  return e->supervisor_started;
}

void
engine_supervisor_stop(CsjEngine *e)
{
  if (e->supervisor_started) {
    atomic_store_explicit(&e->supervisor_quit, true, memory_order_release);
    pthread_join(e->supervisor, NULL);
    e->supervisor_started = false;
  }
}
