/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Csound's options as csjack takes them: see csound_options.h. */

#include "csound_options.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Short flags that take a value: in the same word (`-m7`) or the next. */
static const char FLAGS_WITH_VALUE[] = "UiobBrkmxtLMQ@Oj";
/* Short flags followed by optional digits in the same word (`-v`, `-H2`). */
static const char FLAGS_WITH_DIGITS[] = "vHzZ";

/* Long options that take a value, which Csound's command line also reads
 * from the next word. */
/* clang-format off */
static const char *const LONG_WITH_VALUE[] = {
  "output", "input", "sample-rate", "control-rate", "ksmps", "nchnls", "nchnls_i", "0dbfs",
  "messagelevel", "m-amps", "m-range", "m-warnings", "m-raw", "m-dB", "m-colours",
  "m-benchmarks", "midi-device", "midifile", "midioutfile", "port", "udp-console",
  "udp-mirror-console",
  "opcode-lib", "iobufsamps", "hardwarebufsamps", "logfile", "num-threads", "tempo",
  "score-in", "extract-score", "format", "utility", "sched", "env", "strset",
  "midi-key", "midi-key-cps", "midi-key-oct", "midi-key-pch", "midi-velocity",
  "midi-velocity-amp", "set-sample-rate", "omacro", "smacro", "csd-line-nums",
  "list-opcodes", "dither-triangular", "dither-uniform", "vbr-quality", "devices",
  "mp3-mode", "daemon", "cscore", "syntax-check-only", NULL,
};
/* clang-format on */

static char *
dup_range(const char *s, size_t n)
{
  char *copy = malloc(n + 1);
  if (copy) {
    memcpy(copy, s, n);
    copy[n] = '\0';
  }
  return copy;
}

static char *
join(const char *a, const char *b)
{
  const size_t na = strlen(a);
  const size_t nb = strlen(b);
  char *out = malloc(na + nb + 1);
  if (out) {
    memcpy(out, a, na);
    memcpy(out + na, b, nb + 1);
  }
  return out;
}

static bool
long_takes_value(const char *name, size_t len)
{
  for (const char *const *p = LONG_WITH_VALUE; *p; ++p) {
    if (strlen(*p) == len && strncmp(*p, name, len) == 0) {
      return true;
    }
  }
  return false;
}

/* A growing list of strings. */
typedef struct {
  char **items;
  int count;
  int capacity;
  bool failed;
} WordList;

static void
list_add(WordList *list, char *word)
{
  if (!word) {
    list->failed = true;
    return;
  }
  if (list->count == list->capacity) {
    const int capacity = list->capacity ? list->capacity * 2 : 16;
    char **items = realloc(list->items, (size_t)capacity * sizeof(char *));
    if (!items) {
      free(word);
      list->failed = true;
      return;
    }
    list->items = items;
    list->capacity = capacity;
  }
  list->items[list->count++] = word;
}

static char **
list_finish(WordList *list, int *count)
{
  if (list->failed) {
    csound_options_free(list->items, list->count);
    *count = 0;
    return NULL;
  }
  *count = list->count;
  if (!list->items) {
    list->items = calloc(1, sizeof(char *));
  }
  return list->items;
}

char **
csound_options_normalize(int count, const char *const *words, int *out_count)
{
  WordList list = {0};
  for (int i = 0; i < count; ++i) {
    const char *w = words[i];
    const bool has_next = i + 1 < count;
    const bool next_is_value = has_next && words[i + 1][0] != '-';
    if (w[0] != '-' || w[1] == '\0' || w[1] == '+') {
      list_add(&list, strdup(w)); /* a bare word, a lone '-', or -+name=value */
      continue;
    }
    if (w[1] == '-') {
      const char *name = w + 2;
      if (!strchr(name, '=') && long_takes_value(name, strlen(name)) && next_is_value) {
        char *with_eq = join(w, "=");
        list_add(&list, with_eq ? join(with_eq, words[++i]) : NULL);
        free(with_eq);
      } else {
        list_add(&list, strdup(w));
      }
      continue;
    }
    /* A group of short flags: each becomes a word of its own. */
    for (const char *p = w + 1; *p; ++p) {
      const char c = *p;
      char flag[3] = {'-', c, '\0'};
      if (strchr(FLAGS_WITH_VALUE, c) || c == 'F') {
        const char *value = p + 1;
        if (*value == '\0' && next_is_value) {
          value = words[++i];
        }
        list_add(&list, join(flag, value));
        break;
      }
      if (strchr(FLAGS_WITH_DIGITS, c)) {
        const size_t digits = strspn(p + 1, "0123456789x");
        char *value = dup_range(p + 1, digits);
        list_add(&list, value ? join(flag, value) : NULL);
        free(value);
        p += digits;
        continue;
      }
      if (c == '+' || c == '-') {
        list_add(&list, join("-", p)); /* the rest is one option */
        break;
      }
      list_add(&list, strdup(flag));
    }
  }
  return list_finish(&list, out_count);
}

