/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JACK thread's cycle: the process callback is Csound's performance
 * thread.
 *
 * Each cycle copies the input ports into Csound's spin, one ksmps block at a
 * time, runs csoundPerformKsmps for each full block, and appends spout to a
 * per-channel output FIFO from which the output ports are filled.
 *
 * Latency. With period P and ksmps K, the outputs for a cycle are all
 * available at its end iff the FIFO starts each cycle holding at least
 * (n*P mod K) frames for every n. The largest such value is K - gcd(P, K),
 * so the FIFO is primed with that many frames of silence: zero when K
 * divides P, and the smallest constant delay that works otherwise. The
 * input cursor carries partial blocks across cycles.
 *
 * MIDI. Each midi_in event is handed to Csound with the input frames of
 * its k-block: an event at frame f goes to the block whose input holds
 * frame f, before that block is performed (Csound's MIDI read callback,
 * see src/csound6/csound_midi.c), so it takes effect in that block, like its
 * audio. What Csound's MIDI opcodes send during a block is split into
 * messages and written to midi_out at the frame where that block's audio
 * begins in the output (its place in the FIFO, always inside this cycle
 * since the FIFO never holds a whole block beyond the period's end), so
 * MIDI out stays aligned with audio out.
 */

#include "engine_state.h"
#include "engine_cycle.h"
#include "engine_transport.h"
#include "command_exec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Lays the FIFO out for a period: the latency's worth of silence, and an
 * empty input block. Bounded work, no allocation. */
void
engine_reset_for_period(CsjEngine *e, uint32_t period)
{
  const uint32_t latency = engine_added_latency_for(period, e->ksmps);
  e->period = period;
  e->in_fill = 0;
  e->fifo_frames = latency;
  for (uint32_t c = 0; c < e->n_out; ++c) {
    memset(e->fifo[c], 0, latency * sizeof(float));
  }
  atomic_store_explicit(&e->latency, latency, memory_order_relaxed);
}

static void
write_silence(float *const *out, uint32_t n_out, uint32_t from, uint32_t nframes)
{
  for (uint32_t c = 0; c < n_out; ++c) {
    memset(out[c] + from, 0, (nframes - from) * sizeof(float));
  }
}

/* Performs one block, its output left in spout. False when the
 * performance ended. */
static bool
perform_block_only(CsjEngine *e)
{
  /* Csound's own work happens in here: what it allocates or locks during a
   * k-cycle is Csound's share, measured separately. */
  const CsoundBlockResult result = csound_adapter_perform_block(e->csound);
  atomic_fetch_add_explicit(&e->blocks, 1, memory_order_relaxed);
  switch (result) {
  case CSOUND_BLOCK_OK: return true;
  case CSOUND_BLOCK_SCORE_END: engine_finish(e, CSJ_END_SCORE, 0); return false;
  case CSOUND_BLOCK_EXITNOW:
    engine_finish(e, CSJ_END_EXITNOW, csound_adapter_exit_code(e->csound));
    return false;
  case CSOUND_BLOCK_ABORTED:
    engine_finish(e, CSJ_END_CSOUND_ERROR, csound_adapter_exit_code(e->csound));
    return false;
  }
  return true;
}

/* Performs one block and appends its output to the FIFO. False when the
 * performance ended. */
static bool
perform_block(CsjEngine *e)
{
  if (!perform_block_only(e)) {
    return false;
  }
  const double *spout = csound_adapter_spout(e->csound);
  const uint32_t k = e->ksmps;
  uint32_t nonfinite = 0;
  for (uint32_t c = 0; c < e->n_out; ++c) {
    float *dst = e->fifo[c] + e->fifo_frames;
    for (uint32_t i = 0; i < k; ++i) {
      const float v = (float)(spout[i * e->n_out + c] * e->from_csound);
      /* NaN or inf (or a double past float's range) would poison every
       * client downstream: silence instead, counted. */
      const bool finite = isfinite(v);
      dst[i] = finite ? v : 0.0f;
      nonfinite += !finite;
    }
  }
  if (nonfinite) {
    atomic_fetch_add_explicit(&e->output_nonfinite, nonfinite, memory_order_relaxed);
  }
  e->fifo_frames += k;
  return true;
}

/* Hands Csound one midi_in event; counted either way. */
static void
midi_give(CsjEngine *e, const uint8_t *data, size_t size)
{
  if (csound_adapter_midi_in_push(e->csound, data, size)) {
    atomic_fetch_add_explicit(&e->midi_in_events, 1, memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&e->midi_in_dropped, 1, memory_order_relaxed);
  }
}

/*
 * Constant-latency mode: every midi_in event of this cycle joins the held
 * queue for its own frame plus the delay (the queue is in frame order:
 * events come in order and the delay is one for all). Also while the
 * delay is 0 but events are still held, so that none overtakes them. A
 * full queue drops the event and counts it (midi_in_dropped).
 */
static void
midi_hold_cycle(CsjEngine *e, JackMidiCycle *m, uint32_t delay)
{
  uint32_t frame;
  const uint8_t *data;
  size_t size;
  while (jack_backend_midi_in_event(m, e->midi_in_next, &frame, &data, &size)) {
    ++e->midi_in_next;
    if (size && !midi_queue_push(&e->midi_held, e->cycle_frame + frame + delay, data, size)) {
      atomic_fetch_add_explicit(&e->midi_in_dropped, 1, memory_order_relaxed);
    }
  }
}

/* Hands Csound the held events due before frame @p until of this cycle's
 * input (and any whose frame has passed), in order. */
static void
midi_feed_held(CsjEngine *e, uint32_t until)
{
  uint32_t frame;
  const uint8_t *data;
  size_t size;
  while (midi_queue_peek(&e->midi_held, &frame, &data, &size) &&
         (int32_t)(frame - e->cycle_frame) < (int32_t)until) {
    midi_give(e, data, size);
    midi_queue_pop(&e->midi_held);
  }
}

/* Hands Csound the midi_in events with frames before @p until (the end of
 * the input frames just put in spin), in order. */
static void
midi_feed(CsjEngine *e, JackMidiCycle *m, uint32_t until)
{
  uint32_t frame;
  const uint8_t *data;
  size_t size;
  while (jack_backend_midi_in_event(m, e->midi_in_next, &frame, &data, &size) && frame < until) {
    ++e->midi_in_next;
    if (size) {
      midi_give(e, data, size);
    }
  }
}

/* Counts the midi_in events of a cycle (from event @p from on) that Csound
 * will never get. */
static void
midi_lost(CsjEngine *e, const JackMidiCycle *m, uint32_t from)
{
  if (m && m->in_count > from) {
    atomic_fetch_add_explicit(&e->midi_in_dropped, m->in_count - from, memory_order_relaxed);
  }
}

static void
midi_write_message(void *context, const uint8_t *data, size_t size)
{
  CsjEngine *e = context;
  if (jack_backend_midi_out_write(e->midi_cycle, e->midi_out_frame, data, size)) {
    atomic_fetch_add_explicit(&e->midi_out_events, 1, memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&e->midi_out_dropped, 1, memory_order_relaxed);
  }
}

/* Writes what Csound sent during the block just performed to midi_out, one
 * event per message, at @p frame. */
static void
midi_emit(CsjEngine *e, uint32_t frame)
{
  size_t size;
  uint32_t lost;
  const uint8_t *bytes = csound_adapter_midi_out(e->csound, &size, &lost);
  if (size == 0 && lost == 0) {
    return;
  }
  if (lost) {
    atomic_fetch_add_explicit(&e->midi_out_dropped, lost, memory_order_relaxed);
  }
  e->midi_out_frame = frame;
  midi_parser_feed(&e->midi_out_parser, bytes, size, midi_write_message, e);
  csound_adapter_midi_out_clear(e->csound);
}

/* The audio: inputs into spin a block at a time, a k-cycle per full block,
 * spout out through the FIFO. */
static void
perform_frames(CsjEngine *e, uint32_t nframes, const float *const *in, float *const *out)
{
  JackMidiCycle *const midi = e->midi_cycle;
  e->midi_in_next = 0;
  if (nframes != e->period) {
    engine_reset_for_period(e, nframes);
  }
  /* Constant-latency mode: this cycle's events go to the held queue, and
   * the blocks take from there what is due. */
  const uint32_t delay = atomic_load_explicit(&e->event_delay, memory_order_relaxed);
  const bool held = midi && (delay || !midi_queue_empty(&e->midi_held));
  if (held) {
    midi_hold_cycle(e, midi, delay);
  }

  double *spin = csound_adapter_spin(e->csound);
  const uint32_t k = e->ksmps;
  uint32_t done = 0;
  bool performing = true;
  bool first_block = true;
  while (done < nframes && performing) {
    uint32_t n = k - e->in_fill;
    if (n > nframes - done) {
      n = nframes - done;
    }
    /* spin is interleaved; Csound never clears it, and we overwrite every
     * input sample of the block. */
    for (uint32_t c = 0; c < e->n_in; ++c) {
      const float *src = in[c] + done;
      double *dst = spin + (size_t)e->in_fill * e->n_in + c;
      for (uint32_t i = 0; i < n; ++i) {
        dst[(size_t)i * e->n_in] = src[i] * e->to_csound;
      }
    }
    if (held) {
      midi_feed_held(e, done + n);
    } else if (midi) {
      midi_feed(e, midi, done + n);
    }
    e->in_fill += n;
    done += n;
    if (e->in_fill == k) {
      e->in_fill = 0;
      const uint32_t block_frame = e->fifo_frames; /* where its output begins */
      engine_transport_block(e, block_frame);
      if (e->cycle_freewheel) {
        /* Freewheeling, a cycle has no deadline and may take long (a render
         * slower than real time): the watchdog's limit is for one k-block. */
        atomic_store_explicit(&e->rt_busy_since_ns, engine_now_ns(), memory_order_relaxed);
      }
      const uint64_t block_t0 = engine_now_ns();
      /* With Csound's own workers (-j), the JACK thread waits for them at
       * each k-block's barriers: the block's time it did not run. */
      const uint64_t block_cpu0 = e->csound_threads ? engine_cpu_ns() : 0;
      ENGINE_FOREIGN(e, performing = perform_block(e));
      const uint64_t block_ns = engine_now_ns() - block_t0;
      if (e->csound_threads) {
        const uint64_t ran = engine_cpu_ns() - block_cpu0;
        if (block_ns > ran) {
          atomic_fetch_add_explicit(&e->barrier_wait_ns, block_ns - ran, memory_order_relaxed);
        }
      }
      if (first_block) {
        e->cycle_first_block_ns = block_ns;
        first_block = false;
      } else {
        e->cycle_other_blocks_ns += block_ns;
        ++e->cycle_other_blocks;
      }
      if (midi && performing) {
        midi_emit(e, block_frame);
      }
    }
  }
  if (!performing) {
    midi_lost(e, midi, e->midi_in_next);
  }

  const uint32_t ready = e->fifo_frames < nframes ? e->fifo_frames : nframes;
  for (uint32_t c = 0; c < e->n_out; ++c) {
    memcpy(out[c], e->fifo[c], ready * sizeof(float));
    memmove(e->fifo[c], e->fifo[c] + ready, (e->fifo_frames - ready) * sizeof(float));
  }
  e->fifo_frames -= ready;
  if (ready < nframes) {
    write_silence(out, e->n_out, ready, nframes);
  }
}

/* Hands the cycle's output, as JACK got it, to the recording if any.
 * Freewheeling (and only then) the recorder may wait for the disk: that
 * wait is neither Csound's (the watchdog does not see it) nor the
 * callback's work (callback_ns_* leave it out; record_wait_ns has it). */
static void
record_cycle(CsjEngine *e, float *const *out, uint32_t nframes)
{
  /* Abandoned: a stuck thread's recording was closed under it. */
  if (e->exec.recorder && !atomic_load_explicit(&e->record_abandoned, memory_order_seq_cst)) {
    const bool may_wait = e->cycle_freewheel;
    const uint64_t busy = atomic_load_explicit(&e->rt_busy_since_ns, memory_order_relaxed);
    if (may_wait) {
      atomic_store_explicit(&e->rt_busy_since_ns, 0, memory_order_relaxed);
    }
    uint64_t waited = 0;
    const uint32_t lost =
      recorder_write(e->exec.recorder, (const float *const *)out, nframes, may_wait, &waited);
    if (may_wait && busy) {
      atomic_store_explicit(&e->rt_busy_since_ns, engine_now_ns(), memory_order_relaxed);
    }
    if (lost) {
      atomic_fetch_add_explicit(&e->record_dropped, lost, memory_order_relaxed);
    }
    if (waited) {
      e->cycle_wait_ns += waited;
      atomic_fetch_add_explicit(&e->record_wait_ns, waited, memory_order_relaxed);
    }
  }
}

static void
perform_cycle(CsjEngine *e, uint32_t nframes, const float *const *in, float *const *out)
{
  /* Where Csound's next k-block will sound: this cycle's output starts
   * with the FIFO's frames, then the blocks performed from now on. A new
   * period re-lays the FIFO first, so the commands see the layout the
   * cycle performs with. */
  if (nframes != e->period) {
    engine_reset_for_period(e, nframes);
  }
  e->cycle_frame = jack_backend_cycle_frame_time(e->jack);
  /* The transport first: a locate moves the score before the commands
   * place anything on it (engine_transport.c). */
  const TransportStep step = engine_transport_cycle(e);
  if (step.discard_block) {
    bool performing;
    ENGINE_FOREIGN(e, performing = perform_block_only(e));
    (void)performing; /* an end is the state, read below */
  }
  e->exec.next_block_frame = e->cycle_frame + e->fifo_frames;
  /* The k-blocks this cycle will perform, whose output starts there: a
   * stamped event beyond them waits in the held queue. */
  e->exec.horizon = e->exec.paused || !step.play ? 0 : (e->in_fill + nframes) / e->ksmps * e->ksmps;
  if (commands_drain(e) == DRAIN_CSOUND_ABORTED) {
    /* A fatal error in a merge left Csound's lock with this thread. */
    engine_finish(e, CSJ_END_CSOUND_ERROR, csound_adapter_exit_code(e->csound));
  }
  if (atomic_load_explicit(&e->stop_requested, memory_order_relaxed)) {
    engine_finish(e, CSJ_END_STOPPED, 0);
  }
  if (atomic_load_explicit(&e->state, memory_order_relaxed) != ENGINE_PERFORMING) {
    write_silence(out, e->n_out, 0, nframes);
    return;
  }
  if (e->exec.process_fn) {
    ENGINE_FOREIGN(
      e, e->exec.process_fn(e, csound_adapter_handle(e->csound), nframes, e->exec.process_data));
  }
  /* After the commands: a pause among them holds this cycle already. */
  if (e->exec.paused || !step.play) {
    write_silence(out, e->n_out, 0, nframes);
    midi_lost(e, e->midi_cycle, 0);
  } else {
    perform_frames(e, nframes, in, out);
    engine_transport_cycle_end(e);
  }
  record_cycle(e, out, nframes);
}

/*
 * What one score event costs the cycle, learnt from the cycles themselves.
 * Csound inserts each event into its sorted list (timed here: a cost that
 * grows with the list) and initialises it in the next k-block: the
 * cycle's first k-block less its other k-blocks' average, which already
 * run the new notes' audio. With one k-block a cycle there are no others:
 * the running time of cycles without events stands in for them. The cost
 * moves a quarter of the way to each new figure, so a heavy instrument's
 * events soon count as heavy.
 */
static void
learn_event_cost(CsjEngine *e, uint64_t ns)
{
  if (e->cycle_events == 0) {
    e->quiet_cycle_ns = e->quiet_cycle_ns ? (15 * e->quiet_cycle_ns + ns) / 16 : ns;
    return;
  }
  uint64_t init_ns;
  if (e->cycle_other_blocks) {
    const uint64_t usual = e->cycle_other_blocks_ns / e->cycle_other_blocks;
    init_ns = e->cycle_first_block_ns > usual ? e->cycle_first_block_ns - usual : 0;
  } else {
    const uint64_t rest = ns > e->cycle_event_place_ns ? ns - e->cycle_event_place_ns : 0;
    init_ns = rest > e->quiet_cycle_ns ? rest - e->quiet_cycle_ns : 0;
  }
  const uint64_t each = (e->cycle_event_place_ns + init_ns) / e->cycle_events;
  e->event_cost_ns = (3 * e->event_cost_ns + each) / 4;
  if (e->event_cost_ns < EVENT_COST_MIN_NS) {
    e->event_cost_ns = EVENT_COST_MIN_NS;
  }
  atomic_store_explicit(&e->event_cost_pub, e->event_cost_ns, memory_order_relaxed);
}

static void
process_cycle_body(CsjEngine *e, uint32_t nframes, const float *const *in, float *const *out)
{
  if (atomic_load_explicit(&e->state, memory_order_seq_cst) != ENGINE_PERFORMING ||
      nframes > MAX_PERIOD) {
    write_silence(out, e->n_out, 0, nframes);
    return;
  }
  /* One try, never a wait: a direct caller holding Csound costs this cycle
   * its sound, not the graph its deadline. */
  int expected = OWNER_NONE;
  if (!atomic_compare_exchange_strong_explicit(&e->owner, &expected, OWNER_RT, memory_order_acquire,
                                               memory_order_relaxed)) {
    atomic_fetch_add_explicit(&e->dropped_cycles, 1, memory_order_relaxed);
    if (expected == OWNER_PROMPT) {
      atomic_fetch_add_explicit(&e->prompt_dropped, 1, memory_order_relaxed);
    }
    write_silence(out, e->n_out, 0, nframes);
    midi_lost(e, e->midi_cycle, 0);
    /* JACK got silence for this cycle: so does the recording, which stays
     * as long as the performance. The recorder is the JACK thread's own
     * (set by commands it runs), not Csound's: no ownership needed. */
    record_cycle(e, out, nframes);
    return;
  }
  const uint64_t t0 = engine_now_ns();
  const uint64_t cpu0 = engine_cpu_ns();
  atomic_store_explicit(&e->rt_busy_since_ns, t0, memory_order_relaxed);
  e->cycle_foreign_ns = 0;
  e->cycle_start_ns = t0;
  e->cycle_events = 0;
  e->cycle_event_place_ns = 0;
  e->cycle_first_block_ns = 0;
  e->cycle_other_blocks_ns = 0;
  e->cycle_other_blocks = 0;
  const uint32_t cycle_rate = atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  e->command_budget_ns =
    cycle_rate ? (uint64_t)nframes * 1000000000u / cycle_rate * COMMAND_BUDGET_PERCENT / 100 : 0;
  perform_cycle(e, nframes, in, out);
  atomic_store_explicit(&e->rt_busy_since_ns, 0, memory_order_relaxed);
  const uint64_t cpu = engine_cpu_ns() - cpu0;
  const uint64_t wall = engine_now_ns() - t0;
  const uint64_t ns = wall > e->cycle_wait_ns ? wall - e->cycle_wait_ns : 0;
  /* Release: our Csound work happens before a direct caller's. */
  atomic_store_explicit(&e->owner, OWNER_NONE, memory_order_release);
  learn_event_cost(e, ns);
  atomic_store_explicit(&e->callback_ns_last, ns, memory_order_relaxed);
  if (ns > atomic_load_explicit(&e->callback_ns_max, memory_order_relaxed)) {
    atomic_store_explicit(&e->callback_ns_max, ns, memory_order_relaxed);
  }
  /* csjack's own CPU time in this callback is at most its own wall time
   * (the callback less the Csound and user sections) and at most the whole
   * callback's CPU time. The second bound matters when the thread stalled
   * (preempted, or its virtual CPU stolen): the wall time then counts the
   * stall as work, the CPU time does not. */
  const uint64_t own_wall = ns > e->cycle_foreign_ns ? ns - e->cycle_foreign_ns : 0;
  const uint64_t own = own_wall < cpu ? own_wall : cpu;
  if (own > atomic_load_explicit(&e->own_ns_max, memory_order_relaxed)) {
    atomic_store_explicit(&e->own_ns_max, own, memory_order_relaxed);
  }
  /* Freewheeling, a cycle has no deadline to be late for. */
  const uint32_t rate = atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  if (!e->cycle_freewheel && rate && ns * rate > (uint64_t)nframes * 1000000000u) {
    atomic_fetch_add_explicit(&e->callbacks_late, 1, memory_order_relaxed);
  }
}

/* Publishes this cycle's timing for the prompt path (engine_direct.c): a
 * seqlock of a few atomic stores, and jack_get_cycle_times, which only this
 * thread may call. Real-time safe. */
static bool
publish_cycle_begin(CsjEngine *e)
{
  uint64_t current = 0, next = 0;
  float period = 0;
  if (!e->jack || !jack_backend_cycle_times(e->jack, &current, &next, &period)) {
    return false;
  }
  const uint64_t now = jack_backend_now_usecs();
  /* When this cycle was due. A callback can begin late (the scheduler, a
   * busy machine) and the driver then catches up, so the next cycle comes
   * sooner than a period after this one's start. A tracker of the
   * schedule: it follows a start earlier than expected at once, skips
   * whole missed periods, and follows lateness only slowly (a sixteenth),
   * so the next start is predicted from the schedule, not from a late
   * callback. JACK's own cycle start is no help on every driver: the
   * dummy driver's lags our callbacks by milliseconds. */
  const uint64_t p = next > current ? next - current : (uint64_t)period;
  uint64_t due = now;
  if (e->cycle_due_rt && p) {
    uint64_t expect = e->cycle_due_rt + p;
    if (now >= expect) {
      uint64_t late = now - expect;
      expect += late / p * p;
      due = expect + (late % p) / 16;
    }
  }
  e->cycle_due_rt = due;
  const uint32_t seq = atomic_load_explicit(&e->cycle_seq, memory_order_relaxed);
  atomic_store_explicit(&e->cycle_seq, seq + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&e->cycle_current_us, current, memory_order_relaxed);
  atomic_store_explicit(&e->cycle_next_us, next, memory_order_relaxed);
  atomic_store_explicit(&e->cycle_period_us, (uint64_t)period, memory_order_relaxed);
  atomic_store_explicit(&e->cycle_begin_us, now, memory_order_relaxed);
  atomic_store_explicit(&e->cycle_due_us, due, memory_order_relaxed);
  atomic_store_explicit(&e->cycle_end_us, 0, memory_order_relaxed);
  atomic_store_explicit(&e->cycle_seq, seq + 2, memory_order_release);
  return true;
}

static void
process_cycle(void *context, uint32_t nframes, const float *const *in, float *const *out,
              JackMidiCycle *midi)
{
  CsjEngine *e = context;
  e->midi_cycle = midi; /* this cycle's MIDI buffers, NULL without MIDI ports */
  message_log_mark_realtime_thread(true);
  atomic_fetch_add_explicit(&e->cycles, 1, memory_order_relaxed);
  e->cycle_wait_ns = 0;
  e->cycle_freewheel = atomic_load_explicit(&e->freewheeling, memory_order_relaxed);
  if (e->jack) {
    atomic_store_explicit(&e->next_cycle_frame, jack_backend_cycle_frame_time(e->jack) + nframes,
                          memory_order_relaxed);
  }
  /* The audio rendered: cycles after the performance ended are not. */
  if (e->cycle_freewheel &&
      atomic_load_explicit(&e->state, memory_order_relaxed) == ENGINE_PERFORMING) {
    atomic_fetch_add_explicit(&e->freewheel_cycles, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->freewheel_frames, nframes, memory_order_relaxed);
  }
  /* Sequentially consistent, before the state is read (in the body): a
   * thread that sets the state FINISHED and then reads false here knows
   * that this cycle, and every later one, sees FINISHED. */
  atomic_store_explicit(&e->rt_in_cycle, true, memory_order_seq_cst);
  const bool published = publish_cycle_begin(e);
  process_cycle_body(e, nframes, in, out);
  if (published) {
    atomic_store_explicit(&e->cycle_end_us, jack_backend_now_usecs(), memory_order_release);
  }
  atomic_store_explicit(&e->rt_in_cycle, false, memory_order_release);
}

static void
on_xrun(void *context)
{
  CsjEngine *e = context;
  atomic_fetch_add_explicit(&e->xruns, 1, memory_order_relaxed);
}

static void
on_shutdown(void *context)
{
  CsjEngine *e = context;
  atomic_store_explicit(&e->server_gone, true, memory_order_release);
  /* Reconnecting, the supervisor takes it from here (engine_reconnect.c). */
  if (!e->reconnect_ms) {
    engine_finish(e, CSJ_END_SERVER_GONE, 0);
  }
}

static void
on_period_changed(void *context, uint32_t frames)
{
  /* The JACK thread re-lays its FIFO when it sees the new period; here we
   * only record it so the latency callback reports the right figure. */
  CsjEngine *e = context;
  atomic_store_explicit(&e->jack_period, frames, memory_order_relaxed);
  if (e->ksmps) {
    atomic_store_explicit(&e->latency, engine_added_latency_for(frames, e->ksmps),
                          memory_order_relaxed);
  }
}

static void
on_rate_changed(void *context, uint32_t rate)
{
  CsjEngine *e = context;
  atomic_store_explicit(&e->jack_rate, rate, memory_order_relaxed);
}

/* JACK's notification thread, which jackd waits for: the JACK thread sees
 * the flag from the first freewheel cycle on, and no longer after it. */
static void
on_freewheel(void *context, bool starting)
{
  CsjEngine *e = context;
  const uint64_t now = engine_now_ns();
  if (starting) {
    atomic_store_explicit(&e->freewheel_since_ns, now, memory_order_relaxed);
    atomic_store_explicit(&e->freewheeling, true, memory_order_release);
    return;
  }
  atomic_store_explicit(&e->freewheeling, false, memory_order_release);
  const uint64_t since = atomic_exchange_explicit(&e->freewheel_since_ns, 0, memory_order_relaxed);
  if (since && now > since) {
    atomic_fetch_add_explicit(&e->freewheel_ns, now - since, memory_order_relaxed);
  }
}

static uint32_t
added_latency(void *context)
{
  CsjEngine *e = context;
  return atomic_load_explicit(&e->latency, memory_order_relaxed);
}

JackCycleHandler
engine_cycle_handler(CsjEngine *e)
{
  const JackCycleHandler handler = {
    .context = e,
    .process = process_cycle,
    .xrun = on_xrun,
    .shutdown = on_shutdown,
    .period_changed = on_period_changed,
    .rate_changed = on_rate_changed,
    .added_latency = added_latency,
    .freewheel = on_freewheel,
  };
  return handler;
}
