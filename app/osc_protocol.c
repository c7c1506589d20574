/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* csjack's OSC address space, decoded: see osc_protocol.h. */

#include "osc_protocol.h"

#include <lo/lo.h>

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTP_UNIX_OFFSET 2208988800.0

double
osc_timetag_to_unix(uint64_t timetag)
{
  const double seconds = (double)(uint32_t)(timetag >> 32);
  const double fraction = (double)(uint32_t)timetag / 4294967296.0;
  return seconds - NTP_UNIX_OFFSET + fraction;
}

static uint32_t
be32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void __attribute__((format(printf, 4, 5)))
bad(OscActionFn fn, void *data, uint64_t timetag, const char *fmt, ...)
{
  OscAction a;
  memset(&a, 0, sizeof(a));
  a.kind = OSC_MALFORMED;
  a.timetag = timetag;
  va_list args;
  va_start(args, fmt);
  vsnprintf(a.message, sizeof(a.message), fmt, args);
  va_end(args);
  fn(data, &a);
}

/* liblo's argument pointers are 4-byte aligned inside its buffer, and
 * lo_arg is a union with 8-byte members: read them with memcpy, never
 * through the union. */
static bool
numeric(char type, const lo_arg *arg, double *out)
{
  switch (type) {
  case LO_INT32: {
    int32_t v;
    memcpy(&v, arg, sizeof(v));
    *out = v;
    return true;
  }
  case LO_FLOAT: {
    float v;
    memcpy(&v, arg, sizeof(v));
    *out = v;
    return true;
  }
  case LO_DOUBLE: {
    double v;
    memcpy(&v, arg, sizeof(v));
    *out = v;
    return true;
  }
  case LO_INT64: {
    int64_t v;
    memcpy(&v, arg, sizeof(v));
    *out = (double)v;
    return true;
  }
  default: return false;
  }
}

static void
decode_message(const unsigned char *p, size_t n, uint64_t timetag, OscActionFn fn, void *data)
{
  int result = 0;
  lo_message m = lo_message_deserialise((void *)p, n, &result);
  if (!m) {
    bad(fn, data, timetag, "not a valid OSC message (liblo error %d)", result);
    return;
  }
  /* The address is the packet's first string, valid now that liblo
   * accepted the message. */
  const char *path = (const char *)p;
  const char *types = lo_message_get_types(m);
  lo_arg **argv = lo_message_get_argv(m);
  const int argc = lo_message_get_argc(m);
  OscAction a;
  memset(&a, 0, sizeof(a));
  a.timetag = timetag;
  static const char channel[] = "/csound/channel/";
  if (strcmp(path, "/csound/compile") == 0 || strcmp(path, "/csound/event") == 0) {
    const bool compile = path[8] == 'c';
    if (argc != 1 || types[0] != LO_STRING) {
      bad(fn, data, timetag, "%s takes one string (type tag 's'), not '%s'", path, types);
    } else {
      a.kind = compile ? OSC_COMPILE : OSC_EVENT_TEXT;
      a.text = (const char *)argv[0];
      fn(data, &a);
    }
  } else if (strcmp(path, "/csound/event/instr") == 0) {
    if (argc < 1 || argc > OSC_MAX_PFIELDS) {
      bad(fn, data, timetag, "/csound/event/instr takes 1 to %d numbers (p1 p2 p3 ...), not %d",
          OSC_MAX_PFIELDS, argc);
    } else {
      double *pf = malloc((size_t)argc * sizeof(double));
      int i = 0;
      for (; pf && i < argc; ++i) {
        if (!numeric(types[i], argv[i], &pf[i]) || !isfinite(pf[i])) {
          break;
        }
      }
      if (!pf) {
        bad(fn, data, timetag, "out of memory");
      } else if (i < argc) {
        bad(fn, data, timetag,
            "/csound/event/instr takes finite numbers (i, f, d, h); p%d is of type '%c'", i + 1,
            types[i]);
      } else {
        a.kind = OSC_EVENT_INSTR;
        a.pfields = pf;
        a.count = argc;
        fn(data, &a);
      }
      free(pf);
    }
  } else if (strncmp(path, channel, sizeof(channel) - 1) == 0) {
    const char *name = path + sizeof(channel) - 1;
    const size_t len = strlen(name);
    if (len == 0 || len > 255 || strchr(name, '/')) {
      bad(fn, data, timetag, "/csound/channel/NAME: NAME must be 1 to 255 bytes without '/'");
    } else if (argc != 1) {
      bad(fn, data, timetag, "%s takes one value, not %d", path, argc);
    } else if (types[0] == LO_STRING) {
      a.kind = OSC_SET_STRING;
      a.name = name;
      a.text = (const char *)argv[0];
      fn(data, &a);
    } else if (numeric(types[0], argv[0], &a.value) && isfinite(a.value)) {
      a.kind = OSC_SET_CONTROL;
      a.name = name;
      fn(data, &a);
    } else {
      bad(fn, data, timetag, "%s takes a finite number (i, f, d, h) or a string (s)", path);
    }
  } else {
    bad(fn, data, timetag,
        "unknown OSC address '%.100s' (csjack takes /csound/compile, "
        "/csound/event, /csound/event/instr, /csound/channel/NAME)",
        path);
  }
  lo_message_free(m);
}

static void
decode(const unsigned char *p, size_t n, uint64_t timetag, int depth, OscActionFn fn, void *data)
{
  if (n >= 8 && memcmp(p, "#bundle", 8) == 0) {
    if (depth >= OSC_MAX_DEPTH) {
      bad(fn, data, timetag, "OSC bundles nested more than %d deep", OSC_MAX_DEPTH);
      return;
    }
    if (n < 16) {
      bad(fn, data, timetag, "an OSC bundle of %zu bytes has no timetag", n);
      return;
    }
    const uint64_t tt = (uint64_t)be32(p + 8) << 32 | be32(p + 12);
    size_t off = 16;
    while (off < n) {
      if (n - off < 4) {
        bad(fn, data, tt, "an OSC bundle ends inside an element's size");
        return;
      }
      const uint32_t size = be32(p + off);
      off += 4;
      if (size == 0 || size % 4 != 0 || size > n - off) {
        bad(fn, data, tt,
            "an OSC bundle element of %u bytes (%zu left; a size is a non-zero "
            "multiple of 4)",
            size, n - off);
        return;
      }
      decode(p + off, size, tt, depth + 1, fn, data);
      off += size;
    }
    return;
  }
  if (n == 0 || p[0] != '/') {
    bad(fn, data, timetag,
        "not an OSC message or bundle (it must start with '/' or "
        "'#bundle')");
    return;
  }
  decode_message(p, n, timetag, fn, data);
}

void
osc_decode(const void *packet, size_t len, OscActionFn fn, void *data)
{
  decode(packet, len, OSC_TIMETAG_IMMEDIATE, 0, fn, data);
}
