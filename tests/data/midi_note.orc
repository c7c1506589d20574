; A MIDI note-on on any channel plays instr 1, a constant 0.5 while held.
sr = 48000
ksmps = 32
nchnls = 1
0dbfs = 1
massign 0, 1

instr 1
  asig = 0.5
  out asig
endin
