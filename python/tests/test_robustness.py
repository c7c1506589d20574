# SPDX-License-Identifier: LGPL-2.1-or-later
"""The binding under stress and misuse: a task that never returns (join,
exit and Ctrl-C still end), a full command ring (the process callback goes
on, every call waits for room instead of failing), and the refusals that
must say why (text with a NUL, NaN, bad bits, a call after the end).
Timings are printed, never asserted; a subprocess's timeout only keeps a
hang from stalling the suite, and its expiry fails the test."""

import math
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import csjack as ct

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent  # python/

COUNT_ORC = r'''
sr = 48000
ksmps = 64
nchnls = 1
0dbfs = 1
instr 2
  chnset chnget:i("hits") + 1, "hits"
  turnoff
endin
'''

# The preamble of the scripts run in a subprocess.
SCRIPT_HEAD = r'''
import os, sys, threading, time
import csjack as ct
ORC = "sr = 48000\nksmps = 64\nnchnls = 1\n0dbfs = 1\ninstr 1\nout poscil(0.1, 440)\nendin\nschedule 1, 0, -1\n"
'''


def run_script(code, server, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT), JACK_DEFAULT_SERVER=server,
               JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")
    t0 = time.monotonic()
    # The timeout only keeps a hang from stalling the suite: its expiry fails the test.
    r = subprocess.run([sys.executable, "-c", SCRIPT_HEAD + code], env=env,
                       capture_output=True, text=True, timeout=timeout)
    print(f"(the script took {time.monotonic() - t0:.2f} s)")
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    return r


@pytest.fixture
def made(server):
    made = []

    def make(**kw):
        kw.setdefault("no_connect", True)
        cs = ct.Csound(**kw)
        made.append(cs)
        return cs

    yield make
    for cs in made:
        cs.destroy()


# ---- a task that never returns ---------------------------------------------------------------

HELD_TASK = r'''
cs = ct.Csound(no_connect=True, hang_limit_ms=300)
cs.compileOrc(ORC)
pt = cs.performanceThread()
pt.play()
started = threading.Event()
def forever(cs, pt):
    started.set()
    threading.Event().wait()
pt.task(forever)
assert started.wait(10)
'''


def test_join_gives_up_on_a_task_that_never_returns(server):
    r = run_script(HELD_TASK + r'''
t0 = time.monotonic()
pt.stop()
status = pt.join()
print(f"joined {status} after {time.monotonic() - t0:.3f} s", flush=True)
''', server)
    assert r.returncode == 0, r.stderr
    assert "joined 1" in r.stdout
    assert "has not returned" in r.stderr and "off-thread task" in r.stderr, r.stderr
    assert "forever" in r.stderr, r.stderr          # the binding names the Python function


def test_exit_gives_up_on_a_task_that_never_returns(server):
    r = run_script(HELD_TASK + r'''
print("exiting", flush=True)
sys.exit(0)
''', server)
    assert r.returncode == 0, r.stderr
    assert "exiting" in r.stdout
    assert "has not returned" in r.stderr, r.stderr


def test_ctrl_c_breaks_a_join_that_would_wait_for_ever(server):
    # hang_limit_ms=-1: the library waits for the task for ever, as asked;
    # Ctrl-C must still reach Python.
    r = run_script(HELD_TASK.replace("hang_limit_ms=300", "hang_limit_ms=-1") + r'''
import _thread
pt.stop()
threading.Timer(0.5, _thread.interrupt_main).start()
t0 = time.monotonic()
try:
    pt.join()
    print("joined", flush=True)
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - t0:.3f} s", flush=True)
os._exit(0)   # the engine's close still waits for the task, as asked
''', server)
    assert r.returncode == 0, r.stderr
    assert "interrupted" in r.stdout


