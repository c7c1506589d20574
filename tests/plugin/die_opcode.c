/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A Csound plugin for the tests: `csj_test_die ktrigger` calls Csound's Die
 * at performance time when ktrigger is non-zero; `csj_test_die_i` at init time. Die longjmps, which is the
 * fatal-error path csjack must survive inside the JACK callback.
 */

#include <csound/csdl.h>

typedef struct {
  OPDS h;
  MYFLT *trigger;
} DieArgs;

static int
die_k(CSOUND *csound, DieArgs *p)
{
  if (*p->trigger != 0) {
    csound->Die(csound, "csjack test: fatal error requested at k-time");
  }
  return OK;
}

/* `csj_test_die_i itrigger`: the same at init time, so a merge's instr 0
 * (a queued or direct evalCode) dies while Csound holds its API lock. */
static int
die_i(CSOUND *csound, DieArgs *p)
{
  if (*p->trigger != 0) {
    csound->Die(csound, "csjack test: fatal error requested at init time");
  }
  return OK;
}

static OENTRY localops[] = {
  {"csj_test_die", sizeof(DieArgs), 0, 2, "", "k", NULL, (SUBR)die_k, NULL, NULL},
  {"csj_test_die_i", sizeof(DieArgs), 0, 1, "", "i", (SUBR)die_i, NULL, NULL, NULL},
};

LINKAGE
