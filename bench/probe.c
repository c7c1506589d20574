/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bench's JACK probe client; see probe.h. */

#include "probe.h"

#include "bench_util.h"
#include "results.h"

#include <stdio.h>
#include <string.h>

static int
probe_process(jack_nframes_t nframes, void *arg)
{
  BenchProbe *p = arg;
  float *out = jack_port_get_buffer(p->out, nframes);
  const float *in = jack_port_get_buffer(p->in, nframes);
  memset(out, 0, nframes * sizeof(float));
  const jack_nframes_t now = jack_last_frame_time(p->client);
  const unsigned seq = atomic_load_explicit(&p->cycle_seq, memory_order_relaxed);
  atomic_store_explicit(&p->cycle_seq, seq + 1, memory_order_relaxed);
  /* Release fence: a reader that sees the new pair sees the odd sequence. */
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&p->cycle_frames, now, memory_order_relaxed);
  atomic_store_explicit(&p->cycle_usecs, jack_get_time(), memory_order_relaxed);
  atomic_store_explicit(&p->cycle_seq, seq + 2, memory_order_release);
  if (atomic_load_explicit(&p->impulse, memory_order_acquire) == 1) {
    out[0] = 1.0f;
    atomic_store_explicit(&p->t_call, now, memory_order_relaxed);
    atomic_store_explicit(&p->impulse, 2, memory_order_relaxed);
    /* Release: t_call is visible before armed. */
    atomic_store_explicit(&p->armed, 1, memory_order_release);
  }
  jack_nframes_t first = nframes;
  for (jack_nframes_t i = 0; i < nframes; ++i) {
    if (in[i] != 0.0f) {
      first = i;
      break;
    }
  }
  if (first == nframes) {
    atomic_fetch_add_explicit(&p->silent_cycles, 1, memory_order_relaxed);
  } else {
    atomic_store_explicit(&p->silent_cycles, 0, memory_order_relaxed);
    if (atomic_load_explicit(&p->armed, memory_order_acquire)) {
      atomic_store_explicit(&p->t_detect, now + first, memory_order_relaxed);
      atomic_store_explicit(&p->armed, 0, memory_order_relaxed);
      atomic_store_explicit(&p->detected, 1, memory_order_release);
    }
  }
  return 0;
}

jack_nframes_t
bench_probe_cycle_clock_now(BenchProbe *p)
{
  for (;;) {
    const unsigned s1 = atomic_load_explicit(&p->cycle_seq, memory_order_acquire);
    const jack_nframes_t f = atomic_load_explicit(&p->cycle_frames, memory_order_relaxed);
    const jack_time_t t = atomic_load_explicit(&p->cycle_usecs, memory_order_relaxed);
    const jack_time_t now = jack_get_time();
    /* Acquire fence: the reads above happen before the second look. */
    atomic_thread_fence(memory_order_acquire);
    const unsigned s2 = atomic_load_explicit(&p->cycle_seq, memory_order_relaxed);
    if (s1 != s2 || (s1 & 1u) || now < t) {
      bench_sleep_ms(0.02);
      continue;
    }
    double frames = (double)(now - t) * p->rate / 1e6;
    if (frames > p->period) {
      frames = p->period;
    }
    return f + (jack_nframes_t)frames;
  }
}

static int
probe_xrun(void *arg)
{
  BenchProbe *p = arg;
  atomic_fetch_add_explicit(&p->xruns, 1, memory_order_relaxed);
  return 0;
}

uint64_t
bench_probe_xruns(BenchProbe *p)
{
  return atomic_load_explicit(&p->xruns, memory_order_relaxed);
}

bool
bench_probe_open(BenchProbe *p, const char *server, char *why)
{
  memset(p, 0, sizeof(*p));
  bench_unique_name(p->name, sizeof(p->name), "csjb-probe");
  jack_status_t status = 0;
  jack_options_t flags = JackNoStartServer | JackUseExactName;
  if (server) {
    flags |= JackServerName;
  }
  p->client = jack_client_open(p->name, flags, &status, server);
  if (!p->client) {
    snprintf(why, WHY_SIZE, "cannot open a JACK client on server %s (status 0x%x)",
             server ? server : "(default)", (unsigned)status);
    return false;
  }
  p->in = jack_port_register(p->client, "capture", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
  p->out = jack_port_register(p->client, "impulse", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
  if (!p->in || !p->out || jack_set_process_callback(p->client, probe_process, p) != 0 ||
      jack_set_xrun_callback(p->client, probe_xrun, p) != 0 || jack_activate(p->client) != 0) {
    snprintf(why, WHY_SIZE, "cannot set up the probe client");
    jack_client_close(p->client);
    p->client = NULL;
    return false;
  }
  p->period = jack_get_buffer_size(p->client);
  p->rate = jack_get_sample_rate(p->client);
  return true;
}

void
bench_probe_close(BenchProbe *p)
{
  if (p->client) {
    jack_deactivate(p->client);
    jack_client_close(p->client);
    p->client = NULL;
  }
}

/* Connects the probe to a system: impulse -> system input, system output ->
 * capture. Drops its earlier connections first. NULL ports connect nothing. */
bool
bench_probe_attach(BenchProbe *p, const char *sys_out, const char *sys_in)
{
  jack_port_disconnect(p->client, p->in);
  jack_port_disconnect(p->client, p->out);
  bool ok = true;
  if (sys_out) {
    ok &= jack_connect(p->client, sys_out, jack_port_name(p->in)) == 0;
  }
  if (sys_in) {
    ok &= jack_connect(p->client, jack_port_name(p->out), sys_in) == 0;
  }
  /* The new graph order takes effect within a cycle or two. */
  bench_sleep_ms(50);
  return ok;
}

/* Waits until the probe has heard @p cycles silent cycles in a row. */
bool
bench_probe_wait_silence(BenchProbe *p, unsigned cycles, int timeout_ms)
{
  const uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (atomic_load_explicit(&p->silent_cycles, memory_order_relaxed) < cycles) {
    if (bench_now_ns() > deadline) {
      return false;
    }
    bench_sleep_ms(0.5);
  }
  return true;
}

bool
bench_probe_wait_detect(BenchProbe *p, int timeout_ms)
{
  const uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (!atomic_load_explicit(&p->detected, memory_order_acquire)) {
    if (bench_now_ns() > deadline) {
      atomic_store(&p->armed, 0);
      return false;
    }
    bench_sleep_ms(0.2);
  }
  return true;
}
