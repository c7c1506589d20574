<CsoundSynthesizer>
<CsOptions>
</CsOptions>
<CsInstruments>
sr     = 48000
ksmps  = 32
nchnls = 2
0dbfs  = 1

; A short phrase of plucked sines, so the run ends by itself.
instr 1
  iamp  = p4
  icps  = cpsmidinn(p5)
  aenv  expseg 0.001, 0.01, 1, p3 - 0.01, 0.001
  asig  poscil iamp * aenv, icps
        outs asig, asig
endin
</CsInstruments>
<CsScore>
i1 0.0 0.5 0.3 60
i1 0.5 0.5 0.3 64
i1 1.0 0.5 0.3 67
i1 1.5 1.0 0.3 72
e
</CsScore>
</CsoundSynthesizer>
