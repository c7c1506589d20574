; Global code that never returns: Csound's compile at start-up loops for ever.
sr = 48000
ksmps = 32
nchnls = 2
0dbfs = 1
while 1 == 1 do
od
