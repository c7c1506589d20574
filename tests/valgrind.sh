#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# valgrind.sh PROGRAM [ARGS]: the exe_wrapper of `meson test --setup=valgrind`.
# Runs PROGRAM under memcheck with leak checking, tracing its children, and
# fails when any traced process reported an error. The exit status alone is
# not enough: Criterion runs each test in a child and reports the test as
# passed whatever the child's exit status, so a leak or an invalid read in
# a test would go unseen. Each process writes its own log here, and every
# log with errors is printed to stderr.
#
# CSJ_VALGRIND_MEMCHECK_ONLY=1: only memcheck's errors fail the run, not the
# program's own verdict. For the JACK suites in CI: under memcheck a
# real-time test can miss its deadlines (a probe misses a cycle, an event
# lands late), and the plain and sanitizer builds already check the
# verdicts. The exit status is then ignored, and each "not ok" line of the
# TAP on stdout gets a TODO directive, which meson counts as an expected
# failure (shown in its summary) instead of a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# The harness does not arm its hang watchdog (gdb cannot attach under valgrind).
export CSJ_UNDER_VALGRIND=1
logs=$(mktemp -d "${TMPDIR:-/tmp}/csj-valgrind.XXXXXX")
memcheck_only=${CSJ_VALGRIND_MEMCHECK_ONLY:-0}
verdicts() {
  if [ "$memcheck_only" = 1 ]; then
    sed -u 's/^not ok .*/& # TODO verdict ignored under memcheck (CSJ_VALGRIND_MEMCHECK_ONLY=1)/'
  else
    cat
  fi
}
{
  status=0
  valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --trace-children=yes --trace-children-skip='*jackd*,*jack_iodelay*,*python3*' \
    --suppressions="$here/valgrind.supp" --log-file="$logs/%p.log" "$@" || status=$?
  echo "$status" >"$logs/status"
} | verdicts
status=$(cat "$logs/status")
bad=0
for log in "$logs"/[0-9]*.log; do
  [ -e "$log" ] || continue
  if grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
    bad=$((bad + 1))
    echo "valgrind.sh: errors in $(sed -n 's/^==[0-9]*== Command: //p' "$log" | head -n 1):" >&2
    cat "$log" >&2
  fi
done
rm -rf "$logs"
if [ "$status" -ne 0 ] && [ "$memcheck_only" = 1 ]; then
  echo "valgrind.sh: $1 exited with status $status; ignored (CSJ_VALGRIND_MEMCHECK_ONLY=1)" >&2
  status=0
fi
if [ "$bad" -gt 0 ]; then
  echo "valgrind.sh: $bad process(es) with memcheck errors" >&2
  status=1
fi
# meson reads 77 as "skipped": a failure must not pass for one.
[ "$status" -ne 77 ] || status=1
exit "$status"
