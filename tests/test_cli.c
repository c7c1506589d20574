/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of the csjack executable (path in $CSJACK_BIN, set by meson): exit
 * codes, messages, signals, connections. Each test that needs JACK gets a
 * private jackd (dummy driver, 2 physical capture and playback ports) from
 * the harness; children inherit JACK_DEFAULT_SERVER pointing at it. Every
 * child is waited for with a timeout and killed if it overstays (and dies
 * with the test process if Criterion kills that).
 *
 * Exit codes: 0 normal end; 1 exitnow != 0 or fatal Csound error; 2 usage;
 * 3 file; 4 compile; 5 no server / JACK failure; 6 name taken; 7 unusable
 * orchestra; 8 server shut down during the run.
 */

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jack/jack.h>

#include "csjack.h" /* CSJ_VERSION_STRING only; the CLI is run, not linked */
#include "jack_harness.h"

#define RATE 48000
#define MAX_CHILDREN 16

static HarnessChild g_child[MAX_CHILDREN];
static int g_nchild;
static HarnessProbe *g_probe;

/* A child's stderr kept for a failure message: freed here, since a failed
 * assertion leaves the test before its own free. */
static char *g_err_text;

static char *keep_err(char *text)
{
  free(g_err_text);
  g_err_text = text;
  return text;
}

static void teardown(void)
{
  free(g_err_text);
  g_err_text = NULL;
  for (int i = 0; i < g_nchild; i++)
    harness_child_cleanup(&g_child[i]);
  g_nchild = 0;
  probe_close(g_probe);
  g_probe = NULL;
  harness_server_stop();
}

static void server_256(void) { harness_server_start(256, RATE); }
static void server_64(void) { harness_server_start(64, RATE); }

/* ---- helpers ------------------------------------------------------------------- */

static const char *bin(void)
{
  const char *b = getenv("CSJACK_BIN");
  cr_assert(ne(ptr, (void *)b, NULL), "CSJACK_BIN is not set (run via meson test)");
  return b;
}


/* Spawns csjack with @p args (NULL-terminated, without argv[0]). */
static HarnessChild *cli_spawn(const char *const *args)
{
  cr_assert(lt(int, g_nchild, MAX_CHILDREN));
  char *argv[32];
  int n = 0;
  argv[n++] = (char *)bin();
  for (int i = 0; args[i]; i++) {
    cr_assert(lt(int, n, 30));
    argv[n++] = (char *)args[i];
  }
  argv[n] = NULL;
  HarnessChild *ch = &g_child[g_nchild++];
  harness_spawn(ch, argv);
  return ch;
}

/* Runs csjack to the end (killed after @p timeout_ms: result -1). */
static int cli_run(const char *const *args, int timeout_ms, char **err,
                   char **out)
{
  HarnessChild *ch = cli_spawn(args);
  int rc = harness_child_wait(ch, timeout_ms);
  if (err)
    *err = harness_read_file(ch->err_path);
  if (out)
    *out = harness_read_file(ch->out_path);
  return rc;
}

/* Runs csjack (10 s at most), asserts its exit status, and returns its
 * stderr for further checks (the caller frees it). */
static char *cli_expect_exit(const char *const *args, int status)
{
  char *err;
  int rc = cli_run(args, 10000, &err, NULL);
  if (rc != status)
    keep_err(err); /* freed by teardown: the assertion leaves the test */
  cr_assert(eq(int, rc, status), "stderr:\n%s", err);
  return err;
}

static int count_lines(const char *s)
{
  int n = 0;
  const char *line = s;
  while (*line) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    bool blank = true;
    for (size_t i = 0; i < len; i++)
      if (!isspace((unsigned char)line[i]))
        blank = false;
    if (!blank)
      n++;
    if (!nl)
      break;
    line = nl + 1;
  }
  return n;
}

/* The last non-blank line, in a static buffer. */
static const char *last_line(const char *s)
{
  static char buf[1024];
  buf[0] = '\0';
  const char *line = s;
  while (*line) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    bool blank = true;
    for (size_t i = 0; i < len; i++)
      if (!isspace((unsigned char)line[i]))
        blank = false;
    if (!blank) {
      if (len >= sizeof buf)
        len = sizeof buf - 1;
      memcpy(buf, line, len);
      buf[len] = '\0';
    }
    if (!nl)
      break;
    line = nl + 1;
  }
  return buf;
}

/* The "ksmps blocks N" of csjack's summary line, or -1. */
static long summary_blocks(const char *err)
{
  const char *p = strstr(err, "ksmps blocks ");
  return p ? strtol(p + strlen("ksmps blocks "), NULL, 10) : -1;
}

/* Waits until the CLI's client has its port @p port ("name:out_1"). */
static void wait_cli_port(HarnessChild *ch, const char *port)
{
  if (!g_probe)
    g_probe = probe_open("probe", 0, 1, 1);
  bool ok = harness_wait_port(probe_client(g_probe), port, 10000);
  if (!ok) {
    char *err = harness_read_file(ch->err_path);
    cr_fatal("csjack never registered %s. Its stderr:\n%s", port, err);
  }
}

/*
 * Waits until the CLI's client is ACTIVE (not just registered): JACK refuses
 * to connect ports of an inactive client, so this polls a connection from
 * @p port to probe:in_1 (removed again), then waits for csjack's start-up
 * message. Signals sent after this do not land in the middle of csjack's
 * start-up.
 */
