; Two channels of a 1000 Hz sine, forever (an .orc has no score).
sr = 48000
ksmps = 32
nchnls = 2
nchnls_i = 0
0dbfs = 1

instr 1
  a1 poscil 0.5, 1000
  outs a1, a1
endin

schedule 1, 0, -1
