/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "recorder.h"

#include "prefault.h"
#include "spsc_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* About two seconds of stereo at 48 kHz between the JACK thread and disk. */
#define RING_SECONDS 2u
#define WRITER_INTERVAL_NS (10 * 1000 * 1000)

struct RecorderImpl {
  SNDFILE *file;
  char *path;
  uint32_t channels;
  uint32_t rate;
  SpscRing *ring;
  float *interleaved;   /* the JACK thread's scratch: max_frames * channels */
  float *write_buffer;  /* the writer's: the same size */
  uint32_t max_bytes;
  pthread_t writer;
  _Atomic bool quit;
  /* Writer only, until it sets `failed`; read by the others after that
   * (acquire) or after the join. */
  sf_count_t frames_written;
  char error[512];
  _Atomic bool failed;  /* the file takes no more frames */
  RecorderErrorFn on_error;
  void *on_error_data;
};

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
drain(Recorder *r)
{
  uint32_t size;
  while ((size = spsc_ring_pop(r->ring, r->write_buffer, r->max_bytes)) > 0) {
    if (atomic_load_explicit(&r->failed, memory_order_relaxed)) {
      continue; /* emptied, never written */
    }
    const sf_count_t frames = size / (sizeof(float) * r->channels);
    errno = 0;
    const sf_count_t n = sf_writef_float(r->file, r->write_buffer, frames);
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
}

static void *
writer_main(void *arg)
{
  Recorder *r = arg;
  const struct timespec interval = {0, WRITER_INTERVAL_NS};
  while (!atomic_load_explicit(&r->quit, memory_order_acquire)) {
    drain(r);
    nanosleep(&interval, NULL);
  }
  drain(r);
  return NULL;
}

Recorder *
recorder_open(const char *path, int bits, uint32_t channels, uint32_t rate, uint32_t max_frames,
              RecorderErrorFn on_error, void *on_error_data, char *why, size_t why_size)
{
  int subtype;
  switch (bits) {
  case 16: subtype = SF_FORMAT_PCM_16; break;
  case 24: subtype = SF_FORMAT_PCM_24; break;
  case 32: subtype = SF_FORMAT_FLOAT; break;
  default:
    snprintf(why, why_size, "bits must be 16, 24 or 32 (float), not %d", bits);
    return NULL;
  }
  Recorder *r = calloc(1, sizeof(*r));
  if (!r) {
    snprintf(why, why_size, "out of memory");
    return NULL;
  }
  SF_INFO info = {.samplerate = (int)rate, .channels = (int)channels,
                  .format = SF_FORMAT_WAV | subtype};
  /* A regular file only: opening a named pipe for writing waits for a
   * reader (the console that asked would wait for ever), and the header
   * is rewritten in place as the file grows. O_NONBLOCK keeps the open
   * itself from waiting should the path change under us. */
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    snprintf(why, why_size, "'%s' is not a regular file", path);
    free(r);
    return NULL;
  }
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0666);
  if (fd < 0) {
    snprintf(why, why_size, "cannot open '%s' for writing: %s", path, strerror(errno));
    free(r);
    return NULL;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
    snprintf(why, why_size, "'%s' is not a regular file", path);
    close(fd);
    free(r);
    return NULL;
  }
  r->file = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
  if (!r->file) {
    /* sf_open_fd closed fd (close_desc) */
    snprintf(why, why_size, "cannot open '%s' for writing: %s", path, sf_strerror(NULL));
    free(r);
    return NULL;
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
  r->interleaved = malloc(r->max_bytes);
  r->write_buffer = malloc(r->max_bytes);
  r->ring = spsc_ring_new(RING_SECONDS * rate * channels * (uint32_t)sizeof(float));
  atomic_init(&r->quit, false);
  atomic_init(&r->failed, false);
  int created = -1;
  if (r->path && r->interleaved && r->write_buffer && r->ring) {
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
    spsc_ring_free(r->ring);
    free(r->path);
    free(r->interleaved);
    free(r->write_buffer);
    free(r);
    return NULL;
  }
  return r;
}

uint32_t
recorder_write(Recorder *r, const float *const *out, uint32_t nframes)
{
  const uint32_t bytes = nframes * r->channels * (uint32_t)sizeof(float);
  if (bytes > r->max_bytes) {
    return nframes;
  }
  if (atomic_load_explicit(&r->failed, memory_order_relaxed)) {
    return 0; /* the file takes no more: reported once, as an error */
  }
  for (uint32_t i = 0; i < nframes; ++i) {
    for (uint32_t c = 0; c < r->channels; ++c) {
      r->interleaved[i * r->channels + c] = out[c][i];
    }
  }
  return spsc_ring_push(r->ring, r->interleaved, bytes) ? 0 : nframes;
}

bool
recorder_close(Recorder *r, char *why, size_t why_size)
{
  if (!r) {
    return true;
  }
  atomic_store_explicit(&r->quit, true, memory_order_release);
  pthread_join(r->writer, NULL);
  bool ok = !atomic_load_explicit(&r->failed, memory_order_acquire);
  if (!ok && why) {
    snprintf(why, why_size, "%s", r->error);
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
  spsc_ring_free(r->ring);
  free(r->path);
  free(r->interleaved);
  free(r->write_buffer);
  free(r);
  return ok;
}
