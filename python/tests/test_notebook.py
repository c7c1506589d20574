# SPDX-License-Identifier: LGPL-2.1-or-later
"""The ctcsound7 "Multithreading" notebook's steps, run through csjack with
``import csjack as ct``, each checked by what it should do: what sounds on
which channel (csjack's own recording of its output, read back with the
wave module), what evalCode returns, that an instrument compiled in a task
exists for the event queued right after it. Timings are printed, never
asserted."""

import math
import queue
import statistics
import threading
import time

import pytest

import csjack as ct
from helpers import onset, peak, read_wav, summary

# The notebook's first orchestra: instr 1 is a panned sine with an envelope.
PAN_ORC = r'''
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
'''

# The process-callback orchestra: instr 1 on channel 1 only.
CH1_ORC = r'''
sr     = 48000
ksmps  = 64
nchnls = 2
0dbfs  = 1

instr 1
  ipitch = p4
  asig = poscil(0.1, mtof(ipitch))
  outch 1, asig * linen:a(1, 0.01, p3, 0.2)
endin
'''

INSTR10 = r'''
instr 10
  ifreq = p4
  outch 2, vco2:a(0.1, ifreq)
endin
'''

TABLE_CODE = "gi__tabnum ftgen 0, 0, -1024, -2, 0\nreturn gi__tabnum"


class Messages:
    """Csound's and csjack's messages, collected (and echoed to stderr)."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def __call__(self, attr, text):
        with self.lock:
            self.lines.append(text)

    def text(self):
        with self.lock:
            return "".join(self.lines)


@pytest.fixture
def made(server):
    """Csound objects a test makes are destroyed at its end, whatever happens."""
    made = []

    def make(**kw):
        kw.setdefault("message_callback", Messages())
        cs = ct.Csound(**kw)
        made.append(cs)
        return cs

    yield make
    for cs in made:
        cs.destroy()


def wait_until(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


# ---- cells 1 to 4: play, two events, stop, join ---------------------------------------------

def test_events_sound_panned_then_stop_and_join(made, tmp_path):
    cs = made()
    assert cs.setOption("-d -odac -m0") == 0      # several options in one string
    assert cs.compileOrc(PAN_ORC) == 0
    thread = cs.performanceThread()
    assert thread is cs.performanceThread()        # the same thread object
    thread.play()
    assert thread.isRunning()
    assert thread.status() == 0
    wav = tmp_path / "cell3.wav"
    thread.record(str(wav), 16)
    thread.scoreEvent(0, 'i', (1, 0,   1, 0.5, 60, 0.05, 0.3, 0.2))
    thread.scoreEvent(0, 'i', (1, 0.5, 1, 0.5, 62, 0.05, 0.3, 0.8))
    time.sleep(1.8)
    thread.stopRecord()
    thread.stop()
    assert thread.join() == 1                      # stopped: positive, as ctcsound's
    assert not thread.isRunning()
    assert thread.status() == 1

    rate, (left, right) = read_wav(wav)
    assert rate == 48000
    start = onset(left, 0.001)
    assert start is not None, "nothing sounded"
    sec = rate
    # Note 1 alone (0 .. 0.5 s): panned 0.2, louder on the left.
    l1, r1 = peak(left, start + sec // 10, start + sec * 4 // 10), \
        peak(right, start + sec // 10, start + sec * 4 // 10)
    # Note 2 alone (1.05 .. 1.45 s): panned 0.8, louder on the right.
    l2, r2 = peak(left, start + sec * 105 // 100, start + sec * 145 // 100), \
        peak(right, start + sec * 105 // 100, start + sec * 145 // 100)
    print(f"note 1: left {l1:.3f} right {r1:.3f}; note 2: left {l2:.3f} right {r2:.3f}")
    assert l1 > 0.3 and r1 > 0.05 and l1 > 2 * r1
    assert r2 > 0.3 and l2 > 0.05 and r2 > 2 * l2
    # And silence after the second note's end (1.5 s).
    assert peak(left, start + sec * 16 // 10) < 0.001
    assert peak(right, start + sec * 16 // 10) < 0.001


# ---- the process callback: the notebook's ProcessHandler ---------------------------------------

class ProcessHandler:
    """The notebook's handler, as a user writes it."""

    def __init__(self, csound):
        self.csound = csound
        self.thread = csound.performanceThread()
        self.q = queue.SimpleQueue()
        self.calls = 0
        self.threads = set()
        self.thread.setProcessCallback(self.callback)

    def put(self, job):
        self.q.put(job)

    def callback(self, data):
        self.calls += 1
        self.threads.add(threading.get_ident())
        if self.q.qsize() == 0:
            return
        job = self.q.get_nowait()
        job(self.csound, self.thread)

    def compile(self, code):
        self.put(lambda cs, pt: cs.compileOrc(code))