static void wait_cli_active(HarnessChild *ch, const char *port)
{
  if (!g_probe)
    g_probe = probe_open("probe", 0, 1, 1);
  wait_cli_port(ch, port);
  jack_client_t *c = probe_client(g_probe);
  double deadline = harness_now_ms() + 10000;
  harness_jack_errors(false);
  for (;;) {
    int r = jack_connect(c, port, probe_port(g_probe, "in_1"));
    if (r == 0) {
      jack_disconnect(c, port, probe_port(g_probe, "in_1"));
      break;
    }
    if (r == EEXIST)
      break;
    if (harness_now_ms() > deadline) {
      harness_jack_errors(true);
      char *err = harness_read_file(ch->err_path);
      cr_fatal("csjack's client never became active. Its stderr:\n%s", err);
    }
    harness_sleep_ms(10);
  }
  harness_jack_errors(true);
  /* JACK marks the client active before csjack has read the reply of its
   * activation request. csjack announces its client name on stderr once it
   * has started: wait for that (or at most 2 s, should the message change),
   * so that only cli_sigint_during_startup sends signals during start-up. */
  char client[128];
  snprintf(client, sizeof client, "%.*s", (int)strcspn(port, ":"), port);
  deadline = harness_now_ms() + 2000;
  for (;;) {
    char *err = harness_read_file(ch->err_path);
    bool started = strstr(err, client) != NULL;
    free(err);
    if (started || harness_now_ms() > deadline)
      break;
    harness_sleep_ms(10);
  }
  harness_sleep_ms(50);
}

/* ---- usage, files, compile errors -------------------------------------------------- */

Test(jack, cli_missing_file, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *path = "/nonexistent/csjack-test/missing.csd";
  const char *args[] = {"--no-connect", "-n", harness_name("csjmissing"),
                        path, NULL};
  char *err = cli_expect_exit(args, 3);
  cr_expect(eq(int, count_lines(err), 1), "want one line, got:\n%s", err);
  cr_expect(ne(ptr, strstr(err, path), NULL), "stderr does not name the file:\n%s",
            err);
  free(err);
}

/* Started with stdin, stdout and stderr closed (as a service manager may
 * start it): the files opened next took numbers 0-2, libjack's metadata
 * database among them, and the messages written to "stdout" and "stderr"
 * overwrote it: a segfault, and a database that wedged every later JACK
 * client. Now it plays, records, exits 0, and the server answers. */
Test(jack, cli_closed_standard_fds, .init = server_256, .fini = teardown, .timeout = 60)
{
  char rec[128];
  snprintf(rec, sizeof rec, "/tmp/csjtest-%d-closedfds.wav", (int)getpid());
  unlink(rec);
  const char *argv[] = {bin(), "--no-connect", "-n", harness_name("csjclosed"), "--record", rec,
                        harness_data("finite.csd"), NULL};
  const pid_t parent = getpid();
  const pid_t pid = fork();
  cr_assert(ne(int, pid, -1));
  if (pid == 0) {
    harness_child_setup(parent);
    close(0);
    close(1);
    close(2);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  HarnessChild ch = {.pid = pid};
  const int rc = harness_child_wait(&ch, 20000);
  cr_assert(eq(int, rc, 0), "exit %d", rc);
  struct stat st;
  const bool recorded = stat(rec, &st) == 0 && st.st_size > 44 + 24000 * 2 * 3 / 2;
  unlink(rec);
  cr_assert(recorded, "no recording of 0.5 s at %s", rec);
  cr_assert(harness_server_answers(10000, NULL), "the JACK server no longer answers");
}

/* The file is read once, as a stream: a named pipe (or the shell's
 * <(make-orchestra)) plays, a file without end is cut with an error. */
static char g_pipe_path[128];
static char *g_pipe_text;

static void *
write_pipe(void *arg)
{
  (void)arg;
  FILE *f = fopen(g_pipe_path, "w"); /* waits for csjack to open it */
  if (f) {
    fputs(g_pipe_text, f);
    fclose(f);
  }
  return NULL;
}

Test(jack, cli_file_from_a_pipe_plays, .init = server_256, .fini = teardown, .timeout = 30)
{
  snprintf(g_pipe_path, sizeof g_pipe_path, "/tmp/csjtest-%d-play.csd", (int)getpid());
  unlink(g_pipe_path);
  cr_assert(eq(int, mkfifo(g_pipe_path, 0600), 0), "mkfifo: %s", strerror(errno));
  g_pipe_text = harness_read_file(harness_data("finite.csd"));
  cr_assert(ne(ptr, g_pipe_text, NULL));
  pthread_t writer;
  cr_assert(eq(int, pthread_create(&writer, NULL, write_pipe, NULL), 0));
  const char *args[] = {"--no-connect", "-n", harness_name("csjpipe"), g_pipe_path, NULL};
  char *err;
  const int rc = cli_run(args, 10000, &err, NULL);
  pthread_join(writer, NULL);
  unlink(g_pipe_path);
  free(g_pipe_text);
  keep_err(err);
  cr_assert(eq(int, rc, 0), "stderr:\n%s", err);
  cr_assert(ne(ptr, strstr(err, "score ended"), NULL), "stderr:\n%s", err);
}

Test(jack, cli_file_without_end_is_refused, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjzero"), "/dev/zero", NULL};
  char *err = cli_expect_exit(args, 3);
  cr_expect(ne(ptr, strstr(err, "cannot read '/dev/zero': larger than"), NULL), "stderr:\n%s",
            err);
  free(err);
}

/* Names JACK cannot take are one line each: libjack aborted ("stack
 * smashing detected") on a server name of about 265 bytes, and answered a
 * 64-byte client name with an opaque status. */
Test(jack, cli_long_names_are_refused, .init = server_256, .fini = teardown, .timeout = 30)
{
  char server[301];
  memset(server, 'y', 300);
  server[300] = '\0';
  const char *args[] = {"--no-connect", "-s", server, harness_data("finite.csd"), NULL};
  char *err = cli_expect_exit(args, 5);
  cr_expect(eq(int, count_lines(err), 1), "want one line, got:\n%s", err);
  cr_expect(ne(ptr, strstr(err, "at most 127 bytes, this one has 300"), NULL), "stderr:\n%s", err);
  free(err);
  char client[65];
  memset(client, 'x', 64);
  client[64] = '\0';
  const char *args2[] = {"--no-connect", "-n", client, harness_data("finite.csd"), NULL};
  err = cli_expect_exit(args2, 5);
  cr_expect(ne(ptr, strstr(err, "at most 63 bytes"), NULL), "stderr:\n%s", err);
  free(err);
}

/* An empty name (JACK took it: ports ":out_1"), invalid UTF-8, a newline
 * or a tab: one line, a usage error. */
Test(jack, cli_bad_names_are_usage_errors, .init = server_256, .fini = teardown, .timeout = 60)
{
  static const struct {
    const char *option;
    const char *name;
    const char *why;
  } cases[] = {
    {"-n", "", "the JACK client name given with --name is empty"},
    {"--name", "two\nlines", "--name holds a control character"},
    {"-n", "a\tb", "--name holds a control character"},
    {"-n", "\xff\xfe", "--name is not valid UTF-8"},
    {"-s", "", "the JACK server name given with --server is empty"},
    {"--server", "x\ty", "--server holds a control character"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const char *args[] = {"--no-connect", cases[i].option, cases[i].name,
                          harness_data("finite.csd"), NULL};
    char *err = cli_expect_exit(args, 2);
    cr_expect(eq(int, count_lines(err), 1), "case %zu: want one line, got:\n%s", i, err);
    cr_expect(ne(ptr, strstr(err, cases[i].why), NULL), "case %zu: stderr:\n%s", i, err);
    free(err);
  }
}

Test(jack, cli_syntax_error, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjsyntax"),
                        harness_data("syntax_error.orc"), NULL};
  char *err = cli_expect_exit(args, 4);
  cr_expect(ne(ptr, strstr(last_line(err), "error"), NULL),
            "last stderr line: %s", last_line(err));
  free(err);
}

/* Csound 6.18 segfaults compiling a constant that folds to inf (gi1 = 1/0):
 * csjack refuses it with a clear error instead, in an .orc and in a .csd. */
static void
check_nonfinite_refused(const char *file)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjinf"), harness_data(file), NULL};
  char *err;
  int rc = cli_run(args, 10000, &err, NULL);
  cr_assert(eq(int, rc, 4), "%s: stderr:\n%s", file, err);
  cr_assert(ne(ptr, strstr(err, "inf or nan"), NULL), "%s: no explanation:\n%s", file, err);
  free(err);
}

