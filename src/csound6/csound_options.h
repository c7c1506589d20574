/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's command-line options, as csjack takes them: from the command
 * line after `--`, from the library's CsjOptions, and from a CSD's
 * <CsOptions>.
 *
 * Csound 6.18's csoundSetOption takes one word: `-r44100` works, `-r 44100`
 * as two calls makes Csound print its usage and long-jump. So the words are
 * first put in the form Csound's own command line would have read them
 * (`-m 7` becomes `-m7`, `-dm0` becomes `-d` `-m0`, `--ksmps 64` becomes
 * `--ksmps=64`), then each is looked up in one table of what csjack does
 * with it: pass it to Csound, or leave it out with a notice saying what
 * csjack does instead (JACK is the audio driver, JACK's rate wins), or
 * refuse it. Pure: no Csound, no I/O.
 */

#ifndef CSJ_CSOUND_OPTIONS_H
#define CSJ_CSOUND_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What csjack does with one (normalised) option. */
typedef enum {
  OPTION_PASS = 0, /**< Give it to Csound. */
  OPTION_REPLACE,  /**< Give Csound `replacement` instead; say `notice`. */
  OPTION_DROP,     /**< Leave it out; say `notice`. */
  OPTION_REFUSE,   /**< A usage error; `notice` says why. */
  /** Not for Csound: the host application serves it (Csound's UDP server
   *  and console, --port, --udp-console, --udp-mirror-console, --udp-echo:
   *  the csjack command runs its own, app/udp_server.c). Left out without
   *  a notice. */
  OPTION_HOST,
} OptionAction;

/**
 * Splits @p count words into single options in Csound's own reading:
 * joins a flag with the value in the next word, splits short-flag groups.
 * Returns a malloc'd array of *out_count malloc'd strings (free with
 * csound_options_free), or NULL on allocation failure.
 */
char **csound_options_normalize(int count, const char *const *words, int *out_count);

/**
 * What to do with one normalised option when JACK runs at @p jack_rate,
 * with csjack's MIDI ports on or not (@p midi).
 * @p replacement and @p notice receive text for OPTION_REPLACE, DROP and
 * REFUSE (a notice without the "csjack: notice:" prefix).
 */
OptionAction csound_options_classify(const char *option, uint32_t jack_rate, bool midi,
                                     char *replacement, size_t replacement_size, char *notice,
                                     size_t notice_size);

/**
 * Takes a CSD's <CsOptions> out: returns a malloc'd copy of @p csd whose
 * CsOptions element holds only newlines (so line numbers stay), and its
 * words, split as Csound splits them (blanks, "quotes", ; and / * * /
 * comments), in *words (free with csound_options_free). NULL on allocation
 * failure.
 */
char *csound_options_take_from_csd(const char *csd, char ***words, int *count);

/** Frees an array of strings from this module. NULL is a no-op. */
void csound_options_free(char **words, int count);

#endif
