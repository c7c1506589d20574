<CsoundSynthesizer>
<CsOptions>
</CsOptions>
<CsInstruments>
; sr is not the test server's 48000: csjack says so and runs at 48000.
sr = 44100
ksmps = 32
nchnls = 1
nchnls_i = 0
0dbfs = 1

instr 1
  a1 poscil 0.2, 1000
  out a1
endin
</CsInstruments>
<CsScore>
i1 0 0.3
e
</CsScore>
</CsoundSynthesizer>