Test(jack, cli_nonfinite_constant_is_refused, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  check_nonfinite_refused("nonfinite.orc");
  check_nonfinite_refused("nonfinite.csd");
}

/* ... but `inf` is a fine variable name. */
Test(jack, cli_inf_as_variable_name_plays, .init = server_256, .fini = teardown, .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjinf"),
                        harness_data("inf_variable.csd"), NULL};
  char *err = cli_expect_exit(args, 0);
  free(err);
}

Test(jack, cli_unknown_option, .init = harness_no_server, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--definitely-not-an-option", "-n",
                        harness_name("csjbadopt"), harness_data("sine.orc"), NULL};
  char *err = cli_expect_exit(args, 2);
  cr_expect(ne(ptr, strstr(err, "definitely-not-an-option"), NULL),
            "stderr does not name the option:\n%s", err);
  free(err);
}

/* --event-delay takes frames: a negative, non-numeric or huge value is a
 * usage error that says what it takes, before JACK is reached. */
Test(jack, cli_bad_event_delay_is_usage_error, .init = harness_no_server, .fini = teardown,
     .timeout = 30)
{
  const char *bad[] = {"-5", "ten", "", "12x", "999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *args[] = {"--event-delay", bad[i], "-n", harness_name("csjbaddelay"),
                          harness_data("sine.orc"), NULL};
    char *err = cli_expect_exit(args, 2);
    cr_expect(ne(ptr, strstr(err, "--event-delay takes frames"), NULL),
              "'%s': stderr does not say what --event-delay takes:\n%s", bad[i], err);
    free(err);
  }
}

Test(jack, cli_no_file_is_usage_error, .init = harness_no_server,
     .fini = teardown, .timeout = 30)
{
  const char *args[] = {"--no-connect", NULL};
  char *err = cli_expect_exit(args, 2);
  cr_expect(gt(int, count_lines(err), 0), "no message");
  free(err);
}

