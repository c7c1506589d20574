/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JACK transport and freewheel (see jack_transport.h).
 */

#include "jack_transport.h"

#include <jack/jack.h>
#include <jack/transport.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void
jack_transport_read(JackBackend *jb, JackTransportPos *pos)
{
  jack_position_t p;
  memset(&p, 0, sizeof p);
  const jack_transport_state_t state = jack_transport_query(jack_backend_client(jb), &p);
  memset(pos, 0, sizeof *pos);
  pos->rolling = state == JackTransportRolling;
  pos->frame = p.frame;
  pos->frame_rate = p.frame_rate;
  /* BBT only when a master filled it: other fields are stale otherwise. */
  if (p.valid & JackPositionBBT) {
    pos->bbt = true;
    pos->bar = p.bar;
    pos->beat = p.beat;
    pos->tick = p.tick;
    pos->beats_per_bar = p.beats_per_bar;
    pos->beat_type = p.beat_type;
    pos->ticks_per_beat = p.ticks_per_beat;
    pos->bpm = p.beats_per_minute;
  }
}

void
jack_timebase_set_bpm(JackTimebase *tb, double bpm)
{
  uint64_t bits;
  memcpy(&bits, &bpm, sizeof bits);
  atomic_store_explicit(&tb->bpm_bits, bits, memory_order_relaxed);
}

double
jack_timebase_bpm(JackTimebase *tb)
{
  const uint64_t bits = atomic_load_explicit(&tb->bpm_bits, memory_order_relaxed);
  double bpm;
  memcpy(&bpm, &bits, sizeof bpm);
  return bpm;
}

/* JACK calls it after process(), on the JACK thread, while rolling and
 * after a new position; @p pos is the next cycle's, its frame set by JACK.
 * A new position counts the beats from frame 0 at today's tempo, as
 * jack_transport's own master does; rolling, they advance by the frames
 * gone at the tempo now, so a tempo change bends the count, never jumps it. */
static void
on_timebase(jack_transport_state_t state, jack_nframes_t nframes, jack_position_t *pos, int new_pos,
            void *arg)
{
  (void)state;
  (void)nframes;
  JackTimebase *tb = arg;
  const double rate = pos->frame_rate ? (double)pos->frame_rate : 48000.0;
  const double bpm = jack_timebase_bpm(tb);
  const double per_frame = bpm / 60.0 / rate;
  if (new_pos || !tb->counted) {
    tb->beats = (double)pos->frame * per_frame;
  } else {
    tb->beats += (double)(uint32_t)(pos->frame - tb->last_frame) * per_frame;
  }
  tb->counted = true;
  tb->last_frame = pos->frame;

  const double bpb = tb->beats_per_bar > 0 ? tb->beats_per_bar : 4.0;
  const double tpb = tb->ticks_per_beat > 0 ? tb->ticks_per_beat : 1920.0;
  const double bars = floor(tb->beats / bpb);
  const double in_bar = tb->beats - bars * bpb;
  const double beat = floor(in_bar);
  pos->valid = (jack_position_bits_t)(pos->valid | JackPositionBBT);
  pos->bar = (int32_t)bars + 1;
  pos->beat = (int32_t)beat + 1;
  pos->tick = (int32_t)((in_bar - beat) * tpb);
  pos->bar_start_tick = bars * bpb * tpb;
  pos->beats_per_bar = (float)bpb;
  pos->beat_type = tb->beat_type > 0 ? tb->beat_type : 4.0f;
  pos->ticks_per_beat = tpb;
  pos->beats_per_minute = bpm;
}

int
jack_transport_become_master(JackBackend *jb, JackTimebase *tb, char *why, size_t why_size)
{
  tb->counted = false;
  const int rc = jack_set_timebase_callback(jack_backend_client(jb), 1, on_timebase, tb);
  if (rc == 0) {
    return 0;
  }
  if (rc == EBUSY || rc == -EBUSY) {
    snprintf(why, why_size,
             "cannot be the JACK timebase master: another client is (csjack takes it only "
             "when none has it)");
  } else {
    snprintf(why, why_size, "cannot be the JACK timebase master: JACK refused (%d)", rc);
  }
  return -1;
}

void
jack_transport_release_master(JackBackend *jb)
{
  (void)jack_release_timebase(jack_backend_client(jb));
}

int
jack_transport_set_freewheel(JackBackend *jb, bool on)
{
  return jack_set_freewheel(jack_backend_client(jb), on ? 1 : 0) == 0 ? 0 : -1;
}
