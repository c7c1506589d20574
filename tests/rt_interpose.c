/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Process-wide interposition: see rt_interpose.h. */

#undef _FORTIFY_SOURCE
/* Define open and open64 (fopen, fopen64) both: no redirection of one to
 * the other by the headers. off_t is 64 bits on x86_64 either way. */
#undef _FILE_OFFSET_BITS
#include "rt_interpose.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <jack/jack.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

/* ---- state: thread-local brackets, atomic counters ---------------------------------- */

static _Thread_local bool in_callback; /* csjack's process callback is running */
static _Thread_local int current_who;  /* RI_CSJACK, or the Csound entry we are in */
static _Thread_local bool in_hook;     /* recording a stack: don't count ourselves */

static _Atomic uint64_t counts[RI_WHO_COUNT][RI_FN_COUNT];
static _Atomic uint64_t entries[RI_WHO_COUNT];
static _Atomic uint64_t callbacks;

enum { SITES = 8, FRAMES = 10, SKIP = 2 /* note() and the interposed function */ };

typedef struct {
  _Atomic uint64_t hash; /* 0: free slot */
  _Atomic uint64_t count;
  void *frames[FRAMES];
  int depth;
} Site;

static Site sites[RI_WHO_COUNT][RI_FN_COUNT][SITES];

static const char *const FN_NAMES[RI_FN_COUNT] = {
    [RI_MALLOC] = "malloc",
    [RI_CALLOC] = "calloc",
    [RI_REALLOC] = "realloc",
    [RI_FREE] = "free",
    [RI_MEMALIGN] = "posix_memalign/aligned_alloc",
    [RI_MUTEX_LOCK] = "pthread_mutex_lock",
    [RI_RWLOCK] = "pthread_rwlock_*lock",
    [RI_COND_WAIT] = "pthread_cond_(timed)wait",
    [RI_SEM_WAIT] = "sem_(timed)wait, barrier",
    [RI_WRITE] = "write",
    [RI_READ] = "read",
    [RI_STDIO] = "stdio (printf, fwrite, ...)",
    [RI_OPEN] = "open/close/seek",
    [RI_SLEEP] = "sleep",
    [RI_POLL] = "poll/select",
    [RI_THREAD] = "pthread_create/join",
    [RI_MUTEX_TRYLOCK] = "pthread_mutex_trylock",
    [RI_MUTEX_UNLOCK] = "pthread_mutex_unlock",
    [RI_SEM_POST] = "sem_post",
    [RI_SPIN_LOCK] = "pthread_spin_(try)lock",
};

static const char *const WHO_NAMES[RI_WHO_COUNT] = {
    [RI_CSJACK] = "csjack (its own code)",
    [RI_CS_PERFORM_KSMPS] = "csoundPerformKsmps",
    [RI_CS_SCORE_EVENT] = "csoundScoreEvent",
    [RI_CS_SCORE_EVENT_ABSOLUTE] = "csoundScoreEventAbsolute",
    [RI_CS_INPUT_MESSAGE] = "csoundInputMessage",
    [RI_CS_SET_SCORE_OFFSET] = "csoundSetScoreOffsetSeconds",
    [RI_CS_COMPILE_TREE] = "csoundCompileTree (merge)",
    [RI_CS_GET_TABLE] = "csoundGetTable",
    [RI_CS_GET_CHANNEL_PTR] = "csoundGetChannelPtr",
    [RI_CS_SET_STRING_CHANNEL] = "csoundSetStringChannel",
    [RI_CS_GET_STRING_CHANNEL] = "csoundGetStringChannel",
    [RI_CS_MESSAGE] = "csoundMessageS",
    [RI_CS_OTHER] = "other Csound call",
};

const char *ri_fn_name(RiFn fn) { return FN_NAMES[fn]; }
const char *ri_who_name(RiWho who) { return WHO_NAMES[who]; }

uint64_t ri_count(RiWho who, RiFn fn) { return atomic_load(&counts[who][fn]); }
uint64_t ri_callbacks(void) { return atomic_load(&callbacks); }
uint64_t ri_entries(RiWho who) { return atomic_load(&entries[who]); }

