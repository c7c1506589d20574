/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test harness: private jackd, probe client, child processes. See the .h. */

#include "jack_harness.h"
#include "private_jackd.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#define PROBE_MAX_PORTS 8

/* ---- time ------------------------------------------------------------------ */

double harness_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void harness_sleep_ms(double ms)
{
  if (ms <= 0)
    return;
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1e3);
  ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1e3) * 1e6);
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* Set by tests/valgrind.sh for every process it runs under memcheck. */
static bool under_valgrind(void)
{
  return getenv("CSJ_UNDER_VALGRIND") != NULL;
}

double harness_time_scale(void)
{
  return under_valgrind() ? 10.0 : 1.0;
}

/* ---- unique names ------------------------------------------------------------ */

/* The names below live until exit. They stay on this list so that memcheck
 * (meson test --setup=valgrind) counts them as reachable, not as leaks. */
typedef struct KeptString {
  struct KeptString *next;
  char text[];
} KeptString;

static KeptString *kept_strings;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 1, 2))) static const char *kept_printf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    abort();
  KeptString *k = malloc(sizeof(*k) + (size_t)n + 1);
  if (!k)
    abort();
  va_start(ap, fmt);
  vsnprintf(k->text, (size_t)n + 1, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&kept_lock);
  k->next = kept_strings;
  kept_strings = k;
  pthread_mutex_unlock(&kept_lock);
  return k->text;
}

const char *harness_name(const char *base)
{
  return kept_printf("%s-%d", base, (int)getpid());
}

const char *harness_port(const char *base, const char *port)
{
  return kept_printf("%s-%d:%s", base, (int)getpid(), port);
}

/* ---- child setup shared by jackd and CLI children --------------------------- */

/* In a freshly forked child: die with the parent, default signal state. */
const char *harness_data(const char *file)
{
  static char paths[8][1024];
  static int k;
  const char *dir = getenv("CSJ_TEST_DATA");
  cr_assert(ne(ptr, (void *)dir, NULL), "CSJ_TEST_DATA is not set");
  char *p = paths[k++ % 8];
  snprintf(p, 1024, "%s/%s", dir, file);
  return p;
}

void harness_child_setup(pid_t parent)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
}

static void redirect_fd(int fd, const char *path, int flags)
{
  int f = open(path, flags, 0644);
  if (f < 0)
    _exit(126);
  if (f != fd) {
    dup2(f, fd);
    close(f);
  }
}

char *harness_read_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return strdup("");
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len <= 1) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  fclose(f);
  if (!buf)
    return strdup("");
  buf[len] = '\0';
  return buf;
}

/* ---- private JACK server ---------------------------------------------------- */

static struct {
  pid_t pid;
  char name[64];
  char log_path[256];
  char killed_name[64]; /* SIGKILLed, registry entry still to reclaim */
  bool restart;         /* the next start takes killed_name (harness_server_restart) */
} g_srv = {.pid = -1};

/* ---- watchdog: where a test hung ---------------------------------------------- */

/*
 * When a test runs into its Criterion timeout, Criterion kills the test
 * process and says only "Timed out": nothing tells which call hung. So the
 * first harness call of a test arms a watchdog thread. If the test is still
 * running at 85% of its timeout, the watchdog prints every thread's stack
 * (gdb, when installed; otherwise each thread's name, state and kernel wait
 * channel from /proc) and the private server's log to stderr, which meson
 * shows with the failure. It never alters the test's outcome. Not armed
 * under valgrind (CSJ_UNDER_VALGRIND, set by tests/valgrind.sh), where the
 * timings mean nothing and gdb cannot attach.
 */
static struct {
  pthread_t thread;
  bool armed;
  double fire_at_ms;
} g_watchdog;

/* Line @p key (e.g. "State:") of @p task's /proc file @p what, without the
 * key and its newline; the first line when @p key is NULL. "?" if none. */
static char *proc_task_line(const char *task, const char *what, const char *key)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", task, what);
  char *text = harness_read_file(path);
  const char *line = key ? strstr(text, key) : text;
  char *out = strdup(line && *line ? line + (key ? strlen(key) : 0) : "?");
  free(text);
  out[strcspn(out, "\n")] = '\0';
  return out;
}

