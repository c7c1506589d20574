#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""csjack's sessions: the NSM client (API 1.1), :save and --restore.

Starts its own private jackd (dummy driver, 48 kHz, period 256) under a
unique name, and plays the session manager itself: a tiny OSC server on
127.0.0.1 (OSC encoded and decoded here, by hand) whose address goes to
csjack in NSM_URL. It checks the announce, that no JACK client exists
before open, that open names the JACK client exactly (csjack.nABCD) and
makes the folder, that a new session with no FILE plays an empty
orchestra, that live code and a channel set through csjack's console make
it say is_dirty, that save answers /reply, says is_clean and writes the
folder, that SIGTERM ends it (status 0, its JACK client gone; the time is
printed, not judged), and that reopening the folder brings the instrument
and the channel back. Then an announce the server refuses (exit 13), a
folder that cannot be made (/error -10), and :save DIR / --restore DIR
without a session manager.

Standard library only. Usage:
  test_nsm.py --csjack PATH [--only NAME]
Exit 0 when every check passed, 1 otherwise, 77 when a tool is missing.
"""

import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

from csjack_process import Csjack, Jackd, check, jack_clients, osc_string, report

CLIENT_ID = "csjack.nABCD"

# ---- OSC, by hand ---------------------------------------------------------

def osc_encode(path, *args):
    tags = ","
    data = b""
    for a in args:
        if isinstance(a, int):
            tags += "i"
            data += struct.pack(">i", a)
        elif isinstance(a, float):
            tags += "f"
            data += struct.pack(">f", a)
        else:
            tags += "s"
            data += osc_string(a)
    return osc_string(path) + osc_string(tags) + data


def osc_decode(packet):
    def read_string(at):
        end = packet.index(b"\0", at)
        return packet[at:end].decode(), (end + 4) & ~3

    path, at = read_string(0)
    tags, at = read_string(at)
    args = []
    for t in tags[1:]:
        if t == "i":
            args.append(struct.unpack(">i", packet[at:at + 4])[0])
            at += 4
        elif t == "f":
            args.append(struct.unpack(">f", packet[at:at + 4])[0])
            at += 4
        elif t == "s":
            s, at = read_string(at)
            args.append(s)
        else:
            raise ValueError(f"type tag {t!r}")
    return path, args


class FakeNsm:
    """The server side of NSM, as much as a test needs: one UDP socket on
    127.0.0.1; every message is (path, args), kept in arrival order."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"osc.udp://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.client = None  # the address the announce came from

    def recv(self, timeout=20.0):
        """The next message (path, args), or (None, None)."""
        self.sock.settimeout(timeout)
        try:
            data, addr = self.sock.recvfrom(70000)
        except socket.timeout:
            return None, None
        if self.client is None:
            self.client = addr
        elif addr != self.client:
            return ("<from another socket>", [addr])
        return osc_decode(data)

    def expect(self, path, timeout=20.0, first=None, or_error=False):
        """Messages until one at @path (whose first argument is @first,
        when given; with @or_error, an /error to @first ends the wait too);
        returns its args and what came before it (the /error last)."""
        before = []
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None, before
            p, a = self.recv(left)
            if p is None:
                return None, before
            if p == path and (first is None or (a and a[0] == first)):
                return a, before
            before.append((p, a))
            if or_error and p == "/error" and a and a[0] == first:
                return None, before

    def send(self, path, *args):
        self.sock.sendto(osc_encode(path, *args), self.client)

    def close(self):
        self.sock.close()


def cycles(cs):
    """:stats' cycles=, or -1."""
    for pair in (cs.ask(":stats") or "").split():
        if pair.startswith("cycles="):
            return int(pair[7:])
    return -1


def poll_reply(cs, command, want, timeout=10.0):
    """Asks @command until the reply is @want; the last reply."""
    end = time.monotonic() + timeout
    reply = None
    while time.monotonic() < end:
        reply = cs.ask(command)
        if reply == want:
            break
        time.sleep(0.05)
    return reply