Test(jack, cli_help_and_version, .init = harness_no_server, .fini = teardown,
     .timeout = 30)
{
  char *out, *err;
  const char *h[] = {"--help", NULL};
  cr_assert(eq(int, cli_run(h, 10000, &err, &out), 0));
  cr_expect(ne(ptr, strstr(out, "Usage"), NULL), "--help stdout:\n%s", out);
  cr_expect(ne(ptr, strstr(out, "--connect-out"), NULL));
  free(out);
  free(err);
  const char *h2[] = {"-h", NULL};
  cr_assert(eq(int, cli_run(h2, 10000, &err, &out), 0));
  cr_expect(ne(ptr, strstr(out, "Usage"), NULL), "-h stdout:\n%s", out);
  free(out);
  free(err);
  const char *v[] = {"--version", NULL};
  cr_assert(eq(int, cli_run(v, 10000, &err, &out), 0));
  cr_expect(ne(ptr, strstr(out, CSJ_VERSION_STRING), NULL),
            "--version stdout:\n%s", out);
  free(out);
  free(err);
}

/* ---- JACK errors ------------------------------------------------------------------- */

Test(jack, cli_no_server, .init = harness_no_server, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjnosrv"),
                        harness_data("sine.orc"), NULL};
  char *err = cli_expect_exit(args, 5);
  /* csjack's line only: libjack's own five lines ("Cannot connect to
   * server socket", ...) are kept from stderr while csjack opens. */
  cr_expect(eq(int, count_lines(err), 1), "want one line, got:\n%s", err);
  cr_expect(ne(ptr, strstr(err, "csjack: error: cannot reach JACK server"), NULL), "%s", err);
  free(err);
}

/* --server naming a server that does not exist, while another one runs:
 * one line from csjack naming it, none of libjack's (its printers are
 * csjack's from before jack_client_open). */
Test(jack, cli_named_server_missing, .init = server_256, .fini = teardown, .timeout = 30)
{
  char server[64];
  snprintf(server, sizeof server, "csjnosuch-%d", (int)getpid());
  const char *args[] = {"--no-connect", "-s", server, "-n", harness_name("csjnosrv2"),
                        harness_data("sine.orc"), NULL};
  char *err = cli_expect_exit(args, 5);
  char want[160];
  snprintf(want, sizeof want,
           "csjack: error: cannot reach JACK server '%s': is it running? (csjack never starts "
           "one)\n",
           server);
  cr_expect(eq(int, count_lines(err), 1), "want one line, got:\n%s", err);
  cr_expect(eq(str, err, want), "stderr:\n%s", err);
  free(err);
}

Test(jack, cli_name_taken, .init = server_256, .fini = teardown,
     .timeout = 40)
{
  const char *name = harness_name("csjclash");
  const char *a1[] = {"--no-connect", "-n", name, harness_data("sine.orc"), NULL};
  HarnessChild *first = cli_spawn(a1);
  wait_cli_active(first, harness_port("csjclash", "out_1"));

  const char *a2[] = {"--no-connect", "--name", name, harness_data("sine.orc"),
                      NULL};
  char *err;
  int rc = cli_run(a2, 10000, &err, NULL);
  cr_expect(eq(int, rc, 6), "second csjack, stderr:\n%s", err);
  free(err);

  /* the first one is unharmed and still ends normally */
  cr_assert(eq(int, kill(first->pid, SIGINT), 0));
  cr_assert(eq(int, harness_child_wait(first, 3000), 0));
}

/* ksmps larger than the period plays, as Csound plays it, with a notice
 * and the added latency reported. */
Test(jack, cli_ksmps_larger_than_period, .init = server_64, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjbigk"),
                        harness_data("kr10.csd"), NULL};
  char *err = cli_expect_exit(args, 0);
  cr_expect(ne(ptr, strstr(err, "ksmps 4800 is larger than the JACK period of 64"), NULL),
            "stderr:\n%s", err);
  cr_expect(ne(ptr, strstr(err, "added latency 4736 frames"), NULL), "stderr:\n%s", err);
  free(err);
}

/* Csound's option syntax: values in the next word, as Csound's own command
 * line takes them, and options csjack does itself left out with a notice
 * each. No crash, the run plays to the end of its score. */
Test(jack, cli_csound_option_forms, .init = server_256, .fini = teardown, .timeout = 60)
{
  static const char *const cases[][4] = {
    {"-m", "7", NULL, NULL},
    {"-o", "file.wav", "ignored", NULL},
    {"-r", "44100", "ignored", NULL},
    {"-b", "64", "ignored", NULL},
    {"-B", "512", "ignored", NULL},
    {"-M", NULL, NULL, NULL},
    {"-dm0", NULL, NULL, NULL},
    {"--ksmps", "64", NULL, NULL},
    {"--port=12345", NULL, "UDP server", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const char *args[] = {"--no-connect", "-n", harness_name("csjopt"),
                          harness_data("finite.csd"), "--", cases[i][0], cases[i][1], NULL};
    char *err;
    const int rc = cli_run(args, 10000, &err, NULL);
    keep_err(err);
    cr_assert(eq(int, rc, 0), "-- %s %s: exit %d. stderr:\n%s", cases[i][0],
              cases[i][1] ? cases[i][1] : "", rc, err);
    if (cases[i][2]) {
      cr_assert(ne(ptr, strstr(err, cases[i][2]), NULL), "-- %s: no notice. stderr:\n%s",
                cases[i][0], err);
    }
  }
}

/* An option Csound refuses is one line naming it, status 2: never Csound's
 * usage text followed by a crash. */
Test(jack, cli_refused_option_is_usage_error, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  static const char *const bad[] = {"--ksmps", "-x", "--no-such-option", "-U"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    const char *args[] = {"--no-connect", "-n", harness_name("csjbad"),
                          harness_data("finite.csd"), "--", bad[i], NULL};
    char *err;
    const int rc = cli_run(args, 10000, &err, NULL);
    keep_err(err);
    cr_assert(eq(int, rc, 2), "-- %s: exit %d. stderr:\n%s", bad[i], rc, err);
    cr_assert(ne(ptr, strstr(err, bad[i]), NULL), "the error does not name %s:\n%s", bad[i],
              err);
  }
  /* the same inside a CSD's <CsOptions> */
  const char *args[] = {"--no-connect", "-n", harness_name("csjbad"),
                        harness_data("csoptions_typo.csd"), NULL};
  char *err = cli_expect_exit(args, 2);
  cr_assert(ne(ptr, strstr(err, "<CsOptions>"), NULL), "stderr:\n%s", err);
  free(err);
}

/* A CSD written for Csound's command line (devices, rates, buffers, a UDP
 * port in <CsOptions>) plays at JACK's rate, with a notice for each. */
Test(jack, cli_csoptions_for_devices_play, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjcsopt"),
                        harness_data("csoptions_devices.csd"), NULL};
  char *err = cli_expect_exit(args, 0);
  static const char *const notices[] = {"'-odac'", "'-iadc'", "'-M0'", "'-Q1'", "'-r44100'",
                                        "'-k441'", "'-b64'", "'-B512'", "'--port=12345'",
                                        "'-+rtaudio=alsa'", "'-W'"};
  for (size_t i = 0; i < sizeof notices / sizeof notices[0]; ++i) {
    cr_expect(ne(ptr, strstr(err, notices[i]), NULL), "no notice for %s. stderr:\n%s",
              notices[i], err);
  }
  cr_expect(ne(ptr, strstr(err, "48000 Hz"), NULL), "stderr:\n%s", err);
  free(err);
}

