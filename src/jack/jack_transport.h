/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JACK transport and freewheel, for the engine: what the transport
 * says at a cycle's first frame, csjack as the timebase master, and the
 * server's freewheel switch. Beside jack_backend.c, the only other file
 * that calls the JACK API.
 */

#ifndef CSJ_JACK_TRANSPORT_H
#define CSJ_JACK_TRANSPORT_H

#include "jack_backend.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The transport at the first frame of the current cycle. */
typedef struct {
  bool rolling;        /**< JackTransportRolling (Starting counts as stopped) */
  uint32_t frame;      /**< the transport's frame */
  uint32_t frame_rate; /**< the position's frame rate (the server's) */
  bool bbt;            /**< a timebase master gave the fields below */
  int32_t bar;         /**< from 1 */
  int32_t beat;        /**< from 1 */
  int32_t tick;        /**< from 0 */
  float beats_per_bar;
  float beat_type;
  double ticks_per_beat;
  double bpm;
} JackTransportPos;

/**
 * Reads the transport (jack_transport_query). In the process callback it
 * describes the cycle's first frame. Real-time safe; any thread.
 */
void jack_transport_read(JackBackend *jb, JackTransportPos *pos);

/**
 * csjack's side of being the timebase master: the tempo it counts with
 * (bits of a double, written by the engine after each cycle, read by the
 * timebase callback after process() on the same thread), the meter, and
 * the callback's own running count. Owned by the engine, which outlives
 * the JACK client.
 */
typedef struct {
  _Atomic uint64_t bpm_bits; /**< beats per minute, a double's bits */
  float beats_per_bar;
  float beat_type;
  double ticks_per_beat;
  /* The callback's own (JACK thread): where the count stood. */
  bool counted;
  uint32_t last_frame;
  double beats; /**< beats from the transport's frame 0 at last_frame */
} JackTimebase;

/** Sets the tempo the master counts with. Any thread; real-time safe. */
void jack_timebase_set_bpm(JackTimebase *tb, double bpm);
double jack_timebase_bpm(JackTimebase *tb);

/**
 * Becomes the timebase master if there is none (conditional): 0; -1 when
 * another client is master or JACK refused, with one line in @p why.
 * @p tb must stay valid until the client is closed.
 * Thread: not the JACK thread. Real-time safe: no.
 */
int jack_transport_become_master(JackBackend *jb, JackTimebase *tb, char *why, size_t why_size);

/** Gives the timebase back (jack_release_timebase). Not the JACK thread. */
void jack_transport_release_master(JackBackend *jb);

/**
 * Asks the server to start (@p on) or stop freewheeling (jack_set_freewheel):
 * every client's graph then runs back to back. 0, or -1 when JACK refused.
 * Thread: not the JACK thread. Real-time safe: no.
 */
int jack_transport_set_freewheel(JackBackend *jb, bool on);

#endif
