/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "jack_backend.h"

#include <jack/jack.h>
#include <jack/metadata.h>
#include <jack/midiport.h>
#include <jack/thread.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct JackBackendImpl {
  /* NULL once dropped (jack_backend_drop_client): other threads read it. */
  _Atomic(jack_client_t *) client;
  JackCycleHandler handler;
  bool active;
  uint32_t n_inputs;
  uint32_t n_outputs;
  jack_port_t *inputs[JACK_BACKEND_MAX_PORTS];
  jack_port_t *outputs[JACK_BACKEND_MAX_PORTS];
  /* Filled each cycle with that cycle's buffers (never cached across). */
  const float *in_buffers[JACK_BACKEND_MAX_PORTS];
  float *out_buffers[JACK_BACKEND_MAX_PORTS];
  /* MIDI: both ports or none. */
  jack_port_t *midi_in;
  jack_port_t *midi_out;
  JackMidiCycle midi;
  /* Written by the shutdown callback only, read after it has flagged. */
  _Atomic bool shut_down;
};

/* Set on the thread that runs our process callback (libjack's messages
 * there are only counted: see jack_error_printer). */
static _Thread_local bool process_thread_here;

static int
on_process(jack_nframes_t nframes, void *arg)
{
  JackBackend *jb = arg;
  process_thread_here = true; /* libjack's messages on this thread are only counted */
  for (uint32_t i = 0; i < jb->n_inputs; ++i) {
    jb->in_buffers[i] = jack_port_get_buffer(jb->inputs[i], nframes);
  }
  for (uint32_t i = 0; i < jb->n_outputs; ++i) {
    jb->out_buffers[i] = jack_port_get_buffer(jb->outputs[i], nframes);
  }
  JackMidiCycle *midi = NULL;
  if (jb->midi_in) {
    midi = &jb->midi;
    midi->nframes = nframes;
    midi->in_buffer = jack_port_get_buffer(jb->midi_in, nframes);
    midi->out_buffer = jack_port_get_buffer(jb->midi_out, nframes);
    jack_midi_clear_buffer(midi->out_buffer);
    midi->in_count = jack_midi_get_event_count(midi->in_buffer);
  }
  jb->handler.process(jb->handler.context, nframes, jb->in_buffers, jb->out_buffers, midi);
  return 0; /* non-zero would remove us from the graph */
}

bool
jack_backend_midi_in_event(const JackMidiCycle *m, uint32_t index, uint32_t *frame,
                           const uint8_t **data, size_t *size)
{
  jack_midi_event_t event;
  if (index >= m->in_count || jack_midi_event_get(&event, m->in_buffer, index) != 0) {
    return false;
  }
  *frame = event.time;
  *data = event.buffer;
  *size = event.size;
  return true;
}

bool
jack_backend_midi_out_write(JackMidiCycle *m, uint32_t frame, const uint8_t *data, size_t size)
{
  if (frame >= m->nframes) {
    frame = m->nframes - 1;
  }
  return jack_midi_event_write(m->out_buffer, frame, data, size) == 0;
}

static int
on_xrun(void *arg)
{
  JackBackend *jb = arg;
  jb->handler.xrun(jb->handler.context);
  return 0;
}

static int
on_buffer_size(jack_nframes_t nframes, void *arg)
{
  JackBackend *jb = arg;
  jb->handler.period_changed(jb->handler.context, nframes);
  return 0;
}

static int
on_sample_rate(jack_nframes_t rate, void *arg)
{
  JackBackend *jb = arg;
  jb->handler.rate_changed(jb->handler.context, rate);
  return 0;
}

/* Called by jackd 1.9 on the client's notification thread, and waited
 * for: before the first freewheel cycle runs, after the last one ran. */
static void
on_freewheel(int starting, void *arg)
{
  JackBackend *jb = arg;
  jb->handler.freewheel(jb->handler.context, starting != 0);
}

static void
on_shutdown(jack_status_t code, const char *reason, void *arg)
{
  (void)code;
  (void)reason;
  JackBackend *jb = arg;
  /* Like a signal handler: only a flag, and the engine's own handler,
   * once (on_shutdown_plain may report the same loss). */
  if (!atomic_exchange_explicit(&jb->shut_down, true, memory_order_acq_rel)) {
    jb->handler.shutdown(jb->handler.context);
  }
}

