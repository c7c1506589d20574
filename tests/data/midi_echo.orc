; Echoes every MIDI message from midi_in to midi_out, all of a k-block's
; messages in that k-block (midiin gives one message per call: loop).
sr = 48000
ksmps = 32
nchnls = 1
0dbfs = 1
massign 0, 0

instr 1
next:
  kst, kch, kd1, kd2 midiin
  if kst != 0 then
    midiout kst, kch, kd1, kd2
    kgoto next
  endif
endin

alwayson 1
