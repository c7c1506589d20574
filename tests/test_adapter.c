/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of Csound traps the adapter handles (Csound, no JACK). */

#include "csound_adapter.h"

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <math.h>
#include <stdarg.h>

static void
ignore(void *data, int attr, const char *fmt, va_list args)
{
  (void)data;
  (void)attr;
  (void)fmt;
  (void)args;
}

/* Csound 6.18 keeps a failed parse's error count until the next parse, and
 * csoundCompileTree refuses any tree while it is set: a staged compile
 * parsed before a failed :eval then failed at its merge, with no message.
 * The adapter resets the count after a failed parse. */
Test(adapter, a_failed_parse_does_not_spoil_a_tree_parsed_before)
{
  CsoundAdapter *cs = csound_adapter_new(ignore, NULL);
  cr_assert(cs != NULL);
  cr_assert(eq(int, csound_adapter_set_option(cs, "-n"), 0));
  cr_assert(eq(int, csound_adapter_compile_orc(cs, "sr = 48000\nksmps = 32\nnchnls = 1\n"
                                                        "0dbfs = 1\n"), 0));
  cr_assert(eq(int, csound_adapter_start(cs), 0));
  void *before = csound_adapter_parse(cs, "giA = 21\n");
  cr_assert(before != NULL);
  cr_assert(csound_adapter_parse(cs, "giB = giNowhere\n") == NULL);
  double retval = NAN;
  cr_expect(eq(int, csound_adapter_compile_tree(cs, before, &retval), 0));
  csound_adapter_free_tree(cs, before);
  int result = -1;
  csound_adapter_eval_code(cs, "return giA", &result);
  cr_expect(eq(int, result, 0), "giA was not merged");
  csound_adapter_free(cs);
}

/* A task gets Csound's own handle; the adapter is found again from it,
 * and its score time moves by ksmps / sr per block. */
Test(adapter, the_handle_leads_back_to_the_adapter)
{
  CsoundAdapter *cs = csound_adapter_new(ignore, NULL);
  cr_assert(cs != NULL);
  cr_assert(csound_adapter_from_handle(csound_adapter_handle(cs)) == cs);
  cr_assert(csound_adapter_from_handle(NULL) == NULL);
  cr_assert(eq(int, csound_adapter_set_option(cs, "-n"), 0));
  cr_assert(eq(int, csound_adapter_compile_orc(cs, "sr = 48000\nksmps = 32\nnchnls = 1\n"
                                                        "0dbfs = 1\n"), 0));
  cr_assert(eq(int, csound_adapter_start(cs), 0));
  const double before = csound_adapter_score_time(cs);
  cr_assert(eq(int, csound_adapter_perform_block(cs), CSOUND_BLOCK_OK));
  cr_expect(epsilon_eq(dbl, csound_adapter_score_time(cs) - before, 32.0 / 48000.0, 1e-9));
  csound_adapter_free(cs);
}