uint64_t ri_forbidden(RiWho who)
{
  uint64_t n = 0;
  for (int f = 0; f < RI_FORBIDDEN_COUNT; f++)
    n += ri_count(who, (RiFn)f);
  return n;
}

void ri_reset(void)
{
  for (int w = 0; w < RI_WHO_COUNT; w++) {
    atomic_store(&entries[w], 0);
    for (int f = 0; f < RI_FN_COUNT; f++) {
      atomic_store(&counts[w][f], 0);
      for (int s = 0; s < SITES; s++) {
        atomic_store(&sites[w][f][s].count, 0);
        atomic_store(&sites[w][f][s].hash, 0);
      }
    }
  }
  atomic_store(&callbacks, 0);
}

/* Counts a call made on the JACK thread inside csjack's callback, and keeps
 * its call stack (backtrace() is warmed up at load, so it does not
 * allocate here; the stacks are the instrumentation's cost, not csjack's). */
static void note(RiFn fn)
{
  if (!in_callback || in_hook)
    return;
  const int who = current_who;
  atomic_fetch_add_explicit(&counts[who][fn], 1, memory_order_relaxed);
  in_hook = true;
  void *frames[FRAMES + SKIP];
  const int depth = backtrace(frames, FRAMES + SKIP) - SKIP;
  uint64_t hash = 1469598103934665603u;
  for (int i = 0; i < depth; i++)
    hash = (hash ^ (uint64_t)(uintptr_t)frames[SKIP + i]) * 1099511628211u;
  hash |= 1;
  for (int s = 0; s < SITES; s++) {
    Site *site = &sites[who][fn][s];
    uint64_t seen = atomic_load(&site->hash);
    if (seen == 0) {
      uint64_t expected = 0;
      /* Claim it: frames are written before the count is, and read
       * (off the JACK thread, after the run) only when count > 0. */
      if (atomic_compare_exchange_strong(&site->hash, &expected, hash)) {
        site->depth = depth > 0 ? depth : 0;
        memcpy(site->frames, frames + SKIP, sizeof(void *) * (size_t)site->depth);
        atomic_fetch_add(&site->count, 1);
        break;
      }
      seen = expected;
    }
    if (seen == hash) {
      atomic_fetch_add(&site->count, 1);
      break;
    }
  }
  in_hook = false;
}

void ri_print_sites(RiWho who, RiFn fn, const char *indent)
{
  for (int s = 0; s < SITES; s++) {
    Site *site = &sites[who][fn][s];
    const uint64_t n = atomic_load(&site->count);
    if (n == 0)
      continue;
    printf("%s%llu x from", indent, (unsigned long long)n);
    /* Innermost first, up to the csjack wrapper of the Csound entry point.
     * Debian strips Csound's static symbols: such frames show as
     * object+offset (addr2line -e with Csound's debug symbols names them). */
    for (int i = 0; i < site->depth; i++) {
      Dl_info info;
      if (!dladdr(site->frames[i], &info) || !info.dli_fname)
        continue;
      if (info.dli_sname && strncmp(info.dli_sname, "__wrap_", 7) == 0)
        break;
      const char *obj = strrchr(info.dli_fname, '/');
      obj = obj ? obj + 1 : info.dli_fname;
      if (info.dli_sname)
        printf("%s %s", i ? " <" : "", info.dli_sname);
      else
        printf("%s %s+0x%lx", i ? " <" : "", obj,
               (unsigned long)((uintptr_t)site->frames[i] - (uintptr_t)info.dli_fbase - 1));
    }
    printf("\n");
  }
}

