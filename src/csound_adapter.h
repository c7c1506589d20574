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

/** Sets a command-line option before compiling. 0 on success. */
int csound_adapter_set_option(CsoundAdapter *cs, const char *option);

/** Loads every plugin library in @p dir now, before compiling. 0 on success. */
int csound_adapter_load_plugins(CsoundAdapter *cs, const char *dir);

/** Compile before start. 0 on success. NOT real-time safe. */
int csound_adapter_compile_csd_file(CsoundAdapter *cs, const char *path);
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

/**
 * Performs one ksmps block (csoundPerformKsmps), guarded so that a Csound
 * longjmp lands in this call's own live frame.
 *
 * Our share is real-time safe (a sigsetjmp without signal mask, no
 * syscall). Csound's share is Csound's: a note-on without prealloc
 * allocates, for example.
 */
CsoundBlockResult csound_adapter_perform_block(CsoundAdapter *cs);

/** exitnow's argument after CSOUND_BLOCK_EXITNOW. Real-time safe. */
int csound_adapter_exit_code(const CsoundAdapter *cs);

/**
 * Whether the instance was aborted by a longjmp. Csound then still holds its
 * API lock on the thread that performed, so the instance cannot be cleaned
 * up from another thread without deadlocking: csound_adapter_free() then
 * abandons it instead (the memory is reclaimed when the process exits).
 */
bool csound_adapter_aborted(const CsoundAdapter *cs);

/** Csound's version, e.g. 6180. */
int csound_adapter_version(void);

#endif