/* PipeWire's libjack (0.3.65, Debian 12) reports a daemon that went away
 * only to jack_on_shutdown's callback, never to jack_on_info_shutdown's:
 * without this one csjack would play on, silent, for ever, and never
 * reconnect. jack2 calls only the info callback when both are set. */
static void
on_shutdown_plain(void *arg)
{
  on_shutdown(JackFailure, "the JACK server went away", arg);
}

/* Our outputs lag our inputs by the handler's added latency: publish the
 * input-side range plus that on the outputs, and the reverse. */
static void
on_latency(jack_latency_callback_mode_t mode, void *arg)
{
  JackBackend *jb = arg;
  const uint32_t added = jb->handler.added_latency(jb->handler.context);
  jack_port_t **from = mode == JackCaptureLatency ? jb->inputs : jb->outputs;
  jack_port_t **to = mode == JackCaptureLatency ? jb->outputs : jb->inputs;
  const uint32_t n_from = mode == JackCaptureLatency ? jb->n_inputs : jb->n_outputs;
  const uint32_t n_to = mode == JackCaptureLatency ? jb->n_outputs : jb->n_inputs;

  jack_latency_range_t range = {UINT32_MAX, 0};
  for (uint32_t i = 0; i < n_from; ++i) {
    jack_latency_range_t r;
    jack_port_get_latency_range(from[i], mode, &r);
    range.min = r.min < range.min ? r.min : range.min;
    range.max = r.max > range.max ? r.max : range.max;
  }
  if (n_from == 0) {
    range.min = range.max = 0;
  }
  range.min += added;
  range.max += added;
  for (uint32_t i = 0; i < n_to; ++i) {
    jack_port_set_latency_range(to[i], mode, &range);
  }
}

/*
 * libjack prints its own complaints through two process-wide printers
 * (jack_set_error_function, jack_set_info_function) that default to
 * stderr: five lines when no server runs ("Cannot connect to server
 * socket ...", "jack server is not running or cannot be started", ...),
 * five more when the server goes away mid-run ("Cannot read socket fd =
 * 11 err = Success", "CheckRes error", "JackSocketClientChannel read
 * fail", "Server is not running" twice). Written straight to the
 * terminal, they also wreck the line someone is typing in the console.
 *
 * So csjack installs its own printers before its first jack_client_open,
 * for as long as a backend is open:
 * - on the thread that is opening a client, they keep the last complaint:
 *   csjack says what went wrong in one line of its own, and adds libjack's
 *   complaint only when it cannot tell what it was;
 * - on csjack's process thread they only count (no lock, no copy);
 * - elsewhere they hold the message (a few, fixed storage) until the
 *   engine's supervisor passes it on, at least JACK_HELD_AGE_NS later, to
 *   csjack's message sink as "csjack: JACK: TEXT", unless the server went
 *   away meanwhile: then csjack's own line ("the JACK server shut down")
 *   says it, and libjack's burst is only counted
 *   (jack_backend_pass_messages).
 * The previous printers are put back when the last backend closes, if
 * nobody replaced ours meanwhile.
 */
#define JACK_HELD_MAX 8
#define JACK_HELD_TEXT 256

static pthread_mutex_t jack_printers_lock = PTHREAD_MUTEX_INITIALIZER;
static int jack_printer_users; /* open backends */
static void (*jack_saved_error)(const char *);
static void (*jack_saved_info)(const char *);
static char jack_held[JACK_HELD_MAX][JACK_HELD_TEXT];
static uint64_t jack_held_at[JACK_HELD_MAX];
static int jack_held_count;
static uint64_t jack_held_lost; /* beyond JACK_HELD_MAX, or from the process thread */
static _Atomic uint64_t jack_process_messages;

static _Thread_local bool opening_here;
static _Thread_local char jack_complaint[256];