/* csjack's own options go before FILE. */
Test(jack, cli_option_after_file_is_usage_error, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"-n", harness_name("csjafter"), harness_data("finite.csd"),
                        "--no-connect", NULL};
  char *err = cli_expect_exit(args, 2);
  cr_expect(ne(ptr, strstr(err, "'--no-connect' after the file"), NULL), "stderr:\n%s", err);
  free(err);
}

/* Global code that never returns at start-up: SIGINT still ends csjack,
 * with status 9, instead of waiting for Csound for ever. */
Test(jack, cli_sigint_while_start_hangs, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjloop"),
                        harness_data("loop_global.orc"), NULL};
  HarnessChild *ch = cli_spawn(args);
  harness_sleep_ms(500);
  cr_assert(eq(int, kill(ch->pid, SIGINT), 0));
  const int rc = harness_child_wait(ch, 15000);
  const char *err = keep_err(harness_read_file(ch->err_path));
  cr_assert(eq(int, rc, 9), "exit %d. stderr:\n%s", rc, err);
}

/* The orchestra's sr is not JACK's: a notice on stderr, then the run at
 * JACK's rate, to the end of its 0.3 s score. */
Test(jack, cli_orchestra_sr_differs, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjsr"),
                        harness_data("sr44100.csd"), NULL};
  double t0 = harness_now_ms();
  char *err = cli_expect_exit(args, 0);
  double ms = harness_now_ms() - t0;
  cr_expect(ne(ptr, strstr(err, "csjack: notice: the orchestra sets sr = 44100; JACK runs at "
                                "48000 Hz, so Csound runs at 48000 Hz\n"),
               NULL),
            "no notice:\n%s", err);
  cr_expect(ne(ptr, strstr(err, ": 48000 Hz, period 256,"), NULL), "stderr:\n%s", err);
  /* The whole score was played: 0.3 s at 48 kHz is 450 blocks of 32 (a
   * count, not a time; the time is printed). */
  fprintf(stderr, "cli_orchestra_sr_differs: a 0.3 s score ended after %.0f ms\n", ms);
  cr_expect(ge(long, summary_blocks(err), 440L), "summary: %s", last_line(err));
  cr_expect(ne(ptr, strstr(last_line(err), "cycles"), NULL), "last line: %s", last_line(err));
  free(err);
}

Test(jack, cli_server_option, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  /* The probe reaches the private server through JACK_DEFAULT_SERVER; then
   * the default is pointed at a name nobody uses, so the CLI can find the
   * private server only through -s. */
  char server[64];
  snprintf(server, sizeof server, "%s", harness_server_name());
  g_probe = probe_open("probe", 0, 1, 1);
  char bogus[96];
  snprintf(bogus, sizeof bogus, "%s-not-here", server);
  setenv("JACK_DEFAULT_SERVER", bogus, 1);

  const char *args[] = {"--no-connect", "-s", server, "-n",
                        harness_name("csjsrv"), harness_data("sine.orc"), NULL};
  HarnessChild *ch = cli_spawn(args);
  wait_cli_active(ch, harness_port("csjsrv", "out_1"));
  cr_assert(eq(int, kill(ch->pid, SIGTERM), 0));
  int rc = harness_child_wait(ch, 3000);
  char *err = harness_read_file(ch->err_path);
  cr_assert(eq(int, rc, 0), "after SIGTERM, stderr:\n%s", err);
  free(err);
}

/* ---- how runs end --------------------------------------------------------------- */

Test(jack, cli_finite_score, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjscore"),
                        harness_data("finite.csd"), NULL};
  char *err;
  double t0 = harness_now_ms();
  int rc = cli_run(args, 10000, &err, NULL);
  double ms = harness_now_ms() - t0;
  cr_assert(eq(int, rc, 0), "stderr:\n%s", err);
  const char *last = last_line(err);
  cr_expect(ne(ptr, strstr(last, "cycles"), NULL), "last line: %s", last);
  cr_expect(ne(ptr, strstr(last, "xruns"), NULL), "last line: %s", last);
  /* 0.5 s at 48 kHz is 750 blocks of 32; the time is printed. */
  fprintf(stderr, "cli_finite_score: a 0.5 s score ended after %.0f ms\n", ms);
  cr_expect(ge(long, summary_blocks(err), 740L), "summary: %s", last);
  free(err);
}