/* ---- real functions ------------------------------------------------------------------- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

/* Resolved once, lazily (dlsym may allocate: that goes to __libc_*). */
#define REAL(name, type)                                                   \
  static type real_##name(void)                                           \
  {                                                                       \
    static _Atomic(type) fn;                                              \
    type f = atomic_load_explicit(&fn, memory_order_acquire);             \
    if (!f) {                                                             \
      void *sym = dlsym(RTLD_NEXT, #name);                                \
      memcpy(&f, &sym, sizeof f); /* ISO C: no object-to-function cast */ \
      atomic_store_explicit(&fn, f, memory_order_release);                \
    }                                                                     \
    return f;                                                             \
  }

typedef int (*mutex_fn)(pthread_mutex_t *);
typedef int (*rw_fn)(pthread_rwlock_t *);
typedef int (*cond_wait_fn)(pthread_cond_t *, pthread_mutex_t *);
typedef int (*cond_timed_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
typedef int (*sem_fn)(sem_t *);
typedef int (*sem_timed_fn)(sem_t *, const struct timespec *);
typedef int (*barrier_fn)(pthread_barrier_t *);
typedef int (*spin_fn)(pthread_spinlock_t *);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef int (*vfprintf_fn)(FILE *, const char *, va_list);
typedef int (*vfprintf_chk_fn)(FILE *, int, const char *, va_list);
typedef int (*fputs_fn)(const char *, FILE *);
typedef int (*puts_fn)(const char *);
typedef int (*fputc_fn)(int, FILE *);
typedef size_t (*fwrite_fn)(const void *, size_t, size_t, FILE *);
typedef size_t (*fread_fn)(void *, size_t, size_t, FILE *);
typedef int (*fflush_fn)(FILE *);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef FILE *(*fopen_fn)(const char *, const char *);
typedef int (*close_fn)(int);
typedef int (*fclose_fn)(FILE *);
typedef off_t (*lseek_fn)(int, off_t, int);
typedef int (*fseek_fn)(FILE *, long, int);
typedef int (*nanosleep_fn)(const struct timespec *, struct timespec *);
typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);
typedef int (*usleep_fn)(useconds_t);
typedef unsigned (*sleep_fn)(unsigned);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef int (*select_fn)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*join_fn)(pthread_t, void **);

REAL(pthread_mutex_lock, mutex_fn)
REAL(pthread_mutex_trylock, mutex_fn)
REAL(pthread_mutex_unlock, mutex_fn)
REAL(pthread_rwlock_rdlock, rw_fn)
REAL(pthread_rwlock_wrlock, rw_fn)
REAL(pthread_cond_wait, cond_wait_fn)
REAL(pthread_cond_timedwait, cond_timed_fn)
REAL(sem_wait, sem_fn)
REAL(sem_timedwait, sem_timed_fn)
REAL(sem_post, sem_fn)
REAL(pthread_barrier_wait, barrier_fn)
REAL(pthread_spin_lock, spin_fn)
REAL(pthread_spin_trylock, spin_fn)
REAL(write, write_fn)
REAL(read, read_fn)
REAL(pwrite, pwrite_fn)
REAL(pread, pread_fn)
REAL(vfprintf, vfprintf_fn)
REAL(__vfprintf_chk, vfprintf_chk_fn)
REAL(fputs, fputs_fn)
REAL(puts, puts_fn)
REAL(fputc, fputc_fn)
REAL(putc, fputc_fn)
REAL(fwrite, fwrite_fn)
REAL(fread, fread_fn)
REAL(fflush, fflush_fn)
REAL(open, open_fn)
REAL(open64, open_fn)
REAL(openat, openat_fn)
REAL(fopen, fopen_fn)
REAL(fopen64, fopen_fn)
REAL(close, close_fn)
REAL(fclose, fclose_fn)
REAL(lseek, lseek_fn)
REAL(fseek, fseek_fn)
REAL(nanosleep, nanosleep_fn)
REAL(clock_nanosleep, clock_nanosleep_fn)
REAL(usleep, usleep_fn)
REAL(sleep, sleep_fn)
REAL(poll, poll_fn)
REAL(select, select_fn)
REAL(pthread_create, create_fn)
REAL(pthread_join, join_fn)

/* backtrace() loads libgcc_s on first use: do that now, off the JACK thread. */
__attribute__((constructor)) static void warm_up(void)
{
  void *frames[4];
  backtrace(frames, 4);
}

/* ---- allocation ----------------------------------------------------------------------- */

void *malloc(size_t n)
{
  note(RI_MALLOC);
  return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
  note(RI_CALLOC);
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
  note(RI_REALLOC);
  return __libc_realloc(p, n);
}