static uint64_t
monotonic_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
hold_jack_message(const char *text, bool is_error)
{
  if (opening_here) {
    if (is_error) {
      snprintf(jack_complaint, sizeof(jack_complaint), "%s", text);
      jack_complaint[strcspn(jack_complaint, "\n")] = '\0';
    }
    return;
  }
  if (process_thread_here) {
    atomic_fetch_add_explicit(&jack_process_messages, 1, memory_order_relaxed);
    return;
  }
  const uint64_t now = monotonic_ns();
  pthread_mutex_lock(&jack_printers_lock);
  if (jack_held_count < JACK_HELD_MAX) {
    char *slot = jack_held[jack_held_count];
    snprintf(slot, JACK_HELD_TEXT, "%s", text);
    slot[strcspn(slot, "\n")] = '\0';
    jack_held_at[jack_held_count++] = now;
  } else {
    ++jack_held_lost;
  }
  pthread_mutex_unlock(&jack_printers_lock);
}

static void
jack_error_printer(const char *text)
{
  hold_jack_message(text, true);
}

static void
jack_info_printer(const char *text)
{
  hold_jack_message(text, false);
}

/* Called before jack_client_open. */
static void
jack_printers_take(void)
{
  pthread_mutex_lock(&jack_printers_lock);
  if (jack_printer_users++ == 0) {
    jack_saved_error = jack_error_callback;
    jack_saved_info = jack_info_callback;
    jack_set_error_function(jack_error_printer);
    jack_set_info_function(jack_info_printer);
  }
  pthread_mutex_unlock(&jack_printers_lock);
}

/* Called after the client is closed (or its open failed). */
static void
jack_printers_give_back(void)
{
  pthread_mutex_lock(&jack_printers_lock);
  if (--jack_printer_users == 0) {
    if (jack_error_callback == jack_error_printer && jack_saved_error) {
      jack_set_error_function(jack_saved_error);
    }
    if (jack_info_callback == jack_info_printer && jack_saved_info) {
      jack_set_info_function(jack_saved_info);
    }
  }
  pthread_mutex_unlock(&jack_printers_lock);
}

uint64_t
jack_backend_pass_messages(bool server_gone, uint64_t min_age_ns,
                           void (*emit)(void *data, const char *text), void *data)
{
  char texts[JACK_HELD_MAX][JACK_HELD_TEXT];
  int n = 0;
  uint64_t lost = 0;
  const uint64_t now = monotonic_ns();
  pthread_mutex_lock(&jack_printers_lock);
  while (n < jack_held_count && now - jack_held_at[n] >= min_age_ns) {
    memcpy(texts[n], jack_held[n], JACK_HELD_TEXT);
    ++n;
  }
  if (n > 0) {
    memmove(jack_held[0], jack_held[n], (size_t)(jack_held_count - n) * JACK_HELD_TEXT);
    memmove(jack_held_at, jack_held_at + n, (size_t)(jack_held_count - n) * sizeof(uint64_t));
    jack_held_count -= n;
  }
  if (jack_held_count == 0) {
    lost = jack_held_lost;
    jack_held_lost = 0;
  }
  pthread_mutex_unlock(&jack_printers_lock);
  lost += atomic_exchange_explicit(&jack_process_messages, 0, memory_order_relaxed);
  if (server_gone) {
    return (uint64_t)n + lost;
  }
  char line[JACK_HELD_TEXT + 32];
  for (int i = 0; i < n; ++i) {
    snprintf(line, sizeof(line), "csjack: JACK: %.*s\n", JACK_HELD_TEXT - 1, texts[i]);
    emit(data, line);
  }
  if (lost > 0) {
    snprintf(line, sizeof(line), "csjack: JACK: %llu more messages from libjack not shown\n",
             (unsigned long long)lost);
    emit(data, line);
  }
  return 0;
}

/* jack2 reports a clash under JackUseExactName as a plain server error,
 * without JackNameNotUnique: ask the server whether the name is taken. */
static bool
client_name_exists(const char *client_name, const char *server_name)
{
  jack_options_t options = JackNoStartServer | (server_name ? JackServerName : 0);
  jack_status_t status = 0;
  jack_client_t *probe = jack_client_open("csjack-probe", options, &status, server_name);
  if (!probe) {
    return false;
  }
  char *uuid = jack_get_uuid_for_client_name(probe, client_name);
  const bool exists = uuid != NULL;
  jack_free(uuid);
  jack_client_close(probe);
  return exists;
}

