/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound options as the engine applies them (engine_options.h): each
 * vetted by the table in csound_options.c and tried on a scratch Csound
 * before the real instance sees it; --opcode-lib staged before the
 * compile; JACK's sample rate last.
 */

#include "engine_options.h"
#include "csound_options.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OPCODE_LIB_OPTION "--opcode-lib="

/*
 * Csound 6.18 loads --opcode-lib libraries only in csoundStart, after we
 * have compiled, so their opcodes would be unknown to the orchestra. We load
 * them before compiling instead: csoundLoadPlugins takes a directory, so the
 * named libraries are linked into a private temporary one.
 */
static void
load_opcode_libs(CsjEngine *e, const char *list)
{
  char dir[] = "/tmp/csjack-plugins-XXXXXX";
  if (!mkdtemp(dir)) {
    message_log_printf(e->log, 0, "csjack: warning: cannot stage --opcode-lib: %s\n",
                       strerror(errno));
    return;
  }
  char *names = strdup(list);
  char link_path[PATH_MAX + 64];
  int n = 0;
  for (char *save = NULL, *lib = strtok_r(names, ",", &save); lib;
       lib = strtok_r(NULL, ",", &save)) {
    char *real = realpath(lib, NULL);
    const char *base = strrchr(lib, '/') ? strrchr(lib, '/') + 1 : lib;
    snprintf(link_path, sizeof(link_path), "%s/%d-%s", dir, n++, base);
    if (!real || symlink(real, link_path) != 0) {
      message_log_printf(e->log, 0, "csjack: warning: cannot load opcode library '%s'\n", lib);
    }
    free(real);
  }
  free(names);
  csound_adapter_load_plugins(e->csound, dir);
  DIR *d = opendir(dir);
  for (struct dirent *entry; d && (entry = readdir(d)) != NULL;) {
    if (entry->d_name[0] != '.') {
      snprintf(link_path, sizeof(link_path), "%s/%s", dir, entry->d_name);
      unlink(link_path);
    }
  }
  if (d) {
    closedir(d);
  }
  rmdir(dir);
}

static bool
remember_option(CsjEngine *e, const char *option)
{
  char **grown = realloc(e->user_options, (size_t)(e->user_option_count + 1) * sizeof(char *));
  if (!grown) {
    return false;
  }
  e->user_options = grown;
  e->user_options[e->user_option_count] = strdup(option);
  return e->user_options[e->user_option_count++] != NULL;
}

/* What csjack does with one normalized option, by the table in
 * csound_options.c and a try on a scratch Csound: CSJ_SUCCESS with *use the
 * option for Csound (NULL: left out) and, when *say, a notice in @p text;
 * CSJ_ERR_OPTION with the reason in @p text, naming where the option came
 * from (@p from: "" or " in <CsOptions>"). @p replacement holds a
 * rewritten option, which *use may point at. */
static CsjStatus
vet_option(const char *option, const char *from, uint32_t rate, bool midi, char *replacement,
           size_t replacement_size, char *text, size_t text_size, const char **use, bool *say)
{
  *use = NULL;
  *say = false;
  text[0] = '\0';
  switch (
    csound_options_classify(option, rate, midi, replacement, replacement_size, text, text_size)) {
  case OPTION_DROP: *say = true; return CSJ_SUCCESS;
  case OPTION_HOST: return CSJ_SUCCESS; /* the application's (the csjack command serves --port) */
  case OPTION_REFUSE:
    snprintf(text + strlen(text), text_size - strlen(text), "%s", from);
    return CSJ_ERR_OPTION;
  case OPTION_REPLACE:
    *say = true;
    *use = replacement;
    break;
  case OPTION_PASS: *use = option; break;
  }
  char why[256];
  if (csound_adapter_check_option(*use, why, sizeof(why)) != 0) {
    snprintf(text, text_size, "Csound refuses the option '%s'%s: %s", option, from, why);
    *use = NULL;
    return CSJ_ERR_OPTION;
  }
  return CSJ_SUCCESS;
}

/*
 * Applies Csound options from one source (the command line, or a CSD's
 * <CsOptions> when @p from is that), through the table in
 * csound_options.c: each is put in the one-word form Csound 6.18 reads,
 * left out with a notice where csjack does the job itself, and tried on a
 * scratch instance before the real one sees it, so a refused option is a
 * one-line error naming it, never Csound's usage text and long jump.
 * Options from the command line are remembered: they are applied again
 * after a CSD's own, which they override, as on Csound's command line.
 */
