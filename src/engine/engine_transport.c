/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JACK transport in the engine (see engine_transport.h).
 *
 * Following the transport. Csound's score time cannot stand still while
 * k-blocks are performed, so a stopped transport performs none: the
 * orchestra is frozen and the outputs are silent until it rolls. The score
 * is kept where the transport will sound next: the transport's frame at
 * the cycle's start plus the frames already waiting in the output FIFO.
 * A position more than a k-block away is a locate: behind the score, a
 * rewind (Csound ends every note and re-reads its score) and then a skip
 * forward; ahead, a skip. A skip is Csound's `a` statement, which Csound
 * carries out inside the next csoundPerformKsmps, passing every skipped
 * k-block there: so csjack skips at most TRANSPORT_SKIP_BLOCKS per cycle,
 * and carries each skip out at once with one k-block whose output it
 * drops (the skipped blocks less one, then that one), before the cycle's
 * commands run: an event sent meanwhile is placed after the skip, never
 * inside it, where Csound would drop it.
 */

#include "engine_transport.h"
#include "score_tempo.h"

#include <math.h>
#include <string.h>

static const char *const channel_names[TRANSPORT_CHANNELS] = {
  [TRANSPORT_CH_ROLLING] = "transport_rolling",
  [TRANSPORT_CH_FRAME] = "transport_frame",
  [TRANSPORT_CH_SECONDS] = "transport_seconds",
  [TRANSPORT_CH_BPM] = "transport_bpm",
  [TRANSPORT_CH_BAR] = "transport_bar",
  [TRANSPORT_CH_BEAT] = "transport_beat",
  [TRANSPORT_CH_TICK] = "transport_tick",
  [TRANSPORT_CH_BEATS_PER_BAR] = "transport_beats_per_bar",
};

/* The tempo a timebase master counts with until the orchestra sets one. */
#define DEFAULT_BPM 120.0

void
engine_transport_configure(CsjEngine *e, const CsjOptions *opts)
{
  EngineTransport *t = &e->transport;
  t->mode = opts->transport == CSJ_TRANSPORT_FOLLOW ? CSJ_TRANSPORT_FOLLOW : CSJ_TRANSPORT_IGNORE;
  t->master_wanted = opts->timebase_master;
  t->timebase.beats_per_bar = 4.0f;
  t->timebase.beat_type = 4.0f;
  t->timebase.ticks_per_beat = 1920.0;
  jack_timebase_set_bpm(&t->timebase, DEFAULT_BPM);
}

void
engine_transport_take_score(CsjEngine *e, const char *csd)
{
  double bpm;
  bool changes;
  if (!score_tempo_at_start(csd, &bpm, &changes)) {
    return;
  }
  jack_timebase_set_bpm(&e->transport.timebase, bpm);
  e->transport.score_bpm = bpm;
  if (changes && e->transport.master_wanted) {
    message_log_printf(e->log, 0,
                       "csjack: notice: the score's t statement changes tempo: as timebase "
                       "master csjack counts at its first, %.6g bpm (an orchestra that sets "
                       "transport_bpm sets the rest)\n",
                       bpm);
  }
}

void
engine_transport_prepare(CsjEngine *e)
{
  EngineTransport *t = &e->transport;
  for (int i = 0; i < TRANSPORT_CHANNELS; ++i) {
    t->channel[i] = csound_adapter_control_channel(e->csound, channel_names[i]);
    if (!t->channel[i]) {
      message_log_printf(e->log, 0,
                         "csjack: warning: the channel %s is not a control channel: the "
                         "orchestra cannot read the transport there\n",
                         channel_names[i]);
    }
  }
  if (t->master_wanted) {
    /* The channel is the orchestra's from the first cycle, which may come
     * before the timebase is ours (engine_transport_activated). */
    atomic_store_explicit(&t->master, true, memory_order_relaxed);
    double *bpm = t->channel[TRANSPORT_CH_BPM];
    /* The orchestra's instr 0 may have set a tempo already. */
    if (bpm && isfinite(*bpm) && *bpm > 0) {
      jack_timebase_set_bpm(&t->timebase, *bpm);
    } else if (bpm) {
      *bpm = t->score_bpm > 0 ? t->score_bpm : DEFAULT_BPM;
    }
  }
}

