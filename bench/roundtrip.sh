#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Round-trip latency through a thru orchestra, measured with jack_iodelay,
# for csjack and for `csound -+rtaudio=jack` at its smallest buffers, on a
# private dummy-driver JACK server (never the user's own).
#
#   bench/roundtrip.sh [PERIOD...]      default: 64 128 256, at 48 kHz
#
# Needs: build/csjack, jackd2 (jackd, jack_iodelay), csound.
set -euo pipefail
cd "$(dirname "$0")/.."
periods=("${@:-64 128 256}")
rate=48000
work=$(mktemp -d)
# Command substitutions may run the EXIT trap too: clean up in the main shell only.
cleanup() { [ "$BASHPID" = "$$" ] || return 0; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
result=""

cat >"$work/thru.orc" <<ORC
sr = $rate
ksmps = 32
nchnls = 1
nchnls_i = 1
0dbfs = 1
instr 1
  a1 inch 1
  out a1
endin
alwayson 1
ORC
sed -e '/alwayson/d' "$work/thru.orc" >"$work/thru-csound.orc"
printf 'i1 0 3600\n' >"$work/thru-csound.sco"

# Sets $result to jack_iodelay's last total, in frames, after a few seconds
# of looping. (Not a $(...) substitution: the EXIT trap would fire in it.)
measure() { # client-in client-out
  stdbuf -o0 jack_iodelay >"$work/iod.txt" 2>&1 &
  local iod=$!
  sleep 0.7
  jack_connect jack_delay:out "$1"
  jack_connect "$2" jack_delay:in
  sleep 3
  kill -TERM $iod 2>/dev/null; wait $iod 2>/dev/null || true
  result=$(tr '\r' '\n' <"$work/iod.txt" | awk '/total roundtrip/ {v=$1} END {print (v=="" ? "n/a" : v)}')
}

printf '%-8s %-6s %-34s %s\n' period ksmps system "round trip (frames)"
for p in ${periods[*]}; do
  server="csjack-rt-$$-$p"
  JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -n "$server" -d dummy -r $rate -p "$p" \
    >"$work/jackd.log" 2>&1 &
  jackd_pid=$!
  export JACK_DEFAULT_SERVER=$server JACK_NO_START_SERVER=1
  for _ in $(seq 50); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done

  build/csjack --no-connect -n csjack "$work/thru.orc" >"$work/csjack.log" 2>&1 &
  cj=$!
  sleep 1
  measure csjack:in_1 csjack:out_1
  printf '%-8s %-6s %-34s %s\n' "$p" 32 "csjack" "$result"
  kill -TERM $cj; wait $cj || true

  # Csound's own JACK driver at its minimum: -b = period, -B = max(2b, 256).
  b=$p; B=$(( 2 * p > 256 ? 2 * p : 256 ))
  csound -+rtaudio=jack -+jack_client=csound -odac -iadc -b$b -B$B -d -m0 \
    --ksmps=32 "$work/thru-csound.orc" "$work/thru-csound.sco" \
    >"$work/csound.log" 2>&1 &
  cs=$!
  sleep 1.5
  in_port=$(jack_lsp | grep -m1 '^csound:input') || in_port=""
  out_port=$(jack_lsp | grep -m1 '^csound:output') || out_port=""
  if [ -n "$in_port" ] && [ -n "$out_port" ]; then
    jack_disconnect system:capture_1 "$in_port" 2>/dev/null || true
    jack_disconnect "$out_port" system:playback_1 2>/dev/null || true
    measure "$in_port" "$out_port"
    printf '%-8s %-6s %-34s %s\n' "$p" 32 "csound -+rtaudio=jack -b$b -B$B" "$result"
  else
    printf '%-8s %-6s %-34s %s\n' "$p" 32 "csound -+rtaudio=jack -b$b -B$B" "not measured (no ports)"
  fi
  kill -TERM $cs 2>/dev/null; wait $cs 2>/dev/null || true
  kill $jackd_pid; wait $jackd_pid 2>/dev/null || true
done