static bool
starts(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The value of `-xVALUE` or `--name=VALUE`. */
static const char *
value_of(const char *option)
{
  if (option[1] == '-') {
    const char *eq = strchr(option, '=');
    return eq ? eq + 1 : "";
  }
  return option + 2;
}

OptionAction
csound_options_classify(const char *o, uint32_t jack_rate, bool midi, char *replacement,
                        size_t replacement_size, char *notice, size_t notice_size)
{
  replacement[0] = '\0';
  notice[0] = '\0';
  if (o[0] != '-') {
    snprintf(notice, notice_size, "Csound option '%s' ignored: csjack plays the file it was given",
             o);
    return OPTION_DROP;
  }
  if (starts(o, "-o") || starts(o, "--output")) {
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: csjack plays to its JACK output ports "
             "(to record, use csjack --record FILE or the console's :record FILE)",
             o);
    return OPTION_DROP;
  }
  if (starts(o, "-i") || starts(o, "--input")) {
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: csjack's audio input is its JACK input ports", o);
    return OPTION_DROP;
  }
  if (starts(o, "-b") || starts(o, "-B") || starts(o, "--iobufsamps") ||
      starts(o, "--hardwarebufsamps")) {
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: JACK's period sets the buffer size, and csjack "
             "adds no buffering of its own",
             o);
    return OPTION_DROP;
  }
  if (starts(o, "-+rtaudio") || starts(o, "-+jack_")) {
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: csjack is itself the JACK client (name it with "
             "csjack --name NAME)",
             o);
    return OPTION_DROP;
  }
  if (starts(o, "-r") || starts(o, "--sample-rate")) {
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: Csound runs at JACK's sample rate, %u Hz", o, jack_rate);
    return OPTION_DROP;
  }
  if (starts(o, "-k") || starts(o, "--control-rate")) {
    const double kr = atof(value_of(o));
    const double ksmps = kr > 0 ? jack_rate / kr : 0;
    if (ksmps >= 1 && fabs(ksmps - nearbyint(ksmps)) < 1e-9) {
      snprintf(replacement, replacement_size, "--ksmps=%.0f", ksmps);
      snprintf(notice, notice_size,
               "Csound option '%s' becomes %s: at JACK's %u Hz that is the same control "
               "rate",
               o, replacement, jack_rate);
      return OPTION_REPLACE;
    }
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: at JACK's %u Hz no whole ksmps gives that control "
             "rate (set --ksmps=N instead)",
             o, jack_rate);
    return OPTION_DROP;
  }
  if (starts(o, "-M") || starts(o, "-Q") || starts(o, "--midi-device") || starts(o, "-+rtmidi")) {
    if (midi) {
      snprintf(notice, notice_size,
               "Csound option '%s' ignored: Csound's MIDI input and output are csjack's "
               "JACK ports midi_in and midi_out (connect them with --connect-midi-in and "
               "--connect-midi-out, or by hand)",
               o);
    } else {
      snprintf(notice, notice_size,
               "Csound option '%s' ignored: csjack runs with --no-midi, and Csound's own "
               "MIDI device modules do not run inside csjack (a MIDI file plays with -F "
               "FILE)",
               o);
    }
    return OPTION_DROP;
  }
  if (strcmp(o, "--port") == 0 || starts(o, "--port=") || strcmp(o, "--udp-echo") == 0 ||
      starts(o, "--udp-console") || starts(o, "--udp-mirror-console")) {
    /* Csound's own UDP server would parse and compile beside csjack's
     * compiler (which crashes Csound): the csjack command serves the same
     * protocol itself, from these very options (cli.c reads them). */
    return OPTION_HOST;
  }
  if (starts(o, "-L") || starts(o, "--score-in")) {
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: csjack's console reads score lines on its "
             "standard input",
             o);
    return OPTION_DROP;
  }
  if (starts(o, "-U") || starts(o, "--utility")) {
    snprintf(notice, notice_size,
             "Csound option '%s' refused: Csound's utilities do not run inside csjack "
             "(run them with csound -U)",
             o);
    return OPTION_REFUSE;
  }
  if (strcmp(o, "-n") == 0 || strcmp(o, "--nosound") == 0 || strcmp(o, "-I") == 0 ||
      strcmp(o, "--i-only") == 0) {
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: csjack always plays to its JACK ports", o);
    return OPTION_DROP;
  }
  /* clang-format off */
  static const char *const file_formats[] = {
    "-W", "-A", "-J", "-h", "-c", "-a", "-u", "-8", "-s", "-3", "-l", "-f", "-R", "-K",
    "--wave", "--aiff", "--ircam", "--noheader", "--rewrite", "--nopeaks", NULL,
  };
  /* clang-format on */
  for (const char *const *f = file_formats; *f; ++f) {
    if (strcmp(o, *f) == 0) {
      snprintf(notice, notice_size,
               "Csound option '%s' ignored: it sets Csound's output file format, and csjack "
               "writes no output file (recordings are WAV)",
               o);
      return OPTION_DROP;
    }
  }
  if (starts(o, "--format") || starts(o, "-Z") || starts(o, "--dither")) {
    snprintf(notice, notice_size,
             "Csound option '%s' ignored: it sets Csound's output file format, and csjack "
             "writes no output file (recordings are WAV)",
             o);
    return OPTION_DROP;
  }
  return OPTION_PASS;
}

