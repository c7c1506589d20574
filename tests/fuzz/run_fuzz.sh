#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run_fuzz.sh FUZZER SEED_CORPUS BUILD_DIR: what the meson 'fuzz' tests run.
# libFuzzer first runs every input of SEED_CORPUS (in the source tree, crash
# regressions included) and of BUILD_DIR/corpus-NAME (inputs found by
# earlier runs), then fuzzes for CSJ_FUZZ_SECONDS seconds (default 30;
# 0 = replay the corpus only). New inputs go to BUILD_DIR/corpus-NAME,
# crash inputs to BUILD_DIR/NAME-crash-*: the source tree is never written.
set -eu
fuzzer=$1 seeds=$2 dir=$3
name=$(basename "$fuzzer")
secs=${CSJ_FUZZ_SECONDS:-30}
case $secs in
  ''|*[!0-9]*) echo "run_fuzz.sh: CSJ_FUZZ_SECONDS must be a whole number, not '$secs'" >&2
               exit 2 ;;
esac
if [ "$secs" -eq 0 ]; then
  limit=-runs=0
else
  limit=-max_total_time=$secs
fi
mkdir -p "$dir/corpus-$name"
echo "run_fuzz.sh: $name: replaying $seeds, then fuzzing ${secs}s"
# The meson test has no timeout of its own (the fuzzing time varies), so
# the run is capped here: the fuzzing time plus 5 minutes for the replay.
status=0
timeout --kill-after=30 $((secs + 300)) "$fuzzer" "$limit" \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -error_exitcode=1 \
  "-artifact_prefix=$dir/$name-" "$dir/corpus-$name" "$seeds" || status=$?
# libFuzzer's default exit status for a crash is 77, which meson reads as
# "skipped": never let a failure pass for a skip.
if [ "$status" -eq 77 ]; then
  status=1
fi
exit "$status"
