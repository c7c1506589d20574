/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound as the rest of csjack sees it: an instance behind functions and
 * plain types. No Csound header and no Csound type here, so that each
 * Csound major version has its own implementation in its own folder
 * (src/csound6: Csound 6.18), chosen with the meson option `csound`; the
 * engine, the tests and everything above them are the same for all.
 *
 * Threads. The engine hands Csound from thread to thread but never lets
 * two threads in at once, except where a function says otherwise:
 * "the owner" below is the thread that has Csound to itself at the time:
 * the thread that creates the engine, before start; during the
 * performance the JACK thread in its cycle, or a direct caller (or the
 * control thread) between two cycles. The real-time notes speak of csjack's
 * share; what Csound does inside a call is Csound's (a note-on without
 * prealloc allocates, for example).
 *
 * Fatal errors. Every call below that can reach Csound's fatal-error exit
 * catches it on the calling thread, around that call. Out of a parse or an
 * option check it is only an error for that call. Out of a call that holds
 * Csound's API lock (perform, merge, events) it marks the instance aborted:
 * nothing may enter it again (csound_adapter_aborted).
 */

#ifndef CSJ_CSOUND_ADAPTER_H
#define CSJ_CSOUND_ADAPTER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CsoundAdapterImpl CsoundAdapter;

/** Receives Csound's messages, on whichever thread Csound prints: @p attr
 *  is Csound's message attribute (type and colour bits), @p fmt and
 *  @p args a printf format and its arguments. */
typedef void (*CsoundMessageSink)(void *data, int attr, const char *fmt, va_list args);

/** What one csound_adapter_perform_block() call ended with. */
typedef enum {
  CSOUND_BLOCK_OK = 0,    /**< One ksmps block performed; go on. */
  CSOUND_BLOCK_SCORE_END, /**< The score ended (end of score or `e`). */
  CSOUND_BLOCK_EXITNOW,   /**< The orchestra ran exitnow. */
  CSOUND_BLOCK_ABORTED,   /**< A fatal error ended it (see csound_adapter_aborted). */
} CsoundBlockResult;

/* ---- The instance ---- */

/**
 * Creates a Csound instance whose audio is csjack's (spin and spout, no
 * audio device) and whose MIDI is csjack's (csound_adapter_enable_midi),
 * with no signal handlers and no atexit hooks, its messages routed to
 * @p sink, and `exitnow` made to end the performance after the block.
 * NULL when Csound cannot be created.
 * Thread: any (the instance is then this thread's). Real-time safe: no.
 */
CsoundAdapter *csound_adapter_new(CsoundMessageSink sink, void *sink_data);

/**
 * Destroys the instance; an aborted or abandoned one is left to the
 * process's exit (Csound's lock may still be held) and only csjack's part
 * is freed. NULL is a no-op.
 * Thread: the owner, nothing performing. Real-time safe: no.
 */
void csound_adapter_free(CsoundAdapter *cs);

/** Sets one command-line option (one word, as `-r44100` or
 *  `--ksmps=64`). 0 on success, -1 when Csound refused it.
 *  Thread: the owner, before the first compile. Real-time safe: no. */
int csound_adapter_set_option(CsoundAdapter *cs, const char *option);

/**
 * Whether Csound accepts @p option (one word, as set_option takes it),
 * tried on a scratch instance so a refusal leaves no trace on a real one.
 * 0 when accepted; -1 with Csound's first error line in @p why.
 * Thread: any. Real-time safe: no (creates a Csound instance).
 */
int csound_adapter_check_option(const char *option, char *why, size_t why_size);

/** Switches Csound's --realtime mode off if an option turned it on; true
 *  if it did. Only effective before the first compile.
 *  Thread: the owner. Real-time safe: no. */
bool csound_adapter_clear_realtime_mode(CsoundAdapter *cs);

/** Loads every plugin library in @p dir now, before compiling. 0 on
 *  success. Thread: the owner. Real-time safe: no. */
int csound_adapter_load_plugins(CsoundAdapter *cs, const char *dir);

/**
 * Adds the folder @p dir (absolute) to Csound's search paths for #include,
 * sound files, analysis files and MIDI files, as Csound's command line
 * does for the folder of the CSD it plays: a name is looked up as given
 * first (the current directory), then in the folders, the last added
 * first. A folder already listed is left as it is. Takes effect at once,
 * also after start: the next #include, and the next note that opens a
 * file. 0 on success; -1 when @p dir holds ':' or ';' (Csound's
 * separators: it cannot be one folder there) or Csound refused.
 * Thread: the owner, with no parse running. Real-time safe: no.
 */
int csound_adapter_add_search_dir(CsoundAdapter *cs, const char *dir);

/** Compiles a whole CSD before start (orchestra code, before start or
 *  after: csound_adapter_compile_orc). 0 on success. Thread: the owner.
 *  Real-time safe: no. */
int csound_adapter_compile_csd_text(CsoundAdapter *cs, const char *text);