def test_process_callback_compiles_before_the_next_event(made, tmp_path):
    msgs = Messages()
    cs = made(message_callback=msgs)
    cs.setOption('-+rtaudio=jack -odac:Built-in')   # accepted, with a notice
    cs.compileOrc(CH1_ORC)
    thread = cs.performanceThread()
    thread.play()
    proc = ProcessHandler(cs)
    assert proc.thread is thread
    wav = tmp_path / "process.wav"
    thread.record(str(wav), 16)
    c0 = cs.stats()["cycles"]
    time.sleep(0.2)
    proc.put(lambda cs, pt: cs.compileOrc(INSTR10))
    thread.scoreEvent(0, 'i', (1, 0, 1, 72))
    # The code is compiled before the next event runs: it can be scheduled at once.
    thread.scoreEvent(0, 'i', (10, 0, 1, 600))
    time.sleep(1.4)
    thread.stopRecord()
    calls, cycles = proc.calls, cs.stats()["cycles"] - c0
    print(f"process callback: {calls} calls in {cycles} cycles")
    assert threading.get_ident() not in proc.threads   # not the caller's thread
    assert calls > 10                                  # called again and again
    assert "rtaudio" in msgs.text() and "notice" in msgs.text()
    assert "invalid instrument" not in msgs.text(), msgs.text()
    rate, (ch1, ch2) = read_wav(wav)
    o1, o2 = onset(ch1, 0.01), onset(ch2, 0.01)
    print(f"instr 1 on channel 1 from frame {o1}, instr 10 on channel 2 from frame {o2}")
    assert o1 is not None and peak(ch1) > 0.05
    assert o2 is not None and peak(ch2) > 0.05, "instr 10 did not sound"
    assert abs(o2 - o1) < rate // 10   # in the same breath as instr 1
    thread.setProcessCallback(None)
    thread.stop()
    assert thread.join() == 1


# ---- performanceThread(withProcessQueue=True): task, then an event at once --------------------

def test_task_compiles_instr10_then_event_sounds(made, tmp_path):
    msgs = Messages()
    cs = made(message_callback=msgs)
    cs.setOption('-+rtaudio=jack -odac:Built-in')
    cs.compileOrc(CH1_ORC)
    thread = cs.performanceThread(withProcessQueue=True)
    thread.play()
    wav = tmp_path / "task.wav"
    thread.record(str(wav), 16)
    ran_on = []
    thread.task(lambda cs, pt: (ran_on.append(threading.get_ident()), cs.compileOrc(INSTR10)))
    thread.scoreEvent(0, 'i', (1, 0, 1, 72))
    thread.scoreEvent(0, 'i', (10, 0, 1, 600))
    time.sleep(1.3)
    thread.stopRecord()
    assert len(ran_on) == 1 and ran_on[0] != threading.get_ident()
    assert "invalid instrument" not in msgs.text(), msgs.text()
    rate, (ch1, ch2) = read_wav(wav)
    o1, o2 = onset(ch1, 0.01), onset(ch2, 0.01)
    print(f"instr 1 from frame {o1}, instr 10 from frame {o2}")
    assert o1 is not None and o2 is not None, "instr 10 did not sound"
    assert abs(o2 - o1) < rate // 10
    assert 0.05 < peak(ch2) <= 0.2                    # vco2 at 0.1


def test_tasks_hold_the_line_every_time(made):
    """Twenty rounds of "compile a new instrument in a task, schedule it at
    once": each event finds its instrument, and runs once."""
    msgs = Messages()
    cs = made(message_callback=msgs)
    cs.compileOrc(CH1_ORC)
    thread = cs.performanceThread(withProcessQueue=True)
    thread.play()
    cs.setControlChannel("hits", 0)
    for n in range(20, 40):
        code = f"instr {n}\n  chnset chnget:i(\"hits\") + 1, \"hits\"\n  turnoff\nendin\n"
        thread.task(lambda cs, pt, code=code: cs.compileOrc(code))
        thread.scoreEvent(0, 'i', (n, 0, 0.01))
    thread.flushMessageQueue()
    assert wait_until(lambda: cs.controlChannel("hits")[0] >= 20)
    time.sleep(0.05)
    assert cs.controlChannel("hits") == (20.0, 0)
    assert "invalid instrument" not in msgs.text(), msgs.text()


# ---- evalCode: queued through the thread, and direct ---------------------------------------------

