/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The --wrap wrappers: see rt_wrap.h. */

#include "rt_wrap.h"

#include "message_log.h"

#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLERS 8

static const char *const NAMES[RT_FN_COUNT] = {
    [RT_MALLOC] = "malloc",
    [RT_CALLOC] = "calloc",
    [RT_REALLOC] = "realloc",
    [RT_FREE] = "free",
    [RT_STRDUP] = "strdup",
    [RT_ALIGNED_ALLOC] = "aligned_alloc",
    [RT_PTHREAD_MUTEX_LOCK] = "pthread_mutex_lock",
    [RT_PTHREAD_COND_WAIT] = "pthread_cond_wait",
    [RT_PTHREAD_COND_TIMEDWAIT] = "pthread_cond_timedwait",
    [RT_SEM_WAIT] = "sem_wait",
    [RT_SEM_TIMEDWAIT] = "sem_timedwait",
    [RT_PRINTF] = "printf",
    [RT_FPRINTF] = "fprintf",
    [RT_PUTS] = "puts",
    [RT_FPUTS] = "fputs",
    [RT_FWRITE] = "fwrite",
    [RT_WRITE] = "write",
    [RT_NANOSLEEP] = "nanosleep",
    [RT_USLEEP] = "usleep",
    [RT_SLEEP] = "sleep",
    [RT_PTHREAD_CREATE] = "pthread_create",
    [RT_PTHREAD_JOIN] = "pthread_join",
    [RT_SEM_POST] = "sem_post",
    [RT_PTHREAD_MUTEX_UNLOCK] = "pthread_mutex_unlock",
    [RT_CLOCK_GETTIME] = "clock_gettime",
};

static _Atomic uint64_t counts[RT_FN_COUNT];
static _Atomic(void *) callers[RT_FN_COUNT][MAX_CALLERS];

const char *rt_name(RtFn fn) { return NAMES[fn]; }

uint64_t rt_count(RtFn fn) { return atomic_load(&counts[fn]); }

void rt_reset(void)
{
  for (int i = 0; i < RT_FN_COUNT; i++) {
    atomic_store(&counts[i], 0);
    for (int k = 0; k < MAX_CALLERS; k++)
      atomic_store(&callers[i][k], NULL);
  }
}

size_t rt_callers(RtFn fn, void **out, size_t max)
{
  size_t n = 0;
  for (int k = 0; k < MAX_CALLERS && n < max; k++) {
    void *a = atomic_load(&callers[fn][k]);
    if (a)
      out[n++] = a;
  }
  return n;
}

/* On the JACK thread: count, and remember the caller (no allocation, no
 * lock: a CAS into a fixed table). */
static inline void note(RtFn fn, void *caller)
{
  if (!message_log_on_realtime_thread())
    return;
  atomic_fetch_add_explicit(&counts[fn], 1, memory_order_relaxed);
  for (int k = 0; k < MAX_CALLERS; k++) {
    void *seen = atomic_load_explicit(&callers[fn][k], memory_order_relaxed);
    if (seen == caller)
      return;
    if (!seen) {
      void *expected = NULL;
      if (atomic_compare_exchange_strong(&callers[fn][k], &expected, caller) ||
          expected == caller)
        return;
    }
  }
}

#define CALLER __builtin_extract_return_addr(__builtin_return_address(0))

void rt_describe(void *addr, char *out, size_t out_size)
{
  Dl_info info;
  memset(&info, 0, sizeof info);
  if (!dladdr(addr, &info) || !info.dli_fname) {
    snprintf(out, out_size, "%p (unknown object)", addr);
    return;
  }
  /* A call's return address is just after the call: look one byte back. */
  const uintptr_t offset = (uintptr_t)addr - (uintptr_t)info.dli_fbase - 1;
  /* The main program's dli_fname is its argv[0] (Criterion runs tests in
   * a "boxfort-worker"): name the file itself. */
  char file[1024];
  snprintf(file, sizeof file, "%s", info.dli_fname);
  if (access(file, R_OK) != 0 || !strchr(file, '/')) {
    ssize_t n = readlink("/proc/self/exe", file, sizeof file - 1);
    file[n > 0 ? n : 0] = '\0';
  }
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "addr2line -f -i -p -e '%s' 0x%lx 2>/dev/null", file,
           (unsigned long)offset);
  FILE *p = popen(cmd, "r");
  size_t n = 0;
  if (p) {
    n = fread(out, 1, out_size - 1, p);
    pclose(p);
  }
  out[n] = '\0';
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
    out[--n] = '\0';
  for (size_t i = 0; i < n; i++)
    if (out[i] == '\n')
      out[i] = ';';
  if (n == 0)
    snprintf(out, out_size, "%s+0x%lx (%s)", info.dli_sname ? info.dli_sname : "?",
             (unsigned long)offset, file);
}