/** Starts the engine (instr 0, the score). 0 on success.
 *  Thread: the owner. Real-time safe: no. */
int csound_adapter_start(CsoundAdapter *cs);

/** The engine's parameters, valid after start.
 *  Thread: any. Real-time safe: yes (reads). */
uint32_t csound_adapter_ksmps(const CsoundAdapter *cs);
uint32_t csound_adapter_output_channels(const CsoundAdapter *cs);
uint32_t csound_adapter_input_channels(const CsoundAdapter *cs);
double csound_adapter_sample_rate(const CsoundAdapter *cs);
double csound_adapter_0dbfs(const CsoundAdapter *cs);

/** Csound's score time, seconds: where the next k-block begins.
 *  Thread: the owner. Real-time safe: yes. */
double csound_adapter_score_time(const CsoundAdapter *cs);

/**
 * Csound's own handle for this instance (its CSOUND*), for user code that
 * calls Csound's API itself: csjack's tasks and process callbacks get it.
 * Thread: any. Real-time safe: yes.
 */
void *csound_adapter_handle(CsoundAdapter *cs);

/** The adapter whose handle @p handle is (csound_adapter_handle's
 *  inverse); NULL for NULL. Thread: any. Real-time safe: yes. */
CsoundAdapter *csound_adapter_from_handle(void *handle);

/* ---- Performing ---- */

/**
 * Csound's interleaved audio blocks, [frame * channels + channel], in 0dbfs
 * units. spin has ksmps * input_channels samples and spout
 * ksmps * output_channels. Valid after start.
 * Thread: the owner. Real-time safe: yes.
 */
double *csound_adapter_spin(CsoundAdapter *cs);
const double *csound_adapter_spout(CsoundAdapter *cs);

/**
 * Performs one ksmps block, with a jump target in this call's own frame
 * for Csound's fatal errors.
 * Thread: the owner (the JACK thread). Real-time safe: yes, csjack's share
 * (a jump target without signal mask: no system call).
 */
CsoundBlockResult csound_adapter_perform_block(CsoundAdapter *cs);

/** exitnow's argument after CSOUND_BLOCK_EXITNOW; after an abort, the
 *  fatal error's code. Thread: any, after that block. Real-time safe: yes. */
int csound_adapter_exit_code(const CsoundAdapter *cs);

/**
 * Whether the instance was aborted by a fatal error in a call that held
 * Csound's API lock, or abandoned. The lock then stays held by the thread
 * that was in it, so the instance can be neither entered nor cleaned up
 * again: csound_adapter_free() leaves it to the process's exit.
 * Thread: any. Real-time safe: yes (an atomic load).
 */
bool csound_adapter_aborted(const CsoundAdapter *cs);

/** Marks the instance as one that must not be entered or cleaned up again
 *  (a thread may have been stopped inside it): csound_adapter_free() then
 *  frees csjack's part only. Thread: any. Real-time safe: yes. */
void csound_adapter_abandon(CsoundAdapter *cs);

/* ---- MIDI: csjack's JACK ports are Csound's MIDI devices ---- */

/** Bytes of MIDI input one k-block can take, and of output it can keep. */
#define CSOUND_MIDI_IN_BYTES 4096u
#define CSOUND_MIDI_OUT_BYTES 8192u

/** Turns Csound's MIDI input and output on (as -M0 -Q0 would), through
 *  csjack's buffers below. Thread: the owner, before compiling.
 *  Real-time safe: no. */
void csound_adapter_enable_midi(CsoundAdapter *cs);

/**
 * Appends one MIDI message's bytes to what Csound reads in the next k-block
 * (csound_adapter_perform_block; what it does not read is dropped after
 * it). False when the block's buffer is full: dropped.
 * Thread: the owner. Real-time safe: yes.
 */
bool csound_adapter_midi_in_push(CsoundAdapter *cs, const uint8_t *data, size_t size);

/**
 * The bytes Csound's MIDI opcodes wrote since the last clear, in order
 * (whole messages as Csound wrote them), their count in *size, and in
 * *lost how many writes were dropped because the buffer was full.
 * Thread: the owner. Real-time safe: yes.
 */
const uint8_t *csound_adapter_midi_out(CsoundAdapter *cs, size_t *size, uint32_t *lost);
void csound_adapter_midi_out_clear(CsoundAdapter *cs);

/* ---- Events and score text ---- */

/** A score event of @p type ('i', 'f', 'e', ...) with @p count p-fields,
 *  copied. p2 counts from Csound's current time, or from the start of the
 *  performance when @p absp2. Csound's result: 0 on success; -1 after a
 *  fatal error. Thread: the owner. Real-time safe: yes, csjack's share. */
int csound_adapter_score_event(CsoundAdapter *cs, char type, const double *pfields, int count,
                               bool absp2);
/**
 * An event that starts exactly @p delta samples after Csound's current
 * time (the start of its next k-block; 0 = at once): p2 is set from
 * @p delta (the caller's p2 is replaced). With --sample-accurate on, an
 * 'i' event then starts at that very sample. At most CSJ_MAX_PFIELDS
 * p-fields. Thread: the owner. Real-time safe: yes, csjack's share (a
 * stack copy of the p-fields).
 */
