/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* csjack: Csound performed inside the JACK process callback. */

#ifndef CSJACK_H
#define CSJACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#  define CSJ_API __attribute__((visibility("default")))
#else
#  define CSJ_API
#endif

/**
 * Marks a function that is safe to call from the JACK process thread:
 * it does not allocate, free, lock, print or make a syscall that can wait.
 * Every function without this mark is NOT real-time safe.
 */
#define CSJ_REALTIME

#define CSJ_VERSION_STRING "0.1.0"

/**
 * An engine: one Csound instance performed by one JACK client.
 *
 * The JACK process callback is the performance thread: each cycle it runs
 * csoundPerformKsmps() as many times as the period holds, reading and writing
 * the JACK port buffers directly. There is no other audio thread.
 *
 * Lifecycle functions (create, compile, start, wait, destroy) are for one
 * control thread. Functions that may be called from any thread say so.
 */
typedef struct CsjEngineImpl CsjEngine;

/** Status codes. Every function that can fail returns one. */
typedef enum {
  CSJ_SUCCESS = 0,
  CSJ_ERR_BAD_ARG,       /**< Invalid argument. */
  CSJ_ERR_NO_MEMORY,     /**< Allocation failed. */
  CSJ_ERR_FILE,          /**< File missing or unreadable. */
  CSJ_ERR_COMPILE,       /**< Csound could not compile the orchestra or CSD. */
  CSJ_ERR_CSOUND,        /**< Csound failed to create or start. */
  CSJ_ERR_NO_SERVER,     /**< No JACK server is running (none is started). */
  CSJ_ERR_NAME_TAKEN,    /**< Another JACK client already has this name. */
  CSJ_ERR_JACK,          /**< Another JACK failure (ports, activation). */
  CSJ_ERR_KSMPS,         /**< ksmps is larger than the JACK period. */
  CSJ_ERR_NO_OUTPUTS,    /**< The orchestra has no output channels. */
  CSJ_ERR_STATE,         /**< Not allowed in the engine's current state. */
  CSJ_ERR_TIMEOUT,       /**< A wait ran out of time. */
  CSJ_ERR_RING_FULL,     /**< The command ring is full: nothing was queued. */
  CSJ_ERR_TOO_BIG,       /**< The command is larger than csjack accepts. */
  CSJ_ERR_EVAL,          /**< Csound could not evaluate the code. */
  CSJ_ERR_NOT_FOUND,     /**< No such table or channel. */
  CSJ_ERR_NOT_RUN,       /**< The performance ended before the command ran. */
  CSJ_ERR_OPTION,        /**< Csound refused one of the options; see csj_last_error(). */
} CsjStatus;

/** A static English description of a status. Real-time safe. */
CSJ_API CSJ_REALTIME const char *csj_strerror(CsjStatus status);

/** Why a performance ended. */
typedef enum {
  CSJ_END_NONE = 0,       /**< Still performing (or not started). */
  CSJ_END_SCORE,          /**< The score ended (end of score or `e`). */
  CSJ_END_EXITNOW,        /**< The orchestra ran `exitnow`; see exit_code. */
  CSJ_END_STOPPED,        /**< csj_engine_stop() was called. */
  CSJ_END_CSOUND_ERROR,   /**< Csound aborted the performance (fatal error). */
  CSJ_END_SERVER_GONE,    /**< The JACK server shut down or kicked us out. */
  /** A thread stayed inside one Csound call for longer than the hang limit
   * (an endless loop in the orchestra or in live code). That thread cannot
   * be taken back: csj_engine_destroy() then leaves the engine, its JACK
   * client and its Csound instance to the process's exit, which should
   * come soon (the CLI exits at once). */
  CSJ_END_CSOUND_HUNG,
} CsjEndReason;

/** A static name for an end reason ("score", "exitnow", ...). */
CSJ_API CSJ_REALTIME const char *csj_end_reason_name(CsjEndReason reason);

/** Where Csound's messages go: called on a non-real-time thread only. */
typedef void (*CsjMessageFn)(void *data, int csound_attr, const char *text);