def announce_and_open(args, nsm, folder, extra_args=(), open_it=True):
    """Starts csjack under @nsm, checks its announce, answers it, checks
    that no JACK client exists before open, sends open. Returns the
    process and the answer to open (args of /reply or /error, and which)."""
    cs = Csjack([args.csjack, *extra_args], env={"NSM_URL": nsm.url})
    got, _ = nsm.expect("/nsm/server/announce")
    if not check(got is not None, "csjack announces itself", cs.tail() if got is None else ""):
        return cs, None, None
    check(got[:5] == ["csjack", ":dirty:message:", args.csjack, 1, 1] and
          got[5] == cs.proc.pid,
          "the announce: csjack, :dirty:message:, argv[0], API 1.1, its pid", str(got))
    nsm.send("/reply", "/nsm/server/announce", "Welcome", "Fake NSM", ":server-control:")
    # It must not reach for JACK before open: give it time to misbehave.
    time.sleep(0.5)
    check(not any(c.startswith("csjack") for c in jack_clients()),
          "no JACK client before open", str(sorted(jack_clients())))
    if not open_it:
        return cs, None, None
    t0 = time.monotonic()
    nsm.send("/nsm/client/open", folder, "test-session", CLIENT_ID)
    reply, before = nsm.expect("/reply", first="/nsm/client/open", timeout=30, or_error=True)
    error = None
    if reply is None:
        error = next((a for p, a in before if p == "/error"), None)
    print(f"  open answered in {time.monotonic() - t0:.3f} s", flush=True)
    return cs, reply, error


# ---- NSM: a new session, save, quit, reopen --------------------------------

def test_nsm(args, tmp):
    print("nsm: a new session, live code, save, SIGTERM, reopen", flush=True)
    folder = os.path.join(tmp, "session", CLIENT_ID)
    nsm = FakeNsm()
    cs, reply, error = announce_and_open(args, nsm, folder)
    try:
        if not check(reply is not None, "open is answered with /reply",
                     f"{error}; {cs.tail()}"):
            return
        print(f"  open's message: {reply[1]}", flush=True)
        clients = jack_clients()
        check(CLIENT_ID in clients, f"the JACK client is named {CLIENT_ID} exactly",
              str(sorted(clients)))
        check(os.path.isdir(folder), "open made the client's folder", folder)
        # A new session with no FILE: the empty orchestra plays.
        check("an empty orchestra playing" in cs.stderr(), "no FILE: an empty orchestra plays",
              cs.tail())
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout.split()
        mine = sorted(p.split(":", 1)[1] for p in ports if p.startswith(CLIENT_ID + ":"))
        check(mine == ["in_1", "in_2", "midi_in", "midi_out", "out_1", "out_2"],
              "the empty orchestra has 2 inputs and 2 outputs", str(mine))
        cyc = [cycles(cs)]
        time.sleep(0.3)
        cyc.append(cycles(cs))
        check(cyc[1] > cyc[0], "it performs (cycles go on)", str(cyc))

        # Nothing was changed yet (an :eval would be: it is live code).
        p, a = nsm.recv(timeout=0.6)
        check(p is None, "not dirty after a new session's open", f"{p} {a}")
        t0 = time.monotonic()
        reply = cs.ask(':orc instr 5\\nchnset p4, "played5"\\nendin')
        check(reply == "ok orc", "live code through the console", reply)
        dirty, before = nsm.expect("/nsm/client/is_dirty", timeout=10)
        check(dirty is not None, "is_dirty after the live code", str(before))
        print(f"  is_dirty came {time.monotonic() - t0:.3f} s after the :orc line was sent",
              flush=True)
        check(cs.ask(":chn level 0.25") == "ok chn level 0.25", "a channel set")

        t0 = time.monotonic()
        nsm.send("/nsm/client/save")
        saved, before = nsm.expect("/reply", first="/nsm/client/save")
        check(saved is not None and not any(p == "/error" for p, _ in before),
              "save is answered with /reply", f"{saved} {before}")
        clean, before = nsm.expect("/nsm/client/is_clean", timeout=10)
        check(clean is not None, "is_clean after the save", str(before))
        print(f"  save answered and clean in {time.monotonic() - t0:.3f} s", flush=True)
        files = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        check(files == ["channels.txt", "csjack.session", "live.orc"],
              "the folder holds live.orc, channels.txt, csjack.session", str(files))
        with open(os.path.join(folder, "csjack.session")) as f:
            session = f.read()
        check(f"client_name={CLIENT_ID}\n" in session and "file=" not in session,
              "csjack.session names the client and no file (the empty orchestra)", session)
        # Nothing changed since: no is_dirty.
        p, a = nsm.recv(timeout=0.6)
        check(p is None, "no message while nothing changes", f"{p} {a}")

        status, took = cs.terminate_timed()
        print(f"  SIGTERM: exited in {took:.3f} s, status {status}", flush=True)
        check(status == 0, "SIGTERM ends it, status 0", f"status {status}; {cs.tail()}")
        check(CLIENT_ID not in jack_clients(), "its JACK client is gone", str(jack_clients()))
    finally:
        cs.close()
        nsm.close()

    print("nsm: reopen the saved folder", flush=True)
    nsm = FakeNsm()
    cs, reply, error = announce_and_open(args, nsm, folder)
    try:
        if not check(reply is not None, "reopen is answered with /reply",
                     f"{error}; {cs.tail()}"):
            return
        print(f"  open's message: {reply[1]}", flush=True)
        check("restored " in reply[1] and " pieces of code and " in reply[1],
              "the answer says what was restored", reply[1])
        # The restored state is the saved one: not dirty (looked at before
        # any :eval, which is live code too and would make it dirty).
        p, a = nsm.recv(timeout=0.6)
        check(p is None, "not dirty after a restore", f"{p} {a}")
        check(CLIENT_ID in jack_clients(), f"the JACK client is {CLIENT_ID} again")
        check(cs.ask(":eval return nstrnum(5)") == "ok eval 5", "instr 5 exists again")
        check(cs.ask(":chn level") == "ok chn level 0.25", "the channel reads 0.25 again")
        check(cs.ask("i 5 0 0.1 7") == "ok score", "i 5 is accepted")
        reply = poll_reply(cs, ":chn played5", "ok chn played5 7")
        check(reply == "ok chn played5 7", "instr 5 plays", reply)
        check("instr 5 undefined" not in cs.stderr(), "no 'instr 5 undefined'")
        status, took = cs.terminate_timed()
        print(f"  SIGTERM: exited in {took:.3f} s, status {status}", flush=True)
        check(status == 0 and CLIENT_ID not in jack_clients(),
              "SIGTERM ends it again, its client gone", f"status {status}")
    finally:
        cs.close()
        nsm.close()