int csound_adapter_score_event_in(CsoundAdapter *cs, char type, const double *pfields, int count,
                                  int64_t delta);
/** Score text, one or more lines of Csound's score language, as
 *  real-time events. Thread: the owner. Real-time safe: yes, csjack's
 *  share. */
void csound_adapter_input_message(CsoundAdapter *cs, const char *line);
/** Where the score starts, seconds into it. Thread: the owner.
 *  Real-time safe: yes, csjack's share. */
void csound_adapter_set_score_offset(CsoundAdapter *cs, double seconds);
/** Rewinds the score to its start: every note ends, pending real-time
 *  events are dropped, score time is 0. 0, or -1 after a fatal error.
 *  Thread: the owner. Real-time safe: csjack's share (Csound's part ends
 *  notes and re-reads its sorted score). */
int csound_adapter_rewind_score(CsoundAdapter *cs);
/**
 * Skips @p blocks k-blocks of score time without performing them (an `a`
 * statement): notes that would start inside are not started. Carried out
 * by the next perform_block, which skips them all and then performs one
 * block: Csound's cost grows with @p blocks (some 20 ns each), so the
 * caller bounds it. 0, or -1 after a fatal error.
 * Thread: the owner. Real-time safe: yes, csjack's share.
 */
int csound_adapter_skip_blocks(CsoundAdapter *cs, uint64_t blocks);

/* ---- Compiling while performing ---- */

/**
 * Parses orchestra code into an opaque tree. NULL on a syntax error, and
 * for code Csound could not survive (an #include that reads without end,
 * a constant that folds to inf or nan), which is said through the sink.
 * A parse may run while another thread performs, never while another
 * merges (csound_adapter_compile_tree), and one at a time.
 * Thread: the worker, or a direct caller. Real-time safe: no.
 */
void *csound_adapter_parse(CsoundAdapter *cs, const char *code);
/** The same, printing nothing: for trial parses whose failure is expected. */
void *csound_adapter_parse_quiet(CsoundAdapter *cs, const char *code);
/** Frees a tree from csound_adapter_parse. Thread: any but the JACK
 *  thread (the worker, or a direct caller). Real-time safe: no. */
void csound_adapter_free_tree(CsoundAdapter *cs, void *tree);
/**
 * Merges a parsed tree into the running engine and runs its instr 0 code.
 * Returns 0 on success and sets *retval to what `return` set (NaN when
 * nothing was returned); -2 when the code was merged but Csound reported
 * an error while running it (an init error in the global code); -1 when
 * it failed (a fatal error also marks the instance aborted).
 * Thread: the owner, no parse running. Real-time safe: no (Csound
 * allocates while merging; csjack's share allocates nothing).
 */
int csound_adapter_compile_tree(CsoundAdapter *cs, void *tree, double *retval);

/** Parse and merge in one call, for the direct path: *result as
 *  compile_tree's return, the value `return` set as the result. Thread:
 *  the owner, no parse running elsewhere. Real-time safe: no. */
double csound_adapter_eval_code(CsoundAdapter *cs, const char *code, int *result);
int csound_adapter_compile_orc(CsoundAdapter *cs, const char *code);

/* ---- Channels and tables ---- */

/** Finds or creates a control channel; the address of its value, which
 *  stays valid for the instance's life. NULL when Csound refuses.
 *  Thread: the owner. Real-time safe: no. */
double *csound_adapter_control_channel(CsoundAdapter *cs, const char *name);
/** One channel for csound_adapter_each_channel: a control channel's
 *  @p value (with @p text NULL), or a string channel's @p text. */
typedef void (*CsoundChannelFn)(void *data, const char *name, double value, const char *text);
/** Calls @p fn for each control and string channel Csound has (audio and
 *  pvs channels are left out). The number of channels, or -1.
 *  Thread: the owner. Real-time safe: no (Csound allocates the list). */
int csound_adapter_each_channel(CsoundAdapter *cs, CsoundChannelFn fn, void *data);
/** Sets a string channel (created if need be). 0 on success, -1 when
 *  Csound refuses. Thread: the owner (the JACK thread: queued).
 *  Real-time safe: yes, csjack's share. */
int csound_adapter_set_string_channel(CsoundAdapter *cs, const char *name, const char *text);
/** Copies a string channel's text into @p out: 0; -2 when it does not fit;
 *  -1 when there is no such channel. Thread: the owner. Real-time safe:
 *  no (allocates a copy). */
int csound_adapter_get_string_channel(CsoundAdapter *cs, const char *name, char *out,
                                      size_t out_size);

/** A table's data (in place) and its length; -1 when there is no table.
 *  Thread: the owner. Real-time safe: yes, csjack's share. */
int csound_adapter_table(CsoundAdapter *cs, int table, double **data);

#endif
