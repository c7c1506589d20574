/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every Csound API call in csjack is in this file.
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
 *     taken in csound_adapter_perform_block() itself, a live frame. Csound
 *     then leaves its recursive API lock held by the performing thread;
 *     see csound_adapter_aborted().
 *
 * The CSOUND struct's public part is reached through csdl.h, the header
 * Csound gives plugins. A layout check refuses to patch anything if the
 * header does not match the library.
 */

#include "csound_adapter.h"
#include "include_check.h"

#include <csound/csound.h>
#include <csound/csdl.h>

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool has_nonfinite_constant(const TREE *tree);

/* Set while a screening parse runs: its messages would repeat the real
 * compile's. */
static _Thread_local bool muted;
static void report_nonfinite(CsoundAdapter *cs);

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
  void (*csound_long_jmp)(CSOUND *, int);

  /* Host-implemented MIDI (see csound_adapter_enable_midi): the bytes the
   * engine hands Csound for the next k-block, and the bytes Csound wrote
   * since the engine last took them. Fixed storage, touched only by the
   * thread that owns Csound at the time (the JACK thread during its
   * cycle; a direct caller or the control thread between cycles). */
  uint8_t midi_in[CSOUND_MIDI_IN_BYTES];
  size_t midi_in_len;
  size_t midi_in_pos;
  uint8_t midi_out[CSOUND_MIDI_OUT_BYTES];
  size_t midi_out_len;
  uint32_t midi_out_lost;
};

/*
 * Csound's fatal errors (csoundDie, an option it rejects, a missing
 * #include) call its LongJmp hook on whichever thread hit them. Each thread
 * that calls into Csound takes its own jump target around that call, so the
 * jump always lands in a live frame of the same thread. Guards nest.
 */
typedef struct Guard {
  sigjmp_buf env;
  struct Guard *outer;
  int code;
} Guard;

static _Thread_local Guard *thread_guard;
/* The value Csound passed to its LongJmp, for the last jump on this thread. */
static _Thread_local int last_jump_code;

/* Csound's error messages on this thread, counted so a call can tell that
 * Csound reported an error (an init error during instr 0, for example)
 * even when its return value says success. */
static _Thread_local unsigned thread_errors;

/* Runs STMT with a jump target on this thread. JUMPED becomes true when
 * Csound long-jumped out of it (STMT's results are then not set). No signal
 * mask is saved (savemask 0): a register save, no system call. */
#define GUARDED(jumped, stmt)                                                   \
  do {                                                                          \
    Guard guard_;                                                               \
    guard_.outer = thread_guard;                                                \
    guard_.code = 0;                                                            \
    if (sigsetjmp(guard_.env, 0) == 0) {                                        \
      thread_guard = &guard_;                                                   \
      stmt;                                                                     \
      thread_guard = guard_.outer;                                              \
      (jumped) = false;                                                         \
    } else {                                                                    \
      thread_guard = guard_.outer;                                              \
      (jumped) = true;                                                          \
    }                                                                           \
  } while (0)

/* exitnow's data block, matching Csound's EXITNOW: one optional i-rate arg. */
typedef struct {
  OPDS h;
  MYFLT *retval;
} ExitNowArgs;

static pthread_once_t initialize_once = PTHREAD_ONCE_INIT;

static void
initialize_csound(void)
{
  /* No signal handlers: the host owns SIGINT/SIGTERM. No atexit: we clean
   * up ourselves, and an atexit hook racing a live JACK thread is unsafe. */
  csoundInitialize(CSOUNDINIT_NO_SIGNAL_HANDLER | CSOUNDINIT_NO_ATEXIT);
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
  Guard *guard = thread_guard;
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
  Guard *guard = thread_guard;
  if (!guard) {
    abort(); /* not reached: the checker always guards */
  }
  guard->code = retval;
  siglongjmp(guard->env, 1);
}

/* After a jump out of a call that holds Csound's API lock: the instance is
 * left for good. */
static void
mark_aborted(CsoundAdapter *cs, int code)
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

static bool
install_guards(CsoundAdapter *cs)
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