CsjStatus
engine_apply_options(CsjEngine *e, int count, const char *const *words, const char *from,
                     bool remember)
{
  int n = 0;
  char **options = csound_options_normalize(count, words, &n);
  if (!options) {
    engine_set_error(e, "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  CsjStatus status = CSJ_SUCCESS;
  const uint32_t rate = atomic_load_explicit(&e->jack_rate, memory_order_relaxed);
  for (int i = 0; i < n && status == CSJ_SUCCESS; ++i) {
    const char *option = options[i];
    if (strncmp(option, OPCODE_LIB_OPTION, strlen(OPCODE_LIB_OPTION)) == 0) {
      load_opcode_libs(e, option + strlen(OPCODE_LIB_OPTION));
      continue;
    }
    char replacement[128];
    char text[512];
    const char *use = NULL;
    bool say = false;
    if (vet_option(option, from, rate, e->midi, replacement, sizeof(replacement), text,
                   sizeof(text), &use, &say) != CSJ_SUCCESS) {
      engine_set_error(e, "%s", text);
      status = CSJ_ERR_OPTION;
      continue;
    }
    if (say) {
      engine_notice(e, text);
    }
    if (!use) {
      continue;
    }
    if (csound_adapter_set_option(e->csound, use) != 0) {
      engine_set_error(e, "Csound refuses the option '%s'%s: refused", option, from);
      status = CSJ_ERR_OPTION;
      continue;
    }
    if (strcmp(use, "--no-default-paths") == 0) {
      e->no_default_paths = true;
    }
    if (remember && !remember_option(e, use)) {
      engine_set_error(e, "out of memory");
      status = CSJ_ERR_NO_MEMORY;
    }
  }
  csound_options_free(options, n);
  return status;
}

CsjStatus
csj_check_options(int count, const char *const *words)
{
  if (count < 0 || (count > 0 && !words)) {
    return CSJ_ERR_BAD_ARG;
  }
  int n = 0;
  char **options = csound_options_normalize(count, words, &n);
  if (!options) {
    snprintf(engine_create_error(), ENGINE_CREATE_ERROR_SIZE, "out of memory");
    return CSJ_ERR_NO_MEMORY;
  }
  CsjStatus status = CSJ_SUCCESS;
  for (int i = 0; i < n && status == CSJ_SUCCESS; ++i) {
    const char *option = options[i];
    if (strncmp(option, OPCODE_LIB_OPTION, strlen(OPCODE_LIB_OPTION)) == 0) {
      continue; /* loaded (or warned about) when the engine is made */
    }
    char replacement[128];
    char text[512];
    const char *use = NULL;
    bool say = false;
    status = vet_option(option, "", 48000, true, replacement, sizeof(replacement), text,
                        sizeof(text), &use, &say);
    if (status != CSJ_SUCCESS) {
      snprintf(engine_create_error(), ENGINE_CREATE_ERROR_SIZE, "%s", text);
    }
  }
  csound_options_free(options, n);
  return status;
}

/* JACK's sample rate, last so that nothing overrides it, and Csound's
 * --realtime mode off. */
void
engine_apply_rate_and_modes(CsjEngine *e)
{
  char sr_option[64];
  snprintf(sr_option, sizeof(sr_option), "--sample-rate=%u",
           atomic_load_explicit(&e->jack_rate, memory_order_relaxed));
  csound_adapter_set_option(e->csound, sr_option);
  /* Csound's --realtime mode runs init-passes on a thread of its own that
   * waits on Csound's own performance loop: in csjack, csoundStart then
   * spins for ever. Its other effect, no API lock around a
   * k-cycle, buys nothing here: no other thread enters Csound while the
   * JACK thread performs. */
  if (csound_adapter_clear_realtime_mode(e->csound)) {
    engine_notice(e, "Csound's --realtime mode is switched off: its init-pass thread would stall "
                     "the start; csjack's JACK thread already performs without contention for "
                     "Csound's lock");
  }
}

CsjStatus
csj_host_options(int count, const char *const *words, CsjHostOptionFn fn, void *data)
{
  if (count < 0 || (count > 0 && !words) || !fn) {
    return CSJ_ERR_BAD_ARG;
  }
  int n = 0;
  char **options = csound_options_normalize(count, words, &n);
  if (!options) {
    return CSJ_ERR_NO_MEMORY;
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
  return CSJ_SUCCESS;
}

CsjStatus
csj_csd_host_options(const char *csd, CsjHostOptionFn fn, void *data)
{
  if (!csd || !fn) {
    return CSJ_ERR_BAD_ARG;
  }
  char **words = NULL;
  int count = 0;
  char *rest = csound_options_take_from_csd(csd, &words, &count);
  const CsjStatus status =
    rest ? csj_host_options(count, (const char *const *)words, fn, data) : CSJ_ERR_NO_MEMORY;
  csound_options_free(words, count);
  free(rest);
  return status;
}
