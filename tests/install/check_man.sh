#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check_man.sh PROGRAM MAN_PAGE (meson test suite 'install'): the man page
# formats without a warning from man/groff, documents every long option
# PROGRAM --help lists, and, when --help has an "Exit status:" paragraph,
# the same exit statuses in its EXIT STATUS section.
# Exit 0 when it does, 1 when not, 77 (skipped) without man(1).
set -euo pipefail

program=$1
page=$2
die() { echo "check_man: FAIL: $page: $*" >&2; exit 1; }

if ! command -v man >/dev/null 2>&1; then
  echo "check_man: man is not installed: skipped"
  exit 77
fi

warnings=$(LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null || true)
[ -z "$warnings" ] || die "man --warnings -l reports: $warnings"
# The ASCII rendering, where \- is a plain '-'.
text=$(LC_ALL=C MANWIDTH=200 man -l "$page" 2>/dev/null | col -b)
[ -n "$text" ] || die "man -l printed nothing"

help=$("$program" --help) || die "$program --help failed"
options=$(printf '%s\n' "$help" | grep -oE -- '(^|[ ,])--[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[ ,]*//' | sort -u)
[ -n "$options" ] || die "found no long options in $program --help"
# A here-string, not printf into grep -q: grep -q exits at its first match,
# and the printf still writing the rest of the page then dies of SIGPIPE,
# which pipefail turns into a failure (now and then, as the two are
# scheduled: CI failed on --port).
for opt in $options; do
  grep -qE -- "(^|[^a-zA-Z0-9-])$opt([^a-zA-Z0-9-]|\$)" <<<"$text" \
    || die "does not document $opt (from $program --help)"
done

# "Exit status: 0 ...; 1 ...; 2 ..." in --help against the .TP entries of
# the page's EXIT STATUS section.
help_codes=$(printf '%s\n' "$help" | tr '\n' ' ' | sed -n 's/.*Exit status: //p' \
  | grep -oE '(^|; )[0-9]+ ' | grep -oE '[0-9]+' | sort -n | tr '\n' ' ' || true)
if [ -n "$help_codes" ]; then
  page_codes=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$page" \
    | awk 'prev == ".TP" && $1 == ".B" && $2 ~ /^[0-9]+$/ {print $2} {prev = $1}' \
    | sort -n | tr '\n' ' ')
  [ "$help_codes" = "$page_codes" ] \
    || die "exit statuses: --help has [$help_codes], EXIT STATUS has [$page_codes]"
fi
echo "check_man: $page: $(printf '%s\n' "$options" | wc -l) options${help_codes:+, exit statuses $help_codes}ok"
