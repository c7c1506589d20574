/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Saving and restoring the live state (csj_engine_save_state,
 * csj_engine_restore_state): the live journal's code and Csound's channels,
 * in a folder. Never the JACK thread.
 */

#include "engine_state.h"
#include "engine_direct.h"
#include "text_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIVE_FILE "live.orc"
#define CHANNELS_FILE "channels.txt"
#define ENTRY_MARK ";;; csjack: "
/* How long one restored piece may take to compile. */
#define RESTORE_TIMEOUT_MS 30000

/* mkdir -p: 0, or -1 with errno. */
static int
make_folder(const char *dir)
{
  char path[4096];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = path + 1; *p; ++p) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return -1;
      }
      *p = '/';
    }
  }
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    return -1;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

/* Writes @p length bytes of @p text to DIR/NAME whole or not at all. */
static CsjStatus
write_whole(CsjEngine *e, const char *dir, const char *name, const char *text, size_t length)
{
  char path[4096], temp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(temp, sizeof temp, "%s/.%s.%d.tmp", dir, name, (int)getpid());
  FILE *f = fopen(temp, "w");
  if (!f) {
    engine_set_error(e, "cannot write '%s': %s", temp, strerror(errno));
    return CSJ_ERR_FILE;
  }
  const bool written = fwrite(text, 1, length, f) == length;
  const bool flushed = fflush(f) == 0 && fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  if (fclose(f) != 0 || !written || !flushed) {
    unlink(temp);
    engine_set_error(e, "cannot write '%s': %s", temp, strerror(saved_errno ? saved_errno : EIO));
    return CSJ_ERR_FILE;
  }
  if (rename(temp, path) != 0) {
    const int why = errno;
    unlink(temp);
    engine_set_error(e, "cannot write '%s': %s", path, strerror(why));
    return CSJ_ERR_FILE;
  }
  return CSJ_SUCCESS;
}

/* ---- channels.txt ---------------------------------------------------------- */

typedef struct {
  char *text;
  size_t length;
  size_t capacity;
  bool failed;
} Text;

static void
text_add(Text *t, const char *s, size_t n)
{
  if (t->failed) {
    return;
  }
  if (t->length + n + 1 > t->capacity) {
    size_t capacity = t->capacity ? t->capacity * 2 : 4096;
    while (capacity < t->length + n + 1) {
      capacity *= 2;
    }
    char *grown = realloc(t->text, capacity);
    if (!grown) {
      t->failed = true;
      return;
    }
    t->text = grown;
    t->capacity = capacity;
  }
  memcpy(t->text + t->length, s, n);
  t->length += n;
  t->text[t->length] = '\0';
}

/* The transport's channels are the transport's, not state; its tempo,
 * set by the orchestra for a timebase master, is. */
static bool
channel_is_state(const char *name)
{
  return strncmp(name, "transport_", 10) != 0 || strcmp(name, "transport_bpm") == 0;
}

/* A name goes on a line as it is; one with a space or a newline cannot be
 * read back, and is left out. */
static bool
name_fits(const char *name)
{
  return name[0] && !strpbrk(name, " \t\r\n");
}

static void
add_channel(void *data, const char *name, double value, const char *text)
{
  Text *t = data;
  if (!channel_is_state(name) || !name_fits(name)) {
    return;
  }
  char line[512];
  if (!text) {
    if (!isfinite(value)) {
      return;
    }
    const int n = snprintf(line, sizeof line, "control %s %.17g\n", name, value);
    text_add(t, line, (size_t)n);
    return;
  }
  const int n = snprintf(line, sizeof line, "string %s ", name);
  text_add(t, line, (size_t)n);
  for (const char *p = text; *p; ++p) {
    if (*p == '\n') {
      text_add(t, "\\n", 2);
    } else if (*p == '\\') {
      text_add(t, "\\\\", 2);
    } else {
      text_add(t, p, 1);
    }
  }
  text_add(t, "\n", 1);
}

static void
list_channels(CsjEngine *e, void *data)
{
  Text *t = data;
  if (csound_adapter_each_channel(e->csound, add_channel, t) < 0) {
    t->failed = true;
  }
}

