/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JACK's clocks for the engine: frame times and cycle times (declared in
 * jack_backend.h). A backend whose client was dropped (its server went
 * away: jack_backend_drop_client) reads 0 and false: another thread may
 * ask the time at the moment it goes.
 */

#include "jack_backend.h"

#include <jack/jack.h>

#include <math.h>

uint32_t
jack_backend_cycle_frame_time(const JackBackend *jb)
{
  jack_client_t *client = jack_backend_client(jb);
  return client ? jack_last_frame_time(client) : 0;
}

uint32_t
jack_backend_frame_time_now(const JackBackend *jb)
{
  jack_client_t *client = jack_backend_client(jb);
  return client ? jack_frame_time(client) : 0;
}

uint32_t
jack_backend_frame_time_in(const JackBackend *jb, int64_t usecs)
{
  /* Anchored at JACK's estimate of now (an extrapolation over less than a
   * period from the current cycle's start), then the nominal rate for the
   * offset: jack_time_to_frames would extrapolate the whole offset with
   * its delay-locked loop's period estimate, which on a loaded machine is
   * off by tenths of a percent (45 frames over 0.25 s, measured on the
   * dummy driver). */
  jack_client_t *client = jack_backend_client(jb);
  if (!client) {
    return 0;
  }
  const uint32_t now = jack_frame_time(client);
  const double rate = (double)jack_get_sample_rate(client);
  const int64_t frames = (int64_t)llround((double)usecs * rate / 1e6);
  return now + (uint32_t)frames;
}

bool
jack_backend_cycle_times(JackBackend *jb, uint64_t *current_usecs, uint64_t *next_usecs,
                         float *period_usecs)
{
  jack_nframes_t frames;
  jack_time_t current, next;
  float period;
  jack_client_t *client = jack_backend_client(jb);
  if (!client || jack_get_cycle_times(client, &frames, &current, &next, &period) != 0) {
    return false;
  }
  *current_usecs = current;
  *next_usecs = next;
  *period_usecs = period;
  return true;
}

uint64_t
jack_backend_now_usecs(void)
{
  return jack_get_time();
}
