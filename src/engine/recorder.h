/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recording what csjack sends to JACK into a sound file.
 *
 * The file is opened and closed off the JACK thread. The JACK thread only
 * interleaves the cycle's output into a preallocated buffer and pushes it
 * into an SPSC ring; a writer thread drains the ring into libsndfile.
 *
 * The file is RF64 (EBU Tech 3306), which libsndfile writes as a plain WAV
 * (WAVE_FORMAT_EXTENSIBLE) when it closes a file under 4 GiB, or W64 when
 * the path ends in ".w64": no size wraps, whatever the length.
 *
 * A ring that is full (a disk too slow) in real time drops the cycle's
 * frames and counts them: the JACK thread must not wait. While the server
 * freewheels, nothing has a deadline and the JACK thread may wait
 * (recorder_write's @p may_wait): it then waits for the writer to make
 * room, and drops only when the writer has freed nothing for
 * RECORDER_STALL_NS (a dead disk must not hang the graph for good). Lost
 * frames are a failure of the recording: said once by the writer as it
 * notices, and again, with the total, by recorder_close.
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

/* How long the JACK thread, freewheeling, waits for a writer that frees no
 * room at all before it drops the cycle: half of the 10 s jackd 1.9
 * (JACK2) waits for a client in freewheel before it goes on without it. */
#define RECORDER_STALL_NS (5ull * 1000 * 1000 * 1000)

/** Called on the writer thread (or the closing thread) when the recording
 *  fails, or first loses frames; @p why is one line. */
typedef void (*RecorderErrorFn)(void *data, const char *why);

/**
 * Opens @p path for a recording, creating it if need be, and returns its
 * descriptor, or -1 with the reason in @p why: the path is not a regular
 * file, or cannot be opened for writing. What the file held is kept until
 * recorder_start empties it. *@p created (if not NULL) says whether the
 * file is new. NOT RT.
 */
int recorder_create_file(const char *path, bool *created, char *why, size_t why_size);

/**
 * Starts recording into @p fd (from recorder_create_file; taken over,
 * emptied, and closed on failure), @p path for messages: @p bits 16, 24 or 32 (float),
 * RF64 or W64 by the path's ending (see above). Starts the writer thread.
 * @p max_frames is the largest cycle to be written. NOT RT.
 */
Recorder *recorder_start(int fd, const char *path, int bits, uint32_t channels, uint32_t rate,
                         uint32_t max_frames, RecorderErrorFn on_error, void *on_error_data,
                         char *why, size_t why_size);

/** recorder_create_file, then recorder_start. NOT RT. */
Recorder *recorder_open(const char *path, int bits, uint32_t channels, uint32_t rate,
                        uint32_t max_frames, RecorderErrorFn on_error, void *on_error_data,
                        char *why, size_t why_size);

/**
 * Queues one cycle's output. Returns the frames dropped (0, or all of them
 * when the ring is full). JACK thread only. Real-time safe when @p may_wait
 * is false; when true (the server freewheels, and only then), a full ring
 * makes it wait for the writer (a semaphore), as described above, and
 * @p waited_ns gets how long (else 0).
 */
uint32_t recorder_write(Recorder *r, const float *const *out, uint32_t nframes, bool may_wait,
                        uint64_t *waited_ns);

/** Makes a JACK thread waiting in recorder_write give up (drop) at once,
 *  and later ones not wait: for a close that cannot wait for it. Any
 *  thread. */
void recorder_interrupt(Recorder *r);

/** Drains what is queued, closes the file, joins the writer, frees. False
 *  when the recording failed at any point or lost frames, with the reason
 *  in @p why (may be NULL). NOT RT. NULL is a no-op that succeeds. */
bool recorder_close(Recorder *r, char *why, size_t why_size);

#endif
