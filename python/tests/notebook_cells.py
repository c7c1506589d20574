# SPDX-License-Identifier: LGPL-2.1-or-later
"""The "Multithreading" notebook's code cells, one after the other in one
interpreter as a notebook kernel runs them, with ``import csjack as ct``
where the notebook imports ctcsound7. The cells' code is written out here
from the calls the notebook makes; each cell's result is checked by what
the notebook shows it doing, and one line per cell says how it went.

Run: PYTHONPATH=python JACK_DEFAULT_SERVER=<a private server> python3 notebook_cells.py
Exit status 0 when every cell did what it should.
"""

import math
import sys
import time
import traceback

CELLS = []


def cell(fn):
    CELLS.append(fn)
    return fn


ns = {}


@cell
def play_two_events_stop_join():
    exec(r'''
import csjack as ct
cs = ct.Csound()
cs.setOption('-d -odac -m0')
ret_compile = cs.compileOrc(r"""
sr     = 48000
ksmps  = 64
nchnls = 2
0dbfs  = 1

instr 1
  iamp, ipitch, iattack, idec, ipan passign 4
  aenv = linen:a(1, iattack, p3, idec)
  asig = poscil(iamp, mtof(ipitch)) * aenv
  a1, a2 pan2 asig, ipan
  outs a1, a2
endin
""")
thread = cs.performanceThread()
thread.play()
thread.scoreEvent(0, 'i', (1, 0,   1, 0.5, 60, 0.05, 0.3, 0.2))
thread.scoreEvent(0, 'i', (1, 0.5, 1, 0.5, 62, 0.05, 0.3, 0.8))
import time
time.sleep(1.7)
thread.stop()
ret_join = thread.join()
''', ns)
    assert ns["ret_compile"] == 0, ns["ret_compile"]
    assert ns["ret_join"] == 1, ns["ret_join"]
    return f"compileOrc -> {ns['ret_compile']}, join -> {ns['ret_join']}"


@cell
def process_callback_handler():
    exec(r'''
import queue
import time
import csjack as ct

cs = ct.Csound()
cs.setOption('-+rtaudio=jack -odac:Built-in' )
cs.compileOrc(r"""
sr     = 48000
ksmps  = 64
nchnls = 2
0dbfs  = 1

instr 1
  ipitch = p4
  asig = poscil(0.1, mtof(ipitch))
  outch 1, asig * linen:a(1, 0.01, p3, 0.2)
endin
""")

thread = cs.performanceThread()
thread.play()


class ProcessHandler:
    def __init__(self, csound):
        self.csound = csound
        self.thread = csound.performanceThread()
        self.q = queue.SimpleQueue()
        self.thread.setProcessCallback(self.callback)

    def put(self, job):
        self.q.put(job)

    def callback(self, data):
        if self.q.qsize() == 0:
            return
        job = self.q.get_nowait()
        job(self.csound, self.thread)

    def compile(self, code: str):
        self.put(lambda cs, pt: cs.compileOrc(code))


proc = ProcessHandler(cs)
''', ns)
    assert ns["proc"].thread is ns["thread"]
    return "ProcessHandler set on the running thread"


@cell
def process_callback_compiles_instr10():
    exec(r'''
proc.put(lambda cs, pt: cs.compileOrc(r"""
instr 10
  ifreq = p4
  outch 2, vco2:a(1, ifreq)
endin
"""))

thread.scoreEvent(0, 'i', (1, 0, 1, 72))
thread.scoreEvent(0, 'i', (10, 0, 3, 600))
''', ns)
    # instr 10 must exist by the time its event runs: ask Csound directly
    # once the queue has moved (nstrnum is -1 for an unknown name/number).
    time.sleep(0.3)
    cs = ns["cs"]
    active = cs.evalCode("return active:i(10)")
    assert active == 1.0, f"instr 10 active instances: {active}"
    return f"instr 10 compiled by the callback and playing (active {active:g})"