def test_ctrl_c_breaks_a_queued_evalcode(server):
    r = run_script(r'''
import _thread
cs = ct.Csound(no_connect=True)
cs.compileOrc(ORC)
pt = cs.performanceThread()
pt.play()
release = threading.Event()
pt.task(lambda cs, pt: release.wait())        # holds the line: evalCode waits behind it
threading.Timer(0.5, _thread.interrupt_main).start()
t0 = time.monotonic()
try:
    pt.evalCode("return 1", timeout=-1)
    print("returned", flush=True)
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - t0:.3f} s", flush=True)
release.set()
print("value", pt.evalCode("return 7"), flush=True)
pt.stop()
pt.join()
''', server)
    assert r.returncode == 0, r.stderr
    assert "interrupted" in r.stdout
    assert "value 7.0" in r.stdout


# ---- a full ring -------------------------------------------------------------------------------

def flood(pt, seconds):
    """Sends score events for @p seconds as fast as one thread can; returns
    (sent, refused)."""
    sent = refused = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            pt.scoreEvent(0, "i", (2, 0, 0.01))
            sent += 1
        except ct.CsjackError:
            refused += 1
    return sent, refused


def test_process_callback_survives_a_full_ring(made):
    cs = made()
    cs.compileOrc(COUNT_ORC)
    pt = cs.performanceThread()
    pt.play()
    calls = [0]

    def callback(_data):
        calls[0] += 1
    pt.setProcessCallback(callback)
    box = []
    flooder = threading.Thread(target=lambda: box.append(flood(pt, 2.0)))
    flooder.start()
    flooder.join()
    sent, refused = box[0]
    st = cs.stats()
    print(f"flood: {sent} events sent, {refused} refused; ring high water "
          f"{st['ring_high_water']} of {st['ring_capacity']}; callback calls {calls[0]}")
    assert st["ring_high_water"] >= st["ring_capacity"] - 1   # the ring was full
    pt.flush(timeout=30)
    before = calls[0]
    time.sleep(0.5)
    after = calls[0]
    print(f"callback calls in 0.5 s after the flood: {after - before}")
    assert after > before
    assert pt.processCallback() is callback


def test_process_callback_keeps_its_order_under_a_full_ring(made):
    """The notebook's ProcessHandler (put a compile in a Python queue, then
    send an event for what it compiles) while another thread keeps the
    ring full: every event still finds its instrument."""
    said = []
    cs = made(message_callback=lambda attr, text: said.append(text))
    cs.compileOrc(COUNT_ORC)
    pt = cs.performanceThread()
    pt.play()
    jobs = queue.SimpleQueue()

    def handler(_data):
        while True:
            try:
                code = jobs.get_nowait()
            except queue.Empty:
                return
            cs.compileOrc(code)
    pt.setProcessCallback(handler)
    stop = threading.Event()

    def keep_full():
        while not stop.is_set():
            pt.scoreEvent(0, "i", (2, 0, 0.01))
    flooder = threading.Thread(target=keep_full)
    flooder.start()
    try:
        time.sleep(0.2)
        rounds = 40
        for i in range(rounds):
            n = 100 + i
            jobs.put(f'instr {n}\n  chnset {n}, "last"\n  turnoff\nendin\n')
            pt.scoreEvent(0, "i", (n, 0, 0.01))
            time.sleep(0.01)
    finally:
        stop.set()
        flooder.join()
    pt.flush(timeout=30)
    st = cs.stats()
    print(f"ring high water {st['ring_high_water']} of {st['ring_capacity']}")
    bad = [t for t in said if "invalid instrument" in t]
    assert not bad, bad
    assert cs.controlChannel("last")[0] == 100 + rounds - 1


def test_twenty_thousand_events_all_run(made):
    cs = made()
    cs.compileOrc(COUNT_ORC)
    cs.setControlChannel("hits", 0)
    pt = cs.performanceThread()
    pt.play()
    n = 20000
    t0 = time.monotonic()
    for _ in range(n):
        pt.scoreEvent(0, "i", (2, 0, 0.01))          # none may raise: it waits for room
    t1 = time.monotonic()
    pt.flush(timeout=60)
    t2 = time.monotonic()
    deadline = time.monotonic() + 30
    while cs.controlChannel("hits")[0] < n and time.monotonic() < deadline:
        time.sleep(0.01)
    st = cs.stats()
    print(f"{n} events queued in {t1 - t0:.2f} s ({n / (t1 - t0):.0f}/s), all run "
          f"{t2 - t0:.2f} s after the first; ring high water {st['ring_high_water']} of "
          f"{st['ring_capacity']}, cycles deferring commands {st['commands_deferred']}")
    assert cs.controlChannel("hits")[0] == n