/* ---- save ------------------------------------------------------------------ */

CsjStatus
csj_engine_save_state(CsjEngine *e, const char *dir)
{
  if (!e || !dir || !dir[0]) {
    return CSJ_ERR_BAD_ARG;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) < ENGINE_PERFORMING ||
      csound_adapter_aborted(e->csound)) {
    engine_set_error(e, "nothing to save: not started, or Csound has aborted");
    return CSJ_ERR_STATE;
  }
  if (make_folder(dir) != 0) {
    engine_set_error(e, "cannot make the folder '%s': %s", dir, strerror(errno));
    return CSJ_ERR_FILE;
  }
  /* Everything queued before the save (a string channel set, a compile)
   * has run when the channels are listed. */
  CsjStatus status = csj_engine_flush(e, RESTORE_TIMEOUT_MS);
  if (status != CSJ_SUCCESS) {
    engine_set_error(e, "the commands queued before the save did not run: %s",
                     csj_strerror(status));
    return status;
  }
  Text channels = {0};
  text_add(&channels, "", 0);
  status = engine_direct_run(e, list_channels, &channels);
  if (status == CSJ_SUCCESS && channels.failed) {
    engine_set_error(e, "cannot list Csound's channels (out of memory)");
    status = CSJ_ERR_NO_MEMORY;
  }
  size_t length = 0;
  bool short_of_memory = false;
  char *live =
    status == CSJ_SUCCESS ? live_journal_copy(&e->journal, &length, &short_of_memory) : NULL;
  if (status == CSJ_SUCCESS && (!live || short_of_memory)) {
    engine_set_error(e, "the live journal is incomplete (out of memory)");
    status = CSJ_ERR_NO_MEMORY;
  }
  if (status == CSJ_SUCCESS) {
    status = write_whole(e, dir, LIVE_FILE, live, length);
  }
  if (status == CSJ_SUCCESS) {
    status = write_whole(e, dir, CHANNELS_FILE, channels.text, channels.length);
  }
  free(live);
  free(channels.text);
  return status;
}

/* ---- restore --------------------------------------------------------------- */

typedef struct {
  unsigned pieces;
  unsigned refused;
  unsigned channels;
  unsigned channels_refused;
  char first[300];
} Restored;

static void
note_failure(Restored *r, const char *what)
{
  if (!r->first[0]) {
    snprintf(r->first, sizeof r->first, "%s", what);
  }
}

/* Runs one piece of live.orc: @p kind is "compile" or "eval". */
static void
restore_piece(CsjEngine *e, const char *kind, unsigned number, const char *code, Restored *r)
{
  char error[256] = "";
  CsjStatus status;
  if (strcmp(kind, "eval") == 0) {
    status = csj_engine_eval_code(e, code, RESTORE_TIMEOUT_MS, NULL, error, sizeof error);
  } else {
    status = csj_engine_compile_orc(e, code, RESTORE_TIMEOUT_MS, error, sizeof error);
  }
  if (status == CSJ_SUCCESS) {
    ++r->pieces;
    return;
  }
  ++r->refused;
  char what[300];
  snprintf(what, sizeof what, "%s %u: %s", kind, number, error[0] ? error : csj_strerror(status));
  note_failure(r, what);
}

/* Splits live.orc at its ";;; csjack: KIND N" lines and runs each piece. */
static void
restore_live(CsjEngine *e, char *text, Restored *r)
{
  char *p = text;
  char kind[16] = "compile";
  unsigned number = 0;
  char *piece = NULL;
  while (p && *p) {
    char *line_end = strchr(p, '\n');
    if (strncmp(p, ENTRY_MARK, strlen(ENTRY_MARK)) == 0) {
      if (piece) {
        *p = '\0';
        restore_piece(e, kind, number, piece, r);
      }
      if (sscanf(p + strlen(ENTRY_MARK), "%15s %u", kind, &number) != 2) {
        snprintf(kind, sizeof kind, "compile");
      }
      piece = line_end ? line_end + 1 : NULL;
    }
    p = line_end ? line_end + 1 : NULL;
  }
  if (piece && *piece) {
    restore_piece(e, kind, number, piece, r);
  }
}

