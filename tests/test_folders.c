/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What lies beside the file played is found from any working directory, as
 * with `csound ../proj/piece.csd`: the file's folder is in Csound's search
 * paths (src/engine/engine_folders.c, src/csound6/csound_paths.c), for the csjack
 * command's .csd and .orc, the console's :compile FILE and
 * csj_engine_compile_file.
 *
 * Each test lays out a project in a temporary folder whose name has spaces,
 * and runs from a sibling folder:
 *
 *   p r o j/piece.csd       #include "sub/inst.inc"; instr 2 plays soundin "tone.wav"
 *   p r o j/tone.wav        a 440 Hz sine at 0.5, made here with libsndfile
 *   p r o j/sub/inst.inc    #include "nested.inc"; instr 1 plays diskin2 "tone.wav" * giNested
 *   p r o j/sub/nested.inc  giNested = 1
 *   p r o j/nested.inc      giNested = 0
 *
 * A relative #include inside an included file is looked up beside that
 * file first (Csound 6.18's preprocessor: `csound -n` on this layout, from
 * the sibling folder, takes sub/nested.inc), so instr 1 sounds; the other
 * reading would make it silent. Each instrument is checked in its own half
 * of the recording.
 */

#include <errno.h>
#include <math.h>
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

#define RATE 48000

static char g_root[128];    /* the temporary folder */
static char g_proj[192];    /* g_root/p r o j */
static char g_away[192];    /* g_root/elsewhere: the working directory */
static char g_rec[256];     /* the recording */
static HarnessChild g_child;
static bool g_spawned;
static CsjEngine *g_engine;
static HarnessMessageLog g_log = HARNESS_MESSAGE_LOG_INIT;

static void
write_text(const char *dir, const char *name, const char *text)
{
  char path[320];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert(ne(ptr, f, NULL), "cannot write %s: %s", path, strerror(errno));
  fputs(text, f);
  fclose(f);
}

