/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JACK transport in the engine: the transport channels the orchestra
 * reads, the score following the transport (CSJ_TRANSPORT_FOLLOW), csjack
 * as timebase master, and the freewheel switch.
 */

#ifndef CSJ_ENGINE_TRANSPORT_H
#define CSJ_ENGINE_TRANSPORT_H

#include "engine_state.h"

/* Takes the options' transport settings. Before start. */
void engine_transport_configure(CsjEngine *e, const CsjOptions *opts);

/* Notes the tempo of the CSD's score (its `t` statement), which a
 * timebase master counts with until the orchestra sets one. Before start. */
void engine_transport_take_score(CsjEngine *e, const char *csd);

/* Finds or creates the transport channels in Csound. The control thread,
 * owning Csound, after Csound started and before the first cycle. Not
 * real-time safe (Csound creates channels). */
void engine_transport_prepare(CsjEngine *e);

/* Becomes the timebase master if asked to (after activation): a message
 * when another client is. Not real-time safe. */
void engine_transport_activated(CsjEngine *e);

/* What a cycle does with the score after the transport step. */
typedef struct {
  bool play;          /* perform the cycle's k-blocks (else: silence) */
  bool discard_block; /* perform one k-block first and drop its output: it
                       * carries out the skip queued for a locate */
} TransportStep;

/*
 * The JACK thread, at a cycle's start, owning Csound: reads the transport
 * (its position at the cycle's first frame); following it, moves the score
 * to it (a rewind, then a skip of at most TRANSPORT_SKIP_BLOCKS k-blocks
 * per cycle) and says whether to perform. Real-time safe: csjack's share.
 */
TransportStep engine_transport_cycle(CsjEngine *e);

/* The JACK thread, before the k-block whose output starts @p out_offset
 * frames into this cycle's output: writes the transport channels.
 * Real-time safe. */
void engine_transport_block(CsjEngine *e, uint32_t out_offset);

/* The JACK thread, at the end of a performing cycle: the tempo the
 * timebase master counts with, from the transport_bpm channel.
 * Real-time safe. */
void engine_transport_cycle_end(CsjEngine *e);

/* The transport's figures for csj_engine_stats. Any thread. */
void engine_transport_stats(const CsjEngine *e, CsjStats *out);

/* The most k-blocks of score time one cycle skips toward a located
 * position: Csound passes each in some 20-30 ns (measured: docs/design.md),
 * so this bounds a locate's cost to about a millisecond a cycle. */
#define TRANSPORT_SKIP_BLOCKS 40000u

/* How long csj_engine_set_freewheel waits for the first freewheeling
 * cycle before it gives the server back to real time. */
#define FREEWHEEL_FIRST_CYCLE_MS 2000

#endif
