/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Csound adapter: the only file that calls the Csound API.
 *
 * A port to Csound 7's renamed API touches csound_adapter.c alone. The rest
 * of csjack sees a Csound instance through these functions and plain types.
 */

#ifndef CSJ_CSOUND_ADAPTER_H
#define CSJ_CSOUND_ADAPTER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CsoundAdapterImpl CsoundAdapter;

/** Receives Csound's messages (on whichever thread Csound prints). */
typedef void (*CsoundMessageSink)(void *data, int attr, const char *fmt, va_list args);

/** What one csound_adapter_perform_block() call ended with. */
typedef enum {
  CSOUND_BLOCK_OK = 0,    /**< One ksmps block performed; go on. */
  CSOUND_BLOCK_SCORE_END, /**< The score ended (end of score or `e`). */
  CSOUND_BLOCK_EXITNOW,   /**< The orchestra ran exitnow. */
  CSOUND_BLOCK_ABORTED,   /**< Csound long-jumped out (a fatal error). */
} CsoundBlockResult;

/**
 * Creates a Csound instance with host-implemented audio, no signal handlers
 * and no atexit hooks, its messages routed to @p sink, and `exitnow`
 * replaced by a version that ends the performance without a longjmp.
 * NOT real-time safe.
 */
CsoundAdapter *csound_adapter_new(CsoundMessageSink sink, void *sink_data);

/** Destroys the instance. NULL is a no-op. NOT real-time safe. */
void csound_adapter_free(CsoundAdapter *cs);

/** Sets a command-line option before compiling. 0 on success, -1 when
 *  Csound refused it (also when it long-jumped: the jump is caught). */
int csound_adapter_set_option(CsoundAdapter *cs, const char *option);

/** The same through Csound's own command-line decoder, which takes an
 *  option at any time: csoundSetOption refuses every option once anything
 *  is compiled. For options that stay valid then (--env:NAME+=VALUE).
 *  The caller has Csound to itself. 0 on success, -1 when refused. */
int csound_adapter_decode_option(CsoundAdapter *cs, const char *option);

/**
 * Adds the folder @p dir (absolute) to Csound's search paths for #include
 * (INCDIR), sound files (SSDIR), analysis files (SADIR) and MIDI files
 * (MFDIR), as Csound's command line does for the folder of the CSD it
 * plays: a name is looked up as given first (the current directory), then
 * in the folders, the last added first. A path that lists @p dir already is
 * left as it is. Csound frees its search-path cache here, so the caller has
 * Csound to itself and no parse runs. Takes effect at once, also after
 * start: the next #include, and the next note that opens a file.
 * 0 on success; -1 when @p dir holds ':' or ';' (Csound's separators: it
 * cannot be one folder there) or Csound refused. In csound_paths.c.
 */
int csound_adapter_add_search_dir(CsoundAdapter *cs, const char *dir);

/**
 * Whether Csound accepts @p option (one word, as csoundSetOption takes it),
 * tried on a scratch instance so a refusal leaves no trace on the real one.
 * 0 when accepted; -1 with Csound's first error line in @p why.
 * NOT real-time safe.
 */
int csound_adapter_check_option(const char *option, char *why, size_t why_size);

/* Switches Csound's --realtime mode off if an option turned it on; true if
 * it did. Only effective before the first compile. */
bool csound_adapter_clear_realtime_mode(CsoundAdapter *cs);

/** Loads every plugin library in @p dir now, before compiling. 0 on success. */
int csound_adapter_load_plugins(CsoundAdapter *cs, const char *dir);

/** Compile before start. 0 on success. NOT real-time safe. */
int csound_adapter_compile_csd_text(CsoundAdapter *cs, const char *text);
int csound_adapter_compile_orc_text(CsoundAdapter *cs, const char *text);

/** Starts the engine (instr 0, score). 0 on success. NOT real-time safe. */
int csound_adapter_start(CsoundAdapter *cs);

/** Engine parameters, valid after start. Real-time safe. */
uint32_t csound_adapter_ksmps(const CsoundAdapter *cs);
uint32_t csound_adapter_output_channels(const CsoundAdapter *cs);
uint32_t csound_adapter_input_channels(const CsoundAdapter *cs);
double csound_adapter_sample_rate(const CsoundAdapter *cs);
double csound_adapter_0dbfs(const CsoundAdapter *cs);

/**
 * Csound's interleaved audio blocks, [frame * channels + channel], in 0dbfs
 * units. spin has ksmps * input_channels samples and spout
 * ksmps * output_channels. Valid after start. Real-time safe.
 */
double *csound_adapter_spin(CsoundAdapter *cs);
const double *csound_adapter_spout(CsoundAdapter *cs);

/*
 * Fatal errors. Every call below that can reach Csound's LongJmp hook runs
 * under a jump target taken on the calling thread, around that call. A
 * jump out of a parse or an option check is only an error for that call.
 * A jump out of a call that holds Csound's API lock (perform, merge,
 * events) marks the instance aborted: nothing may enter it again.
 */

/**
 * Performs one ksmps block (csoundPerformKsmps), guarded so that a Csound
 * longjmp lands in this call's own live frame.
 *
 * Our share is real-time safe (a sigsetjmp without signal mask, no
 * syscall). Csound's share is Csound's: a note-on without prealloc
 * allocates, for example.
 */
CsoundBlockResult csound_adapter_perform_block(CsoundAdapter *cs);

