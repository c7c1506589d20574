<CsoundSynthesizer>
<CsInstruments>
; `inf` as a variable name (the manual's ATSinfo.csd has `inf`):
; only a constant that folds to inf or nan is refused.
sr = 48000
ksmps = 32
nchnls = 2
0dbfs = 1
instr 1
  inf = 3
  print inf
endin
</CsInstruments>
<CsScore>
i1 0 0.1
e
</CsScore>
</CsoundSynthesizer>