static void signal_stops_orc(int sig)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjsig"),
                        harness_data("sine.orc"), NULL};
  HarnessChild *ch = cli_spawn(args);
  wait_cli_active(ch, harness_port("csjsig", "out_1"));
  double t0 = harness_now_ms();
  cr_assert(eq(int, kill(ch->pid, sig), 0));
  int rc = harness_child_wait(ch, 2000);
  double ms = harness_now_ms() - t0;
  char *err = harness_read_file(ch->err_path);
  cr_assert(eq(int, rc, 0), "after signal %d (%.0f ms), stderr:\n%s", sig, ms,
            err);
  const char *last = last_line(err);
  cr_expect(ne(ptr, strstr(last, "cycles"), NULL), "last line: %s", last);
  free(err);
}

Test(jack, cli_sigint, .init = server_256, .fini = teardown, .timeout = 30)
{
  signal_stops_orc(SIGINT);
}

Test(jack, cli_sigterm, .init = server_256, .fini = teardown, .timeout = 30)
{
  signal_stops_orc(SIGTERM);
}

/*
 * Ctrl-C may come at any time, also while csjack is still starting (its
 * ports exist, activation is under way). It must still end cleanly: exit 0,
 * promptly. Ten runs, each signalled 0-4 ms after its ports appear, so the
 * start-up window is hit (a signal that interrupts a libjack request makes
 * it fail, and can leave jack_client_close() blocked for good).
 */
Test(jack, cli_sigint_during_startup, .init = server_256, .fini = teardown,
     .timeout = 60)
{
  g_probe = probe_open("probe", 0, 1, 1);
  /* Under valgrind a run takes 5 s; three runs keep the test in its limit
   * there, and memcheck still sees the interrupted start-up end. */
  const int runs = harness_time_scale() > 1 ? 3 : 10;
  for (int run = 0; run < runs; run++) {
    char base[32];
    snprintf(base, sizeof base, "csjearly%d", run);
    const char *name = harness_name(base);
    const char *port = harness_port(base, "out_1");
    const char *args[] = {"--no-connect", "-n", name, harness_data("sine.orc"), NULL};
    HarnessChild *ch = cli_spawn(args);
    wait_cli_port(ch, port);
    harness_sleep_ms(run % 5);
    kill(ch->pid, SIGINT);
    int rc = harness_child_wait(ch, 3000);
    char *err = harness_read_file(ch->err_path);
    harness_child_cleanup(ch);
    g_nchild--;
    cr_assert(eq(int, rc, 0),
              "run %d: SIGINT during start-up gave %d (-1: hung, killed "
              "after 3 s). stderr:\n%s", run, rc, err);
    free(err);
  }
}

Test(jack, cli_exitnow_nonzero, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjexit5"),
                        harness_data("exitnow5.csd"), NULL};
  char *err = cli_expect_exit(args, 1);
  free(err);
}

Test(jack, cli_exitnow_zero, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjexit0"),
                        harness_data("exitnow0.csd"), NULL};
  char *err = cli_expect_exit(args, 0);
  free(err);
}

/* data/die.orc dies (csound->Die through the test plugin) during the run. */
Test(jack, cli_csound_fatal_error, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *plugin_dir = getenv("CSJ_TEST_PLUGIN_DIR");
  cr_assert(ne(ptr, (void *)plugin_dir, NULL), "CSJ_TEST_PLUGIN_DIR is not set");
  setenv("OPCODE6DIR64", plugin_dir, 1); /* inherited by the child */
  const char *args[] = {"--no-connect", "-n", harness_name("csjdie"),
                        harness_data("die.orc"), NULL};
  char *err = cli_expect_exit(args, 1);
  free(err);
}

/*
 * Csound options after -- are Csound's: `csound --opcode-lib=X` loads a
 * plugin before compiling, so `csjack FILE -- --opcode-lib=X` should too.
 * (Through the API, Csound loads --opcode-lib libraries in csoundStart;
 * csjack compiles before that, so the opcode is unknown at compile time.)
 */
Test(jack, cli_opcode_lib_option, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *plugin = getenv("CSJ_TEST_PLUGIN");
  cr_assert(ne(ptr, (void *)plugin, NULL), "CSJ_TEST_PLUGIN is not set");
  char opt[1100];
  snprintf(opt, sizeof opt, "--opcode-lib=%s", plugin);
  const char *args[] = {"--no-connect", "-n", harness_name("csjoplib"),
                        harness_data("die.orc"), "--", opt, NULL};
  char *err;
  int rc = cli_run(args, 10000, &err, NULL);
  /* 1: it compiled, ran and died as die.orc should; 4 means the opcode was
   * unknown when csjack compiled */
  cr_expect(eq(int, rc, 1), "stderr:\n%s", err);
  free(err);
}

