/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine's lifecycle, on the application's thread: create (the JACK
 * client, the Csound instance, Csound's options through csound_options.c),
 * compile, start (ports, activation, the supervisor), wait, stop, stats,
 * destroy. The cycle itself is in engine_cycle.c, the commands in the
 * files command.h lists, and the supervisor in engine_watch.c.
 */

#include "engine_state.h"
#include "engine_commands.h"
#include "engine_cycle.h"
#include "engine_watch.h"
#include "compile_worker.h"
#include "job.h"
#include "csound_options.h"
#include "prefault.h"
#include "text_file.h"
#include "utf8.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char create_error[512];

static void
set_error(CsjEngine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_error(CsjEngine *e, const char *fmt, ...)
{
  char text[sizeof(e->last_error)];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof(text), fmt, args);
  va_end(args);
  engine_set_error_text(e, text);
}

static void
route_csound_message(void *data, int attr, const char *fmt, va_list args)
{
  CsjEngine *e = data;
  va_list copy;
  va_copy(copy, args);
  job_capture_message(fmt, copy);
  va_end(copy);
  message_log_vprintf(e->log, attr, fmt, args);
}

static char *
dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

void
csj_options_init(CsjOptions *opts)
{
  memset(opts, 0, sizeof(*opts));
  opts->client_name = "csjack";
}

/* Each thread reads its own copy, taken under the lock: a writer on
 * another thread (a failing API call, the recorder's writer) can never
 * change the text under a reader. Valid until this thread's next call. */
const char *
csj_last_error(const CsjEngine *e)
{
  static _Thread_local char copy[sizeof(((CsjEngine *)0)->last_error)];
  if (!e) {
    return create_error;
  }
  CsjEngine *m = (CsjEngine *)e;
  pthread_mutex_lock(&m->error_lock);
  memcpy(copy, m->last_error, sizeof(copy));
  pthread_mutex_unlock(&m->error_lock);
  return copy;
}

#define OPCODE_LIB_OPTION "--opcode-lib="

/*
 * Csound 6.18 loads --opcode-lib libraries only in csoundStart, after we
 * have compiled, so their opcodes would be unknown to the orchestra. We load
 * them before compiling instead: csoundLoadPlugins takes a directory, so the
 * named libraries are linked into a private temporary one.
 */
static void
load_opcode_libs(CsjEngine *e, const char *list)
{
  char dir[] = "/tmp/csjack-plugins-XXXXXX";
  if (!mkdtemp(dir)) {
    message_log_printf(e->log, 0, "csjack: warning: cannot stage --opcode-lib: %s\n", strerror(errno));
    return;
  }
  char *names = strdup(list);
  char link_path[PATH_MAX + 64];
  int n = 0;
  for (char *save = NULL, *lib = strtok_r(names, ",", &save); lib; lib = strtok_r(NULL, ",", &save)) {
    char *real = realpath(lib, NULL);
    const char *base = strrchr(lib, '/') ? strrchr(lib, '/') + 1 : lib;
    snprintf(link_path, sizeof(link_path), "%s/%d-%s", dir, n++, base);
    if (!real || symlink(real, link_path) != 0) {
      message_log_printf(e->log, 0, "csjack: warning: cannot load opcode library '%s'\n", lib);
    }
    free(real);
  }
  free(names);
  csound_adapter_load_plugins(e->csound, dir);
  DIR *d = opendir(dir);
  for (struct dirent *entry; d && (entry = readdir(d)) != NULL;) {
    if (entry->d_name[0] != '.') {
      snprintf(link_path, sizeof(link_path), "%s/%s", dir, entry->d_name);
      unlink(link_path);
    }
  }
  if (d) {
    closedir(d);
  }
  rmdir(dir);
}

static void
notice(CsjEngine *e, const char *text)
{
  message_log_printf(e->log, 0, "csjack: notice: %s\n", text);
}

static bool
remember_option(CsjEngine *e, const char *option)
{
  char **grown = realloc(e->user_options, (size_t)(e->user_option_count + 1) * sizeof(char *));
  if (!grown) {
    return false;
  }
  e->user_options = grown;
  e->user_options[e->user_option_count] = strdup(option);
  return e->user_options[e->user_option_count++] != NULL;
}

/* What csjack does with one normalized option, by the table in
 * csound_options.c and a try on a scratch Csound: CSJ_SUCCESS with *use the
 * option for Csound (NULL: left out) and, when *say, a notice in @p text;
 * CSJ_ERR_OPTION with the reason in @p text, naming where the option came
 * from (@p from: "" or " in <CsOptions>"). @p replacement holds a
 * rewritten option, which *use may point at. */
static CsjStatus
vet_option(const char *option, const char *from, uint32_t rate, bool midi, char *replacement,
           size_t replacement_size, char *text, size_t text_size, const char **use, bool *say)
{
  *use = NULL;
  *say = false;
  text[0] = '\0';
  switch (csound_options_classify(option, rate, midi, replacement, replacement_size, text,
                                  text_size)) {
  case OPTION_DROP:
    *say = true;
    return CSJ_SUCCESS;
  case OPTION_HOST:
    return CSJ_SUCCESS; /* the application's (the csjack command serves --port) */
  case OPTION_REFUSE:
    snprintf(text + strlen(text), text_size - strlen(text), "%s", from);
    return CSJ_ERR_OPTION;
  case OPTION_REPLACE:
    *say = true;
    *use = replacement;
    break;
  case OPTION_PASS:
    *use = option;
    break;
  }
  char why[256];
  if (csound_adapter_check_option(*use, why, sizeof(why)) != 0) {
    snprintf(text, text_size, "Csound refuses the option '%s'%s: %s", option, from, why);
    *use = NULL;
    return CSJ_ERR_OPTION;
  }
  return CSJ_SUCCESS;
}

/*
 * Applies Csound options from one source (the command line, or a CSD's
 * <CsOptions> when @p from is that), through the table in
 * csound_options.c: each is put in the one-word form Csound 6.18 reads,
 * left out with a notice where csjack does the job itself, and tried on a
 * scratch instance before the real one sees it, so a refused option is a
 * one-line error naming it, never Csound's usage text and long jump.
 * Options from the command line are remembered: they are applied again
 * after a CSD's own, which they override, as on Csound's command line.
 */
static CsjStatus
apply_options(CsjEngine *e, int count, const char *const *words, const char *from, bool remember)
{
  int n = 0;
  char **options = csound_options_normalize(count, words, &n);
  if (!options) {
    set_error(e, "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  CsjStatus status = CSJ_SUCCESS;
  const uint32_t rate = atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  for (int i = 0; i < n && status == CSJ_SUCCESS; ++i) {
    const char *option = options[i];
    if (strncmp(option, OPCODE_LIB_OPTION, strlen(OPCODE_LIB_OPTION)) == 0) {
      load_opcode_libs(e, option + strlen(OPCODE_LIB_OPTION));
      continue;
    }
    char replacement[128];
    char text[512];
    const char *use = NULL;
    bool say = false;
    if (vet_option(option, from, rate, e->midi, replacement, sizeof(replacement), text,
                   sizeof(text), &use, &say) != CSJ_SUCCESS) {
      set_error(e, "%s", text);
      status = CSJ_ERR_OPTION;
      continue;
    }
    if (say) {
      notice(e, text);
    }
    if (!use) {
      continue;
    }
    if (csound_adapter_set_option(e->csound, use) != 0) {
      set_error(e, "Csound refuses the option '%s'%s: refused", option, from);
      status = CSJ_ERR_OPTION;
      continue;
    }
    if (strcmp(use, "--no-default-paths") == 0) {
      e->no_default_paths = true;
    }
    if (remember && !remember_option(e, use)) {
      set_error(e, "out of memory");
      status = CSJ_ERR_NO_MEMORY;
    }
  }
  csound_options_free(options, n);
  return status;
}

CsjStatus
csj_check_options(int count, const char *const *words)
{
  if (count < 0 || (count > 0 && !words)) {
    return CSJ_ERR_BAD_ARG;
  }
  int n = 0;
  char **options = csound_options_normalize(count, words, &n);
  if (!options) {
    snprintf(create_error, sizeof(create_error), "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  CsjStatus status = CSJ_SUCCESS;
  for (int i = 0; i < n && status == CSJ_SUCCESS; ++i) {
    const char *option = options[i];
    if (strncmp(option, OPCODE_LIB_OPTION, strlen(OPCODE_LIB_OPTION)) == 0) {
      continue; /* loaded (or warned about) when the engine is made */
    }
    char replacement[128];
    char text[512];
    const char *use = NULL;
    bool say = false;
    status = vet_option(option, "", 48000, true, replacement, sizeof(replacement), text,
                        sizeof(text), &use, &say);
    if (status != CSJ_SUCCESS) {
      snprintf(create_error, sizeof(create_error), "%s", text);
    }
  }
  csound_options_free(options, n);
  return status;
}

/* JACK's sample rate, last so that nothing overrides it, and Csound's
 * --realtime mode off. */
static void
apply_rate_and_modes(CsjEngine *e)
{
  char sr_option[64];
  snprintf(sr_option, sizeof(sr_option), "--sample-rate=%u",
           atomic_load_explicit(&e->jack_rate, memory_order_relaxed));
  csound_adapter_set_option(e->csound, sr_option);
  /* Csound's --realtime mode runs init-passes on a thread of its own that
   * waits on Csound's own performance loop: in csjack, csoundStart then
   * spins for ever. Its other effect, no API lock around a
   * k-cycle, buys nothing here: no other thread enters Csound while the
   * JACK thread performs. */
  if (csound_adapter_clear_realtime_mode(e->csound)) {
    notice(e, "Csound's --realtime mode is switched off: its init-pass thread would stall "
              "the start; csjack's JACK thread already performs without contention for "
              "Csound's lock");
  }
}

CsjStatus
csj_engine_create(const CsjOptions *opts, CsjEngine **out)
{
  CsjOptions defaults;
  if (!opts) {
    csj_options_init(&defaults);
    opts = &defaults;
  }
  *out = NULL;
  create_error[0] = '\0';
  const char *name = opts->client_name ? opts->client_name : "csjack";
  /* JACK takes an empty name (its ports are then ":out_1") and any bytes,
   * which every tool then prints as they are. */
  const char *bad = utf8_name_problem(name);
  const char *which = "client";
  if (!bad && opts->server_name) {
    bad = utf8_name_problem(opts->server_name);
    which = "server";
  }
  if (bad) {
    snprintf(create_error, sizeof(create_error),
             "the JACK %s name %s: a JACK name is one line of UTF-8 text", which, bad);
    return CSJ_ERR_BAD_ARG;
  }

  CsjEngine *e = calloc(1, sizeof(*e));
  if (!e) {
    snprintf(create_error, sizeof(create_error), "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  e->client_name = strdup(name);
  e->connect_out = dup_or_null(opts->connect_out);
  e->connect_in = dup_or_null(opts->connect_in);
  e->no_connect = opts->no_connect;
  e->midi = !opts->no_midi;
  e->connect_midi_in = dup_or_null(opts->connect_midi_in);
  e->connect_midi_out = dup_or_null(opts->connect_midi_out);
  pthread_mutex_init(&e->error_lock, NULL);
  atomic_init(&e->state, ENGINE_CREATED);
  atomic_init(&e->end, 0);

  CsjStatus status = jack_backend_open(name, opts->server_name, &e->jack, create_error,
                                       sizeof(create_error));
  if (status != CSJ_SUCCESS) {
    csj_engine_destroy(e);
    return status;
  }
  e->log = message_log_new(opts->message_fn, opts->message_data);
  e->csound = csound_adapter_new(route_csound_message, e);
  if (!e->log || !e->csound || commands_init(e) != CSJ_SUCCESS) {
    snprintf(create_error, sizeof(create_error), "cannot create the Csound instance");
    csj_engine_destroy(e);
    return CSJ_ERR_CSOUND;
  }
  const uint32_t rate = jack_backend_sample_rate(e->jack);
  atomic_init(&e->jack_rate, rate);
  atomic_init(&e->jack_period, jack_backend_period(e->jack));

  e->hang_limit_ms = opts->hang_limit_ms == 0 ? CSJ_DEFAULT_HANG_LIMIT_MS : opts->hang_limit_ms;
  /* Defaults first, the user's options after, so the user's win; the
   * sample rate is JACK's and comes last so nothing overrides it. */
  csound_adapter_set_option(e->csound, "-d");     /* no graphs */
  csound_adapter_set_option(e->csound, "-m0");    /* no per-note messages */
  /* Events start at their sample, not at the k-block's start: what
   * stamped events (csj_engine_score_event_at) are placed with. */
  csound_adapter_set_option(e->csound, "--sample-accurate");
  if (e->midi) {
    /* Csound's MIDI in and out are csjack's midi_in and midi_out ports. */
    csound_adapter_enable_midi(e->csound);
  }
  status = apply_options(e, opts->csound_argc, opts->csound_argv, "", true);
  if (status != CSJ_SUCCESS) {
    snprintf(create_error, sizeof(create_error), "%s", e->last_error);
    csj_engine_destroy(e);
    return status;
  }
  apply_rate_and_modes(e);
  *out = e;
  return CSJ_SUCCESS;
}

/* Finds `sr = N` in orchestra text, to tell the user when JACK's rate wins. */
static double
declared_sample_rate(const char *text)
{
  regex_t re;
  double sr = 0.0;
  if (regcomp(&re, "(^|\n)[ \t]*sr[ \t]*=[ \t]*([0-9.]+)", REG_EXTENDED) != 0) {
    return 0.0;
  }
  regmatch_t m[3];
  if (regexec(&re, text, 3, m, 0) == 0) {
    sr = strtod(text + m[2].rm_so, NULL);
  }
  regfree(&re);
  return sr;
}

static void
notice_rate_override(CsjEngine *e, const char *text)
{
  const double declared = declared_sample_rate(text);
  const uint32_t rate = atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  if (declared > 0.0 && (uint32_t)declared != rate) {
    message_log_printf(e->log, 0,
                       "csjack: notice: the orchestra sets sr = %g; JACK runs at %u Hz, "
                       "so Csound runs at %u Hz\n",
                       declared, rate, rate);
  }
}

static CsjStatus
compiled(CsjEngine *e, int result, const char *what)
{
  message_log_flush(e->log);
  if (result != 0) {
    set_error(e, "Csound could not compile %s (see Csound's messages above)", what);
    return CSJ_ERR_COMPILE;
  }
  atomic_store_explicit(&e->state, ENGINE_COMPILED, memory_order_release);
  return CSJ_SUCCESS;
}

static bool
has_suffix(const char *s, const char *suffix)
{
  size_t n = strlen(s);
  size_t k = strlen(suffix);
  return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

CsjStatus
csj_engine_compile_file(CsjEngine *e, const char *path)
{
  if (!e || !path) {
    return CSJ_ERR_BAD_ARG;
  }
  /* Read it ourselves first: a missing file is a file error, not a
   * compile error, and Csound gets exactly the text we checked. */
  char why[sizeof(e->last_error)];
  char *text = NULL;
  const CsjStatus read = text_file_read(path, false, &text, why, sizeof(why));
  if (read != CSJ_SUCCESS) {
    engine_set_error_text(e, why);
    return read == CSJ_ERR_NO_MEMORY ? CSJ_ERR_NO_MEMORY : CSJ_ERR_FILE;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) <= ENGINE_COMPILED) {
    /* A folder that cannot be added was warned about: the file still
     * compiles, as it does from its own folder. */
    (void)csj_engine_add_file_folder(e, path);
  }
  CsjStatus status = has_suffix(path, ".orc") ? csj_engine_compile_orc_text(e, text)
                                              : csj_engine_compile_csd_text(e, text);
  if (status == CSJ_ERR_COMPILE) {
    set_error(e, "Csound could not compile '%s' (see Csound's messages above)", path);
  }
  free(text);
  return status;
}

CsjStatus
csj_engine_compile_csd_text(CsjEngine *e, const char *csd)
{
  if (!e || !csd) {
    return CSJ_ERR_BAD_ARG;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) > ENGINE_COMPILED) {
    return CSJ_ERR_STATE;
  }
  notice_rate_override(e, csd);
  /* csjack reads the CSD's <CsOptions> itself, through the same table as
   * the command line's; Csound gets the CSD with that element emptied. */
  char **words = NULL;
  int count = 0;
  char *text = csound_options_take_from_csd(csd, &words, &count);
  if (!text) {
    set_error(e, "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  CsjStatus status = apply_options(e, count, (const char *const *)words, " in <CsOptions>", false);
  csound_options_free(words, count);
  if (status == CSJ_SUCCESS) {
    for (int i = 0; i < e->user_option_count; ++i) {
      csound_adapter_set_option(e->csound, e->user_options[i]);
    }
    apply_rate_and_modes(e);
    int result;
    CONTROL_IN_CSOUND(e, result = csound_adapter_compile_csd_text(e->csound, text));
    status = compiled(e, result, "the CSD");
  } else {
    message_log_flush(e->log);
  }
  free(text);
  return status;
}

CsjStatus
csj_engine_compile_orc_text(CsjEngine *e, const char *orc)
{
  if (!e || !orc) {
    return CSJ_ERR_BAD_ARG;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) > ENGINE_COMPILED) {
    return CSJ_ERR_STATE;
  }
  notice_rate_override(e, orc);
  int result;
  CONTROL_IN_CSOUND(e, result = csound_adapter_compile_orc_text(e->csound, orc));
  return compiled(e, result, "the orchestra");
}

CsjStatus
csj_engine_start(CsjEngine *e)
{
  if (!e) {
    return CSJ_ERR_BAD_ARG;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) != ENGINE_COMPILED) {
    set_error(e, "nothing compiled yet, or already started");
    return CSJ_ERR_STATE;
  }
  int started;
  CONTROL_IN_CSOUND(e, started = csound_adapter_start(e->csound));
  message_log_flush(e->log);
  if (started != 0) {
    set_error(e, "Csound failed to start (see Csound's messages above)");
    return CSJ_ERR_CSOUND;
  }
  e->ksmps = csound_adapter_ksmps(e->csound);
  e->n_in = csound_adapter_input_channels(e->csound);
  e->n_out = csound_adapter_output_channels(e->csound);
  const double dbfs = csound_adapter_0dbfs(e->csound);
  e->to_csound = dbfs;
  e->from_csound = 1.0 / dbfs;

  const uint32_t period = jack_backend_period(e->jack);
  if (e->n_out == 0) {
    set_error(e, "the orchestra has no output channels (nchnls = 0)");
    return CSJ_ERR_NO_OUTPUTS;
  }
  if (e->ksmps > period) {
    /* Csound plays such orchestras (kr = 10 in teaching examples), and so
     * does csjack: partial blocks are carried across cycles, at the cost
     * of the latency reported to JACK. */
    message_log_printf(e->log, 0,
                       "csjack: notice: ksmps %u is larger than the JACK period of %u "
                       "frames: csjack adds %u frames of latency (a smaller ksmps adds less)\n",
                       e->ksmps, period, engine_added_latency_for(period, e->ksmps));
  }
  char why[256];
  CsjStatus status = jack_backend_register_ports(e->jack, e->n_in, e->n_out, why, sizeof(why));
  if (status != CSJ_SUCCESS) {
    set_error(e, "%s", why);
    return status;
  }
  e->fifo_capacity = MAX_PERIOD + 2 * e->ksmps;
  for (uint32_t c = 0; c < e->n_out; ++c) {
    e->fifo[c] = calloc(e->fifo_capacity, sizeof(float));
    if (!e->fifo[c]) {
      set_error(e, "out of memory");
      return CSJ_ERR_NO_MEMORY;
    }
    csj_prefault(e->fifo[c], e->fifo_capacity * sizeof(float));
  }
  if (e->midi) {
    status = jack_backend_register_midi(e->jack, why, sizeof(why));
    if (status != CSJ_SUCCESS) {
      set_error(e, "%s", why);
      return status;
    }
    if (!e->midi_held.bytes && !midi_queue_init(&e->midi_held, MIDI_HELD_BYTES)) {
      set_error(e, "out of memory");
      return CSJ_ERR_NO_MEMORY;
    }
  }
  midi_parser_init(&e->midi_out_parser);
  engine_reset_for_period(e, period);
  atomic_store_explicit(&e->jack_period, period, memory_order_relaxed);
  atomic_store_explicit(&e->state, ENGINE_PERFORMING, memory_order_release);

  const JackCycleHandler handler = engine_cycle_handler(e);
  status = jack_backend_activate(e->jack, &handler, why, sizeof(why));
  if (status != CSJ_SUCCESS) {
    atomic_store_explicit(&e->state, ENGINE_COMPILED, memory_order_release);
    set_error(e, "%s", why);
    return status;
  }
  if (!engine_supervisor_start(e)) {
    message_log_printf(e->log, 0, "csjack: warning: no supervisor thread: period and rate "
                                  "changes will not be re-reported, and a hung Csound will "
                                  "not be noticed\n");
  }
  if (!e->no_connect) {
    jack_backend_autoconnect(e->jack, e->connect_out, e->connect_in, engine_log_text, e);
    jack_backend_autoconnect_midi(e->jack, e->connect_midi_out, e->connect_midi_in,
                                  engine_log_text, e);
  }
  return CSJ_SUCCESS;
}

void
csj_engine_stop(CsjEngine *e)
{
  atomic_store_explicit(&e->stop_requested, true, memory_order_relaxed);
}

bool
csj_engine_finished(const CsjEngine *e)
{
  return atomic_load_explicit(&((CsjEngine *)e)->state, memory_order_acquire) == ENGINE_FINISHED;
}

CsjStatus
csj_engine_wait(CsjEngine *e, int timeout_ms)
{
  if (!e) {
    return CSJ_ERR_BAD_ARG;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) < ENGINE_PERFORMING) {
    return CSJ_ERR_STATE; /* not started: nothing could end it */
  }
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!csj_engine_finished(e)) {
    /* A stop request needs a cycle to take effect; if the server is gone
     * no cycle will come, so settle it here (the supervisor does too). */
    if (atomic_load_explicit(&e->server_gone, memory_order_acquire)) {
      engine_finish(e, CSJ_END_SERVER_GONE, 0);
      break;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const long elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (timeout_ms >= 0 && elapsed_ms >= timeout_ms) {
      return CSJ_ERR_TIMEOUT;
    }
    const struct timespec tick = {0, 2 * 1000 * 1000};
    nanosleep(&tick, NULL);
  }
  message_log_flush(e->log);
  return CSJ_SUCCESS;
}

CsjEndReason
csj_engine_join(CsjEngine *e, int *exit_code)
{
  if (atomic_load_explicit(&e->state, memory_order_acquire) >= ENGINE_PERFORMING) {
    csj_engine_wait(e, -1);
  }
  return csj_engine_end_reason(e, exit_code);
}

CsjEndReason
csj_engine_end_reason(const CsjEngine *e, int *exit_code)
{
  CsjEngine *m = (CsjEngine *)e;
  const uint64_t end = atomic_load_explicit(&m->end, memory_order_acquire);
  if (exit_code) {
    *exit_code = (int)(uint32_t)(end >> 32);
  }
  return (CsjEndReason)(uint32_t)end;
}

void
csj_engine_stats(const CsjEngine *e, CsjStats *out)
{
  CsjEngine *m = (CsjEngine *)e;
  memset(out, 0, sizeof(*out));
  out->cycles = atomic_load_explicit(&m->cycles, memory_order_relaxed);
  out->ksmps_blocks = atomic_load_explicit(&m->blocks, memory_order_relaxed);
  out->xruns = atomic_load_explicit(&m->xruns, memory_order_relaxed);
  out->messages_dropped = m->log ? message_log_dropped(m->log) : 0;
  out->period = atomic_load_explicit(&m->jack_period, memory_order_relaxed);
  out->sample_rate = atomic_load_explicit(&m->jack_rate, memory_order_relaxed);
  out->ksmps = m->ksmps;
  out->latency = atomic_load_explicit(&m->latency, memory_order_relaxed);
  out->inputs = m->n_in;
  out->outputs = m->n_out;
  out->commands_run = atomic_load_explicit(&m->commands_run, memory_order_relaxed);
  out->dropped_cycles = atomic_load_explicit(&m->dropped_cycles, memory_order_relaxed);
  out->midi_in_events = atomic_load_explicit(&m->midi_in_events, memory_order_relaxed);
  out->midi_in_dropped = atomic_load_explicit(&m->midi_in_dropped, memory_order_relaxed);
  out->midi_out_events = atomic_load_explicit(&m->midi_out_events, memory_order_relaxed);
  out->midi_out_dropped = atomic_load_explicit(&m->midi_out_dropped, memory_order_relaxed);
  out->events_late = atomic_load_explicit(&m->events_late, memory_order_relaxed);
  out->event_delay = atomic_load_explicit(&m->event_delay, memory_order_relaxed);
  out->events_held = atomic_load_explicit(&m->events_held, memory_order_relaxed);
  out->events_overflow = atomic_load_explicit(&m->events_overflow, memory_order_relaxed);
  out->ring_capacity = m->ring ? command_ring_capacity(m->ring) : 0;
  out->ring_high_water = m->ring ? command_ring_high_water(m->ring) : 0;
  out->ring_used = m->ring ? command_ring_used(m->ring) : 0;
  out->output_nonfinite = atomic_load_explicit(&m->output_nonfinite, memory_order_relaxed);
  out->paused = atomic_load_explicit(&m->paused_flag, memory_order_relaxed);
  out->callback_ns_last = atomic_load_explicit(&m->callback_ns_last, memory_order_relaxed);
  out->callback_ns_max = atomic_load_explicit(&m->callback_ns_max, memory_order_relaxed);
  out->own_ns_max = atomic_load_explicit(&m->own_ns_max, memory_order_relaxed);
  out->callbacks_late = atomic_load_explicit(&m->callbacks_late, memory_order_relaxed);
  out->record_dropped = atomic_load_explicit(&m->record_dropped, memory_order_relaxed);
  out->commands_deferred = atomic_load_explicit(&m->commands_deferred, memory_order_relaxed);
  out->compile_wait_ns_max = atomic_load_explicit(&m->compile_wait_ns_max, memory_order_relaxed);
  out->record_errors = atomic_load_explicit(&m->record_errors, memory_order_relaxed);
}

void
csj_engine_reset_peak(CsjEngine *e)
{
  atomic_store_explicit(&e->callback_ns_max, 0, memory_order_relaxed);
  atomic_store_explicit(&e->own_ns_max, 0, memory_order_relaxed);
}

uint64_t
csj_engine_csound_busy_ms(const CsjEngine *e)
{
  CsjEngine *m = (CsjEngine *)e;
  const uint64_t now = engine_now_ns();
  uint64_t oldest = 0;
  const uint64_t since[] = {
    atomic_load_explicit(&m->rt_busy_since_ns, memory_order_relaxed),
    atomic_load_explicit(&m->direct_busy_since_ns, memory_order_relaxed),
    atomic_load_explicit(&m->parse_busy_since_ns, memory_order_relaxed),
    atomic_load_explicit(&m->control_busy_since_ns, memory_order_relaxed),
  };
  for (size_t i = 0; i < sizeof since / sizeof since[0]; ++i) {
    if (since[i] && since[i] < now && now - since[i] > oldest) {
      oldest = now - since[i];
    }
  }
  return oldest / 1000000u;
}

size_t
csj_stats_size(void)
{
  return sizeof(CsjStats);
}

bool
csj_engine_is_hung(const CsjEngine *e)
{
  return atomic_load_explicit(&((CsjEngine *)e)->hung, memory_order_acquire);
}

bool
csj_engine_is_running(const CsjEngine *e)
{
  return atomic_load_explicit(&((CsjEngine *)e)->state, memory_order_acquire) == ENGINE_PERFORMING;
}

const char *
csj_engine_client_name(const CsjEngine *e)
{
  return e->client_name;
}

void
csj_engine_destroy(CsjEngine *e)
{
  if (!e) {
    return;
  }
  engine_supervisor_stop(e);
  if (atomic_load_explicit(&e->hung, memory_order_acquire)) {
    /* A thread is inside Csound for good, the JACK thread perhaps: closing
     * the client would wait for it, and freeing anything it may still
     * touch would be worse. All of it is left to the process's exit. */
    return;
  }
  /* JACK first: once the client is closed no callback can touch Csound.
   * Then the commands still queued are answered "not run", and the worker
   * stops, before Csound goes away. */
  jack_backend_close(e->jack);
  /* What libjack said while the client closed (or before): through the
   * sink, unless the server went away (csjack has said so). */
  if (e->log) {
    jack_backend_pass_messages(atomic_load_explicit(&e->server_gone, memory_order_acquire), 0,
                               engine_log_text, e);
  }
  if (atomic_load_explicit(&e->rt_in_cycle, memory_order_seq_cst)) {
    /* libjack stopped the JACK thread inside a cycle (a close on a server
     * that did not answer in time): it may have been inside Csound, holding
     * Csound's lock for good, and cleaning Csound up would wait for ever. */
    message_log_printf(e->log, 0, "csjack: warning: the JACK thread was stopped inside a "
                                  "cycle; Csound's instance is left to the process's exit\n");
    csound_adapter_abandon(e->csound);
  }
  commands_shutdown(e);
  if (engine_worker_abandoned(e)) {
    /* The worker is still inside a task or a result callback (worker_stop
     * gave up on it and said so): it may yet touch Csound, the engine or
     * its job, so all of them are left to the process's exit. The JACK
     * client is closed and the other threads are stopped. */
    return;
  }
  csound_adapter_free(e->csound);
  message_log_free(e->log);
  for (uint32_t c = 0; c < JACK_BACKEND_MAX_PORTS; ++c) {
    free(e->fifo[c]);
  }
  midi_queue_free(&e->midi_held);
  for (int i = 0; i < e->user_option_count; ++i) {
    free(e->user_options[i]);
  }
  free(e->user_options);
  free(e->client_name);
  free(e->connect_out);
  free(e->connect_midi_in);
  free(e->connect_midi_out);
  free(e->connect_in);
  pthread_mutex_destroy(&e->error_lock);
  free(e);
}

