# SPDX-License-Identifier: LGPL-2.1-or-later
# Draws the CDFs that csjack-bench --plot DIR writes as data:
#   gnuplot -e "dir='DIR'; period=256; rate=48000" bench/plot.gp
# Inputs: DIR/pPERIOD_evalcode_SYSTEM.dat, DIR/pPERIOD_event_SYSTEM.dat (the call
# timed by jack_frame_time) and DIR/pPERIOD_event_cc_SYSTEM.dat (by the cycle clock),
# two columns (value, cumulative fraction); a file with no data points
# (a system not measured) draws no curve.
# Outputs: DIR/pPERIOD_evalcode_cdf.svg, DIR/pPERIOD_event_latency_cdf.svg.

if (!exists("dir")) dir = "."
if (!exists("period")) period = 256
if (!exists("rate")) rate = 48000

systems = "csjack_queued csjack_direct baseline_queued baseline_direct csjack_prompt"
nsystems = 5
label(i) = (i == 1 ? "csjack queued" : i == 2 ? "csjack direct" : \
            i == 3 ? "baseline queued" : i == 4 ? "baseline direct" : "csjack prompt")
# One colour per system, the same in every figure.
colour(i) = word("#1f77b4 #d62728 #2ca02c #ff7f0e #9467bd", i)
file(kind, i) = sprintf("%s/p%d_%s_%s.dat", dir, period, kind, word(systems, i))
# A file holds data when it has more than its header line.
has_data(f) = int(system(sprintf("grep -vc '^#' '%s' 2>/dev/null || true", f))) > 0

set terminal svg size 800,480 dynamic font "sans,12" background "white"
set grid
set key below
set yrange [0:1]

set output sprintf("%s/p%d_evalcode_cdf.svg", dir, period)
set title sprintf("evalCode round trip, period %d at %d Hz (%.2f ms)", period, rate, 1000.0 * period / rate)
set xlabel "ms (log scale)"
set ylabel "fraction of calls at or below"
set logscale x
plots = ""
do for [i=1:nsystems] {
  if (has_data(file("evalcode", i))) {
    plots = plots . (strlen(plots) ? ", " : "") . sprintf("'%s' using 1:2 with steps lw 2 lc rgb '%s' title '%s'", file("evalcode", i), colour(i), label(i))
  }
}
if (strlen(plots)) { eval("plot " . plots) } else { print "no evalcode data" }
unset logscale x

set output sprintf("%s/p%d_event_latency_cdf.svg", dir, period)
set title sprintf("score event to first sound, period %d at %d Hz", period, rate)
set xlabel "frames from the call to the first non-zero sample"
set ylabel "fraction of events at or below"
plots = ""
do for [i=1:nsystems] {
  if (has_data(file("event", i))) {
    plots = plots . (strlen(plots) ? ", " : "") . sprintf("'%s' using 1:2 with steps lw 2 lc rgb '%s' title '%s, jack\\_frame\\_time'", file("event", i), colour(i), label(i))
  }
  if (has_data(file("event_cc", i))) {
    plots = plots . (strlen(plots) ? ", " : "") . sprintf("'%s' using 1:2 with steps lw 2 dt 2 lc rgb '%s' title '%s, cycle clock'", file("event_cc", i), colour(i), label(i))
  }
}
if (strlen(plots)) { eval("plot " . plots) } else { print "no event data" }