/* One second of a 440 Hz sine at 0.5, mono, 16 bits. */
static void
write_tone(const char *path)
{
  SF_INFO info = {.samplerate = RATE, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
  SNDFILE *f = sf_open(path, SFM_WRITE, &info);
  cr_assert(ne(ptr, f, NULL), "cannot write %s: %s", path, sf_strerror(NULL));
  static float tone[RATE];
  for (int i = 0; i < RATE; ++i) {
    tone[i] = 0.5f * (float)sin(2.0 * M_PI * 440.0 * i / RATE);
  }
  cr_assert(eq(long, (long)sf_writef_float(f, tone, RATE), (long)RATE));
  sf_close(f);
}

#define HEADER "sr = 48000\nksmps = 32\nnchnls = 1\n0dbfs = 1\n"
#define SOUNDIN "instr 2\na1 soundin \"tone.wav\"\nout a1\nendin\n"
/* Ends the run by itself once both notes have played (exitnow 0: status 0). */
#define END "instr 3\nexitnow\nendin\n"

static void
setup(void)
{
  harness_server_start(256, RATE);
  snprintf(g_root, sizeof g_root, "/tmp/csjtest-%d-folders", (int)getpid());
  snprintf(g_proj, sizeof g_proj, "%s/p r o j", g_root);
  snprintf(g_away, sizeof g_away, "%s/elsewhere", g_root);
  snprintf(g_rec, sizeof g_rec, "%s/take.wav", g_root);
  char sub[224];
  snprintf(sub, sizeof sub, "%s/sub", g_proj);
  cr_assert(eq(int, mkdir(g_root, 0700), 0), "mkdir %s: %s", g_root, strerror(errno));
  cr_assert(eq(int, mkdir(g_proj, 0700), 0));
  cr_assert(eq(int, mkdir(sub, 0700), 0));
  cr_assert(eq(int, mkdir(g_away, 0700), 0));
  char tone[256];
  snprintf(tone, sizeof tone, "%s/tone.wav", g_proj);
  write_tone(tone);
  write_text(sub, "inst.inc",
             "#include \"nested.inc\"\ninstr 1\na1 diskin2 \"tone.wav\", 1\nout a1 * giNested\n"
             "endin\n");
  write_text(sub, "nested.inc", "giNested = 1\n");
  write_text(g_proj, "nested.inc", "giNested = 0\n");
  write_text(g_proj, "piece.csd",
             "<CsoundSynthesizer>\n<CsInstruments>\n" HEADER "#include \"sub/inst.inc\"\n" SOUNDIN
             "</CsInstruments>\n<CsScore>\ni 1 0 0.5\ni 2 0.5 0.5\n</CsScore>\n"
             "</CsoundSynthesizer>\n");
  write_text(g_proj, "piece.orc",
             HEADER "#include \"sub/inst.inc\"\n" SOUNDIN END
             "schedule 1, 0, 0.5\nschedule 2, 0.5, 0.5\nschedule 3, 1.2, 0.1\n");
  /* For the console: instruments only, played by score lines. */
  write_text(g_proj, "live.orc", "#include \"sub/inst.inc\"\n" SOUNDIN END);
  write_text(g_away, "empty.orc", HEADER);
  cr_assert(eq(int, chdir(g_away), 0));
}

static void
teardown(void)
{
  if (g_spawned) {
    harness_child_cleanup(&g_child);
    g_spawned = false;
  }
  csj_engine_destroy(g_engine);
  g_engine = NULL;
  harness_server_stop();
  if (chdir("/") == 0 && g_root[0]) {
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    if (system(cmd) != 0) {
      fprintf(stderr, "could not remove %s\n", g_root);
    }
  }
}

/* The largest |sample| of the recording between @p from_s and @p to_s. */
static float
peak_between(double from_s, double to_s)
{
  SF_INFO info = {0};
  SNDFILE *f = sf_open(g_rec, SFM_READ, &info);
  cr_assert(ne(ptr, f, NULL), "no recording %s: %s", g_rec, sf_strerror(NULL));
  const sf_count_t from = (sf_count_t)(from_s * info.samplerate);
  const sf_count_t to = (sf_count_t)(to_s * info.samplerate);
  cr_assert(gt(long, (long)info.frames, (long)to), "the recording has %ld frames", (long)info.frames);
  float *x = malloc((size_t)info.frames * (size_t)info.channels * sizeof *x);
  cr_assert(ne(ptr, x, NULL));
  const sf_count_t got = sf_readf_float(f, x, info.frames);
  sf_close(f);
  float peak = 0;
  for (sf_count_t i = from * info.channels; i < to * info.channels && i < got * info.channels; ++i) {
    peak = fmaxf(peak, fabsf(x[i]));
  }
  free(x);
  return peak;
}

/* Both instruments sounded, each in its half: instr 1 (diskin2, through
 * the nested #include) from 0 to 0.5 s, instr 2 (soundin) from 0.5 to 1 s. */
static void
expect_both_played(const char *err)
{
  cr_expect(eq(ptr, strstr(err, "INIT ERROR"), NULL), "stderr:\n%s", err);
  cr_expect(eq(ptr, strstr(err, "Cannot open"), NULL), "stderr:\n%s", err);
  cr_expect(gt(flt, peak_between(0.1, 0.4), 0.3f), "instr 1 (diskin2) was silent; stderr:\n%s",
            err);
  cr_expect(gt(flt, peak_between(0.6, 0.9), 0.3f), "instr 2 (soundin) was silent; stderr:\n%s",
            err);
}

/* Runs csjack with @p file from the sibling folder, recording; returns its
 * exit status, its stderr in *err (the caller frees it). */
static int
run_cli(const char *file, const char *extra, char **err)
{
  const char *bin = getenv("CSJACK_BIN");
  cr_assert(ne(ptr, (void *)bin, NULL), "CSJACK_BIN is not set (run via meson test)");
  char *argv[] = {(char *)bin, "--no-connect", "-n", (char *)harness_name("csjfolder"), "--record",
                  g_rec, (char *)file, extra ? "--" : NULL, (char *)extra, NULL};
  harness_spawn(&g_child, argv);
  g_spawned = true;
  const int rc = harness_child_wait(&g_child, 20000);
  *err = harness_read_file(g_child.err_path);
  return rc;
}

Test(folders, cli_csd_from_another_folder, .init = setup, .fini = teardown, .timeout = 60)
{
  char *err = NULL;
  const int rc = run_cli("../p r o j/piece.csd", NULL, &err);
  cr_assert(eq(int, rc, 0), "stderr:\n%s", err);
  expect_both_played(err);
  free(err);
  /* The absolute path too. */
  char abs[256];
  snprintf(abs, sizeof abs, "%s/piece.csd", g_proj);
  harness_child_cleanup(&g_child);
  const int rc2 = run_cli(abs, NULL, &err);
  cr_assert(eq(int, rc2, 0), "stderr:\n%s", err);
  expect_both_played(err);
  free(err);
}

Test(folders, cli_orc_from_another_folder, .init = setup, .fini = teardown, .timeout = 60)
{
  char *err = NULL;
  const int rc = run_cli("../p r o j/piece.orc", NULL, &err);
  cr_assert(eq(int, rc, 0), "stderr:\n%s", err);
  expect_both_played(err);
  free(err);
}

/* As `csound --no-default-paths`: the folder stays out, the #include is
 * not found. */
Test(folders, cli_no_default_paths_keeps_the_folder_out, .init = setup, .fini = teardown,
     .timeout = 60)
{
  char *err = NULL;
  const int rc = run_cli("../p r o j/piece.csd", "--no-default-paths", &err);
  cr_expect(eq(int, rc, 4), "stderr:\n%s", err);
  cr_expect(ne(ptr, strstr(err, "Cannot open #include'd file sub/inst.inc"), NULL), "stderr:\n%s",
            err);
  free(err);
}

/* A named pipe beside the CSD is found there now, so the #include screen
 * looks there too: refused, where Csound's parser would wait for ever. */
Test(folders, cli_pipe_beside_the_csd_is_refused, .init = setup, .fini = teardown, .timeout = 60)
{
  char fifo[256];
  snprintf(fifo, sizeof fifo, "%s/pipe.inc", g_proj);
  cr_assert(eq(int, mkfifo(fifo, 0600), 0));
  write_text(g_proj, "pipe.csd",
             "<CsoundSynthesizer>\n<CsInstruments>\n" HEADER "#include \"pipe.inc\"\n"
             "</CsInstruments>\n<CsScore>\ni 1 0 0.5\n</CsScore>\n</CsoundSynthesizer>\n");
  char *err = NULL;
  const int rc = run_cli("../p r o j/pipe.csd", NULL, &err);
  cr_expect(eq(int, rc, 4), "stderr:\n%s", err);
  cr_expect(ne(ptr, strstr(err, "#include \"pipe.inc\" is a named pipe"), NULL), "stderr:\n%s",
            err);
  free(err);
}

/* ':' and ';' separate folders in Csound's search paths: such a folder
 * cannot be added, which is said, and the file plays all the same. */
Test(folders, cli_folder_with_a_colon_is_warned_about, .init = setup, .fini = teardown,
     .timeout = 60)
{
  char odd[256];
  snprintf(odd, sizeof odd, "%s/a:b", g_root);
  cr_assert(eq(int, mkdir(odd, 0700), 0));
  write_text(odd, "plain.csd",
             "<CsoundSynthesizer>\n<CsInstruments>\n" HEADER
             "instr 1\nout oscili(0.5, 440)\nendin\n</CsInstruments>\n<CsScore>\ni 1 0 1\n"
             "</CsScore>\n</CsoundSynthesizer>\n");
  char *err = NULL;
  const int rc = run_cli("../a:b/plain.csd", NULL, &err);
  cr_expect(eq(int, rc, 0), "stderr:\n%s", err);
  cr_expect(ne(ptr, strstr(err, "csjack: warning: the folder of '../a:b/plain.csd' is not added "
                                "to Csound's search paths: its name holds ':' or ';'"),
               NULL),
            "stderr:\n%s", err);
  cr_expect(gt(flt, peak_between(0.1, 0.9), 0.3f), "stderr:\n%s", err);
  free(err);
}

/* :compile FILE while playing: the folder is added after start, and the
 * #include (parsed then) and the samples (opened by the notes) are found. */
Test(folders, console_compile_file_from_another_folder, .init = setup, .fini = teardown,
     .timeout = 60)
{
  const char *bin = getenv("CSJACK_BIN");
  cr_assert(ne(ptr, (void *)bin, NULL), "CSJACK_BIN is not set (run via meson test)");
  char *argv[] = {(char *)bin, "--no-connect", "-n", (char *)harness_name("csjfolder"), "--record",
                  g_rec, "empty.orc", NULL};
  const int to = harness_spawn_piped(&g_child, argv);
  g_spawned = true;
  const char lines[] = ":compile ../p r o j/live.orc\ni 1 0 0.5\ni 2 0.5 0.5\ni 3 1.2 0.1\n";
  cr_assert(eq(long, (long)write(to, lines, sizeof lines - 1), (long)(sizeof lines - 1)));
  close(to);
  const int rc = harness_child_wait(&g_child, 20000);
  char *err = harness_read_file(g_child.err_path);
  char *out = harness_read_file(g_child.out_path);
  cr_assert(eq(int, rc, 0), "stdout:\n%s\nstderr:\n%s", out, err);
  cr_expect(eq(str, out, "ok compile\nok score\nok score\nok score\n"), "stderr:\n%s", err);
  expect_both_played(err);
  free(out);
  free(err);
}

/* The library: csj_engine_compile_file from another folder. */
Test(folders, compile_file_from_another_folder, .init = setup, .fini = teardown, .timeout = 60)
{
  CsjOptions o;
  csj_options_init(&o);
  o.client_name = harness_name("csjfolderlib");
  o.no_connect = true;
  o.message_fn = harness_message_collect;
  o.message_data = &g_log;
  cr_assert(eq(int, csj_engine_create(&o, &g_engine), CSJ_SUCCESS), "%s", csj_last_error(NULL));
  /* Csound's preprocessor prints a nested #include's folder on stdout,
   * which here is the TAP report's (the csjack command points it at
   * stderr too). */
  fflush(stdout);
  dup2(STDERR_FILENO, STDOUT_FILENO);
  cr_assert(eq(int, csj_engine_compile_file(g_engine, "../p r o j/piece.csd"), CSJ_SUCCESS), "%s",
            csj_last_error(g_engine));
  cr_assert(eq(int, csj_engine_start(g_engine), CSJ_SUCCESS), "%s", csj_last_error(g_engine));
  cr_assert(eq(int, csj_engine_record(g_engine, g_rec, 32), CSJ_SUCCESS), "%s",
            csj_last_error(g_engine));
  int code = -1;
  cr_assert(eq(int, (int)csj_engine_join(g_engine, &code), (int)CSJ_END_SCORE));
  cr_assert(eq(int, csj_engine_stop_record(g_engine), CSJ_SUCCESS), "%s", csj_last_error(g_engine));
  pthread_mutex_lock(&g_log.mu);
  char *log = strndup(g_log.buf, g_log.len);
  pthread_mutex_unlock(&g_log.mu);
  expect_both_played(log);
  free(log);
}
