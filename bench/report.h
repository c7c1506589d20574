/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack-bench's output, from the results only (results.h): the text table
 * (report_text.c), the JSON file (report_json.c, its schema in the README's
 * "## Benchmark" and bench/check_json.py) and the CDF plots
 * (report_plot.c, drawn by gnuplot through plot.gp).
 */

#ifndef CSJ_BENCH_REPORT_H
#define CSJ_BENCH_REPORT_H

#include "results.h"

#include <stdbool.h>

/** Prints one period's tables to stdout. */
void print_table(PeriodResult *pr, const Config *cfg);

/** Writes the periods' results to @p path: one object, or with --sweep an
 *  array of them. False (and a message on stderr) when it cannot. */
bool write_json(const char *path, PeriodResult *prs, int n, const Config *cfg);

/** Writes CDF data under @p dir and draws the SVG plots with gnuplot (or
 *  says how to, without it). */
void write_plots(const char *dir, PeriodResult *prs, int n);

/** Frames to milliseconds at @p rate. */
static inline double
frames_ms(double frames, int rate)
{
  return 1000.0 * frames / rate;
}

#endif
