/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine's lifecycle, on the application's thread: create (the JACK
 * client, the Csound instance, Csound's options through csound_options.c),
 * compile, start (ports, activation, the supervisor), wait, stop, stats,
 * destroy. The cycle itself is in engine_cycle.c, the commands in the
 * files command.h lists, and the supervisor in engine_watch.c.
 */

#include "engine_state.h"
#include "engine_threads.h"
#include "engine_transport.h"
#include "command_queue.h"
#include "engine_cycle.h"
#include "engine_watch.h"
#include "compile_worker.h"
#include "engine_options.h"
#include "engine_record.h"
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
  opts->size = sizeof(*opts);
  opts->client_name = "csjack";
}

CsjStatus
csj_engine_create(const CsjOptions *opts, CsjEngine **out)
{
  *out = NULL;
  engine_create_error()[0] = '\0';
  /* The caller's options over the defaults, as far as the caller's struct
   * goes: a field it does not know keeps its default. */
  CsjOptions given;
  csj_options_init(&given);
  if (opts) {
    if (opts->size < offsetof(CsjOptions, client_name) + sizeof(opts->client_name)) {
      snprintf(engine_create_error(), ENGINE_CREATE_ERROR_SIZE,
               "CsjOptions.size is %zu: fill the options with csj_options_init first", opts->size);
      return CSJ_ERR_BAD_ARG;
    }
    memcpy(&given, opts, opts->size < sizeof(given) ? opts->size : sizeof(given));
    given.size = sizeof(given);
  }
  opts = &given;
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
    snprintf(engine_create_error(), ENGINE_CREATE_ERROR_SIZE,
             "the JACK %s name %s: a JACK name is one line of UTF-8 text", which, bad);
    return CSJ_ERR_BAD_ARG;
  }

  CsjEngine *e = calloc(1, sizeof(*e));
  if (!e) {
    snprintf(engine_create_error(), ENGINE_CREATE_ERROR_SIZE, "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  live_journal_init(&e->journal);
  e->client_name = strdup(name);
  e->server_name = dup_or_null(opts->server_name);
  e->reconnect_ms = opts->reconnect_ms;
  e->links = jack_links_new();
  e->event_cost_ns = EVENT_COST_START_NS;
  e->connect_out = dup_or_null(opts->connect_out);
  e->connect_in = dup_or_null(opts->connect_in);
  e->no_connect = opts->no_connect;
  e->midi = !opts->no_midi;
  e->connect_midi_in = dup_or_null(opts->connect_midi_in);
  e->connect_midi_out = dup_or_null(opts->connect_midi_out);
  engine_transport_configure(e, opts);
  pthread_mutex_init(&e->error_lock, NULL);
  atomic_init(&e->state, ENGINE_CREATED);
  atomic_init(&e->end, 0);

  CsjStatus status = jack_backend_open(name, opts->server_name, &e->jack, engine_create_error(),
                                       ENGINE_CREATE_ERROR_SIZE);
  if (status != CSJ_SUCCESS) {
    csj_engine_destroy(e);
    return status;
  }
  e->log = message_log_new(opts->message_fn, opts->message_data);
  e->csound = csound_adapter_new(route_csound_message, e);
  if (!e->log || !e->csound || commands_init(e) != CSJ_SUCCESS) {
    snprintf(engine_create_error(), ENGINE_CREATE_ERROR_SIZE, "cannot create the Csound instance");
    csj_engine_destroy(e);
    return CSJ_ERR_CSOUND;
  }
  const uint32_t rate = jack_backend_sample_rate(e->jack);
  atomic_init(&e->jack_rate, rate);
  atomic_init(&e->jack_period, jack_backend_period(e->jack));

  e->hang_limit_ms = opts->hang_limit_ms == 0 ? CSJ_DEFAULT_HANG_LIMIT_MS : opts->hang_limit_ms;
  /* Defaults first, the user's options after, so the user's win; the
   * sample rate is JACK's and comes last so nothing overrides it. */
  csound_adapter_set_option(e->csound, "-d");  /* no graphs */
  csound_adapter_set_option(e->csound, "-m0"); /* no per-note messages */
  /* Events start at their sample, not at the k-block's start: what
   * stamped events (csj_engine_score_event_at) are placed with. */
  csound_adapter_set_option(e->csound, "--sample-accurate");
  if (e->midi) {
    /* Csound's MIDI in and out are csjack's midi_in and midi_out ports. */
    csound_adapter_enable_midi(e->csound);
  }
  status = engine_apply_options(e, opts->csound_argc, opts->csound_argv, "", true);
  if (status != CSJ_SUCCESS) {
    snprintf(engine_create_error(), ENGINE_CREATE_ERROR_SIZE, "%s", e->last_error);
    csj_engine_destroy(e);
    return status;
  }
  engine_apply_rate_and_modes(e);
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
    engine_set_error(e, "Csound could not compile %s (see Csound's messages above)", what);
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
    engine_set_error(e, "Csound could not compile '%s' (see Csound's messages above)", path);
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
    engine_set_error(e, "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  CsjStatus status =
    engine_apply_options(e, count, (const char *const *)words, " in <CsOptions>", false);
  csound_options_free(words, count);
  if (status == CSJ_SUCCESS) {
    for (int i = 0; i < e->user_option_count; ++i) {
      csound_adapter_set_option(e->csound, e->user_options[i]);
    }
    engine_apply_rate_and_modes(e);
    int result;
    CONTROL_IN_CSOUND(e, result = csound_adapter_compile_csd_text(e->csound, text));
    status = compiled(e, result, "the CSD");
    if (status == CSJ_SUCCESS) {
      engine_transport_take_score(e, text);
    }
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
  CONTROL_IN_CSOUND(e, result = csound_adapter_compile_orc(e->csound, orc));
  return compiled(e, result, "the orchestra");
}

CsjStatus
csj_engine_start(CsjEngine *e)
{
  if (!e) {
    return CSJ_ERR_BAD_ARG;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) != ENGINE_COMPILED) {
    engine_set_error(e, "nothing compiled yet, or already started");
    return CSJ_ERR_STATE;
  }
  int started;
  engine_threads_before_start(e);
  CONTROL_IN_CSOUND(e, started = csound_adapter_start(e->csound));
  engine_threads_after_start(e);
  message_log_flush(e->log);
  if (started != 0) {
    engine_set_error(e, "Csound failed to start (see Csound's messages above)");
    return CSJ_ERR_CSOUND;
  }
  CONTROL_IN_CSOUND(e, engine_transport_prepare(e));
  e->ksmps = csound_adapter_ksmps(e->csound);
  e->n_in = csound_adapter_input_channels(e->csound);
  e->n_out = csound_adapter_output_channels(e->csound);
  const double dbfs = csound_adapter_0dbfs(e->csound);
  e->to_csound = dbfs;
  e->from_csound = 1.0 / dbfs;

  const uint32_t period = jack_backend_period(e->jack);
  if (e->n_out == 0) {
    engine_set_error(e, "the orchestra has no output channels (nchnls = 0)");
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
    engine_set_error(e, "%s", why);
    return status;
  }
  e->fifo_capacity = MAX_PERIOD + 2 * e->ksmps;
  for (uint32_t c = 0; c < e->n_out; ++c) {
    e->fifo[c] = calloc(e->fifo_capacity, sizeof(float));
    if (!e->fifo[c]) {
      engine_set_error(e, "out of memory");
      return CSJ_ERR_NO_MEMORY;
    }
    csj_prefault(e->fifo[c], e->fifo_capacity * sizeof(float));
  }
  if (e->midi) {
    status = jack_backend_register_midi(e->jack, why, sizeof(why));
    if (status != CSJ_SUCCESS) {
      engine_set_error(e, "%s", why);
      return status;
    }
    if (!e->midi_held.bytes && !midi_queue_init(&e->midi_held, MIDI_HELD_BYTES)) {
      engine_set_error(e, "out of memory");
      return CSJ_ERR_NO_MEMORY;
    }
  }
  midi_parser_init(&e->midi_out_parser);
  engine_reset_for_period(e, period);
  atomic_store_explicit(&e->jack_period, period, memory_order_relaxed);
  /* A recording asked for before start takes the first cycle; under the
   * record lock with the state, so that a csj_engine_record meanwhile is
   * either that recording or one queued to the JACK thread. */
  pthread_mutex_lock(&e->record_lock);
  status = engine_record_install_pending(e);
  if (status == CSJ_SUCCESS) {
    atomic_store_explicit(&e->state, ENGINE_PERFORMING, memory_order_release);
  }
  pthread_mutex_unlock(&e->record_lock);
  if (status != CSJ_SUCCESS) {
    return status;
  }

  const JackCycleHandler handler = engine_cycle_handler(e);
  if (e->links) {
    jack_links_attach(e->links, e->jack);
  }
  status = jack_backend_activate(e->jack, &handler, why, sizeof(why));
  if (status != CSJ_SUCCESS) {
    pthread_mutex_lock(&e->record_lock);
    atomic_store_explicit(&e->state, ENGINE_COMPILED, memory_order_release);
    engine_record_uninstall(e);
    pthread_mutex_unlock(&e->record_lock);
    engine_set_error(e, "%s", why);
    return status;
  }
  engine_transport_activated(e);
  engine_threads_match_jack(e);
  if (!engine_supervisor_start(e)) {
    message_log_printf(e->log, 0,
                       "csjack: warning: no supervisor thread: period and rate "
                       "changes will not be re-reported, and a hung Csound will "
                       "not be noticed\n");
  }
  if (!e->no_connect) {
    jack_backend_autoconnect(e->jack, e->connect_out, e->connect_in, engine_log_text, e);
    jack_backend_autoconnect_midi(e->jack, e->connect_midi_out, e->connect_midi_in, engine_log_text,
                                  e);
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
    if (atomic_load_explicit(&e->server_gone, memory_order_acquire) &&
        (!e->reconnect_ms || atomic_load_explicit(&e->stop_requested, memory_order_relaxed))) {
      engine_finish(e, CSJ_END_SERVER_GONE, 0);
      break;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const long elapsed_ms =
      (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
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
  out->record_wait_ns = atomic_load_explicit(&m->record_wait_ns, memory_order_relaxed);
  out->freewheeling = atomic_load_explicit(&m->freewheeling, memory_order_acquire);
  out->freewheel_ns = atomic_load_explicit(&m->freewheel_ns, memory_order_relaxed);
  const uint64_t since = atomic_load_explicit(&m->freewheel_since_ns, memory_order_relaxed);
  const uint64_t now = engine_now_ns();
  if (since && now > since) {
    out->freewheel_ns += now - since;
  }
  out->freewheel_cycles = atomic_load_explicit(&m->freewheel_cycles, memory_order_relaxed);
  out->freewheel_frames = atomic_load_explicit(&m->freewheel_frames, memory_order_relaxed);
  engine_transport_stats(m, out);
  if (m->links) {
    out->connections_restored = jack_links_restored(m->links);
    out->connections = jack_links_count(m->links);
  }
  out->reconnects = atomic_load_explicit(&m->reconnects, memory_order_relaxed);
  out->event_cost_ns = atomic_load_explicit(&m->event_cost_pub, memory_order_relaxed);
  out->events_spread = atomic_load_explicit(&m->events_spread, memory_order_relaxed);
  out->csound_workers = m->csound_threads;
  out->barrier_wait_ns = atomic_load_explicit(&m->barrier_wait_ns, memory_order_relaxed);
  out->server_connected = !atomic_load_explicit(&m->server_gone, memory_order_acquire);
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
  jack_backend_close(e->jack_retired);
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
    message_log_printf(e->log, 0,
                       "csjack: warning: the JACK thread was stopped inside a "
                       "cycle; Csound's instance is left to the process's exit\n");
    csound_adapter_abandon(e->csound);
  }
  commands_shutdown(e);
  engine_record_forget_pending(e);
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
  free(e->server_name);
  jack_links_free(e->links);
  free(e->connect_out);
  free(e->connect_midi_in);
  free(e->connect_midi_out);
  free(e->connect_in);
  pthread_mutex_destroy(&e->error_lock);
  live_journal_free(&e->journal);
  free(e);
}
