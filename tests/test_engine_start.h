/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting an engine for a test, the one way the library tests do it: on
 * the harness's private server, connected to nothing, Csound's messages
 * collected into a log that every failed step prints.
 */

#ifndef CSJ_TEST_ENGINE_START_H
#define CSJ_TEST_ENGINE_START_H

#include "csjack.h"
#include "jack_harness.h"

/* Options for a test engine named after @p base (harness_name), connected
 * to nothing, its messages into @p log. Change what a test needs, then
 * test_engine_start. */
void test_engine_options(CsjOptions *o, const char *base, HarnessMessageLog *log);

/* Creates the engine of @p o (into *slot at once, so that the test's
 * teardown destroys it whatever fails next), compiles @p orc and starts
 * it, asserting each step. */
CsjEngine *test_engine_start(const CsjOptions *o, const char *orc, CsjEngine **slot,
                             HarnessMessageLog *log);

#endif
