/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the UDP dialect's parser (no JACK, no Csound, no socket). */

#include "udp_protocol.h"

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdlib.h>
#include <string.h>

static UdpParser parser;
static UdpAction last;

static void
setup(void)
{
  udp_parser_init(&parser, 0);
  memset(&last, 0, sizeof(last));
}

static void
teardown(void)
{
  udp_action_free(&last);
  udp_parser_free(&parser);
}

TestSuite(udp_protocol, .init = setup, .fini = teardown);

/* Parses a datagram of @p len bytes (the string's length when -1). */
static const UdpAction *
feed_n(const char *data, long len)
{
  udp_action_free(&last);
  last = udp_parse_datagram(&parser, data, len < 0 ? strlen(data) : (size_t)len);
  return &last;
}

static const UdpAction *
feed(const char *data)
{
  return feed_n(data, -1);
}

Test(udp_protocol, raw_text_compiles_verbatim)
{
  const UdpAction *a = feed("instr 1\n out oscili(0.1, 440)\nendin\n");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, "instr 1\n out oscili(0.1, 440)\nendin\n"));
  cr_assert(eq(sz, a->text_len, strlen(a->text)));
}

Test(udp_protocol, trailing_nuls_are_dropped_inner_nul_is_malformed)
{
  const UdpAction *a = feed_n("giA = 1\0\0", 9);
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, "giA = 1"));
  a = feed_n("giA = 1\0giB = 2", 15);
  cr_assert(eq(int, a->kind, UDP_MALFORMED));
  cr_assert(a->text == NULL);
  cr_assert(strstr(a->message, "NUL") != NULL, "%s", a->message);
}

Test(udp_protocol, binary_and_bad_utf8_are_malformed)
{
  cr_assert(eq(int, feed("ab\x01" "cd")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("caf\xc3")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("\xff\xfe")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("; caf\xc3\xa9\n")->kind, UDP_COMPILE));
  cr_assert(eq(int, feed("a\tb\r\n")->kind, UDP_COMPILE));
}

Test(udp_protocol, blank_datagrams_do_nothing)
{
  cr_assert(eq(int, feed("")->kind, UDP_NOTHING));
  cr_assert(eq(int, feed(" \n\t")->kind, UDP_NOTHING));
  cr_assert(eq(int, feed_n("\0", 1)->kind, UDP_NOTHING));
}

Test(udp_protocol, score_prefixes)
{
  const UdpAction *a = feed("$i 1 0 1\ni 1 1 1\n");
  cr_assert(eq(int, a->kind, UDP_SCORE));
  cr_assert(eq(chr, a->prefix, '$'));
  cr_assert(eq(str, a->text, "i 1 0 1\ni 1 1 1\n"));
  a = feed("&i 2 0 0.5 440");
  cr_assert(eq(int, a->kind, UDP_SCORE));
  cr_assert(eq(chr, a->prefix, '&'));
  cr_assert(eq(str, a->text, "i 2 0 0.5 440"));
  cr_assert(eq(int, feed("$")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("&  \n")->kind, UDP_MALFORMED));
}

Test(udp_protocol, control_channel)
{
  const UdpAction *a = feed("@amp 0.25");
  cr_assert(eq(int, a->kind, UDP_SET_CONTROL));
  cr_assert(eq(str, (char *)a->name, "amp"));
  cr_assert(eq(dbl, a->value, 0.25));
  a = feed("@ freq\t-440.5\n");
  cr_assert(eq(int, a->kind, UDP_SET_CONTROL));
  cr_assert(eq(str, (char *)a->name, "freq"));
  cr_assert(eq(dbl, a->value, -440.5));
  cr_assert(eq(int, feed("@amp")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("@")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("@amp loud")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("@amp 1 2")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("@amp nan")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("@amp inf")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed("@amp 1e999")->kind, UDP_MALFORMED));
  char longname[400];
  memset(longname, 'n', sizeof(longname));
  longname[0] = '@';
  memcpy(longname + sizeof(longname) - 3, " 1", 3);
  cr_assert(eq(int, feed(longname)->kind, UDP_MALFORMED));
}

Test(udp_protocol, string_channel)
{
  const UdpAction *a = feed("%title hello, world\n");
  cr_assert(eq(int, a->kind, UDP_SET_STRING));
  cr_assert(eq(str, (char *)a->name, "title"));
  cr_assert(eq(str, a->text, "hello, world"));
  a = feed("%title");
  cr_assert(eq(int, a->kind, UDP_SET_STRING));
  cr_assert(eq(str, a->text, ""));
  a = feed("%t  two\nlines\r\n");
  cr_assert(eq(str, a->text, "two\nlines"));
  cr_assert(eq(int, feed("%")->kind, UDP_MALFORMED));
}

Test(udp_protocol, channel_reads)
{
  const UdpAction *a = feed(":@amp 127.0.0.1 9999");
  cr_assert(eq(int, a->kind, UDP_GET_CONTROL));
  cr_assert(eq(str, (char *)a->name, "amp"));
  cr_assert(eq(str, (char *)a->host, "127.0.0.1"));
  cr_assert(eq(u16, a->port, 9999));
  a = feed(":%title localhost 1\n");
  cr_assert(eq(int, a->kind, UDP_GET_STRING));
  cr_assert(eq(str, (char *)a->host, "127.0.0.1"));
  cr_assert(eq(u16, a->port, 1));
  cr_assert(eq(int, feed(":")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed(":xamp 127.0.0.1 9")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed(":@amp 127.0.0.1")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed(":@amp 127.0.0.1 0")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed(":@amp 127.0.0.1 65536")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed(":@amp 127.0.0.1 99999999999999999999")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed(":@amp 1.2.3 9")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed(":@amp example.org 9")->kind, UDP_MALFORMED));
  cr_assert(eq(int, feed(":@amp 127.0.0.1 9 extra")->kind, UDP_MALFORMED));
}

