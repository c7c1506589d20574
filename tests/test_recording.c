/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recordings hold every frame csjack sent, first to last cycle, in real
 * time and while the server freewheels (an export), in a format with no
 * size limit (RF64, or W64 by name).
 *
 * The orchestras play a counter: frame n of the performance is n / 2^23
 * (wrapping at 2^23, 175 s at 48 kHz) on every output, which 24-bit and
 * float files both keep exactly. A frame lost or repeated anywhere in a
 * recording breaks the count, so a file is checked frame by frame, and its
 * first value says which frame of the performance it starts at.
 *
 * Freewheel is switched with the real jack_freewheel program (Debian's
 * jackd2), on the harness's private server: JACK_DEFAULT_SERVER names it
 * (jack_freewheel 1.9.21 takes no server option).
 */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sndfile.h>

#include "csjack.h"
#include "jack_harness.h"
#include "test_engine_start.h"

#define RATE 48000
#define KSMPS 32
#define WRAP 8388608L /* 2^23 */

static CsjEngine *g_e;
static SNDFILE *g_sf;
static float *g_buf;
static char g_path[160];
static HarnessMessageLog g_log = HARNESS_MESSAGE_LOG_INIT;

static void teardown(void)
{
  csj_engine_destroy(g_e);
  g_e = NULL;
  if (g_sf)
    sf_close(g_sf);
  g_sf = NULL;
  free(g_buf);
  g_buf = NULL;
  if (g_path[0])
    unlink(g_path);
  g_path[0] = '\0';
  harness_server_stop();
}

static void server_256(void) { harness_server_start(256, RATE); }
static void server_4096(void) { harness_server_start(4096, RATE); }

static const char *path_for(const char *name)
{
  snprintf(g_path, sizeof g_path, "/tmp/csjack-test-%d-%s", (int)getpid(), name);
  unlink(g_path);
  return g_path;
}

/* ---- the counter ------------------------------------------------------------ */

#define HEADER(n) "sr = 48000\nksmps = 32\nnchnls = " #n "\nnchnls_i = 0\n0dbfs = 1\n"

/* instr 1: the counter on every output (OUTS), from its first frame. */
#define COUNTER_INSTR(OUTS)                                                     \
  "instr 1\n"                                                                   \
  "  setksmps 1\n"                                                              \
  "  kc init 0\n"                                                               \
  "  a1 upsamp kc / 8388608\n"                                                  \
  "  outch " OUTS "\n"                                                          \
  "  kc = kc + 1\n"                                                             \
  "  kc = (kc >= 8388608 ? 0 : kc)\n"                                           \
  "endin\n"

#define OUTS_2 "1, a1, 2, a1"
#define OUTS_8 "1, a1, 2, a1, 3, a1, 4, a1, 5, a1, 6, a1, 7, a1, 8, a1"

/* The same count, a k-block at a time (0..ksmps-1 set once in aoff): cheap
 * enough that a freewheeling server renders it far faster than real time,
 * and the writer of eight channels is what limits the render. */
#define FAST_COUNTER_INSTR(OUTS)                                                \
  "instr 1\n"                                                                   \
  "  aoff init 0\n"                                                             \
  "  kc init 0\n"                                                               \
  "  kready init 0\n"                                                           \
  "  if kready == 0 then\n"                                                     \
  "    kn = 0\n"                                                                \
  "    while kn < ksmps do\n"                                                   \
  "      vaset kn, kn, aoff\n"                                                  \
  "      kn += 1\n"                                                             \
  "    od\n"                                                                    \
  "    kready = 1\n"                                                            \
  "  endif\n"                                                                   \
  "  a1 = (kc + aoff) / 8388608\n"                                              \
  "  outch " OUTS "\n"                                                          \
  "  kc = kc + ksmps\n"                                                         \
  "  kc = (kc >= 8388608 ? 0 : kc)\n"                                           \
  "endin\n"

static const char COUNTER_ORC_2[] = HEADER(2) COUNTER_INSTR(OUTS_2) "schedule 1, 0, -1\n";
static const char FAST_COUNTER_ORC_8[] =
    HEADER(8) FAST_COUNTER_INSTR(OUTS_8) "schedule 1, 0, -1\n";

/* What a recording of the counter holds: its first value, how many frames
 * follow on from it by one, then how many frames of silence, and frames
 * that are neither (a gap, a repeat, channels that differ). */