/** Options for csj_engine_create(). Set defaults with csj_options_init(). */
typedef struct {
  const char *client_name;   /**< JACK client name (exact), default "csjack". */
  const char *server_name;   /**< JACK server name, NULL for the default. */
  /** Regex for the ports our outputs connect to; NULL for physical playback. */
  const char *connect_out;
  /** Regex for the ports our inputs connect from; NULL for physical capture. */
  const char *connect_in;
  bool no_connect;           /**< Connect nothing. */
  /** Extra Csound command-line options, applied after csjack's defaults. */
  int csound_argc;
  const char *const *csound_argv;
  /** Message sink; NULL prints to stderr. Never called on the JACK thread. */
  CsjMessageFn message_fn;
  void *message_data;
  /** How long one Csound call (a k-block, a merge, a direct call) may run
   * before the performance is ended with CSJ_END_CSOUND_HUNG: 0 for the
   * default of 2000 ms, negative for never. */
  int hang_limit_ms;
} CsjOptions;

/** Counters, readable at any time from any thread. */
typedef struct {
  uint64_t cycles;          /**< JACK process cycles run. */
  uint64_t ksmps_blocks;    /**< csoundPerformKsmps calls. */
  uint64_t xruns;           /**< JACK xrun callbacks seen. */
  uint64_t messages_dropped;/**< Csound messages lost to a full ring. */
  uint32_t period;          /**< Current JACK period, frames. */
  uint32_t sample_rate;     /**< JACK sample rate. */
  uint32_t ksmps;           /**< Csound's ksmps. */
  uint32_t latency;         /**< Frames of latency csjack adds (0 if ksmps divides the period). */
  uint32_t inputs;          /**< JACK input ports (nchnls_i). */
  uint32_t outputs;         /**< JACK output ports (nchnls). */
  uint64_t commands_run;    /**< Commands the JACK thread has run. */
  uint64_t dropped_cycles;  /**< Cycles silenced because a direct call held Csound. */
  uint32_t ring_capacity;   /**< Command ring slots. */
  uint32_t ring_high_water; /**< Most slots ever in use at once. */
  uint64_t record_dropped;  /**< Frames recordings lost to a slow disk, in all. */
  bool paused;              /**< Paused: silence, no k-cycles. */
  uint64_t callback_ns_last;/**< Time our process callback took, last cycle. */
  uint64_t callback_ns_max; /**< The longest since start or csj_engine_reset_peak(). */
  /** The most time csjack's own code took in one callback: the callback
   * less its time inside Csound (k-blocks, merges, events) and user code
   * (tasks, the process callback), and never more than the callback's CPU
   * time, so a thread that was preempted or stalled does not count as
   * busy. Since start or csj_engine_reset_peak(). */
  uint64_t own_ns_max;
  /** Callbacks that took longer than their period (the JACK thread was
   * late, whoever's work or the scheduler made it so). */
  uint64_t callbacks_late;
  /** Cycles that left queued commands to the next cycle because this
   * cycle's command budget was spent (a pasted score, a flood). */
  uint64_t commands_deferred;
  /** The longest time a compile held the line (commands queued after it
   * wait until it is parsed and merged), nanoseconds. */
  uint64_t compile_wait_ns_max;
} CsjStats;

/** Fills @p opts with the defaults. */
CSJ_API void csj_options_init(CsjOptions *opts);

/**
 * Opens the JACK client and creates the Csound instance.
 *
 * The client is opened with JackNoStartServer | JackUseExactName: a missing
 * server gives CSJ_ERR_NO_SERVER and a name clash CSJ_ERR_NAME_TAKEN.
 * Csound's sample rate will follow the server's. On failure *out is NULL and
 * a one-line reason is available from csj_last_error(NULL).
 */
CSJ_API CsjStatus csj_engine_create(const CsjOptions *opts, CsjEngine **out);

/** Compiles a .csd or .orc file (chosen by its extension). Before start. */
CSJ_API CsjStatus csj_engine_compile_file(CsjEngine *e, const char *path);

/** Compiles CSD text. Before start. */
CSJ_API CsjStatus csj_engine_compile_csd_text(CsjEngine *e, const char *csd);

/** Compiles orchestra text (no score: it runs until stopped). Before start. */
CSJ_API CsjStatus csj_engine_compile_orc_text(CsjEngine *e, const char *orc);

