; Score lines that must all run, in order: instrument 2 counts the notes
; whose p4 is the next number expected ("ran") and those out of order
; ("wrong"). Instrument 1 plays all along, so the music is heard to go on.
sr = 48000
ksmps = 32
nchnls = 2
nchnls_i = 0
0dbfs = 1

giNext init 0
giWrong init 0

instr 1
  a1 poscil 0.1, 440
  outs a1, a1
endin

instr 2
  if p4 == giNext then
    giNext = giNext + 1
  else
    giWrong = giWrong + 1
  endif
  chnset giNext, "ran"
  chnset giWrong, "wrong"
endin

schedule 1, 0, -1