typedef struct {
  long frames;
  int format;
  int channels;
  long first;
  long counted;     /* frames of the count, the first included */
  long silent_after;
  long wrong;
  long first_wrong; /* its index, or -1 */
} Scan;

static Scan scan_counter(const char *path)
{
  Scan s = {.first = -1, .first_wrong = -1};
  SF_INFO info = {0};
  g_sf = sf_open(path, SFM_READ, &info);
  cr_assert(ne(ptr, g_sf, NULL), "cannot read %s: %s", path, sf_strerror(NULL));
  s.frames = (long)info.frames;
  s.format = info.format;
  s.channels = info.channels;
  const long chunk = 65536;
  g_buf = malloc(sizeof(float) * (size_t)chunk * (size_t)info.channels);
  cr_assert(ne(ptr, g_buf, NULL));
  long prev = -1;
  bool silence = false;
  for (long at = 0; at < s.frames;) {
    const long n = (long)sf_readf_float(g_sf, g_buf, chunk);
    cr_assert(gt(long, n, 0L), "%s: read stops at %ld of %ld frames", path, at, s.frames);
    for (long i = 0; i < n; i++, at++) {
      const float *f = g_buf + i * info.channels;
      const double scaled = (double)f[0] * WRAP;
      const long v = lrint(scaled);
      bool ok = scaled == (double)v;
      for (int c = 1; c < info.channels; c++)
        ok = ok && f[c] == f[0];
      if (ok && prev < 0) {
        s.first = v;
        s.counted = 1;
      } else if (ok && !silence && v == (prev + 1) % WRAP) {
        s.counted++;
      } else if (ok && v == 0) {
        silence = true;
        s.silent_after++;
      } else {
        if (s.first_wrong < 0)
          s.first_wrong = at;
        s.wrong++;
      }
      prev = ok ? v : prev;
    }
  }
  sf_close(g_sf);
  g_sf = NULL;
  free(g_buf);
  g_buf = NULL;
  return s;
}

/* ---- freewheel -------------------------------------------------------------- */

/* jack_freewheel in PATH, or NULL. */
static const char *freewheel_program(void)
{
  static char found[512];
  const char *path = getenv("PATH");
  while (path && *path) {
    const char *end = strchr(path, ':');
    const size_t len = end ? (size_t)(end - path) : strlen(path);
    snprintf(found, sizeof found, "%.*s/jack_freewheel", (int)len, path);
    if (len && access(found, X_OK) == 0)
      return found;
    path = end ? end + 1 : NULL;
  }
  return NULL;
}

static void need_freewheel_program(void)
{
  if (!freewheel_program())
    cr_skip_test("jack_freewheel is not in PATH (Debian: jackd2)");
}

/* Runs `jack_freewheel y|n` on the private server. */
static void freewheel(bool on)
{
  char *argv[] = {(char *)freewheel_program(), on ? "y" : "n", NULL};
  HarnessChild ch;
  harness_spawn(&ch, argv);
  const int status = harness_child_wait(&ch, 20000);
  char *err = harness_read_file(ch.err_path);
  harness_child_cleanup(&ch);
  cr_assert(eq(int, status, 0), "jack_freewheel %s: status %d: %s", argv[1], status,
            err ? err : "");
  free(err);
}

static bool wait_stats(CsjStats *s, bool (*done)(const CsjStats *), int timeout_ms)
{
  const double deadline = harness_now_ms() + timeout_ms * harness_time_scale();
  do {
    csj_engine_stats(g_e, s);
    if (done(s))
      return true;
    harness_sleep_ms(5);
  } while (harness_now_ms() < deadline);
  return false;
}

static bool is_freewheeling(const CsjStats *s) { return s->freewheeling; }
static bool is_not_freewheeling(const CsjStats *s) { return !s->freewheeling; }

/* ---- real time: first to last cycle ---------------------------------------- */

/*
 * A recording asked for before csj_engine_start (as `csjack --record`
 * should) starts with the performance's first cycle, and one the score
 * ends holds every cycle up to the one the end came in. Asked for after
 * the start, as the csjack command did, it began with whichever cycle
 * came after the command: about 1 run in 25, the first one had already
 * played.
 */
