/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "recorder.h"

#include "clock.h"
#include "prefault.h"
#include "spsc_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* About two seconds of the output between the JACK thread and disk. */
#define RING_SECONDS 2u
/* In real time the writer looks at the ring this often; the JACK thread
 * never wakes it there (a wake is a system call). */
#define WRITER_INTERVAL_NS (10 * 1000 * 1000)
/* The writer writes what it finds in pieces of up to this many bytes:
 * libsndfile rewrites the header after every write, so one write per
 * cycle would cost four more system calls per cycle. */
#define BATCH_BYTES (1u << 20)
/* How often a waiting JACK thread looks at the writer's progress. */
#define WAIT_SLICE_NS (20 * 1000 * 1000)

struct RecorderImpl {
  SNDFILE *file;
  char *path;
  uint32_t channels;
  uint32_t rate;
  SpscRing *ring;
  uint32_t ring_bytes;
  float *interleaved; /* the JACK thread's scratch: max_frames * channels */
  uint8_t *batch;     /* the writer's: batch_bytes */
  uint32_t batch_bytes;
  uint32_t max_bytes;
  pthread_t writer;
  _Atomic bool quit;
  /* Writer only, until it sets `failed`; read by the others after that
   * (acquire) or after the join. */
  sf_count_t frames_written;
  char error[512];
  _Atomic bool failed; /* the file takes no more frames */
  RecorderErrorFn on_error;
  void *on_error_data;

  /* Waking each other. The writer sleeps on `data` between looks and the
   * JACK thread posts it only while it may wait (freewheel); the JACK
   * thread waits on `room`, which the writer posts after it has taken
   * something from the ring while the JACK thread says it waits. */
  sem_t data;
  sem_t room;
  _Atomic bool writer_idle;
  _Atomic bool producer_waiting;
  _Atomic uint64_t popped; /* bytes the writer has taken: its progress */
  _Atomic bool interrupted;
  /* JACK thread only: frames queued, and a writer given up on (the bytes
   * it had taken then) so that later cycles do not wait for it again. */
  uint64_t queued;
  bool stalled;
  uint64_t stalled_at;
  /* Frames lost to a full ring, and the file's frame where the first loss
   * is: the JACK thread's, read by the writer (to say it) and the closer. */
  _Atomic uint64_t dropped;
  _Atomic uint64_t first_drop_at;
  bool loss_said; /* writer only */
};

static struct timespec
monotonic_in(uint64_t ns)
{
  const uint64_t at = engine_now_ns() + ns;
  const struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
  return ts;
}

/* The writer thread: the file takes no more frames. Said at once, once. */
static void
fail(Recorder *r, const char *what, int err)
{
  const char *why = sf_strerror(r->file);
  if (err && (!why || !*why || strstr(why, "No Error") || strstr(why, "No error"))) {
    why = strerror(err);
  }
  snprintf(r->error, sizeof(r->error),
           "recording '%s' failed %s after %lld frames (%.2f s): %s; the file keeps those "
           "frames, the rest of the recording is lost",
           r->path, what, (long long)r->frames_written,
           r->rate ? (double)r->frames_written / r->rate : 0.0, why ? why : "unknown error");
  atomic_store_explicit(&r->failed, true, memory_order_release);
  if (r->on_error) {
    r->on_error(r->on_error_data, r->error);
  }
}

static void
write_batch(Recorder *r, uint32_t bytes)
{
  if (bytes == 0 || atomic_load_explicit(&r->failed, memory_order_relaxed)) {
    return; /* emptied, never written */
  }
  const sf_count_t frames = bytes / (sizeof(float) * r->channels);
  errno = 0;
  const sf_count_t n = sf_writef_float(r->file, (const float *)r->batch, frames);
  const int err = errno;
  if (n > 0) {
    r->frames_written += n;
  }
  if (n != frames) {
    /* Whole frames only: a partly written frame is cut off, so the
     * header (rewritten at close) describes exactly what is there. */
    sf_count_t keep = r->frames_written;
    sf_command(r->file, SFC_FILE_TRUNCATE, &keep, sizeof(keep));
    fail(r, "writing", err);
  }
}

