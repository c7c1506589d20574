/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound 6.18's fatal errors and exitnow, made safe to perform on a JACK
 * thread.
 *
 * Csound 6.18 calls setjmp() only in the first csoundPerformKsmps() call
 * (guarded by its private `jumpset`), so a later exitnow or fatal error
 * longjmps into a stack frame that no longer exists. We avoid that twice:
 *
 *  1. `exitnow` is replaced, in Csound's own opcode table, by a version that
 *     records the exit code and returns. The performance then ends after the
 *     current block with no longjmp at all, and Csound's API lock is
 *     released normally, so the instance can be cleaned up on any thread.
 *
 *  2. For any other longjmp (csoundDie and friends), Csound's public
 *     `LongJmp` hook is pointed at a function that jumps to a sigsetjmp
 *     taken around the call that reached it (CSOUND6_GUARDED), a live
 *     frame of the same thread. Out of csoundPerformKsmps, Csound then
 *     leaves its recursive API lock held by the performing thread; see
 *     csound_adapter_aborted().
 *
 * The CSOUND struct's public part is reached through csdl.h, the header
 * Csound gives plugins. A layout check refuses to patch anything if the
 * header does not match the library.
 */

#include "csound6_internal.h"

#include <csound/csdl.h>

#include <math.h>
#include <stdlib.h>

static _Thread_local Csound6Guard *thread_guard;
/* The value Csound passed to its LongJmp, for the last jump on this thread. */
static _Thread_local int last_jump_code;

/* exitnow's data block, matching Csound's EXITNOW: one optional i-rate arg. */
typedef struct {
  OPDS h;
  MYFLT *retval;
} ExitNowArgs;

void
csound6_guard_push(Csound6Guard *guard)
{
  guard->outer = thread_guard;
  guard->code = 0;
  thread_guard = guard;
}

void
csound6_guard_pop(Csound6Guard *guard)
{
  thread_guard = guard->outer;
}

static int
csj_exitnow(CSOUND *csound, void *data)
{
  CsoundAdapter *cs = csoundGetHostData(csound);
  const ExitNowArgs *args = data;
  cs->exit_requested = true;
  cs->exit_code = (int)lrint(*args->retval);
  return OK;
}

static CS_NORETURN void
csj_long_jmp(CSOUND *csound, int retval)
{
  Csound6Guard *guard = thread_guard;
  if (guard) {
    guard->code = retval;
    last_jump_code = retval;
    siglongjmp(guard->env, 1);
  }
  /* A thread csjack did not start (one of Csound's own or a plugin's):
   * Csound's own jump target is the only one there can be. */
  CsoundAdapter *cs = csoundGetHostData(csound);
  cs->csound_long_jmp(csound, retval);
  abort(); /* not reached: Csound's LongJmp does not return */
}

/* The option checker's instance: only ever entered under a guard. */
static CS_NORETURN void
csj_long_jmp_scratch(CSOUND *csound, int retval)
{
  (void)csound;
  Csound6Guard *guard = thread_guard;
  if (!guard) {
    abort(); /* not reached: the checker always guards */
  }
  guard->code = retval;
  siglongjmp(guard->env, 1);
}

void
csound6_mark_aborted(CsoundAdapter *cs, int code)
{
  atomic_store_explicit(&cs->abort_code, code, memory_order_relaxed);
  atomic_store_explicit(&cs->aborted, true, memory_order_release);
}

/* The public part of CSOUND must match the library before we patch it. */
static bool
layout_matches(CSOUND *csound)
{
  return csound->GetSr == csoundGetSr && csound->GetKsmps == csoundGetKsmps &&
         csound->GetHostData == csoundGetHostData;
}

bool
csound6_install_guards(CsoundAdapter *cs)
{
  CSOUND *csound = cs->csound;
  if (!layout_matches(csound)) {
    return false;
  }
  OENTRY *exitnow = csound->find_opcode_exact(csound, "exitnow", "", "o");
  if (exitnow) {
    exitnow->iopadr = csj_exitnow;
  }
  cs->csound_long_jmp = csound->LongJmp;
  csound->LongJmp = csj_long_jmp;
  return exitnow != NULL;
}

bool
csound6_guard_scratch(CSOUND *scratch)
{
  if (!layout_matches(scratch)) {
    return false;
  }
  scratch->LongJmp = csj_long_jmp_scratch;
  return true;
}

CsoundBlockResult
csound_adapter_perform_block(CsoundAdapter *cs)
{
  if (cs->exit_requested) {
    return CSOUND_BLOCK_EXITNOW;
  }
  if (csound_adapter_aborted(cs)) {
    return CSOUND_BLOCK_ABORTED;
  }
  bool jumped;
  int done = 0;
  CSOUND6_GUARDED(jumped, done = csoundPerformKsmps(cs->csound));
  /* The block's MIDI input was Csound's to read in this k-cycle: what it
   * did not read (MIDI input off) is not kept for the next. */
  cs->midi_in_len = 0;
  cs->midi_in_pos = 0;
  if (jumped) {
    csound6_mark_aborted(cs, last_jump_code);
    return CSOUND_BLOCK_ABORTED;
  }
  if (cs->exit_requested) {
    return CSOUND_BLOCK_EXITNOW;
  }
  return done ? CSOUND_BLOCK_SCORE_END : CSOUND_BLOCK_OK;
}

int
csound_adapter_exit_code(const CsoundAdapter *cs)
{
  if (csound_adapter_aborted(cs)) {
    return atomic_load_explicit(&((CsoundAdapter *)cs)->abort_code, memory_order_relaxed);
  }
  return cs->exit_code;
}

void
csound_adapter_abandon(CsoundAdapter *cs)
{
  csound6_mark_aborted(cs, 1);
}

bool
csound_adapter_aborted(const CsoundAdapter *cs)
{
  return atomic_load_explicit(&((CsoundAdapter *)cs)->aborted, memory_order_acquire);
}