Test(jack, recording_asked_before_start_holds_the_first_and_last_cycle, .init = server_256,
     .fini = teardown, .timeout = 60)
{
  CsjOptions o;
  test_engine_options(&o, "csjrecfirst", &g_log);
  cr_assert(eq(int, csj_engine_create(&o, &g_e), CSJ_SUCCESS), "%s", csj_last_error(NULL));
  const char *path = path_for("first.wav");
  /* Before anything is compiled too: the CLI opens its file first. */
  CsjStatus st = csj_engine_record(g_e, path, 24);
  cr_assert(eq(int, st, CSJ_SUCCESS), "record before start: %s: %s", csj_strerror(st),
            csj_last_error(g_e));
  cr_assert(eq(int, csj_engine_record(g_e, path, 24), CSJ_ERR_STATE), "a second recording");
  st = csj_engine_compile_csd_text(g_e, "<CsoundSynthesizer>\n<CsInstruments>\n" HEADER(2)
                                        COUNTER_INSTR(OUTS_2)
                                        "</CsInstruments>\n<CsScore>\ni 1 0 0.5\ne\n"
                                        "</CsScore>\n</CsoundSynthesizer>\n");
  cr_assert(eq(int, st, CSJ_SUCCESS), "compile: %s", csj_last_error(g_e));
  cr_assert(eq(int, csj_engine_start(g_e), CSJ_SUCCESS), "start: %s", csj_last_error(g_e));
  cr_assert(eq(int, csj_engine_wait(g_e, 20000), CSJ_SUCCESS), "the 0.5 s score did not end");
  st = csj_engine_stop_record(g_e);
  cr_assert(eq(int, st, CSJ_SUCCESS), "stop_record: %s: %s", csj_strerror(st),
            csj_last_error(g_e));
  CsjStats stats;
  csj_engine_stats(g_e, &stats);
  const Scan s = scan_counter(path);
  /* The cycles that performed k-blocks, the one the end came in included. */
  const long performed = ((long)stats.ksmps_blocks * KSMPS + 255) / 256 * 256;
  fprintf(stderr,
          "recording_asked_before_start: %ld frames (%ld cycles), the count from %ld for %ld "
          "frames, then %ld silent; %llu k-blocks performed (%ld frames of cycles); %ld wrong\n",
          s.frames, s.frames / 256, s.first, s.counted, s.silent_after,
          (unsigned long long)stats.ksmps_blocks, performed, s.wrong);
  cr_assert(eq(long, s.wrong, 0L), "%ld frames break the count, the first at %ld", s.wrong,
            s.first_wrong);
  cr_assert(eq(long, s.first, 0L), "the file starts at frame %ld of the performance", s.first);
  cr_assert(eq(long, s.counted, (long)RATE / 2), "the note's 0.5 s are not all there");
  cr_assert(eq(long, s.frames, performed), "%ld frames recorded, %ld performed", s.frames,
            performed);
  cr_assert(eq(long, s.frames % 256, 0L), "not whole cycles");
  cr_assert(eq(int, (int)stats.record_dropped, 0));
}

/* A recording asked for before start that never started (stopped before
 * it, or left to destroy) removes the file it created and leaves one that
 * was there as it was. */
