/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Csound's UDP live-coding dialect, parsed: see udp_protocol.h. */

#include "udp_protocol.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init(void)
{
  g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static double
strtod_c(const char *s, char **end)
{
  pthread_once(&g_c_locale_once, c_locale_init);
  return g_c_locale ? strtod_l(s, end, g_c_locale) : strtod(s, end);
}

void
udp_parser_init(UdpParser *p, size_t max_block)
{
  memset(p, 0, sizeof(*p));
  p->max_block = max_block ? max_block : UDP_MAX_BLOCK;
}

static void
block_reset(UdpParser *p)
{
  free(p->buf);
  p->buf = NULL;
  p->len = 0;
  p->cap = 0;
  p->skipped = 0;
  p->open = false;
  p->doubled = false;
  p->dropping = false;
}

void
udp_parser_free(UdpParser *p)
{
  block_reset(p);
}

bool
udp_parser_block_open(const UdpParser *p)
{
  return p->open;
}

void
udp_action_free(UdpAction *a)
{
  free(a->text);
  a->text = NULL;
  a->text_len = 0;
}

static void __attribute__((format(printf, 2, 3))) say(UdpAction *a, const char *fmt, ...)
{
  va_list args;
  va_start(args, fmt);
  vsnprintf(a->message, sizeof(a->message), fmt, args);
  va_end(args);
}

static UdpAction __attribute__((format(printf, 2, 3))) malformed(UdpAction a, const char *fmt, ...)
{
  a.kind = UDP_MALFORMED;
  udp_action_free(&a);
  va_list args;
  va_start(args, fmt);
  vsnprintf(a.message, sizeof(a.message), fmt, args);
  va_end(args);
  return a;
}

static bool
is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_blank(const char *s, size_t n)
{
  for (size_t i = 0; i < n; ++i) {
    if (!is_space(s[i])) {
      return false;
    }
  }
  return true;
}

/* "" when the bytes are acceptable text; else why not, into @p why. */
static bool
check_text(const char *data, size_t len, char *why, size_t why_size)
{
  const unsigned char *u = (const unsigned char *)data;
  for (size_t i = 0; i < len;) {
    const unsigned char b = u[i];
    if (b == 0) {
      snprintf(why, why_size, "a NUL byte inside the datagram (offset %zu)", i);
      return false;
    }
    if ((b < 0x20 && !is_space((char)b)) || b == 0x7F) {
      snprintf(why, why_size, "control character 0x%02X at offset %zu", b, i);
      return false;
    }
    const size_t k = utf8_seq_len(u + i, len - i);
    if (k == 0) {
      snprintf(why, why_size, "bytes that are not UTF-8 at offset %zu", i);
      return false;
    }
    i += k;
  }
  return true;
}

static char *
dup_range(const char *s, size_t n)
{
  char *out = malloc(n + 1);
  if (out) {
    memcpy(out, s, n);
    out[n] = '\0';
  }
  return out;
}

/* The next whitespace-separated token of [*at, end): its start and length,
 * *at moved past it. Length 0 at the end. */
static size_t
token(const char **at, const char *end, const char **start)
{
  const char *s = *at;
  while (s < end && is_space(*s)) {
    ++s;
  }
  *start = s;
  while (s < end && !is_space(*s)) {
    ++s;
  }
  *at = s;
  return (size_t)(s - *start);
}

static bool
take_name(UdpAction *a, const char **at, const char *end)
{
  const char *name;
  const size_t n = token(at, end, &name);
  if (n == 0 || n > UDP_MAX_NAME) {
    return false;
  }
  memcpy(a->name, name, n);
  a->name[n] = '\0';
  return true;
}

static UdpAction
parse_set_control(UdpAction a, const char *data, size_t len)
{
  const char *at = data + 1;
  const char *end = data + len;
  if (!take_name(&a, &at, end)) {
    return malformed(a, "'@NAME VALUE': no channel name, or one over %d bytes", UDP_MAX_NAME);
  }
  const char *value;
  const size_t n = token(&at, end, &value);
  const char *extra;
  if (n == 0 || n > 64 || token(&at, end, &extra) != 0) {
    return malformed(a, "'@%s VALUE': VALUE must be one number", a.name);
  }
  char copy[65];
  memcpy(copy, value, n);
  copy[n] = '\0';
  char *stop = NULL;
  const double v = strtod_c(copy, &stop);
  if (!stop || *stop != '\0') {
    return malformed(a, "'@%s VALUE': '%s' is not a number", a.name, copy);
  }
  if (!isfinite(v)) {
    return malformed(a, "'@%s VALUE': %s is not a finite number", a.name, copy);
  }
  a.kind = UDP_SET_CONTROL;
  a.value = v;
  return a;
}

static UdpAction
parse_set_string(UdpAction a, const char *data, size_t len)
{
  const char *at = data + 1;
  const char *end = data + len;
  if (!take_name(&a, &at, end)) {
    return malformed(a, "'%%NAME TEXT': no channel name, or one over %d bytes", UDP_MAX_NAME);
  }
  while (at < end && (*at == ' ' || *at == '\t')) {
    ++at;
  }
  size_t n = (size_t)(end - at);
  if (n > 0 && at[n - 1] == '\n') {
    --n;
    if (n > 0 && at[n - 1] == '\r') {
      --n;
    }
  }
  a.text = dup_range(at, n);
  if (!a.text) {
    return malformed(a, "out of memory");
  }
  a.text_len = n;
  a.kind = UDP_SET_STRING;
  return a;
}

static UdpAction
parse_get(UdpAction a, const char *data, size_t len)
{
  const char kind = len > 1 ? data[1] : '\0';
  if (kind != '@' && kind != '%') {
    return malformed(a, "':' must be followed by @ (control channel) or %% (string channel)");
  }
  const char *at = data + 2;
  const char *end = data + len;
  if (!take_name(&a, &at, end)) {
    return malformed(a, "':%cNAME HOST PORT': no channel name, or one over %d bytes", kind,
                     UDP_MAX_NAME);
  }
  const char *host;
  const size_t host_len = token(&at, end, &host);
  const char *port;
  const size_t port_len = token(&at, end, &port);
  const char *extra;
  if (host_len == 0 || port_len == 0 || token(&at, end, &extra) != 0) {
    return malformed(a, "':%c%s HOST PORT': give the host and port to reply to", kind, a.name);
  }
  if (host_len == 9 && memcmp(host, "localhost", 9) == 0) {
    memcpy(a.host, "127.0.0.1", 10);
  } else {
    char copy[16];
    struct in_addr addr;
    if (host_len >= sizeof(copy)) {
      return malformed(a,
                       "':%c%s HOST PORT': HOST must be an IPv4 address (a.b.c.d) or "
                       "localhost",
                       kind, a.name);
    }
    memcpy(copy, host, host_len);
    copy[host_len] = '\0';
    if (inet_pton(AF_INET, copy, &addr) != 1) {
      return malformed(a,
                       "':%c%s HOST PORT': '%s' is not an IPv4 address (a.b.c.d) or "
                       "localhost",
                       kind, a.name, copy);
    }
    memcpy(a.host, copy, host_len + 1);
  }
  unsigned long p = 0;
  for (size_t i = 0; i < port_len; ++i) {
    if (port[i] < '0' || port[i] > '9' || p > 65535) {
      p = 0;
      break;
    }
    p = p * 10 + (unsigned long)(port[i] - '0');
  }
  if (p == 0 || p > 65535) {
    return malformed(a, "':%c%s HOST PORT': PORT must be a number from 1 to 65535", kind, a.name);
  }
  a.port = (uint16_t)p;
  a.kind = kind == '@' ? UDP_GET_CONTROL : UDP_GET_STRING;
  return a;
}

/* Appends @p n bytes to the open block, or starts dropping it when it would
 * grow over the limit; true when it was dropped just now. */
static bool
block_append(UdpParser *p, const char *s, size_t n, bool *no_memory)
{
  if (p->dropping) {
    p->skipped += n;
    return false;
  }
  if (n > p->max_block - p->len) {
    p->skipped = p->len + n;
    free(p->buf);
    p->buf = NULL;
    p->len = 0;
    p->cap = 0;
    p->dropping = true;
    return true;
  }
  if (p->len + n + 1 > p->cap) {
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + n + 1) {
      cap *= 2;
    }
    char *buf = realloc(p->buf, cap);
    if (!buf) {
      *no_memory = true;
      return false;
    }
    p->buf = buf;
    p->cap = cap;
  }
  memcpy(p->buf + p->len, s, n);
  p->len += n;
  p->buf[p->len] = '\0';
  return false;
}

