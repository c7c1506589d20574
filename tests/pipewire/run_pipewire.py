#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""csjack on PipeWire's JACK, against a private headless PipeWire.

Starts its own `pipewire -c minimal-headless.conf` (beside this file) with a
runtime directory of its own (XDG_RUNTIME_DIR and PIPEWIRE_RUNTIME_DIR under
a temporary directory: never a user's PipeWire, no D-Bus, no session
manager), runs csjack under `pw-jack` and checks:

  audio      a counter (frame n is n/2^23) played and --record-ed: every
             frame, through quantum changes (pw-metadata clock.force-quantum
             64, 128, 1024, 0) and a large :orc sent during a change; a
             second csjack records what reaches it through the graph; the
             console's :record across the changes; the pretty-name and order
             metadata (jack_property); the UDP server (--port); the console;
             csjack's connections restored when its peer comes back
  roundtrip  jack_iodelay through a thru orchestra at quantum 64 and 256
             (one period), and at ksmps 48 (the added latency, reported)
  midi       a note loop between two csjacks (midi_out -> midi_in, an echo
             back): every message; velocity-0 note-ons arrive as note-offs
             unless jack.fix-midi-events is false
  freewheel  csjack --freewheel --record linked to a peer: every frame, the
             summary's speed; a peer linked to the render and a bystander;
             a render linked to nothing (PipeWire 0.3.65 runs no cycle for it)
  restart    PipeWire stopped and started again: csjack --reconnect comes
             back with its connections, a csjack without it ends (status 8)

The checks wait for events (a reply, a counter in :stats), never for a
time; times are printed only. PipeWire is always killed (also on failure,
Ctrl-C, SIGTERM; and with the runner by PR_SET_PDEATHSIG).

Standard library only. Usage:
  run_pipewire.py --csjack PATH [--conf FILE] [--only SECTION] [--keep]
Exit 0 when every check passed, 1 otherwise, 77 when pipewire, pw-jack or
pipewire-jack (PipeWire's libjack) is missing.
"""

import argparse
import array
import ctypes
import glob
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAILURES = []
KNOWN = []
RATE = 48000
WRAP = 8388608  # 2^23
FIX_MIDI_OFF = "{ jack.fix-midi-events = false }"

try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent():
    """In the child, before exec: SIGKILL when the runner dies, whatever kills it."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def check(cond, what, detail=""):
    mark = "ok" if cond else "FAIL"
    print(f"  {mark}: {what}" + (f" ({detail})" if detail else ""), flush=True)
    if not cond:
        FAILURES.append(what + (f": {detail}" if detail else ""))
    return cond


def known(what, detail=""):
    print(f"  KNOWN: {what}" + (f" ({detail})" if detail else ""), flush=True)
    KNOWN.append(what)


def say(text):
    print("  " + text, flush=True)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(fn, tries=600, pause=0.05):
    """Calls @fn until it returns a true value (at most @tries times); its last value."""
    value = None
    for _ in range(tries):
        value = fn()
        if value:
            return value
        time.sleep(pause)
    return value


# ---- PipeWire ----------------------------------------------------------------

class PipeWire:
    """A private headless pipewire: its own runtime directory, always killed."""

    def __init__(self, conf, tmp):
        self.dir = os.path.join(tmp, "runtime")
        os.mkdir(self.dir, 0o700)
        env = dict(os.environ)
        for var in ("PIPEWIRE_REMOTE", "PIPEWIRE_PROPS", "PIPEWIRE_LATENCY", "PIPEWIRE_QUANTUM",
                    "PIPEWIRE_RATE", "PIPEWIRE_DEBUG", "PIPEWIRE_CONFIG_DIR", "PIPEWIRE_CONFIG_NAME",
                    "JACK_DEFAULT_SERVER", "DBUS_SESSION_BUS_ADDRESS", "LD_LIBRARY_PATH"):
            env.pop(var, None)
        env["XDG_RUNTIME_DIR"] = self.dir
        env["PIPEWIRE_RUNTIME_DIR"] = self.dir
        self.env = env
        self.conf = conf
        self.log_path = os.path.join(tmp, "pipewire.log")
        self.default_quantum = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["pipewire", "-c", self.conf], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_die_with_parent)

    def settings(self):
        r = subprocess.run(["pw-metadata", "-n", "settings"], env=self.env, capture_output=True,
                           text=True, timeout=20)
        return r.stdout

    def wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                return "dead"
            if not os.path.exists(os.path.join(self.dir, "pipewire-0")):
                return None
            return "up" if "clock.quantum" in self.settings() else None
        state = poll(ready, tries=200, pause=0.05)
        if state != "up":
            return False
        m = re.search(r"key:'clock.quantum' value:'(\d+)'", self.settings())
        self.default_quantum = int(m.group(1)) if m else 1024
        return True

    def alive(self):
        return self.proc.poll() is None

    def force_quantum(self, q):
        subprocess.run(["pw-metadata", "-n", "settings", "0", "clock.force-quantum", str(q)],
                       env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=20)

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.log.close()


# ---- csjack under pw-jack ------------------------------------------------------

CHILDREN = []  # every process started, killed at the end whatever happens


