; A syntax error, for :compile's error reply.
instr 21
  a1 this_is_not_an_opcode 0.1, 440
  outs a1, a1
endin
