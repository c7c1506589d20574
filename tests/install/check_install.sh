#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The installed library, used as a program outside the tree would use it
# (meson test suite 'install'; tests/install/meson.build passes the paths):
#
#   1. `meson install --destdir` of the build into a temporary directory;
#   2. the installed files are there: headers, libcsjack.so.N with its soname,
#      csjack.pc, the man pages, the docs and examples;
#   3. the installed .so exports csj_* symbols and nothing else (nm -D);
#   4. consumer.c, copied out of the tree, is compiled with
#      `pkg-config --cflags --libs csjack` against the installed files only,
#      and run with LD_LIBRARY_PATH at the installed lib against a private
#      dummy jackd this script starts and always stops.
#
# Exit 0 on success, 77 (skipped) only when jackd is not installed, 1 on any
# failure.
#
# Environment (from meson): BUILD_DIR, MESON, CC (the compiler command),
# SANITIZE_FLAGS, CSJ_PREFIX, CSJ_LIBDIR, CSJ_INCLUDEDIR, CSJ_MANDIR,
# CSJ_DOCDIR (absolute install paths), CSJ_SOVERSION, CSJ_VERSION,
# CSJ_BENCH (1 when csjack-bench is built), CONSUMER_C.
set -euo pipefail

say() { echo "check_install: $*"; }
die() { echo "check_install: FAIL: $*" >&2; exit 1; }

if ! command -v jackd >/dev/null 2>&1; then
  say "jackd is not installed: skipped"
  exit 77