void free(void *p)
{
  if (p)
    note(RI_FREE);
  __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
  note(RI_MEMALIGN);
  return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
  note(RI_MEMALIGN);
  return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
  note(RI_MEMALIGN);
  void *p = __libc_memalign(align, n);
  if (!p)
    return 12; /* ENOMEM */
  *out = p;
  return 0;
}

/* ---- locks and waits ------------------------------------------------------------------ */

int pthread_mutex_lock(pthread_mutex_t *m)
{
  note(RI_MUTEX_LOCK);
  return real_pthread_mutex_lock()(m);
}

int pthread_mutex_trylock(pthread_mutex_t *m)
{
  note(RI_MUTEX_TRYLOCK);
  return real_pthread_mutex_trylock()(m);
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
  note(RI_MUTEX_UNLOCK);
  return real_pthread_mutex_unlock()(m);
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
  note(RI_RWLOCK);
  return real_pthread_rwlock_rdlock()(l);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
  note(RI_RWLOCK);
  return real_pthread_rwlock_wrlock()(l);
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
  note(RI_COND_WAIT);
  return real_pthread_cond_wait()(c, m);
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t)
{
  note(RI_COND_WAIT);
  return real_pthread_cond_timedwait()(c, m, t);
}

int sem_wait(sem_t *s)
{
  note(RI_SEM_WAIT);
  return real_sem_wait()(s);
}

int sem_timedwait(sem_t *s, const struct timespec *t)
{
  note(RI_SEM_WAIT);
  return real_sem_timedwait()(s, t);
}

int sem_post(sem_t *s)
{
  note(RI_SEM_POST);
  return real_sem_post()(s);
}

int pthread_barrier_wait(pthread_barrier_t *b)
{
  note(RI_SEM_WAIT);
  return real_pthread_barrier_wait()(b);
}

int pthread_spin_lock(pthread_spinlock_t *l)
{
  note(RI_SPIN_LOCK);
  return real_pthread_spin_lock()(l);
}

int pthread_spin_trylock(pthread_spinlock_t *l)
{
  note(RI_SPIN_LOCK);
  return real_pthread_spin_trylock()(l);
}

/* ---- I/O ------------------------------------------------------------------------------ */

ssize_t write(int fd, const void *p, size_t n)
{
  note(RI_WRITE);
  return real_write()(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
  note(RI_WRITE);
  return real_pwrite()(fd, p, n, off);
}

ssize_t read(int fd, void *p, size_t n)
{
  note(RI_READ);
  return real_read()(fd, p, n);
}

ssize_t pread(int fd, void *p, size_t n, off_t off)
{
  note(RI_READ);
  return real_pread()(fd, p, n, off);
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
  note(RI_STDIO);
  return real_vfprintf()(f, fmt, ap);
}

int vprintf(const char *fmt, va_list ap)
{
  note(RI_STDIO);
  return real_vfprintf()(stdout, fmt, ap);
}

int fprintf(FILE *f, const char *fmt, ...)
{
  note(RI_STDIO);
  va_list ap;
  va_start(ap, fmt);
  const int r = real_vfprintf()(f, fmt, ap);
  va_end(ap);
  return r;
}

int printf(const char *fmt, ...)
{
  note(RI_STDIO);
  va_list ap;
  va_start(ap, fmt);
  const int r = real_vfprintf()(stdout, fmt, ap);
  va_end(ap);
  return r;
}

/* Debian builds libcsound64 with _FORTIFY_SOURCE: its printf calls are these. */
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
  note(RI_STDIO);
  return real___vfprintf_chk()(f, flag, fmt, ap);
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
  note(RI_STDIO);
  va_list ap;
  va_start(ap, fmt);
  const int r = real___vfprintf_chk()(f, flag, fmt, ap);
  va_end(ap);
  return r;
}

int __printf_chk(int flag, const char *fmt, ...)
{
  note(RI_STDIO);
  va_list ap;
  va_start(ap, fmt);
  const int r = real___vfprintf_chk()(stdout, flag, fmt, ap);
  va_end(ap);
  return r;
}