/* ---- the wrappers ------------------------------------------------------------- */

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void __real_free(void *);
char *__real_strdup(const char *);
void *__real_aligned_alloc(size_t, size_t);
int __real_pthread_mutex_lock(pthread_mutex_t *);
int __real_pthread_mutex_unlock(pthread_mutex_t *);
int __real_pthread_cond_wait(pthread_cond_t *, pthread_mutex_t *);
int __real_pthread_cond_timedwait(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
int __real_sem_wait(sem_t *);
int __real_sem_timedwait(sem_t *, const struct timespec *);
int __real_sem_post(sem_t *);
int __real_puts(const char *);
int __real_fputs(const char *, FILE *);
size_t __real_fwrite(const void *, size_t, size_t, FILE *);
ssize_t __real_write(int, const void *, size_t);
int __real_nanosleep(const struct timespec *, struct timespec *);
int __real_usleep(useconds_t);
unsigned __real_sleep(unsigned);
int __real_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
int __real_pthread_join(pthread_t, void **);
int __real_clock_gettime(clockid_t, struct timespec *);

void *__wrap_malloc(size_t n)
{
  note(RT_MALLOC, CALLER);
  return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
  note(RT_CALLOC, CALLER);
  return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
  note(RT_REALLOC, CALLER);
  return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
  note(RT_FREE, CALLER);
  __real_free(p);
}

char *__wrap_strdup(const char *s)
{
  note(RT_STRDUP, CALLER);
  return __real_strdup(s);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
  note(RT_ALIGNED_ALLOC, CALLER);
  return __real_aligned_alloc(align, n);
}

int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
  note(RT_PTHREAD_MUTEX_LOCK, CALLER);
  return __real_pthread_mutex_lock(m);
}

int __wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
  note(RT_PTHREAD_MUTEX_UNLOCK, CALLER);
  return __real_pthread_mutex_unlock(m);
}

int __wrap_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
  note(RT_PTHREAD_COND_WAIT, CALLER);
  return __real_pthread_cond_wait(c, m);
}

int __wrap_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                  const struct timespec *t)
{
  note(RT_PTHREAD_COND_TIMEDWAIT, CALLER);
  return __real_pthread_cond_timedwait(c, m, t);
}

int __wrap_sem_wait(sem_t *s)
{
  note(RT_SEM_WAIT, CALLER);
  return __real_sem_wait(s);
}

int __wrap_sem_timedwait(sem_t *s, const struct timespec *t)
{
  note(RT_SEM_TIMEDWAIT, CALLER);
  return __real_sem_timedwait(s, t);
}

int __wrap_sem_post(sem_t *s)
{
  note(RT_SEM_POST, CALLER);
  return __real_sem_post(s);
}

/* The variadic ones forward through their v-forms (not wrapped). */
int __wrap_printf(const char *fmt, ...)
{
  note(RT_PRINTF, CALLER);
  va_list ap;
  va_start(ap, fmt);
  int r = vprintf(fmt, ap);
  va_end(ap);
  return r;
}

int __wrap_fprintf(FILE *f, const char *fmt, ...)
{
  note(RT_FPRINTF, CALLER);
  va_list ap;
  va_start(ap, fmt);
  int r = vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}

int __wrap_puts(const char *s)
{
  note(RT_PUTS, CALLER);
  return __real_puts(s);
}

int __wrap_fputs(const char *s, FILE *f)
{
  note(RT_FPUTS, CALLER);
  return __real_fputs(s, f);
}

size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f)
{
  note(RT_FWRITE, CALLER);
  return __real_fwrite(p, size, n, f);
}

ssize_t __wrap_write(int fd, const void *p, size_t n)
{
  note(RT_WRITE, CALLER);
  return __real_write(fd, p, n);
}

int __wrap_nanosleep(const struct timespec *t, struct timespec *rem)
{
  note(RT_NANOSLEEP, CALLER);
  return __real_nanosleep(t, rem);
}

int __wrap_usleep(useconds_t us)
{
  note(RT_USLEEP, CALLER);
  return __real_usleep(us);
}

unsigned __wrap_sleep(unsigned s)
{
  note(RT_SLEEP, CALLER);
  return __real_sleep(s);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
  note(RT_PTHREAD_CREATE, CALLER);
  return __real_pthread_create(t, a, fn, arg);
}

int __wrap_pthread_join(pthread_t t, void **ret)
{
  note(RT_PTHREAD_JOIN, CALLER);
  return __real_pthread_join(t, ret);
}

int __wrap_clock_gettime(clockid_t c, struct timespec *t)
{
  note(RT_CLOCK_GETTIME, CALLER);
  return __real_clock_gettime(c, t);
}

const char *const rt_wrapped_list =
    "malloc calloc realloc free strdup aligned_alloc pthread_mutex_lock "
    "pthread_mutex_unlock pthread_cond_wait pthread_cond_timedwait sem_wait "
    "sem_timedwait sem_post printf fprintf puts fputs fwrite write nanosleep "
    "usleep sleep pthread_create pthread_join clock_gettime";