CsjStatus
jack_backend_open(const char *client_name, const char *server_name, JackBackend **out, char *why,
                  size_t why_size)
{
  *out = NULL;
  /* libjack 1.9.21 overflows a stack buffer (and aborts) on a server name
   * of about 265 bytes or more, the one given or JACK_DEFAULT_SERVER; a
   * server cannot even start under a name much over 80 (its socket's path
   * is too long). */
  const char *server = server_name ? server_name : getenv("JACK_DEFAULT_SERVER");
  if (server && strlen(server) > JACK_BACKEND_MAX_SERVER_NAME) {
    snprintf(why, why_size,
             "cannot reach JACK server '%.40s...': a JACK server's name is at most %d bytes, "
             "this one has %zu%s",
             server, JACK_BACKEND_MAX_SERVER_NAME, strlen(server),
             server_name ? "" : " (from JACK_DEFAULT_SERVER)");
    return CSJ_ERR_NO_SERVER;
  }
  /* jack_client_name_size() says 65 (with the NUL), but jackd 1.9.21
   * refuses a name of 64 bytes with an opaque status. */
  const size_t name_max = (size_t)jack_client_name_size() - 2;
  if (strlen(client_name) > name_max) {
    snprintf(why, why_size, "JACK client names are at most %zu bytes; '%.40s...' has %zu", name_max,
             client_name, strlen(client_name));
    return CSJ_ERR_JACK;
  }
  JackBackend *jb = calloc(1, sizeof(*jb));
  if (!jb) {
    snprintf(why, why_size, "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  jack_options_t options = JackNoStartServer | JackUseExactName;
  if (server_name) {
    options |= JackServerName;
  }
  jack_status_t status = 0;
  jack_printers_take();
  jack_complaint[0] = '\0';
  opening_here = true;
  jb->client = jack_client_open(client_name, options, &status, server_name);
  bool taken = false;
  if (!jb->client && !(status & JackServerFailed)) {
    taken = (status & JackNameNotUnique) || client_name_exists(client_name, server_name);
  }
  opening_here = false;
  if (!jb->client) {
    jack_printers_give_back();
    free(jb);
    if (status & JackServerFailed) {
      snprintf(why, why_size,
               "cannot reach JACK server '%s': is it running? (csjack never starts one)",
               server ? server : "default");
      return CSJ_ERR_NO_SERVER;
    }
    if (taken) {
      snprintf(why, why_size,
               "JACK client name '%s' is already in use (choose another with --name)", client_name);
      return CSJ_ERR_NAME_TAKEN;
    }
    snprintf(why, why_size, "cannot open JACK client '%s' (JACK status 0x%x%s%s)", client_name,
             (unsigned)status, jack_complaint[0] ? "; libjack: " : "", jack_complaint);
    return CSJ_ERR_JACK;
  }
  atomic_init(&jb->shut_down, false);
  *out = jb;
  return CSJ_SUCCESS;
}

/*
 * JACK's metadata and closing clients, one csjack at a time.
 *
 * Each jack_set_property / jack_remove_property goes through the server,
 * which tells every client of the change, and writes libjack's metadata
 * database (Berkeley DB in /dev/shm, one for all the servers of a user,
 * with no deadlock detection). Ten csjacks stopping together (a session
 * manager closing a session) then make dozens of such requests and ten
 * closes at once; in about one run in twenty on this project's machines one
 * close never returned, and a process that exits while it holds one of the
 * database's locks leaves every later jack_client_open of the user waiting
 * for ever. So csjack processes take turns, across processes, for the
 * moments they describe their ports and for their whole close (metadata
 * removed, deactivate, close: some tens of milliseconds each): an flock on
 * a file in /dev/shm, which the kernel releases when a process dies, so a
 * crashed csjack holds nobody up. The wait is bounded (METADATA_TURN_MS):
 * past it csjack goes ahead, as it did before, rather than never closing.
 * Never on the JACK thread.
 */
#define METADATA_TURN_MS 5000

static int
metadata_turn_take(void)
{
  char path[96];
  snprintf(path, sizeof(path), "/dev/shm/csjack-jack-metadata-%u.lock", (unsigned)getuid());
  const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return -1;
  }
  for (int waited = 0; waited < METADATA_TURN_MS; waited += 2) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      return fd;
    }
    if (errno != EWOULDBLOCK && errno != EINTR) {
      break;
    }
    const struct timespec two_ms = {0, 2000000};
    nanosleep(&two_ms, NULL);
  }
  close(fd); /* go ahead without a turn */
  return -1;
}