/*
 * Host-implemented MIDI. Csound calls the read callback once per k-cycle
 * when MIDI input is on (a device name set, here "0"), and again, in the
 * same k-cycle, as long as it returns bytes: each call hands over what is
 * left of the block's bytes, up to Csound's buffer, and the next returns 0.
 * The write callback is called once per message an opcode sends (midiout,
 * noteon, outic, ...) during the k-cycle; the bytes are kept for the
 * engine to place in the block's frames.
 */
static int
midi_open(CSOUND *csound, void **user_data, const char *device)
{
  (void)device;
  *user_data = csoundGetHostData(csound);
  return 0;
}

static int
midi_close(CSOUND *csound, void *user_data)
{
  (void)csound;
  (void)user_data;
  return 0;
}

static int
midi_read(CSOUND *csound, void *user_data, unsigned char *buf, int nbytes)
{
  (void)csound;
  CsoundAdapter *cs = user_data;
  size_t n = cs->midi_in_len - cs->midi_in_pos;
  if (nbytes <= 0 || n == 0) {
    return 0;
  }
  if (n > (size_t)nbytes) {
    n = (size_t)nbytes;
  }
  memcpy(buf, cs->midi_in + cs->midi_in_pos, n);
  cs->midi_in_pos += n;
  return (int)n;
}

static int
midi_write(CSOUND *csound, void *user_data, const unsigned char *buf, int nbytes)
{
  (void)csound;
  CsoundAdapter *cs = user_data;
  if (nbytes <= 0) {
    return 0;
  }
  if ((size_t)nbytes > sizeof(cs->midi_out) - cs->midi_out_len) {
    ++cs->midi_out_lost;
    return nbytes; /* dropped and counted: never an error in Csound */
  }
  memcpy(cs->midi_out + cs->midi_out_len, buf, (size_t)nbytes);
  cs->midi_out_len += (size_t)nbytes;
  return nbytes;
}

void
csound_adapter_enable_midi(CsoundAdapter *cs)
{
  /* Through the option parser, not csoundSetMIDIInput/Output: in 6.18 those
   * copy the name into a buffer one byte short (AddressSanitizer: a heap
   * overflow inside Csound). -M0 -Q0 name the devices, which is what makes
   * Csound call the host's MIDI callbacks. */
  csound_adapter_set_option(cs, "-M0");
  csound_adapter_set_option(cs, "-Q0");
}

bool
csound_adapter_midi_in_push(CsoundAdapter *cs, const uint8_t *data, size_t size)
{
  if (size > sizeof(cs->midi_in) - cs->midi_in_len) {
    return false;
  }
  memcpy(cs->midi_in + cs->midi_in_len, data, size);
  cs->midi_in_len += size;
  return true;
}

const uint8_t *
csound_adapter_midi_out(CsoundAdapter *cs, size_t *size, uint32_t *lost)
{
  *size = cs->midi_out_len;
  *lost = cs->midi_out_lost;
  return cs->midi_out;
}

void
csound_adapter_midi_out_clear(CsoundAdapter *cs)
{
  cs->midi_out_len = 0;
  cs->midi_out_lost = 0;
}