void
engine_transport_activated(CsjEngine *e)
{
  EngineTransport *t = &e->transport;
  if (!t->master_wanted) {
    return;
  }
  char why[200];
  if (jack_transport_become_master(e->jack, &t->timebase, why, sizeof why) == 0) {
    message_log_printf(e->log, 0,
                       "csjack: JACK timebase master at %.6g bpm (the channel transport_bpm "
                       "sets the tempo)\n",
                       jack_timebase_bpm(&t->timebase));
  } else {
    /* The transport's tempo is the channel's again. */
    atomic_store_explicit(&t->master, false, memory_order_relaxed);
    message_log_printf(e->log, 0, "csjack: warning: %s\n", why);
  }
}

static void
set_channel(EngineTransport *t, TransportChannel c, double v)
{
  if (t->channel[c]) {
    *t->channel[c] = v;
  }
}

/* Moves the score toward @p target (frames): true when it is there. */
static bool
seek(CsjEngine *e, int64_t target, bool *discard)
{
  EngineTransport *t = &e->transport;
  const int64_t k = e->ksmps;
  const double sr = csound_adapter_sample_rate(e->csound);
  int64_t score = llround(csound_adapter_score_time(e->csound) * sr);
  int64_t delta = target - score;
  if (!t->seeking && delta > -k && delta < k) {
    return true;
  }
  if (!t->seeking) {
    t->seeking = true;
    atomic_fetch_add_explicit(&t->locates, 1, memory_order_relaxed);
  }
  if (delta <= -k) {
    if (csound_adapter_rewind_score(e->csound) != 0) {
      t->seeking = false;
      return false; /* Csound aborted: the cycle ends the performance */
    }
    score = llround(csound_adapter_score_time(e->csound) * sr);
    delta = target - score;
  }
  const uint64_t blocks = delta > 0 ? (uint64_t)(delta / k) : 0;
  if (blocks == 0) {
    t->seeking = false;
    return true;
  }
  /* The skip and the dropped block that carries it out: blocks in all. */
  const uint64_t skip = blocks - 1 < TRANSPORT_SKIP_BLOCKS ? blocks - 1 : TRANSPORT_SKIP_BLOCKS;
  if (csound_adapter_skip_blocks(e->csound, skip) != 0) {
    t->seeking = false;
    return false;
  }
  *discard = true;
  if (skip + 1 == blocks) {
    t->seeking = false;
    return true;
  }
  return false;
}

TransportStep
engine_transport_cycle(CsjEngine *e)
{
  EngineTransport *t = &e->transport;
  jack_transport_read(e->jack, &t->pos);
  atomic_store_explicit(&t->rolling, t->pos.rolling, memory_order_relaxed);
  atomic_store_explicit(&t->frame, t->pos.frame, memory_order_relaxed);
  TransportStep step = {.play = true, .discard_block = false};
  if (t->mode != CSJ_TRANSPORT_FOLLOW) {
    return step;
  }
  /* Where the next k-block will sound, in transport frames. */
  const int64_t target = (int64_t)t->pos.frame + e->fifo_frames;
  const bool there = seek(e, target, &step.discard_block);
  step.play = there && t->pos.rolling;
  if (!step.play) {
    atomic_fetch_add_explicit(&t->held_cycles, 1, memory_order_relaxed);
  }
  return step;
}

