; Does not compile.
sr = 48000
ksmps = 32
nchnls = 1
0dbfs = 1

instr 1
  a1 poscil 0.5, 
  out a1 ((
endin
