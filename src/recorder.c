/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "recorder.h"

#include "spsc_ring.h"

#include <pthread.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* About two seconds of stereo at 48 kHz between the JACK thread and disk. */
#define RING_SECONDS 2u
#define WRITER_INTERVAL_NS (10 * 1000 * 1000)

struct RecorderImpl {
  SNDFILE *file;
  uint32_t channels;
  SpscRing *ring;
  float *interleaved;   /* the JACK thread's scratch: max_frames * channels */
  float *write_buffer;  /* the writer's: the same size */
  uint32_t max_bytes;
  pthread_t writer;
  _Atomic bool quit;
};

static void
drain(Recorder *r)
{
  uint32_t size;
  while ((size = spsc_ring_pop(r->ring, r->write_buffer, r->max_bytes)) > 0) {
    sf_writef_float(r->file, r->write_buffer, size / (sizeof(float) * r->channels));
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
              char *why, size_t why_size)
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
  r->file = sf_open(path, SFM_WRITE, &info);
  if (!r->file) {
    snprintf(why, why_size, "cannot open '%s' for writing: %s", path, sf_strerror(NULL));
    free(r);
    return NULL;
  }
  /* Integer formats: clip rather than wrap, and no dither, so what is
   * written is what JACK got, quantised. */
  sf_command(r->file, SFC_SET_CLIPPING, NULL, SF_TRUE);
  r->channels = channels;
  r->max_bytes = max_frames * channels * (uint32_t)sizeof(float);
  r->interleaved = malloc(r->max_bytes);
  r->write_buffer = malloc(r->max_bytes);
  r->ring = spsc_ring_new(RING_SECONDS * rate * channels * (uint32_t)sizeof(float));
  atomic_init(&r->quit, false);
  if (!r->interleaved || !r->write_buffer || !r->ring ||
      pthread_create(&r->writer, NULL, writer_main, r) != 0) {
    snprintf(why, why_size, "cannot start the recorder");
    sf_close(r->file);
    spsc_ring_free(r->ring);
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
  for (uint32_t i = 0; i < nframes; ++i) {
    for (uint32_t c = 0; c < r->channels; ++c) {
      r->interleaved[i * r->channels + c] = out[c][i];
    }
  }
  return spsc_ring_push(r->ring, r->interleaved, bytes) ? 0 : nframes;
}

void
recorder_close(Recorder *r)
{
  if (!r) {
    return;
  }
  atomic_store_explicit(&r->quit, true, memory_order_release);
  pthread_join(r->writer, NULL);
  sf_close(r->file);
  spsc_ring_free(r->ring);
  free(r->interleaved);
  free(r->write_buffer);
  free(r);
}
