/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Splitting orchestra text into its top-level units: each `instr ... endin`
 * block, each `opcode ... endop` block, and each run of global code between
 * them, in order. csjack merges a large compile one unit per JACK cycle.
 *
 * It is a conservative scanner, not a parser: comments (; // and block
 * comments) and "strings" are skipped when looking for keywords, and
 * anything it cannot split with certainty (a preprocessor line starting
 * with '#', a {{ }} string, an unterminated or nested block) makes it
 * refuse, so the text is compiled in one piece. Pure: no Csound, no I/O.
 */

#ifndef CSJ_ORCHESTRA_SPLIT_H
#define CSJ_ORCHESTRA_SPLIT_H

#include <stdint.h>

/**
 * Returns a malloc'd array of *count malloc'd units (each ends with a
 * newline), or NULL with *count 0 when the text must not be split (or has
 * no code). Free each unit, then the array. NOT real-time safe.
 */
char **orchestra_split(const char *text, uint32_t *count);

/** Frees what orchestra_split returned. NULL is a no-op. */
void orchestra_split_free(char **units, uint32_t count);

#endif
