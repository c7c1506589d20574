; MIDI workload for test_rt_safety: note-ons play instr 2 (a sine whose
; level follows CC 7), and instr 1 echoes everything to midi_out.
sr = 48000
ksmps = 32
nchnls = 1
0dbfs = 1
massign 0, 2

instr 1
next:
  kst, kch, kd1, kd2 midiin
  if kst != 0 then
    midiout kst, kch, kd1, kd2
    kgoto next
  endif
endin
alwayson 1

instr 2
  kamp ctrl7 1, 7, 0, 0.1
  asig oscili kamp, cpsmidi()
  out asig
endin

; Score events for the delayed run: short notes, held by the JACK thread
; until their frame.
instr 3
  out oscili(0.05, 440)
endin