class Csjack:
    """`pw-jack csjack ARGS`: its console on pipes, stderr into a file."""

    def __init__(self, pw, csjack, name, args, tmp, env_extra=None):
        self.name = name
        self.err_path = os.path.join(tmp, f"{name}.err")
        self.err = open(self.err_path, "w")
        env = dict(pw.env, **(env_extra or {}))
        self.proc = subprocess.Popen(["pw-jack", csjack, "-n", name] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     bufsize=1, env=env, cwd=tmp)
        CHILDREN.append(self.proc)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def ask(self, command, timeout=30.0):
        """One console line, its reply line (None if none came)."""
        if not self.send(command):
            return None
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def stats(self):
        reply = self.ask(":stats") or ""
        out = {}
        for pair in reply.split()[2:]:
            k, _, v = pair.partition("=")
            out[k] = int(v) if v.lstrip("-").isdigit() else v
        return out

    def wait_stats(self, pred, tries=600):
        """Polls :stats until @pred(stats) holds; (held, last stats)."""
        last = {}
        for _ in range(tries):
            if self.proc.poll() is not None:
                return False, last
            last = self.stats()
            if last and pred(last):
                return True, last
            time.sleep(0.05)
        return False, last

    def play_cycles(self, n):
        """Waits until @n more cycles have run."""
        start = self.stats().get("cycles", 0)
        return self.wait_stats(lambda s: s.get("cycles", 0) >= start + n)[0]

    def stderr(self):
        self.err.flush()
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait_stderr(self, marker, tries=600):
        return bool(poll(lambda: marker in self.stderr() or self.proc.poll() is not None,
                         tries=tries)) and marker in self.stderr()

    def summary(self):
        lines = [l for l in self.stderr().splitlines() if l.startswith("csjack: ") and
                 ("; cycles " in l)]
        return lines[-1] if lines else ""

    def finish(self, timeout=60.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def quit(self):
        """:quit, and the exit status (None: it did not end)."""
        reply = self.ask(":quit")
        status = self.finish()
        if reply != "ok quit":
            say(f"{self.name}: :quit answered {reply!r}")
        return status

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            if self.finish(10) is None:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def pwjack_run(pw, *argv, timeout=30):
    return subprocess.run(["pw-jack"] + list(argv), env=pw.env, capture_output=True, text=True,
                          timeout=timeout)


# ---- recordings ----------------------------------------------------------------

def read_counter(path):
    """(rate, channels, values): channel 0 of a WAV (24-bit integer or 32-bit
    float, plain or extensible, RF64/JUNK chunks skipped) scaled by 2^23 to
    integers; None for a sample that is not a whole number there; a channel
    that differs from channel 0 counts in the last element."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 12
    fmt = None
    samples = b""
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"data" and size == 0xFFFFFFFF:
            size = len(data) - pos - 8
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate, _, block, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, block, bits)
        elif cid == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    tag, channels, rate, block, bits = fmt
    n = len(samples) // block
    columns = []
    for ch in range(channels):
        off = ch * (bits // 8)
        if bits == 24:
            b4 = bytearray(4 * n)
            b4[1::4] = samples[off::block][:n]
            b4[2::4] = samples[off + 1::block][:n]
            b4[3::4] = samples[off + 2::block][:n]
            a = array.array("i")
            a.frombytes(bytes(b4))
            columns.append([v >> 8 for v in a])
        elif bits == 32 and tag == 3:
            raw = bytearray(4 * n)
            for k in range(4):
                raw[k::4] = samples[off + k::block][:n]
            a = array.array("f")
            a.frombytes(bytes(raw))
            col = []
            for v in a:
                s = v * WRAP
                col.append(int(s) if s == int(s) else None)
            columns.append(col)
        else:
            raise ValueError(f"{path}: format {tag}/{bits} bits not read here")
    differ = sum(1 for c in columns[1:] for x, y in zip(columns[0], c) if x != y)
    return rate, channels, columns[0], differ


def counter_exact(values, start=0):
    """Index of the first frame that is not start + i (len when none)."""
    for i, v in enumerate(values):
        if v != (start + i) % WRAP:
            return i
    return len(values)


def counter_through_drops(values):
    """(index of the first wrong frame or len, silent runs): the counter from
    0, where a run of silence is allowed between two frames of it (a cycle
    csjack dropped and reported: the counter resumes where it stopped)."""
    expected = 0
    silent = 0
    i = 0
    n = len(values)
    while i < n:
        if values[i] == expected % WRAP:
            expected += 1
            i += 1
        elif values[i] == 0 and expected > 0:
            j = i
            while j < n and values[j] == 0:
                j += 1
            silent += 1
            i = j
        else:
            return i, silent
    return n, silent


def graph_runs(values, align):
    """What a peer received of the counter, as runs: ('zero'|'count', at,
    length, first value). A run that starts off a cycle boundary (@align
    frames), or a counter run that does not start on one of the source's
    cycles, is a defect; whole cycles missing or silent are the graph's
    (an xrun)."""
    runs = []
    i = 0
    n = len(values)
    while i < n:
        v = values[i]
        j = i + 1
        if v == 0 and i + 1 < n and values[i + 1] == 1:
            # the counter's own first frame (0), not silence
            while j < n and values[j] is not None and values[j] == (values[j - 1] + 1) % WRAP:
                j += 1
            runs.append(("count", i, j - i, v))
        elif v == 0:
            while j < n and values[j] == 0 and not (j + 1 < n and values[j + 1] == 1):
                j += 1
            runs.append(("zero", i, j - i, 0))
        elif v is None:
            while j < n and values[j] is None:
                j += 1
            runs.append(("bad", i, j - i, None))
        else:
            while j < n and values[j] is not None and values[j] == (values[j - 1] + 1) % WRAP:
                j += 1
            runs.append(("count", i, j - i, v))
        i = j
    return runs


def judge_graph(name, values, align, need_count=True):
    """Checks a peer's recording of the counter; prints what the graph lost."""
    runs = graph_runs(values, align)
    counts = [r for r in runs if r[0] == "count"]
    bad = [r for r in runs if r[0] == "bad"]
    # (a zero run after the last of the counter may start mid-cycle: a
    # score that ended there)
    tail = runs[-1:] if runs and runs[-1][0] == "zero" else []
    misaligned = [r for r in runs if r[1] % align != 0 and r not in tail]
    off_cycle = [r for r in counts if r[3] % align != 0]
    inner_zero = [r for r in runs[1:-1] if r[0] == "zero"]
    jumps = max(0, len(counts) - 1)
    counted = sum(r[2] for r in counts)
    say(f"{name}: {len(values)} frames, {counted} of the counter in {len(counts)} runs; "
        f"the graph skipped or silenced {jumps} times ({len(inner_zero)} silent runs)")
    ok = not bad and not misaligned and not off_cycle and (counts or not need_count)
    check(ok, f"{name}: the counter arrives whole, except whole cycles of {align} frames",
          "" if ok else f"bad {bad[:3]}, misaligned {misaligned[:3]}, off-cycle {off_cycle[:3]}")
    return counts


# ---- orchestras -------------------------------------------------------------

HEADER = "sr = 48000\nksmps = {ksmps}\nnchnls = {out}\nnchnls_i = {inp}\n0dbfs = 1\n"

COUNTER_ORC = HEADER.format(ksmps=32, out=2, inp=0) + """
instr 1
  setksmps 1
  kc init 0
  a1 upsamp kc / 8388608
  outch 1, a1, 2, a1
  kc = kc + 1
  kc = (kc >= 8388608 ? 0 : kc)
endin
schedule 1, 0, -1
"""

RECORDER_ORC = HEADER.format(ksmps=32, out=2, inp=2) + """
instr 1
  a1 inch 1
  a2 inch 2
  outch 1, a1, 2, a2
endin
schedule 1, 0, -1
"""

THRU_ORC = HEADER + """
instr 1
  a1 inch 1
  outch 1, a1
endin
schedule 1, 0, -1
"""

MIDI_LOOP_ORC = HEADER.format(ksmps=32, out=1, inp=0) + """
massign 0, 0
gkOn init 0
gkOff init 0
gkOn0 init 0
gkSum init 0
gkOther init 0
instr 10   ; one MIDI message: p4 status, p5 data 1, p6 data 2
  midiout_i p4, 1, p5, p6
endin
instr 1    ; counts what comes back on midi_in
next:
  kst, kch, kd1, kd2 midiin
  if kst != 0 then
    if kst == 144 && kd2 > 0 then
      gkOn += 1
    elseif kst == 144 then
      gkOn0 += 1
    elseif kst == 128 then
      gkOff += 1
    else
      gkOther += 1
    endif
    gkSum += kd1
    kgoto next
  endif
  chnset gkOn, "on"
  chnset gkOff, "off"
  chnset gkOn0, "on0"
  chnset gkSum, "sum"
  chnset gkOther, "other"
endin
alwayson 1
"""

MIDI_ECHO_ORC = HEADER.format(ksmps=32, out=1, inp=0) + """
massign 0, 0
instr 1
next:
  kst, kch, kd1, kd2 midiin
  if kst != 0 then
    midiout kst, kch, kd1, kd2
    kgoto next
  endif
endin
alwayson 1
"""


def counter_csd(seconds):
    return ("<CsoundSynthesizer>\n<CsInstruments>\n" + HEADER.format(ksmps=32, out=2, inp=0) +
            "instr 1\n  aoff init 0\n  kc init 0\n  kready init 0\n  if kready == 0 then\n"
            "    kn = 0\n    while kn < ksmps do\n      vaset kn, kn, aoff\n      kn += 1\n"
            "    od\n    kready = 1\n  endif\n  a1 = (kc + aoff) / 8388608\n"
            "  outch 1, a1, 2, a1\n  kc = kc + ksmps\nendin\n"
            "</CsInstruments>\n<CsScore>\n"
            f"i 1 0 {seconds}\n</CsScore>\n</CsoundSynthesizer>\n")


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def big_orc(n):
    """@n instruments and a global set at the end, as one :orc line."""
    parts = [f"instr {1000 + i}\\n  k1 = p4 * {i}\\n  chnset k1, \"big\"\\nendin" for i in range(n)]
    return "\\n".join(parts) + f"\\ngiBig = {n}"


# ---- the sections -------------------------------------------------------------

def section_audio(pw, args, tmp):
    print("audio: play and record through quantum changes, metadata, UDP, console", flush=True)
    orc = write(tmp, "counter.orc", COUNTER_ORC)
    rec_orc = write(tmp, "recorder.orc", RECORDER_ORC)
    udp_port = free_udp_port()
    src = Csjack(pw, args.csjack, "csjpw_src",
                 ["--no-connect", "--port", str(udp_port), "--record", "src.wav", orc], tmp)
    rec = rec2 = None
    try:
        up = src.wait_stderr("playing as JACK client")
        if not check(up, "csjack plays on PipeWire", "" if up else src.stderr()[-2000:]):
            return

        # Pretty names and order: JACK's metadata, in PipeWire's `default`
        # metadata object.
        for port, pretty, order in (("out_1", "Csound out 1", "1"), ("out_2", "Csound out 2", "2"),
                                    ("midi_in", "Csound MIDI in", "3"),
                                    ("midi_out", "Csound MIDI out", "4")):
            got = pwjack_run(pw, "jack_property", "-l", "-p", f"csjpw_src:{port}",
                             "http://jackaudio.org/metadata/pretty-name").stdout.strip()
            got_order = pwjack_run(pw, "jack_property", "-l", "-p", f"csjpw_src:{port}",
                                   "http://jackaudio.org/metadata/order").stdout.strip()
            check(got == pretty and got_order == order,
                  f"jack_property: {port} is '{pretty}', order {order}",
                  f"'{got}', order '{got_order}'")

        rec = Csjack(pw, args.csjack, "csjpw_rec",
                     ["--connect-in", "^csjpw_src:out_", rec_orc], tmp)
        up = rec.wait_stderr("playing as JACK client")
        check(up, "a second csjack starts, its inputs from the first's outputs",
              "" if up else rec.stderr()[-1500:])
        ok, st = src.wait_stats(lambda s: s.get("connections") == 2)
        check(ok, "csjack sees its two outputs connected to the recorder (connections=2)",
              f"connections={st.get('connections')}")

        reply = rec.ask(":record rec.wav 32")
        check(reply == "ok record rec.wav 32", "the recorder's console: :record rec.wav 32", reply)

        marks = []  # (step, frames csjack had performed): where a wrong frame falls

        def mark(label):
            marks.append((label, src.stats().get("ksmps_blocks", 0) * 32))

        def to_quantum(q, during=None):
            expect = q or pw.default_quantum
            mark(f"force-quantum {q}")
            t0 = time.monotonic()
            pw.force_quantum(q)
            extra = during() if during else None
            ok_src, s1 = src.wait_stats(lambda s: s.get("period") == expect)
            ok_rec, s2 = rec.wait_stats(lambda s: s.get("period") == expect)
            took = time.monotonic() - t0
            check(ok_src and ok_rec, f"clock.force-quantum {q}: both csjacks follow to {expect}",
                  f"periods {s1.get('period')}, {s2.get('period')}; {took:.2f} s")
            src.play_cycles(max(16, RATE // 2 // expect))
            return extra

        to_quantum(64)

        # Csound's UDP protocol (--port), at quantum 64.
        mark("udp")
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.sendto(b"giUdp = 42\n", ("127.0.0.1", udp_port))
        out.sendto(b"instr 77\n  chnset p4, \"udp77\"\nendin\n", ("127.0.0.1", udp_port))
        ok, st = src.wait_stats(lambda s: s.get("udp_compiled", 0) + s.get("udp_compile_errors", 0)
                                >= 2)
        reply = src.ask(":eval return giUdp")
        check(ok and reply == "ok eval 42", "--port: orchestra code over UDP compiles", reply)
        out.sendto(b"$i 77 0 0.01 5\n", ("127.0.0.1", udp_port))
        reply = poll(lambda: (lambda r: r if r == "ok chn udp77 5" else None)(src.ask(":chn udp77")),
                     tries=200)
        check(reply == "ok chn udp77 5", "--port: $ score over UDP plays", str(reply))
        out.close()

        # A large :orc sent while the quantum changes to 128: merged over
        # several cycles of either size.
        def big_compile():
            t0 = time.monotonic()
            r1 = src.ask(":orc " + big_orc(150))
            r2 = rec.ask(":orc " + big_orc(50))
            return r1, r2, time.monotonic() - t0

        r1, r2, took = to_quantum(128, during=big_compile)
        check(r1 == "ok orc" and r2 == "ok orc", ":orc during the quantum change is taken",
              f"{r1}, {r2}; {took:.2f} s")
        reply = src.ask(":eval return giBig")
        check(reply == "ok eval 150", "the 150 instruments merged (giBig set after them)", reply)
        to_quantum(1024)
        reply = rec.ask(":stop-record")
        check(reply is not None and reply.startswith("ok stop-record"),
              "the recorder's console: :stop-record", reply)
        to_quantum(0)

        # The console, as a program drives it.
        mark("console")
        check(src.ask(":eval return 6*7") == "ok eval 42", ":eval return 6*7 answers 42")
        check(src.ask(":chn amp 0.25") == "ok chn amp 0.25", ":chn amp 0.25")
        check(src.ask(":chn amp") == "ok chn amp 0.25", ":chn amp reads it back")
        check((src.ask(":nonsense") or "").startswith("error"), "an unknown command is an error line")

        # The recorder goes away and comes back under the same name: csjack
        # makes its two connections again by itself (jack_links).
        mark("recorder restart")
        before = src.stats()
        st_rec = rec.stats()
        check(rec.quit() == 0, "the recorder quits, status 0")
        rec2 = Csjack(pw, args.csjack, "csjpw_rec",
                      ["--no-connect", "--record", "rec2.wav", rec_orc], tmp)
        check(rec2.wait_stderr("playing as JACK client"),
              "the recorder comes back under its name, connecting nothing itself")
        ok, st = src.wait_stats(lambda s: s.get("connections_restored", 0) >=
                                before.get("connections_restored", 0) + 2)
        check(ok, "csjack restores its two connections to the recorder that came back",
              f"connections_restored {before.get('connections_restored')} -> "
              f"{st.get('connections_restored')}, connections {st.get('connections')}")
        rec2.play_cycles(20)
        check(rec2.quit() == 0, "the second recorder quits, status 0")
        say("steps at csjack's frames: " + ", ".join(f"{l} {f}" for l, f in marks))
        st_src = src.stats()
        say(f"src: cycles {st_src.get('cycles')}, xruns {st_src.get('xruns')}, late callbacks "
            f"{st_src.get('callbacks_late')}, dropped cycles {st_src.get('dropped_cycles')}, "
            f"longest callback {st_src.get('callback_ns_max', 0) / 1e6:.2f} ms; rec: xruns "
            f"{st_rec.get('xruns')}")
        check(src.quit() == 0, "csjack quits on :quit, status 0")
        say(src.summary())

        # What csjack sent is whole: every frame, through every change.
        # A cycle csjack dropped (a direct call holding Csound, counted in
        # dropped_cycles) is silence in the file, and the counter resumes.
        rate, ch, vals, differ = read_counter(os.path.join(tmp, "src.wav"))
        first_bad, silent = counter_through_drops(vals)
        around = vals[max(0, first_bad - 3):first_bad + 3] if first_bad < len(vals) else []
        if silent:
            say(f"src.wav: {silent} silent cycle(s), csjack reported {st_src.get('dropped_cycles')} "
                "dropped")
        check(first_bad == len(vals) and differ == 0 and len(vals) > RATE and
              silent <= st_src.get("dropped_cycles", 0),
              "--record holds the counter, every frame, across the quantum changes",
              f"{len(vals)} frames" if first_bad == len(vals) else
              f"{len(vals)} frames, first wrong at {first_bad} {around}, channels differ "
              f"{differ}; csjack: record_dropped {st_src.get('record_dropped')}, dropped cycles "
              f"{st_src.get('dropped_cycles')}, xruns {st_src.get('xruns')}")
        # What reached the peers through PipeWire's graph (rec.wav: the
        # console's :record, 32-bit float, from quantum 1024 to 64, 128 and
        # 1024 again).
        judge_graph("rec.wav", read_counter(os.path.join(tmp, "rec.wav"))[2], 64)
        judge_graph("rec2.wav (connections restored)",
                    read_counter(os.path.join(tmp, "rec2.wav"))[2], 64)
    finally:
        for c in (src, rec, rec2):
            if c:
                c.kill()
        pw.force_quantum(0)


def iodelay_reading(lines, want, tries=120):
    """The round trip jack_iodelay settles on (a value read 3 times running):
    @want as soon as it settles there, else the last settled value after
    @tries readings (about four a second)."""
    last, run, settled, seen = None, 0, None, 0
    while seen < tries:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            seen += 4
            continue
        if line is None:
            break
        m = re.match(r"\s*([\d.]+) frames\s+[\d.]+ ms total roundtrip latency", line)
        if not m:
            continue
        seen += 1
        value = round(float(m.group(1)))
        run = run + 1 if value == last else 1
        last = value
        if run >= 3:
            settled = value
            if value == want:
                break
    return settled


def section_roundtrip(pw, args, tmp):
    print("roundtrip: jack_iodelay through csjack (ain -> aout)", flush=True)
    if not shutil.which("jack_iodelay"):
        say("jack_iodelay is missing (Debian: jackd2): skipped")
        return
    thru = Csjack(pw, args.csjack, "csjpw_thru",
                  ["--no-connect", "--no-midi", write(tmp, "thru.orc",
                                                       THRU_ORC.format(ksmps=32, out=1, inp=1))],
                  tmp)
    thru48 = None
    # jack_iodelay prints four readings a second, through stdio: unbuffered
    # by stdbuf, or they come in 4 KiB lumps.
    unbuffered = ["stdbuf", "-o0"] if shutil.which("stdbuf") else []
    iod = subprocess.Popen(["pw-jack"] + unbuffered + ["jack_iodelay"], env=pw.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    CHILDREN.append(iod)
    lines = queue.Queue()

    def read():
        buf = b""
        while True:
            chunk = iod.stdout.read1(4096) if hasattr(iod.stdout, "read1") else iod.stdout.read(1)
            if not chunk:
                break
            buf += chunk
            parts = re.split(rb"[\r\n]", buf)
            buf = parts.pop()
            for p in parts:
                if p.strip():
                    lines.put(p.decode(errors="replace"))
        lines.put(None)
    threading.Thread(target=read, daemon=True).start()
    try:
        if not check(thru.wait_stderr("playing as JACK client"), "the thru csjack plays"):
            return
        poll(lambda: "jack_delay:out" in pwjack_run(pw, "jack_lsp").stdout, tries=200)
        pwjack_run(pw, "jack_connect", "jack_delay:out", "csjpw_thru:in_1")
        pwjack_run(pw, "jack_connect", "csjpw_thru:out_1", "jack_delay:in")
        for q in (64, 256):
            pw.force_quantum(q)
            thru.wait_stats(lambda s: s.get("period") == q)
            while not lines.empty():
                lines.get_nowait()
            value = iodelay_reading(lines, q)
            say(f"quantum {q}: jack_iodelay reads {value} frames round trip through csjack "
                f"(ksmps 32)")
            check(value == q, f"quantum {q}: the round trip is one period", f"{value} frames")
        # ksmps 48 does not divide 64: csjack adds 48 - gcd(64, 48) = 32
        # frames, reports them on its ports, and the loop is 64 + 32.
        pw.force_quantum(64)
        thru.kill()
        thru48 = Csjack(pw, args.csjack, "csjpw_thru48",
                        ["--no-connect", "--no-midi",
                         write(tmp, "thru48.orc", THRU_ORC.format(ksmps=48, out=1, inp=1))], tmp)
        if check(thru48.wait_stderr("playing as JACK client"), "the ksmps-48 thru csjack plays"):
            thru48.wait_stats(lambda s: s.get("period") == 64)
            pwjack_run(pw, "jack_connect", "jack_delay:out", "csjpw_thru48:in_1")
            pwjack_run(pw, "jack_connect", "csjpw_thru48:out_1", "jack_delay:in")
            while not lines.empty():
                lines.get_nowait()
            value = iodelay_reading(lines, 96)
            lat = pwjack_run(pw, "jack_lsp", "-l", "csjpw_thru48:out_1").stdout
            say(f"quantum 64, ksmps 48: jack_iodelay reads {value} frames; "
                + " ".join(lat.split()))
            check(value == 96, "quantum 64, ksmps 48: the round trip is 64 + 32 frames",
                  f"{value} frames")
            check("port capture latency = [ 32 32 ]" in lat,
                  "csjack reports its 32 added frames on its output port", " ".join(lat.split()))
    finally:
        if iod.poll() is None:
            iod.terminate()
            try:
                iod.wait(10)
            except subprocess.TimeoutExpired:
                iod.kill()
                iod.wait()
        thru.kill()
        if thru48:
            thru48.kill()
        pw.force_quantum(0)


def midi_loop(pw, args, tmp, tag, env_extra):
    a = Csjack(pw, args.csjack, f"csjpw_midi_a{tag}",
               ["--no-connect", write(tmp, "midi_loop.orc", MIDI_LOOP_ORC)], tmp, env_extra)
    b = None
    try:
        if not check(a.wait_stderr("playing as JACK client"), f"{tag or 'default'}: csjack A plays"):
            return None
        # B connects both ways: A:midi_out -> B:midi_in, B:midi_out -> A:midi_in.
        b = Csjack(pw, args.csjack, f"csjpw_midi_b{tag}",
                   ["--connect-out", "^none$", "--connect-in", "^none$",
                    "--connect-midi-in", f"^csjpw_midi_a{tag}:midi_out$",
                    "--connect-midi-out", f"^csjpw_midi_a{tag}:midi_in$",
                    write(tmp, "midi_echo.orc", MIDI_ECHO_ORC)], tmp, env_extra)
        check(b.wait_stderr("playing as JACK client"), f"{tag or 'default'}: the echo csjack plays")
        ok, st = a.wait_stats(lambda s: s.get("connections") == 2)
        check(ok, f"{tag or 'default'}: A's midi_in and midi_out are connected",
              f"connections={st.get('connections')}")
        for i in range(10):
            for line in (f"i 10 0 0.01 144 {60 + i} 100", f"i 10 0 0.01 128 {60 + i} 0",
                         f"i 10 0 0.01 144 {70 + i} 0"):
                a.ask(line)
        ok, st = a.wait_stats(lambda s: s.get("midi_in_events", 0) >= 30)
        sb = b.stats()
        counts = {k: (a.ask(f":chn {k}") or "").split()[-1] for k in
                  ("on", "off", "on0", "sum", "other")}
        say(f"{tag or 'default'}: A sent {st.get('midi_out_events')}, B got "
            f"{sb.get('midi_in_events')} and sent {sb.get('midi_out_events')}, A got "
            f"{st.get('midi_in_events')}: note-on {counts['on']}, note-off {counts['off']}, "
            f"velocity-0 note-on {counts['on0']}, other {counts['other']}")
        check(ok and st.get("midi_out_events") == 30 and sb.get("midi_in_events") == 30 and
              sb.get("midi_out_events") == 30 and st.get("midi_in_events") == 30 and
              st.get("midi_in_dropped") == 0 and sb.get("midi_in_dropped") == 0,
              f"{tag or 'default'}: 30 messages out, through the echo and back")
        check(counts["on"] == "10" and counts["sum"] == "2035" and counts["other"] == "0",
              f"{tag or 'default'}: every note came back with its note number", str(counts))
        check(a.quit() == 0 and b.quit() == 0, f"{tag or 'default'}: both quit, status 0")
        return counts
    finally:
        a.kill()
        if b:
            b.kill()


def section_midi(pw, args, tmp):
    print("midi: a note loop through midi_out and midi_in", flush=True)
    counts = midi_loop(pw, args, tmp, "", None)
    if counts:
        off, on0 = int(counts["off"] or 0), int(counts["on0"] or 0)
        check(off + on0 == 20, "10 note-offs and 10 velocity-0 note-ons came back, as one or the "
              "other", f"off {off}, on0 {on0}")
        if off == 20:
            say("PipeWire rewrote the 10 velocity-0 note-ons as note-offs (jack.fix-midi-events)")
    counts = midi_loop(pw, args, tmp, "_raw", {"PIPEWIRE_PROPS": FIX_MIDI_OFF})
    if counts:
        check(counts["on0"] == "10" and counts["off"] == "10",
              "with PIPEWIRE_PROPS='" + FIX_MIDI_OFF + "': velocity-0 note-ons arrive as sent",
              str(counts))


def section_freewheel(pw, args, tmp):
    print("freewheel: csjack --freewheel --record", flush=True)
    seconds = 20
    csd = write(tmp, "render.csd", counter_csd(seconds))
    rec_orc = write(tmp, "recorder.orc", RECORDER_ORC)
    peer = Csjack(pw, args.csjack, "csjpw_fwpeer",
                  ["--no-connect", "--no-midi", "--record", "peer.wav", rec_orc], tmp)
    bystander = Csjack(pw, args.csjack, "csjpw_bystander",
                       ["--no-connect", "--no-midi", write(tmp, "counter.orc", COUNTER_ORC)], tmp)
    render = lone = None
    try:
        check(peer.wait_stderr("playing as JACK client") and
              bystander.wait_stderr("playing as JACK client"), "a peer and a bystander play")
        b0 = bystander.stats()
        t0 = time.monotonic()
        render = Csjack(pw, args.csjack, "csjpw_render",
                        ["--freewheel", "--no-midi", "--connect-out", "^csjpw_fwpeer:in_",
                         "--record", "render.wav", csd], tmp)
        status = render.finish(timeout=300)
        wall = time.monotonic() - t0
        if status is None:
            check(False, "the linked render ends by itself (a hang)", render.stderr()[-2000:])
            return
        summary = render.summary()
        say(f"render of {seconds} s linked to a peer: {wall:.1f} s wall; {summary}")
        check(status == 0 and "freewheeled" in summary,
              "csjack --freewheel linked to a peer renders to the end, status 0", f"status {status}")
        rate, ch, vals, differ = read_counter(os.path.join(tmp, "render.wav"))
        exact = counter_exact(vals)
        tail = vals[exact:]
        check(exact >= seconds * RATE and all(v == 0 for v in tail) and differ == 0,
              f"render.wav: every frame of the {seconds} s, in order",
              f"{exact} frames of the counter, then {len(tail)} frames")
        sp = peer.stats()
        sb = bystander.stats()
        say(f"peer (linked): freewheel cycles {sp.get('freewheel_cycles')}; bystander (not "
            f"linked): {sb.get('cycles', 0) - b0.get('cycles', 0)} cycles in {wall:.1f} s, "
            f"freewheel cycles {sb.get('freewheel_cycles')}")
        if sb.get("freewheel_cycles", 0) > 0:
            say("the bystander, linked to nothing, freewheeled too: PipeWire gives a node with "
                "no links to whichever driver runs")
        check(peer.quit() == 0 and bystander.quit() == 0, "peer and bystander quit, status 0")
        # The peer freewheels too, but PipeWire moves it to the freewheel
        # driver some cycles after the render: meanwhile the render runs
        # ahead on another driver and the peer, still in real time, misses
        # cycles of it, or reads a buffer the render is writing (a cycle
        # torn at a k-block). From then on it must get every frame, to the
        # render's last.
        peer_vals = read_counter(os.path.join(tmp, "peer.wav"))[2]
        counts = [r for r in graph_runs(peer_vals, 1024) if r[0] == "count"]
        last = counts[-1] if counts else ("count", 0, 0, 0)
        say(f"peer.wav: the render's frames {last[3]} to {last[3] + last[2] - 1} arrive whole; "
            f"before them {len(counts) - 1} pieces: "
            + ", ".join(f"{c[2]} frames from {c[3]} at {c[1]}" for c in counts[:-1][:6]))
        # What a peer gets is PipeWire's doing (a plain C client fares the
        # same), not csjack's, whose own recording is checked whole above:
        # said, not failed. On a loaded machine PipeWire was seen to move
        # the peer late or never within a short render (1 run in 3).
        whole = (bool(counts) and last[3] + last[2] >= seconds * RATE
                 and last[3] < seconds * RATE // 2)
        if not whole:
            known("the linked peer did not receive the render whole once freewheeling "
                  "(PipeWire's scheduling of the peer)",
                  f"runs {[(c[3], c[2]) for c in counts][:8]}")
        elif len(counts) > 1:
            known("a peer linked to the render misses or tears its first cycles while PipeWire "
                  "moves it to the freewheel driver",
                  f"whole from the render's frame {last[3]} on")

        # A render linked to nothing: PipeWire 0.3.65 moves the node to its
        # Freewheel-Driver, which then never runs (nothing linked is
        # "running"): no cycle until freewheel ends.
        short = write(tmp, "short.csd", counter_csd(2))
        lone = Csjack(pw, args.csjack, "csjpw_lone",
                      ["--freewheel", "--no-connect", "--no-midi", "--record", "lone.wav", short],
                      tmp)
        lone.wait_stderr("freewheel")
        ended = False
        last = -1
        still = 0
        for _ in range(60):  # up to ~3 s without a single new cycle
            if lone.proc.poll() is not None:
                ended = True
                break
            cycles = lone.stats().get("cycles", -1)
            still = still + 1 if cycles == last else 0
            last = cycles
            if still >= 30:
                break
            time.sleep(0.05)
        if ended or lone.proc.poll() is not None:
            status = lone.finish()
            vals = read_counter(os.path.join(tmp, "lone.wav"))[2]
            check(status == 0 and counter_exact(vals) >= 2 * RATE,
                  "a render linked to nothing ends by itself with every frame",
                  f"status {status}; {lone.summary()}")
        else:
            known("a render linked to nothing gets no cycle on PipeWire 0.3.65 (its "
                  "Freewheel-Driver never starts); csjack waits until stopped",
                  f"cycles stuck at {last}")
            lone.proc.send_signal(signal.SIGINT)
            status = lone.finish(30)
            vals = read_counter(os.path.join(tmp, "lone.wav"))[2]
            check(status == 0 and counter_exact(vals) == len(vals),
                  "Ctrl-C ends the stalled render cleanly, its recording whole",
                  f"status {status}, {len(vals)} frames; {lone.summary()}")
    finally:
        for c in (peer, bystander, render, lone):
            if c:
                c.kill()


def section_restart(pw, args, tmp):
    print("restart: PipeWire stops and starts again under csjack", flush=True)
    orc = write(tmp, "counter.orc", COUNTER_ORC)
    rec_orc = write(tmp, "recorder.orc", RECORDER_ORC)
    a = Csjack(pw, args.csjack, "csjpw_a", ["--reconnect", "--no-connect", "--record",
                                            "restart.wav", orc], tmp)
    c = b = None
    try:
        check(a.wait_stderr("playing as JACK client"), "csjack --reconnect plays")
        c = Csjack(pw, args.csjack, "csjpw_c", ["--reconnect", "--connect-in", "^csjpw_a:out_",
                                                rec_orc], tmp)
        b = Csjack(pw, args.csjack, "csjpw_b", ["--no-connect", orc], tmp)
        check(c.wait_stderr("playing as JACK client") and b.wait_stderr("playing as JACK client"),
              "a recorder (--reconnect) and a csjack without --reconnect play")
        ok, _ = a.wait_stats(lambda s: s.get("connections") == 2)
        check(ok, "the recorder is connected")
        restored0 = a.stats().get("connections_restored", 0) + \
            c.stats().get("connections_restored", 0)
        t0 = time.monotonic()
        pw.stop()
        status = b.finish(60)
        check(status == 8 and "the JACK server shut down" in b.stderr(),
              "without --reconnect, csjack ends when PipeWire goes away: status 8, one line",
              f"status {status}")
        for cs in (a, c):
            ok, _ = cs.wait_stats(lambda s: s.get("server_connected") == 0)
            check(ok, f"{cs.name} sees PipeWire gone and stays (--reconnect)")
        pw.start()
        if not check(pw.wait_ready(), "PipeWire starts again", pw.log_tail()):
            return
        for cs in (a, c):
            ok, st = cs.wait_stats(lambda s: s.get("reconnects", 0) >= 1 and
                                   s.get("server_connected") == 1)
            check(ok, f"{cs.name} reconnects to the new PipeWire",
                  f"reconnects {st.get('reconnects')}")

        def restored():
            sa, sc = a.stats(), c.stats()
            return (sa.get("connections_restored", 0) + sc.get("connections_restored", 0)
                    >= restored0 + 2 and sa.get("connections") == 2 and sc.get("connections") == 2)
        check(bool(poll(restored, tries=600)), "their two connections are made again by csjack")
        say(f"PipeWire restart: csjack back after {time.monotonic() - t0:.1f} s (printed only)")
        reply = c.ask(":record after.wav 32")
        check(reply == "ok record after.wav 32", "the recorder records again", reply)
        c.play_cycles(20)
        c.ask(":stop-record")
        counts = judge_graph("after.wav", read_counter(os.path.join(tmp, "after.wav"))[2], 64)
        check(sum(r[2] for r in counts) > 10000, "the counter plays on through the new PipeWire")
        check(a.quit() == 0 and c.quit() == 0, "both quit, status 0")
        vals = read_counter(os.path.join(tmp, "restart.wav"))[2]
        check(vals and counter_exact(vals) == len(vals),
              "--record ends whole at the loss (every frame up to it)",
              f"{len(vals)} frames, first wrong at {counter_exact(vals)}")
    finally:
        for cs in (a, b, c):
            if cs:
                cs.kill()


SECTIONS = {"audio": section_audio, "roundtrip": section_roundtrip, "midi": section_midi,
            "freewheel": section_freewheel, "restart": section_restart}


def missing_tools():
    for tool in ("pipewire", "pw-jack", "pw-metadata"):
        if not shutil.which(tool):
            return f"{tool} is missing (Debian: pipewire-bin)"
    libs = glob.glob("/usr/lib*/pipewire-0.3/jack/libjack.so*") + \
        glob.glob("/usr/lib/*/pipewire-0.3/jack/libjack.so*")
    if not libs:
        return "PipeWire's libjack is missing (Debian: pipewire-jack)"
    for tool in ("jack_property", "jack_lsp", "jack_connect"):
        if not shutil.which(tool):
            return f"{tool} is missing (Debian: jackd2)"
    return None


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csjack", required=True)
    ap.add_argument("--conf", default=os.path.join(HERE, "minimal-headless.conf"))
    ap.add_argument("--only", choices=sorted(SECTIONS))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    args.csjack = os.path.abspath(args.csjack)
    why = missing_tools()
    if why:
        print(f"run_pipewire.py: {why}: skipped")
        return 77
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    tmp = tempfile.mkdtemp(prefix="csjack-pipewire-")
    pw = None
    t_start = time.monotonic()
    try:
        pw = PipeWire(args.conf, tmp)
        if not check(pw.wait_ready(), "a private headless PipeWire starts", pw.log_tail()):
            return 1
        version = subprocess.run(["pipewire", "--version"], capture_output=True,
                                 text=True).stdout.split("\n")
        print(f"pipewire: {' '.join(l.strip() for l in version if 'libpipewire' in l)}; "
              f"runtime {pw.dir}; default quantum {pw.default_quantum}", flush=True)
        for name, fn in SECTIONS.items():
            if args.only in (None, name):
                t0 = time.monotonic()
                fn(pw, args, tmp)
                print(f"  ({name}: {time.monotonic() - t0:.1f} s)", flush=True)
                if not check(pw.alive(), "PipeWire is still running", pw.log_tail()):
                    break
    finally:
        for p in CHILDREN:
            if p.poll() is None:
                p.kill()
                p.wait()
        if pw:
            pw.stop()
        if args.keep or FAILURES:
            print(f"run_pipewire.py: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"run_pipewire.py: {time.monotonic() - t_start:.1f} s")
    if KNOWN:
        print(f"run_pipewire.py: {len(KNOWN)} known PipeWire difference(s), see docs/pipewire.md:")
        for k in KNOWN:
            print("  - " + k)
    if FAILURES:
        print(f"run_pipewire.py: {len(FAILURES)} check(s) failed:")
        for f in FAILURES:
            print("  - " + f)
        return 1
    print("run_pipewire.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
