<CsoundSynthesizer>
<CsInstruments>
sr=48000
ksmps=32
nchnls=2
0dbfs=1
gi1 = 1/0
instr 1
endin
</CsInstruments>
<CsScore>
i1 0 1
</CsScore>
</CsoundSynthesizer>
