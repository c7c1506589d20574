; For the UDP/OSC test (tests/test_udp.py): a steady 1000 Hz sine on both
; channels (instr 1) while code arrives, and an instrument that does nothing
; (instr 12) for the flood of events. No score: it plays until stopped.
sr = 48000
ksmps = 32
nchnls = 2
nchnls_i = 0
0dbfs = 1

instr 1
  a1 poscil 0.2, 1000
  outs a1, a1
endin

instr 12
endin

schedule 1, 0, -1