static void watchdog_print_proc_threads(void)
{
  glob_t g;
  if (glob("/proc/self/task/*", 0, NULL, &g) != 0)
    return;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    char *comm = proc_task_line(g.gl_pathv[i], "comm", NULL);
    char *state = proc_task_line(g.gl_pathv[i], "status", "State:\t");
    char *wchan = proc_task_line(g.gl_pathv[i], "wchan", NULL);
    fprintf(stderr, "harness: watchdog:   task %s (%s): %s, waiting in %s\n",
            strrchr(g.gl_pathv[i], '/') + 1, comm, state, wchan);
    free(comm);
    free(state);
    free(wchan);
  }
  globfree(&g);
}

static void watchdog_print_stacks(void)
{
  char pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  /* gdb is our child, and Yama's ptrace_scope 1 lets a process be traced
   * only by its ancestors unless it names a tracer. */
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  fflush(NULL);
  pid_t gdb = fork();
  if (gdb == 0) {
    redirect_fd(0, "/dev/null", O_RDONLY);
    dup2(2, 1);
    execlp("gdb", "gdb", "-nx", "-batch", "-p", pid, "-ex", "set pagination off",
           "-ex", "thread apply all bt 30", (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (gdb > 0)
    waitpid(gdb, &st, 0);
  if (gdb < 0 || !WIFEXITED(st) || WEXITSTATUS(st) == 127) {
    fprintf(stderr, "harness: watchdog: (no gdb: threads from /proc)\n");
    watchdog_print_proc_threads();
  }
}

static void *watchdog_main(void *arg)
{
  (void)arg;
  double left;
  while ((left = g_watchdog.fire_at_ms - harness_now_ms()) > 0)
    harness_sleep_ms(left);
  const char *test = criterion_current_test && criterion_current_test->name
                         ? criterion_current_test->name
                         : "?";
  fprintf(stderr,
          "harness: watchdog: test '%s' is still running at 85%% of its timeout "
          "and is about to be killed; the stacks of its threads:\n", test);
  watchdog_print_stacks();
  const char *log = g_srv.pid > 0 ? g_srv.log_path : NULL;
  if (log) {
    char *text = harness_read_file(log);
    fprintf(stderr, "harness: watchdog: log of jackd '%s':\n%s\n", g_srv.name, text);
    free(text);
  }
  fprintf(stderr, "harness: watchdog: end\n");
  return NULL;
}

static void watchdog_arm(void)
{
  if (g_watchdog.armed || under_valgrind())
    return;
  if (!criterion_current_test || !criterion_current_test->data)
    return;
  /* Criterion places the test's data in a section where it can be
   * misaligned (UBSan says so), so the field is copied out, not read. */
  double timeout_s;
  memcpy(&timeout_s,
         (const char *)criterion_current_test->data +
             offsetof(struct criterion_test_extra_data, timeout),
         sizeof timeout_s);
  if (timeout_s <= 0)
    return;
  g_watchdog.fire_at_ms = harness_now_ms() + timeout_s * 1e3 * 0.85;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&g_watchdog.thread, &attr, watchdog_main, NULL) == 0)
    g_watchdog.armed = true;
  pthread_attr_destroy(&attr);
}

static unsigned g_name_counter;

static void silent_jack_message(const char *msg) { (void)msg; }

static void stderr_jack_message(const char *msg)
{
  fprintf(stderr, "[jack] %s\n", msg);
}

const char *harness_server_name(void)
{
  return g_srv.pid > 0 ? g_srv.name : NULL;
}

bool harness_server_running(void)
{
  if (g_srv.pid <= 0)
    return false;
  int st;
  pid_t r = waitpid(g_srv.pid, &st, WNOHANG);
  return r == 0;
}

void harness_no_server(void)
{
  watchdog_arm();
  char name[64];
  snprintf(name, sizeof name, "csjtest-none-%d-%u", (int)getpid(),
           ++g_name_counter);
  setenv("JACK_NO_START_SERVER", "1", 1);
  setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
  setenv("JACK_DEFAULT_SERVER", name, 1);
}

static void server_forget(void)
{
  private_jackd_cleanup_files(g_srv.name);
  if (!getenv("CSJ_TEST_KEEP_LOGS"))
    unlink(g_srv.log_path);
  g_srv.pid = -1;
}

/*
 * JACK keeps a registry of running servers in shared memory with room for
 * only 8 (MAX_SERVERS). A server killed with SIGKILL cannot unregister, and
 * JACK reclaims a dead entry only when a server of the same name starts. So
 * after a SIGKILL (and for leftovers of crashed test runs) the harness starts
 * a throwaway jackd under the same name and stops it cleanly: JACK's own
 * code frees the entry. Only names "csjtest-<pid>-<n>" whose test process
 * <pid> is gone (or is us) are touched.
 */
static const char *harness_jack_client(void)
{
  static char me[64];
  snprintf(me, sizeof me, "csjharness-%d", (int)getpid());
  return me;
}

static void reclaim_server_name(const char *name)
{
  private_jackd_set_jack_messages(stderr_jack_message, silent_jack_message);
  private_jackd_reclaim(name, harness_jack_client());
}

/* Finds registry entries of dead csjtest servers and reclaims them. */
static void reclaim_stale_test_servers(void)
{
  FILE *f = fopen("/dev/shm/jack-shm-registry", "rb");
  if (!f)
    return;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char prefix[64];
  int plen = snprintf(prefix, sizeof prefix, "jack-%d:csjtest-", (int)getuid());
  char found[16][64];
  int nfound = 0;
  for (size_t i = 0; i + (size_t)plen < n && nfound < 16; i++) {
    if (memcmp(buf + i, prefix, (size_t)plen) != 0)
      continue;
    const char *name = buf + i + plen - strlen("csjtest-");
    const char *end = memchr(name, ':', 64);
    if (!end || end - name >= 64)
      continue;
    char nm[64];
    memcpy(nm, name, (size_t)(end - name));
    nm[end - name] = '\0';
    int tpid = 0;
    unsigned k = 0;
    if (sscanf(nm, "csjtest-%d-%u", &tpid, &k) != 2 || tpid <= 0)
      continue;
    if (g_srv.pid > 0 && strcmp(nm, g_srv.name) == 0)
      continue; /* our running server */
    bool dead = tpid == (int)getpid() || (kill(tpid, 0) == -1 && errno == ESRCH);
    if (dead)
      snprintf(found[nfound++], 64, "%s", nm);
  }
  for (int i = 0; i < nfound; i++) {
    fprintf(stderr, "harness: freeing the JACK registry entry of dead server '%s'\n",
            found[i]);
    reclaim_server_name(found[i]);
  }
}

/* Starts jackd once. Returns true when it accepts clients; false when it
 * exited at once because JACK's registry of servers (8 slots, shared by the
 * whole machine) is full, which is worth waiting out: other servers end. */
static bool try_server_start(uint32_t period, uint32_t rate)
{
  cr_assert(g_srv.pid <= 0, "harness: a server is already running");
  reclaim_stale_test_servers();

  if (g_srv.killed_name[0] && g_srv.restart) {
    /* A restart: the killed server's name, whose registry entry the new
     * server takes over. */
    snprintf(g_srv.name, sizeof g_srv.name, "%s", g_srv.killed_name);
    g_srv.killed_name[0] = '\0';
  } else {
    snprintf(g_srv.name, sizeof g_srv.name, "csjtest-%d-%u", (int)getpid(),
             ++g_name_counter);
  }
  g_srv.restart = false;
  snprintf(g_srv.log_path, sizeof g_srv.log_path, "/tmp/%s.log", g_srv.name);
  setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
  setenv("JACK_NO_START_SERVER", "1", 1);
  setenv("JACK_DEFAULT_SERVER", g_srv.name, 1);

  const PrivateJackdOptions o = {.name = g_srv.name,
                                 .period = period,
                                 .rate = rate,
                                 .capture = 2,
                                 .playback = 2,
                                 .log_path = g_srv.log_path,
                                 .death_signal = SIGKILL};
  pid_t pid = private_jackd_spawn(&o);
  cr_assert(pid >= 0, "harness: fork failed: %s", strerror(errno));
  g_srv.pid = pid;

  private_jackd_set_jack_messages(stderr_jack_message, silent_jack_message);
  int st = 0;
  switch (private_jackd_wait(pid, g_srv.name, harness_jack_client(), g_srv.log_path, 5000,
                             &st)) {
  case PRIVATE_JACKD_UP:
    return true;
  case PRIVATE_JACKD_REGISTRY_FULL:
    g_srv.pid = -1;
    private_jackd_cleanup_files(g_srv.name);
    unlink(g_srv.log_path);
    return false;
  case PRIVATE_JACKD_EXITED: {
    char *log = harness_read_file(g_srv.log_path);
    g_srv.pid = -1;
    private_jackd_cleanup_files(g_srv.name);
    unlink(g_srv.log_path);
    cr_fatal("harness: jackd exited at startup (status 0x%x). Log:\n%s", st, log);
  }
  case PRIVATE_JACKD_TIMEOUT:
  default: {
    char *log = harness_read_file(g_srv.log_path);
    harness_server_kill();
    cr_fatal("harness: jackd '%s' did not accept clients within 5 s. "
             "Log:\n%s", g_srv.name, log);
  }
  }
  return false;
}

void harness_server_start(uint32_t period, uint32_t rate)
{
  watchdog_arm();
  /* Up to 20 s for a registry slot: servers of other test runs (or other
   * programs) on this machine end and free theirs. */
  double deadline = harness_now_ms() + 20000;
  bool said = false;
  while (!try_server_start(period, rate)) {
    if (!said) {
      fprintf(stderr, "harness: JACK's registry of servers is full (8 on this machine); "
                      "waiting up to 20 s for a slot\n");
      said = true;
    }
    cr_assert(harness_now_ms() < deadline,
              "harness: JACK's registry of servers stayed full (8 servers "
              "active on this machine) for 20 s");
    harness_sleep_ms(250);
  }
}

void harness_server_stop(void)
{
  if (g_srv.killed_name[0]) {
    reclaim_server_name(g_srv.killed_name);
    g_srv.killed_name[0] = '\0';
  }
  if (g_srv.pid <= 0)
    return;
  private_jackd_stop(g_srv.pid, 3000);
  server_forget();
}

void harness_server_restart(uint32_t period, uint32_t rate)
{
  if (!g_srv.killed_name[0])
    cr_fatal("harness: restart needs a killed server");
  g_srv.restart = true;
  harness_server_start(period, rate);
}

void harness_server_kill(void)
{
  if (g_srv.pid <= 0)
    return;
  kill(g_srv.pid, SIGKILL);
  int st;
  waitpid(g_srv.pid, &st, 0);
  server_forget();
  /* reclaimed by harness_server_stop() (the .fini), not now: a test that
   * kills its server should see it gone, not replaced */
  snprintf(g_srv.killed_name, sizeof g_srv.killed_name, "%s", g_srv.name);
}

/* ---- probe ---------------------------------------------------------------- */

enum { PROBE_IDLE, PROBE_ARMED, PROBE_RUNNING, PROBE_DONE };

struct HarnessProbe {
  jack_client_t *client;
  const char *name;
  int n_out, n_in;
  jack_port_t *outs[PROBE_MAX_PORTS];
  jack_port_t *ins[PROBE_MAX_PORTS];
  float *play[PROBE_MAX_PORTS];
  size_t play_len[PROBE_MAX_PORTS];
  float *rec[PROBE_MAX_PORTS];
  size_t cap;
  /* process thread only */
  size_t pos;
  jack_nframes_t next_frame;
  /* shared */
  atomic_int state;
  atomic_size_t recorded;
  atomic_uint discont;
  jack_nframes_t start_frame; /* published by the release store of recorded */
  /* Where the recording jumped: from index jump_index[i] on, recording
   * index k is frame jump_frame[i] + (k - jump_index[i]). Published by the
   * release store of recorded, like start_frame. */
  size_t jump_index[PROBE_MAX_JUMPS];
  jack_nframes_t jump_frame[PROBE_MAX_JUMPS];
};

static int probe_process(jack_nframes_t n, void *arg)
{
  HarnessProbe *p = arg;
  int st = atomic_load_explicit(&p->state, memory_order_acquire);
  jack_nframes_t now = jack_last_frame_time(p->client);

  if (st == PROBE_ARMED) {
    p->start_frame = now;
    p->next_frame = now;
    p->pos = 0;
    st = PROBE_RUNNING;
    atomic_store_explicit(&p->state, PROBE_RUNNING, memory_order_release);
  }
  if (st == PROBE_RUNNING && now != p->next_frame) {
    const unsigned d = atomic_fetch_add(&p->discont, 1u);
    if (d < PROBE_MAX_JUMPS) {
      p->jump_index[d] = p->pos;
      p->jump_frame[d] = now;
    }
  }

  for (int i = 0; i < p->n_out; i++) {
    float *b = jack_port_get_buffer(p->outs[i], n);
    memset(b, 0, sizeof(float) * n);
    if (st == PROBE_RUNNING && p->play[i] && p->pos < p->play_len[i]) {
      size_t k = p->play_len[i] - p->pos;
      if (k > n)
        k = n;
      memcpy(b, p->play[i] + p->pos, sizeof(float) * k);
    }
  }

  if (st == PROBE_RUNNING) {
    size_t room = p->cap - p->pos;
    size_t k = n < room ? n : room;
    for (int i = 0; i < p->n_in; i++) {
      const float *b = jack_port_get_buffer(p->ins[i], n);
      memcpy(p->rec[i] + p->pos, b, sizeof(float) * k);
    }
    p->pos += k;
    p->next_frame = now + n;
    atomic_store_explicit(&p->recorded, p->pos, memory_order_release);
    if (p->pos >= p->cap)
      atomic_store_explicit(&p->state, PROBE_DONE, memory_order_release);
  }
  return 0;
}

/* The probe is a pure source and sink: its outputs do not depend on its
 * inputs, so it reports zero latency on both and loops through it do not
 * accumulate. */
static void probe_latency(jack_latency_callback_mode_t mode, void *arg)
{
  HarnessProbe *p = arg;
  jack_latency_range_t r = {0, 0};
  if (mode == JackCaptureLatency) {
    for (int i = 0; i < p->n_out; i++)
      jack_port_set_latency_range(p->outs[i], mode, &r);
  } else {
    for (int i = 0; i < p->n_in; i++)
      jack_port_set_latency_range(p->ins[i], mode, &r);
  }
}

HarnessProbe *probe_open(const char *base, int n_out, int n_in,
                         size_t rec_capacity_frames)
{
  const char *name = harness_name(base);
  cr_assert(n_out >= 0 && n_out <= PROBE_MAX_PORTS && n_in >= 0 &&
            n_in <= PROBE_MAX_PORTS);
  HarnessProbe *p = calloc(1, sizeof *p);
  cr_assert(p != NULL);
  p->name = name;
  p->n_out = n_out;
  p->n_in = n_in;
  p->cap = rec_capacity_frames ? rec_capacity_frames : 1;
  atomic_init(&p->state, PROBE_IDLE);
  atomic_init(&p->recorded, 0);
  atomic_init(&p->discont, 0u);
  for (int i = 0; i < n_in; i++) {
    p->rec[i] = calloc(p->cap, sizeof(float));
    cr_assert(p->rec[i] != NULL);
  }

  jack_status_t status = 0;
  p->client = jack_client_open(name, JackNoStartServer | JackUseExactName,
                               &status);
  cr_assert(p->client != NULL,
            "probe: jack_client_open('%s') failed, status 0x%x", name,
            (unsigned)status);
  cr_assert(eq(int, jack_set_process_callback(p->client, probe_process, p), 0));
  cr_assert(
      eq(int, jack_set_latency_callback(p->client, probe_latency, p), 0));
  for (int i = 0; i < n_out; i++) {
    char pn[32];
    snprintf(pn, sizeof pn, "out_%d", i + 1);
    p->outs[i] = jack_port_register(p->client, pn, JACK_DEFAULT_AUDIO_TYPE,
                                    JackPortIsOutput, 0);
    cr_assert(p->outs[i] != NULL, "probe: cannot register %s", pn);
  }
  for (int i = 0; i < n_in; i++) {
    char pn[32];
    snprintf(pn, sizeof pn, "in_%d", i + 1);
    p->ins[i] = jack_port_register(p->client, pn, JACK_DEFAULT_AUDIO_TYPE,
                                   JackPortIsInput, 0);
    cr_assert(p->ins[i] != NULL, "probe: cannot register %s", pn);
  }
  cr_assert(eq(int, jack_activate(p->client), 0), "probe: activate failed");
  return p;
}

void probe_set_output(HarnessProbe *p, int out_idx, const float *data,
                      size_t len)
{
  cr_assert(out_idx >= 0 && out_idx < p->n_out);
  cr_assert(atomic_load(&p->state) == PROBE_IDLE,
            "probe_set_output after probe_arm");
  free(p->play[out_idx]);
  p->play[out_idx] = malloc(sizeof(float) * (len ? len : 1));
  cr_assert(p->play[out_idx] != NULL);
  memcpy(p->play[out_idx], data, sizeof(float) * len);
  p->play_len[out_idx] = len;
}

void probe_arm(HarnessProbe *p)
{
  /* Re-arming after a recording starts a new one: its counters restart.
   * The process thread does not touch them while the probe is idle or done. */
  atomic_store_explicit(&p->recorded, 0, memory_order_relaxed);
  atomic_store_explicit(&p->discont, 0u, memory_order_relaxed);
  atomic_store_explicit(&p->state, PROBE_ARMED, memory_order_release);
}

size_t probe_recorded(const HarnessProbe *p)
{
  return atomic_load_explicit(&((HarnessProbe *)p)->recorded,
                              memory_order_acquire);
}

bool probe_wait_recorded(HarnessProbe *p, size_t frames, int timeout_ms)
{
  if (frames > p->cap)
    frames = p->cap;
  double deadline = harness_now_ms() + timeout_ms;
  while (probe_recorded(p) < frames) {
    if (harness_now_ms() > deadline)
      return false;
    harness_sleep_ms(5);
  }
  return true;
}

const float *probe_recording(const HarnessProbe *p, int in_idx)
{
  cr_assert(in_idx >= 0 && in_idx < p->n_in);
  return p->rec[in_idx];
}

jack_nframes_t probe_start_frame(const HarnessProbe *p)
{
  (void)probe_recorded(p); /* acquire */
  return p->start_frame;
}

unsigned probe_discontinuities(const HarnessProbe *p)
{
  return atomic_load(&((HarnessProbe *)p)->discont);
}

long probe_index_of(const HarnessProbe *p, jack_nframes_t frame)
{
  const size_t recorded = probe_recorded(p); /* acquire: the jump log too */
  const unsigned jumps = probe_discontinuities(p);
  if (jumps > PROBE_MAX_JUMPS)
    return -2;
  /* The segments: [0, first jump), [jump i, jump i+1), ... The frame is in
   * the last one that began at or before it, if that one reaches it. */
  size_t seg_index = 0;
  jack_nframes_t seg_frame = p->start_frame;
  size_t seg_end = jumps ? p->jump_index[0] : (size_t)-1;
  long found = -1;
  for (unsigned i = 0;; i++) {
    const int32_t d = (int32_t)(frame - seg_frame);
    if (d >= 0 && seg_index + (size_t)d < seg_end)
      found = (long)(seg_index + (size_t)d);
    if (i == jumps)
      break;
    seg_index = p->jump_index[i];
    seg_frame = p->jump_frame[i];
    seg_end = i + 1 < jumps ? p->jump_index[i + 1] : (size_t)-1;
  }
  if (found < 0 && getenv("CSJ_PROBE_DEBUG")) {
    fprintf(stderr, "probe_index_of(%u): start %u, recorded %zu, %u jumps:", frame, p->start_frame, recorded, jumps);
    for (unsigned i = 0; i < jumps && i < PROBE_MAX_JUMPS; i++)
      fprintf(stderr, " [%zu: %u]", p->jump_index[i], p->jump_frame[i]);
    fprintf(stderr, "\n");
  }
  return found;
}

jack_client_t *probe_client(HarnessProbe *p) { return p->client; }

const char *probe_name(const HarnessProbe *p) { return p->name; }

const char *probe_port(const HarnessProbe *p, const char *port)
{
  return kept_printf("%s:%s", p->name, port);
}

void probe_close(HarnessProbe *p)
{
  if (!p)
    return;
  if (p->client) {
    jack_deactivate(p->client);
    jack_client_close(p->client);
  }
  for (int i = 0; i < PROBE_MAX_PORTS; i++) {
    free(p->play[i]);
    free(p->rec[i]);
  }
  free(p);
}

/* ---- port helpers ------------------------------------------------------------ */

int harness_connect(jack_client_t *c, const char *src, const char *dst)
{
  return jack_connect(c, src, dst);
}

bool harness_wait_port(jack_client_t *c, const char *full_name, int timeout_ms)
{
  double deadline = harness_now_ms() + timeout_ms * harness_time_scale();
  for (;;) {
    if (jack_port_by_name(c, full_name))
      return true;
    if (harness_now_ms() > deadline)
      return false;
    harness_sleep_ms(1);
  }
}

void harness_jack_errors(bool show)
{
  jack_set_error_function(show ? stderr_jack_message : silent_jack_message);
}

bool harness_connected(jack_client_t *c, const char *a, const char *b)
{
  jack_port_t *pa = jack_port_by_name(c, a);
  if (!pa)
    return false;
  const char **conns = jack_port_get_all_connections(c, pa);
  bool found = false;
  for (size_t i = 0; conns && conns[i]; i++)
    if (strcmp(conns[i], b) == 0)
      found = true;
  if (conns)
    jack_free(conns);
  return found;
}

/* ---- analysis ------------------------------------------------------------------ */

double harness_frequency(const float *x, size_t n, double rate)
{
  double first = -1, last = -1;
  long count = 0;
  for (size_t i = 1; i < n; i++) {
    if (x[i - 1] < 0.0f && x[i] >= 0.0f) {
      double t = (double)(i - 1) +
                 (double)(-x[i - 1]) / (double)(x[i] - x[i - 1]);
      if (first < 0)
        first = t;
      last = t;
      count++;
    }
  }
  if (count < 2 || last <= first)
    return 0.0;
  return (double)(count - 1) * rate / (last - first);
}

float harness_peak(const float *x, size_t n)
{
  float m = 0.0f;
  for (size_t i = 0; i < n; i++)
    if (fabsf(x[i]) > m)
      m = fabsf(x[i]);
  return m;
}

long harness_first_above(const float *x, size_t n, float threshold)
{
  for (size_t i = 0; i < n; i++)
    if (fabsf(x[i]) > threshold)
      return (long)i;
  return -1;
}

/* ---- child processes -------------------------------------------------------- */

static unsigned g_child_counter;

void harness_spawn(HarnessChild *ch, char *const argv[])
{
  unsigned k = ++g_child_counter;
  snprintf(ch->out_path, sizeof ch->out_path, "/tmp/csjtest-%d-child%u.out",
           (int)getpid(), k);
  snprintf(ch->err_path, sizeof ch->err_path, "/tmp/csjtest-%d-child%u.err",
           (int)getpid(), k);
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(pid >= 0, "harness: fork failed: %s", strerror(errno));
  if (pid == 0) {
    harness_child_setup(parent);
    redirect_fd(0, "/dev/null", O_RDONLY);
    redirect_fd(1, ch->out_path, O_WRONLY | O_CREAT | O_TRUNC);
    redirect_fd(2, ch->err_path, O_WRONLY | O_CREAT | O_TRUNC);
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  ch->pid = pid;
}

int harness_spawn_piped(HarnessChild *ch, char *const argv[])
{
  unsigned k = ++g_child_counter;
  snprintf(ch->out_path, sizeof ch->out_path, "/tmp/csjtest-%d-child%u.out",
           (int)getpid(), k);
  snprintf(ch->err_path, sizeof ch->err_path, "/tmp/csjtest-%d-child%u.err",
           (int)getpid(), k);
  int in[2];
  cr_assert(pipe2(in, O_CLOEXEC) == 0, "harness: pipe failed: %s", strerror(errno));
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(pid >= 0, "harness: fork failed: %s", strerror(errno));
  if (pid == 0) {
    harness_child_setup(parent);
    dup2(in[0], 0);
    redirect_fd(1, ch->out_path, O_WRONLY | O_CREAT | O_TRUNC);
    redirect_fd(2, ch->err_path, O_WRONLY | O_CREAT | O_TRUNC);
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  ch->pid = pid;
  return in[1];
}

bool harness_server_answers(int timeout_ms, double *ms)
{
  HarnessChild ch;
  unsigned k = ++g_child_counter;
  snprintf(ch.out_path, sizeof ch.out_path, "/tmp/csjtest-%d-child%u.out", (int)getpid(), k);
  snprintf(ch.err_path, sizeof ch.err_path, "/tmp/csjtest-%d-child%u.err", (int)getpid(), k);
  const double t0 = harness_now_ms();
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(pid >= 0, "harness: fork failed: %s", strerror(errno));
  if (pid == 0) {
    harness_child_setup(parent);
    redirect_fd(0, "/dev/null", O_RDONLY);
    redirect_fd(1, ch.out_path, O_WRONLY | O_CREAT | O_TRUNC);
    redirect_fd(2, ch.err_path, O_WRONLY | O_CREAT | O_TRUNC);
    execlp("jack_lsp", "jack_lsp", (char *)NULL);
    _exit(127);
  }
  ch.pid = pid;
  const int rc = harness_child_wait(&ch, timeout_ms);
  if (ms)
    *ms = harness_now_ms() - t0;
  if (rc == 127)
    cr_fatal("harness: jack_lsp is not installed (package jackd2)");
  harness_child_cleanup(&ch);
  return rc == 0;
}

int harness_child_wait(HarnessChild *ch, int timeout_ms)
{
  if (ch->pid <= 0)
    return -1;
  double deadline = harness_now_ms() + timeout_ms * harness_time_scale();
  for (;;) {
    int st;
    pid_t r = waitpid(ch->pid, &st, WNOHANG);
    if (r == ch->pid) {
      ch->pid = -1;
      if (WIFEXITED(st))
        return WEXITSTATUS(st);
      if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
      return -1;
    }
    if (r < 0) {
      ch->pid = -1;
      return -1;
    }
    if (harness_now_ms() > deadline) {
      harness_child_kill(ch);
      return -1;
    }
    harness_sleep_ms(5);
  }
}

void harness_child_kill(HarnessChild *ch)
{
  if (ch->pid <= 0)
    return;
  kill(ch->pid, SIGKILL);
  int st;
  waitpid(ch->pid, &st, 0);
  ch->pid = -1;
}

void harness_child_cleanup(HarnessChild *ch)
{
  harness_child_kill(ch);
  if (!getenv("CSJ_TEST_KEEP_LOGS")) {
    unlink(ch->out_path);
    unlink(ch->err_path);
  }
}

void harness_message_collect(void *data, int attr, const char *text)
{
  (void)attr;
  HarnessMessageLog *l = data;
  pthread_mutex_lock(&l->mu);
  size_t n = strlen(text);
  if (n > sizeof l->buf - 1 - l->len)
    n = sizeof l->buf - 1 - l->len;
  memcpy(l->buf + l->len, text, n);
  l->len += n;
  l->buf[l->len] = '\0';
  pthread_mutex_unlock(&l->mu);
  if (getenv("CSJ_TEST_VERBOSE"))
    fputs(text, stderr);
}

bool harness_message_log_contains(HarnessMessageLog *log, const char *needle)
{
  pthread_mutex_lock(&log->mu);
  bool found = strstr(log->buf, needle) != NULL;
  pthread_mutex_unlock(&log->mu);
  return found;
}
