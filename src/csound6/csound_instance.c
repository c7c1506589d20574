/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One Csound 6.18 instance: created with host audio and host MIDI, its
 * messages routed to csjack's sink, its options set, started, read
 * (ksmps, channels, rate, spin and spout) and destroyed.
 */

#include "csound6_internal.h"

#include <pthread.h>
#include <stdlib.h>

/* Set while a screening parse runs: its messages would repeat the real
 * compile's. */
static _Thread_local bool muted;

/* Csound's error messages on this thread, counted so a call can tell that
 * Csound reported an error (an init error during instr 0, for example)
 * even when its return value says success. */
static _Thread_local unsigned thread_errors;

static pthread_once_t initialize_once = PTHREAD_ONCE_INIT;

static void
initialize_csound(void)
{
  /* No signal handlers: the host owns SIGINT/SIGTERM. No atexit: we clean
   * up ourselves, and an atexit hook racing a live JACK thread is unsafe. */
  csoundInitialize(CSOUNDINIT_NO_SIGNAL_HANDLER | CSOUNDINIT_NO_ATEXIT);
}

void
csound6_initialize(void)
{
  pthread_once(&initialize_once, initialize_csound);
}

bool
csound6_mute(bool mute)
{
  const bool was = muted;
  muted = mute;
  return was;
}

unsigned
csound6_thread_errors(void)
{
  return thread_errors;
}

static void
on_csound_message(CSOUND *csound, int attr, const char *fmt, va_list args)
{
  CsoundAdapter *cs = csoundGetHostData(csound);
  if ((attr & CSOUNDMSG_TYPE_MASK) == CSOUNDMSG_ERROR) {
    ++thread_errors;
  }
  if (cs && cs->sink && !muted) {
    cs->sink(cs->sink_data, attr, fmt, args);
  }
}

CsoundAdapter *
csound_adapter_new(CsoundMessageSink sink, void *sink_data)
{
  csound6_initialize();
  CsoundAdapter *cs = calloc(1, sizeof(*cs));
  if (!cs) {
    return NULL;
  }
  cs->sink = sink;
  cs->sink_data = sink_data;
  cs->csound = csoundCreate(cs);
  if (!cs->csound) {
    free(cs);
    return NULL;
  }
  csoundSetMessageCallback(cs->csound, on_csound_message);
  /* spin/spout are ours: Csound opens no audio device. */
  csoundSetHostImplementedAudioIO(cs->csound, 1, 0);
  csound6_install_midi(cs);
  if (!csound6_install_guards(cs)) {
    csoundMessageS(cs->csound, CSOUNDMSG_WARNING,
                   "csjack: this Csound's CSOUND layout does not match its "
                   "headers; exitnow is not made safe\n");
  }
  return cs;
}

void
csound_adapter_free(CsoundAdapter *cs)
{
  if (!cs) {
    return;
  }
  if (csound_adapter_aborted(cs)) {
    /* Csound still holds its API lock on the thread that was in it, and
     * csoundCleanup()/csoundDestroy() would wait for it forever. Nothing
     * calls into the abandoned instance again. */
    free(cs);
    return;
  }
  bool jumped;
  CSOUND6_GUARDED(jumped, csoundCleanup(cs->csound));
  if (!jumped) {
    CSOUND6_GUARDED(jumped, csoundDestroy(cs->csound));
  }
  free(cs);
}

int
csound_adapter_set_option(CsoundAdapter *cs, const char *option)
{
  bool jumped;
  int result = 0;
  CSOUND6_GUARDED(jumped, result = csoundSetOption(cs->csound, option));
  return jumped ? -1 : result;
}

/* Csound's command-line decoder: PUBLIC in libcsound64 6.18 (and called
 * so by Csound's own C++ wrapper), though in no installed header. */
extern int argdecode(CSOUND *csound, int argc, const char **argv);

int
csound6_decode_option(CsoundAdapter *cs, const char *option)
{
  const char *argv[] = {"csound", option, NULL};
  bool jumped;
  int decoded = 0;
  CSOUND6_GUARDED(jumped, decoded = argdecode(cs->csound, 1, argv));
  return !jumped && decoded ? 0 : -1;
}

int
csound_adapter_load_plugins(CsoundAdapter *cs, const char *dir)
{
  bool jumped;
  int result = 0;
  CSOUND6_GUARDED(jumped, result = csoundLoadPlugins(cs->csound, dir));
  return jumped ? -1 : result;
}

bool
csound_adapter_clear_realtime_mode(CsoundAdapter *cs)
{
  CSOUND_PARAMS params;
  csoundGetParams(cs->csound, &params);
  if (!params.realtime_mode) {
    return false;
  }
  params.realtime_mode = 0;
  csoundSetParams(cs->csound, &params);
  return true;
}

int
csound_adapter_start(CsoundAdapter *cs)
{
  bool jumped;
  int result = 0;
  CSOUND6_GUARDED(jumped, result = csoundStart(cs->csound));
  if (jumped) {
    csound6_mark_aborted(cs, -1);
    return -1;
  }
  return result;
}

uint32_t
csound_adapter_ksmps(const CsoundAdapter *cs)
{
  return csoundGetKsmps(cs->csound);
}

uint32_t
csound_adapter_output_channels(const CsoundAdapter *cs)
{
  return csoundGetNchnls(cs->csound);
}

uint32_t
csound_adapter_input_channels(const CsoundAdapter *cs)
{
  return csoundGetNchnlsInput(cs->csound);
}

double
csound_adapter_sample_rate(const CsoundAdapter *cs)
{
  return csoundGetSr(cs->csound);
}

double
csound_adapter_0dbfs(const CsoundAdapter *cs)
{
  return csoundGet0dBFS(cs->csound);
}

double
csound_adapter_score_time(const CsoundAdapter *cs)
{
  return csoundGetScoreTime(cs->csound);
}

double *
csound_adapter_spin(CsoundAdapter *cs)
{
  return csoundGetSpin(cs->csound);
}

const double *
csound_adapter_spout(CsoundAdapter *cs)
{
  return csoundGetSpout(cs->csound);
}

void *
csound_adapter_handle(CsoundAdapter *cs)
{
  return cs->csound;
}

CsoundAdapter *
csound_adapter_from_handle(void *handle)
{
  return handle ? csoundGetHostData(handle) : NULL;
}