@cell
def task_then_event():
    exec(r'''
cs = ct.Csound()
cs.setOption('-+rtaudio=jack -odac:Built-in' )
cs.compileOrc(r"""
sr     = 48000
ksmps  = 64
nchnls = 2
0dbfs  = 1

instr 1
  ipitch = p4
  asig = poscil(0.1, mtof(ipitch))
  outch 1, asig * linen:a(1, 0.01, p3, 0.2)
endin
""")

thread = cs.performanceThread(withProcessQueue=True)
thread.play()

thread.task(lambda cs, pt: cs.compileOrc(r"""
instr 10
  ifreq = p4
  outch 2, vco2:a(0.1, ifreq)
endin
"""))

thread.scoreEvent(0, 'i', (1, 0, 1, 72))
thread.scoreEvent(0, 'i', (10, 0, 1, 600))
''', ns)
    time.sleep(0.2)
    active = ns["cs"].evalCode("return active:i(10)")
    assert active == 1.0, f"instr 10 active instances: {active}"
    return f"instr 10 compiled in the task and playing (active {active:g})"


@cell
def queued_evalcode_latency():
    exec(r'''
import csjack as ct
import time

cs = ct.Csound()
cs.setOption("-+rtaudio=jack -odac -B512 -b256")
cs.compileOrc(r"""
sr = 48000
ksmps = 64
""")

thread = cs.performanceThread(withProcessQueue=True)
thread.play()
bufsize = 1024
time.sleep(0.5)

t0 = time.time()
tabnum = thread.evalCode(f'gi__tabnum ftgen 0, 0, {-bufsize}, -2, 0\nreturn gi__tabnum')
t1 = time.time()
print(tabnum, (t1 - t0) * 1000)

thread.stop()
thread.join()
del cs
''', ns)
    assert ns["tabnum"] == 101.0, ns["tabnum"]
    return f"thread.evalCode -> {ns['tabnum']}"


@cell
def direct_evalcode_latency():
    exec(r'''
import csjack as ct
import time

cs = ct.Csound()
cs.setOption("-+rtaudio=jack -odac -b256")
cs.compileOrc(r"""
sr = 48000
ksmps = 64
""")

thread = cs.performanceThread(withProcessQueue=False)
thread.play()
bufsize = 1024
time.sleep(0.5)
t0 = time.time()

tabnum = cs.evalCode(f'gi__tabnum ftgen 0, 0, {-bufsize}, -2, 0\nreturn gi__tabnum')
t1 = time.time()
print(tabnum, (t1 - t0) * 1000)

thread.stop()
thread.join()
del cs
''', ns)
    assert ns["tabnum"] == 101.0, ns["tabnum"]
    return f"cs.evalCode -> {ns['tabnum']}"


@cell
def later_cells_on_a_running_thread():
    # The notebook's last cells were run in a session whose thread had a
    # process queue and was running: set that up first.
    exec(r'''
cs = ct.Csound()
cs.compileOrc("sr = 48000\nksmps = 64\n")
thread = cs.performanceThread(withProcessQueue=True)
thread.play()
''', ns)
    exec("thread.compile(f'gi__tabnum ftgen 0, 0, {-bufsize}, -2, 0')", ns)
    # Queued: right after it, the direct evalCode may run before or after it.
    first = eval("cs.evalCode('return gi__tabnum')", ns)
    print("return gi__tabnum right after thread.compile:", first)
    nan = eval("cs.evalCode('return i__tabnum')", ns)
    assert math.isnan(nan), nan
    ret = eval("cs.compileOrc(f'gi__tabnum ftgen 0, 0, {-bufsize}, -2, 0')", ns)
    assert ret == 0, ret
    value = eval("cs.evalCode('return gi__tabnum')", ns)
    assert value >= 101.0, value
    ns["thread"].stop()
    ns["thread"].join()
    return f"undefined -> nan, compileOrc -> {ret}, return gi__tabnum -> {value}"


def main():
    failed = 0
    for i, fn in enumerate(CELLS, 1):
        try:
            what = fn()
            print(f"cell {i} ok: {fn.__name__}: {what}", flush=True)
        except BaseException:
            failed += 1
            print(f"cell {i} FAILED: {fn.__name__}", flush=True)
            traceback.print_exc()
    # The ProcessHandler's Csound is still playing, as in the notebook: the
    # interpreter's exit must end it cleanly.
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
