; One input copied to one output, forever.
sr = 48000
ksmps = 32
nchnls = 1
nchnls_i = 1
0dbfs = 1

instr 1
  a1 inch 1
  out a1
endin

schedule 1, 0, -1
