/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tempo a CSD's score starts at: its `t` statement, for csjack as the
 * JACK timebase master.
 */

#ifndef CSJ_SCORE_TEMPO_H
#define CSJ_SCORE_TEMPO_H

#include <stdbool.h>

/*
 * Finds the first `t` statement of the <CsScore> element of @p csd and
 * gives the tempo it sets at beat 0 (`t 0 BPM ...`, beats per minute), and
 * whether it changes later (*changes: more pairs with another tempo).
 * Comments (a semicolon, a double slash, a slash-star block) are skipped. False when there is no score, no
 * `t` statement, or its first pair is not at beat 0 with a tempo above 0.
 * Pure: any thread, real-time safe (no allocation).
 */
bool score_tempo_at_start(const char *csd, double *bpm, bool *changes);

#endif
