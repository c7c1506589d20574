; The RT-safety test's busy orchestra (tests/test_rt_safety.c): an
; always-on oscillator whose level follows control channel "amp", short
; notes from score events, and table 100 for the table commands.
sr = 48000
ksmps = 32
nchnls = 2
nchnls_i = 0
0dbfs = 1

gitab ftgen 100, 0, -1024, -2, 0

instr 1
  kamp chnget "amp"
  a1 poscil 0.05 + 0.1 * kamp, 440
  outs a1, a1
endin

instr 2
  aenv linseg 1, p3, 0
  a1 poscil p4, p5
  outs a1 * aenv, a1 * aenv
endin

schedule 1, 0, -1
