/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Starting an engine for a test (test_engine_start.h). */

#include "test_engine_start.h"

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

void
test_engine_options(CsjOptions *o, const char *base, HarnessMessageLog *log)
{
  csj_options_init(o);
  o->client_name = harness_name(base);
  o->no_connect = true;
  o->message_fn = harness_message_collect;
  o->message_data = log;
}

CsjEngine *
test_engine_start(const CsjOptions *o, const char *orc, CsjEngine **slot, HarnessMessageLog *log)
{
  CsjEngine *e = NULL;
  CsjStatus st = csj_engine_create(o, &e);
  cr_assert(eq(int, st, CSJ_SUCCESS), "csj_engine_create('%s'): %s", o->client_name,
            csj_last_error(NULL));
  *slot = e;
  st = csj_engine_compile_orc_text(e, orc);
  cr_assert(eq(int, st, CSJ_SUCCESS), "compile: %s\n--- log:\n%s", csj_last_error(e), log->buf);
  st = csj_engine_start(e);
  cr_assert(eq(int, st, CSJ_SUCCESS), "start: %s\n--- log:\n%s", csj_last_error(e), log->buf);
  return e;
}
