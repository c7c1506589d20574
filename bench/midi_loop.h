/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * midi_loop_frames: latency and jitter of a MIDI loop through an orchestra
 * that echoes midiin to midiout, for csjack (its own midi_in/midi_out) and
 * for the baseline (Csound's performance thread with -+rtaudio=jack
 * -+rtmidi=jack -M0 -Q0, whose MIDI clients are csound6-midi_in and
 * csound6-midi_out), each measured two ways in the same run:
 *
 *   - the bench's own MIDI probe: a JACK client that sends a note-on at a
 *     known frame (its cycle's jack_last_frame_time plus the event's
 *     offset) every third cycle, at offsets that cover the period, and
 *     timestamps the echo the same way; the note and velocity carry a
 *     sequence number, so each echo is matched to its message;
 *   - jack_midi_latency_test (jackd2's example clients), run as a child
 *     process against the same ports, its report parsed.
 *
 * Each system runs several times (a fresh instance each); the figures are
 * reported per run and as medians over the runs, with the machine's load.
 */

#ifndef CSJ_BENCH_MIDI_LOOP_H
#define CSJ_BENCH_MIDI_LOOP_H

#include "results.h"

/** Runs the MIDI loop at server pr->server: fills pr->midi_json and
 *  pr->midi_table, or pr->midi_why. */
void run_midi_loop(PeriodResult *pr, const Config *cfg);

#endif
