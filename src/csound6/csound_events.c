/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Score events and score text into a performing instance, on the thread
 * that owns it. Each call runs under a jump target: a fatal error out of
 * one holds Csound's API lock, so it marks the instance aborted.
 */

#include "csound6_internal.h"

int
csound_adapter_score_event(CsoundAdapter *cs, char type, const double *pfields, int count,
                           bool absp2)
{
  /* csoundScoreEvent copies the p-fields into Csound's own event. */
  bool jumped;
  int result = 0;
  if (absp2) {
    CSOUND6_GUARDED(jumped,
                    result = csoundScoreEventAbsolute(cs->csound, type, pfields, count, 0.0));
  } else {
    CSOUND6_GUARDED(jumped, result = csoundScoreEvent(cs->csound, type, pfields, count));
  }
  if (jumped) {
    csound6_mark_aborted(cs, 1);
    return -1;
  }
  return result;
}

/* csjack.h's CSJ_MAX_PFIELDS: the engine refuses more before queueing. */
#define EVENT_MAX_PFIELDS 1024

/*
 * Csound 6.18 rounds a real-time event's k-block to the nearest (llrint
 * in time2kcnt) while the sample offset in the block is truncated from
 * p2, so an offset in the second half of a block would start one block
 * late: such events are handed over one block earlier, which lands them
 * in the right block at the right offset. Half a sample is added so that
 * Csound's truncation of p2 * sr never falls one sample short.
 */
int
csound_adapter_score_event_in(CsoundAdapter *cs, char type, const double *pfields, int count,
                              int64_t delta)
{
  if (count < 2 || count > EVENT_MAX_PFIELDS || delta < 0) {
    return csound_adapter_score_event(cs, type, pfields, count, false);
  }
  MYFLT p[EVENT_MAX_PFIELDS];
  for (int i = 0; i < count; ++i) {
    p[i] = (MYFLT)pfields[i];
  }
  const int64_t k = (int64_t)csoundGetKsmps(cs->csound);
  const int64_t now = (int64_t)csoundGetCurrentTimeSamples(cs->csound);
  const double sr = csoundGetSr(cs->csound);
  int64_t place = delta;
  /* The offset in its block: in the second half, Csound's rounding of the
   * block would make it one block late, unless handed over one earlier.
   * Never before now (Csound clamps p2 at 0; only the first block of the
   * performance can hit this, and plays the event at its start). */
  if (k > 1 && ((now + delta) % k) * 2 >= k && now + delta - k >= 0) {
    place -= k;
  }
  p[1] = (MYFLT)(((double)place + 0.5) / sr);
  bool jumped;
  int result = 0;
  CSOUND6_GUARDED(jumped, result = csoundScoreEvent(cs->csound, type, p, count));
  if (jumped) {
    csound6_mark_aborted(cs, 1);
    return -1;
  }
  return result;
}

void
csound_adapter_input_message(CsoundAdapter *cs, const char *line)
{
  bool jumped;
  CSOUND6_GUARDED(jumped, csoundInputMessage(cs->csound, line));
  if (jumped) {
    csound6_mark_aborted(cs, 1);
  }
}

void
csound_adapter_set_score_offset(CsoundAdapter *cs, double seconds)
{
  csoundSetScoreOffsetSeconds(cs->csound, seconds);
}

int
csound_adapter_rewind_score(CsoundAdapter *cs)
{
  /* Csound rewinds to the score's start and ends every note; with a score
   * offset set it would then skip to it in one go, which csjack does in
   * bounded steps itself (csound_adapter_skip_blocks): none is set. */
  bool jumped;
  CSOUND6_GUARDED(jumped, csoundRewindScore(cs->csound));
  if (jumped) {
    csound6_mark_aborted(cs, 1);
    return -1;
  }
  return 0;
}

int
csound_adapter_skip_blocks(CsoundAdapter *cs, uint64_t blocks)
{
  if (blocks == 0) {
    return 0;
  }
  /* Csound 6.18 turns an `a` statement's p3 into k-blocks as
   * (int64)(ekr * p3 + 0.5): the middle of the wanted count is exact. */
  MYFLT p[3] = {0, 0, 0};
  p[2] = (MYFLT)(((double)blocks) / csoundGetKr(cs->csound));
  bool jumped;
  int result = 0;
  CSOUND6_GUARDED(jumped, result = csoundScoreEvent(cs->csound, 'a', p, 3));
  if (jumped) {
    csound6_mark_aborted(cs, 1);
    return -1;
  }
  return result;
}
