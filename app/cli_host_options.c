/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The options in Csound's words that the csjack command serves itself
 * (Csound's UDP server and console: --port, --udp-console,
 * --udp-mirror-console, --udp-echo), found as the engine finds them: with
 * the Csound adapter's own option table, so that both read a word alike.
 * libcsjack has no version-independent call for this yet, so this file is
 * the one place in app/ that reaches into the adapter's folder; it goes
 * when the library offers one (the same two functions, csj_ prefixed).
 */

#include "cli_host_options.h"
#include "csound_options.h"

#include <stdlib.h>

bool
cli_host_options(int count, const char *const *words, CliHostOptionFn fn, void *data)
{
  int n = 0;
  char **options = csound_options_normalize(count, words, &n);
  if (!options) {
    return false;
  }
  for (int i = 0; i < n; ++i) {
    char replacement[128];
    char notice[512];
    /* The rate and MIDI change what other options become, never whether
     * one is the host's. */
    if (csound_options_classify(options[i], 48000, true, replacement, sizeof(replacement), notice,
                                sizeof(notice)) == OPTION_HOST) {
      fn(data, options[i]);
    }
  }
  csound_options_free(options, n);
  return true;
}

bool
cli_csd_host_options(const char *csd, CliHostOptionFn fn, void *data)
{
  char **words = NULL;
  int count = 0;
  char *rest = csound_options_take_from_csd(csd, &words, &count);
  const bool taken = rest && cli_host_options(count, (const char *const *)words, fn, data);
  csound_options_free(words, count);
  free(rest);
  return taken;
}
