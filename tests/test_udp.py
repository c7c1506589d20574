#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""csjack's UDP live-coding server and OSC server, driven by real clients.

Starts its own private jackd (dummy driver, 48 kHz, period 256) under a
unique name and csjack against it, then sends datagrams exactly as the
editors do (a Python socket, as kunstmusik's vim plugin does; VS Code and
emacs send the same bytes): orchestra text, { } and {{ }} blocks across
datagrams, $ score, & events, @ and % channels, :@ and :% reads answered
to our own socket, garbage, a flood of 100000 datagrams, !!close!!. It
reads the --udp-console stream for Csound's error on bad code, checks
effects through csjack's console (:eval, :chn, :stats) and the sound
through csjack's --record file, and that the server listens on 127.0.0.1
only. Then OSC with liblo's oscsend, and bundles built here with timetags:
two clicks 0.25 s apart must land 12000 frames apart in the recording.

Standard library only. Usage:
  test_udp.py --csjack PATH --data DIR [--only NAME]
Exit 0 when every check passed, 1 otherwise, 77 when a tool is missing.
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import wave

from csjack_process import Csjack, Jackd, check, free_port, osc_string, report

def udp_socket(port=0, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(timeout)
    return s


def recv_all(sock, seconds):
    """Every datagram that arrives within @seconds."""
    out = []
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return out
        sock.settimeout(left)
        try:
            out.append(sock.recv(70000))
        except socket.timeout:
            return out


def read_wav(path):
    """Mono or stereo WAV of 16/24/32-bit integers or 32-bit float, channel 0, as floats."""
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
            fmt = (tag, channels, rate, block, bits)
        elif cid == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    tag, channels, rate, block, bits = fmt
    out = []
    width = bits // 8
    for i in range(0, len(samples) - block + 1, block):
        frame = samples[i:i + width]
        if tag == 3 or (tag == 0xFFFE and bits == 32 and False):
            out.append(struct.unpack("<f", frame)[0])
        elif width == 3:
            v = int.from_bytes(frame, "little", signed=True)
            out.append(v / 8388608.0)
        elif width == 2:
            out.append(struct.unpack("<h", frame)[0] / 32768.0)
        else:
            out.append(struct.unpack("<i", frame)[0] / 2147483648.0)
    return rate, out


def silent_runs(samples, start, length):
    """Runs of at least @length exact zeros from index @start."""
    runs = 0
    run = 0
    for x in samples[start:]:
        if x == 0.0:
            run += 1
            if run == length:
                runs += 1
        else:
            run = 0
    return runs


def proc_net_udp_listeners(port):
    """Local addresses (hex, as /proc/net/udp has them) bound to @port."""
    found = []
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    local = line.split()[1]
                    addr, _, p = local.rpartition(":")
                    if int(p, 16) == port:
                        found.append((table, addr))
        except FileNotFoundError:
            pass
    return found


# ---- Csound's UDP protocol, as the editors send it ------------------------

def test_udp(args, tmp):
    print("udp: Csound's --port protocol", flush=True)
    port, console_port, reply_port = free_port(), free_port(), free_port()
    console = udp_socket(console_port)
    replies = udp_socket(reply_port)
    rec = os.path.join(tmp, "udp.wav")
    cs = Csjack([args.csjack, "--no-connect", "-n", f"csjack_udp{os.getpid()}",
                 "--port", str(port), "--udp-console", f"127.0.0.1:{console_port}",
                 "--record", rec, os.path.join(args.data, "udp_live.orc")])
    try:
        started = cs.wait_for("UDP server")
        if not check(started, "csjack starts with --port", "" if started else cs.stderr()[-2000:]):
            return
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dst = ("127.0.0.1", port)
        sent = 0

        def send(data):
            nonlocal sent
            out.sendto(data, dst)
            sent += 1

        # It listens on loopback only (csjack's default).
        where = proc_net_udp_listeners(port)
        check(where == [("/proc/net/udp", "0100007F")], "listens on 127.0.0.1 only", str(where))

        # The vim plugin and VS Code: raw orchestra text, "$" + score.
        # A compile is done when udp_compiled (or udp_compile_errors)
        # counts it. The test waits for that before it looks with :eval,
        # whose parse runs at once on the console's thread.
        compiles = 0

        def compiled(n, failing=0):
            nonlocal compiles
            compiles += n
            cs.wait_stat("udp_compiles", compiles)
            end = time.monotonic() + 20
            while time.monotonic() < end:
                st = cs.stats()
                if st.get("udp_compiled", 0) + st.get("udp_compile_errors", 0) >= compiles:
                    break
                time.sleep(0.05)

        send(b"giUdp = 42\n")
        send(b"instr 11\n  chnset p4, \"ran11\"\nendin\n")
        compiled(2)
        reply = cs.ask(":eval return giUdp")
        check(reply == "ok eval 42", "raw orchestra text compiles (as vim and VS Code send it)",
              reply)
        send(b"$i 11 0 0.1 5\n")
        time.sleep(0.3)
        reply = cs.ask(":chn ran11")
        check(reply == "ok chn ran11 5", "$ score text plays", reply)
        send(b"&i 11 0 0.1 6")
        time.sleep(0.3)
        reply = cs.ask(":chn ran11")
        check(reply == "ok chn ran11 6", "& events play", reply)
        send(b"$i 11 0 0.1 7 ; a comment, as in a CSD's score\n")
        time.sleep(0.3)
        reply = cs.ask(":chn ran11")
        check(reply == "ok chn ran11 7", "$ score text with a comment plays", reply)
        send(b"$i 11 0 0.1 np3\n")
        time.sleep(0.3)
        reply = cs.ask(":chn ran11")
        check(reply == "ok chn ran11 7" and "'np3' is not a number" in cs.stderr(),
              "$ score text Csound would throw away is refused and said", reply)

        # Blocks across datagrams: {{ }} (csjack's) and { } (Csound's rule,
        # with a {{ }} string inside that must not close it).
        for d in (b"{{", b"giBlock = 7\n", b"instr 13\n  chnset 13, \"ran13\"\nendin\n", b"}}\n"):
            send(d)
        compiled(1)
        reply = cs.ask(":eval return giBlock")
        check(reply == "ok eval 7", "a {{ }} block across four datagrams compiles", reply)
        for d in (b"{\n", b"gSblock = {{a string}}\n", b"giCurly = 8\n}"):
            send(d)
        compiled(1)
        reply = cs.ask(":eval return giCurly")
        check(reply == "ok eval 8", "a { } block with a {{ }} string inside compiles", reply)

        # Channels, and reading them back to our own socket.
        send(b"@amp 0.25")
        send(b"%title hello world")
        time.sleep(0.2)
        send(f":@amp 127.0.0.1 {reply_port}".encode())
        try:
            got = replies.recv(1000)
        except socket.timeout:
            got = None
        check(got == b"amp::0.250000\0", ":@amp HOST PORT replies amp::0.250000", repr(got))
        send(f":%title 127.0.0.1 {reply_port}".encode())
        try:
            got = replies.recv(1000)
        except socket.timeout:
            got = None
        check(got == b"title::hello world\0", ":%title HOST PORT replies title::hello world",
              repr(got))

        # Bad code: Csound's error comes back on the --udp-console stream.
        recv_all(console, 0.2)
        send(b"instr 14\n  out undefined_var\nendin\n")
        compiled(1)
        msgs = b"".join(recv_all(console, 3.0))
        got_error = b"error:" in msgs and b"did not compile" in msgs
        check(got_error, "Csound's error on bad code reaches the --udp-console stream",
              "" if got_error else msgs[:600].decode(errors="replace"))
        reply = cs.ask(":eval return giUdp")
        check(reply == "ok eval 42", "csjack plays on after bad code", reply)

        # Garbage: counted as malformed, nothing breaks.
        garbage = [b"\xff\xfe\x00\x01", b"ab\x00cd", b"/csound/compile\x00,s\x00\x00",
                   b"@amp loud", b":@amp nowhere 1", b"\x01\x02\x03", b"@", b":", b"$"]
        before = cs.stats()
        for g in garbage:
            send(g)
        time.sleep(0.3)
        after = cs.stats()
        check(after.get("udp_malformed", 0) - before.get("udp_malformed", 0) == len(garbage),
              f"{len(garbage)} garbage datagrams are counted as malformed",
              f"{before.get('udp_malformed')} -> {after.get('udp_malformed')}")

        # A flood: 100000 events as fast as Python sends them. Every datagram
        # is accounted for (handled, or dropped by the kernel), the console
        # answers during and after, the music plays on.
        t0 = time.monotonic()
        mid_reply = None
        for i in range(100000):
            send(b"&i 12 0 0.001")
            if i == 50000:
                cs.proc.stdin.write(":eval return giUdp\n")
                cs.proc.stdin.flush()
        flood_s = time.monotonic() - t0
        mid_reply = cs.lines.get(timeout=30)
        time.sleep(1.0)
        send(b"giMarker = 1\n")  # a marker: the kernel's drop count arrives with it
        compiled(1)
        reply = cs.ask(":eval return giMarker")
        check(mid_reply == "ok eval 42" and reply == "ok eval 1",
              "the console answers during and after the flood", f"{mid_reply}, {reply}")
        st = cs.stats()
        accounted = st.get("udp_datagrams", 0) + st.get("udp_kernel_dropped", 0)
        print(f"  flood: 100000 datagrams in {flood_s:.2f} s; csjack read "
              f"{st.get('udp_datagrams')}, the kernel dropped {st.get('udp_kernel_dropped')}, "
              f"csjack dropped {st.get('udp_dropped')}, paced {st.get('net_paced')}; ring high water "
              f"{st.get('ring_high_water')} of {st.get('ring_capacity')}; "
              f"commands deferred {st.get('commands_deferred')}; xruns {st.get('xruns')}",
              flush=True)
        check(accounted == sent, "every datagram sent is read or counted as dropped",
              f"sent {sent}, read + kernel-dropped {accounted}")
        check(cs.proc.poll() is None, "csjack is still running after the flood")

        # A second csjack on the same port: one line, status 12.
        second = subprocess.run([args.csjack, "--no-connect", "-n", f"csjack_udp2_{os.getpid()}",
                                 "--port", str(port), os.path.join(args.data, "udp_live.orc")],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=60)
        err_lines = [l for l in second.stderr.splitlines() if l.strip()]
        check(second.returncode == 12 and len(err_lines) == 1 and "cannot listen" in err_lines[0],
              "a port in use is one line and exit status 12",
              f"status {second.returncode}: {second.stderr.strip()}")

        # --listen 0.0.0.0: every interface, with a warning.
        other = free_port()
        wide = Csjack([args.csjack, "--no-connect", "-n", f"csjack_wide{os.getpid()}",
                       "--listen", "0.0.0.0", "--port", str(other),
                       os.path.join(args.data, "udp_live.orc")])
        try:
            up = wide.wait_for("UDP server")
            where = proc_net_udp_listeners(other)
            warned = "warning: listening on 0.0.0.0" in wide.stderr()
            check(up and warned and where == [("/proc/net/udp", "00000000")],
                  "--listen 0.0.0.0 binds every interface and warns",
                  f"{where}; warned {warned}")
        finally:
            wide.stop()

        # !!close!! ends the performance; csjack exits 0.
        dropped_cycles = cs.stats().get("dropped_cycles", 0)
        send(b"!!close!!")
        status = cs.finish(20)
        err = cs.stderr()
        check(status == 0 and "ending the performance" in err,
              "!!close!! ends the performance, exit status 0", f"status {status}")
        summary = [l for l in err.splitlines() if l.startswith("csjack: stopped")]
        check(bool(summary) and "UDP datagrams" in summary[-1], "the exit summary counts datagrams",
              summary[-1] if summary else err[-500:])
        if summary:
            print("  " + summary[-1], flush=True)

        # The music never stopped: no silent cycle in the recording other
        # than those csjack reports as dropped (a direct call's).
        rate, samples = read_wav(rec)
        runs = silent_runs(samples, rate // 2, 256)
        check(len(samples) > rate and runs <= dropped_cycles,
              "the sine plays through: no silent period in the recording",
              f"{len(samples)} frames, {runs} silent runs of 256 frames, "
              f"{dropped_cycles} cycles dropped by direct calls")
    finally:
        cs.stop()
        console.close()
        replies.close()


def test_csound_spelling(args, tmp):
    """Csound's own options in <CsOptions>, as a CSD written for csound-mode
    (csound --port=6000 --udp-console=127.0.0.1:6001) carries them."""
    print("csoptions: --port= and --udp-console= in <CsOptions>", flush=True)
    port, console_port = free_port(), free_port()
    console = udp_socket(console_port)
    csd = os.path.join(tmp, "live.csd")
    with open(csd, "w") as f:
        f.write("<CsoundSynthesizer>\n<CsOptions>\n"
                f"-odac --port={port} --udp-console=127.0.0.1:{console_port}\n"
                "</CsOptions>\n<CsInstruments>\nsr = 48000\nksmps = 32\nnchnls = 2\n"
                "0dbfs = 1\n</CsInstruments>\n<CsScore>\nf 0 3600\n</CsScore>\n"
                "</CsoundSynthesizer>\n")
    cs = Csjack([args.csjack, "--no-connect", "-n", f"csjack_csd{os.getpid()}", csd])
    try:
        up = cs.wait_for("UDP server")
        err = cs.stderr()
        check(up and f"'--port={port}' in <CsOptions>" in err,
              "--port= in <CsOptions> starts csjack's UDP server and says where it came from",
              "" if up else err[-1500:])
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.sendto(b"instr 1\n  out undefined_thing\nendin\n", ("127.0.0.1", port))
        msgs = b"".join(recv_all(console, 3.0))
        got = b"error:" in msgs and b"did not compile" in msgs
        check(got, "--udp-console= in <CsOptions> gets Csound's error",
              "" if got else msgs[:400].decode(errors="replace"))
        out.sendto(b"##close##", ("127.0.0.1", port))
        check(cs.finish(20) == 0, "##close## ends it, exit status 0")
    finally:
        cs.stop()
        console.close()


# ---- OSC ---------------------------------------------------------------------

def osc_message(address, *args):
    tags = ","
    payload = b""
    for a in args:
        if isinstance(a, float):
            tags += "f"
            payload += struct.pack(">f", a)
        elif isinstance(a, int):
            tags += "i"
            payload += struct.pack(">i", a)
        else:
            tags += "s"
            payload += osc_string(a)
    return osc_string(address) + osc_string(tags) + payload


def osc_bundle(unix_time, *messages):
    ntp = unix_time + 2208988800.0
    sec = int(ntp)
    frac = int((ntp - sec) * 4294967296.0) & 0xFFFFFFFF
    out = b"#bundle\0" + struct.pack(">II", sec, frac)
    for m in messages:
        out += struct.pack(">i", len(m)) + m
    return out


def impulses(samples, threshold=0.25):
    return [i for i, x in enumerate(samples) if abs(x) > threshold]


def test_osc(args, tmp):
    print("osc: liblo's oscsend, and bundles with timetags", flush=True)
    oscsend = shutil.which("oscsend")
    port = free_port()
    rec = os.path.join(tmp, "osc.wav")
    cs = Csjack([args.csjack, "--no-connect", "-n", f"csjack_osc{os.getpid()}",
                 "--osc-port", str(port), "--record", rec,
                 os.path.join(args.data, "osc_clicks.orc")])
    try:
        started = cs.wait_for("OSC server")
        if not check(started, "csjack starts with --osc-port",
                     "" if started else cs.stderr()[-2000:]):
            return
        where = proc_net_udp_listeners(port)
        check(where == [("/proc/net/udp", "0100007F")], "OSC listens on 127.0.0.1 only",
              str(where))

        def oscsend_run(*argv):
            r = subprocess.run([oscsend, "127.0.0.1", str(port)] + list(argv),
                               capture_output=True, text=True, timeout=20)
            return r.returncode

        oscsend_run("/csound/compile", "s",
                    "instr 21\n  chnset p4, \"ran21\"\nendin\ngiOsc = 21\n")
        cs.wait_stat("udp_compiled", 1)
        reply = cs.ask(":eval return giOsc")
        if not check(reply == "ok eval 21", "oscsend /csound/compile s compiles", reply):
            print(cs.stderr()[-3000:])
        oscsend_run("/csound/event/instr", "ifff", "21", "0", "0.1", "3")
        time.sleep(0.3)
        reply = cs.ask(":chn ran21")
        check(reply == "ok chn ran21 3", "oscsend /csound/event/instr ifff plays p1 p2 p3 p4",
              reply)
        oscsend_run("/csound/event", "s", "i 21 0 0.1 4")
        time.sleep(0.3)
        reply = cs.ask(":chn ran21")
        check(reply == "ok chn ran21 4", "oscsend /csound/event s plays a score line", reply)
        oscsend_run("/csound/event", "s", "i 21 0 0.1 9 /* p4 */ // a comment")
        time.sleep(0.3)
        reply = cs.ask(":chn ran21")
        check(reply == "ok chn ran21 9", "oscsend /csound/event s with comments plays", reply)
        oscsend_run("/csound/channel/gain", "f", "0.5")
        time.sleep(0.2)
        reply = cs.ask(":chn gain")
        check(reply == "ok chn gain 0.5", "oscsend /csound/channel/gain f sets the channel", reply)
        oscsend_run("/csound/channel/label", "s", "hello")
        time.sleep(0.2)
        reply = cs.ask(":schn label")
        check(reply == "ok schn label hello", "oscsend /csound/channel/label s sets the string",
              reply)

        # Two bundles, timetags 0.25 s apart, sent together: the clicks
        # must be 12000 frames apart in what csjack played.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        before = cs.stats()
        now = time.time()
        sock.sendto(osc_bundle(now + 0.5, osc_message("/csound/event/instr", 20.0, 0.0, 0.01)),
                    ("127.0.0.1", port))
        sock.sendto(osc_bundle(now + 0.75, osc_message("/csound/event/instr", 20.0, 0.0, 0.01)),
                    ("127.0.0.1", port))
        time.sleep(1.2)
        # A bundle whose time has passed: played at once, counted late.
        sock.sendto(osc_bundle(time.time() - 1.0,
                               osc_message("/csound/event/instr", 21.0, 0.0, 0.1, 9.0)),
                    ("127.0.0.1", port))
        time.sleep(0.3)
        reply = cs.ask(":chn ran21")
        after = cs.stats()
        check(reply == "ok chn ran21 9" and
              after.get("events_late", 0) - before.get("events_late", 0) == 1,
              "a bundle in the past plays at once and counts as late",
              f"{reply}; events_late {before.get('events_late')} -> {after.get('events_late')}")
        check(after.get("osc_timed", 0) - before.get("osc_timed", 0) == 3,
              "three events were placed at their timetags",
              f"osc_timed {before.get('osc_timed')} -> {after.get('osc_timed')}")

        # A channel message in a timed bundle waits for its time: sent
        # before an untimed one, it still acts after it.
        held0 = after.get("osc_held", 0)
        sock.sendto(osc_bundle(time.time() + 0.6, osc_message("/csound/channel/later", 1.0)),
                    ("127.0.0.1", port))
        sock.sendto(osc_message("/csound/channel/later", 2.0), ("127.0.0.1", port))
        cs.wait_stat("osc_held", held0 + 1)
        reply = None
        end = time.monotonic() + 20
        while time.monotonic() < end:
            reply = cs.ask(":chn later")
            if reply == "ok chn later 1":
                break
            time.sleep(0.1)
        check(reply == "ok chn later 1" and cs.stats().get("osc_held", 0) == held0 + 1,
              "a timed /csound/channel message is held until its time (after a later untimed one)",
              reply)
        after = cs.stats()

        # Garbage: counted, reported, nothing breaks.
        bad = [b"\xff\x00\x01\x02", osc_message("/csound/compile", 1),
               osc_message("/nowhere", "x"), b"#bundle\0\0\0\0\0\0\0\0\x01\0\0\0\x07",
               osc_message("/csound/event/instr", "one"), b"/csound/compile\0",
               # 13 h ahead: past the frame clock's reach (it would wrap
               # into the past and click at once): refused
               osc_bundle(time.time() + 13 * 3600,
                          osc_message("/csound/event/instr", 20.0, 0.0, 0.01))]
        m0 = after.get("osc_malformed", 0)
        for b in bad:
            sock.sendto(b, ("127.0.0.1", port))
        time.sleep(0.3)
        st = cs.stats()
        check(st.get("osc_malformed", 0) - m0 == len(bad),
              f"{len(bad)} malformed OSC packets are counted",
              f"{m0} -> {st.get('osc_malformed')}")
        check(cs.proc.poll() is None, "csjack is still running")
        cs.proc.send_signal(signal.SIGINT)
        status = cs.finish(20)
        check(status == 0, "csjack stops cleanly", f"status {status}")

        rate, samples = read_wav(rec)
        clicks = impulses(samples)
        # instr 20 clicks: the two timed ones (instr 21 is silent)
        if check(len(clicks) == 2, "the recording holds the two timed clicks", str(clicks[:10])):
            gap = clicks[1] - clicks[0]
            print(f"  timetags 0.25 s apart -> clicks {gap} frames apart "
                  f"(expected {rate // 4})", flush=True)
            check(abs(gap - rate // 4) <= 16, "the clicks are 0.25 s apart to within 16 frames",
                  f"{gap} frames")
    finally:
        cs.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csjack", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--only", choices=["udp", "csoptions", "osc"])
    args = ap.parse_args()
    for tool in ("jackd", "jack_lsp", "oscsend"):
        if not shutil.which(tool):
            print(f"test_udp.py: {tool} is missing: skipped")
            return 77
    jack = Jackd("csjudp")
    try:
        with tempfile.TemporaryDirectory(prefix="csjack-udp-") as tmp:
            if args.only in (None, "udp"):
                test_udp(args, tmp)
            if args.only in (None, "csoptions"):
                test_csound_spelling(args, tmp)
            answers = jack.alive() and jack.answers()
            if not check(answers, "the private jackd still answers",
                         "" if answers else jack.log_tail()):
                return 1
            if args.only in (None, "osc"):
                test_osc(args, tmp)
    finally:
        jack.stop()
    return report("test_udp.py")


if __name__ == "__main__":
    sys.exit(main())