int fputs(const char *s, FILE *f)
{
  note(RI_STDIO);
  return real_fputs()(s, f);
}

int puts(const char *s)
{
  note(RI_STDIO);
  return real_puts()(s);
}

int fputc(int c, FILE *f)
{
  note(RI_STDIO);
  return real_fputc()(c, f);
}

#undef putc
int putc(int c, FILE *f)
{
  note(RI_STDIO);
  return real_putc()(c, f);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
  note(RI_STDIO);
  return real_fwrite()(p, size, n, f);
}

size_t fread(void *p, size_t size, size_t n, FILE *f)
{
  note(RI_STDIO);
  return real_fread()(p, size, n, f);
}

int fflush(FILE *f)
{
  note(RI_STDIO);
  return real_fflush()(f);
}

int open(const char *path, int flags, ...)
{
  note(RI_OPEN);
  va_list ap;
  va_start(ap, flags);
  const int mode = va_arg(ap, int);
  va_end(ap);
  return real_open()(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
  note(RI_OPEN);
  va_list ap;
  va_start(ap, flags);
  const int mode = va_arg(ap, int);
  va_end(ap);
  return real_open64()(path, flags, mode);
}

int openat(int dir, const char *path, int flags, ...)
{
  note(RI_OPEN);
  va_list ap;
  va_start(ap, flags);
  const int mode = va_arg(ap, int);
  va_end(ap);
  return real_openat()(dir, path, flags, mode);
}

FILE *fopen(const char *path, const char *mode)
{
  note(RI_OPEN);
  return real_fopen()(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
  note(RI_OPEN);
  return real_fopen64()(path, mode);
}

int close(int fd)
{
  note(RI_OPEN);
  return real_close()(fd);
}

int fclose(FILE *f)
{
  note(RI_OPEN);
  return real_fclose()(f);
}

off_t lseek(int fd, off_t off, int whence)
{
  note(RI_OPEN);
  return real_lseek()(fd, off, whence);
}

int fseek(FILE *f, long off, int whence)
{
  note(RI_OPEN);
  return real_fseek()(f, off, whence);
}

/* ---- sleeping, polling, threads --------------------------------------------------------- */

int nanosleep(const struct timespec *t, struct timespec *rem)
{
  note(RI_SLEEP);
  return real_nanosleep()(t, rem);
}

int clock_nanosleep(clockid_t c, int flags, const struct timespec *t, struct timespec *rem)
{
  note(RI_SLEEP);
  return real_clock_nanosleep()(c, flags, t, rem);
}

int usleep(useconds_t us)
{
  note(RI_SLEEP);
  return real_usleep()(us);
}

unsigned sleep(unsigned s)
{
  note(RI_SLEEP);
  return real_sleep()(s);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
  note(RI_POLL);
  return real_poll()(fds, n, timeout);
}

int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
  note(RI_POLL);
  return real_select()(n, r, w, e, t);
}

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
  note(RI_THREAD);
  return real_pthread_create()(t, a, fn, arg);
}

int pthread_join(pthread_t t, void **ret)
{
  note(RI_THREAD);
  return real_pthread_join()(t, ret);
}

/* ---- the brackets: csjack's process callback, and the Csound entries ------------------- */

typedef struct {
  JackProcessCallback fn;
  void *arg;
} Bracket;

static Bracket brackets[8];
static atomic_int n_brackets;

static int bracketed_process(jack_nframes_t nframes, void *arg)
{
  const Bracket *b = arg;
  in_callback = true;
  current_who = RI_CSJACK;
  const int r = b->fn(nframes, b->arg);
  in_callback = false;
  atomic_fetch_add_explicit(&callbacks, 1, memory_order_relaxed);
  return r;
}

int __real_jack_set_process_callback(jack_client_t *, JackProcessCallback, void *);

int __wrap_jack_set_process_callback(jack_client_t *c, JackProcessCallback fn, void *arg)
{
  const int i = atomic_fetch_add(&n_brackets, 1);
  if (i >= 8)
    abort(); /* more clients than a test makes */
  brackets[i] = (Bracket){fn, arg};
  return __real_jack_set_process_callback(c, bracketed_process, &brackets[i]);
}

