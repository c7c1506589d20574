<CsoundSynthesizer>
<CsOptions>
</CsOptions>
<CsInstruments>
; kr = 10, as in teaching examples: ksmps far above any JACK period.
sr = 48000
ksmps = 4800
nchnls = 1
0dbfs = 1
instr 1
  a1 poscil 0.2, 440
  out a1
endin
</CsInstruments>
<CsScore>
i1 0 0.5
e
</CsScore>
</CsoundSynthesizer>