Test(jack, cli_server_killed, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjkill"),
                        harness_data("sine.orc"), NULL};
  HarnessChild *ch = cli_spawn(args);
  wait_cli_active(ch, harness_port("csjkill", "out_1"));
  probe_close(g_probe); /* keep nothing of ours on the dying server */
  g_probe = NULL;
  harness_sleep_ms(200);
  double t0 = harness_now_ms();
  harness_server_kill();
  int rc = harness_child_wait(ch, 3500);
  double ms = harness_now_ms() - t0;
  char *err = harness_read_file(ch->err_path);
  cr_assert(eq(int, rc, 8), "after %.0f ms, stderr:\n%s", ms, err);
  cr_expect(ne(ptr, strstr(err, "csjack: error: the JACK server shut down during the "
                                "performance"), NULL),
            "no message about the server:\n%s", err);
  /* libjack's own burst ("Cannot read socket fd = 11 err = Success",
   * "CheckRes error", "JackSocketClientChannel read fail", "Server is not
   * running" twice) is held and not shown: csjack's line says it. */
  cr_expect(eq(ptr, strstr(err, "Cannot read socket"), NULL), "libjack's lines shown:\n%s", err);
  cr_expect(eq(ptr, strstr(err, "JackSocketClientChannel"), NULL), "libjack's lines shown:\n%s",
            err);
  cr_expect(eq(ptr, strstr(err, "Server is not running"), NULL), "libjack's lines shown:\n%s",
            err);
  cr_expect(eq(ptr, strstr(err, "CheckRes"), NULL), "libjack's lines shown:\n%s", err);
  free(err);
}

/* ---- connections --------------------------------------------------------------- */

Test(jack, cli_default_connects_physical_ports, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  const char *args[] = {"-n", harness_name("csjphys"), harness_data("thru.orc"),
                        NULL};
  const char *out1 = harness_port("csjphys", "out_1");
  const char *in1 = harness_port("csjphys", "in_1");
  HarnessChild *ch = cli_spawn(args);
  wait_cli_port(ch, out1);
  jack_client_t *c = probe_client(g_probe);
  double deadline = harness_now_ms() + 3000;
  while (!(harness_connected(c, out1, "system:playback_1") &&
           harness_connected(c, "system:capture_1", in1)) &&
         harness_now_ms() < deadline)
    harness_sleep_ms(20);
  cr_expect(harness_connected(c, out1, "system:playback_1"));
  cr_expect(harness_connected(c, "system:capture_1", in1));
}

Test(jack, cli_connect_regex, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  g_probe = probe_open("probe", 2, 2, 1);
  char re_out[128], re_in[128];
  snprintf(re_out, sizeof re_out, "^%s:in_", probe_name(g_probe));
  snprintf(re_in, sizeof re_in, "^%s:out_", probe_name(g_probe));
  const char *args[] = {"-n", harness_name("csjre"), "--connect-out", re_out,
                        "--connect-in", re_in, harness_data("thru.orc"), NULL};
  const char *out1 = harness_port("csjre", "out_1");
  const char *in1 = harness_port("csjre", "in_1");
  const char *p_in1 = probe_port(g_probe, "in_1");
  const char *p_out1 = probe_port(g_probe, "out_1");
  HarnessChild *ch = cli_spawn(args);
  wait_cli_port(ch, out1);
  jack_client_t *c = probe_client(g_probe);
  double deadline = harness_now_ms() + 3000;
  while (!(harness_connected(c, out1, p_in1) &&
           harness_connected(c, p_out1, in1)) &&
         harness_now_ms() < deadline)
    harness_sleep_ms(20);
  cr_expect(harness_connected(c, out1, p_in1));
  cr_expect(harness_connected(c, p_out1, in1));
  /* and not to the physical ports */
  cr_expect(not(harness_connected(c, out1, "system:playback_1")));
  cr_expect(not(harness_connected(c, "system:capture_1", in1)));
}

Test(jack, cli_no_connect, .init = server_256, .fini = teardown,
     .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csjalone"),
                        harness_data("thru.orc"), NULL};
  HarnessChild *ch = cli_spawn(args);
  wait_cli_port(ch, harness_port("csjalone", "out_1"));
  harness_sleep_ms(300);
  jack_client_t *c = probe_client(g_probe);
  jack_port_t *o = jack_port_by_name(c, harness_port("csjalone", "out_1"));
  jack_port_t *i = jack_port_by_name(c, harness_port("csjalone", "in_1"));
  cr_assert(ne(ptr, o, NULL));
  cr_assert(ne(ptr, i, NULL));
  cr_expect(eq(int, jack_port_connected(o), 0));
  cr_expect(eq(int, jack_port_connected(i), 0));
}

Test(jack, cli_csound_options_after_dashdash, .init = server_256,
     .fini = teardown, .timeout = 30)
{
  /* --nchnls=3 overrides the orchestra's nchnls = 2 */
  const char *args[] = {"--no-connect", "-n", harness_name("csjopts"),
                        harness_data("sine.orc"), "--", "--nchnls=3", NULL};
  HarnessChild *ch = cli_spawn(args);
  wait_cli_port(ch, harness_port("csjopts", "out_1"));
  cr_expect(harness_wait_port(probe_client(g_probe),
                              harness_port("csjopts", "out_3"), 3000),
            "Csound's --nchnls=3 did not give a third output");
}

/* ---- stopping releases the server --------------------------------------------- */

/*
 * Issue 10: with many ports described in JACK's metadata (pretty name,
 * order), jack_client_close never returned and the server answered no one
 * until csjack was killed. csjack now removes its metadata before it
 * deactivates. "Did not hang" is all that is asserted: the timeouts are
 * generous and only catch a hang; the times are printed.
 */

