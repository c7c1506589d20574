/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Process-wide counting of blocking and allocating calls on the JACK
 * thread, split into csjack's share and Csound's share.
 *
 * rt_wrap.h counts only what csjack's own objects call (-Wl,--wrap works
 * on one link). This one sees every call in the process: rt_interpose.c
 * defines malloc, free, pthread_mutex_lock, write, ... in the executable
 * itself, and the dynamic linker binds every shared object's calls to
 * those (an executable's definitions come first in symbol lookup); each
 * forwards to glibc (__libc_malloc, or dlsym(RTLD_NEXT)). Calls inside
 * libc that do not go through its PLT (printf's own write, for example)
 * are counted once, at the entry the caller used.
 *
 * Attribution, per call, on the JACK thread only:
 *   - inside one of the Csound API functions csjack calls on that thread
 *     (csoundPerformKsmps, csoundScoreEvent, csoundCompileTree, ...; the
 *     test links with -Wl,--wrap for each, see csound_share_wrapped) the
 *     call is Csound's, counted under that entry point;
 *   - otherwise, while csjack's process callback runs (the test wraps
 *     jack_set_process_callback to bracket it), the call is csjack's;
 *   - outside the callback it is libjack's own waiting for the next cycle,
 *     and not counted.
 * Csound calls csjack back from inside (the message callback, which
 * formats into a ring): such calls land in Csound's share, by design of
 * the bracket; rt_wrap.h's test shows they are zero anyway.
 *
 * Not built with sanitizers: they interpose malloc themselves.
 */
#ifndef CSJ_RT_INTERPOSE_H
#define CSJ_RT_INTERPOSE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  /* allocation */
  RI_MALLOC,
  RI_CALLOC,
  RI_REALLOC,
  RI_FREE, /* of a non-NULL pointer */
  RI_MEMALIGN, /* posix_memalign, aligned_alloc, memalign */
  /* locks and waits */
  RI_MUTEX_LOCK,
  RI_RWLOCK,
  RI_COND_WAIT,
  RI_SEM_WAIT,
  /* I/O */
  RI_WRITE,   /* write, pwrite */
  RI_READ,    /* read, pread */
  RI_STDIO,   /* printf family, fputs, puts, fwrite, fread, fflush, fputc */
  RI_OPEN,    /* open, openat, fopen, close, fclose, lseek */
  /* sleeping and waiting for events */
  RI_SLEEP,   /* nanosleep, clock_nanosleep, usleep, sleep */
  RI_POLL,    /* poll, select */
  RI_THREAD,  /* pthread_create, pthread_join */
  RI_FORBIDDEN_COUNT,
  /* Allowed on an RT thread, counted for information. */
  RI_MUTEX_TRYLOCK = RI_FORBIDDEN_COUNT,
  RI_MUTEX_UNLOCK,
  RI_SEM_POST,
  RI_SPIN_LOCK,
  RI_FN_COUNT,
} RiFn;

/* Who made the call. RI_CSJACK is csjack's own code in the callback; the
 * others are the Csound API function that csjack was inside. */
typedef enum {
  RI_CSJACK,
  RI_CS_PERFORM_KSMPS,
  RI_CS_SCORE_EVENT,
  RI_CS_SCORE_EVENT_ABSOLUTE,
  RI_CS_INPUT_MESSAGE,
  RI_CS_SET_SCORE_OFFSET,
  RI_CS_COMPILE_TREE,
  RI_CS_GET_TABLE,
  RI_CS_GET_CHANNEL_PTR,
  RI_CS_SET_STRING_CHANNEL,
  RI_CS_GET_STRING_CHANNEL,
  RI_CS_MESSAGE,
  RI_CS_OTHER, /* any other wrapped Csound call (see rt_interpose.c) */
  RI_WHO_COUNT,
} RiWho;

const char *ri_fn_name(RiFn fn);
const char *ri_who_name(RiWho who);

/** Calls of @p fn by @p who on the JACK thread since the last reset. */
uint64_t ri_count(RiWho who, RiFn fn);

/** Sum over the forbidden functions. */
uint64_t ri_forbidden(RiWho who);

/** Times csjack's process callback ran, and Csound entries made, since reset. */
uint64_t ri_callbacks(void);
uint64_t ri_entries(RiWho who);

/** Zeroes every counter and forgets the call sites. */
void ri_reset(void);

/**
 * Prints, for @p who and @p fn, the distinct call stacks seen (up to 8,
 * each with its count), symbolised by dladdr: nearest exported symbol and
 * object. Not for the JACK thread.
 */
void ri_print_sites(RiWho who, RiFn fn, const char *indent);

#endif
