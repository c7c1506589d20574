/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reconnecting to a JACK server that went away (engine_reconnect.h).
 *
 * Nothing of Csound's is touched: no cycle comes while the server is gone,
 * so Csound simply waits, its instruments, channels and tables as they
 * were. The new client has the old one's name, ports and metadata. The
 * client of the server that went away is let go at once (libjack cannot
 * close it safely: jack_backend_drop_client); its backend is kept until
 * the next reconnection or the engine's end, since another thread may be
 * reading its clock.
 */

#include "engine_reconnect.h"
#include "engine_cycle.h"
#include "engine_transport.h"

#include <math.h>
#include <stdio.h>

#define RETRY_NS (500ull * 1000 * 1000)

static void
lost(CsjEngine *e, uint64_t now)
{
  e->reconnect_since_ns = now;
  e->reconnect_next_ns = now + RETRY_NS;
  char limit[64] = "";
  if (e->reconnect_ms > 0) {
    snprintf(limit, sizeof limit, " for %.1f s", e->reconnect_ms / 1000.0);
  }
  message_log_printf(e->log, 0,
                     "csjack: the JACK server went away: Csound and its live state are kept; "
                     "trying to reconnect every 0.5 s%s\n",
                     limit);
  /* A recording ends at the loss, whole: it is not resumed into the same
   * file (a new :record starts another). */
  if (atomic_load_explicit(&e->active_recording, memory_order_acquire)) {
    csj_engine_abandon_record(e);
    message_log_printf(e->log, 0, "csjack: the recording was closed where the server went away\n");
  }
  jack_links_detach(e->links);
  atomic_store_explicit(&e->freewheeling, false, memory_order_release);
  /* Now, before any new server of the same name exists. */
  jack_backend_drop_client(e->jack);
}

/* A new client on a server that is back: ports, callbacks, activation. */
static bool
reopen(CsjEngine *e, bool *fatal)
{
  JackBackend *jb = NULL;
  char why[256];
  if (jack_backend_open(e->client_name, e->server_name, &jb, why, sizeof why) != CSJ_SUCCESS) {
    return false;
  }
  const uint32_t rate = jack_backend_sample_rate(jb);
  const double sr = csound_adapter_sample_rate(e->csound);
  if (fabs((double)rate - sr) > 0.5) {
    message_log_printf(e->log, 0,
                       "csjack: error: the JACK server is back at %u Hz, but Csound runs at %.0f "
                       "Hz and cannot change its rate: the performance ends (save the live state "
                       "with :save first, and restore it in a new csjack)\n",
                       rate, sr);
    jack_backend_close(jb);
    *fatal = true;
    return false;
  }
  CsjStatus status = jack_backend_register_ports(jb, e->n_in, e->n_out, why, sizeof why);
  if (status == CSJ_SUCCESS && e->midi) {
    status = jack_backend_register_midi(jb, why, sizeof why);
  }
  if (status != CSJ_SUCCESS) {
    message_log_printf(e->log, 0, "csjack: warning: reconnecting: %s; trying again\n", why);
    jack_backend_close(jb);
    return false;
  }
  jack_links_attach(e->links, jb);
  /* The old client stays open, unused, until the next time. */
  jack_backend_close(e->jack_retired);
  e->jack_retired = e->jack;
  e->jack = jb;
  atomic_store_explicit(&e->jack_period, jack_backend_period(jb), memory_order_relaxed);
  atomic_store_explicit(&e->jack_rate, rate, memory_order_relaxed);
  atomic_store_explicit(&e->server_gone, false, memory_order_release);
  const JackCycleHandler handler = engine_cycle_handler(e);
  if (jack_backend_activate(jb, &handler, why, sizeof why) != CSJ_SUCCESS) {
    message_log_printf(e->log, 0, "csjack: warning: reconnecting: %s; trying again\n", why);
    atomic_store_explicit(&e->server_gone, true, memory_order_release);
    jack_links_detach(e->links);
    return false;
  }
  engine_transport_activated(e);
  return true;
}

bool
engine_reconnect_tick(CsjEngine *e)
{
  if (e->reconnect_ms == 0) {
    return false;
  }
  const uint64_t now = engine_now_ns();
  if (!e->reconnect_since_ns) {
    lost(e, now);
    return true;
  }
  if (atomic_load_explicit(&e->stop_requested, memory_order_relaxed)) {
    return false;
  }
  const uint64_t gone_ns = now - e->reconnect_since_ns;
  if (e->reconnect_ms > 0 && gone_ns > (uint64_t)e->reconnect_ms * 1000000u) {
    message_log_printf(e->log, 0, "csjack: no JACK server came back within %.1f s\n",
                       e->reconnect_ms / 1000.0);
    return false;
  }
  if (now < e->reconnect_next_ns) {
    return true;
  }
  e->reconnect_next_ns = now + RETRY_NS;
  bool fatal = false;
  if (!reopen(e, &fatal)) {
    return !fatal;
  }
  e->reconnect_since_ns = 0;
  atomic_fetch_add_explicit(&e->reconnects, 1, memory_order_relaxed);
  message_log_printf(e->log, 0,
                     "csjack: reconnected to the JACK server after %.1f s: the same ports; "
                     "connections are made again as their peers appear\n",
                     (double)gone_ns * 1e-9);
  return true;
}
