; ksmps = 128: larger than the 64-frame period of the test server.
sr = 48000
ksmps = 128
nchnls = 1
nchnls_i = 0
0dbfs = 1

instr 1
  a1 poscil 0.5, 1000
  out a1
endin

schedule 1, 0, -1
