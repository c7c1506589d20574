; 20000 note-ons in one k-block, once: far more than midi_out's JACK
; buffer holds in a cycle (test_midi's drop test).
sr = 48000
ksmps = 32
nchnls = 1
0dbfs = 1

instr 1
  kdone init 0
  if kdone == 0 then
    ki = 0
    while ki < 20000 do
      midiout 144, 1, ki % 128, 1 + ki % 127
      ki += 1
    od
    kdone = 1
  endif
endin
alwayson 1