/* Appends the words of one CsOptions line to @p list, as Csound splits
 * them: blanks separate, "quotes" group (and are removed), and ; starts a
 * comment. Block comments were removed before. */
static void
split_line(WordList *list, const char *line, size_t len)
{
  char *word = malloc(len + 1);
  if (!word) {
    list->failed = true;
    return;
  }
  size_t n = 0;
  bool quoted = false;
  bool in_word = false;
  for (size_t i = 0; i <= len; ++i) {
    const char c = i < len ? line[i] : '\0';
    if (!quoted && (c == ';' || c == '\0')) {
      break;
    }
    if (c == '"') {
      quoted = !quoted;
      in_word = true;
      continue;
    }
    if (!quoted && (c == ' ' || c == '\t' || c == '\r')) {
      if (in_word) {
        list_add(list, dup_range(word, n));
        n = 0;
        in_word = false;
      }
      continue;
    }
    word[n++] = c;
    in_word = true;
  }
  if (in_word) {
    list_add(list, dup_range(word, n));
  }
  free(word);
}

char *
csound_options_take_from_csd(const char *csd, char ***words, int *count)
{
  *words = NULL;
  *count = 0;
  char *copy = strdup(csd);
  if (!copy) {
    return NULL;
  }
  WordList list = {0};
  char *open = strstr(copy, "<CsOptions>");
  char *close = open ? strstr(open, "</CsOptions>") : NULL;
  if (close) {
    char *body = open + strlen("<CsOptions>");
    /* Block comments first, kept as newlines so lines stay lines. */
    for (char *c = strstr(body, "/*"); c && c < close; c = strstr(c, "/*")) {
      char *end = strstr(c + 2, "*/");
      char *stop = end && end + 2 <= close ? end + 2 : close;
      for (char *p = c; p < stop; ++p) {
        *p = *p == '\n' ? '\n' : ' ';
      }
      c = stop;
    }
    for (char *line = body; line < close;) {
      char *eol = memchr(line, '\n', (size_t)(close - line));
      const size_t len = (size_t)((eol ? eol : close) - line);
      split_line(&list, line, len);
      line += len + 1;
    }
    /* Csound sees an empty element with the same line count. */
    for (char *p = body; p < close; ++p) {
      if (*p != '\n') {
        *p = ' ';
      }
    }
  }
  *words = list_finish(&list, count);
  if (!*words) {
    free(copy);
    return NULL;
  }
  return copy;
}

void
csound_options_free(char **words, int count)
{
  if (!words) {
    return;
  }
  for (int i = 0; i < count; ++i) {
    free(words[i]);
  }
  free(words);
}
