; 64 output channels (csjack's most, JACK_BACKEND_MAX_PORTS), no inputs: a
; quiet sine on the first, forever.
sr = 48000
ksmps = 32
nchnls = 64
nchnls_i = 0
0dbfs = 1

instr 1
  a1 poscil 0.1, 1000
  outch 1, a1
endin

schedule 1, 0, -1