/* ---- MIDI: host-implemented, through csjack's JACK ports ---- */

/** Bytes of MIDI input one k-block can take, and of output it can keep. */
#define CSOUND_MIDI_IN_BYTES 4096u
#define CSOUND_MIDI_OUT_BYTES 8192u

/** Turns Csound's MIDI input and output on (as -M0 -Q0 would), through
 *  csjack's callbacks. Before compiling. NOT real-time safe. */
void csound_adapter_enable_midi(CsoundAdapter *cs);

/**
 * Appends one MIDI message's bytes to what Csound reads in the next k-block
 * (csound_adapter_perform_block; what it does not read is dropped after
 * it). False when the block's buffer is full: dropped. Real-time safe.
 */
bool csound_adapter_midi_in_push(CsoundAdapter *cs, const uint8_t *data, size_t size);

/**
 * The bytes Csound's MIDI opcodes wrote since the last clear, in order
 * (whole messages as Csound wrote them), their count in *size, and in
 * *lost how many writes were dropped because the buffer was full.
 * Real-time safe.
 */
const uint8_t *csound_adapter_midi_out(CsoundAdapter *cs, size_t *size, uint32_t *lost);
void csound_adapter_midi_out_clear(CsoundAdapter *cs);

/** exitnow's argument after CSOUND_BLOCK_EXITNOW. Real-time safe. */
int csound_adapter_exit_code(const CsoundAdapter *cs);

/**
 * Whether the instance was aborted by a longjmp out of a call that held
 * Csound's API lock. The lock then stays held by the thread that was in it,
 * so the instance can be neither entered nor cleaned up again:
 * csound_adapter_free() abandons it (the memory is reclaimed when the
 * process exits). Any thread; real-time safe (an atomic load).
 */
bool csound_adapter_aborted(const CsoundAdapter *cs);

/** Marks the instance as one that must not be entered or cleaned up again
 *  (a thread may have been stopped inside it): csound_adapter_free() then
 *  frees csjack's part only. Any thread. */
void csound_adapter_abandon(CsoundAdapter *cs);

/* ---- Commands: called by the engine, on the JACK thread unless noted ---- */

/** csoundScoreEvent, or csoundScoreEventAbsolute when @p absp2. */
int csound_adapter_score_event(CsoundAdapter *cs, char type, const double *pfields, int count,
                               bool absp2);
/**
 * An event that starts exactly @p delta samples after Csound's current
 * time (the start of its next k-block; 0 = at once): p2 is set from
 * @p delta (the caller's p2 is replaced). With --sample-accurate on, an
 * 'i' event then starts at that very sample. Csound 6.18 rounds a
 * real-time event's k-block to the nearest (llrint in time2kcnt) while
 * the sample offset in the block is truncated from p2, so an offset in
 * the second half of a block would start one block late: such events are
 * handed over one block earlier, which lands them in the right block at
 * the right offset. Half a sample is added so that Csound's truncation of
 * p2 * sr never falls one sample short. Real-time safe (a stack copy of
 * at most CSJ_MAX_PFIELDS p-fields).
 */
int csound_adapter_score_event_in(CsoundAdapter *cs, char type, const double *pfields,
                                  int count, int64_t delta);
/** csoundInputMessage: score text. */
void csound_adapter_input_message(CsoundAdapter *cs, const char *line);
void csound_adapter_set_score_offset(CsoundAdapter *cs, double seconds);

/** Parses orchestra code (csoundParseOrc) into an opaque tree; NULL on a
 *  syntax error. For the worker thread: the parse allocates. */
void *csound_adapter_parse(CsoundAdapter *cs, const char *code);
/** The same, printing nothing: for trial parses whose failure is expected. */
void *csound_adapter_parse_quiet(CsoundAdapter *cs, const char *code);
/** Frees a tree from csound_adapter_parse. Worker thread. */
void csound_adapter_free_tree(CsoundAdapter *cs, void *tree);
/**
 * Merges a parsed tree into the running engine and runs its instr 0 code
 * (csoundCompileTree), guarded like perform_block. Returns 0 on success and
 * sets *retval to what `return` set (NaN when nothing was returned); -2
 * when the code was merged but Csound reported an error while running it
 * (an init error in the global code); -1 when it failed (a fatal error
 * also marks the instance aborted: see csound_adapter_aborted).
 */
int csound_adapter_compile_tree(CsoundAdapter *cs, void *tree, double *retval);

/** The direct path, on the caller's thread. *result as compile_tree's. */
double csound_adapter_eval_code(CsoundAdapter *cs, const char *code, int *result);
int csound_adapter_compile_orc(CsoundAdapter *cs, const char *code);

/** Finds or creates a control channel; its value's address. NOT RT safe. */
double *csound_adapter_control_channel(CsoundAdapter *cs, const char *name);
/** String channels. Set runs on the JACK thread (queued); get anywhere. */
int csound_adapter_set_string_channel(CsoundAdapter *cs, const char *name, const char *text);
int csound_adapter_get_string_channel(CsoundAdapter *cs, const char *name, char *out,
                                      size_t out_size);

/** A table's data and length (csoundGetTable): -1 when there is no table. */
int csound_adapter_table(CsoundAdapter *cs, int table, double **data);

/** The CSOUND* for tasks and process callbacks. */
void *csound_adapter_handle(CsoundAdapter *cs);

/** Csound's version, e.g. 6180. */
int csound_adapter_version(void);

#endif
