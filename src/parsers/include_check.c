/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "include_check.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What stat() says of PATH: true when it exists and reading it could
 * block (a pipe, a socket, a character or block device). */
static bool
path_blocks(const char *path, const char **kind)
{
  struct stat st;
  if (stat(path, &st) != 0) {
    return false;
  }
  if (S_ISFIFO(st.st_mode)) {
    *kind = "a named pipe";
  } else if (S_ISCHR(st.st_mode)) {
    *kind = "a character device";
  } else if (S_ISBLK(st.st_mode)) {
    *kind = "a block device";
  } else if (S_ISSOCK(st.st_mode)) {
    *kind = "a socket";
  } else {
    return false;
  }
  return true;
}

/* Looks NAME up as Csound does: as given, then in DIRS (separated by ':'
 * or ';'). */
static bool
name_blocks(const char *name, const char *dirs, const char **kind)
{
  if (path_blocks(name, kind)) {
    return true;
  }
  if (name[0] == '/') {
    return false;
  }
  while (dirs && *dirs) {
    const size_t n = strcspn(dirs, ":;");
    char path[PATH_MAX];
    if (n > 0 && (size_t)snprintf(path, sizeof path, "%.*s/%s", (int)n, dirs, name) < sizeof path &&
        path_blocks(path, kind)) {
      return true;
    }
    dirs += n;
    dirs += *dirs != '\0';
  }
  return false;
}

/* Skips a comment at P (';' or '//' to the end of the line, or a block
 * comment); returns P itself when none starts there. */
static const char *
skip_comment(const char *p)
{
  if (*p == ';' || (p[0] == '/' && p[1] == '/')) {
    return p + strcspn(p, "\n");
  }
  if (p[0] == '/' && p[1] == '*') {
    const char *end = strstr(p + 2, "*/");
    return end ? end + 2 : p + strlen(p);
  }
  return p;
}

bool
include_check_blocks(const char *code, const char *dirs, char *why, size_t why_size)
{
  static const char directive[] = "#include";
  const size_t directive_len = sizeof directive - 1;
  for (const char *p = code; *p;) {
    const char *after = skip_comment(p);
    if (after != p) {
      p = after;
      continue;
    }
    if (*p == '"') { /* a string: its text is not a directive */
      p += 1 + strcspn(p + 1, "\"\n");
      p += *p == '"';
      continue;
    }
    if (strncmp(p, directive, directive_len) != 0) {
      ++p;
      continue;
    }
    p += directive_len;
    if (strncmp(p, "str", 3) == 0) {
      p += 3;
    }
    p += strspn(p, " \t");
    const char delim = *p;
    if (delim == '\0' || delim == '\n' || delim == '\r') {
      continue;
    }
    const char *name = p + 1;
    const size_t len = strcspn(name, (const char[]){delim, '\n', '\0'});
    p = name + len;
    if (*p != delim) {
      continue; /* unterminated: Csound's parser reports it */
    }
    ++p;
    char path[PATH_MAX];
    if (len == 0 || len >= sizeof path) {
      continue;
    }
    memcpy(path, name, len);
    path[len] = '\0';
    if (strchr(path, '$')) {
      continue; /* a macro: only Csound can expand it */
    }
    const char *kind = NULL;
    if (name_blocks(path, dirs, &kind)) {
      snprintf(why, why_size,
               "#include \"%s\" is %s, not a file: Csound's parser would read it "
               "without end; refused",
               path, kind);
      return true;
    }
  }
  return false;
}
