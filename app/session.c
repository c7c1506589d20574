/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csjack's session folder: the library's live state and csjack.session,
 * a few key=value lines that say what the library cannot know (the file
 * played, the JACK client name). See session.h and docs/sessions.md.
 */

#include "session.h"
#include "text_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
session_make_folder(const char *dir, char *why, size_t why_size)
{
  char path[4096];
  if (!dir || !*dir || snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
    snprintf(why, why_size, "the folder name is empty or too long");
    return false;
  }
  /* Each parent in turn: a session manager hands over a path whose last
   * part does not exist yet, and --restore's user may name a new one. */
  for (char *p = path + 1; *p; ++p) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(why, why_size, "cannot make the folder '%s': %s", path, strerror(errno));
        return false;
      }
      *p = '/';
    }
  }
  struct stat st;
  if ((mkdir(path, 0755) != 0 && errno != EEXIST) || stat(path, &st) != 0) {
    snprintf(why, why_size, "cannot make the folder '%s': %s", path, strerror(errno));
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(why, why_size, "'%s' is not a folder", path);
    return false;
  }
  return true;
}

bool
session_has_live_state(const char *dir)
{
  static const char *const names[] = {"live.orc", "channels.txt"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (access(path, F_OK) == 0) {
      return true;
    }
  }
  return false;
}

/* A value on one line: a backslash and a newline escaped, so that any
 * path reads back as it was. */
static void
put_value(FILE *f, const char *key, const char *value)
{
  fprintf(f, "%s=", key);
  for (const char *p = value; *p; ++p) {
    if (*p == '\\') {
      fputs("\\\\", f);
    } else if (*p == '\n') {
      fputs("\\n", f);
    } else {
      fputc(*p, f);
    }
  }
  fputc('\n', f);
}

/* Writes DIR/csjack.session through a temporary file renamed over it: a
 * save cut short (a full disk, a kill) leaves the previous one whole. */
static bool
write_session_file(const char *dir, const SessionInfo *info, char *why, size_t why_size)
{
  char path[4200], temp[4300];
  snprintf(path, sizeof path, "%s/%s", dir, SESSION_FILE);
  snprintf(temp, sizeof temp, "%s/.%s.XXXXXX", dir, SESSION_FILE);
  const int fd = mkstemp(temp);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    snprintf(why, why_size, "cannot write '%s': %s", path, strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(temp);
    }
    return false;
  }
  fputs("# csjack session: the file played and csjack's options (csjack --restore DIR)\n", f);
  if (info->file[0]) {
    put_value(f, "file", info->file);
  }
  if (info->client_name[0]) {
    put_value(f, "client_name", info->client_name);
  }
  bool written = fflush(f) == 0 && fsync(fileno(f)) == 0;
  int err = errno;
  if (fclose(f) != 0 && written) {
    written = false;
    err = errno;
  }
  if (!written) {
    snprintf(why, why_size, "cannot write '%s': %s", path, strerror(err));
    unlink(temp);
    return false;
  }
  /* mkstemp makes it 0600; the other files of the folder are 0644. */
  (void)chmod(temp, 0644);
  if (rename(temp, path) != 0) {
    snprintf(why, why_size, "cannot write '%s': %s", path, strerror(errno));
    unlink(temp);
    return false;
  }
  return true;
}

CsjStatus
session_save(CsjEngine *e, const char *dir, const SessionInfo *info, char *why, size_t why_size)
{
  snprintf(why, why_size, "%s", "");
  const CsjStatus st = csj_engine_save_state(e, dir);
  if (st != CSJ_SUCCESS) {
    snprintf(why, why_size, "%s", csj_last_error(e));
    return st;
  }
  return write_session_file(dir, info, why, why_size) ? CSJ_SUCCESS : CSJ_ERR_FILE;
}

/* Undoes put_value's escapes in place. */
static void
unescape(char *s)
{
  char *o = s;
  for (const char *p = s; *p; ++p) {
    if (*p == '\\' && (p[1] == '\\' || p[1] == 'n')) {
      *o++ = p[1] == 'n' ? '\n' : '\\';
      ++p;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
}

/* Takes one "key=value" line; false when it is not one, or too long. */
static bool
take_line(char *line, SessionInfo *info)
{
  if (line[0] == '\0' || line[0] == '#') {
    return true;
  }
  char *eq = strchr(line, '=');
  if (!eq) {
    return false;
  }
  *eq = '\0';
  char *value = eq + 1;
  unescape(value);
  char *to = NULL;
  size_t size = 0;
  if (strcmp(line, "file") == 0) {
    to = info->file;
    size = sizeof info->file;
  } else if (strcmp(line, "client_name") == 0) {
    to = info->client_name;
    size = sizeof info->client_name;
  } else {
    return true;
  }
  return snprintf(to, size, "%s", value) < (int)size;
}

int
session_read(const char *dir, SessionInfo *info, char *why, size_t why_size)
{
  memset(info, 0, sizeof *info);
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, SESSION_FILE);
  if (access(path, F_OK) != 0) {
    return 0;
  }
  char *text = NULL;
  if (text_file_read(path, true, &text, why, why_size) != CSJ_SUCCESS) {
    return -1;
  }
  int line_number = 1;
  for (char *line = text; line && *line; ++line_number) {
    char *end = strchr(line, '\n');
    if (end) {
      *end = '\0';
    }
    if (!take_line(line, info)) {
      snprintf(why, why_size, "'%s', line %d: not a key=value line of a csjack session", path,
               line_number);
      free(text);
      return -1;
    }
    line = end ? end + 1 : NULL;
  }
  free(text);
  return 1;
}