def test_thread_evalcode_returns_the_table_number(made):
    cs = made()
    cs.setOption("-+rtaudio=jack -odac -B512 -b256")
    cs.compileOrc("sr = 48000\nksmps = 64\n")
    thread = cs.performanceThread(withProcessQueue=True)
    thread.play()
    time.sleep(0.2)
    t0 = time.time()
    tabnum = thread.evalCode(TABLE_CODE)
    t1 = time.time()
    print(tabnum, (t1 - t0) * 1000)
    assert tabnum == 101.0
    assert cs.evalCode("return gi__tabnum") == 101.0   # direct, while performing
    assert cs.tableLength(101) == 1024
    thread.stop()
    assert thread.join() == 1
    del cs


def test_direct_evalcode_while_the_thread_runs(made):
    cs = made()
    cs.setOption("-+rtaudio=jack -odac -b256")
    cs.compileOrc("sr = 48000\nksmps = 64\n")
    thread = cs.performanceThread(withProcessQueue=False)
    thread.play()
    time.sleep(0.2)
    tabnum = cs.evalCode(TABLE_CODE)
    assert tabnum == 101.0
    # The queued compile, then the direct evalCode once it has run.
    thread.compile("gi__other ftgen 0, 0, -16, -2, 0")
    thread.sync()
    assert cs.evalCode("return gi__other") == 102.0
    thread.stop()
    assert thread.join() == 1


def test_evalcode_callback_form_off_the_callers_thread(made):
    cs = made()
    cs.compileOrc("sr = 48000\nksmps = 64\n")
    thread = cs.performanceThread()
    thread.play()
    got = queue.SimpleQueue()
    assert thread.evalCode("return 6 * 7", callback=lambda v: got.put((v, threading.get_ident()))) == 0.0
    value, ident = got.get(timeout=5)
    assert value == 42.0 and ident != threading.get_ident()
    thread.evalCode("return i__nope", callback=lambda v: got.put((v, 0)))
    value, _ = got.get(timeout=5)
    assert math.isnan(value)


def test_latency_queued_against_direct(made):
    """The notebook's comparison, several runs each: printed, not asserted."""
    cs = made()
    cs.setOption("-+rtaudio=jack -odac -B512 -b256")
    cs.compileOrc("sr = 48000\nksmps = 64\n")
    thread = cs.performanceThread(withProcessQueue=True)
    thread.play()
    time.sleep(0.3)
    runs = 30
    queued, direct = [], []
    for i in range(runs):
        t0 = time.perf_counter()
        v = thread.evalCode(f"gi__q{i} ftgen 0, 0, -1024, -2, 0\nreturn gi__q{i}")
        queued.append((time.perf_counter() - t0) * 1000)
        assert v > 100
        time.sleep(0.01)
        t0 = time.perf_counter()
        v = cs.evalCode(f"gi__d{i} ftgen 0, 0, -1024, -2, 0\nreturn gi__d{i}")
        direct.append((time.perf_counter() - t0) * 1000)
        assert v > 100
        time.sleep(0.01)
    s = cs.stats()
    print(f"\nevalCode at period {s['period']}, {s['sample_rate']} Hz, {runs} calls each:")
    print("  queued (thread.evalCode): " + summary(queued))
    print("  direct (cs.evalCode):     " + summary(direct))
    print(f"  cycles dropped by the direct calls: {s['dropped_cycles']}")
    thread.stop()
    thread.join()


# ---- errors ---------------------------------------------------------------------------------------

def test_csound_errors_return_like_ctcsound_or_raise_with_strict(made):
    cs = made()
    cs.compileOrc(CH1_ORC)
    thread = cs.performanceThread()
    thread.play()
    assert math.isnan(cs.evalCode("return i__tabnum"))     # as the notebook shows
    assert cs.compileOrc("instr 3\n  a1 nosuchopcode 1\nendin\n") == ct.CSOUND_ERROR
    assert math.isnan(thread.evalCode("return i__tabnum"))
    # The music plays on.
    c = cs.stats()["cycles"]
    assert wait_until(lambda: cs.stats()["cycles"] > c + 5)
    assert thread.isRunning()

    strict = made(strict=True)
    strict.compileOrc(CH1_ORC)
    strict.performanceThread().play()
    with pytest.raises(ct.CsoundError) as info:
        strict.evalCode("return i__tabnum")
    assert info.value.name == "CSJ_ERR_EVAL"
    assert info.value.status == 15
    assert "i__tabnum" in info.value.message               # Csound's own words
    assert "CSJ_ERR_EVAL" in str(info.value)
    with pytest.raises(ct.CsoundError) as info:
        strict.compileOrc("instr 3\n  a1 nosuchopcode 1\nendin\n")
    assert info.value.name == "CSJ_ERR_COMPILE"
    assert isinstance(info.value, ct.CsjackError) and isinstance(info.value, RuntimeError)


