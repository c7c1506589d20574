<CsoundSynthesizer>
<CsOptions>
; what a CSD written for Csound's own command line carries
-odac -iadc -M0 -Q1 ; devices
-r 44100 -k 441 -b 64 -B 512 -m 7
--port=12345 -+rtaudio=alsa /* a block
comment */ -W
</CsOptions>
<CsInstruments>
; A score of 0.3 s, then the end.
sr = 44100
ksmps = 100
nchnls = 2
nchnls_i = 0
0dbfs = 1

instr 1
  a1 poscil 0.2, 440
  outs a1, a1
endin
</CsInstruments>
<CsScore>
i1 0 0.3
e
</CsScore>
</CsoundSynthesizer>
