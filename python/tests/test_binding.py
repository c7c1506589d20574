# SPDX-License-Identifier: LGPL-2.1-or-later
"""The binding itself: the notebook's cells run as one script, lifetime
(del, the interpreter's exit with music playing), and finding the library."""

import gc
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ctypes

import csjack as ct
from csjack import _lib

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent  # python/


def run_python(code_or_file, server, extra_env=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT), JACK_DEFAULT_SERVER=server,
               JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")
    env.update(extra_env or {})
    args = [sys.executable, str(code_or_file)] if isinstance(code_or_file, Path) else \
        [sys.executable, "-c", code_or_file]
    # The timeout only keeps a hang from stalling the suite: it fails the test.
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_notebook_cells_in_one_interpreter(server):
    t0 = time.monotonic()
    r = run_python(HERE / "notebook_cells.py", server)
    print(r.stdout)
    print(f"(the script took {time.monotonic() - t0:.1f} s)")
    assert r.returncode == 0, r.stdout + r.stderr
    oks = [line for line in r.stdout.splitlines() if line.startswith("cell ") and " ok: " in line]
    assert len(oks) == 7, r.stdout


def test_exit_with_music_playing_a_callback_and_a_task_in_flight(server):
    code = r'''
import time, csjack as ct
cs = ct.Csound()
cs.compileOrc("sr = 48000\nksmps = 64\nnchnls = 2\n0dbfs = 1\ninstr 1\nouts poscil(0.1, 440), poscil(0.1, 440)\nendin\nschedule 1, 0, -1\n")
pt = cs.performanceThread()
pt.play()
pt.setProcessCallback(lambda data: None)
pt.task(lambda cs, pt: time.sleep(0.2))      # holds the line as we leave
pt.scoreEvent(0, 'i', (1, 0, 1))
time.sleep(0.05)
print("leaving", flush=True)
'''
    r = run_python(code, server, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "leaving" in r.stdout
    assert "Traceback" not in r.stderr, r.stderr


def test_del_destroys_the_engine_and_frees_its_name(server):
    cs = ct.Csound(client_name="csjack-py-del")
    cs.compileOrc("sr = 48000\nksmps = 64\nnchnls = 1\ninstr 1\nendin\n")
    cs.performanceThread().play()
    assert cs.isRunning()
    del cs
    gc.collect()
    again = ct.Csound(client_name="csjack-py-del")    # the name is free again
    again.compileOrc("sr = 48000\nksmps = 64\nnchnls = 1\ninstr 1\nendin\n")
    pt = again.performanceThread()
    pt.play()
    assert again.clientName() == "csjack-py-del"
    pt.stop()
    assert pt.join() == 1
    assert again.stats()["cycles"] > 0   # the last counters stay readable


def test_default_names_do_not_clash(server):
    a, b = ct.Csound(), ct.Csound()
    try:
        for cs in (a, b):
            cs.compileOrc("sr = 48000\nksmps = 64\nnchnls = 1\ninstr 1\nendin\n")
            cs.performanceThread().play()
        assert a.clientName() != b.clientName()
        assert a.clientName().startswith("csjack") and b.clientName().startswith("csjack")
    finally:
        a.destroy()
        b.destroy()


def test_library_not_found_names_every_place_tried(tmp_path):
    copy = tmp_path / "csjack"
    shutil.copytree(PACKAGE_ROOT / "csjack", copy)   # no build tree beside it
    env = dict(os.environ, PYTHONPATH=str(tmp_path), CSJACK_LIBRARY="/nonexistent/libcsjack.so.0",
               LD_LIBRARY_PATH="")
    r = subprocess.run([sys.executable, "-c", "import csjack; print(csjack.LIBRARY_PATH)"],
                       env=env, capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        pytest.skip("a system libcsjack is installed: " + r.stdout.strip())
    assert "ImportError" in r.stderr
    assert "CSJACK_LIBRARY=/nonexistent/libcsjack.so.0" in r.stderr
    assert "libcsjack.so.0" in r.stderr and "system" in r.stderr


def test_library_from_the_environment(server):
    lib = ct.LIBRARY_PATH
    r = run_python("import csjack; print(csjack.LIBRARY_PATH)", server,
                   extra_env={"CSJACK_LIBRARY": lib})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == lib


COUNT_ORC = r'''
sr = 48000
ksmps = 64
nchnls = 1
0dbfs = 1
instr 2
  chnset chnget:i("hits") + p4, "hits"
  turnoff
endin
'''


def test_score_text_events_before_the_start_and_stats(server):
    cs = ct.Csound(no_connect=True)
    try:
        cs.compileOrc(COUNT_ORC)
        cs.setControlChannel("hits", 0)
        cs.scoreEvent("i", (2, 0, 0.01, 1))          # before the start: sent at the start
        cs.inputMessage("i 2 0 0.01 10")
        pt = cs.performanceThread()
        pt.play()
        pt.inputMessage("i 2 0 0.01 100")
        pt.scoreEvent(1, "i", (2, 0, 0.01, 1000))     # absp2: at score time 0, i.e. now
        pt.flush()

        def hits():
            return cs.controlChannel("hits")[0]
        end = time.monotonic() + 5
        while hits() < 1111 and time.monotonic() < end:
            time.sleep(0.005)
        time.sleep(0.05)
        assert hits() == 1111.0
        s = cs.stats()
        assert s["sample_rate"] == 48000 and s["ksmps"] == 64 and s["outputs"] == 1
        assert cs.sr() == 48000.0 and cs.ksmps() == 64 and cs.nchnls() == 1
        assert s["commands_run"] >= 4 and s["cycles"] > 0
        # the whole struct, as the library fills it (a shorter copy was
        # overrun by 16 bytes)
        assert ctypes.sizeof(_lib.CsjStats) == _lib.lib.csj_stats_size()
        assert s["output_nonfinite"] == 0 and "ring_used" in s
        # Csound rewinds the score for an offset behind the current time
        # (and drops the events not yet begun): queued, in order, after them.
        pt.setScoreOffsetSeconds(0)
        pt.flush()
        assert pt.isRunning() and hits() == 1111.0
        pt.stop()
        assert pt.join() == 1
    finally:
        cs.destroy()


def test_compile_of_an_orc_file_while_performing_finds_what_lies_beside_it(server, tmp_path):
    """compileCsd of an .orc while performing, from another working folder:
    its diskin2 finds the sample beside the file, as `csound FILE` would."""
    import math
    import struct
    import wave
    proj = tmp_path / "my proj"
    (proj / "samples").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with wave.open(str(proj / "samples" / "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"".join(struct.pack("<h", int(16000 * math.sin(2 * math.pi * 440 * i / 48000)))
                               for i in range(24000)))
    (proj / "late.orc").write_text(
        'instr 5\n  a1 diskin2 "samples/tone.wav", 1\n  kpk peak a1\n'
        '  chnset kpk, "tonepeak"\nendin\n')
    code = f'''
import os, time, csjack as ct
os.chdir({str(elsewhere)!r})
cs = ct.Csound()
cs.compileOrc("sr = 48000\\nksmps = 64\\nnchnls = 2\\n0dbfs = 1\\n")
pt = cs.performanceThread()
pt.play()
cs.compileCsd({str(proj / "late.orc")!r})
pt.scoreEvent(0, "i", (5, 0, 0.3))
time.sleep(0.6)
print("peak", cs.controlChannel("tonepeak")[0], flush=True)
pt.stop()
pt.join()
'''
    r = run_python(code, server, timeout=60)
    print(r.stdout, r.stderr[-2000:])
    assert r.returncode == 0, r.stdout + r.stderr
    peak = float(r.stdout.split("peak", 1)[1].split()[0])
    assert peak > 0.3, r.stdout + r.stderr
