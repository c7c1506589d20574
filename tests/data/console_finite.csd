<CsoundSynthesizer>
<CsOptions>
</CsOptions>
<CsInstruments>
; A score of 0.5 s: csjack must end with it although its console is open.
sr = 48000
ksmps = 32
nchnls = 2
nchnls_i = 0
0dbfs = 1

instr 1
  a1 poscil 0.2, 440
  outs a1, a1
endin
</CsInstruments>
<CsScore>
i1 0 0.5
e
</CsScore>
</CsoundSynthesizer>
