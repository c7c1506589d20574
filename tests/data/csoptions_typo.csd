<CsoundSynthesizer>
<CsOptions>
-d --ksmps
</CsOptions>
<CsInstruments>
sr = 48000
ksmps = 32
nchnls = 2
0dbfs = 1
instr 1
endin
</CsInstruments>
<CsScore>
i1 0 0.3
</CsScore>
</CsoundSynthesizer>
