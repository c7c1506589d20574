#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check_format.sh SOURCE_ROOT: fails when a C file of the library (src/),
# the application (app/) or the public header (include/) is not formatted
# as .clang-format says, and prints what clang-format would change.
# `clang-format -i FILE` formats one file.
set -eu
root=$1
command -v clang-format >/dev/null 2>&1 || { echo "skipped: no clang-format"; exit 77; }
cd "$root"
status=0
for f in $(find src app include -name '*.[ch]' | sort); do
  if ! clang-format --style=file --dry-run --Werror "$f" 2>/dev/null; then
    echo "not formatted: $f"
    clang-format --style=file "$f" | diff -u "$f" - | head -40 || true
    status=1
  fi
done
exit $status