# ---- NSM: what goes wrong ---------------------------------------------------

def test_nsm_errors(args, tmp):
    print("nsm: a refused announce, quit before open, no answer, a folder that cannot be made",
          flush=True)
    nsm = FakeNsm()
    cs = Csjack([args.csjack], env={"NSM_URL": nsm.url})
    try:
        got, _ = nsm.expect("/nsm/server/announce")
        check(got is not None, "csjack announces itself")
        nsm.send("/error", "/nsm/server/announce", -3, "Client is blacklisted")
        status = cs.finish(20)
        err = cs.stderr()
        check(status == 13, "a refused announce: exit 13", f"status {status}; {err[-1500:]}")
        lines = [line for line in err.splitlines() if line.startswith("csjack: error")]
        check(len(lines) == 1 and "blacklisted" in lines[0], "one line says why", str(lines))
    finally:
        cs.close()
        nsm.close()

    # Quit before open: a SIGTERM ends it at once (nothing is open).
    nsm = FakeNsm()
    cs, _, _ = announce_and_open(args, nsm, "", open_it=False)
    try:
        status, took = cs.terminate_timed()
        print(f"  SIGTERM before open: exited in {took:.3f} s, status {status}", flush=True)
        check(status is not None, "SIGTERM before open ends it", f"status {status}")
    finally:
        cs.close()
        nsm.close()

    # NSM_URL set but nothing answers: as the API says, no session
    # management (after NSM_ANNOUNCE_TIMEOUT_MS), and FILE plays.
    orc = os.path.join(tmp, "unmanaged.orc")
    with open(orc, "w") as f:
        f.write("nchnls = 2\n0dbfs = 1\n")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    t0 = time.monotonic()
    cs = Csjack([args.csjack, "--no-connect", "-n", f"csjack_unmanaged{os.getpid()}", orc],
                env={"NSM_URL": f"osc.udp://127.0.0.1:{silent.getsockname()[1]}/"})
    try:
        ok = cs.wait_for("playing as JACK client", timeout=30)
        print(f"  no answer: playing after {time.monotonic() - t0:.1f} s", flush=True)
        check(ok and "playing without a session manager" in cs.stderr(),
              "a session manager that does not answer: a warning, and FILE plays", cs.tail())
        check(cs.ask(":quit") == "ok quit" and cs.finish(20) == 0, "it ends, status 0")
    finally:
        cs.close()
        silent.close()

    blocker = os.path.join(tmp, "a-file")
    with open(blocker, "w") as f:
        f.write("not a folder\n")
    nsm = FakeNsm()
    cs, reply, error = announce_and_open(args, nsm, os.path.join(blocker, CLIENT_ID))
    try:
        check(reply is None and error is not None and error[:2] == ["/nsm/client/open", -10],
              "a folder that cannot be made: /error ERR_CREATE_FAILED (-10)", str(error))
        status = cs.finish(20)
        check(status == 3, "and csjack exits 3", f"status {status}")
        check(CLIENT_ID not in jack_clients(), "no JACK client was left")
    finally:
        cs.close()
        nsm.close()


