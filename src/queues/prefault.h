/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prefaulting: memory the JACK thread will write is touched once, page by
 * page, when it is allocated (off the JACK thread). Fresh memory from
 * malloc or calloc is often not mapped yet (large blocks come straight
 * from mmap, and calloc skips clearing them), so the JACK thread's first
 * write to each page would otherwise take a page fault: a trip into the
 * kernel, which may have to find and clear a page.
 */

#ifndef CSJ_PREFAULT_H
#define CSJ_PREFAULT_H

#include <stddef.h>

/* A volatile store per page, so that the compiler keeps it. The value is 0:
 * the memory must be zeroed (calloc) or not yet in use. */
static inline void
csj_prefault(void *memory, size_t bytes)
{
  volatile char *p = memory;
  for (size_t i = 0; i < bytes; i += 4096) {
    p[i] = 0;
  }
  if (bytes) {
    p[bytes - 1] = 0;
  }
}

#endif