def test_flood_from_two_threads_with_text_commands(made):
    """Jobs (text commands) count against the commands in flight: those wait too."""
    cs = made()
    cs.compileOrc(COUNT_ORC)
    cs.setControlChannel("hits", 0)
    pt = cs.performanceThread()
    pt.play()
    n = 6000
    errors = []

    def send(kind):
        try:
            for _ in range(n):
                if kind == "text":
                    pt.inputMessage("i 2 0 0.01")
                else:
                    cs.scoreEvent("i", (2, 0, 0.01))
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=send, args=(k,)) for k in ("text", "event")]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pt.flush(timeout=60)
    print(f"{2 * n} commands from two threads in {time.monotonic() - t0:.2f} s")
    assert not errors, errors
    deadline = time.monotonic() + 30
    while cs.controlChannel("hits")[0] < 2 * n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cs.controlChannel("hits")[0] == 2 * n


# ---- refusals that say why -------------------------------------------------------------------

def test_start_and_perform_after_join_raise(made):
    cs = made()
    cs.compileOrc(COUNT_ORC)
    pt = cs.performanceThread()
    pt.play()
    pt.stop()
    assert pt.join() == 1
    for call in (cs.start, cs.perform):
        with pytest.raises(ct.CsjackError) as info:
            call()
        assert info.value.name == "CSJ_ERR_STATE"


def test_record_with_bad_bits_says_which_are_taken(made, tmp_path):
    cs = made()
    cs.compileOrc(COUNT_ORC)
    pt = cs.performanceThread()
    pt.play()
    with pytest.raises(ct.CsjackError) as info:
        pt.record(tmp_path / "x.wav", 8)
    assert info.value.name == "CSJ_ERR_BAD_ARG"
    assert isinstance(info.value, ValueError)
    assert "16, 24 or 32" in str(info.value)


def test_text_with_a_nul_is_refused(made):
    cs = made()
    cs.compileOrc(COUNT_ORC)
    cs.setControlChannel("hits", 0)
    pt = cs.performanceThread()
    pt.play()
    calls = [
        lambda: cs.evalCode("return 3\x00return 4"),
        lambda: pt.evalCode("return 3\x00return 4"),
        lambda: cs.compileOrc("instr 9\nendin\n\x00instr 8\nendin\n"),
        lambda: pt.compile("instr 9\nendin\n\x00"),
        lambda: cs.inputMessage("i 2 0 0.01\x00i 2 0 0.01"),
        lambda: cs.readScore("i 2 0 0.01\x00"),
        lambda: pt.inputMessage("i 2 0 0.01\x00"),
        lambda: cs.setControlChannel("hits\x00x", 1),
        lambda: cs.controlChannel("hits\x00x"),
        lambda: cs.setStringChannel("s", "a\x00b"),
        lambda: cs.setStringChannel("s\x00", "a"),
    ]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, ct.CsjackError)
        assert info.value.name == "CSJ_ERR_BAD_ARG"
        assert "NUL" in str(info.value), str(info.value)
    pt.flush()
    assert cs.controlChannel("hits") == (0.0, 0)           # nothing of it ran
    with pytest.raises(ValueError):
        ct.Csound(client_name="a\x00b")._engine("x")


def test_nan_is_refused(made):
    cs = made()
    cs.compileOrc(COUNT_ORC)
    pt = cs.performanceThread()
    pt.play()
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ct.CsjackError) as info:
            pt.scoreEvent(0, "i", (2, 0, bad))
        assert info.value.name == "CSJ_ERR_BAD_ARG" and isinstance(info.value, ValueError)
        print(info.value)
        with pytest.raises(ct.CsjackError) as info:
            cs.setControlChannel("k", bad)
        assert info.value.name == "CSJ_ERR_BAD_ARG" and isinstance(info.value, ValueError)
        print(info.value)