CsoundAdapter *
csound_adapter_new(CsoundMessageSink sink, void *sink_data)
{
  pthread_once(&initialize_once, initialize_csound);
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
  /* MIDI goes through csjack's callbacks, never a Csound MIDI module
   * (ALSA's asserts when its device cannot be opened). Csound reads or
   * writes only once a device is named: csound_adapter_enable_midi. */
  csoundSetHostImplementedMIDIIO(cs->csound, 1);
  csoundSetExternalMidiInOpenCallback(cs->csound, midi_open);
  csoundSetExternalMidiReadCallback(cs->csound, midi_read);
  csoundSetExternalMidiInCloseCallback(cs->csound, midi_close);
  csoundSetExternalMidiOutOpenCallback(cs->csound, midi_open);
  csoundSetExternalMidiWriteCallback(cs->csound, midi_write);
  csoundSetExternalMidiOutCloseCallback(cs->csound, midi_close);
  if (!install_guards(cs)) {
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
  GUARDED(jumped, csoundCleanup(cs->csound));
  if (!jumped) {
    GUARDED(jumped, csoundDestroy(cs->csound));
  }
  free(cs);
}

/* A Csound that only checks options, with its error messages kept: they
 * say why an option was refused ("no message level", "unknown long
 * option"), and come in pieces. */
typedef struct {
  char errors[256];
  size_t len;
} OptionCheck;

static void
on_check_message(CSOUND *csound, int attr, const char *fmt, va_list args)
{
  OptionCheck *check = csoundGetHostData(csound);
  if (!check || (attr & CSOUNDMSG_TYPE_MASK) != CSOUNDMSG_ERROR ||
      check->len >= sizeof(check->errors) - 1) {
    return;
  }
  char piece[256];
  vsnprintf(piece, sizeof(piece), fmt, args);
  const char *s = piece;
  if (strncmp(s, "--Csound version", 16) == 0 || strncmp(s, "[commit", 7) == 0) {
    return; /* the banner, printed as an error before the usage text */
  }
  const char *prefix = "Csound Command ERROR:";
  if (strncmp(s, prefix, strlen(prefix)) == 0) {
    s += strlen(prefix);
  }
  for (; *s; ++s) {
    const char c = *s == '\n' || *s == '\t' ? ' ' : *s;
    if (c == ' ' && (check->len == 0 || check->errors[check->len - 1] == ' ')) {
      continue;
    }
    if (check->len < sizeof(check->errors) - 1) {
      check->errors[check->len++] = c;
    }
  }
  check->errors[check->len] = '\0';
}

int
csound_adapter_check_option(const char *option, char *why, size_t why_size)
{
  pthread_once(&initialize_once, initialize_csound);
  OptionCheck check = {{0}, 0};
  CSOUND *scratch = csoundCreate(&check);
  if (!scratch) {
    snprintf(why, why_size, "cannot create a Csound instance");
    return -1;
  }
  csoundSetMessageCallback(scratch, on_check_message);
  void (*original)(CSOUND *, int) = scratch->LongJmp;
  if (layout_matches(scratch)) {
    scratch->LongJmp = csj_long_jmp_scratch;
  }
  bool jumped;
  int result = 0;
  GUARDED(jumped, result = csoundSetOption(scratch, option));
  (void)original;
  const bool refused = jumped || result != 0;
  if (refused) {
    while (check.len > 0 && check.errors[check.len - 1] == ' ') {
      check.errors[--check.len] = '\0';
    }
    snprintf(why, why_size, "%s", check.len ? check.errors : "Csound refuses it");
  }
  if (!jumped) {
    csoundDestroy(scratch);
  } else {
    /* After a jump the scratch instance cannot be destroyed (its state is
     * Csound's after a long jump): it is kept, a few kilobytes per refused
     * option at start-up, and still pointed to. */
    static CSOUND *abandoned[16];
    static atomic_int n_abandoned;
    const int slot = atomic_fetch_add_explicit(&n_abandoned, 1, memory_order_relaxed);
    if (slot < (int)(sizeof abandoned / sizeof abandoned[0])) {
      abandoned[slot] = scratch;
    }
  }
  return refused ? -1 : 0;
}

int
csound_adapter_set_option(CsoundAdapter *cs, const char *option)
{
  bool jumped;
  int result = 0;
  GUARDED(jumped, result = csoundSetOption(cs->csound, option));
  return jumped ? -1 : result;
}

/* Csound's command-line decoder: PUBLIC in libcsound64 6.18 (and called
 * so by Csound's own C++ wrapper), though in no installed header. */
extern int argdecode(CSOUND *csound, int argc, const char **argv);

int
csound_adapter_decode_option(CsoundAdapter *cs, const char *option)
{
  const char *argv[] = {"csound", option, NULL};
  bool jumped;
  int decoded = 0;
  GUARDED(jumped, decoded = argdecode(cs->csound, 1, argv));
  return !jumped && decoded ? 0 : -1;
}

int
csound_adapter_load_plugins(CsoundAdapter *cs, const char *dir)
{
  bool jumped;
  int result = 0;
  GUARDED(jumped, result = csoundLoadPlugins(cs->csound, dir));
  return jumped ? -1 : result;
}

/* True when @p code #includes a pipe or a device, which Csound's parser
 * would read without end: said unless @p quiet. Looked up in Csound's own
 * INCDIR, which holds the folders csjack added (csound_paths.c). */
static bool
includes_endless_file(CsoundAdapter *cs, const char *code, bool quiet)
{
  char why[PATH_MAX + 200];
  if (!include_check_blocks(code, csoundGetEnv(cs->csound, "INCDIR"), why, sizeof why)) {
    return false;
  }
  if (!quiet) {
    csoundMessageS(cs->csound, CSOUNDMSG_ERROR, "csjack: %s\n", why);
  }
  return true;
}

/* The orchestra inside a CSD, screened like any other code before Csound
 * compiles the CSD (and said why when refused). A parse that fails here
 * is left for the real compile to report. */
static bool
csd_orchestra_is_unsafe(CsoundAdapter *cs, const char *csd)
{
  const char *start = strstr(csd, "<CsInstruments>");
  const char *end = start ? strstr(start, "</CsInstruments>") : NULL;
  if (!end) {
    return false;
  }
  start += strlen("<CsInstruments>");
  char *orc = strndup(start, (size_t)(end - start));
  if (!orc) {
    return false;
  }
  if (includes_endless_file(cs, orc, false)) {
    free(orc);
    return true;
  }
  muted = true;
  TREE *tree = NULL;
  bool jumped;
  GUARDED(jumped, tree = csoundParseOrc(cs->csound, orc));
  muted = false;
  free(orc);
  if (jumped) {
    return false;
  }
  const bool unsafe = tree && has_nonfinite_constant(tree);
  if (tree) {
    csoundDeleteTree(cs->csound, tree);
  }
  if (unsafe) {
    report_nonfinite(cs);
  }
  return unsafe;
}

int
csound_adapter_compile_csd_text(CsoundAdapter *cs, const char *text)
{
  if (csd_orchestra_is_unsafe(cs, text)) {
    return -1;
  }
  bool jumped;
  int result = 0;
  GUARDED(jumped, result = csoundCompileCsdText(cs->csound, text));
  if (jumped) {
    /* Before start no thread performs; the lock is this thread's and
     * nothing else will take it, but the instance is not to be trusted. */
    mark_aborted(cs, -1);
    return -1;
  }
  return result;
}

int
csound_adapter_compile_orc_text(CsoundAdapter *cs, const char *text)
{
  return csound_adapter_compile_orc(cs, text);
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
  GUARDED(jumped, result = csoundStart(cs->csound));
  if (jumped) {
    mark_aborted(cs, -1);
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
  GUARDED(jumped, done = csoundPerformKsmps(cs->csound));
  /* The block's MIDI input was Csound's to read in this k-cycle: what it
   * did not read (MIDI input off) is not kept for the next. */
  cs->midi_in_len = 0;
  cs->midi_in_pos = 0;
  if (jumped) {
    mark_aborted(cs, last_jump_code);
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
  mark_aborted(cs, 1);
}

bool
csound_adapter_aborted(const CsoundAdapter *cs)
{
  return atomic_load_explicit(&((CsoundAdapter *)cs)->aborted, memory_order_acquire);
}

int
csound_adapter_version(void)
{
  return csoundGetVersion();
}

int
csound_adapter_score_event(CsoundAdapter *cs, char type, const double *pfields, int count,
                           bool absp2)
{
  /* csoundScoreEvent copies the p-fields into Csound's own event. */
  bool jumped;
  int result = 0;
  if (absp2) {
    GUARDED(jumped, result = csoundScoreEventAbsolute(cs->csound, type, pfields, count, 0.0));
  } else {
    GUARDED(jumped, result = csoundScoreEvent(cs->csound, type, pfields, count));
  }
  if (jumped) {
    mark_aborted(cs, 1);
    return -1;
  }
  return result;
}

/* csjack.h's CSJ_MAX_PFIELDS: the engine refuses more before queueing. */
#define EVENT_MAX_PFIELDS 1024

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
  GUARDED(jumped, result = csoundScoreEvent(cs->csound, type, p, count));
  if (jumped) {
    mark_aborted(cs, 1);
    return -1;
  }
  return result;
}

void
csound_adapter_input_message(CsoundAdapter *cs, const char *line)
{
  bool jumped;
  GUARDED(jumped, csoundInputMessage(cs->csound, line));
  if (jumped) {
    mark_aborted(cs, 1);
  }
}

void
csound_adapter_set_score_offset(CsoundAdapter *cs, double seconds)
{
  csoundSetScoreOffsetSeconds(cs->csound, seconds);
}

/* The parser's token type for a numeric constant: not in Csound's public
 * headers, so read off a parse of a known constant on a scratch instance. */
static int number_token = -1;
static pthread_once_t number_token_once = PTHREAD_ONCE_INIT;

static void
find_number_token(void)
{
  CSOUND *scratch = csoundCreate(NULL);
  if (!scratch) {
    return;
  }
  csoundSetMessageCallback(scratch, on_check_message); /* host data NULL: silent */
  TREE *tree = csoundParseOrc(scratch, "i_csjack_probe = 2.5\n");
  for (TREE *node = tree; node; node = node->next) {
    if (node->right && node->right->value && node->right->value->lexeme &&
        strcmp(node->right->value->lexeme, "2.5") == 0) {
      number_token = node->right->type;
    }
  }
  if (tree) {
    csoundDeleteTree(scratch, tree);
  }
  csoundDestroy(scratch);
}

/* A constant folded to inf or nan: Csound 6.18 segfaults in
 * csoundCompileTree on such a node ("Missing local arg: inf"). Only
 * numeric constants count: `inf` is also a fine variable name. */
static bool
has_nonfinite_constant(const TREE *tree)
{
  pthread_once(&number_token_once, find_number_token);
  for (; tree; tree = tree->next) {
    if (tree->value && tree->value->lexeme && (number_token < 0 || tree->type == number_token)) {
      const char *lexeme = tree->value->lexeme;
      lexeme += *lexeme == '-' || *lexeme == '+';
      if (strcasecmp(lexeme, "inf") == 0 || strcasecmp(lexeme, "nan") == 0) {
        return true;
      }
    }
    if (has_nonfinite_constant(tree->left) || has_nonfinite_constant(tree->right)) {
      return true;
    }
  }
  return false;
}

static void
report_nonfinite(CsoundAdapter *cs)
{
  csoundMessageS(cs->csound, CSOUNDMSG_ERROR,
                 "csjack: a constant expression evaluates to inf or nan (division by "
                 "zero?); refused, because Csound 6.18 crashes compiling it\n");
}

/*
 * Csound 6.18 keeps a failed parse's error count (synterrcnt) until the
 * next parse begins, and csoundCompileTree refuses every tree while it is
 * set: a tree parsed before and waiting for its merge (a staged compile
 * from the UDP server while the console's :eval fails to parse) would then
 * fail, with no message. An empty parse resets the count: it fails at once,
 * before Csound builds anything. Muted. Called right after the failed
 * parse, so under the same exclusion from merges (compile_worker.c).
 */
static void
reset_parse_errors(CsoundAdapter *cs)
{
  const bool was_muted = muted;
  bool jumped;
  muted = true;
  GUARDED(jumped, (void)csoundParseOrc(cs->csound, ""));
  (void)jumped;
  muted = was_muted;
}

static void *
parse(CsoundAdapter *cs, const char *code, bool quiet)
{
  TREE *tree = NULL;
  bool jumped;
  if (includes_endless_file(cs, code, quiet)) {
    return NULL;
  }
  const bool was_muted = muted;
  muted = quiet || was_muted;
  GUARDED(jumped, tree = csoundParseOrc(cs->csound, code));
  if (!tree) {
    reset_parse_errors(cs);
  }
  muted = was_muted;
  if (jumped) {
    /* A fatal error in the parser (a missing #include, a malformed macro
     * call): the parse is abandoned, with its memory; the engine is not
     * touched, since parsing holds no lock. */
    if (!quiet) {
      csoundMessageS(cs->csound, CSOUNDMSG_ERROR,
                     "csjack: Csound stopped parsing this code with a fatal error\n");
    }
    return NULL;
  }
  if (tree && has_nonfinite_constant(tree)) {
    if (!quiet) {
      report_nonfinite(cs);
    }
    csoundDeleteTree(cs->csound, tree);
    return NULL;
  }
  return tree;
}

void *
csound_adapter_parse(CsoundAdapter *cs, const char *code)
{
  return parse(cs, code, false);
}

void *
csound_adapter_parse_quiet(CsoundAdapter *cs, const char *code)
{
  return parse(cs, code, true);
}

void
csound_adapter_free_tree(CsoundAdapter *cs, void *tree)
{
  if (tree) {
    csoundDeleteTree(cs->csound, tree);
  }
}

/* What instr 0's `return` left, as csoundEvalCode reads it. */
static double
instr0_retval(CsoundAdapter *cs)
{
  INSTRTXT *instr0 = cs->csound->GetInstrument(cs->csound, 0, NULL);
  return instr0 && instr0->instance ? instr0->instance->retval : NAN;
}

int
csound_adapter_compile_tree(CsoundAdapter *cs, void *tree, double *retval)
{
  *retval = NAN;
  if (csound_adapter_aborted(cs)) {
    return -1;
  }
  const unsigned errors_before = thread_errors;
  bool jumped;
  int result = 0;
  GUARDED(jumped, result = csoundCompileTree(cs->csound, tree));
  if (jumped) {
    /* Out of the merge or instr 0 with Csound's API lock held. */
    mark_aborted(cs, 1);
    return -1;
  }
  if (result == 0 && thread_errors != errors_before) {
    /* An init error in the global code: Csound merged the code and says
     * success, but what was asked for did not happen. */
    result = -2;
  }
  if (result == 0) {
    *retval = instr0_retval(cs);
  }
  return result;
}

/* csoundEvalCode and csoundCompileOrc are a parse and a csoundCompileTree:
 * done in two steps here so the parse can be screened the same way as on
 * the queued path. */
double
csound_adapter_eval_code(CsoundAdapter *cs, const char *code, int *result)
{
  void *tree = csound_adapter_parse(cs, code);
  double retval = NAN;
  *result = -1;
  if (tree) {
    *result = csound_adapter_compile_tree(cs, tree, &retval);
    csound_adapter_free_tree(cs, tree);
  }
  return retval;
}

int
csound_adapter_compile_orc(CsoundAdapter *cs, const char *code)
{
  void *tree = csound_adapter_parse(cs, code);
  if (!tree) {
    return -1;
  }
  double retval;
  const int result = csound_adapter_compile_tree(cs, tree, &retval);
  csound_adapter_free_tree(cs, tree);
  return result;
}

double *
csound_adapter_control_channel(CsoundAdapter *cs, const char *name)
{
  MYFLT *value = NULL;
  const int type = CSOUND_CONTROL_CHANNEL | CSOUND_INPUT_CHANNEL | CSOUND_OUTPUT_CHANNEL;
  if (csoundGetChannelPtr(cs->csound, &value, name, type) != CSOUND_SUCCESS) {
    return NULL;
  }
  return value;
}

static bool
ensure_string_channel(CsoundAdapter *cs, const char *name)
{
  MYFLT *value = NULL;
  const int type = CSOUND_STRING_CHANNEL | CSOUND_INPUT_CHANNEL | CSOUND_OUTPUT_CHANNEL;
  return csoundGetChannelPtr(cs->csound, &value, name, type) == CSOUND_SUCCESS;
}

int
csound_adapter_set_string_channel(CsoundAdapter *cs, const char *name, const char *text)
{
  if (!ensure_string_channel(cs, name)) {
    return -1;
  }
  csoundSetStringChannel(cs->csound, name, (char *)text);
  return 0;
}

int
csound_adapter_get_string_channel(CsoundAdapter *cs, const char *name, char *out, size_t out_size)
{
  if (!ensure_string_channel(cs, name) || out_size == 0) {
    return -1;
  }
  /* csoundGetStringChannel copies the whole string with no size limit, and
   * the channel's data size is its capacity (the longest text it ever held),
   * not the text's length: copy into a buffer that large, then check. */
  const int capacity = csoundGetChannelDatasize(cs->csound, name);
  if (capacity <= 0) {
    return -1;
  }
  char *text = calloc((size_t)capacity + 1, 1);
  if (!text) {
    return -1;
  }
  csoundGetStringChannel(cs->csound, name, text);
  const size_t len = strnlen(text, (size_t)capacity);
  const int result = len + 1 <= out_size ? 0 : -2;
  if (result == 0) {
    memcpy(out, text, len);
    out[len] = '\0';
  }
  free(text);
  return result;
}

int
csound_adapter_table(CsoundAdapter *cs, int table, double **data)
{
  MYFLT *ptr = NULL;
  const int length = csoundGetTable(cs->csound, &ptr, table);
  *data = ptr;
  return length;
}

void *
csound_adapter_handle(CsoundAdapter *cs)
{
  return cs->csound;
}
