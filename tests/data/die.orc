sr = 48000
ksmps = 32
nchnls = 2
0dbfs = 1

; Dies (Csound's fatal-error longjmp) after 20 k-cycles of performance.
instr 1
  kcount init 0
  kcount += 1
  csj_test_die kcount > 20 ? 1 : 0
endin
schedule 1, 0.1, 10
