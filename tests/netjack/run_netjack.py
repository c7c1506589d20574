#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Render nodes on netjack2: csjacks on two slave servers, heard at a master.

On loopback, all private (server names with this process's id; JACK's
registry holds 8 servers, this test uses 3 at once):

  master  jackd -n M -d dummy -r 48000 -p 256, netmanager loaded
          (jack_load netmanager -i "-a 127.0.0.1 -p PORT")
  node1   jackd -n S1 -d net -a 127.0.0.1 -p PORT -C 2 -P 2 -n node1
  node2   the same, -n node2

On each node a csjack --reconnect plays a sine of its own (440 and 660 Hz)
to the node's system:playback_1 (its default connection), which the master
sees as nodeN:from_slave_1. On the master a csjack --reconnect mixes and
records them (ain -> aout, :record on its console). Checks, by the
frequency and level of each recorded channel (zero crossings):

  1. both tones are heard at the master;
  2. the master jackd is killed and started again (same name, netmanager
     loaded again): every csjack stays alive and both tones are heard again
     with no connection made by hand: the nodes' drivers re-create their
     system ports and csjack restores its connections to them
     (connections_restored in :stats on each csjack's console), and the
     master's csjack reconnects to the new master and restores its own;
  3. one node's jackd is killed and started again under the csjack there
     (--reconnect): heard again;
  4. the round trip master -> node csjack (ain -> aout) -> master, measured
     with jack_iodelay on the master, at netjack2 latency (-l) 5 and 2,
     beside a plain wire on the node (system:capture_1 -> system:playback_1)
     and jackd2's jack_thru: csjack must cost what jack_thru costs (printed
     figures; each reading must settle).

Waits are for events (a port, a counter in :stats, a reply), bounded only
so that a broken build fails instead of hanging; times are printed.

Standard library only. Usage:
  run_netjack.py --csjack PATH [--only tones|roundtrip] [--keep]
Exit 0 when every check passed, 1 otherwise, 77 when jackd, its net
backend or netmanager is missing.
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

FAILURES = []
RATE = 48000
PERIOD = 256
TONES = {"node1": 440.0, "node2": 660.0}

try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent():
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def check(cond, what, detail=""):
    mark = "ok" if cond else "FAIL"
    print(f"  {mark}: {what}" + (f" ({detail})" if detail else ""), flush=True)
    if not cond:
        FAILURES.append(what + (f": {detail}" if detail else ""))
    return cond


def say(text):
    print("  " + text, flush=True)


