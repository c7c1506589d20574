/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the files of the Csound 6.18 adapter share, and nothing outside
 * src/csound6 includes: the adapter's struct, the jump targets that catch
 * Csound's fatal errors, and the few calls one file makes into another.
 *
 * Who does what:
 *   csound_instance.c      create and destroy, messages, options, start,
 *                          the engine's parameters and audio blocks
 *   csound_guards.c        fatal errors (LongJmp) and exitnow; perform
 *   csound_midi.c          host MIDI: Csound's device callbacks
 *   csound_option_check.c  whether Csound accepts an option, asked of a
 *                          scratch instance
 *   csound_parse.c         parsing, screened for what crashes or hangs 6.18
 *   csound_compile.c       merges, evalCode, orchestra and CSD compiles
 *   csound_events.c        score events and score text
 *   csound_channels.c      channels and tables
 *   csound_paths.c         Csound's search paths
 *   csound_options.c       Csound's command line as csjack takes it (pure)
 */

#ifndef CSJ_CSOUND6_INTERNAL_H
#define CSJ_CSOUND6_INTERNAL_H

#include "csound_adapter.h"

#include <csound/csound.h>

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct CsoundAdapterImpl {
  CSOUND *csound;
  CsoundMessageSink sink;
  void *sink_data;

  /* Set by our exitnow on the thread that performs (or by global code at
   * compile time, before the JACK thread exists). */
  bool exit_requested;
  int exit_code;

  /* Set when Csound long-jumped out of a call that holds its API lock:
   * the instance must not be entered again (see csound_adapter_aborted). */
  _Atomic bool aborted;
  _Atomic int abort_code;
  /* Csound's own LongJmp, for threads csjack did not start. */
  void (*csound_long_jmp)(CSOUND *, int);

  /* Host MIDI (csound_midi.c): the bytes the engine hands Csound for the
   * next k-block, and the bytes Csound wrote since the engine last took
   * them. Fixed storage, touched only by the thread that owns Csound at
   * the time (the JACK thread during its cycle; a direct caller or the
   * control thread between cycles). */
  uint8_t midi_in[CSOUND_MIDI_IN_BYTES];
  size_t midi_in_len;
  size_t midi_in_pos;
  uint8_t midi_out[CSOUND_MIDI_OUT_BYTES];
  size_t midi_out_len;
  uint32_t midi_out_lost;
};

/* ---- Jump targets for Csound's fatal errors (csound_guards.c) ---- */

/*
 * Csound's fatal errors (csoundDie, an option it rejects, a missing
 * #include) call its LongJmp hook on whichever thread hit them. Each
 * thread that calls into Csound takes its own jump target around that
 * call, so the jump always lands in a live frame of the same thread.
 * Targets nest.
 */
typedef struct Csound6Guard {
  sigjmp_buf env;
  struct Csound6Guard *outer;
  int code; /* the value Csound passed to its LongJmp */
} Csound6Guard;

/* Makes @p guard this thread's innermost jump target, and takes it away
 * again. Real-time safe (a thread-local store). */
void csound6_guard_push(Csound6Guard *guard);
void csound6_guard_pop(Csound6Guard *guard);

/*
 * Runs STMT with a jump target on this thread. JUMPED becomes true when
 * Csound long-jumped out of it (STMT's results are then not set). The
 * sigsetjmp must be in the caller's own frame, hence a macro. No signal
 * mask is saved (savemask 0): a register save, no system call.
 */
#define CSOUND6_GUARDED(jumped, stmt)    \
  do {                                   \
    Csound6Guard guard_;                 \
    csound6_guard_push(&guard_);         \
    if (sigsetjmp(guard_.env, 0) == 0) { \
      stmt;                              \
      csound6_guard_pop(&guard_);        \
      (jumped) = false;                  \
    } else {                             \
      csound6_guard_pop(&guard_);        \
      (jumped) = true;                   \
    }                                    \
  } while (0)

/* After a jump out of a call that holds Csound's API lock: the instance
 * is left for good. Any thread. */
void csound6_mark_aborted(CsoundAdapter *cs, int code);

/* Points the new instance's LongJmp at csjack's jump targets and replaces
 * exitnow by a version that returns; false (nothing patched, or exitnow
 * not found) when the CSOUND struct does not match csdl.h. */
bool csound6_install_guards(CsoundAdapter *cs);

/* Points a scratch instance's LongJmp at this thread's jump target, which
 * every call into it must take; false when its layout does not match. */
bool csound6_guard_scratch(CSOUND *scratch);

/* ---- The rest ---- */

/* Csound's process-wide set-up, once: no signal handlers, no atexit. */
void csound6_initialize(void);

/* Installs the host MIDI callbacks on a new instance (csound_midi.c). */
void csound6_install_midi(CsoundAdapter *cs);

/* The messages of this thread's calls into Csound (csound_instance.c).
 * Muting keeps them from the sink (a screening parse whose messages would
 * repeat the real compile's); returns the previous setting. The error
 * count tells a caller that Csound reported an error even when its return
 * value says success. Both per thread. */
bool csound6_mute(bool mute);
unsigned csound6_thread_errors(void);

/* Csound's own command-line decoder, which takes an option at any time:
 * csoundSetOption refuses every option once anything is compiled. For
 * options that stay valid then (--env:NAME+=VALUE). The caller has Csound
 * to itself. 0 on success, -1 when refused (csound_instance.c). */
int csound6_decode_option(CsoundAdapter *cs, const char *option);

/* The orchestra inside a CSD, screened like any other code: true (and
 * said why) when Csound 6.18 must not compile it (csound_parse.c). */
bool csound6_csd_is_unsafe(CsoundAdapter *cs, const char *csd);

#endif
