/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recording what csjack sends to JACK into a sound file.
 *
 * The file is opened and closed off the JACK thread. The JACK thread only
 * interleaves the cycle's output into a preallocated buffer and pushes it
 * into an SPSC ring; a writer thread drains the ring into libsndfile. A ring
 * that is full (a disk too slow) drops the cycle's frames and counts them.
 *
 * A write that fails (a full disk, a file-size limit, an I/O error) ends
 * the file where it is: it is cut to the last whole frame written, the
 * writer reports the failure at once through the error callback, later
 * frames are discarded, and the header, rewritten at close, describes
 * exactly the frames in the file.
 */

#ifndef CSJ_RECORDER_H
#define CSJ_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct RecorderImpl Recorder;

/** Called once, on the writer thread (or the closing thread), when the
 *  recording fails; @p why is one line. */
typedef void (*RecorderErrorFn)(void *data, const char *why);

/**
 * Opens @p path as a WAV file (@p bits 16, 24 or 32 = float) and starts the
 * writer thread. @p max_frames is the largest cycle to be written. NOT RT.
 */
Recorder *recorder_open(const char *path, int bits, uint32_t channels, uint32_t rate,
                        uint32_t max_frames, RecorderErrorFn on_error, void *on_error_data,
                        char *why, size_t why_size);

/** Queues one cycle's output. Returns the frames dropped (0, or all of
 *  them when the ring is full). JACK thread only; real-time safe. */
uint32_t recorder_write(Recorder *r, const float *const *out, uint32_t nframes);

/** Drains what is queued, closes the file, joins the writer, frees. False
 *  when the recording failed at any point, with the reason in @p why
 *  (may be NULL). NOT RT. NULL is a no-op that succeeds. */
bool recorder_close(Recorder *r, char *why, size_t why_size);

#endif