static void
metadata_turn_give(int fd)
{
  if (fd >= 0) {
    close(fd); /* releases the flock */
  }
}

/*
 * Takes back the metadata describe_port() put on each port, while the
 * client is still whole (active, its notification thread alive).
 *
 * Why: jack2 1.9.21 removes a closing client's port metadata itself, in the
 * server, inside the close request; with many described ports (a 64-output
 * orchestra, or ten 2-output clients closing at once) that request never
 * completed: csjack stayed in jack_client_close and every other client's
 * request (jack_lsp) timed out until csjack was killed. With no metadata
 * left to remove at close, it does not happen (docs/design.md).
 *
 * The properties belong to the ports, and the ports end with the client, so
 * nothing outlives its subject: qjackctl or Carla may show the plain port
 * names during the few milliseconds between this and the close. Only the
 * two keys csjack set are removed, one request each (jack_remove_property
 * deletes one key; jack_remove_properties would scan the whole metadata
 * database once per port), and only while they still hold csjack's value:
 * jackd 1.9.21 keeps one metadata database for all the servers of the
 * machine, and port UUIDs are numbered per server, so a port of another
 * server's client may have the same UUID and have written over ours.
 */
static void
forget_property(JackBackend *jb, jack_uuid_t uuid, const char *key, const char *ours)
{
  char *value = NULL;
  char *type = NULL;
  if (jack_get_property(uuid, key, &value, &type) == 0) {
    if (value && strcmp(value, ours) == 0) {
      jack_remove_property(jb->client, uuid, key);
    }
    jack_free(value);
    jack_free(type);
  }
}

static void
forget_metadata(JackBackend *jb)
{
  char pretty[64];
  char order[16];
  for (uint32_t i = 0; i < jb->n_inputs + jb->n_outputs; ++i) {
    const bool input = i < jb->n_inputs;
    jack_port_t *port = input ? jb->inputs[i] : jb->outputs[i - jb->n_inputs];
    const uint32_t number = input ? i + 1 : i - jb->n_inputs + 1;
    snprintf(pretty, sizeof(pretty), "Csound %s %u", input ? "in" : "out", number);
    snprintf(order, sizeof(order), "%u", i + 1);
    const jack_uuid_t uuid = jack_port_uuid(port);
    forget_property(jb, uuid, JACK_METADATA_PRETTY_NAME, pretty);
    forget_property(jb, uuid, JACK_METADATA_ORDER, order);
  }
  if (jb->midi_in) {
    const uint32_t first = jb->n_inputs + jb->n_outputs + 1;
    snprintf(order, sizeof(order), "%u", first);
    forget_property(jb, jack_port_uuid(jb->midi_in), JACK_METADATA_PRETTY_NAME, "Csound MIDI in");
    forget_property(jb, jack_port_uuid(jb->midi_in), JACK_METADATA_ORDER, order);
    snprintf(order, sizeof(order), "%u", first + 1);
    forget_property(jb, jack_port_uuid(jb->midi_out), JACK_METADATA_PRETTY_NAME, "Csound MIDI out");
    forget_property(jb, jack_port_uuid(jb->midi_out), JACK_METADATA_ORDER, order);
  }
}

void
jack_backend_close(JackBackend *jb)
{
  if (!jb) {
    return;
  }
  /* A server that shut down answers no request: skip what would ask it. */
  const bool server_up = !atomic_load_explicit(&jb->shut_down, memory_order_acquire);
  const int turn = server_up ? metadata_turn_take() : -1;
  if (server_up) {
    forget_metadata(jb);
    if (jb->active) {
      jack_deactivate(jb->client);
    }
  }
  if (jb->client) {
    jack_client_close(jb->client);
    jack_printers_give_back();
  }
  metadata_turn_give(turn);
  free(jb);
}

void
jack_backend_drop_client(JackBackend *jb)
{
  /* Left open, on purpose: libjack 1.9.21's jack_client_close on a client
   * whose server was killed crashes when the process has other clients of
   * it, and after a new server of the same name started (both seen here).
   * What stays is libjack's memory for one client; its threads ended with
   * the server. */
  (void)atomic_exchange(&jb->client, NULL);
}

uint32_t
jack_backend_sample_rate(const JackBackend *jb)
{
  jack_client_t *client = jb->client;
  return client ? jack_get_sample_rate(client) : 0;
}