/**
 * Starts Csound, registers the ports (in_N, out_N with pretty names and
 * order metadata), activates the client and makes the connections.
 * Fails with CSJ_ERR_NO_OUTPUTS for an orchestra without outputs. A ksmps
 * larger than the period plays, with the added latency reported to JACK
 * (CSJ_ERR_KSMPS is no longer returned).
 */
CSJ_API CsjStatus csj_engine_start(CsjEngine *e);

/**
 * Asks the performance to end. The JACK thread stops calling Csound at its
 * next cycle and outputs silence. Any thread; real-time safe.
 */
CSJ_API CSJ_REALTIME void csj_engine_stop(CsjEngine *e);

/** Whether the performance has ended. Any thread; real-time safe. */
CSJ_API CSJ_REALTIME bool csj_engine_finished(const CsjEngine *e);

/**
 * Waits until the performance ends or @p timeout_ms passes (negative:
 * forever). Returns CSJ_SUCCESS or CSJ_ERR_TIMEOUT. Control thread.
 */
CSJ_API CsjStatus csj_engine_wait(CsjEngine *e, int timeout_ms);

/**
 * Waits for the end of the performance (CsoundPerformanceThread's Join) and
 * returns why it ended; @p exit_code, if not NULL, gets exitnow's argument.
 * Control thread.
 */
CSJ_API CsjEndReason csj_engine_join(CsjEngine *e, int *exit_code);

/** Why the performance ended, and the exit code (exitnow's argument). */
CSJ_API CsjEndReason csj_engine_end_reason(const CsjEngine *e, int *exit_code);

/** Copies the counters. Any thread; real-time safe. */
CSJ_API CSJ_REALTIME void csj_engine_stats(const CsjEngine *e, CsjStats *out);

/* ---------------------------------------------------------------------------
 * The performance-thread API: commands into the JACK thread.
 *
 * Every function below may be called from any thread, concurrently, once the
 * engine has started. Each queues one command into a bounded multi-producer
 * ring that the JACK thread drains at the start of every cycle (a snapshot:
 * what arrives during a cycle runs in the next). A queued command runs
 * exactly once, and commands from one thread run in the order they were
 * queued. When the ring is full the call fails at once with
 * CSJ_ERR_RING_FULL and nothing is queued, unless a wait was asked for
 * (csj_engine_set_submit_timeout). Queueing is lock-free (a CAS loop), never
 * blocks and never allocates for fixed-size commands; commands that carry
 * text (code, score lines) allocate on the caller's thread.
 *
 * None of these is for the JACK thread itself (use csj_engine_task's
 * function for work there): they are NOT real-time safe unless marked.
 * ------------------------------------------------------------------------- */

/**
 * How long queueing calls wait for room in a full ring: 0 (the default)
 * fails at once with CSJ_ERR_RING_FULL; a positive value retries for up to
 * that many milliseconds; negative waits as long as it takes.
 */
CSJ_API void csj_engine_set_submit_timeout(CsjEngine *e, int timeout_ms);

/** Resumes performing after csj_engine_pause(). Queued. */
CSJ_API CsjStatus csj_engine_play(CsjEngine *e);

/** Pauses: the JACK thread outputs silence and runs no k-cycles, but keeps
 *  draining commands. Queued. */
CSJ_API CsjStatus csj_engine_pause(CsjEngine *e);

/** Toggles pause. Queued. */
CSJ_API CsjStatus csj_engine_toggle_pause(CsjEngine *e);

/**
 * Sends a score event, like csoundScoreEvent(): @p type is 'i', 'f', 'e',
 * 'q', 'a'; @p pfields holds p1, p2, ... (@p count of them, at most
 * CSJ_MAX_PFIELDS: more is CSJ_ERR_TOO_BIG at once, nothing queued, the
 * reason in csj_last_error). With @p absp2, p2 counts from the start of the
 * score instead of from now (CsoundPerformanceThread's absp2mode). Queued.
 *
 * CSJ_SUCCESS means queued, not accepted by Csound: what Csound finds wrong
 * when the JACK thread runs the event, such as an instrument that does not
 * exist, it reports through the message callback ("insert_score_event():
 * invalid instrument number or name 99"), and the performance goes on.
 */
#define CSJ_MAX_PFIELDS 1024
CSJ_API CsjStatus csj_engine_score_event(CsjEngine *e, char type, const double *pfields,
                                         int count, bool absp2);