Test(jack, recording_asked_before_start_can_be_called_off, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  CsjOptions o;
  test_engine_options(&o, "csjrecoff", &g_log);
  cr_assert(eq(int, csj_engine_create(&o, &g_e), CSJ_SUCCESS), "%s", csj_last_error(NULL));
  const char *path = path_for("off.wav");
  struct stat st;
  cr_assert(eq(int, csj_engine_record(g_e, "/nonexistent-dir/x.wav", 16), CSJ_ERR_FILE));
  cr_assert(eq(int, csj_engine_record(g_e, path, 16), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  cr_assert(eq(int, stat(path, &st), 0), "the file is not created at once");
  cr_assert(eq(int, csj_engine_stop_record(g_e), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_stop_record(g_e), CSJ_ERR_STATE));
  cr_assert(ne(int, stat(path, &st), 0), "the file created is left behind");

  FILE *f = fopen(path, "w");
  cr_assert(ne(ptr, f, NULL));
  fputs("an earlier take", f);
  fclose(f);
  cr_assert(eq(int, csj_engine_compile_orc_text(g_e, COUNTER_ORC_2), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_record(g_e, path, 16), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  csj_engine_destroy(g_e); /* never started */
  g_e = NULL;
  cr_assert(eq(int, stat(path, &st), 0));
  cr_assert(eq(long, (long)st.st_size, (long)strlen("an earlier take")),
            "a file that was there is changed");
}

/*
 * A recording started and stopped while performing holds exactly the
 * cycles from the one that took the start to the one before the one that
 * took the stop. Every callback performs here (no pause, no direct call),
 * so callback n plays frames (n-1)P..nP-1 of the count; the callbacks run
 * when each call was made and when it returned bracket the cycle it was
 * taken in.
 */
Test(jack, recording_holds_the_cycles_between_start_and_stop, .init = server_256,
     .fini = teardown, .timeout = 60)
{
  CsjOptions o;
  test_engine_options(&o, "csjrecmid", &g_log);
  test_engine_start(&o, COUNTER_ORC_2, &g_e, &g_log);
  const long p = 256;
  for (int run = 0; run < 5; run++) {
    harness_sleep_ms(100);
    const char *path = path_for("mid.wav");
    CsjStats a0, a1, b0, b1;
    csj_engine_stats(g_e, &a0);
    CsjStatus st = csj_engine_record(g_e, path, 32);
    csj_engine_stats(g_e, &a1);
    cr_assert(eq(int, st, CSJ_SUCCESS), "record: %s", csj_last_error(g_e));
    harness_sleep_ms(200 + 37 * run);
    csj_engine_stats(g_e, &b0);
    st = csj_engine_stop_record(g_e);
    csj_engine_stats(g_e, &b1);
    cr_assert(eq(int, st, CSJ_SUCCESS), "stop_record: %s", csj_last_error(g_e));
    cr_assert(eq(long, (long)b1.dropped_cycles, 0L));
    const Scan s = scan_counter(path);
    const long first_cycle = s.first / p + 1; /* callbacks count from 1 */
    const long after_last = first_cycle + s.frames / p;
    fprintf(stderr,
            "recording_holds_the_cycles run %d: callbacks %ld..%ld recorded; start taken in "
            "%llu..%llu, stop in %llu..%llu; %ld frames, %ld wrong\n",
            run, first_cycle, after_last - 1, (unsigned long long)a0.cycles,
            (unsigned long long)a1.cycles, (unsigned long long)b0.cycles,
            (unsigned long long)b1.cycles, s.frames, s.wrong);
    cr_assert(eq(long, s.wrong, 0L), "%ld frames break the count, the first at %ld", s.wrong,
              s.first_wrong);
    cr_assert(eq(long, s.counted, s.frames), "silence in the recording");
    cr_assert(eq(long, s.first % p, 0L), "the file starts mid-cycle");
    cr_assert(eq(long, s.frames % p, 0L), "not whole cycles");
    cr_assert(ge(long, first_cycle, (long)a0.cycles), "recorded from before the call");
    cr_assert(le(long, first_cycle, (long)a1.cycles), "the start's cycle is missing");
    cr_assert(ge(long, after_last, (long)b0.cycles), "cycles before the stop are missing");
    cr_assert(le(long, after_last, (long)b1.cycles), "recorded after the stop");
    unlink(path);
  }
}

/* ---- the format -------------------------------------------------------------- */

/* The first 16 bytes of @p path, NULs as '.': "RIFF....WAVEJUNK". */
static void first_bytes(const char *path, char out[17])
{
  memset(out, 0, 17);
  FILE *f = fopen(path, "rb");
  cr_assert(ne(ptr, f, NULL), "%s: %s", path, strerror(errno));
  cr_assert(eq(long, (long)fread(out, 1, 16, f), 16L), "%s: no header", path);
  fclose(f);
  for (int i = 0; i < 16; i++)
    out[i] = out[i] >= 32 && out[i] < 127 ? out[i] : '.';
}

/*
 * Recordings are written as RF64 (EBU Tech 3306), with libsndfile's
 * automatic downgrade: under 4 GiB the file is a plain WAV
 * (WAVE_FORMAT_EXTENSIBLE) whose first chunk, JUNK, holds the place of
 * RF64's ds64 chunk, and past 4 GiB the header becomes RF64 with true
 * 64-bit sizes, where a WAV's 32-bit sizes wrap (recording_past_4_gib).
 * Before, recordings were plain WAV, with no such room. A path ending in
 * .w64 is Sony Wave64.
 */
Test(jack, recording_is_rf64_and_w64_by_name, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  CsjOptions o;
  test_engine_options(&o, "csjrecfmt", &g_log);
  test_engine_start(&o, COUNTER_ORC_2, &g_e, &g_log);
  const char *path = path_for("fmt.wav");
  cr_assert(eq(int, csj_engine_record(g_e, path, 32), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  harness_sleep_ms(300); /* the header is rewritten as the file grows */
  char magic[17];
  first_bytes(path, magic);
  fprintf(stderr, "recording_is_rf64: while written, the file begins '%s'\n", magic);
  cr_assert(eq(int, memcmp(magic, "RIFF", 4), 0), "while written: '%s'", magic);
  cr_assert(eq(int, memcmp(magic + 8, "WAVEJUNK", 8), 0), "no room for ds64: '%s'", magic);
  SF_INFO info = {0};
  g_sf = sf_open(path, SFM_READ, &info);
  cr_assert(ne(ptr, g_sf, NULL), "unreadable while written: %s", sf_strerror(NULL));
  cr_assert(gt(long, (long)info.frames, 0L), "no frames while written");
  sf_close(g_sf);
  g_sf = NULL;
  cr_assert(eq(int, csj_engine_stop_record(g_e), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  first_bytes(path, magic);
  Scan s = scan_counter(path);
  fprintf(stderr, "recording_is_rf64: closed, '%s', format %#x, %ld frames\n", magic, s.format,
          s.frames);
  cr_assert(eq(int, memcmp(magic, "RIFF", 4), 0), "closed under 4 GiB: '%s'", magic);
  cr_assert(eq(int, memcmp(magic + 8, "WAVEJUNK", 8), 0), "closed: '%s'", magic);
  cr_assert(eq(int, s.format, SF_FORMAT_WAVEX | SF_FORMAT_FLOAT));
  cr_assert(eq(long, s.wrong, 0L));
  cr_assert(gt(long, s.frames, 0L));
  unlink(path);

  path = path_for("fmt.W64");
  cr_assert(eq(int, csj_engine_record(g_e, path, 24), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  harness_sleep_ms(200);
  cr_assert(eq(int, csj_engine_stop_record(g_e), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  s = scan_counter(path);
  fprintf(stderr, "recording_is_w64: format %#x, %ld frames\n", s.format, s.frames);
  cr_assert(eq(int, s.format, SF_FORMAT_W64 | SF_FORMAT_PCM_24));
  cr_assert(eq(long, s.wrong, 0L));
  cr_assert(gt(long, s.frames, 0L));
}

/* ---- freewheel ----------------------------------------------------------------- */

/* Freewheels the engine's server for @p wall_ms of wall time while it
 * records: on, off, and the counters said. */
static void freewheel_for(double wall_ms, CsjStats *after)
{
  freewheel(true);
  CsjStats s;
  cr_assert(wait_stats(&s, is_freewheeling, 5000), "csjack did not see the freewheel begin");
  harness_sleep_ms(wall_ms);
  freewheel(false);
  cr_assert(wait_stats(after, is_not_freewheeling, 5000), "csjack did not see it end");
}

/*
 * While the server freewheels, cycles come back to back, far faster than
 * real time, and the recorder's writer cannot keep up with eight channels:
 * before, the JACK thread then dropped cycles (15-30 % of a render, a
 * splice each time) and said nothing. Now it waits for the disk while
 * freewheeling, and the file holds every frame.
 */
Test(jack, freewheel_recording_holds_every_frame, .init = server_4096, .fini = teardown,
     .timeout = 120)
{
  need_freewheel_program();
  CsjOptions o;
  test_engine_options(&o, "csjrecfw", &g_log);
  test_engine_start(&o, FAST_COUNTER_ORC_8, &g_e, &g_log);
  const char *path = path_for("fw.wav");
  harness_sleep_ms(100);
  CsjStatus st = csj_engine_record(g_e, path, 24); /* as csjack --record */
  cr_assert(eq(int, st, CSJ_SUCCESS), "record: %s", csj_last_error(g_e));
  CsjStats s0, s1;
  csj_engine_stats(g_e, &s0);
  const double t0 = harness_now_ms();
  freewheel_for(1500, &s1);
  harness_sleep_ms(100); /* a few real-time cycles after it */
  st = csj_engine_stop_record(g_e);
  const double t1 = harness_now_ms();
  CsjStats s2;
  csj_engine_stats(g_e, &s2);
  const Scan s = scan_counter(path);
  const double audio_s = (double)s1.freewheel_frames / RATE;
  const double fw_s = (double)s1.freewheel_ns * 1e-9;
  fprintf(stderr,
          "freewheel_recording: %ld frames of 8 channels (%.1f s of audio) in %.1f s; "
          "freewheeled %.2f s: %llu cycles, %.1f s of audio, %.1f times real time; the "
          "JACK thread waited for the disk %.2f s; dropped %llu; %ld frames wrong\n",
          s.frames, (double)s.frames / RATE, (t1 - t0) / 1000, fw_s,
          (unsigned long long)s1.freewheel_cycles, audio_s, fw_s > 0 ? audio_s / fw_s : 0.0,
          (double)s2.record_wait_ns * 1e-9, (unsigned long long)(s2.record_dropped - s0.record_dropped),
          s.wrong);
  cr_assert(eq(int, st, CSJ_SUCCESS), "stop_record: %s: %s", csj_strerror(st),
            csj_last_error(g_e));
  cr_assert(gt(long, (long)s1.freewheel_cycles, 0L), "no cycle freewheeled");
  cr_assert(eq(long, (long)(s2.record_dropped - s0.record_dropped), 0L), "frames dropped");
  cr_assert(eq(long, s.wrong, 0L), "%ld frames break the count, the first at %ld", s.wrong,
            s.first_wrong);
  cr_assert(eq(long, s.counted, s.frames), "silence in the recording");
  cr_assert(ge(long, s.frames, (long)s1.freewheel_frames), "fewer frames than freewheeled");
  cr_assert(eq(long, (long)s2.record_errors, 0L));
  cr_assert(eq(int, csj_engine_finished(g_e), false));
}

/* instr 2: a k-rate loop of "load" steps in every k-block, on no output. */
static const char LOAD_ORC[] = HEADER(2)
    "instr 2\n"
    "  kn chnget \"load\"\n"
    "  ki = 0\n"
    "  kx = 0\n"
    "  while ki < kn do\n"
    "    kx = kx + 1\n"
    "    ki = ki + 1\n"
    "  od\n"
    "endin\n"
    "schedule 2, 0, -1\n";

/*
 * Freewheeling, a cycle may take longer than the hang limit (a render
 * slower than real time) without Csound being stuck: 128 k-blocks of a
 * few milliseconds each. Before, the watchdog timed the JACK thread's
 * whole cycle and ended the performance as hung; now, while the server
 * freewheels, it times each k-block. The load is doubled in freewheel
 * until one cycle takes at least twice the hang limit, then held for a
 * few cycles.
 */
Test(jack, freewheel_long_cycles_are_not_a_hang, .init = server_4096, .fini = teardown,
     .timeout = 120)
{
  need_freewheel_program();
  const int limit_ms = 250;
  CsjOptions o;
  test_engine_options(&o, "csjfwhang", &g_log);
  o.hang_limit_ms = limit_ms;
  test_engine_start(&o, LOAD_ORC, &g_e, &g_log);
  CsjChannel *load = NULL;
  cr_assert(eq(int, csj_engine_channel(g_e, "load", &load), CSJ_SUCCESS), "%s",
            csj_last_error(g_e));
  freewheel(true);
  CsjStats s;
  cr_assert(wait_stats(&s, is_freewheeling, 5000), "csjack did not see the freewheel begin");
  double n = 1000;
  uint64_t longest = 0;
  for (int step = 0; step < 40 && longest < 2ull * limit_ms * 1000000u; step++) {
    csj_channel_set(load, n);
    csj_engine_stats(g_e, &s);
    const uint64_t from = s.cycles;
    csj_engine_reset_peak(g_e);
    while (s.cycles < from + 3 && !csj_engine_finished(g_e)) {
      harness_sleep_ms(5);
      csj_engine_stats(g_e, &s);
    }
    longest = s.callback_ns_max;
    fprintf(stderr, "freewheel_long_cycles: load %.0f: longest cycle %.1f ms\n", n,
            (double)longest * 1e-6);
    cr_assert(not(csj_engine_finished(g_e)), "ended at load %.0f (%s)", n,
              csj_end_reason_name(csj_engine_end_reason(g_e, NULL)));
    n *= 2;
  }
  if (longest < 2ull * limit_ms * 1000000u) {
    /* The machine stayed too fast for the load to make a long cycle: the
     * test has nothing to show (its figures are printed above). */
    cr_skip_test("no cycle longer than twice the hang limit (longest %.1f ms)",
                 (double)longest * 1e-6);
  }
  csj_engine_stats(g_e, &s);
  const uint64_t held_from = s.cycles;
  while (s.cycles < held_from + 4 && !csj_engine_finished(g_e)) {
    harness_sleep_ms(10);
    csj_engine_stats(g_e, &s);
  }
  fprintf(stderr, "freewheel_long_cycles: %llu cycles of up to %.1f ms each, hang limit %d ms, "
                  "%llu k-blocks of %.2f ms on average\n",
          (unsigned long long)(s.cycles - held_from), (double)s.callback_ns_max * 1e-6,
          limit_ms, (unsigned long long)(4096 / KSMPS),
          (double)s.callback_ns_max * 1e-6 / (4096 / KSMPS));
  cr_assert(not(csj_engine_finished(g_e)), "the performance ended (%s)",
            csj_end_reason_name(csj_engine_end_reason(g_e, NULL)));
  cr_assert(not(csj_engine_is_hung(g_e)));
  csj_channel_set(load, 0);
  csj_engine_stats(g_e, &s);
  const uint64_t light_from = s.cycles;
  while (s.cycles < light_from + 2) {
    harness_sleep_ms(10);
    csj_engine_stats(g_e, &s);
  }
  freewheel(false);
  cr_assert(wait_stats(&s, is_not_freewheeling, 5000));
  harness_sleep_ms(300);
  cr_assert(not(csj_engine_finished(g_e)), "ended after the freewheel (%s)",
            csj_end_reason_name(csj_engine_end_reason(g_e, NULL)));
}

/* Freewheel asked for through the library; time then counts in frames:
 * JACK's wall-clock estimate of "now" says nothing of a freewheeling
 * server, whose cycles run back to back. */
Test(jack, freewheel_by_the_library_counts_time_in_frames, .init = server_4096, .fini = teardown,
     .timeout = 120)
{
  CsjOptions o;
  test_engine_options(&o, "csjrecfwt", &g_log);
  test_engine_start(&o, COUNTER_ORC_2, &g_e, &g_log);
  cr_assert(eq(int, csj_engine_set_freewheel(g_e, true), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  CsjStats s;
  cr_assert(wait_stats(&s, is_freewheeling, 5000), "the freewheel never began");
  harness_sleep_ms(300);
  const uint32_t a = csj_engine_frame_time_in(g_e, 0);
  const uint32_t b = csj_engine_frame_time_in(g_e, 1000000);
  const uint32_t c = csj_engine_frame_time_in(g_e, 0);
  const uint32_t now = csj_engine_frame_time(g_e);
  csj_engine_stats(g_e, &s);
  cr_assert(eq(int, csj_engine_set_freewheel(g_e, false), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  CsjStats after;
  cr_assert(wait_stats(&after, is_not_freewheeling, 5000), "the freewheel never ended");
  fprintf(stderr,
          "freewheel time: a second ahead is %u frames on (%u between the two readings of "
          "now); %llu frames freewheeled\n",
          b - a, c - a, (unsigned long long)s.freewheel_frames);
  /* A second ahead is one second of frames from "now", whichever reading
   * of now (cycles run between the calls). */
  cr_expect(le(u32, b - c, (uint32_t)RATE));
  cr_expect(ge(u32, b - a, (uint32_t)RATE));
  /* "Now" is the next cycle's first frame: never behind the readings
   * before it (frames wrap, so compare as a signed distance). */
  cr_expect(ge(int, (int32_t)(now - c), 0));
  cr_expect(gt(u64, s.freewheel_frames, 0));
  cr_expect(eq(int, csj_engine_set_freewheel(NULL, true), CSJ_ERR_BAD_ARG));
}

/*
 * `csjack --freewheel --record FILE piece.csd` renders the piece to its
 * end as fast as the server goes, and gives the server back to real time:
 * the file holds the whole score from its first frame, and the server
 * then serves a new client in real time.
 */
Test(jack, cli_freewheel_renders_a_csd_whole, .init = server_4096, .fini = teardown, .timeout = 120)
{
  const char *bin = getenv("CSJACK_BIN");
  cr_assert(ne(ptr, (void *)bin, NULL), "CSJACK_BIN is not set (run via meson test)");
  char csd_path[200];
  snprintf(csd_path, sizeof csd_path, "%s", path_for("render.csd"));
  FILE *f = fopen(csd_path, "w");
  cr_assert(ne(ptr, f, NULL));
  fprintf(f,
          "<CsoundSynthesizer>\n<CsInstruments>\n%s%s</CsInstruments>\n<CsScore>\ni 1 0 20\n"
          "</CsScore>\n</CsoundSynthesizer>\n",
          HEADER(2), FAST_COUNTER_INSTR(OUTS_2));
  fclose(f);
  const char *path = path_for("render.wav");
  char *argv[] = {(char *)bin,  "--no-connect", "--freewheel", "--record",
                  (char *)path, csd_path,       NULL};
  HarnessChild ch;
  const double t0 = harness_now_ms();
  harness_spawn(&ch, argv);
  const int status = harness_child_wait(&ch, 90000);
  const double wall_s = (harness_now_ms() - t0) / 1000;
  char *err = harness_read_file(ch.err_path);
  harness_child_cleanup(&ch);
  unlink(csd_path);
  fprintf(stderr, "cli_freewheel: 20 s of score rendered in %.2f s\n", wall_s);
  const bool said = err && strstr(err, "freewheeled");
  const bool freewheeling = err && strstr(err, "freewheels until the end");
  char last[600] = "";
  if (err)
    snprintf(last, sizeof last, "%s", err + (strlen(err) > 500 ? strlen(err) - 500 : 0));
  free(err);
  cr_assert(eq(int, status, 0), "csjack --freewheel: status %d: ...%s", status, last);
  cr_expect(freewheeling, "no freewheel: ...%s", last);
  cr_expect(said, "the summary does not say it freewheeled: ...%s", last);
  const Scan s = scan_counter(path);
  cr_expect(eq(long, s.first, 0L), "the file starts at frame %ld of the performance", s.first);
  cr_expect(eq(long, s.counted, 20L * RATE), "the score's frames");
  cr_expect(eq(long, s.wrong, 0L));
  cr_expect(lt(long, s.silent_after, 4096L), "more than the last cycle's tail after the end");

  /* Back in real time: a new client is served (one that joins a
   * freewheeling jackd can stall it). */
  CsjOptions o;
  test_engine_options(&o, "csjrecafter", &g_log);
  test_engine_start(&o, COUNTER_ORC_2, &g_e, &g_log);
  CsjStats after;
  cr_assert(wait_stats(&after, is_not_freewheeling, 5000));
  const uint64_t c0 = after.cycles;
  harness_sleep_ms(300);
  csj_engine_stats(g_e, &after);
  cr_expect(gt(u64, after.cycles, c0), "the server does not cycle after the render");
  cr_expect(not(after.freewheeling));
}

/*
 * Manual (CSJ_TEST_BIG=1, about 4.5 GB of disk): a freewheeled recording
 * past 4 GiB (8 channels of float: 46 minutes of audio), read back whole.
 * A WAV's 32-bit sizes wrap there; the RF64 file keeps its true size.
 */
Test(jack, recording_past_4_gib, .init = server_256, .fini = teardown, .timeout = 1800)
{
  if (!getenv("CSJ_TEST_BIG"))
    cr_skip_test("set CSJ_TEST_BIG=1 to write a recording past 4 GiB");
  need_freewheel_program();
  CsjOptions o;
  test_engine_options(&o, "csjrecbig", &g_log);
  test_engine_start(&o, FAST_COUNTER_ORC_8, &g_e, &g_log);
  const char *path = path_for("big.wav");
  cr_assert(eq(int, csj_engine_record(g_e, path, 32), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  const double t0 = harness_now_ms();
  freewheel(true);
  const long long want = 4600LL * 1000 * 1000;
  struct stat st = {0};
  while (stat(path, &st) == 0 && st.st_size < want && !csj_engine_finished(g_e))
    harness_sleep_ms(200);
  freewheel(false);
  CsjStats s;
  cr_assert(wait_stats(&s, is_not_freewheeling, 20000));
  cr_assert(eq(int, csj_engine_stop_record(g_e), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  const double t1 = harness_now_ms();
  char magic[17];
  first_bytes(path, magic);
  const Scan sc = scan_counter(path);
  stat(path, &st);
  fprintf(stderr,
          "recording_past_4_gib: %lld bytes, '%s', format %#x, %ld frames (%.1f min of audio) "
          "in %.1f s (%.1f times real time); waited for the disk %.1f s; dropped %llu; %ld "
          "wrong; read back in %.1f s\n",
          (long long)st.st_size, magic, sc.format, sc.frames, sc.frames / (60.0 * RATE),
          (t1 - t0) / 1000, sc.frames / (double)RATE / ((t1 - t0) / 1000),
          (double)s.record_wait_ns * 1e-9, (unsigned long long)s.record_dropped, sc.wrong,
          (harness_now_ms() - t1) / 1000);
  cr_assert(eq(int, memcmp(magic, "RF64", 4), 0), "'%s'", magic);
  cr_assert(eq(int, sc.format, SF_FORMAT_RF64 | SF_FORMAT_FLOAT));
  cr_assert(gt(long, (long)st.st_size, 4294967295L));
  cr_assert(eq(long, sc.wrong, 0L));
  cr_assert(eq(long, (long)s.record_dropped, 0L));
}
