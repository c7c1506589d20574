/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recording what csjack sends to JACK into a sound file.
 *
 * The file is opened and closed off the JACK thread. The JACK thread only
 * interleaves the cycle's output into a preallocated buffer and pushes it
 * into an SPSC ring; a writer thread drains the ring into libsndfile. A ring
 * that is full (a disk too slow) drops the cycle's frames and counts them.
 */

#ifndef CSJ_RECORDER_H
#define CSJ_RECORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct RecorderImpl Recorder;

/**
 * Opens @p path as a WAV file (@p bits 16, 24 or 32 = float) and starts the
 * writer thread. @p max_frames is the largest cycle to be written. NOT RT.
 */
Recorder *recorder_open(const char *path, int bits, uint32_t channels, uint32_t rate,
                        uint32_t max_frames, char *why, size_t why_size);

/** Queues one cycle's output. Returns the frames dropped (0, or all of
 *  them when the ring is full). JACK thread only; real-time safe. */
uint32_t recorder_write(Recorder *r, const float *const *out, uint32_t nframes);

/** Drains what is queued, closes the file, joins the writer. NOT RT. */
void recorder_close(Recorder *r);

#endif