/**
 * Sends score text, as csoundInputMessage() (e.g. "i 1 0 1 0.5 60"). Queued;
 * as with csj_engine_score_event, Csound reports what is wrong with the
 * text through the message callback. Csound takes up to 1998 p-fields a
 * line and drops the rest ("too many pfields"). A newline is added to text
 * that lacks one (Csound 6.18 corrupts its heap adding it to text over
 * 32 KiB itself).
 */
CSJ_API CsjStatus csj_engine_input_message(CsjEngine *e, const char *line);

/** Sets the score time offset, as csoundSetScoreOffsetSeconds(). Queued. */
CSJ_API CsjStatus csj_engine_set_score_offset_seconds(CsjEngine *e, double seconds);

/** What a compile or evalCode ended with, for the callback forms. */
typedef struct {
  CsjStatus status;     /**< CSJ_SUCCESS, CSJ_ERR_COMPILE, CSJ_ERR_EVAL, CSJ_ERR_NOT_RUN */
  double value;         /**< evalCode's return value (NaN on failure) */
  const char *message;  /**< On failure, Csound's error text; else "" */
} CsjResult;

/** Called with a result on csjack's worker thread (never the JACK thread). */
typedef void (*CsjResultFn)(void *data, const CsjResult *result);

/**
 * Compiles orchestra code into the running engine. The parse runs on
 * csjack's worker thread; only Csound's merge and instr 0 run in the JACK
 * thread, in order with other commands. Waits for the result up to
 * @p timeout_ms (negative: forever); CSJ_ERR_TIMEOUT leaves it queued and it
 * still runs exactly once. @p error, if not NULL, receives Csound's message
 * on failure.
 */
CSJ_API CsjStatus csj_engine_compile_orc(CsjEngine *e, const char *code, int timeout_ms,
                                         char *error, size_t error_size);

/** Callback form of csj_engine_compile_orc: returns once queued. */
CSJ_API CsjStatus csj_engine_compile_orc_async(CsjEngine *e, const char *code,
                                               CsjResultFn fn, void *data);

/**
 * Evaluates code in the running engine (csoundEvalCode's meaning: compile,
 * run instr 0, return what `return` set) through the ring, and waits up to
 * @p timeout_ms for the value. CSJ_ERR_EVAL with Csound's message in
 * @p error when it fails.
 */
CSJ_API CsjStatus csj_engine_eval_code(CsjEngine *e, const char *code, int timeout_ms,
                                       double *value, char *error, size_t error_size);

/** Callback form of csj_engine_eval_code: returns once queued. */
CSJ_API CsjStatus csj_engine_eval_code_async(CsjEngine *e, const char *code, CsjResultFn fn,
                                             void *data);

/**
 * The direct path: csoundEvalCode / csoundCompileOrc on the caller's thread,
 * bypassing the ring. The caller waits until the JACK thread is between
 * cycles, then holds Csound while it parses and compiles; cycles that begin
 * meanwhile are not performed (silence, counted in dropped_cycles) and the
 * JACK thread never waits. Lower latency for one caller, glitches for all.
 */
CSJ_API CsjStatus csj_engine_eval_code_direct(CsjEngine *e, const char *code, double *value,
                                              char *error, size_t error_size);
CSJ_API CsjStatus csj_engine_compile_orc_direct(CsjEngine *e, const char *code, char *error,
                                                size_t error_size);

/**
 * A control channel, created off the JACK thread and cached. Set and get
 * are lock-free atomic accesses from any thread, including the JACK thread.
 */
typedef struct CsjChannelImpl CsjChannel;

/** Finds or creates the control channel @p name. The handle lives as long
 *  as the engine. Not for the JACK thread. */
CSJ_API CsjStatus csj_engine_channel(CsjEngine *e, const char *name, CsjChannel **out);
CSJ_API CSJ_REALTIME void csj_channel_set(CsjChannel *ch, double value);
CSJ_API CSJ_REALTIME double csj_channel_get(const CsjChannel *ch);

/** Convenience: find-or-create then set / get by name. Not for the JACK thread. */
CSJ_API CsjStatus csj_engine_set_control(CsjEngine *e, const char *name, double value);
CSJ_API CsjStatus csj_engine_get_control(CsjEngine *e, const char *name, double *value);