/* Sends @p text to a piped child's stdin. */
static void send_text(int fd, const char *text)
{
  size_t n = strlen(text);
  while (n > 0) {
    ssize_t w = write(fd, text, n);
    if (w < 0 && errno == EINTR)
      continue;
    cr_assert(gt(long, (long)w, 0L), "write to csjack: %s", strerror(errno));
    text += w;
    n -= (size_t)w;
  }
}

Test(jack, cli_quit_with_64_outputs_releases_server, .init = server_256, .fini = teardown,
     .timeout = 90)
{
  signal(SIGPIPE, SIG_IGN);
  const char *args[] = {bin(), "--no-connect", "-n", harness_name("csj64"),
                        harness_data("outputs64.orc"), NULL};
  HarnessChild *ch = &g_child[g_nchild++];
  const int in = harness_spawn_piped(ch, (char *const *)args);
  wait_cli_active(ch, harness_port("csj64", "out_64"));
  /* Nothing of ours on the server but csjack itself while it closes. */
  probe_close(g_probe);
  g_probe = NULL;
  const double t0 = harness_now_ms();
  send_text(in, ":quit\n");
  const int rc = harness_child_wait(ch, 20000);
  const double quit_ms = harness_now_ms() - t0;
  close(in);
  double lsp_ms = 0;
  const bool answers = harness_server_answers(10000, &lsp_ms);
  char *err = harness_read_file(ch->err_path);
  cr_log_info("64 outputs: :quit to exit %.0f ms; then jack_lsp %.0f ms", quit_ms, lsp_ms);
  fprintf(stderr, "cli_quit_with_64_outputs: :quit to exit %.0f ms; jack_lsp %.0f ms\n", quit_ms,
          lsp_ms);
  cr_assert(eq(int, rc, 0), "csjack did not exit after :quit (-1: hung, killed after 20 s). "
                            "stderr:\n%s", err);
  cr_assert(answers, "the server did not answer jack_lsp after csjack quit");
  free(err);
}

#define TEN 10

Test(jack, cli_ten_instances_stopped_together, .init = server_256, .fini = teardown,
     .timeout = 280)
{
  signal(SIGPIPE, SIG_IGN);
  /* Under valgrind each start takes seconds: one round there. */
  const int rounds = harness_time_scale() > 1 ? 1 : 5;
  g_probe = probe_open("probe", 0, 1, 1);
  for (int round = 0; round < rounds; round++) {
    HarnessChild ch[TEN];
    int in[TEN];
    char base[TEN][32];
    for (int i = 0; i < TEN; i++) {
      snprintf(base[i], sizeof base[i], "csjten%d", i);
      const char *args[] = {bin(), "--no-connect", "-n", harness_name(base[i]),
                            harness_data("sine.orc"), NULL};
      in[i] = harness_spawn_piped(&ch[i], (char *const *)args);
    }
    for (int i = 0; i < TEN; i++) {
      const bool up = harness_wait_port(probe_client(g_probe), harness_port(base[i], "out_2"),
                                        30000);
      if (!up) {
        char *err = harness_read_file(ch[i].err_path);
        for (int j = 0; j < TEN; j++)
          harness_child_cleanup(&ch[j]);
        cr_fatal("round %d: csjack %d never registered its ports. stderr:\n%s", round, i, err);
      }
    }
    harness_sleep_ms(300);
    /* Even rounds by SIGTERM, odd ones by :quit, all at once. */
    const double t0 = harness_now_ms();
    for (int i = 0; i < TEN; i++) {
      if (round % 2 == 0)
        kill(ch[i].pid, SIGTERM);
      else
        send_text(in[i], ":quit\n");
    }
    int rc[TEN];
    int hung = 0;
    for (int i = 0; i < TEN; i++) {
      rc[i] = harness_child_wait(&ch[i], 30000);
      hung += rc[i] == -1;
    }
    const double stop_ms = harness_now_ms() - t0;
    double lsp_ms = 0;
    const bool answers = harness_server_answers(10000, &lsp_ms);
    fprintf(stderr, "cli_ten_instances: round %d (%s): all exited after %.0f ms; jack_lsp %.0f ms\n",
            round, round % 2 == 0 ? "SIGTERM" : ":quit", stop_ms, lsp_ms);
    char *first_err = NULL;
    int first_bad = -1;
    for (int i = 0; i < TEN; i++) {
      if (rc[i] != 0 && first_bad < 0) {
        first_bad = i;
        first_err = keep_err(harness_read_file(ch[i].err_path));
      }
      close(in[i]);
      harness_child_cleanup(&ch[i]);
    }
    cr_assert(eq(int, hung, 0), "round %d: %d of %d instances hung in their exit", round, hung,
              TEN);
    cr_assert(eq(int, first_bad, -1), "round %d: instance %d exited %d. stderr:\n%s", round,
              first_bad, first_bad >= 0 ? rc[first_bad] : 0, first_err ? first_err : "");
    cr_assert(answers, "round %d: the server did not answer jack_lsp afterwards", round);
  }
}

/* More channels than csjack has ports (64 each way) is an unusable
 * orchestra, exit 7, with one line that says so. */
Test(jack, cli_too_many_channels, .init = server_256, .fini = teardown, .timeout = 30)
{
  const char *args[] = {"--no-connect", "-n", harness_name("csj65"),
                        harness_data("outputs64.orc"), "--", "--nchnls=65", NULL};
  char *err = cli_expect_exit(args, 7);
  cr_expect(ne(ptr, strstr(last_line(err), "csjack: error: too many channels"), NULL),
            "last line: %s", last_line(err));
  free(err);
}