def poll(fn, tries=600, pause=0.05):
    value = None
    for _ in range(tries):
        value = fn()
        if value:
            return value
        time.sleep(pause)
    return value


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BASE_ENV = dict(os.environ, JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")
BASE_ENV.pop("JACK_DEFAULT_SERVER", None)
CHILDREN = []


def jack_tool(server, *argv, timeout=30):
    """A JACK example client on @server (by JACK_DEFAULT_SERVER)."""
    env = dict(BASE_ENV, JACK_DEFAULT_SERVER=server)
    try:
        return subprocess.run(list(argv), env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(argv, -1, e.stdout or "", e.stderr or "")


def ports(server):
    r = jack_tool(server, "jack_lsp", timeout=15)
    return r.stdout.split() if r.returncode == 0 else []


# ---- servers ------------------------------------------------------------------

class Jackd:
    """A private jackd, killed with the runner (PR_SET_PDEATHSIG)."""

    def __init__(self, name, driver_args, tmp, label):
        self.name = name
        self.driver_args = driver_args
        self.label = label
        self.log_path = os.path.join(tmp, f"{label}.log")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["jackd", "--no-realtime", "-n", self.name] + self.driver_args,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=BASE_ENV,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        CHILDREN.append(self.proc)

    def answers(self, tries=400):
        return bool(poll(lambda: self.proc.poll() is None and
                         jack_tool(self.name, "jack_lsp", timeout=15).returncode == 0,
                         tries=tries, pause=0.1))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL (a crash); its registry slot is taken back by the next
        server of the same name."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def stop(self, wait=40):
        """SIGTERM; a jackd that does not end in @wait s is killed, then a
        server of the same name is started and stopped to free its slot."""
        if not self.alive():
            return True
        self.proc.terminate()
        try:
            self.proc.wait(wait)
            self.log.close()
            return True
        except subprocess.TimeoutExpired:
            say(f"{self.label}: jackd did not end on SIGTERM in {wait} s: killed")
            self.kill()
            spare = subprocess.Popen(["jackd", "--no-realtime", "-n", self.name, "-d", "dummy"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=BASE_ENV, preexec_fn=_die_with_parent)
            poll(lambda: jack_tool(self.name, "jack_lsp", timeout=10).returncode == 0, tries=50,
                 pause=0.1)
            spare.terminate()
            try:
                spare.wait(20)
            except subprocess.TimeoutExpired:
                spare.kill()
                spare.wait()
            # the killed server's client semaphores (this server's name only)
            for f in glob.glob(f"/dev/shm/jack_sem.*_{self.name}_*"):
                try:
                    os.unlink(f)
                except OSError:
                    pass
            return False

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""


def load_netmanager(master, port):
    r = jack_tool(master.name, "jack_load", "netmanager", "-i", f"-a 127.0.0.1 -p {port}")
    return r.returncode == 0 and "netmanager is running" in (r.stdout + r.stderr)


# ---- csjack -----------------------------------------------------------------------

class Csjack:
    """A csjack: its console on pipes, stderr into a file."""

    def __init__(self, csjack, name, args, tmp):
        self.name = name
        self.err_path = os.path.join(tmp, f"{name}.err")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([csjack, "-n", name] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     bufsize=1, env=BASE_ENV, cwd=tmp)
        CHILDREN.append(self.proc)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def ask(self, command, timeout=30.0):
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
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

    def wait_stats(self, pred, tries=1200):
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
        start = self.stats().get("cycles", 0)
        return self.wait_stats(lambda s: s.get("cycles", 0) >= start + n)[0]

    def stderr(self):
        self.err.flush()
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait_stderr(self, marker, tries=600):
        poll(lambda: marker in self.stderr() or self.proc.poll() is not None, tries=tries)
        return marker in self.stderr()

    def alive(self):
        return self.proc.poll() is None

    def quit(self):
        reply = self.ask(":quit")
        try:
            status = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            status = None
        if reply != "ok quit":
            say(f"{self.name}: :quit answered {reply!r}")
        return status

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


# ---- the recorded tones --------------------------------------------------------

def read_float_wav(path):
    """(rate, [channel samples]) of a 32-bit float WAV (csjack's :record 32)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 12
    fmt = None
    samples = b""
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate, _, block, bits = struct.unpack("<HHIIHH", body[:16])
            fmt = (channels, rate, block, bits)
        elif cid == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    channels, rate, block, bits = fmt
    if bits != 32:
        raise ValueError(f"{path}: {bits}-bit, not float")
    a = array.array("f")
    a.frombytes(samples[:len(samples) // block * block])
    return rate, [a[c::channels] for c in range(channels)]


def tone(samples, rate):
    """(frequency, rms, seconds) of the sounding part of @samples: from its
    first to its last 10 ms block above -30 dBFS RMS; frequency by rising
    zero crossings."""
    block = rate // 100
    loud = []
    for b in range(len(samples) // block):
        chunk = samples[b * block:(b + 1) * block]
        rms = (sum(x * x for x in chunk) / block) ** 0.5
        loud.append(rms > 0.03)
    if True not in loud:
        return 0.0, 0.0, 0.0
    first = loud.index(True)
    last = len(loud) - 1 - loud[::-1].index(True)
    part = samples[first * block:(last + 1) * block]
    rises = [i for i in range(1, len(part)) if part[i - 1] < 0.0 <= part[i]]
    rms = (sum(x * x for x in part) / len(part)) ** 0.5
    seconds = len(part) / rate
    if len(rises) < 2:
        return 0.0, rms, seconds
    freq = (len(rises) - 1) * rate / (rises[-1] - rises[0])
    return freq, rms, seconds


def hear(mix, tmp, label, cycles):
    """Records @cycles cycles on the master's csjack; checks channel 1 holds
    node1's tone and channel 2 node2's."""
    path = f"{label}.wav"
    reply = mix.ask(f":record {path} 32")
    if not check(reply == f"ok record {path} 32", f"{label}: :record on the master's csjack", reply):
        return False
    mix.play_cycles(cycles)
    mix.ask(":stop-record")
    rate, chans = read_float_wav(os.path.join(tmp, path))
    ok_all = True
    for ch, node in enumerate(("node1", "node2")):
        want = TONES[node]
        freq, rms, seconds = tone(chans[ch], rate)
        ok = abs(freq - want) < want * 0.01 and rms > 0.1 and seconds > 0.25
        ok_all &= check(ok, f"{label}: {node}'s {want:.0f} Hz tone is heard at the master",
                        f"in_{ch + 1}: {freq:.1f} Hz, RMS {rms:.3f}, {seconds:.2f} s of "
                        f"{len(chans[ch]) / rate:.2f} s")
    return ok_all


# ---- orchestras ---------------------------------------------------------------

def tone_orc(freq):
    return (f"sr = 48000\nksmps = 32\nnchnls = 1\nnchnls_i = 1\n0dbfs = 1\n"
            f"instr 1\n  a1 oscili 0.3, {freq}\n  outch 1, a1\nendin\nschedule 1, 0, -1\n")


MIX_ORC = """sr = 48000
ksmps = 32
nchnls = 2
nchnls_i = 2
0dbfs = 1
instr 1
  a1 inch 1
  a2 inch 2
  outch 1, a1, 2, a2
endin
schedule 1, 0, -1
"""

THRU_ORC = """sr = 48000
ksmps = 32
nchnls = 1
nchnls_i = 1
0dbfs = 1
instr 1
  a1 inch 1
  outch 1, a1
endin
schedule 1, 0, -1
"""


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---- the test ----------------------------------------------------------------------

class Farm:
    """The master and its two nodes."""

    def __init__(self, tmp):
        pid = os.getpid()
        self.tmp = tmp
        self.port = free_udp_port()
        self.master = Jackd(f"csjnjM{pid}", ["-d", "dummy", "-r", str(RATE), "-p", str(PERIOD)],
                            tmp, "master")
        self.nodes = {}
        self.ready = False  # the master runs with netmanager loaded

    def node_args(self, node, latency=None):
        args = ["-d", "net", "-a", "127.0.0.1", "-p", str(self.port), "-C", "2", "-P", "2",
                "-n", node]
        return args + (["-l", str(latency)] if latency is not None else [])

    def start_master(self):
        if not self.master.alive():
            self.master.start()
        up = self.master.answers()
        if not check(up, "the master jackd answers", "" if up else self.master.log_tail()):
            return False
        self.ready = check(load_netmanager(self.master, self.port),
                           f"netmanager loaded on the master (-a 127.0.0.1 -p {self.port})")
        return self.ready

    def start_node(self, node, latency=None):
        pid = os.getpid()
        j = self.nodes.get(node)
        if j is None:
            j = Jackd(f"csjnj{node}{pid}", self.node_args(node, latency), self.tmp, node)
            self.nodes[node] = j
        else:
            j.driver_args = self.node_args(node, latency)
            j.start()
        return j

    def node_ports_at_master(self, node):
        """Waits until the master shows @node's ports (the node joined)."""
        want = f"{node}:from_slave_1"
        return bool(poll(lambda: want in ports(self.master.name), tries=300, pause=0.1))

    def stop(self):
        for j in self.nodes.values():
            j.stop()
        if self.master.alive():
            jack_tool(self.master.name, "jack_unload", "netmanager", timeout=20)
        self.master.stop()


def section_tones(args, farm, tmp):
    print("tones: two render nodes heard at the master, through restarts", flush=True)
    m = farm.master
    if not farm.start_master():
        return
    for node in TONES:
        j = farm.start_node(node)
        check(farm.node_ports_at_master(node), f"{node} joins the master ({node}:from_slave_1)",
              "" if j.alive() else j.log_tail())
    tones = {}
    mix = None
    try:
        for i, (node, freq) in enumerate(TONES.items(), 1):
            tones[node] = Csjack(args.csjack, f"tone{i}",
                                 ["--reconnect", "--server", farm.nodes[node].name, "--no-midi",
                                  write(tmp, f"tone{i}.orc", tone_orc(freq))], tmp)
        for node, cs in tones.items():
            check(cs.wait_stderr("playing as JACK client"), f"{cs.name} plays on {node}",
                  cs.stderr()[-1500:] if not cs.alive() else "")
            ok, st = cs.wait_stats(lambda s: s.get("connections") == 2)
            check(ok, f"{cs.name}: connected to {node}'s system ports by default "
                  "(out_1 -> system:playback_1, in_1 <- system:capture_1)",
                  f"connections={st.get('connections')}")
        mix = Csjack(args.csjack, "mix", ["--reconnect", "--server", m.name, "--no-connect",
                                          "--no-midi", write(tmp, "mix.orc", MIX_ORC)], tmp)
        check(mix.wait_stderr("playing as JACK client"), "the master's csjack plays")
        # Patched once, by hand: nodeN:from_slave_1 -> mix:in_N.
        for i, node in enumerate(TONES, 1):
            r = jack_tool(m.name, "jack_connect", f"{node}:from_slave_1", f"mix:in_{i}")
            check(r.returncode == 0, f"jack_connect {node}:from_slave_1 mix:in_{i}",
                  r.stderr.strip())
        mix.wait_stats(lambda s: s.get("connections") == 2)
        hear(mix, tmp, "before", RATE // PERIOD)

        # 2. The master dies and comes back.
        before = {n: c.stats() for n, c in tones.items()}
        mix_before = mix.stats()
        t0 = time.monotonic()
        m.kill()
        farm.ready = False
        ok, st = mix.wait_stats(lambda s: s.get("server_connected") == 0)
        check(ok, "the master's csjack sees its server gone and stays (--reconnect)")
        if not farm.start_master():
            return
        for node in TONES:
            check(farm.node_ports_at_master(node), f"{node} joins the new master")
        ok, st = mix.wait_stats(lambda s: s.get("reconnects", 0) >= 1 and
                                s.get("server_connected") == 1 and
                                s.get("connections_restored", 0) >=
                                mix_before.get("connections_restored", 0) + 2)
        check(ok, "the master's csjack reconnects and restores nodeN:from_slave_1 -> in_N",
              f"reconnects {st.get('reconnects')}, connections_restored "
              f"{mix_before.get('connections_restored')} -> {st.get('connections_restored')}")
        for node, cs in tones.items():
            b = before[node].get("connections_restored", 0)
            ok, st = cs.wait_stats(lambda s: s.get("connections_restored", 0) >= b + 2 and
                                   s.get("connections") == 2)
            check(ok and cs.alive(),
                  f"{cs.name} stays alive and restores its connections to {node}'s re-created "
                  "system ports", f"connections_restored {b} -> {st.get('connections_restored')}, "
                  f"reconnects {st.get('reconnects')}")
        say(f"master restart: heard again after {time.monotonic() - t0:.1f} s (wall, printed only)")
        hear(mix, tmp, "after-master-restart", RATE // PERIOD)

        # 3. node1's jackd dies and comes back, under its csjack.
        cs = tones["node1"]
        b = cs.stats()
        mb = mix.stats()
        t0 = time.monotonic()
        farm.nodes["node1"].kill()
        ok, _ = cs.wait_stats(lambda s: s.get("server_connected") == 0)
        check(ok and cs.alive(), "tone1 sees node1's server gone and stays (--reconnect)")
        # The master notices node1 gone before a node of the same name can
        # join as 'node1' again (else netmanager names it node1-01).
        gone = poll(lambda: "node1:from_slave_1" not in ports(m.name), tries=600, pause=0.1)
        check(bool(gone), "the master drops node1's ports")
        farm.start_node("node1")
        check(farm.node_ports_at_master("node1"), "node1 joins again")
        ok, st = cs.wait_stats(lambda s: s.get("reconnects", 0) >= b.get("reconnects", 0) + 1 and
                               s.get("server_connected") == 1 and s.get("connections") == 2)
        check(ok, "tone1 reconnects to node1's new server, connected as before",
              f"reconnects {st.get('reconnects')}, connections {st.get('connections')}, "
              f"restored {b.get('connections_restored')} -> {st.get('connections_restored')}")
        ok, st = mix.wait_stats(lambda s: s.get("connections_restored", 0) >=
                                mb.get("connections_restored", 0) + 1)
        check(ok, "the master's csjack restores node1:from_slave_1 -> in_1",
              f"connections_restored {mb.get('connections_restored')} -> "
              f"{st.get('connections_restored')}")
        say(f"node restart: heard again after {time.monotonic() - t0:.1f} s (wall, printed only)")
        hear(mix, tmp, "after-node-restart", RATE // PERIOD)

        for name, c in list(tones.items()) + [("master", mix)]:
            st = c.stats()
            say(f"{c.name}: reconnects {st.get('reconnects')}, connections_restored "
                f"{st.get('connections_restored')}, xruns {st.get('xruns')}, cycles "
                f"{st.get('cycles')}")
        for c in list(tones.values()) + [mix]:
            check(c.quit() == 0, f"{c.name} quits, status 0")
    finally:
        for c in list(tones.values()) + ([mix] if mix else []):
            c.kill()


def iodelay_runs(master, runs):
    """@runs jack_iodelay runs on the master, its out to node1:to_slave_1 and
    its in from node1:from_slave_1: the value each settles on (3 equal
    readings running), or None; a run that does not settle (the loop lost
    cycles while it measured) is made again, twice at most."""
    values = []
    for _ in range(runs):
        value = None
        for attempt in range(3):
            value = iodelay_once(master)
            if value is not None:
                break
            say(f"a jack_iodelay run did not settle (attempt {attempt + 1})")
        values.append(value)
    return values


def iodelay_once(master):
    """One jack_iodelay run: the value it settles on (3 equal readings), or None."""
    unbuffered = ["stdbuf", "-o0"] if shutil.which("stdbuf") else []
    env = dict(BASE_ENV, JACK_DEFAULT_SERVER=master.name)
    iod = subprocess.Popen(unbuffered + ["jack_iodelay"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    CHILDREN.append(iod)
    lines = queue.Queue()

    def read():
        buf = b""
        while True:
            chunk = iod.stdout.read1(4096)
            if not chunk:
                break
            buf += chunk
            parts = re.split(rb"[\r\n]", buf)
            buf = parts.pop()
            for p in parts:
                lines.put(p.decode(errors="replace"))
        lines.put(None)
    threading.Thread(target=read, daemon=True).start()
    try:
        poll(lambda: "jack_delay:out" in ports(master.name), tries=200, pause=0.05)
        jack_tool(master.name, "jack_connect", "jack_delay:out", "node1:to_slave_1")
        jack_tool(master.name, "jack_connect", "node1:from_slave_1", "jack_delay:in")
        last, run, settled, seen = None, 0, None, 0
        while seen < 120:
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
                break
        return settled
    finally:
        iod.terminate()
        try:
            iod.wait(10)
        except subprocess.TimeoutExpired:
            iod.kill()
            iod.wait()


def section_roundtrip(args, farm, tmp):
    print("roundtrip: master -> node1 csjack (ain -> aout) -> master, jack_iodelay", flush=True)
    if not shutil.which("jack_iodelay"):
        say("jack_iodelay is missing (Debian: jackd2): skipped")
        return
    m = farm.master
    if not farm.ready and not farm.start_master():
        return
    node2 = farm.nodes.get("node2")
    if node2:
        node2.stop()
    runs = 3
    results = {}
    for latency in (5, 2):
        j = farm.nodes.get("node1")
        if j:
            j.stop()
            poll(lambda: "node1:from_slave_1" not in ports(m.name), tries=600, pause=0.1)
        farm.start_node("node1", latency)
        if not check(farm.node_ports_at_master("node1"), f"-l {latency}: node1 joins"):
            continue
        node = farm.nodes["node1"].name
        # A plain wire on the node, then jack_thru (jackd2's example client
        # that copies its inputs to its outputs), then csjack in their place.
        jack_tool(node, "jack_connect", "system:capture_1", "system:playback_1")
        wire = iodelay_runs(m, runs)
        jack_tool(node, "jack_disconnect", "system:capture_1", "system:playback_1")
        plain = None
        if shutil.which("jack_thru"):
            jt = subprocess.Popen(["jack_thru"], env=dict(BASE_ENV, JACK_DEFAULT_SERVER=node),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL)
            CHILDREN.append(jt)
            try:
                poll(lambda: "jack_thru:output_1" in ports(node), tries=200)
                plain = iodelay_runs(m, runs)
            finally:
                jt.terminate()
                jt.wait()
            poll(lambda: "jack_thru:output_1" not in ports(node), tries=200)
        thru = Csjack(args.csjack, "thru", ["--server", node, "--no-midi",
                                            write(tmp, "thru.orc", THRU_ORC)], tmp)
        try:
            thru.wait_stderr("playing as JACK client")
            thru.wait_stats(lambda s: s.get("connections") == 2)
            through = iodelay_runs(m, runs)
            check(thru.quit() == 0, f"-l {latency}: the thru csjack quits, status 0")
        finally:
            thru.kill()
        results[latency] = (wire, plain, through)
        say(f"netjack2 -l {latency}, period {PERIOD}: round trip through csjack {through} frames "
            f"({runs} runs), through jack_thru {plain}, through a plain wire on the node {wire}")
        check(all(v is not None for v in through + wire + (plain or [])),
              f"-l {latency}: jack_iodelay settles in every run")
        if plain is not None:
            check(through == plain, f"-l {latency}: csjack on the node costs what any JACK client "
                  "costs there (jack_thru)", f"{through} vs {plain}")
    return results


SECTIONS = {"tones": section_tones, "roundtrip": section_roundtrip}


def missing_tools():
    for tool in ("jackd", "jack_load", "jack_lsp", "jack_connect"):
        if not shutil.which(tool):
            return f"{tool} is missing (Debian: jackd2)"
    dirs = [os.environ.get("JACK_DRIVER_DIR", "")] + glob.glob("/usr/lib/*/jack") + \
        glob.glob("/usr/lib*/jack") + glob.glob("/usr/local/lib*/jack")
    have = lambda so: any(os.path.exists(os.path.join(d, so)) for d in dirs if d)
    if not have("jack_net.so"):
        return "jackd's net backend (jack_net.so) is missing"
    if not have("netmanager.so"):
        return "jackd's netmanager (netmanager.so) is missing"
    return None


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csjack", required=True)
    ap.add_argument("--only", choices=sorted(SECTIONS))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.csjack = os.path.abspath(args.csjack)
    why = missing_tools()
    if why:
        print(f"run_netjack.py: {why}: skipped")
        return 77
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    tmp = tempfile.mkdtemp(prefix="csjack-netjack-")
    farm = None
    t_start = time.monotonic()
    try:
        farm = Farm(tmp)
        for name, fn in SECTIONS.items():
            if args.only in (None, name):
                t0 = time.monotonic()
                fn(args, farm, tmp)
                print(f"  ({name}: {time.monotonic() - t0:.1f} s)", flush=True)
    finally:
        if farm:
            farm.stop()
        for p in CHILDREN:
            if p.poll() is None:
                p.kill()
                p.wait()
        if args.keep:
            print(f"run_netjack.py: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"run_netjack.py: {time.monotonic() - t_start:.1f} s")
    if FAILURES:
        print(f"run_netjack.py: {len(FAILURES)} check(s) failed:")
        for f in FAILURES:
            print("  - " + f)
        return 1
    print("run_netjack.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
