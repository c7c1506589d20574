; For the OSC test (tests/test_udp.py): silence, and instr 20, one impulse
; of 0.5 at the event's first sample (csjack runs Csound sample-accurate),
; so a recording shows the frame each event started at.
sr = 48000
ksmps = 32
nchnls = 1
nchnls_i = 0
0dbfs = 1

instr 20
  a1 mpulse 0.5, 0
  out a1
endin
