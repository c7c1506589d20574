/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host MIDI: Csound's MIDI devices are csjack's JACK ports.
 *
 * Csound calls the read callback once per k-cycle when MIDI input is on (a
 * device name set, here "0"), and again, in the same k-cycle, as long as
 * it returns bytes: each call hands over what is left of the block's
 * bytes, up to Csound's buffer, and the next returns 0. The write callback
 * is called once per message an opcode sends (midiout, noteon, outic, ...)
 * during the k-cycle; the bytes are kept for the engine to place in the
 * block's frames. Both copy bytes into fixed storage: real-time safe.
 */

#include "csound6_internal.h"

#include <string.h>

static int
midi_open(CSOUND *csound, void **user_data, const char *device)
{
  (void)device;
  *user_data = csoundGetHostData(csound);
  return 0;
}

static int
midi_close(CSOUND *csound, void *user_data)
{
  (void)csound;
  (void)user_data;
  return 0;
}

static int
midi_read(CSOUND *csound, void *user_data, unsigned char *buf, int nbytes)
{
  (void)csound;
  CsoundAdapter *cs = user_data;
  size_t n = cs->midi_in_len - cs->midi_in_pos;
  if (nbytes <= 0 || n == 0) {
    return 0;
  }
  if (n > (size_t)nbytes) {
    n = (size_t)nbytes;
  }
  memcpy(buf, cs->midi_in + cs->midi_in_pos, n);
  cs->midi_in_pos += n;
  return (int)n;
}

static int
midi_write(CSOUND *csound, void *user_data, const unsigned char *buf, int nbytes)
{
  (void)csound;
  CsoundAdapter *cs = user_data;
  if (nbytes <= 0) {
    return 0;
  }
  if ((size_t)nbytes > sizeof(cs->midi_out) - cs->midi_out_len) {
    ++cs->midi_out_lost;
    return nbytes; /* dropped and counted: never an error in Csound */
  }
  memcpy(cs->midi_out + cs->midi_out_len, buf, (size_t)nbytes);
  cs->midi_out_len += (size_t)nbytes;
  return nbytes;
}

void
csound6_install_midi(CsoundAdapter *cs)
{
  /* MIDI goes through csjack's callbacks, never a Csound MIDI module
   * (ALSA's asserts when its device cannot be opened). Csound reads or
   * writes only once a device is named: csound_adapter_enable_midi. */
  csoundSetHostImplementedMIDIIO(cs->csound, 1);
  csoundSetExternalMidiInOpenCallback(cs->csound, midi_open);
  csoundSetExternalMidiReadCallback(cs->csound, midi_read);
  csoundSetExternalMidiInCloseCallback(cs->csound, midi_close);
  csoundSetExternalMidiOutOpenCallback(cs->csound, midi_open);
  csoundSetExternalMidiWriteCallback(cs->csound, midi_write);
  csoundSetExternalMidiOutCloseCallback(cs->csound, midi_close);
}

void
csound_adapter_enable_midi(CsoundAdapter *cs)
{
  /* Through the option parser, not csoundSetMIDIInput/Output: in 6.18 those
   * copy the name into a buffer one byte short (AddressSanitizer: a heap
   * overflow inside Csound). -M0 -Q0 name the devices, which is what makes
   * Csound call the host's MIDI callbacks. */
  bool jumped;
  CSOUND6_GUARDED(jumped, csoundSetOption(cs->csound, "-M0"));
  CSOUND6_GUARDED(jumped, csoundSetOption(cs->csound, "-Q0"));
  (void)jumped; /* two known-good options: nothing to report either way */
}

bool
csound_adapter_midi_in_push(CsoundAdapter *cs, const uint8_t *data, size_t size)
{
  if (size > sizeof(cs->midi_in) - cs->midi_in_len) {
    return false;
  }
  memcpy(cs->midi_in + cs->midi_in_len, data, size);
  cs->midi_in_len += size;
  return true;
}

const uint8_t *
csound_adapter_midi_out(CsoundAdapter *cs, size_t *size, uint32_t *lost)
{
  *size = cs->midi_out_len;
  *lost = cs->midi_out_lost;
  return cs->midi_out;
}

void
csound_adapter_midi_out_clear(CsoundAdapter *cs)
{
  cs->midi_out_len = 0;
  cs->midi_out_lost = 0;
}