/* Took @p bytes from the ring: a waiting JACK thread may go on. */
static void
made_room(Recorder *r, uint32_t bytes)
{
  atomic_fetch_add_explicit(&r->popped, bytes, memory_order_relaxed);
  /* Pairs with the JACK thread's fence between saying it waits and its
   * last try: either that try sees the room, or this sees it waiting. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&r->producer_waiting, memory_order_relaxed)) {
    sem_post(&r->room);
  }
}

static void
drain(Recorder *r)
{
  uint32_t used = 0;
  uint32_t size;
  /* Room for the largest record is kept, so that none is cut. */
  while ((size = spsc_ring_pop(r->ring, r->batch + used, r->batch_bytes - used)) > 0) {
    made_room(r, size + (uint32_t)sizeof(uint32_t));
    used += size;
    if (r->batch_bytes - used < r->max_bytes) {
      write_batch(r, used);
      used = 0;
    }
  }
  write_batch(r, used);
}

static void
say_loss(Recorder *r)
{
  const uint64_t lost = atomic_load_explicit(&r->dropped, memory_order_relaxed);
  if (r->loss_said || lost == 0 || !r->on_error) {
    return;
  }
  r->loss_said = true;
  char text[600];
  const uint64_t at = atomic_load_explicit(&r->first_drop_at, memory_order_relaxed);
  snprintf(text, sizeof(text),
           "recording '%s' is losing frames: the disk does not keep up (%llu frames lost so "
           "far, the first at %.2f s of the file); the rest is still recorded",
           r->path, (unsigned long long)lost, r->rate ? (double)at / r->rate : 0.0);
  r->on_error(r->on_error_data, text);
}

static void *
writer_main(void *arg)
{
  Recorder *r = arg;
  while (!atomic_load_explicit(&r->quit, memory_order_acquire)) {
    drain(r);
    say_loss(r);
    atomic_store_explicit(&r->writer_idle, true, memory_order_seq_cst);
    const struct timespec until = monotonic_in(WRITER_INTERVAL_NS);
    while (sem_clockwait(&r->data, CLOCK_MONOTONIC, &until) != 0 && errno == EINTR) {
    }
    atomic_store_explicit(&r->writer_idle, false, memory_order_relaxed);
  }
  drain(r);
  say_loss(r);
  return NULL;
}

int
recorder_create_file(const char *path, bool *created, char *why, size_t why_size)
{
  /* A regular file only: opening a named pipe for writing waits for a
   * reader (the console that asked would wait for ever), and the header
   * is rewritten in place as the file grows. O_NONBLOCK keeps the open
   * itself from waiting should the path change under us. */
  struct stat st;
  const bool existed = stat(path, &st) == 0;
  if (existed && !S_ISREG(st.st_mode)) {
    snprintf(why, why_size, "'%s' is not a regular file", path);
    return -1;
  }
  if (created) {
    *created = !existed;
  }
  const int fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);
  if (fd < 0) {
    snprintf(why, why_size, "cannot open '%s' for writing: %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
    snprintf(why, why_size, "'%s' is not a regular file", path);
    close(fd);
    return -1;
  }
  return fd;
}

/* W64 when the path says so; RF64 otherwise, which libsndfile turns into a
 * plain WAV at close when the file is under 4 GiB. */
static int
container_for(const char *path)
{
  const size_t n = strlen(path);
  return n >= 4 && strcasecmp(path + n - 4, ".w64") == 0 ? SF_FORMAT_W64 : SF_FORMAT_RF64;
}

static void
recorder_free(Recorder *r)
{
  spsc_ring_free(r->ring);
  free(r->path);
  free(r->interleaved);
  free(r->batch);
  sem_destroy(&r->data);
  sem_destroy(&r->room);
  free(r);
}