static void
unescape(char *s)
{
  char *out = s;
  for (char *in = s; *in; ++in) {
    if (*in == '\\' && in[1] == 'n') {
      *out++ = '\n';
      ++in;
    } else if (*in == '\\' && in[1] == '\\') {
      *out++ = '\\';
      ++in;
    } else {
      *out++ = *in;
    }
  }
  *out = '\0';
}

static void
restore_channels(CsjEngine *e, char *text, Restored *r)
{
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *name = strchr(line, ' ');
    char *value = name ? strchr(name + 1, ' ') : NULL;
    if (!name || !value) {
      continue;
    }
    *name++ = '\0';
    *value++ = '\0';
    CsjStatus status = CSJ_ERR_BAD_ARG;
    if (strcmp(line, "control") == 0) {
      char *end = NULL;
      const double v = strtod(value, &end);
      status = end != value ? csj_engine_set_control(e, name, v) : CSJ_ERR_BAD_ARG;
    } else if (strcmp(line, "string") == 0) {
      unescape(value);
      status = csj_engine_set_string_channel(e, name, value);
    }
    if (status == CSJ_SUCCESS) {
      ++r->channels;
    } else {
      ++r->channels_refused;
      char what[300];
      snprintf(what, sizeof what, "channel %s: %s", name, csj_strerror(status));
      note_failure(r, what);
    }
  }
}

/* DIR/NAME's text, or NULL when there is none (*status says why, FILE for
 * a file that exists and cannot be read). */
static char *
read_saved(CsjEngine *e, const char *dir, const char *name, CsjStatus *status)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (access(path, F_OK) != 0) {
    return NULL;
  }
  char *text = NULL;
  char why[512];
  if (text_file_read(path, false, &text, why, sizeof why) != CSJ_SUCCESS) {
    engine_set_error(e, "%s", why);
    *status = CSJ_ERR_FILE;
    return NULL;
  }
  return text;
}

CsjStatus
csj_engine_restore_state(CsjEngine *e, const char *dir, char *report, size_t report_size)
{
  if (report && report_size) {
    report[0] = '\0';
  }
  if (!e || !dir) {
    return CSJ_ERR_BAD_ARG;
  }
  if (atomic_load_explicit(&e->state, memory_order_acquire) != ENGINE_PERFORMING) {
    engine_set_error(e, "restore needs a started performance");
    return CSJ_ERR_STATE;
  }
  CsjStatus status = CSJ_SUCCESS;
  char *live = read_saved(e, dir, LIVE_FILE, &status);
  char *channels = status == CSJ_SUCCESS ? read_saved(e, dir, CHANNELS_FILE, &status) : NULL;
  if (status == CSJ_SUCCESS && !live && !channels) {
    engine_set_error(e, "'%s' holds no saved state (%s, %s)", dir, LIVE_FILE, CHANNELS_FILE);
    status = CSJ_ERR_FILE;
  }
  Restored r = {0};
  if (status == CSJ_SUCCESS) {
    if (live) {
      restore_live(e, live, &r);
    }
    if (channels) {
      restore_channels(e, channels, &r);
    }
    /* When it returns, the state is in place (string channels are set
     * through the ring). */
    (void)csj_engine_flush(e, RESTORE_TIMEOUT_MS);
    if (r.refused || r.channels_refused) {
      status = CSJ_ERR_COMPILE;
      engine_set_error(e, "restored with failures: %s", r.first);
    }
  }
  if (report && report_size && (live || channels)) {
    snprintf(report, report_size, "restored %u pieces of code and %u channels from '%s'%s%s",
             r.pieces, r.channels, dir, r.first[0] ? "; first failure: " : "", r.first);
  }
  free(live);
  free(channels);
  return status;
}

uint64_t
csj_engine_state_changes(const CsjEngine *e)
{
  if (!e) {
    return 0;
  }
  return atomic_load_explicit(&((CsjEngine *)e)->journal.changes, memory_order_relaxed);
}