# ---- :save DIR and --restore DIR, without a session manager ---------------

def test_save_restore(args, tmp):
    print("save: :save DIR, then csjack --restore DIR", flush=True)
    orc = os.path.join(tmp, "plain.orc")
    with open(orc, "w") as f:
        f.write("nchnls = 2\n0dbfs = 1\ngiBase = 3\n")
    saved = os.path.join(tmp, "saved", "take one")
    name = f"csjack_plain{os.getpid()}"
    cs = Csjack([args.csjack, "--no-connect", "-n", name, orc])
    try:
        if not check(cs.wait_for("playing as JACK client"), "csjack plays the file", cs.tail()):
            return
        check(cs.ask(':orc instr 5\\nchnset p4 + giBase, "played5"\\nendin') == "ok orc",
              "live code")
        check(cs.ask(':schn title a b\\\\c') == "ok schn title a b\\\\c", "a string channel")
        check(cs.ask(":chn level 0.25") == "ok chn level 0.25", "a control channel")
        reply = cs.ask(f":save {saved}")
        check(reply == f"ok save {saved}", ":save DIR", reply)
        reply = cs.ask(":save")
        check(reply == "error save: missing DIR (:save DIR)", ":save without DIR", reply)
        check(cs.ask(":quit") == "ok quit", ":quit")
        check(cs.finish(20) == 0, "it ends, status 0")
    finally:
        cs.close()
    with open(os.path.join(saved, "csjack.session")) as f:
        session = f.read()
    check(f"file={os.path.realpath(orc)}\n" in session and f"client_name={name}\n" in session,
          "csjack.session names the file (absolute) and the client", session)

    # From another working directory: the absolute path finds the file.
    cs = Csjack([args.csjack, "--no-connect", "--restore", saved], cwd="/")
    try:
        if not check(cs.wait_for("restored "), "--restore DIR starts and restores", cs.tail()):
            return
        check(name in jack_clients(), "the JACK client name comes from csjack.session",
              str(sorted(jack_clients())))
        check(cs.ask(":eval return giBase") == "ok eval 3", "the file named in the session plays")
        check(cs.ask(":eval return nstrnum(5)") == "ok eval 5", "instr 5 is back")
        check(cs.ask(":chn level") == "ok chn level 0.25", "the control channel is back")
        check(cs.ask(":schn title") == "ok schn title a b\\\\c", "the string channel is back")
        cs.ask("i 5 0 0.1 4")
        reply = poll_reply(cs, ":chn played5", "ok chn played5 7")
        check(reply == "ok chn played5 7", "instr 5 plays", reply)
        check(cs.ask(":quit") == "ok quit" and cs.finish(20) == 0, "it ends, status 0")
    finally:
        cs.close()

    # --restore of an empty folder, no FILE: the empty orchestra.
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    cs = Csjack([args.csjack, "--no-connect", "-n", f"csjack_empty{os.getpid()}",
                 "--restore", empty])
    try:
        ok = cs.wait_for("an empty orchestra playing")
        check(ok and "holds no saved session" in cs.stderr(),
              "--restore of an empty folder: an empty orchestra, and a notice", cs.tail())
        check(cs.ask(":eval return nchnls") == "ok eval 2", "2 channels")
        check(cs.ask(":quit") == "ok quit" and cs.finish(20) == 0, "it ends, status 0")
    finally:
        cs.close()
    cs = Csjack([args.csjack, "--no-connect", "--restore", os.path.join(tmp, "missing")])
    try:
        status = cs.finish(20)
        check(status == 3, "--restore of a folder that does not exist: exit 3",
              f"status {status}; {cs.tail()}")
    finally:
        cs.close()