#define ENTER(who)                                                         \
  const int saved_who = current_who;                                       \
  current_who = (who);                                                     \
  if (in_callback)                                                         \
    atomic_fetch_add_explicit(&entries[who], 1, memory_order_relaxed)
#define LEAVE() current_who = saved_who

/* Prototypes with plain pointers (MYFLT is double in csound64); the real
 * ones are in <csound/csound.h>, which this file does not need. */
int __real_csoundPerformKsmps(void *);
int __real_csoundScoreEvent(void *, char, const double *, long);
int __real_csoundScoreEventAbsolute(void *, char, const double *, long, double);
void __real_csoundInputMessage(void *, const char *);
void __real_csoundSetScoreOffsetSeconds(void *, double);
int __real_csoundCompileTree(void *, void *);
int __real_csoundGetTable(void *, double **, int);
int __real_csoundGetChannelPtr(void *, double **, const char *, int);
void __real_csoundSetStringChannel(void *, const char *, char *);
void __real_csoundGetStringChannel(void *, const char *, char *);
int __real_csoundGetChannelDatasize(void *, const char *);
void csoundMessageV(void *, int, const char *, va_list);

int __wrap_csoundPerformKsmps(void *cs)
{
  ENTER(RI_CS_PERFORM_KSMPS);
  const int r = __real_csoundPerformKsmps(cs);
  LEAVE();
  return r;
}

int __wrap_csoundScoreEvent(void *cs, char type, const double *p, long n)
{
  ENTER(RI_CS_SCORE_EVENT);
  const int r = __real_csoundScoreEvent(cs, type, p, n);
  LEAVE();
  return r;
}

int __wrap_csoundScoreEventAbsolute(void *cs, char type, const double *p, long n, double t)
{
  ENTER(RI_CS_SCORE_EVENT_ABSOLUTE);
  const int r = __real_csoundScoreEventAbsolute(cs, type, p, n, t);
  LEAVE();
  return r;
}

void __wrap_csoundInputMessage(void *cs, const char *line)
{
  ENTER(RI_CS_INPUT_MESSAGE);
  __real_csoundInputMessage(cs, line);
  LEAVE();
}

void __wrap_csoundSetScoreOffsetSeconds(void *cs, double t)
{
  ENTER(RI_CS_SET_SCORE_OFFSET);
  __real_csoundSetScoreOffsetSeconds(cs, t);
  LEAVE();
}

int __wrap_csoundCompileTree(void *cs, void *tree)
{
  ENTER(RI_CS_COMPILE_TREE);
  const int r = __real_csoundCompileTree(cs, tree);
  LEAVE();
  return r;
}

int __wrap_csoundGetTable(void *cs, double **p, int n)
{
  ENTER(RI_CS_GET_TABLE);
  const int r = __real_csoundGetTable(cs, p, n);
  LEAVE();
  return r;
}

int __wrap_csoundGetChannelPtr(void *cs, double **p, const char *name, int type)
{
  ENTER(RI_CS_GET_CHANNEL_PTR);
  const int r = __real_csoundGetChannelPtr(cs, p, name, type);
  LEAVE();
  return r;
}

void __wrap_csoundSetStringChannel(void *cs, const char *name, char *text)
{
  ENTER(RI_CS_SET_STRING_CHANNEL);
  __real_csoundSetStringChannel(cs, name, text);
  LEAVE();
}

void __wrap_csoundGetStringChannel(void *cs, const char *name, char *out)
{
  ENTER(RI_CS_GET_STRING_CHANNEL);
  __real_csoundGetStringChannel(cs, name, out);
  LEAVE();
}

int __wrap_csoundGetChannelDatasize(void *cs, const char *name)
{
  ENTER(RI_CS_OTHER);
  const int r = __real_csoundGetChannelDatasize(cs, name);
  LEAVE();
  return r;
}

void __wrap_csoundMessageS(void *cs, int attr, const char *fmt, ...)
{
  ENTER(RI_CS_MESSAGE);
  va_list ap;
  va_start(ap, fmt);
  csoundMessageV(cs, attr, fmt, ap);
  va_end(ap);
  LEAVE();
}