Test(udp_protocol, close_commands)
{
  cr_assert(eq(int, feed("!!close!!")->kind, UDP_CLOSE));
  cr_assert(eq(int, feed_n("##close##\0", 10)->kind, UDP_CLOSE));
  cr_assert(eq(int, feed("##close##\n")->kind, UDP_CLOSE));
  cr_assert(eq(int, feed("!!close")->kind, UDP_COMPILE));
}

Test(udp_protocol, block_across_datagrams)
{
  cr_assert(eq(int, feed("{")->kind, UDP_NOTHING));
  cr_assert(udp_parser_block_open(&parser));
  cr_assert(eq(int, feed("instr 1\n")->kind, UDP_NOTHING));
  cr_assert(eq(int, feed("  out oscili(0.1, 440)\n")->kind, UDP_NOTHING));
  const UdpAction *a = feed("endin\n}\n");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, "instr 1\n  out oscili(0.1, 440)\nendin\n"));
  cr_assert(not(udp_parser_block_open(&parser)));
  cr_assert(eq(str, (char *)a->message, ""));
}

Test(udp_protocol, block_in_one_datagram)
{
  const UdpAction *a = feed("{instr 1\nendin}");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, "instr 1\nendin"));
  a = feed("{}");
  cr_assert(eq(int, a->kind, UDP_NOTHING));
  cr_assert(not(udp_parser_block_open(&parser)));
}

/* Csound's rule: a last '}' right after another '}' (the end of a {{ }}
 * string) does not close the block. */
Test(udp_protocol, double_brace_string_inside_a_block_does_not_close_it)
{
  cr_assert(eq(int, feed("{\ninstr 1\nprints {{hi}}")->kind, UDP_NOTHING));
  cr_assert(udp_parser_block_open(&parser));
  const UdpAction *a = feed("\nendin\n}");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, "\ninstr 1\nprints {{hi}}\nendin\n"));
}

Test(udp_protocol, double_brace_block)
{
  cr_assert(eq(int, feed("{{")->kind, UDP_NOTHING));
  cr_assert(eq(int, feed("instr 2\n  Sa = {{a}} ; a string\n")->kind, UDP_NOTHING));
  cr_assert(eq(int, feed("  out 0\n")->kind, UDP_NOTHING));
  const UdpAction *a = feed("endin\n}}\n");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, "instr 2\n  Sa = {{a}} ; a string\n  out 0\nendin\n"));
  a = feed("{{ giX = 3 }}");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, " giX = 3 "));
}

Test(udp_protocol, commands_act_inside_an_open_block)
{
  cr_assert(eq(int, feed("{instr 3\n")->kind, UDP_NOTHING));
  const UdpAction *a = feed("$i 3 0 1");
  cr_assert(eq(int, a->kind, UDP_SCORE));
  a = feed("@amp 1");
  cr_assert(eq(int, a->kind, UDP_SET_CONTROL));
  cr_assert(eq(int, feed("bad\x01")->kind, UDP_MALFORMED));
  cr_assert(udp_parser_block_open(&parser));
  a = feed("endin}");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, "instr 3\nendin"));
}

Test(udp_protocol, close_discards_an_open_block)
{
  feed("{instr 4\n");
  const UdpAction *a = feed("!!close!!");
  cr_assert(eq(int, a->kind, UDP_CLOSE));
  cr_assert(strstr(a->message, "discarded") != NULL, "%s", a->message);
  cr_assert(not(udp_parser_block_open(&parser)));
}

Test(udp_protocol, text_after_the_closing_brace_is_ignored_with_a_notice)
{
  const UdpAction *a = feed("{giA = 1} giB = 2");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  cr_assert(eq(str, a->text, "giA = 1"));
  cr_assert(strstr(a->message, "ignored") != NULL);
}

Test(udp_protocol, a_block_over_the_limit_is_dropped_and_skipped_to_its_end)
{
  udp_parser_free(&parser);
  udp_parser_init(&parser, 16);
  cr_assert(eq(int, feed("{0123456789")->kind, UDP_NOTHING));
  const UdpAction *a = feed("0123456789");
  cr_assert(eq(int, a->kind, UDP_BLOCK_DROPPED));
  cr_assert(eq(int, feed("more text")->kind, UDP_NOTHING));
  a = feed("endin }");
  cr_assert(eq(int, a->kind, UDP_NOTHING));
  cr_assert(strstr(a->message, "dropped block") != NULL, "%s", a->message);
  cr_assert(not(udp_parser_block_open(&parser)));
  a = feed("giC = 1");
  cr_assert(eq(int, a->kind, UDP_COMPILE));
  a = feed("{0123456789abcdefghij}");
  cr_assert(eq(int, a->kind, UDP_BLOCK_DROPPED));
  cr_assert(not(udp_parser_block_open(&parser)));
}

Test(udp_protocol, oversized_datagram_is_malformed)
{
  const size_t n = UDP_MAX_DATAGRAM + 1;
  char *big = malloc(n);
  cr_assert(big != NULL);
  memset(big, 'x', n);
  const UdpAction *a = feed_n(big, (long)n);
  free(big);
  cr_assert(eq(int, a->kind, UDP_MALFORMED));
}
