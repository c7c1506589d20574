/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for Csound's UDP dialect parser (app/udp_protocol.c):
 * the input is a run of datagrams that go through one parser in order, so
 * blocks open, grow, overflow and close across them.
 *
 * Input: the first byte sets the block limit (16 + 64 * byte, so that
 * blocks overflow often); the rest is cut at each 0x1E byte (a control
 * character, which the parser rejects anyway) into datagrams.
 *
 * Besides the sanitizers, the contract in udp_protocol.h is checked and a
 * violation abort()s:
 *   - the kind is one of UdpKind;
 *   - text is set exactly for compile, score and string-channel actions,
 *     NUL-terminated, text_len long, with no NUL inside, and a compile's
 *     text is never longer than a datagram or the block limit;
 *   - channel actions carry a name of 1..UDP_MAX_NAME bytes without
 *     blanks; a control value is finite; a read has a port and a host;
 *   - malformed and dropped-block actions say why;
 *   - after a close, no block is open;
 *   - udp_action_free is idempotent.
 *
 * Each datagram also goes through the OSC decoder (app/osc_protocol.c,
 * liblo's message parser under it), whose actions are checked too: a kind
 * of OscKind; text for compile, event text and string channels; 1 to
 * OSC_MAX_PFIELDS finite p-fields for an instr event; a channel name of 1
 * to 255 bytes without '/'; a finite control value; a reason when
 * malformed.
 */
#include "osc_protocol.h"
#include "udp_protocol.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "fuzz_udp: check failed at %s:%d: %s\n", __FILE__, __LINE__, \
              #cond);                                                             \
      abort();                                                                    \
    }                                                                             \
  } while (0)

static void
check_action(const UdpParser *p, UdpAction *a)
{
  CHECK(a->kind >= UDP_NOTHING && a->kind <= UDP_BLOCK_DROPPED);
  CHECK(memchr(a->message, '\0', sizeof(a->message)) != NULL);
  const int has_text = a->kind == UDP_COMPILE || a->kind == UDP_SCORE ||
                       a->kind == UDP_SET_STRING;
  CHECK(has_text == (a->text != NULL));
  if (a->text) {
    CHECK(strlen(a->text) == a->text_len);
  }
  if (a->kind == UDP_COMPILE) {
    CHECK(a->text_len > 0);
    CHECK(a->text_len <= UDP_MAX_DATAGRAM || a->text_len <= p->max_block);
  }
  if (a->kind == UDP_SCORE) {
    CHECK(a->prefix == '$' || a->prefix == '&');
  }
  if (a->kind == UDP_SET_CONTROL || a->kind == UDP_SET_STRING || a->kind == UDP_GET_CONTROL ||
      a->kind == UDP_GET_STRING) {
    const size_t n = strnlen(a->name, sizeof(a->name));
    CHECK(n >= 1 && n <= UDP_MAX_NAME);
    CHECK(strpbrk(a->name, " \t\n\r\f\v") == NULL);
  }
  if (a->kind == UDP_SET_CONTROL) {
    CHECK(isfinite(a->value));
  }
  if (a->kind == UDP_GET_CONTROL || a->kind == UDP_GET_STRING) {
    CHECK(a->port != 0);
    CHECK(a->host[0] != '\0');
  }
  if (a->kind == UDP_MALFORMED || a->kind == UDP_BLOCK_DROPPED) {
    CHECK(a->message[0] != '\0');
  }
  if (a->kind == UDP_CLOSE) {
    CHECK(!udp_parser_block_open(p));
  }
  udp_action_free(a);
  udp_action_free(a);
  CHECK(a->text == NULL);
}

static void
check_osc(void *data, const OscAction *a)
{
  (void)data;
  CHECK(a->kind >= OSC_COMPILE && a->kind <= OSC_MALFORMED);
  CHECK(memchr(a->message, '\0', sizeof(a->message)) != NULL);
  switch (a->kind) {
  case OSC_COMPILE:
  case OSC_EVENT_TEXT: CHECK(a->text != NULL); (void)strlen(a->text); break;
  case OSC_EVENT_INSTR:
    CHECK(a->count >= 1 && a->count <= OSC_MAX_PFIELDS && a->pfields != NULL);
    for (int i = 0; i < a->count; ++i) {
      CHECK(isfinite(a->pfields[i]));
    }
    break;
  case OSC_SET_CONTROL:
  case OSC_SET_STRING: {
    CHECK(a->name != NULL);
    const size_t n = strlen(a->name);
    CHECK(n >= 1 && n <= 255 && strchr(a->name, '/') == NULL);
    if (a->kind == OSC_SET_CONTROL) {
      CHECK(isfinite(a->value));
    } else {
      CHECK(a->text != NULL);
      (void)strlen(a->text);
    }
    break;
  }
  case OSC_MALFORMED: CHECK(a->message[0] != '\0'); break;
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0) {
    return 0;
  }
  UdpParser p;
  udp_parser_init(&p, 16 + 64 * (size_t)data[0]);
  const char *s = (const char *)data + 1;
  const char *end = (const char *)data + size;
  while (s <= end) {
    const char *cut = memchr(s, 0x1E, (size_t)(end - s));
    const char *stop = cut ? cut : end;
    UdpAction a = udp_parse_datagram(&p, s, (size_t)(stop - s));
    check_action(&p, &a);
    osc_decode(s, (size_t)(stop - s), check_osc, NULL);
    s = stop + 1;
  }
  udp_parser_free(&p);
  CHECK(!udp_parser_block_open(&p));
  return 0;
}