fi
for tool in pkg-config nm readelf; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/csjinst.XXXXXX")
jackd_pid=""
cleanup() {
  if [ -n "$jackd_pid" ]; then
    # SIGTERM: jackd gives its slot in JACK's machine-wide registry back.
    kill -TERM "$jackd_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$jackd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$jackd_pid" 2>/dev/null || true
    wait "$jackd_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. Install.
dest=$tmp/dest
DESTDIR=$dest $MESON install -C "$BUILD_DIR" --no-rebuild --quiet \
  || die "meson install --destdir failed"
prefix=$dest$CSJ_PREFIX
libdir=$dest$CSJ_LIBDIR
say "installed into $dest"

# 2. The files.
expect_file() { [ -e "$dest$1" ] || die "not installed: $1"; }
expect_file "$CSJ_INCLUDEDIR/csjack.h"
expect_file "$CSJ_INCLUDEDIR/csjack_version.h"
expect_file "$CSJ_LIBDIR/libcsjack.so"
expect_file "$CSJ_LIBDIR/libcsjack.so.$CSJ_SOVERSION"
expect_file "$CSJ_LIBDIR/libcsjack.so.$CSJ_VERSION"
expect_file "$CSJ_LIBDIR/pkgconfig/csjack.pc"
expect_file "$CSJ_PREFIX/bin/csjack"
expect_file "$CSJ_MANDIR/man1/csjack.1"
expect_file "$CSJ_DOCDIR/README.md"
expect_file "$CSJ_DOCDIR/docs/console.md"
expect_file "$CSJ_DOCDIR/examples/sine.csd"
if [ "${CSJ_BENCH:-0}" = 1 ]; then
  expect_file "$CSJ_PREFIX/bin/csjack-bench"
  expect_file "$CSJ_MANDIR/man1/csjack-bench.1"
fi
soname=$(readelf -d "$libdir/libcsjack.so.$CSJ_VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libcsjack.so.$CSJ_SOVERSION" ] \
  || die "the soname is '$soname', not libcsjack.so.$CSJ_SOVERSION"
[ -z "$(find "$dest" -name 'libcsjack.a')" ] || die "the internal static library was installed"

# 3. Only the csj_* API is exported.
exported=$(nm -D --defined-only "$libdir/libcsjack.so.$CSJ_SOVERSION" | awk '{print $NF}')
[ -n "$exported" ] || die "nm -D found no symbols in libcsjack.so.$CSJ_SOVERSION"
others=$(printf '%s\n' "$exported" | grep -v '^csj_' || true)
[ -z "$others" ] || die "libcsjack.so exports symbols outside the csj_ API: $(echo $others)"
# Every function csjack.h declares is exported (a missing CSJ_API).
declared=$(sed -n 's/^CSJ_API .*[ *]\(csj_[a-z0-9_]*\)(.*/\1/p' "$dest$CSJ_INCLUDEDIR/csjack.h" | sort -u)
[ -n "$declared" ] || die "found no CSJ_API declarations in the installed csjack.h"
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported" | sort -u))
[ -z "$missing" ] || die "csjack.h declares, libcsjack.so does not export: $(echo $missing)"
say "libcsjack.so.$CSJ_SOVERSION exports $(printf '%s\n' "$exported" | wc -l) symbols, all csj_*"

# 4. A program outside the tree.
mkdir "$tmp/consumer"
cp "$CONSUMER_C" "$tmp/consumer/consumer.c"
cd "$tmp/consumer"
# csjack.pc says prefix=CSJ_PREFIX: a copy says where DESTDIR put it
# (--define-variable would move jack's and sndfile's prefix too, and
# --define-prefix guesses wrong under lib/x86_64-linux-gnu).
mkdir "$tmp/pkgconfig"
grep -q "^prefix=$CSJ_PREFIX\$" "$libdir/pkgconfig/csjack.pc" \
  || die "csjack.pc does not say prefix=$CSJ_PREFIX"
sed "s|^prefix=.*|prefix=$prefix|" "$libdir/pkgconfig/csjack.pc" >"$tmp/pkgconfig/csjack.pc"
export PKG_CONFIG_PATH=$tmp/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
pc() { pkg-config "$@" csjack; }
[ "$(pc --modversion)" = "$CSJ_VERSION" ] || die "pkg-config --modversion csjack: $(pc --modversion)"
cflags=$(pc --cflags) || die "pkg-config --cflags csjack failed"
libs=$(pc --libs) || die "pkg-config --libs csjack failed"
say "pkg-config --cflags --libs csjack: $cflags $libs"
# shellcheck disable=SC2086 # CC, the sanitizer flags and pkg-config's output are word lists
$CC $SANITIZE_FLAGS -std=c11 -Wall -Wextra -Wpedantic -Werror -o consumer consumer.c $cflags $libs \
  || die "the consumer did not build against the installed csjack"
# The header is usable from C++ too (extern "C", nothing C-only).
if command -v c++ >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  echo '#include <csjack.h>
int main() { return csj_version() == nullptr; }' \
    | c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -x c++ $cflags - \
    || die "csjack.h does not compile as C++"
fi
resolved=$(LD_LIBRARY_PATH=$libdir ldd ./consumer | awk '$1 ~ /^libcsjack\.so/ {print $3}')
[ "$resolved" = "$libdir/libcsjack.so.$CSJ_SOVERSION" ] \
  || die "the consumer loads libcsjack from '$resolved', not the installed $libdir"

server=csjinst-$$
export JACK_DEFAULT_SERVER=$server JACK_NO_START_SERVER=1 JACK_NO_AUDIO_RESERVATION=1
jackd --no-realtime -n "$server" -d dummy -r 48000 -p 256 >"$tmp/jackd.log" 2>&1 &
jackd_pid=$!
if ! LD_LIBRARY_PATH=$libdir ./consumer; then
  echo "--- jackd's log:" >&2
  cat "$tmp/jackd.log" >&2
  die "the consumer failed"
fi
# Not piped into grep -q: under pipefail its early exit can fail the writer.
grep -qF "csjack $CSJ_VERSION" <<<"$("$prefix/bin/csjack" --version)" \
  || die "the installed csjack --version does not say $CSJ_VERSION"
say "ok"