Recorder *
recorder_start(int fd, const char *path, int bits, uint32_t channels, uint32_t rate,
               uint32_t max_frames, RecorderErrorFn on_error, void *on_error_data, char *why,
               size_t why_size)
{
  int subtype;
  switch (bits) {
  case 16: subtype = SF_FORMAT_PCM_16; break;
  case 24: subtype = SF_FORMAT_PCM_24; break;
  case 32: subtype = SF_FORMAT_FLOAT; break;
  default:
    snprintf(why, why_size, "bits must be 16, 24 or 32 (float), not %d", bits);
    close(fd);
    return NULL;
  }
  Recorder *r = calloc(1, sizeof(*r));
  if (!r || ftruncate(fd, 0) != 0) {
    snprintf(why, why_size, r ? "cannot empty '%s': %s" : "out of memory", path, strerror(errno));
    free(r);
    close(fd);
    return NULL;
  }
  const int container = container_for(path);
  SF_INFO info = {
    .samplerate = (int)rate, .channels = (int)channels, .format = container | subtype};
  r->file = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
  if (!r->file) {
    /* sf_open_fd closed fd (close_desc) */
    snprintf(why, why_size, "cannot open '%s' for writing: %s", path, sf_strerror(NULL));
    free(r);
    return NULL;
  }
  if (container == SF_FORMAT_RF64) {
    /* Before anything is written, as libsndfile requires. A libsndfile that
     * cannot downgrade leaves an RF64 file, which readers of long
     * recordings read; it is never a wrong one. */
    (void)sf_command(r->file, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
  }
  /* Integer formats: clip rather than wrap, and no dither, so what is
   * written is what JACK got, quantised. */
  sf_command(r->file, SFC_SET_CLIPPING, NULL, SF_TRUE);
  /* The header is rewritten as the file grows, so that a recording cut
   * short by a crash or a power cut still plays up to its last update. */
  sf_command(r->file, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
  r->path = strdup(path);
  r->channels = channels;
  r->rate = rate;
  r->on_error = on_error;
  r->on_error_data = on_error_data;
  r->max_bytes = max_frames * channels * (uint32_t)sizeof(float);
  r->batch_bytes = r->max_bytes > BATCH_BYTES ? r->max_bytes : BATCH_BYTES;
  r->interleaved = malloc(r->max_bytes);
  r->batch = malloc(r->batch_bytes);
  /* Room for a few of the largest cycles, whatever the rate: a cycle
   * larger than the ring could never be queued, however long one waited. */
  r->ring_bytes = RING_SECONDS * rate * channels * (uint32_t)sizeof(float);
  if (r->ring_bytes < 4 * (r->max_bytes + (uint32_t)sizeof(uint32_t))) {
    r->ring_bytes = 4 * (r->max_bytes + (uint32_t)sizeof(uint32_t));
  }
  r->ring = spsc_ring_new(r->ring_bytes);
  sem_init(&r->data, 0, 0);
  sem_init(&r->room, 0, 0);
  atomic_init(&r->quit, false);
  atomic_init(&r->failed, false);
  atomic_init(&r->writer_idle, false);
  atomic_init(&r->producer_waiting, false);
  atomic_init(&r->popped, 0);
  atomic_init(&r->interrupted, false);
  atomic_init(&r->dropped, 0);
  atomic_init(&r->first_drop_at, 0);
  int created = -1;
  if (r->path && r->interleaved && r->batch && r->ring) {
    csj_prefault(r->interleaved, r->max_bytes);
    /* A write past RLIMIT_FSIZE raises SIGXFSZ in the writing thread, whose
     * default action ends the process: blocked in the writer, the write
     * fails with EFBIG instead and the recording reports it. */
    sigset_t block;
    sigset_t old;
    sigemptyset(&block);
    sigaddset(&block, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    created = pthread_create(&r->writer, NULL, writer_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  if (created != 0) {
    snprintf(why, why_size, "cannot start the recorder");
    sf_close(r->file);
    recorder_free(r);
    return NULL;
  }
  return r;
}

Recorder *
recorder_open(const char *path, int bits, uint32_t channels, uint32_t rate, uint32_t max_frames,
              RecorderErrorFn on_error, void *on_error_data, char *why, size_t why_size)
{
  if (bits != 16 && bits != 24 && bits != 32) {
    snprintf(why, why_size, "bits must be 16, 24 or 32 (float), not %d", bits);
    return NULL;
  }
  const int fd = recorder_create_file(path, NULL, why, why_size);
  return fd < 0 ? NULL
                : recorder_start(fd, path, bits, channels, rate, max_frames, on_error,
                                 on_error_data, why, why_size);
}

static uint32_t
dropped(Recorder *r, uint32_t nframes)
{
  if (atomic_load_explicit(&r->dropped, memory_order_relaxed) == 0) {
    atomic_store_explicit(&r->first_drop_at, r->queued, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&r->dropped, nframes, memory_order_relaxed);
  return nframes;
}

/*
 * Freewheel only: waits until the ring takes the cycle. The writer is
 * woken at once, then the JACK thread sleeps on `room` in slices, looking
 * at the writer's progress: it gives up on a writer that has taken nothing
 * for RECORDER_STALL_NS (and does not wait for it again until it moves),
 * on a failed file, and when interrupted. True when queued.
 */
static bool
wait_for_room(Recorder *r, uint32_t bytes)
{
  uint64_t progress = atomic_load_explicit(&r->popped, memory_order_relaxed);
  if (r->stalled) {
    if (progress == r->stalled_at) {
      return false;
    }
    r->stalled = false;
  }
  uint64_t progress_at = engine_now_ns();
  atomic_store_explicit(&r->producer_waiting, true, memory_order_relaxed);
  sem_post(&r->data);
  bool queued = false;
  for (;;) {
    atomic_thread_fence(memory_order_seq_cst); /* see made_room */
    if (spsc_ring_push(r->ring, r->interleaved, bytes)) {
      queued = true;
      break;
    }
    if (atomic_load_explicit(&r->failed, memory_order_acquire) ||
        atomic_load_explicit(&r->interrupted, memory_order_acquire)) {
      break;
    }
    const uint64_t now = engine_now_ns();
    const uint64_t p = atomic_load_explicit(&r->popped, memory_order_relaxed);
    if (p != progress) {
      progress = p;
      progress_at = now;
    } else if (now - progress_at >= RECORDER_STALL_NS) {
      r->stalled = true;
      r->stalled_at = p;
      break;
    }
    const struct timespec until = monotonic_in(WAIT_SLICE_NS);
    (void)sem_clockwait(&r->room, CLOCK_MONOTONIC, &until);
  }
  atomic_store_explicit(&r->producer_waiting, false, memory_order_relaxed);
  return queued;
}

uint32_t
recorder_write(Recorder *r, const float *const *out, uint32_t nframes, bool may_wait,
               uint64_t *waited_ns)
{
  *waited_ns = 0;
  const uint32_t bytes = nframes * r->channels * (uint32_t)sizeof(float);
  if (bytes > r->max_bytes) {
    return dropped(r, nframes);
  }
  if (atomic_load_explicit(&r->failed, memory_order_relaxed)) {
    return 0; /* the file takes no more: reported once, as an error */
  }
  for (uint32_t i = 0; i < nframes; ++i) {
    for (uint32_t c = 0; c < r->channels; ++c) {
      r->interleaved[i * r->channels + c] = out[c][i];
    }
  }
  bool queued = spsc_ring_push(r->ring, r->interleaved, bytes);
  if (!queued && may_wait && !atomic_load_explicit(&r->interrupted, memory_order_acquire)) {
    const uint64_t t0 = engine_now_ns();
    queued = wait_for_room(r, bytes);
    *waited_ns = engine_now_ns() - t0;
  } else if (queued && may_wait && atomic_load_explicit(&r->writer_idle, memory_order_seq_cst) &&
             spsc_ring_used(r->ring) >= r->ring_bytes / 8) {
    /* Freewheeling, the ring fills in milliseconds: the writer is woken
     * rather than left to its next look, in pieces big enough to write. */
    sem_post(&r->data);
  }
  if (!queued) {
    return atomic_load_explicit(&r->failed, memory_order_relaxed) ? 0 : dropped(r, nframes);
  }
  r->queued += nframes;
  return 0;
}

void
recorder_interrupt(Recorder *r)
{
  if (r) {
    atomic_store_explicit(&r->interrupted, true, memory_order_release);
    sem_post(&r->room);
  }
}

bool
recorder_close(Recorder *r, char *why, size_t why_size)
{
  if (!r) {
    return true;
  }
  atomic_store_explicit(&r->quit, true, memory_order_release);
  sem_post(&r->data);
  pthread_join(r->writer, NULL);
  bool ok = !atomic_load_explicit(&r->failed, memory_order_acquire);
  if (!ok && why) {
    snprintf(why, why_size, "%s", r->error);
  }
  const uint64_t lost = atomic_load_explicit(&r->dropped, memory_order_relaxed);
  if (ok && lost) {
    ok = false;
    if (why) {
      const uint64_t at = atomic_load_explicit(&r->first_drop_at, memory_order_relaxed);
      snprintf(why, why_size,
               "recording '%s' lost %llu frames (%.2f s) to a disk that did not keep up, the "
               "first at %.2f s of the file: it holds the rest, with gaps",
               r->path, (unsigned long long)lost, r->rate ? (double)lost / r->rate : 0.0,
               r->rate ? (double)at / r->rate : 0.0);
    }
  }
  const int closed = sf_close(r->file);
  if (closed != 0 && ok) {
    ok = false;
    r->file = NULL;
    snprintf(r->error, sizeof(r->error), "recording '%s' failed closing the file: %s", r->path,
             sf_error_number(closed));
    if (why) {
      snprintf(why, why_size, "%s", r->error);
    }
    if (r->on_error) {
      r->on_error(r->on_error_data, r->error);
    }
  }
  recorder_free(r);
  return ok;
}