def test_csjack_errors_raise(made, server):
    cs = made()
    cs.compileOrc(CH1_ORC)
    with pytest.raises(ct.CsjackError) as info:
        cs.setOption("-m0")                                 # after the first compile
    assert info.value.name == "CSJ_ERR_STATE"
    thread = cs.performanceThread()
    thread.play()
    with pytest.raises(ct.CsjackError) as info:
        cs.tableGet(99, 0)
    assert info.value.name == "CSJ_ERR_NOT_FOUND"
    with pytest.raises(ValueError):
        thread.scoreEvent(0, "ii", (1, 0, 1))
    thread.stop()
    thread.join()
    with pytest.raises(ct.CsjackError) as info:
        thread.scoreEvent(0, 'i', (1, 0, 1, 60))
    assert info.value.name == "CSJ_ERR_STATE"

    # A refused option is refused at once, as csoundSetOption does, and is
    # not kept: the instance stays usable (it spoiled every later call).
    bad = made()
    assert bad.setOption("--no-such-csound-option") == ct.CSOUND_ERROR
    assert "no-such-csound-option" in bad.lastError()
    assert bad.setOption("-m0 -d") == ct.CSOUND_SUCCESS
    assert bad.compileOrc(CH1_ORC) == ct.CSOUND_SUCCESS
    strict = made(strict=True)
    with pytest.raises(ct.CsoundError) as info:
        strict.setOption("--ksmps")
    assert info.value.name == "CSJ_ERR_OPTION" and "--ksmps" in str(info.value)
    with pytest.raises(TypeError):
        bad.evalCode(None)

    nowhere = made(server="csjack-no-such-server-" + server)
    with pytest.raises(ct.CsjackError) as info:
        nowhere.compileOrc(CH1_ORC)
    assert info.value.name == "CSJ_ERR_NO_SERVER"

    one = made(client_name="csjack-py-taken")
    one.compileOrc(CH1_ORC)
    two = made(client_name="csjack-py-taken")
    with pytest.raises(ct.CsjackError) as info:
        two.compileOrc(CH1_ORC)
    assert info.value.name == "CSJ_ERR_NAME_TAKEN"


def test_waiting_calls_inside_a_task_raise_instead_of_hanging(made):
    cs = made()
    cs.compileOrc(CH1_ORC)
    thread = cs.performanceThread(withProcessQueue=True)
    thread.play()
    seen = queue.SimpleQueue()

    def job(cs, pt):
        try:
            pt.evalCode("return 1")
        except ct.CsjackError as exc:
            seen.put(exc.name)
        seen.put(cs.evalCode("return 5"))                  # direct: fine in a task
    thread.task(job)
    assert seen.get(timeout=5) == "CSJ_ERR_STATE"
    assert seen.get(timeout=5) == 5.0
    assert thread.evalCode("return 2") == 2.0              # the line moves on


# ---- channels, tables, pause ---------------------------------------------------------------------

def test_channels_and_tables(made):
    cs = made()
    cs.compileOrc(CH1_ORC + r'''
gi_t ftgen 7, 0, 8, -2, 0
instr 5
  tablew chnget:k("in") * 2, 3, 7
endin
schedule 5, 0, -1
''')
    cs.setControlChannel("in", 0.25)
    assert cs.controlChannel("in") == (0.25, 0)
    thread = cs.performanceThread()
    thread.play()
    assert wait_until(lambda: cs.tableGet(7, 3) == 0.5)
    cs.setControlChannel("in", 1.5)
    assert wait_until(lambda: cs.tableGet(7, 3) == 3.0)
    cs.tableSet(7, 0, 9.0)
    assert cs.tableGet(7, 0) == 9.0
    assert cs.tableLength(7) == 8
    assert cs.tableLength(77) == -1
    assert cs.table(7)[0] == 9.0 and len(cs.table(7)) == 8
    cs.setStringChannel("s", "hello")
    thread.flushMessageQueue()
    assert cs.stringChannel("s") == "hello"


def test_pause_toggle_play(made):
    cs = made()
    cs.compileOrc(CH1_ORC)
    thread = cs.performanceThread()
    thread.play()
    thread.pause()
    thread.flushMessageQueue()
    assert cs.stats()["paused"]
    thread.togglePause()
    thread.flushMessageQueue()
    assert not cs.stats()["paused"]
    thread.togglePause()
    thread.play()
    thread.flushMessageQueue()
    assert not cs.stats()["paused"]
    b = cs.stats()["ksmps_blocks"]
    assert wait_until(lambda: cs.stats()["ksmps_blocks"] > b)
