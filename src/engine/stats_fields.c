/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CsjStats as a table: each field's name, place and type, so that the
 * console, the network servers and the Python binding print and read the
 * counters from one list instead of each keeping its own.
 */

#include "csjack.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define FIELD(name, type)                 \
  {                                       \
#name, offsetof(CsjStats, name), type \
  }

static const CsjStatField fields[] = {
  FIELD(cycles, CSJ_STAT_U64),
  FIELD(ksmps_blocks, CSJ_STAT_U64),
  FIELD(xruns, CSJ_STAT_U64),
  FIELD(messages_dropped, CSJ_STAT_U64),
  FIELD(period, CSJ_STAT_U32),
  FIELD(sample_rate, CSJ_STAT_U32),
  FIELD(ksmps, CSJ_STAT_U32),
  FIELD(latency, CSJ_STAT_U32),
  FIELD(inputs, CSJ_STAT_U32),
  FIELD(outputs, CSJ_STAT_U32),
  FIELD(commands_run, CSJ_STAT_U64),
  FIELD(dropped_cycles, CSJ_STAT_U64),
  FIELD(ring_capacity, CSJ_STAT_U32),
  FIELD(ring_high_water, CSJ_STAT_U32),
  FIELD(record_dropped, CSJ_STAT_U64),
  FIELD(record_errors, CSJ_STAT_U64),
  FIELD(paused, CSJ_STAT_BOOL),
  FIELD(callback_ns_last, CSJ_STAT_U64),
  FIELD(callback_ns_max, CSJ_STAT_U64),
  FIELD(own_ns_max, CSJ_STAT_U64),
  FIELD(callbacks_late, CSJ_STAT_U64),
  FIELD(commands_deferred, CSJ_STAT_U64),
  FIELD(compile_wait_ns_max, CSJ_STAT_U64),
  FIELD(midi_in_events, CSJ_STAT_U64),
  FIELD(midi_in_dropped, CSJ_STAT_U64),
  FIELD(midi_out_events, CSJ_STAT_U64),
  FIELD(midi_out_dropped, CSJ_STAT_U64),
  FIELD(events_late, CSJ_STAT_U64),
  FIELD(event_delay, CSJ_STAT_U32),
  FIELD(events_held, CSJ_STAT_U32),
  FIELD(events_overflow, CSJ_STAT_U64),
  FIELD(ring_used, CSJ_STAT_U32),
  FIELD(output_nonfinite, CSJ_STAT_U64),
  FIELD(freewheeling, CSJ_STAT_BOOL),
  FIELD(freewheel_ns, CSJ_STAT_U64),
  FIELD(freewheel_cycles, CSJ_STAT_U64),
  FIELD(freewheel_frames, CSJ_STAT_U64),
  FIELD(record_wait_ns, CSJ_STAT_U64),
  FIELD(transport_rolling, CSJ_STAT_BOOL),
  FIELD(transport_frame, CSJ_STAT_U32),
  FIELD(transport_locates, CSJ_STAT_U64),
  FIELD(transport_held_cycles, CSJ_STAT_U64),
  FIELD(timebase_master, CSJ_STAT_BOOL),
  FIELD(connections_restored, CSJ_STAT_U64),
  FIELD(connections, CSJ_STAT_U32),
  FIELD(reconnects, CSJ_STAT_U64),
  FIELD(server_connected, CSJ_STAT_BOOL),
  FIELD(event_cost_ns, CSJ_STAT_U64),
  FIELD(events_spread, CSJ_STAT_U64),
  FIELD(csound_workers, CSJ_STAT_U32),
  FIELD(barrier_wait_ns, CSJ_STAT_U64),
};

const CsjStatField *
csj_stats_fields(size_t *count)
{
  if (count) {
    *count = sizeof(fields) / sizeof(fields[0]);
  }
  return fields;
}

uint64_t
csj_stats_value(const CsjStats *stats, const CsjStatField *field)
{
  const char *at = (const char *)stats + field->offset;
  switch (field->type) {
  case CSJ_STAT_U64: {
    uint64_t v;
    memcpy(&v, at, sizeof(v));
    return v;
  }
  case CSJ_STAT_U32: {
    uint32_t v;
    memcpy(&v, at, sizeof(v));
    return v;
  }
  case CSJ_STAT_BOOL: {
    bool v;
    memcpy(&v, at, sizeof(v));
    return v ? 1 : 0;
  }
  }
  return 0;
}

size_t
csj_stats_format(const CsjStats *stats, char *out, size_t size)
{
  size_t used = 0;
  size_t count = 0;
  const CsjStatField *f = csj_stats_fields(&count);
  for (size_t i = 0; i < count; ++i) {
    const int n =
      snprintf(out ? out + (used < size ? used : size) : NULL, out && used < size ? size - used : 0,
               "%s%s=%" PRIu64, i ? " " : "", f[i].name, csj_stats_value(stats, &f[i]));
    if (n > 0) {
      used += (size_t)n;
    }
  }
  return used;
}
