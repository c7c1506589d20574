; The console tests' orchestra: plays until stopped (an .orc has no score).
; Instrument 1 is always on and takes its amplitude from the control
; channel "amp"; table 50 is there for :tget and :tset; instrument 2 is a
; silent, short instrument for floods of score lines.
sr = 48000
ksmps = 32
nchnls = 2
nchnls_i = 0
0dbfs = 1

gi_tab ftgen 50, 0, 8, -2, 0

instr 1
  kamp chnget "amp"
  a1 poscil kamp, 440
  outs a1, a1
endin

instr 2
endin

schedule 1, 0, -1
