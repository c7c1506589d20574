<CsoundSynthesizer>
<CsOptions>
</CsOptions>
<CsInstruments>
; exitnow 5 at 0.3 s, during the performance.
sr = 48000
ksmps = 32
nchnls = 1
nchnls_i = 0
0dbfs = 1

instr 1
  a1 poscil 0.2, 440
  out a1
endin

instr 2
  exitnow 5
endin
</CsInstruments>
<CsScore>
i1 0 10
i2 0.3 0.1
</CsScore>
</CsoundSynthesizer>
