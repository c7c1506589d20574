/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Screens the #include directives of Csound code before Csound's parser
 * reads them. The parser reads an included file to its end on the thread
 * that parses, with no time limit: "#include "/dev/stdin"", a named pipe
 * or a device would hold that thread, and every compile and evalCode
 * queued after it, for ever (and "/dev/zero" would also eat all memory).
 *
 * Each `#include` names its file between two equal delimiter characters
 * ("name", |name|, ...). The name is looked up where Csound looks: as
 * given (absolute, or relative to the current directory), then in each
 * directory of Csound's INCDIR search path (the environment's INCDIR, any
 * --env:INCDIR option, and the folders csjack adds for the file it
 * compiles: csound_paths.c). A name found there that is not a regular file
 * or a directory is refused. A name that is not found
 * is left to Csound, which reports it; so are `#includestr` names that use
 * macros, which only Csound can expand.
 *
 * Not real-time safe: stat() on the caller's thread.
 */

#ifndef CSJ_INCLUDE_CHECK_H
#define CSJ_INCLUDE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/** True when @p code (NUL-terminated) includes a file that would block
 *  Csound's parser; @p why then says which one (at most @p why_size bytes,
 *  NUL-terminated). @p dirs: Csound's INCDIR, folders separated by ':' or
 *  ';' as Csound reads them (NULL: none). */
bool include_check_blocks(const char *code, const char *dirs, char *why, size_t why_size);

#endif
