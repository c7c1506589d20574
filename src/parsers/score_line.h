/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Plain numeric score lines: "i 1 0 2 0.5 60", "i1 0 .5", "i -1 0 1 ; off"
 * (an 'i' statement whose p-fields are all decimal numbers, at least three
 * of them, then blanks or a ';' comment) are read into p-fields, so that
 * constant-latency mode can stamp them like score events
 * (csj_engine_input_message). Anything else (another statement letter,
 * a quoted instrument name, carry and ramp symbols such as . + < > ^+ !,
 * [expressions], $macros, {loops}, block comments, a second statement on
 * the line, numbers strtod reads differently in the current locale) is
 * not plain: the caller keeps it as text for Csound to read.
 *
 * Pure: no allocation, no I/O.
 */

#ifndef CSJ_SCORE_LINE_H
#define CSJ_SCORE_LINE_H

#include <stdbool.h>
#include <stddef.h>

/** Reads @p text (NUL-terminated); true with the p-fields in @p p and
 *  their number in *count when it is a plain numeric 'i' line of at most
 *  @p max p-fields. */
bool score_line_numeric(const char *text, double *p, int max, int *count);

#endif
