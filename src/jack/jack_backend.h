/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JACK backend: with jack_transport.c (the transport, the timebase
 * and freewheel), the only file that calls the JACK API.
 *
 * It opens the client, registers ports with metadata, sets every callback
 * before activation, connects after it, and hands each cycle's port buffers
 * to a JackCycleHandler. The engine is written against the handler, so it
 * can be driven without JACK.
 */

#ifndef CSJ_JACK_BACKEND_H
#define CSJ_JACK_BACKEND_H

#include "csjack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The most ports per direction; more channels are refused at start. */
#define JACK_BACKEND_MAX_PORTS CSJ_MAX_CHANNELS
/* Longer server names are refused before libjack sees them (jack_backend.c). */
#define JACK_BACKEND_MAX_SERVER_NAME 127

typedef struct JackBackendImpl JackBackend;

/**
 * One cycle's MIDI: JACK's buffers of midi_in and midi_out, valid during
 * the process callback only (NULL buffers without MIDI ports). midi_out's
 * buffer has been cleared. Read and write them through the functions
 * below, on the JACK thread; all are real-time safe.
 */
typedef struct {
  void *in_buffer;
  void *out_buffer;
  uint32_t in_count; /**< events in midi_in this cycle */
  uint32_t nframes;
} JackMidiCycle;

/** Event @p index of midi_in (in frame order): its frame in the cycle and
 *  its bytes. False when there is no such event. */
bool jack_backend_midi_in_event(const JackMidiCycle *m, uint32_t index, uint32_t *frame,
                                const uint8_t **data, size_t *size);

/** Writes one message to midi_out at @p frame (frames must not go back
 *  within a cycle). False when JACK's buffer has no room: dropped. */
bool jack_backend_midi_out_write(JackMidiCycle *m, uint32_t frame, const uint8_t *data,
                                 size_t size);

/** What the backend calls. All but `process` run on non-RT JACK threads. */
typedef struct {
  void *context;
  /** The process callback's work: real-time, must not block. @p midi is
   *  the cycle's MIDI, NULL without MIDI ports. */
  void (*process)(void *context, uint32_t nframes, const float *const *in, float *const *out,
                  JackMidiCycle *midi);
  /** Counts an xrun. Real-time safe. */
  void (*xrun)(void *context);
  /** The server is gone. Must only set a flag (like a signal handler). */
  void (*shutdown)(void *context);
  /** The period changed: frames. */
  void (*period_changed)(void *context, uint32_t frames);
  /** The sample rate changed: frames per second. */
  void (*rate_changed)(void *context, uint32_t rate);
  /** Frames of latency the handler adds between input and output. */
  uint32_t (*added_latency)(void *context);
  /** The server starts (@p starting) or stops freewheeling. jackd 1.9
   *  calls it before the first freewheel cycle and after the last one. */
  void (*freewheel)(void *context, bool starting);
} JackCycleHandler;

/**
 * Opens a client with JackNoStartServer | JackUseExactName. On failure
 * returns CSJ_ERR_NO_SERVER, CSJ_ERR_NAME_TAKEN or CSJ_ERR_JACK and writes a
 * one-line reason into @p why.
 */
CsjStatus jack_backend_open(const char *client_name, const char *server_name, JackBackend **out,
                            char *why, size_t why_size);

/** The real-time priority of the client's process thread
 *  (jack_client_real_time_priority): -1 when the server does not run it
 *  in real time. Any thread. */
int jack_backend_rt_priority(const JackBackend *jb);

/** The JACK client, for jack_transport.c: nobody else calls JACK. */
struct _jack_client *jack_backend_client(const JackBackend *jb);

/** Lets go of the client of a server that went away, keeping the backend:
 *  its clocks then read 0 (another thread may be reading one). libjack
 *  cannot close such a client safely: it is left open (jack_backend.c).
 *  The supervisor, never the JACK thread. */