void
engine_transport_block(CsjEngine *e, uint32_t out_offset)
{
  EngineTransport *t = &e->transport;
  const JackTransportPos *p = &t->pos;
  const uint32_t rate =
    p->frame_rate ? p->frame_rate : atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  const uint32_t ahead = p->rolling ? out_offset : 0;
  const double frame = (double)p->frame + ahead;
  set_channel(t, TRANSPORT_CH_ROLLING, p->rolling ? 1.0 : 0.0);
  set_channel(t, TRANSPORT_CH_FRAME, frame);
  set_channel(t, TRANSPORT_CH_SECONDS, rate ? frame / rate : 0.0);
  const bool master = atomic_load_explicit(&t->master, memory_order_relaxed);
  if (!p->bbt) {
    if (!master) {
      set_channel(t, TRANSPORT_CH_BPM, 0.0);
    }
    set_channel(t, TRANSPORT_CH_BAR, 0.0);
    set_channel(t, TRANSPORT_CH_BEAT, 0.0);
    set_channel(t, TRANSPORT_CH_TICK, 0.0);
    set_channel(t, TRANSPORT_CH_BEATS_PER_BAR, 0.0);
    return;
  }
  /* BBT describes the cycle's first frame: the block's is that many
   * ticks on at the cycle's tempo. */
  const double bpb = p->beats_per_bar > 0 ? p->beats_per_bar : 4.0;
  const double tpb = p->ticks_per_beat > 0 ? p->ticks_per_beat : 1920.0;
  double beats = ((double)p->bar - 1) * bpb + ((double)p->beat - 1) + (double)p->tick / tpb;
  if (rate) {
    beats += (double)ahead / rate * p->bpm / 60.0;
  }
  const double bars = floor(beats / bpb);
  const double in_bar = beats - bars * bpb;
  const double beat = floor(in_bar);
  /* The master's tempo is the orchestra's own channel: left as it is. */
  if (!master) {
    set_channel(t, TRANSPORT_CH_BPM, p->bpm);
  }
  set_channel(t, TRANSPORT_CH_BAR, bars + 1);
  set_channel(t, TRANSPORT_CH_BEAT, beat + 1);
  set_channel(t, TRANSPORT_CH_TICK, floor((in_bar - beat) * tpb));
  set_channel(t, TRANSPORT_CH_BEATS_PER_BAR, bpb);
}

void
engine_transport_cycle_end(CsjEngine *e)
{
  EngineTransport *t = &e->transport;
  if (!atomic_load_explicit(&t->master, memory_order_relaxed) || !t->channel[TRANSPORT_CH_BPM]) {
    return;
  }
  const double bpm = *t->channel[TRANSPORT_CH_BPM];
  /* A tempo of 0, below or not a number would stop or break the count. */
  if (isfinite(bpm) && bpm > 0 && bpm < 1e6) {
    jack_timebase_set_bpm(&t->timebase, bpm);
  }
}

void
engine_transport_stats(const CsjEngine *e, CsjStats *out)
{
  EngineTransport *t = (EngineTransport *)&e->transport;
  out->transport_rolling = atomic_load_explicit(&t->rolling, memory_order_relaxed);
  out->transport_frame = atomic_load_explicit(&t->frame, memory_order_relaxed);
  out->transport_locates = atomic_load_explicit(&t->locates, memory_order_relaxed);
  out->transport_held_cycles = atomic_load_explicit(&t->held_cycles, memory_order_relaxed);
  out->timebase_master = atomic_load_explicit(&t->master, memory_order_relaxed);
}

CsjStatus
csj_engine_set_freewheel(CsjEngine *e, bool on)
{
  if (!e) {
    return CSJ_ERR_BAD_ARG;
  }
  const int state = atomic_load_explicit(&e->state, memory_order_acquire);
  if (state < ENGINE_PERFORMING || (on && state == ENGINE_FINISHED) ||
      atomic_load_explicit(&e->server_gone, memory_order_acquire)) {
    engine_set_error(e, on ? "freewheel needs a performance that plays"
                           : "not started, or the server is gone");
    return CSJ_ERR_STATE;
  }
  const uint64_t before = atomic_load_explicit(&e->freewheel_cycles, memory_order_relaxed);
  if (jack_transport_set_freewheel(e->jack, on) != 0) {
    engine_set_error(e, "the JACK server refused to %s freewheeling", on ? "start" : "stop");
    return CSJ_ERR_JACK;
  }
  /* PipeWire 0.3.65 freewheels a client only while its ports are linked:
   * one linked to nothing would wait for ever for its next cycle. */
  for (int i = 0; on && i < FREEWHEEL_FIRST_CYCLE_MS / 10; ++i) {
    if (atomic_load_explicit(&e->freewheel_cycles, memory_order_relaxed) != before) {
      return CSJ_SUCCESS;
    }
    engine_sleep_us(10000);
  }
  if (on && atomic_load_explicit(&e->freewheel_cycles, memory_order_relaxed) == before) {
    (void)jack_transport_set_freewheel(e->jack, false);
    engine_set_error(e, "the JACK server ran no cycle once freewheeling (PipeWire freewheels a "
                        "client only while its ports are connected)");
    return CSJ_ERR_JACK;
  }
  return CSJ_SUCCESS;
}