static UdpAction
parse_block(UdpParser *p, UdpAction a, const char *data, size_t len)
{
  size_t start = 0;
  char before_first = p->len ? p->buf[p->len - 1] : '\0';
  if (!p->open) {
    block_reset(p);
    p->open = true;
    p->doubled = len >= 2 && data[1] == '{';
    start = p->doubled ? 2 : 1;
    before_first = '{';
  }
  const char *d = data + start;
  const size_t n = len - start;
  bool closes = false;
  size_t body = n;
  bool trailing = false;
  if (p->doubled) {
    size_t e = n;
    while (e > 0 && is_space(d[e - 1])) {
      --e;
    }
    if (e >= 2 && d[e - 1] == '}' && d[e - 2] == '}') {
      closes = true;
      body = e - 2;
    }
  } else {
    const char *cp = n ? memrchr(d, '}', n) : NULL;
    if (cp) {
      const char before = cp > d ? cp[-1] : before_first;
      if (before != '}') {
        closes = true;
        body = (size_t)(cp - d);
        trailing = !is_blank(cp + 1, (size_t)(d + n - cp - 1));
      }
    }
  }
  const bool was_dropping = p->dropping;
  bool no_memory = false;
  const bool dropped_now = block_append(p, d, body, &no_memory);
  if (no_memory) {
    block_reset(p);
    return malformed(a, "out of memory: the open block is dropped");
  }
  if (!closes) {
    /* Keep the bytes after the last '}' too: the block goes on. */
    if (dropped_now) {
      a.kind = UDP_BLOCK_DROPPED;
      say(&a,
          "a { } block over %zu bytes: dropped; the datagrams up to its closing } are "
          "skipped",
          p->max_block);
    }
    return a;
  }
  const size_t skipped = p->skipped;
  if (dropped_now || was_dropping) {
    block_reset(p);
    if (dropped_now) {
      a.kind = UDP_BLOCK_DROPPED;
      say(&a, "a { } block of %zu bytes is over the limit of %zu: dropped", skipped,
          (size_t)p->max_block);
    } else {
      say(&a, "the end of a dropped block (%zu bytes skipped)", skipped);
    }
    return a;
  }
  if (p->len == 0 || is_blank(p->buf, p->len)) {
    block_reset(p);
    say(&a, "an empty { } block");
    return a;
  }
  a.kind = UDP_COMPILE;
  a.text = p->buf;
  a.text_len = p->len;
  p->buf = NULL;
  block_reset(p);
  if (trailing) {
    say(&a, "text after the block's closing } is ignored");
  }
  return a;
}

