/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one reader of csjack's text files (text_file.h). */

#include "text_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static CsjStatus
refuse(char *text, int fd, CsjStatus status, char *why, size_t why_size, const char *fmt,
       const char *path, const char *detail)
{
  snprintf(why, why_size, fmt, path, detail);
  free(text);
  close(fd);
  return status;
}

CsjStatus
text_file_read(const char *path, bool regular_only, char **out, char *why, size_t why_size)
{
  *out = NULL;
  const int fd = open(path, O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) {
    snprintf(why, why_size, "cannot open '%s': %s", path, strerror(errno));
    return CSJ_ERR_FILE;
  }
  struct stat st;
  if (regular_only && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    return refuse(NULL, fd, CSJ_ERR_FILE, why, why_size, "'%s' is not a regular file%s", path, "");
  }
  size_t cap = 1 << 16;
  size_t len = 0;
  char *text = malloc(cap);
  for (;;) {
    if (!text) {
      return refuse(NULL, fd, CSJ_ERR_NO_MEMORY, why, why_size, "cannot read '%s': %s", path,
                    "out of memory");
    }
    if (len + 1 == cap) {
      if (cap >= TEXT_FILE_MAX) {
        return refuse(text, fd, CSJ_ERR_TOO_BIG, why, why_size, "cannot read '%s': %s", path,
                      "larger than 64 MiB");
      }
      char *bigger = realloc(text, cap * 2);
      if (!bigger) {
        return refuse(text, fd, CSJ_ERR_NO_MEMORY, why, why_size, "cannot read '%s': %s", path,
                      "out of memory");
      }
      text = bigger;
      cap *= 2;
    }
    const ssize_t got = read(fd, text + len, cap - len - 1);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return refuse(text, fd, CSJ_ERR_FILE, why, why_size, "cannot read '%s': %s", path,
                    strerror(errno));
    }
    if (got == 0) {
      break;
    }
    len += (size_t)got;
  }
  close(fd);
  text[len] = '\0';
  if (memchr(text, '\0', len)) {
    snprintf(why, why_size, "'%s' contains a NUL byte (not an orchestra)", path);
    free(text);
    return CSJ_ERR_FILE;
  }
  *out = text;
  return CSJ_SUCCESS;
}