uint32_t
jack_backend_period(const JackBackend *jb)
{
  jack_client_t *client = jb->client;
  return client ? jack_get_buffer_size(client) : 0;
}

static void
describe_port(JackBackend *jb, jack_port_t *port, const char *pretty, uint32_t order)
{
  jack_uuid_t uuid = jack_port_uuid(port);
  char order_text[16];
  snprintf(order_text, sizeof(order_text), "%u", order);
  const int turn = metadata_turn_take();
  jack_set_property(jb->client, uuid, JACK_METADATA_PRETTY_NAME, pretty, "text/plain");
  jack_set_property(jb->client, uuid, JACK_METADATA_ORDER, order_text,
                    "http://www.w3.org/2001/XMLSchema#integer");
  metadata_turn_give(turn);
}

CsjStatus
jack_backend_register_ports(JackBackend *jb, uint32_t inputs, uint32_t outputs, char *why,
                            size_t why_size)
{
  if (inputs > JACK_BACKEND_MAX_PORTS || outputs > JACK_BACKEND_MAX_PORTS) {
    snprintf(why, why_size, "too many channels (%u in, %u out; at most %d each)", inputs, outputs,
             JACK_BACKEND_MAX_PORTS);
    return CSJ_ERR_CHANNELS;
  }
  char name[32];
  char pretty[64];
  for (uint32_t i = 0; i < inputs; ++i) {
    snprintf(name, sizeof(name), "in_%u", i + 1);
    jb->inputs[i] =
      jack_port_register(jb->client, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    if (!jb->inputs[i]) {
      snprintf(why, why_size, "cannot register JACK port %s", name);
      return CSJ_ERR_JACK;
    }
    snprintf(pretty, sizeof(pretty), "Csound in %u", i + 1);
    describe_port(jb, jb->inputs[i], pretty, i + 1);
    jb->n_inputs = i + 1;
  }
  for (uint32_t i = 0; i < outputs; ++i) {
    snprintf(name, sizeof(name), "out_%u", i + 1);
    jb->outputs[i] =
      jack_port_register(jb->client, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    if (!jb->outputs[i]) {
      snprintf(why, why_size, "cannot register JACK port %s", name);
      return CSJ_ERR_JACK;
    }
    snprintf(pretty, sizeof(pretty), "Csound out %u", i + 1);
    describe_port(jb, jb->outputs[i], pretty, inputs + i + 1);
    jb->n_outputs = i + 1;
  }
  return CSJ_SUCCESS;
}

CsjStatus
jack_backend_register_midi(JackBackend *jb, char *why, size_t why_size)
{
  jack_port_t *in =
    jack_port_register(jb->client, "midi_in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
  jack_port_t *out =
    in ? jack_port_register(jb->client, "midi_out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0)
       : NULL;
  if (!out) {
    if (in) {
      jack_port_unregister(jb->client, in);
    }
    snprintf(why, why_size, "cannot register JACK port %s", in ? "midi_out" : "midi_in");
    return CSJ_ERR_JACK;
  }
  const uint32_t first = jb->n_inputs + jb->n_outputs + 1;
  describe_port(jb, in, "Csound MIDI in", first);
  describe_port(jb, out, "Csound MIDI out", first + 1);
  jb->midi_in = in;
  jb->midi_out = out;
  return CSJ_SUCCESS;
}

int
jack_backend_rt_priority(const JackBackend *jb)
{
  jack_client_t *client = jb->client;
  return client ? jack_client_real_time_priority(client) : -1;
}

struct _jack_client *
jack_backend_client(const JackBackend *jb)
{
  return jb->client;
}

CsjStatus
jack_backend_activate(JackBackend *jb, const JackCycleHandler *handler, char *why, size_t why_size)
{
  jb->handler = *handler;
  jack_set_process_callback(jb->client, on_process, jb);
  jack_set_xrun_callback(jb->client, on_xrun, jb);
  jack_set_buffer_size_callback(jb->client, on_buffer_size, jb);
  jack_set_sample_rate_callback(jb->client, on_sample_rate, jb);
  jack_set_latency_callback(jb->client, on_latency, jb);
  jack_set_freewheel_callback(jb->client, on_freewheel, jb);
  jack_on_info_shutdown(jb->client, on_shutdown, jb);
  jack_on_shutdown(jb->client, on_shutdown_plain, jb);
  if (jack_activate(jb->client) != 0) {
    snprintf(why, why_size, "cannot activate JACK client");
    return CSJ_ERR_JACK;
  }
  jb->active = true;
  return CSJ_SUCCESS;
}

void
jack_backend_latency_changed(JackBackend *jb)
{
  jack_client_t *client = jb->client;
  if (client) {
    jack_recompute_total_latencies(client);
  }
}

static void
connect_ports(JackBackend *jb, jack_port_t **ours, uint32_t n_ours, const char *regex,
              unsigned long flags, bool we_are_source, void (*warn)(void *, const char *),
              void *warn_data)
{
  if (n_ours == 0) {
    return;
  }
  char text[512];
  const char **peers = jack_get_ports(jb->client, regex, JACK_DEFAULT_AUDIO_TYPE,
                                      flags | (regex ? 0 : JackPortIsPhysical));
  uint32_t n_peers = 0;
  while (peers && peers[n_peers]) {
    ++n_peers;
  }
  const char *what = regex ? regex : (we_are_source ? "physical playback" : "physical capture");
  if (n_peers == 0) {
    snprintf(text, sizeof(text), "csjack: warning: no %s ports to connect %s\n", what,
             we_are_source ? "our outputs to" : "our inputs from");
    warn(warn_data, text);
  }
  for (uint32_t i = 0; i < n_ours && i < n_peers; ++i) {
    const char *mine = jack_port_name(ours[i]);
    const char *src = we_are_source ? mine : peers[i];
    const char *dst = we_are_source ? peers[i] : mine;
    int err = jack_connect(jb->client, src, dst);
    if (err != 0 && err != EEXIST) {
      snprintf(text, sizeof(text), "csjack: warning: cannot connect %s to %s\n", src, dst);
      warn(warn_data, text);
    }
  }
  if (peers) {
    jack_free(peers);
  }
}

void
jack_backend_autoconnect(JackBackend *jb, const char *out_regex, const char *in_regex,
                         void (*warn)(void *data, const char *text), void *warn_data)
{
  connect_ports(jb, jb->outputs, jb->n_outputs, out_regex, JackPortIsInput, true, warn, warn_data);
  connect_ports(jb, jb->inputs, jb->n_inputs, in_regex, JackPortIsOutput, false, warn, warn_data);
}

static void
connect_midi(JackBackend *jb, jack_port_t *ours, const char *regex, bool we_are_source,
             void (*warn)(void *, const char *), void *warn_data)
{
  char text[512];
  const char **peers = jack_get_ports(jb->client, regex, JACK_DEFAULT_MIDI_TYPE,
                                      we_are_source ? JackPortIsInput : JackPortIsOutput);
  if (!peers || !peers[0]) {
    snprintf(text, sizeof(text), "csjack: warning: no MIDI ports match '%s' to connect %s\n", regex,
             we_are_source ? "midi_out to" : "midi_in from");
    warn(warn_data, text);
  }
  for (size_t i = 0; peers && peers[i]; ++i) {
    const char *mine = jack_port_name(ours);
    const char *src = we_are_source ? mine : peers[i];
    const char *dst = we_are_source ? peers[i] : mine;
    if (strcmp(src, dst) == 0 ||
        jack_port_is_mine(jb->client, jack_port_by_name(jb->client, peers[i]))) {
      continue; /* never a loop onto ourselves */
    }
    int err = jack_connect(jb->client, src, dst);
    if (err != 0 && err != EEXIST) {
      snprintf(text, sizeof(text), "csjack: warning: cannot connect %s to %s\n", src, dst);
      warn(warn_data, text);
    }
  }
  if (peers) {
    jack_free(peers);
  }
}

void
jack_backend_autoconnect_midi(JackBackend *jb, const char *out_regex, const char *in_regex,
                              void (*warn)(void *data, const char *text), void *warn_data)
{
  if (!jb->midi_in) {
    return;
  }
  if (out_regex) {
    connect_midi(jb, jb->midi_out, out_regex, true, warn, warn_data);
  }
  if (in_regex) {
    connect_midi(jb, jb->midi_in, in_regex, false, warn, warn_data);
  }
}