/** String channels: set is queued (ordered with other commands); get copies
 *  the current text (Csound takes the channel's spinlock briefly). */
CSJ_API CsjStatus csj_engine_set_string_channel(CsjEngine *e, const char *name, const char *text);
CSJ_API CsjStatus csj_engine_get_string_channel(CsjEngine *e, const char *name, char *out,
                                                size_t out_size);

/** Tables, queued and ordered with other commands. The waiting forms wait
 *  up to @p timeout_ms. */
CSJ_API CsjStatus csj_engine_table_set(CsjEngine *e, int table, int index, double value);
CSJ_API CsjStatus csj_engine_table_get(CsjEngine *e, int table, int index, double *value,
                                       int timeout_ms);
CSJ_API CsjStatus csj_engine_table_copy_in(CsjEngine *e, int table, const double *values,
                                           size_t count);
/** Copies up to @p capacity values of @p table into @p out; *length gets the
 *  table's length. */
CSJ_API CsjStatus csj_engine_table_copy_out(CsjEngine *e, int table, double *out,
                                            size_t capacity, size_t *length, int timeout_ms);

/** Work run once in the JACK thread, in order with other commands. It must
 *  be real-time safe. @p csound is the CSOUND* (void* here to keep Csound's
 *  header out of ours). */
typedef void (*CsjTaskFn)(CsjEngine *e, void *csound, void *data);
CSJ_API CsjStatus csj_engine_task(CsjEngine *e, CsjTaskFn fn, void *data);

/**
 * Called in the JACK thread once per cycle, after the commands are drained
 * and before the cycle's first k-block (not per k-block), with the cycle's
 * frame count. NULL removes it. Queued, so it takes effect in order.
 */
typedef void (*CsjProcessFn)(CsjEngine *e, void *csound, uint32_t nframes, void *data);
CSJ_API CsjStatus csj_engine_set_process_callback(CsjEngine *e, CsjProcessFn fn, void *data);

/** Waits until every command queued before this call has run (Python's
 *  performanceThread sync). */
CSJ_API CsjStatus csj_engine_flush(CsjEngine *e, int timeout_ms);

/**
 * Records what csjack sends to JACK into a WAV file: @p bits 16, 24 or 32
 * (32 is float and sample-identical). The file is opened and closed off the
 * JACK thread; the JACK thread copies its output into a ring that a writer
 * thread drains. Recording starts in order with other commands.
 */
CSJ_API CsjStatus csj_engine_record(CsjEngine *e, const char *path, int bits);
/** Stops recording, waits until the file is complete and closed. */
CSJ_API CsjStatus csj_engine_stop_record(CsjEngine *e);

/** Whether the performance is still running (started, not finished). */
CSJ_API CSJ_REALTIME bool csj_engine_is_running(const CsjEngine *e);

/**
 * Whether a thread is stuck inside Csound (see CSJ_END_CSOUND_HUNG). Any
 * thread; real-time safe.
 */
CSJ_API CSJ_REALTIME bool csj_engine_is_hung(const CsjEngine *e);

/**
 * Closes the current recording, if any, with a correct header, without
 * waiting for the JACK thread: for an application that must exit while
 * Csound does not let go (CSJ_END_CSOUND_HUNG, or a stop that does not
 * come). The JACK thread stops writing to it at its next cycle. Any
 * thread but the JACK thread; blocks for at most about 100 ms plus the
 * time to write out what was queued.
 */
CSJ_API void csj_engine_abandon_record(CsjEngine *e);

/** Resets callback_ns_max and own_ns_max. Any thread; real-time safe. */
CSJ_API CSJ_REALTIME void csj_engine_reset_peak(CsjEngine *e);

/** The JACK client's name (stable until destroy). */
CSJ_API const char *csj_engine_client_name(const CsjEngine *e);

/**
 * Deactivates and closes the client, cleans up Csound and frees everything.
 * NULL is a no-op. Control thread.
 */
CSJ_API void csj_engine_destroy(CsjEngine *e);

/**
 * The last error's one-line description for this engine, or, with NULL, for
 * the calling thread's last failed csj_engine_create(). Never NULL.
 */
CSJ_API const char *csj_last_error(const CsjEngine *e);

#ifdef __cplusplus
}
#endif

#endif /* CSJACK_H */
