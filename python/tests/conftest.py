# SPDX-License-Identifier: LGPL-2.1-or-later
"""pytest fixtures: a private JACK server (dummy driver) for the whole run.

The server is started under a name of its own (never the user's server),
JACK_DEFAULT_SERVER points at it, and it is killed at the end whatever
happens. JACK_NO_START_SERVER keeps libjack from starting any other.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # python/: the csjack package

RATE = 48000
PERIOD = 256


def _server_up(name):
    if shutil.which("jack_wait"):
        r = subprocess.run(["jack_wait", "-s", name, "-c"], capture_output=True, text=True)
        return "running" in r.stdout and "not" not in r.stdout
    return False


def pytest_sessionstart(session):
    # meson test names the library under test: it must be the one loaded.
    wanted = os.environ.get("CSJACK_LIBRARY")
    if wanted:
        import csjack
        assert os.path.realpath(csjack.LIBRARY_PATH) == os.path.realpath(wanted), \
            f"CSJACK_LIBRARY={wanted} but {csjack.LIBRARY_PATH} was loaded"


@pytest.fixture(scope="session")
def jack_server():
    if not shutil.which("jackd"):
        pytest.skip("jackd is not installed")
    name = f"csjack-py-{os.getpid()}"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")
    proc = subprocess.Popen(
        ["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", str(RATE), "-p", str(PERIOD)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    old = {k: os.environ.get(k) for k in
           ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
    try:
        deadline = time.monotonic() + 10
        while not _server_up(name):
            if proc.poll() is not None:
                raise RuntimeError("jackd exited: " + proc.stderr.read().decode(errors="replace"))
            if time.monotonic() > deadline:
                raise RuntimeError("jackd did not come up within 10 s")
            time.sleep(0.05)
        yield name
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def server(jack_server):
    """The private server's name, for a test."""
    return jack_server
