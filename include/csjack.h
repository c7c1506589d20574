/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* csjack: Csound performed inside the JACK process callback. */

#ifndef CSJACK_H
#define CSJACK_H

#include <stdbool.h>
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
 * Fails with CSJ_ERR_KSMPS or CSJ_ERR_NO_OUTPUTS for unusable orchestras.
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

/** Why the performance ended, and the exit code (exitnow's argument). */
CSJ_API CsjEndReason csj_engine_end_reason(const CsjEngine *e, int *exit_code);

/** Copies the counters. Any thread; real-time safe. */
CSJ_API CSJ_REALTIME void csj_engine_stats(const CsjEngine *e, CsjStats *out);

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