UdpAction
udp_parse_datagram(UdpParser *p, const char *data, size_t len)
{
  UdpAction a;
  memset(&a, 0, sizeof(a));
  a.kind = UDP_NOTHING;
  while (len > 0 && data[len - 1] == '\0') {
    --len; /* Csound's own senders end with a NUL (strlen + 1) */
  }
  if (len > UDP_MAX_DATAGRAM) {
    return malformed(a, "datagram too long (%zu bytes, max %d)", len, UDP_MAX_DATAGRAM);
  }
  char why[96];
  if (!check_text(data, len, why, sizeof(why))) {
    return malformed(a, "%s", why);
  }
  if (is_blank(data, len)) {
    if (p->open && len > 0) {
      bool no_memory = false;
      if (block_append(p, data, len, &no_memory)) {
        a.kind = UDP_BLOCK_DROPPED;
        say(&a,
            "a { } block over %zu bytes: dropped; the datagrams up to its closing } are "
            "skipped",
            p->max_block);
      } else if (no_memory) {
        block_reset(p);
        return malformed(a, "out of memory: the open block is dropped");
      }
    }
    return a;
  }
  if (len >= 9 && (memcmp(data, "!!close!!", 9) == 0 || memcmp(data, "##close##", 9) == 0)) {
    if (p->open) {
      say(&a, "the open { } block (%zu bytes) is discarded", p->dropping ? p->skipped : p->len);
      block_reset(p);
    }
    a.kind = UDP_CLOSE;
    return a;
  }
  switch (data[0]) {
  case '$':
  case '&':
    if (is_blank(data + 1, len - 1)) {
      return malformed(a, "no score text after '%c'", data[0]);
    }
    a.text = dup_range(data + 1, len - 1);
    if (!a.text) {
      return malformed(a, "out of memory");
    }
    a.text_len = len - 1;
    a.prefix = data[0];
    a.kind = UDP_SCORE;
    return a;
  case '@': return parse_set_control(a, data, len);
  case '%': return parse_set_string(a, data, len);
  case ':': return parse_get(a, data, len);
  default: break;
  }
  if (p->open || data[0] == '{') {
    return parse_block(p, a, data, len);
  }
  a.text = dup_range(data, len);
  if (!a.text) {
    return malformed(a, "out of memory");
  }
  a.text_len = len;
  a.kind = UDP_COMPILE;
  return a;
}