def test_reconnect(args, tmp, jack):
    """csjack --reconnect: jackd killed and started again under its name;
    the live-coded instrument and the connection to system:playback_1 are
    back, with no one reconnecting by hand."""
    print("reconnect: csjack --reconnect, jackd killed and restarted", flush=True)
    orc = os.path.join(tmp, "rc.orc")
    with open(orc, "w") as f:
        f.write("sr = 48000\nksmps = 64\nnchnls = 2\n0dbfs = 1\n")
    cs = Csjack([args.csjack, "--reconnect", "-n", "csjrc", orc])
    try:
        check(cs.wait_for("playing as JACK client"), "csjack plays", cs.tail())
        reply = cs.ask(":orc instr 3\\n  outs oscili(0.1, 330), oscili(0.1, 330)\\nendin")
        check(reply is not None and reply.startswith("ok"), ":orc instr 3", reply or "")
        check((cs.ask("i 3 0 -1") or "").startswith("ok"), "i 3 0 -1")
        links = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True).stdout
        check("csjrc:out_1\n   system:playback_1" in links, "out_1 on system:playback_1")
        jack.kill()
        t0 = time.monotonic()
        check(cs.wait_for("the JACK server went away"), "csjack says the server went", cs.tail())
        jack.start()
        back = cs.wait_for("reconnected to the JACK server", 30)
        check(back, "csjack reconnects", cs.tail())
        print(f"  reconnected {time.monotonic() - t0:.2f} s after the kill", flush=True)
        connected = False
        for _ in range(100):
            links = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True).stdout
            connected = "csjrc:out_1\n   system:playback_1" in links
            if connected:
                break
            time.sleep(0.05)
        check(connected, "out_1 back on system:playback_1", links)
        check(cs.ask(":eval return nstrnum(3)") == "ok eval 3", "instr 3 is still there")
        c0 = cycles(cs)
        time.sleep(0.3)
        check(cycles(cs) > c0 >= 0, "it plays on")
        cs.ask(":quit")
        check(cs.finish() == 0, "exit 0", cs.tail())
    finally:
        cs.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csjack", required=True)
    ap.add_argument("--only", choices=["nsm", "errors", "save", "reconnect"])
    args = ap.parse_args()
    for tool in ("jackd", "jack_lsp"):
        if not shutil.which(tool):
            print(f"test_nsm.py: {tool} is missing: skipped")
            return 77
    os.environ.pop("NSM_URL", None)
    jack = Jackd("csjnsm")
    try:
        with tempfile.TemporaryDirectory(prefix="csjack-nsm-") as tmp:
            if args.only in (None, "nsm"):
                test_nsm(args, tmp)
            if args.only in (None, "errors"):
                test_nsm_errors(args, tmp)
            if args.only in (None, "save"):
                test_save_restore(args, tmp)
            if args.only in (None, "reconnect"):
                test_reconnect(args, tmp, jack)
    finally:
        jack.stop()
    return report("test_nsm.py")


if __name__ == "__main__":
    sys.exit(main())
