/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The live state: what was live-coded is saved to a folder and restored
 * into a new engine (csj_engine_save_state, csj_engine_restore_state), and
 * the change count a session manager's dirty flag reads.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "csjack.h"
#include "jack_harness.h"
#include "test_engine_start.h"

static const char *const ORC = "sr = 48000\nksmps = 32\nnchnls = 2\n0dbfs = 1\n";

static CsjEngine *g_e;
static HarnessMessageLog g_log = HARNESS_MESSAGE_LOG_INIT;
static char g_dir[128];

static void teardown(void)
{
  csj_engine_destroy(g_e);
  g_e = NULL;
  if (g_dir[0]) {
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    (void)system(cmd);
  }
  harness_server_stop();
}

static void server(void)
{
  harness_server_start(256, 48000);
  snprintf(g_dir, sizeof g_dir, "/tmp/csjack-live-%d/session one", (int)getpid());
}

TestSuite(live_state, .init = server, .fini = teardown, .timeout = 120);

static CsjEngine *start(void)
{
  CsjOptions o;
  test_engine_options(&o, "live", &g_log);
  return test_engine_start(&o, ORC, &g_e, &g_log);
}

static double control(const char *name)
{
  double v = -1;
  cr_assert(eq(int, csj_engine_get_control(g_e, name, &v), CSJ_SUCCESS), "%s", name);
  return v;
}

static bool wait_control(const char *name, double value)
{
  for (int i = 0; i < 2000; ++i) {
    if (control(name) == value)
      return true;
    harness_sleep_ms(5);
  }
  return false;
}

static char *slurp(const char *dir, const char *name)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return harness_read_file(path);
}

Test(live_state, what_was_live_coded_comes_back_in_a_new_engine)
{
  start();
  const uint64_t c0 = csj_engine_state_changes(g_e);
  char err[256];
  cr_assert(eq(int,
               csj_engine_compile_orc(g_e, "instr 7\n  chnset 1, \"seven_ran\"\n  turnoff\nendin\n",
                                      5000, err, sizeof err),
               CSJ_SUCCESS),
            "%s", err);
  double v = 0;
  cr_assert(eq(int, csj_engine_eval_code(g_e, "giBase = 3\nreturn giBase * 2", 5000, &v, err,
                                         sizeof err),
               CSJ_SUCCESS),
            "%s", err);
  cr_assert(eq(int, csj_engine_compile_orc_direct(g_e, "instr 8\n  chnset giBase, \"eight\"\nendin\n",
                                                  err, sizeof err),
               CSJ_SUCCESS),
            "%s", err);
  /* Refused code is not state. */
  cr_assert(ne(int, csj_engine_compile_orc(g_e, "instr 9\n  nonsense\nendin\n", 5000, err,
                                             sizeof err),
                CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_set_control(g_e, "level", 0.25), CSJ_SUCCESS));
  cr_assert(eq(int, csj_engine_set_string_channel(g_e, "label", "two\nlines \\ here"),
               CSJ_SUCCESS));
  const uint64_t c1 = csj_engine_state_changes(g_e);
  cr_expect(ge(u64, c1 - c0, 5), "changes counted: %llu", (unsigned long long)(c1 - c0));

  cr_assert(eq(int, csj_engine_save_state(g_e, g_dir), CSJ_SUCCESS), "%s", csj_last_error(g_e));
  char *live = slurp(g_dir, "live.orc");
  char *channels = slurp(g_dir, "channels.txt");
  cr_assert(ne(ptr, live, NULL));
  cr_assert(ne(ptr, channels, NULL));
  cr_expect(ne(ptr, strstr(live, ";;; csjack: compile 1\ninstr 7"), NULL), "%s", live);
  cr_expect(ne(ptr, strstr(live, ";;; csjack: eval 2\ngiBase = 3"), NULL), "%s", live);
  cr_expect(ne(ptr, strstr(live, ";;; csjack: compile 3\ninstr 8"), NULL), "%s", live);
  cr_expect(eq(ptr, strstr(live, "nonsense"), NULL), "refused code saved: %s", live);
  cr_expect(ne(ptr, strstr(channels, "control level 0.25\n"), NULL), "%s", channels);
  cr_expect(ne(ptr, strstr(channels, "string label two\\nlines \\\\ here\n"), NULL), "%s",
            channels);
  cr_expect(eq(ptr, strstr(channels, "transport_frame"), NULL), "%s", channels);
  free(live);
  free(channels);

  /* A new engine (a new session, another day). */
  csj_engine_destroy(g_e);
  g_e = NULL;
  start();
  char report[400];
  cr_assert(eq(int, csj_engine_restore_state(g_e, g_dir, report, sizeof report), CSJ_SUCCESS),
            "%s / %s\n%s", report, csj_last_error(g_e), g_log.buf);
  fprintf(stderr, "restore: %s\n", report);
  cr_expect(ne(ptr, strstr(report, "restored 3 pieces of code"), NULL), "%s", report);
  cr_expect(eq(dbl, control("level"), 0.25));
  char label[64] = "";
  cr_assert(eq(int, csj_engine_get_string_channel(g_e, "label", label, sizeof label), CSJ_SUCCESS));
  cr_expect(eq(str, label, "two\nlines \\ here"));
  cr_assert(eq(int, csj_engine_input_message(g_e, "i 7 0 0.1\ni 8 0 0.1"), CSJ_SUCCESS));
  cr_expect(wait_control("seven_ran", 1.0), "instr 7 did not come back\n%s", g_log.buf);
  cr_expect(wait_control("eight", 3.0), "giBase did not come back\n%s", g_log.buf);
  /* What was restored is state again. */
  cr_assert(eq(int, csj_engine_save_state(g_e, g_dir), CSJ_SUCCESS));
  live = slurp(g_dir, "live.orc");
  cr_expect(ne(ptr, strstr(live, ";;; csjack: compile 3\ninstr 8"), NULL), "%s", live);
  free(live);
}

