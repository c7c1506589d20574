/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one reader of csjack's text files (a CSD, an orchestra): the
 * library's csj_engine_compile_file, the file the csjack command plays,
 * and the console's :compile FILE.
 *
 * A file is read once, as a stream, so that a pipe works too
 * (csjack <(make-orchestra)); one without end (/dev/zero) is cut at
 * TEXT_FILE_MAX with an error. Text with a NUL byte is not an orchestra:
 * Csound would stop reading at it, silently.
 */

#ifndef CSJ_TEXT_FILE_H
#define CSJ_TEXT_FILE_H

#include "csjack.h"

#include <stdbool.h>
#include <stddef.h>

/* The largest text file csjack reads. */
#define TEXT_FILE_MAX (64u << 20)

/*
 * Reads @p path whole into a malloc'd, NUL-terminated *out. With
 * @p regular_only, anything but a regular file is refused without being
 * opened for long (a named pipe would hold the caller until a writer came).
 * Returns CSJ_SUCCESS; CSJ_ERR_FILE (cannot open or read, not a regular
 * file, a NUL byte), CSJ_ERR_TOO_BIG (over TEXT_FILE_MAX) or
 * CSJ_ERR_NO_MEMORY, with @p why saying so, naming the file. Any thread
 * but the JACK thread; blocks on the file system.
 */
CsjStatus text_file_read(const char *path, bool regular_only, char **out, char *why,
                         size_t why_size);

#endif
