# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Python tests share: their checks, a private jackd, csjack as a
process with its console on pipes, and OSC by hand.

Standard library only. The tests run as scripts from this folder, which is
then first on sys.path: `from csjack_process import ...`.
"""

import os
import queue
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

FAILURES = []


def check(cond, what, detail=""):
    """Prints one check; a failed one is kept in FAILURES. A passing check
    shows a short detail only (not a stderr tail)."""
    mark = "ok" if cond else "FAIL"
    shown = detail if detail and (not cond or ("\n" not in detail and len(detail) < 200)) else ""
    print(f"  {mark}: {what}" + (f" ({shown})" if shown else ""), flush=True)
    if not cond:
        FAILURES.append(what + (f": {detail}" if detail else ""))
    return cond


def report(name):
    """The end of a test script: its exit status (0 or 1) after a summary."""
    if FAILURES:
        print(f"{name}: {len(FAILURES)} check(s) failed:")
        for f in FAILURES:
            print("  - " + f)
        return 1
    print(f"{name}: all checks passed")
    return 0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Jackd:
    """A private jackd -d dummy under a name of its own, always stopped.
    Points JACK_DEFAULT_SERVER at it for this process and its children."""

    def __init__(self, prefix, rate=48000, period=256):
        self.name = f"{prefix}{os.getpid()}"
        self.rate = rate
        self.period = period
        self.log = tempfile.NamedTemporaryFile(prefix=f"csjack-{prefix}-jackd-", delete=False)
        self.start()

    def start(self):
        """Starts it (again, after kill(): the same name)."""
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        self.proc = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", self.name, "-d", "dummy", "-r", str(self.rate),
             "-p", str(self.period)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_START_SERVER"] = "1"
        os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
        if not self.answers():
            self.stop()
            raise RuntimeError("the private jackd did not start")

    def alive(self):
        return self.proc.poll() is None

    def answers(self):
        for _ in range(100):
            if self.proc.poll() is not None:
                return False
            if subprocess.run(["jack_lsp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def log_tail(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()[-3000:]

    def kill(self):
        """SIGKILL: the server dies as a crashed one does."""
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        try:
            os.unlink(self.log.name)
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def jack_clients():
    """The clients that have ports on the private server."""
    out = subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout
    return {line.split(":", 1)[0] for line in out.splitlines() if ":" in line}


class Csjack:
    """A csjack process: its console on pipes, stderr into a file."""

    def __init__(self, args, env=None, cwd=None, prefix="csjack"):
        self.err = tempfile.NamedTemporaryFile(prefix=f"{prefix}-", suffix=".err", delete=False)
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, bufsize=1, cwd=cwd,
                                     env=dict(os.environ, **(env or {})))
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def ask(self, command, timeout=20.0):
        """One console line, its reply line (None if none came)."""
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            print(f"  csjack is gone (status {self.proc.poll()}); its stderr ends:\n"
                  + self.stderr()[-3000:], flush=True)
            return None
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def stats(self):
        """:stats as a dict (numbers as int)."""
        reply = self.ask(":stats") or ""
        out = {}
        for pair in reply.split()[2:]:
            k, _, v = pair.partition("=")
            out[k] = int(v) if v.lstrip("-").isdigit() else v
        return out

    def wait_stat(self, key, at_least, timeout=20.0):
        """Polls :stats until @key reaches @at_least; its last value."""
        end = time.monotonic() + timeout
        value = None
        while time.monotonic() < end:
            value = self.stats().get(key, 0)
            if value >= at_least:
                break
            time.sleep(0.05)
        return value

    def stderr(self):
        with open(self.err.name, errors="replace") as f:
            return f.read()

    def tail(self):
        return self.stderr()[-2500:]

    def wait_for(self, marker, timeout=30.0):
        """Until @marker is in its stderr; false if it never came (or
        csjack ended without it)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if marker in self.stderr():
                return True
            if self.proc.poll() is not None:
                return marker in self.stderr()
            time.sleep(0.05)
        return False

    def finish(self, timeout=20.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def terminate_timed(self):
        """SIGTERM, as a session manager quits a client: the status and
        the seconds until the process was gone."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        status = self.finish(20)
        return status, time.monotonic() - t0

    def stop(self):
        """SIGINT (a clean stop), then its files go."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.finish(10)
        self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.unlink(self.err.name)
        except OSError:
            pass


def osc_string(s):
    b = s.encode()
    return b + b"\0" * (4 - len(b) % 4)
