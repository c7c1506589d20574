; Compiled into a running csjack by the console test (:compile FILE).
instr 20
  a1 poscil 0.05, 660
  outs a1, a1
endin
