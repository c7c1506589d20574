#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Null test: csjack's freewheeled recording against csound's own render.

For every example CSD (Debian's csound-doc, /usr/share/doc/csound-doc/html/
examples, gzipped ones unpacked into a temporary copy, as run_corpus.py does):

  reference  csound -d -m0 -W -f -+rtaudio=null -+rtmidi=null
                 --sample-accurate -o ref.wav FILE
             (--sample-accurate because csjack always runs Csound so;
             --plain-reference leaves it out, --probe-plain renders a third
             time without it and records whether that differs). Twice, each
             in a fresh working directory that holds the unpacked examples
             (hard links; a file an example changed through its link is put
             back), the second at least a second after the first (seeds taken
             from time(NULL)). Renders that differ: 'not-deterministic'. A
             render that fails, writes no audio, runs longer than 30 s or
             writes more than 60 s of audio is 'skipped'; so is an example
             with FLTK widget opcodes (no display here), network opcodes, or
             a sound file as its audio input (-i FILE). -iadc and MIDI device
             options are not skipped: csound gets the null modules (silence,
             no MIDI), csjack leaves them out and its unconnected ports give
             the same (-iadc makes csound render at the pace of real time).
             sr and the channel count come from the reference's header,
             ksmps from csound's 'sr = ..., ksmps = N' line.
  csjack     a private 'jackd --no-realtime -n NAME -d dummy -r SR -p PERIOD'
             (PERIOD 1024 when ksmps divides it, else the first multiple of
             ksmps from 512; 'NAME period=N' in a --list file or --period
             sets it, e.g. to have csjack add latency), then
               JACK_DEFAULT_SERVER=NAME csjack --no-connect --freewheel \\
                   --record OUT.wav FILE </dev/null
             until it exits by itself at the end of the score.
             '--freewheel-by jack_freewheel' runs csjack without --freewheel
             and 'jack_freewheel y' once csjack says 'playing as JACK client'
             ('jack_freewheel n' after it exits): with jackd2 1.9.21 that
             client's freewheel notification times out and can leave the
             server refusing clients, so it is a fallback only;
             '--freewheel-by none' plays in real time.
  compare    csjack's recording (24-bit) starts with L frames of csjack's
             added latency (L from its 'playing as JACK client ... added
             latency L frames' line). identical: csjack[0:L] is silence,
             csjack[L:L+N] equals ref[0:N] within 1.5/2^23 a sample (N = the
             reference's frames; the reference is clipped to [-1, 1] first,
             as a 24-bit file clips), and whatever follows L+N is silence
             too. Anything else is 'differs', with the first and last
             differing frame, the largest difference, the frame counts and
             an offset probe (does the recording match the reference shifted
             by some frames?); a reference that holds inf or NaN differs.

Statuses: identical, differs, csjack-failed (exit status other than 0, no
recording, no exit in time), not-deterministic, skipped. The last line
printed is 'N identical, M differ, K skipped' (M counts differs and
csjack-failed, K not-deterministic and skipped); the exit status is 1 when M
> 0, 77 when the examples, csound, jackd or jack_lsp are missing, 2 when
csjack has no --freewheel (and --freewheel-by csjack), 130 when interrupted,
0 otherwise. Every jackd started here is stopped at the end, also on Ctrl-C,
SIGTERM or an exception (JACK's registry holds 8 servers); registry entries
and /dev/shm files of csjnull servers of dead runs are freed at the start.

Python 3 standard library only.
"""

import argparse
import array
import collections
import concurrent.futures
import datetime
import itertools
import json
import math
import operator
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_corpus import (DEFAULT_EXAMPLES, DISPLAY_OPCODES,  # noqa: E402
                        NETWORK_OPCODES, options_text, orchestra_code,
                        section, strip_ansi, unpack_examples, unpack_one)

TOL = 1.5 / 2 ** 23            # one 24-bit step and a half
SILENCE = TOL                  # what counts as silence before and after
SEED_SECONDS = 1.05            # the second render starts this long after the first
REF_TIMEOUT = 30.0             # wall time for one reference render
MAX_AUDIO_S = 60.0             # longer references are skipped
JACKD_TIMEOUT = 20.0           # until jack_lsp answers
JACKD_FAILURES_MAX = 3         # jackds that would not start before the run stops
MAX_PERIOD = 8192              # JACK's largest buffer size
TAIL = 12                      # stderr lines kept for a failure

STATUSES = ['identical', 'differs', 'csjack-failed', 'not-deterministic',
            'skipped']

# Audio input from a sound file (-i FILE): csjack's input is its JACK ports,
# so the two cannot agree. Real-time input (-iadc) and MIDI devices (-M0,
# -Q1, -+rtmidi=...) are not skipped: csound gets the null modules here
# (silence, no MIDI), csjack leaves those options out and its unconnected
# ports give the same.
FILE_INPUT = re.compile(r'(^|\s)(-i\s*(?!adc|dac)[^\s-]\S*|--input=(?!adc|dac)\S+)')
REALTIME_INPUT = re.compile(r'(^|\s)(-i\s*adc|--input=adc)')
KSMPS_LINE = re.compile(r'sr = ([0-9.]+),\s*kr = ([0-9.]+),\s*ksmps = (\d+)')
PLAYING_LINE = re.compile(r'playing as JACK client .*?period (\d+), ksmps (\d+)'
                          r'.*?added latency (\d+) frames')


def now():
    return time.monotonic()


# ------------------------------------------------------------------ WAV --

class WavError(Exception):
    pass


class Wav:
    """A WAV, RF64 or BW64 file's format and samples (read whole)."""

    def __init__(self, path):
        with open(path, 'rb') as f:
            d = f.read()
        if len(d) < 12 or d[8:12] != b'WAVE' or d[0:4] not in (b'RIFF', b'RF64', b'BW64'):
            raise WavError('%s: not a WAV file (%r)' % (path, d[:12]))
        pos = 12
        fmt = None
        data = None
        ds64_data = None
        while pos + 8 <= len(d):
            cid = d[pos:pos + 4]
            size = struct.unpack_from('<I', d, pos + 4)[0]
            body = pos + 8
            if cid == b'ds64' and size >= 24:
                ds64_data = struct.unpack_from('<QQQ', d, body)[1]
            elif cid == b'fmt ' and size >= 16:
                fmt = d[body:body + size]
            elif cid == b'data':
                if size == 0xFFFFFFFF and ds64_data is not None:
                    size = ds64_data
                size = min(size, len(d) - body)   # a file cut short
                data = (body, size)
                break
            pos = body + size + (size & 1)
        if fmt is None or data is None:
            raise WavError('%s: no fmt or data chunk' % path)
        tag, ch, rate, _byterate, align, bits = struct.unpack_from('<HHIIHH', fmt)
        if tag == 0xFFFE:                          # WAVE_FORMAT_EXTENSIBLE
            if len(fmt) < 40:
                raise WavError('%s: short extensible fmt chunk' % path)
            tag = struct.unpack_from('<H', fmt, 24)[0]   # the GUID's first word
        if ch < 1 or align < ch or align % ch:
            raise WavError('%s: bad fmt (channels %d, block %d)' % (path, ch, align))
        width = align // ch
        if (tag, width) not in ((1, 2), (1, 3), (1, 4), (3, 4), (3, 8)):
            raise WavError('%s: format tag %d, %d bytes a sample: not read'
                           % (path, tag, width))
        self.path = path
        self.rate = rate
        self.channels = ch
        self.float = tag == 3
        self.width = width
        self.bits = bits
        self.frames = data[1] // align
        off = data[0]
        self.raw = d[off:off + self.frames * align]

    def samples(self):
        """Interleaved samples as an array('d') scaled to [-1, 1]."""
        raw = self.raw
        if self.float:
            a = array.array('f' if self.width == 4 else 'd')
            a.frombytes(raw)
            if sys.byteorder == 'big':
                a.byteswap()
            return a if a.typecode == 'd' else array.array('d', a)
        if self.width == 3:                  # 24-bit: widen to 32, low byte 0
            n = len(raw) // 3
            wide = bytearray(4 * n)
            wide[1::4] = raw[0::3]
            wide[2::4] = raw[1::3]
            wide[3::4] = raw[2::3]
            raw = bytes(wide)
            scale = 1.0 / 2 ** 31
            code = 'i'
        elif self.width == 2:
            scale, code = 1.0 / 2 ** 15, 'h'
        else:
            scale, code = 1.0 / 2 ** 31, 'i'
        a = array.array(code)
        a.frombytes(raw)
        if sys.byteorder == 'big':
            a.byteswap()
        return array.array('d', map(operator.mul, a, itertools.repeat(scale)))


def first_diff_byte(a, b):
    n = min(len(a), len(b))
    step = 1 << 16
    lo = 0
    while lo < n and a[lo:lo + step] == b[lo:lo + step]:
        lo += step
    for k in range(lo, min(lo + step, n)):
        if a[k] != b[k]:
            return k
    return n


def wav_difference(w1, w2):
    """None when two renders hold the same samples, else where they part."""
    if (w1.channels, w1.rate, w1.float, w1.width) != (w2.channels, w2.rate, w2.float, w2.width):
        return 'in format'
    if w1.raw == w2.raw:
        return None
    i = first_diff_byte(w1.raw, w2.raw)
    return 'from frame %d (frames %d and %d)' % (i // (w1.width * w1.channels),
                                                 w1.frames, w2.frames)


def peak(a):
    return max(map(abs, a), default=0.0)


def max_diff(a, b):
    return max(map(abs, map(operator.sub, a, b)), default=0.0)


def count_diff(a, b, tol):
    return sum(map(operator.gt, map(abs, map(operator.sub, a, b)),
                   itertools.repeat(tol)))


def first_over(a, tol, ch):
    """First frame of interleaved A holding a sample beyond TOL, or None."""
    for i, v in enumerate(a):
        if v > tol or v < -tol:
            return i // ch
    return None


def diff_positions(a, b, tol, ch):
    """(first frame, its channel, last frame) where A and B differ by more
    than TOL, or None."""
    first = None
    for i, (x, y) in enumerate(zip(a, b)):
        if abs(x - y) > tol:
            first = i
            break
    if first is None:
        return None
    last = first
    for i in range(min(len(a), len(b)) - 1, first - 1, -1):
        if abs(a[i] - b[i]) > tol:
            last = i
            break
    return first // ch, first % ch, last // ch


def compare(ref, cs, latency, period):
    """The comparison record for two Wav objects."""
    res = {'ref_frames': ref.frames, 'csjack_frames': cs.frames,
           'latency': latency}
    problems = []
    if cs.rate != ref.rate:
        problems.append('rate %d, reference %d' % (cs.rate, ref.rate))
    if cs.channels != ref.channels:
        problems.append('%d channels, reference %d' % (cs.channels, ref.channels))
        res.update(status='differs', reason='; '.join(problems))
        return res
    ch = ref.channels
    r = ref.samples()
    c = cs.samples()
    n = ref.frames
    nonfinite = len(r) - sum(map(math.isfinite, r))
    if nonfinite:
        # inf or NaN (a filter that blew up): a 24-bit file cannot hold them
        res['ref_nonfinite_samples'] = nonfinite
        problems.append('the reference holds %d samples that are inf or NaN'
                        % nonfinite)
        r = array.array('d', (v if math.isfinite(v) else 0.0 for v in r))
    ref_peak = peak(r)
    res['ref_peak'] = round(ref_peak, 6)
    res['silent'] = ref_peak == 0.0
    if ref_peak > 1.0:
        res['ref_clipped_samples'] = sum(map(operator.gt, map(abs, r),
                                             itertools.repeat(1.0)))
        r = array.array('d', map(min, map(max, r, itertools.repeat(-1.0)),
                                 itertools.repeat(1.0)))
    head = c[:latency * ch]
    body = c[latency * ch:(latency + n) * ch]
    tail = c[(latency + n) * ch:]
    res['tail_frames'] = len(tail) // ch
    if res['tail_frames'] > period:       # more than the last cycle's rest
        res['tail_over_period'] = True
    head_peak = peak(head)
    tail_peak = peak(tail)
    res['csjack_peak'] = round(peak(c), 6)
    if head_peak > SILENCE:
        problems.append('the %d latency frames are not silent (peak %.3g)'
                        % (latency, head_peak))
    body_n = len(body) // ch
    if body_n < n:
        problems.append('short: %d frames from frame %d, reference %d (%d missing)'
                        % (body_n, latency, n, n - body_n))
    md = max_diff(body, r)
    res['max_diff'] = md
    res['max_diff_lsb24'] = round(md * 2 ** 23, 2)
    if md > TOL:
        res['diff_samples'] = count_diff(body, r, TOL)
        pos = diff_positions(body, r, TOL, ch)
        res['first_diff_frame'], res['first_diff_channel'], res['last_diff_frame'] = pos
        f = pos[0] * ch + pos[1]
        problems.append('differs from frame %d (channel %d) to %d, %d samples, '
                        'max diff %.3g (%.1f 24-bit steps); at the first: '
                        'csjack %.6g, reference %.6g'
                        % (pos[0], pos[1] + 1, pos[2], res['diff_samples'], md,
                           md * 2 ** 23, body[f], r[f]))
    if tail_peak > SILENCE:
        tf = first_over(tail, SILENCE, ch)
        problems.append('not silent after the reference ends: peak %.3g from '
                        'frame %d' % (tail_peak, latency + n + tf))
    if not problems:
        res['status'] = 'identical'
        res['reason'] = ''
        return res
    # Diagnostics: does the recording match the reference shifted?
    i0 = first_over(r, 1e-4, ch)
    j0 = first_over(c, 1e-4, ch)
    if i0 is not None and j0 is not None:
        shift = j0 - i0               # csjack frame of reference frame 0
        res['onset_shift'] = shift - latency
        if shift != latency:
            a0 = max(shift, 0)
            b0 = a0 - shift
            m = min(cs.frames - a0, n - b0)
            if m > 0:
                d2 = max_diff(c[a0 * ch:(a0 + m) * ch], r[b0 * ch:(b0 + m) * ch])
                problems.append('onset %+d frames from where it should be; shifted '
                                'so, %s (max diff %.3g over %d frames)'
                                % (shift - latency,
                                   'it matches' if d2 <= TOL else 'it still differs',
                                   d2, m))
    if ref_peak > 0:
        res['gain'] = round(res['csjack_peak'] / ref_peak, 6)
    res['status'] = 'differs'
    res['reason'] = '; '.join(problems)
    return res


# ------------------------------------------------------------ processes --

class Procs:
    """Every child and jackd we started, so that the end stops what is left."""

    def __init__(self):
        self.lock = threading.Lock()
        self.children = set()
        self.servers = {}
        self.seq = itertools.count()

    def add(self, p):
        with self.lock:
            self.children.add(p)

    def remove(self, p):
        with self.lock:
            self.children.discard(p)

    def kill_children(self):
        """SIGTERM first (csjack then turns freewheel off and leaves its
        server cleanly), SIGKILL to what is left after 3 s."""
        with self.lock:
            procs = list(self.children)
        for p in procs:
            kill_group(p, signal.SIGTERM)
        deadline = now() + 3
        for p in procs:
            try:
                p.wait(max(0.0, deadline - now()))
            except subprocess.TimeoutExpired:
                pass
            kill_group(p)

    def stop_servers(self):
        with self.lock:
            servers = list(self.servers.values())
        for s in servers:
            s.stop()


PROCS = Procs()
STOP = threading.Event()      # set on Ctrl-C/SIGTERM: start nothing more


class Stopped(Exception):
    pass


def check_stop():
    if STOP.is_set():
        raise Stopped()


def kill_group(p, sig=signal.SIGKILL):
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass


def run_child(argv, cwd, env, timeout, stdout=None, watch=None):
    """Run ARGV in its own process group with stdin /dev/null; stderr (and
    stdout unless given) collected. WATCH(proc) is called every 0.1 s and
    may return a reason to kill it. Returns (rc or None, output text,
    elapsed s, reason it was killed or None)."""
    check_stop()
    out = tempfile.TemporaryFile()
    t0 = now()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=stdout or out, stderr=out,
                         start_new_session=True)
    PROCS.add(p)
    killed = None
    try:
        while True:
            try:
                p.wait(0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            if now() - t0 > timeout:
                killed = 'timeout'
            elif watch:
                killed = watch(p)
            if killed:
                kill_group(p)
                p.wait()
                break
    finally:
        kill_group(p)              # what it forked
        PROCS.remove(p)
    elapsed = now() - t0
    out.seek(0)
    text = strip_ansi(out.read().decode('utf-8', 'replace'))
    out.close()
    return p.returncode, text, elapsed, killed


class Server:
    """A private jackd: -d dummy -r RATE -p PERIOD."""

    def __init__(self, rate, period, env, logdir):
        self.rate = rate
        self.period = period
        self.name = 'csjnull-%d-%d' % (os.getpid(), next(PROCS.seq))
        self.env = dict(env, JACK_DEFAULT_SERVER=self.name)
        self.log_path = os.path.join(logdir, self.name + '.log')
        self.p = None
        self.start()

    def start(self):
        argv = ['jackd', '--no-realtime', '-n', self.name, '-d', 'dummy',
                '-r', str(self.rate), '-p', str(self.period)]
        for attempt in range(3):
            check_stop()
            with open(self.log_path, 'a') as log:
                self.p = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
            with PROCS.lock:
                PROCS.servers[self.name] = self
            deadline = now() + JACKD_TIMEOUT
            while now() < deadline and self.p.poll() is None:
                if jack_answers(self.env):
                    return
                time.sleep(0.2)
            self.stop()
            time.sleep(1 + 2 * attempt)
        raise RuntimeError('could not start %s (see %s)' % (' '.join(argv), self.log_path))

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def stop(self):
        p = self.p
        killed = False
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
                killed = True
        with PROCS.lock:
            PROCS.servers.pop(self.name, None)
        if killed:
            reclaim(self.name, self.env)


def reclaim(name, env):
    """Free the JACK registry entry of a jackd that was SIGKILLed: JACK
    reclaims a dead entry only when a server of the same name starts, so
    one is started and stopped cleanly (as tests/jack_harness.c does)."""
    env = dict(env, JACK_DEFAULT_SERVER=name)
    p = subprocess.Popen(['jackd', '--no-realtime', '-n', name, '-d', 'dummy'],
                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = now() + 10
        while now() < deadline and p.poll() is None and not jack_answers(env):
            time.sleep(0.2)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
                print('null_test: warning: JACK registry entry of %s not freed' % name,
                      file=sys.stderr)


def reclaim_stale_servers(env):
    """Registry entries of csjnull servers whose null_test process is gone."""
    try:
        with open('/dev/shm/jack-shm-registry', 'rb') as f:
            reg = f.read()
    except OSError:
        return
    pat = re.compile(rb'jack-%d:(csjnull-(\d+)-\d+):' % os.getuid())
    for m in pat.finditer(reg):
        pid = int(m.group(2))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        name = m.group(1).decode()
        print('null_test: freeing the JACK registry entry of dead server %s' % name,
              file=sys.stderr)
        reclaim(name, env)
    # Semaphores and segments that servers of dead runs left in /dev/shm.
    try:
        files = os.listdir('/dev/shm')
    except OSError:
        files = []
    for f in files:
        m = re.match(r'jack(?:_sem\.%d)?_csjnull-(\d+)-\d+_' % os.getuid(), f)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        try:
            os.unlink(os.path.join('/dev/shm', f))
        except OSError:
            pass


def jack_answers(env):
    try:
        r = subprocess.run(['jack_lsp'], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        return r.returncode == 0 and b'system:' in r.stdout
    except subprocess.TimeoutExpired:
        return False


def jack_freewheel(env, on):
    try:
        r = subprocess.run(['jack_freewheel', 'y' if on else 'n'], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        return r.returncode == 0
    except subprocess.TimeoutExpired:
        return False


# ---------------------------------------------------------------- a run --

class Runner:
    def __init__(self, args, shared, env):
        self.args = args
        self.shared = shared
        self.env = env
        self.snapshot = {}
        self.snap_lock = threading.Lock()
        for root, _dirs, names in os.walk(shared):
            for n in names:
                rel = os.path.relpath(os.path.join(root, n), shared)
                st = os.stat(os.path.join(shared, rel))
                self.snapshot[rel] = (st.st_size, st.st_mtime_ns)
        self.workseq = itertools.count()
        self.jackd_failures = 0

    def make_workdir(self):
        work = os.path.join(self.args.tmp, 'work', '%06d' % next(self.workseq))
        with self.snap_lock:
            rels = list(self.snapshot)
        for rel in rels:
            dst = os.path.join(work, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.link(os.path.join(self.shared, rel), dst)
        return work

    def drop_workdir(self, work):
        shutil.rmtree(work, ignore_errors=True)
        with self.snap_lock:
            for rel, (size, mtime) in list(self.snapshot.items()):
                path = os.path.join(self.shared, rel)
                try:
                    st = os.stat(path)
                    if (st.st_size, st.st_mtime_ns) == (size, mtime):
                        continue
                except FileNotFoundError:
                    pass
                unpack_one(self.args.examples, rel, self.shared)
                st = os.stat(path)
                self.snapshot[rel] = (st.st_size, st.st_mtime_ns)

    def out_path(self, name, what, period=None):
        tag = '.p%d' % period if period else ''
        return os.path.join(self.args.tmp, 'out',
                            name.replace('/', '_') + tag + '.' + what + '.wav')

    # -- step 1: csound's own render, twice --
    def render_reference(self, name, what, plain=False, period=None):
        out = self.out_path(name, what, period)
        try:
            os.unlink(out)
        except FileNotFoundError:
            pass
        argv = ['csound', '-d', '-m0', '-W', '-f', '-+rtaudio=null',
                '-+rtmidi=null']
        if not (plain or self.args.plain_reference):
            argv.append('--sample-accurate')    # as csjack always runs Csound
        argv += ['-o', out, name]
        limit = [None]

        def watch(p):
            # More than MAX_AUDIO_S of audio: the header tells the rate.
            try:
                size = os.path.getsize(out)
                if limit[0] is None and size >= 44:
                    with open(out, 'rb') as f:
                        h = f.read(4096)
                    i = h.find(b'fmt ')
                    if i >= 0:
                        rate, _br, align = struct.unpack_from('<IIH', h, i + 12)
                        limit[0] = 4096 + rate * align * MAX_AUDIO_S
                if limit[0] is not None and size > limit[0]:
                    return 'longer than %g s of audio' % MAX_AUDIO_S
            except (OSError, struct.error):
                pass
            return None

        work = self.make_workdir()
        try:
            rc, text, elapsed, killed = run_child(argv, work, self.env, REF_TIMEOUT,
                                                  watch=watch)
        finally:
            self.drop_workdir(work)
        res = {'rc': rc, 'elapsed_s': round(elapsed, 2), 'path': out}
        m = KSMPS_LINE.search(text)
        if m:
            res['ksmps'] = int(m.group(3))
        lines = [l for l in text.splitlines() if l.strip()]
        if killed == 'timeout':
            res['skip'] = 'csound takes longer than %g s' % REF_TIMEOUT
        elif killed:
            res['skip'] = killed
        elif rc != 0:
            errs = ([l for l in lines
                     if re.search(r'Segmentation fault|Aborted|ERROR|error:', l)] or
                    [l for l in lines if re.search(r'error|fail|cannot|not found', l, re.I)
                     and not re.search(r'\b0 errors in performance', l)])
            res['skip'] = 'csound exit %s%s' % (rc, (': ' + errs[0].strip()[:160]) if errs else '')
        else:
            try:
                w = Wav(out)
                res['wav'] = w
                if w.frames == 0:
                    res['skip'] = 'csound wrote no audio'
                elif w.frames > w.rate * MAX_AUDIO_S:
                    res['skip'] = 'longer than %g s of audio' % MAX_AUDIO_S
            except (OSError, WavError) as e:
                res['skip'] = 'no reference WAV: %s' % e
        if 'skip' in res:
            res['tail'] = lines[-TAIL:]
        return res

    def reference(self, name, period=None):
        """The reference record; 'wav' holds the first render's Wav."""
        path = os.path.join(self.shared, name)
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8', 'surrogateescape')
        code = orchestra_code(section(text, 'CsInstruments') or '')
        opts = options_text(text)
        if DISPLAY_OPCODES.search(code):
            return {'skip': 'needs a display (FLTK widget opcodes)'}
        if NETWORK_OPCODES.search(code):
            return {'skip': 'needs the network (%s)' % NETWORK_OPCODES.search(code).group(0)}
        m = FILE_INPUT.search(opts)
        if m:
            return {'skip': 'reads a sound file as its input: CsOptions %s'
                            % m.group(2).strip()}
        paced = bool(REALTIME_INPUT.search(opts))
        t_first = time.time()
        first = self.render_reference(name, 'ref1', period=period)
        if 'skip' in first:
            if paced and first['skip'].startswith('csound takes longer'):
                first['skip'] += (' (it runs in real time: CsOptions -iadc, and '
                                  "csound's null audio input waits for each buffer)")
            return first
        # The second render (and the plain one): at once when the first ran
        # at the pace of real time, since such renders only wait.
        w1 = first['wav']
        paced = first['elapsed_s'] > 1.0 and first['elapsed_s'] > 0.5 * w1.frames / w1.rate
        # Seeds taken from time(NULL) (lfsr without a seed, ...) repeat
        # within a second: the second render starts a second after the first.
        wait = t_first + SEED_SECONDS - time.time()
        if wait > 0:
            time.sleep(wait)
        todo = [('ref2', False, period)]
        if self.args.probe_plain:
            todo.append(('plain', True, period))
        if paced and len(todo) > 1:
            with concurrent.futures.ThreadPoolExecutor(len(todo)) as ex:
                got = list(ex.map(lambda t: self.render_reference(name, *t), todo))
        else:
            got = [self.render_reference(name, *t) for t in todo]
        second = got[0]
        ref = dict(first)
        ref['elapsed2_s'] = second['elapsed_s']
        if 'skip' in second:
            ref['skip'] = 'second render: ' + second['skip']
        else:
            why = wav_difference(w1, second['wav'])
            if why:
                ref['nondeterministic'] = 'the two renders differ ' + why
        if self.args.probe_plain and 'skip' not in ref and 'nondeterministic' not in ref:
            # Does plain csound (without --sample-accurate) render the same?
            plain = got[1]
            if 'skip' in plain:
                ref['plain'] = 'fails: ' + plain['skip']
            else:
                why = wav_difference(w1, plain['wav'])
                ref['plain'] = ('differs ' + why) if why else 'same'
        for r in got:        # the second render is kept only to show a difference
            if not (self.args.keep and 'nondeterministic' in ref and r is second):
                try:
                    os.unlink(r['path'])
                except OSError:
                    pass
        return ref

    def choose_period(self, ksmps, rate):
        """A multiple of ksmps (so that csjack adds no latency): 1024 when
        ksmps divides it, else the first multiple from 512, within JACK's
        largest period and an eighth of a second (jackd -d dummy at sr 100
        with period 1024 would not answer a client in time)."""
        if self.args.period:
            return self.args.period
        cap = min(MAX_PERIOD, max(16, rate // 8))
        k = ksmps or 1
        if k > cap:
            return k if k <= MAX_PERIOD else min(1024, cap)
        if 1024 <= cap and 1024 % k == 0:
            return 1024
        period = k * -(-min(512, cap) // k)       # the first multiple >= 512
        while period > cap:
            period -= k
        return period

    # -- step 2: csjack on a private server --
    def render_csjack(self, name, server, period=None):
        out = self.out_path(name, 'csjack', period)
        try:
            os.unlink(out)
        except FileNotFoundError:
            pass
        argv = [self.args.csjack, '--no-connect']
        if self.args.freewheel_by == 'csjack':
            argv.append('--freewheel')
        argv += ['--record', out, name]
        env = server.env
        res = {'path': out, 'server': server.name}
        work = self.make_workdir()
        errbuf = tempfile.TemporaryFile()
        check_stop()
        t0 = now()
        p = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             start_new_session=True)
        PROCS.add(p)
        playing = threading.Event()
        info = {}

        def read_err():
            for raw in p.stderr:
                errbuf.write(raw)
                line = strip_ansi(raw.decode('utf-8', 'replace'))
                if 'playing as JACK client' in line and 'playing_at' not in info:
                    info['playing_at'] = now()
                    info['playing_line'] = line.strip()
                    playing.set()
            playing.set()

        reader = threading.Thread(target=read_err, daemon=True)
        reader.start()
        timeout = self.args.csjack_timeout
        fw_on = False
        killed = None
        try:
            if self.args.freewheel_by == 'jack_freewheel':
                playing.wait(timeout)
                if 'playing_at' in info and p.poll() is None:
                    fw_on = jack_freewheel(env, True)
                    res['jack_freewheel_y'] = fw_on
            deadline = t0 + timeout
            while p.poll() is None:
                if now() > deadline:
                    killed = 'no exit within %g s' % timeout
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        kill_group(p)
                        p.wait()
                    break
                try:
                    p.wait(0.05)
                except subprocess.TimeoutExpired:
                    pass
            t_end = now()
        finally:
            kill_group(p)
            PROCS.remove(p)
            if fw_on or self.args.freewheel_by == 'jack_freewheel':
                jack_freewheel(env, False)
            reader.join(5)
            try:
                p.stderr.close()
            except OSError:
                pass
            self.drop_workdir(work)
        errbuf.seek(0)
        text = strip_ansi(errbuf.read().decode('utf-8', 'replace'))
        errbuf.close()
        lines = [l for l in text.splitlines() if l.strip()]
        res['rc'] = p.returncode
        res['elapsed_s'] = round(t_end - t0, 3)
        if 'playing_at' in info:
            res['play_s'] = round(t_end - info['playing_at'], 3)
            res['playing_line'] = info['playing_line']
            m = PLAYING_LINE.search(info['playing_line'])
            if m:
                res['period'] = int(m.group(1))
                res['ksmps'] = int(m.group(2))
                res['latency'] = int(m.group(3))
        summary = [l for l in lines if l.startswith('csjack: ') and 'cycles' in l
                   and 'xruns' in l]
        if summary:
            res['summary_line'] = summary[-1].strip()
        if killed:
            res['failed'] = killed
        elif p.returncode != 0:
            res['failed'] = 'exit %s' % p.returncode
        elif 'latency' not in res:
            res['failed'] = "no 'playing as JACK client ... added latency' line"
        else:
            try:
                res['wav'] = Wav(out)
            except (OSError, WavError) as e:
                res['failed'] = 'no recording: %s' % e
        if 'failed' in res:
            res['tail'] = lines[-TAIL:]
        return res

    # -- one example --
    def run_reference(self, name, period=None):
        rec = {'name': name}
        if period:
            rec['period_forced'] = period
        t0 = now()
        ref = self.reference(name, period)
        rec['ref_elapsed_s'] = ref.get('elapsed_s')
        if 'plain' in ref:
            rec['plain_reference'] = ref['plain']
        if 'ksmps' in ref:
            rec['ksmps'] = ref['ksmps']
        if 'skip' in ref:
            rec.update(status='skipped', reason=ref['skip'])
            if ref.get('tail'):
                rec['ref_tail'] = ref['tail']
        elif 'nondeterministic' in ref:
            rec.update(status='not-deterministic', reason=ref['nondeterministic'])
        else:
            w = ref['wav']
            rec.update(sr=w.rate, channels=w.channels, ref_frames=w.frames,
                       audio_s=round(w.frames / w.rate, 3),
                       period=period or self.choose_period(ref.get('ksmps'), w.rate))
            rec['_ref'] = {'path': ref['path']}   # read again at compare time
        rec['ref_wall_s'] = round(now() - t0, 2)
        if rec.get('status') == 'skipped' or (rec.get('status') and not self.args.keep):
            for what in ('ref1', 'ref2'):
                try:
                    os.unlink(self.out_path(name, what, period))
                except OSError:
                    pass
        return rec

    def run_csjack(self, rec, server):
        ref = rec.pop('_ref')
        cs = self.render_csjack(rec['name'], server, rec.get('period_forced'))
        rec['csjack_wall_s'] = cs['elapsed_s']
        for k in ('play_s', 'playing_line', 'summary_line', 'latency'):
            if k in cs:
                rec[k] = cs[k]
        rec['csjack_rc'] = cs['rc']
        if 'play_s' in cs and rec.get('audio_s'):
            rec['speed'] = round(rec['audio_s'] / max(cs['play_s'], 1e-3), 2)
        if 'failed' in cs:
            rec.update(status='csjack-failed', reason=cs['failed'],
                       csjack_tail=cs.get('tail', []))
        else:
            try:
                ref_wav = Wav(ref['path'])
            except (OSError, WavError) as e:
                raise RuntimeError('the reference went missing: %s' % e)
            rec.update(compare(ref_wav, cs['wav'], cs['latency'], server.period))
        if not self.args.keep or rec['status'] == 'identical':
            for path in (ref['path'], cs['path']):
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return rec

    def run_fresh(self, name, period=None):
        """Reference, then csjack on a fresh server of its own."""
        rec = self.run_reference(name, period)
        if rec.get('status'):
            return rec
        server = self.start_server(rec)
        if server is None:
            return rec
        try:
            return self.run_csjack(rec, server)
        finally:
            server.stop()

    def start_server(self, rec):
        """A jackd for REC's rate and period, or None (REC is then skipped;
        the run stops after JACKD_FAILURES_MAX of these)."""
        try:
            return Server(rec['sr'], rec['period'], self.env, self.args.tmp)
        except RuntimeError as e:
            with self.snap_lock:
                self.jackd_failures += 1
                n = self.jackd_failures
            if n > JACKD_FAILURES_MAX:
                raise
            rec.pop('_ref', None)
            rec.update(status='skipped', reason='jackd: %s' % e)
            return None


# --------------------------------------------------------------- output --

def fmt_time(rec):
    if 'play_s' not in rec:
        return ''
    return '%.2f s (%.2f s with start-up) for %.2f s of audio, x%.1f' % (
        rec['play_s'], rec['csjack_wall_s'], rec['audio_s'], rec.get('speed', 0))


def notes(rec):
    out = []
    if rec.get('silent'):
        out.append('silent reference')
    if rec.get('ref_clipped_samples'):
        out.append('reference beyond 0dbfs in %d samples (peak %.3g), clipped'
                   % (rec['ref_clipped_samples'], rec['ref_peak']))
    if rec.get('tail_over_period'):
        out.append('csjack recorded %d frames past the reference, more than a period'
                   % rec['tail_frames'])
    p = rec.get('plain_reference')
    if p and p != 'same':
        out.append('without --sample-accurate csound ' + p)
    return '; '.join(out)


def line_for(rec):
    s = '%-34s %-17s' % (rec['name'], rec['status'])
    if rec['status'] in ('identical', 'differs'):
        s += ' sr %d ch %d ksmps %s period %d L %s frames %d/%d  %s' % (
            rec['sr'], rec['channels'], rec.get('ksmps', '?'), rec['period'],
            rec.get('latency', '?'), rec['ref_frames'], rec.get('csjack_frames', 0),
            fmt_time(rec))
    if rec.get('reason'):
        s += '  ' + rec['reason'][:300]
    if notes(rec):
        s += '  [' + notes(rec) + ']'
    return s


def counts_of(records):
    c = collections.Counter(r['status'] for r in records)
    return c


def extra_counts(records):
    ident = [r for r in records if r['status'] == 'identical']
    out = ['%d of the %d identical have a silent reference (all zeros)'
           % (sum(1 for r in ident if r.get('silent')), len(ident))]
    probed = [r for r in records if 'plain_reference' in r]
    if probed:
        out.append('%d of %d deterministic references differ from plain csound '
                   '(without --sample-accurate)'
                   % (sum(1 for r in probed if r['plain_reference'] != 'same'),
                      len(probed)))
    clipped = [r for r in records if r.get('ref_clipped_samples')]
    if clipped:
        out.append('%d compared references go beyond 0dbfs (clipped before the '
                   'comparison, as the 24-bit recording clips)' % len(clipped))
    return out


def md_escape(s):
    return str(s).replace('|', '\\|').replace('\n', ' ')


def write_md(path, meta, records):
    c = counts_of(records)
    out = ['# csjack null test: csjack --freewheel --record against csound -o', '']
    for k in ('date', 'machine', 'csound', 'csjack', 'examples_dir', 'mode',
              'freewheel_by', 'jobs', 'count', 'elapsed_s', 'interrupted'):
        out.append('- %s: %s' % (k, meta.get(k)))
    out += ['', '| status | examples |', '|---|---:|']
    for s in STATUSES:
        out.append('| %s | %d |' % (s, c[s]))
    out.append('| total | %d |' % len(records))
    out += [''] + ['- ' + l for l in extra_counts(records)]
    compared = [r for r in records if r['status'] in ('identical', 'differs',
                                                      'csjack-failed')]
    if compared:
        play = sum(r.get('play_s', 0) for r in compared)
        audio = sum(r.get('audio_s', 0) for r in compared)
        out += ['', 'csjack rendered %.1f s of audio in %.1f s of play (x%.1f real '
                'time), %.1f s with start-up.' % (
                    audio, play, audio / play if play else 0,
                    sum(r.get('csjack_wall_s', 0) for r in compared))]
    for s in STATUSES:
        group = [r for r in records if r['status'] == s]
        if not group:
            continue
        out += ['', '## %s (%d)' % (s, len(group)), '']
        if s in ('identical', 'differs', 'csjack-failed'):
            out += ['| example | sr | ch | ksmps | period | L | ref frames | csjack '
                    'frames | audio s | csjack play s | x real time | detail |',
                    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|']
            for r in group:
                detail = '; '.join(x for x in (r.get('reason', ''), notes(r)) if x)
                if s == 'csjack-failed' and r.get('csjack_tail'):
                    detail += ' | ' + ' / '.join(r['csjack_tail'][-3:])
                out.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                    r['name'], r.get('sr', ''), r.get('channels', ''), r.get('ksmps', ''),
                    r.get('period', ''), r.get('latency', ''), r.get('ref_frames', ''),
                    r.get('csjack_frames', ''), r.get('audio_s', ''), r.get('play_s', ''),
                    r.get('speed', ''), md_escape(detail[:400])))
        else:
            out += ['| example | reason |', '|---|---|']
            for r in group:
                out.append('| %s | %s |' % (r['name'], md_escape(r.get('reason', '')[:300])))
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


def tool_version(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=20)
        for line in strip_ansi(r.stdout.decode('utf-8', 'replace')).splitlines():
            if 'version' in line.lower() or line.startswith('csjack'):
                return line.strip(' -')
    except (OSError, subprocess.TimeoutExpired):
        pass
    return 'unknown'


# ----------------------------------------------------------------- main --

def read_list(path, available):
    """(name, period or None) for each line: 'NAME' or 'NAME period=N' (a
    period of its own for this example, e.g. to have csjack add latency)."""
    items = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            words = line.split()
            name, period = words[0], None
            for w in words[1:]:
                m = re.fullmatch(r'period=(\d+)', w)
                if not m or not 0 < int(m.group(1)) <= MAX_PERIOD:
                    raise SystemExit('null_test: %s: bad word %r (period=N)' % (path, w))
                period = int(m.group(1))
            if name.endswith('.gz'):
                name = name[:-3]
            if not name.endswith('.csd'):
                name += '.csd'
            if name not in available:
                raise SystemExit('null_test: %s: no example %r' % (path, name))
            items.append((name, period))
    return items


def on_signal(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--csjack', required=True, help='the csjack binary')
    ap.add_argument('--examples', default=DEFAULT_EXAMPLES,
                    help='examples directory (default %(default)s)')
    ap.add_argument('--list', help="file with example names, one a line "
                                   "('NAME period=N' for a period of its own)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument('--fresh-server', dest='one_server', action='store_false',
                      help='a fresh jackd for every render (default)')
    mode.add_argument('--one-server', dest='one_server', action='store_true',
                      help='one jackd per sample rate and period, renders in turn')
    ap.set_defaults(one_server=False)
    ap.add_argument('--freewheel-by', choices=['csjack', 'jack_freewheel', 'none'],
                    default='csjack',
                    help="who turns freewheel on: csjack's --freewheel (default), "
                         "jack_freewheel once csjack plays, or none (real time)")
    ap.add_argument('--period', type=int, default=0,
                    help='JACK period for every render (default: a multiple of '
                         'ksmps, 1024 where ksmps divides it)')
    ap.add_argument('--csjack-timeout', type=float, default=120.0,
                    help='seconds one csjack render may take (default %(default)s)')
    ap.add_argument('--jobs', type=int, default=1,
                    help='examples at a time (at most 4: JACK holds 8 servers)')
    ap.add_argument('--out-json')
    ap.add_argument('--out-md')
    ap.add_argument('--tmp', help='scratch directory (default: a new temporary one)')
    ap.add_argument('--plain-reference', action='store_true',
                    help='render the reference without --sample-accurate (csjack '
                         'always runs Csound with it)')
    ap.add_argument('--probe-plain', action='store_true',
                    help='also render without --sample-accurate and record '
                         'whether that differs from the reference')
    ap.add_argument('--keep', action='store_true',
                    help='keep the WAV files of examples that do not null (in --tmp)')
    args = ap.parse_args()
    args.jobs = max(1, min(args.jobs, 4))

    if not os.path.isdir(args.examples):
        print('null_test: no examples directory %s: skipped' % args.examples)
        return 77
    need = ['csound', 'jackd', 'jack_lsp']
    if args.freewheel_by == 'jack_freewheel':
        need.append('jack_freewheel')
    missing = [t for t in need if shutil.which(t) is None]
    if missing:
        print('null_test: %s not installed: skipped' % ', '.join(missing))
        return 77
    args.csjack = os.path.abspath(args.csjack)
    if not os.access(args.csjack, os.X_OK):
        raise SystemExit('null_test: %s is not executable' % args.csjack)
    if args.freewheel_by == 'csjack':
        r = subprocess.run([args.csjack, '--help'], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if b'--freewheel' not in r.stdout:
            print('null_test: %s --help shows no --freewheel: use --freewheel-by '
                  'jack_freewheel with this csjack' % args.csjack)
            return 2
    own_tmp = args.tmp is None
    args.tmp = os.path.abspath(args.tmp or tempfile.mkdtemp(prefix='csjnull-'))
    os.makedirs(os.path.join(args.tmp, 'out'), exist_ok=True)
    if args.keep:
        own_tmp = False

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    env = dict(os.environ)
    env.pop('DISPLAY', None)
    env.pop('JACK_DEFAULT_SERVER', None)
    env.update(JACK_NO_START_SERVER='1', JACK_NO_AUDIO_RESERVATION='1', LC_ALL='C')
    reclaim_stale_servers(env)
    t_start = now()
    records = []
    interrupted = False
    partial = None

    def done(rec):
        records.append(rec)
        if partial:
            partial.write(json.dumps(rec) + '\n')
            partial.flush()
        print('[%d/%d] %s' % (len(records), total, line_for(rec)),
              file=sys.stderr, flush=True)

    total = 0
    try:
        shared = os.path.join(args.tmp, 'examples')
        available = unpack_examples(args.examples, shared)
        names = (read_list(args.list, set(available)) if args.list
                 else [(n, None) for n in available])
        total = len(names)
        runner = Runner(args, shared, env)
        partial = open(args.out_json + '.partial', 'w') if args.out_json else None
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            if not args.one_server:
                futs = [ex.submit(runner.run_fresh, *n) for n in names]
                try:
                    for fut in concurrent.futures.as_completed(futs):
                        done(fut.result())
                except BaseException:
                    STOP.set()
                    for f in futs:
                        f.cancel()
                    PROCS.kill_children()
                    raise
            else:
                # References first, then csjack on one server per (rate,
                # period), the renders in turn.
                futs = [ex.submit(runner.run_reference, *n) for n in names]
                pending = []
                try:
                    for fut in concurrent.futures.as_completed(futs):
                        rec = fut.result()
                        if rec.get('status'):
                            done(rec)
                        else:
                            pending.append(rec)
                except BaseException:
                    STOP.set()
                    for f in futs:
                        f.cancel()
                    PROCS.kill_children()
                    raise
                groups = collections.defaultdict(list)
                for rec in sorted(pending, key=lambda r: r['name']):
                    groups[(rec['sr'], rec['period'])].append(rec)
                for (rate, period), recs in sorted(groups.items()):
                    server = runner.start_server(recs[0])
                    if server is None:
                        for rec in recs:
                            rec.pop('_ref', None)
                            rec.update(status='skipped', reason=recs[0]['reason'])
                            done(rec)
                        continue
                    try:
                        for rec in recs:
                            if not server.alive():
                                raise RuntimeError('jackd %s exited (see %s)'
                                                   % (server.name, server.log_path))
                            done(runner.run_csjack(rec, server))
                    finally:
                        server.stop()
    except (KeyboardInterrupt, Stopped):
        interrupted = True
        print('null_test: interrupted', file=sys.stderr)
    finally:
        STOP.set()
        PROCS.kill_children()
        PROCS.stop_servers()
        if partial:
            partial.close()
        if own_tmp:
            shutil.rmtree(args.tmp, ignore_errors=True)

    records.sort(key=lambda r: r['name'])
    for r in records:
        r.pop('_ref', None)
    meta = {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%a %b %d %H:%M:%S UTC %Y'),
        'machine': '%s %s, %d cores, %s' % (platform.system(), platform.release(),
                                            os.cpu_count() or 0, platform.machine()),
        'csound': tool_version(['csound', '--version']),
        'csjack': tool_version([args.csjack, '--version']) + ' (' + args.csjack + ')',
        'examples_dir': args.examples,
        'mode': 'one-server' if args.one_server else 'fresh-server',
        'freewheel_by': args.freewheel_by,
        'period': args.period or 'from ksmps',
        'jobs': args.jobs, 'count': len(records), 'listed': total,
        'elapsed_s': round(now() - t_start, 1),
        'interrupted': interrupted,
    }
    c = counts_of(records)
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump({'meta': meta, 'summary': dict(c), 'examples': records}, f, indent=1)
    if args.out_md:
        write_md(args.out_md, meta, records)
    for r in records:
        if r['status'] in ('differs', 'csjack-failed'):
            print('%s %s: %s' % (r['status'].upper(), r['name'], r.get('reason', '')))
    compared = [r for r in records if 'play_s' in r]
    if compared:
        play = sum(r['play_s'] for r in compared)
        audio = sum(r.get('audio_s', 0) for r in compared)
        print('csjack: %.1f s of audio in %.1f s of play (x%.1f real time); '
              'whole run %.1f s' % (audio, play, audio / play if play else 0,
                                   now() - t_start))
    for l in extra_counts(records):
        print(l)
    print('%s' % ', '.join('%d %s' % (c[s], s) for s in STATUSES))
    fails = c['differs'] + c['csjack-failed']
    print('%d identical, %d differ, %d skipped' % (
        c['identical'], fails, c['not-deterministic'] + c['skipped']))
    if interrupted:
        return 130
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