void jack_backend_drop_client(JackBackend *jb);

/** Closes the client (deactivating first). NULL is a no-op. */
void jack_backend_close(JackBackend *jb);

uint32_t jack_backend_sample_rate(const JackBackend *jb);
uint32_t jack_backend_period(const JackBackend *jb);

/** The JACK frame time of the current cycle's first frame
 *  (jack_last_frame_time). The process thread only, during a cycle;
 *  real-time safe. */
uint32_t jack_backend_cycle_frame_time(const JackBackend *jb);

/** The JACK frame time now, estimated (jack_frame_time): any thread;
 *  real-time safe (a clock read, no server round trip). */
uint32_t jack_backend_frame_time_now(const JackBackend *jb);

/** The JACK frame time of the moment @p usecs microseconds from now
 *  (negative: ago): jack_frame_time() plus @p usecs at the nominal sample
 *  rate. Any thread; real-time safe (clock reads, no server round trip). */
uint32_t jack_backend_frame_time_in(const JackBackend *jb, int64_t usecs);

/** Registers in_1..in_N and out_1..out_M with pretty-name and order metadata. */
CsjStatus jack_backend_register_ports(JackBackend *jb, uint32_t inputs, uint32_t outputs, char *why,
                                      size_t why_size);

/** Registers midi_in and midi_out ("Csound MIDI in", "Csound MIDI out"),
 *  ordered after the audio ports. After jack_backend_register_ports. */
CsjStatus jack_backend_register_midi(JackBackend *jb, char *why, size_t why_size);

/** Sets all callbacks, then activates. */
CsjStatus jack_backend_activate(JackBackend *jb, const JackCycleHandler *handler, char *why,
                                size_t why_size);

/** Tells JACK our added latency changed (after a period change). */
void jack_backend_latency_changed(JackBackend *jb);

/**
 * Connects outputs to the ports matching @p out_regex (NULL: physical
 * playback) and inputs from @p in_regex (NULL: physical capture), pairing
 * them in order. Missing peers are reported through @p warn, never fatal.
 */
void jack_backend_autoconnect(JackBackend *jb, const char *out_regex, const char *in_regex,
                              void (*warn)(void *data, const char *text), void *warn_data);

/**
 * Connects midi_in from every MIDI output port matching @p in_regex and
 * midi_out to every MIDI input port matching @p out_regex; NULL connects
 * nothing that way. No MIDI ports: a no-op. Missing peers are warned of.
 */
void jack_backend_autoconnect_midi(JackBackend *jb, const char *out_regex, const char *in_regex,
                                   void (*warn)(void *data, const char *text), void *warn_data);

/**
 * The current cycle's timing, as jack_get_cycle_times gives it: when the
 * cycle began and when the next one is expected to begin (JACK's clock,
 * microseconds), and the period in microseconds. False when JACK cannot
 * say. Only the process thread may call it (JACK's rule). Real-time safe.
 */
bool jack_backend_cycle_times(JackBackend *jb, uint64_t *current_usecs, uint64_t *next_usecs,
                              float *period_usecs);

/** JACK's clock (jack_get_time), microseconds. Any thread; real-time safe. */
uint64_t jack_backend_now_usecs(void);

/**
 * Passes on libjack's own messages (its error and info printers, which
 * csjack holds while any backend is open: see jack_backend.c) that are at
 * least @p min_age_ns old, each as one line "csjack: JACK: TEXT\n" to
 * @p emit, or, when @p server_gone, none of them: csjack's own line says
 * the server went away. Messages from the process thread are only
 * counted; so are those beyond the few held: "N more messages" says how
 * many. Returns how many were left unsaid. Process-wide (libjack's
 * printers are); a control thread; not real-time safe.
 */
uint64_t jack_backend_pass_messages(bool server_gone, uint64_t min_age_ns,
                                    void (*emit)(void *data, const char *text), void *data);

#endif