Test(live_state, a_piece_refused_on_restore_is_reported_and_the_rest_restored)
{
  start();
  char path[256];
  mkdir(g_dir, 0755); /* the parent first */
  char parent[128];
  snprintf(parent, sizeof parent, "%s", g_dir);
  *strrchr(parent, '/') = '\0';
  mkdir(parent, 0755);
  mkdir(g_dir, 0755);
  snprintf(path, sizeof path, "%s/live.orc", g_dir);
  FILE *f = fopen(path, "w");
  cr_assert(ne(ptr, f, NULL));
  fputs(";;; csjack: compile 1\ninstr 3\n  undefined_opcode_here\nendin\n"
        ";;; csjack: compile 2\ninstr 4\n  chnset 4, \"four\"\n  turnoff\nendin\n",
        f);
  fclose(f);
  char report[400];
  cr_expect(eq(int, csj_engine_restore_state(g_e, g_dir, report, sizeof report), CSJ_ERR_COMPILE));
  fprintf(stderr, "restore with a refusal: %s\n", report);
  cr_expect(ne(ptr, strstr(report, "restored 1 pieces"), NULL), "%s", report);
  cr_expect(ne(ptr, strstr(report, "compile 1"), NULL), "%s", report);
  cr_assert(eq(int, csj_engine_input_message(g_e, "i 4 0 0.1"), CSJ_SUCCESS));
  cr_expect(wait_control("four", 4.0));
}

Test(live_state, a_folder_with_no_state_is_an_error)
{
  start();
  cr_expect(eq(int, csj_engine_restore_state(g_e, "/tmp", NULL, 0), CSJ_ERR_FILE));
  cr_expect(eq(int, csj_engine_save_state(g_e, "/proc/no/such"), CSJ_ERR_FILE));
  cr_expect(ne(ptr, strstr(csj_last_error(g_e), "/proc/no"), NULL), "%s", csj_last_error(g_e));
  cr_expect(eq(int, csj_engine_save_state(NULL, g_dir), CSJ_ERR_BAD_ARG));
  cr_expect(eq(u64, csj_engine_state_changes(NULL), 0));
}
