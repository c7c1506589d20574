/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The table of systems under test, in the order they run and are reported
 * (the JSON's "systems" object and the table's rows). A new system is a
 * file defining a `const BenchSystem` (see systems.h) and a row here.
 */

#include "systems.h"

const BenchSystem *const bench_systems[] = {
  &bench_csjack_queued,
  &bench_csjack_direct,
  &bench_csjack_prompt,
  &bench_csjack_stamped,
  &bench_baseline_queued,
  &bench_baseline_direct,
};

const int bench_system_count = (int)(sizeof(bench_systems) / sizeof(bench_systems[0]));

_Static_assert(sizeof(bench_systems) / sizeof(bench_systems[0]) <= MAX_SYSTEMS,
               "raise MAX_SYSTEMS (results.h)");
