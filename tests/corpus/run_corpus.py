#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run Csound's manual examples through csjack and classify each one.

For every example CSD (Debian's csound-doc, /usr/share/doc/csound-doc/html/
examples, gzipped ones unpacked into a temporary copy) this runs:

  reference     csound --nosound -+rtaudio=null -+rtmidi=null -d FILE
                ("does Csound itself accept it?"; running into the timeout
                counts as accepted)
  startup       csjack --no-connect -n NAME FILE, plays --seconds, then :quit
  live-staged   csjack on a base orchestra, then ':orc <CsInstruments>'
  live-direct   the same with ':orc! <CsInstruments>' (one-piece compile)

The live paths then send the example's i and f score lines, ':eval return 1'
and ':quit'. Each path gets a category; the example's headline is its worst:

  crash, hang, watchdog, csjack-fails, needs-display, needs-device,
  needs-network, csound-rejects, plays

crash is strict: killed by a signal, or exit 134/139. hang: no exit within
the limits after the stop (':quit', then SIGTERM). watchdog: csjack ended
the performance itself with status 9 (EXIT_HUNG) because one Csound call
ran longer than the hang limit (its 'Csound has been inside one call on ...'
line, or an error reply on a live path and then status 9, or status 9 one
second after SIGTERM with Csound still inside); a clean, documented end.
A start-up whose compile takes long in Csound too gets the reference's time
x 3 + 10 s (at least 30 s) for its "playing" line.

Only crashes and hangs are failures: the last line printed is
'N passed, M failed' and the exit status is 1 when M > 0. With --out-json
each record is also appended to OUT.partial as it comes (one JSON object a
line), which --reclassify reads when a run did not finish.

Every child runs with JACK_DEFAULT_SERVER set to a private server (started
here unless --server is given, and always stopped at the end),
JACK_NO_START_SERVER=1, no DISPLAY, and its own working directory that holds
the unpacked examples (hard links into one shared copy; a file an example
changed through its link is restored before the next example uses it).

Python 3 standard library only.
"""

import argparse
import collections
import concurrent.futures
import datetime
import gzip
import json
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

DEFAULT_EXAMPLES = '/usr/share/doc/csound-doc/html/examples'

# Worst first: an example's headline is the first of these any path got.
CATEGORIES = ['crash', 'hang', 'watchdog', 'csjack-fails', 'needs-display',
              'needs-device', 'needs-network', 'csound-rejects', 'plays']
PATHS = ['reference', 'startup', 'live-staged', 'live-direct']
CSJACK_PATHS = PATHS[1:]

REFERENCE_TIMEOUT = 10.0      # reference run: timing out counts as accepted
START_TIMEOUT = 30.0          # until "playing as JACK client" or exit
REPLY_TIMEOUT = 15.0          # one console reply (the console itself waits 5 s)
EXIT_TIMEOUT = 10.0           # after :quit
TERM_TIMEOUT = 5.0            # after SIGTERM (csjack exits 9 within 1 s of it
                              # when Csound does not let go)
EXIT_HUNG = 9                 # csjack's exit status when the watchdog ended it
LINE_MAX = 65536              # the console's line limit
SCORE_LINES_MAX = 200         # score lines sent on the live paths
TAIL = 12                     # stderr lines kept per path

ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
REFERENCE_ERRORS = re.compile(
    r'^\s*(Parsing failed|Compilation failed|Stopping on parser failure|'
    r'error: syntax error|csound command: Segmentation|'
    r'Segmentation fault|cannot open display)')
DISPLAY_OPCODES = re.compile(
    r'\b(FL[a-zA-Z0-9_]+|vphaseseg|xyin)\b')
DISPLAY_STDERR = re.compile(r'display|FLTK|X11|xlib|widget', re.I)
NETWORK_OPCODES = re.compile(
    r'\b(OSC[a-zA-Z]+|socksend[s]?|sockrecv[s]?|strecv|stsend|remoteport|'
    r'insremot|insglobal|midremot|midglobal|websocket|ftsamplebank_)\b')
NETWORK_STDERR = re.compile(r'OSC|socket|address|network|host', re.I)
DEVICE_OPTIONS = re.compile(
    r'(^|\s)(-M\s*\S*|-Q\s*\S*|--midi-device|--midioutfile|-F\s*\S*|'
    r'--midifile|-+rtmidi=\S+|-iadc\S*|-i\s+adc\S*|--input=adc\S*)')
# csjack's watchdog (one Csound call longer than the hang limit) and its
# SIGINT/SIGTERM path when Csound does not let go; both exit EXIT_HUNG.
WATCHDOG_STDERR = re.compile(
    r'csjack: error: Csound has been inside one call on|'
    r'csjack: stopped by \S+, but Csound did not let go')
DEVICE_STDERR = re.compile(r'MIDI|device|portmidi|alsa|adc|audio input|'
                           r'capture', re.I)


def now():
    return time.monotonic()


def strip_ansi(text):
    return ANSI.sub('', text)


# ---------------------------------------------------------------- the CSD --

def section(text, tag):
    """The text between <tag ...> and </tag>, or None."""
    m = re.search(r'<%s\b[^>]*>(.*?)</%s>' % (tag, tag), text, re.S)
    return m.group(1) if m else None


def orchestra_code(orc):
    """The orchestra without comments and strings, to look for opcodes."""
    orc = re.sub(r'/\*.*?\*/', ' ', orc, flags=re.S)
    orc = re.sub(r'\{\{.*?\}\}', '""', orc, flags=re.S)
    out = []
    for line in orc.splitlines():
        line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
        out.append(re.split(r';|//', line, 1)[0])
    return '\n'.join(out)


def example_needs(orc, opts):
    code = orchestra_code(orc)
    return [n for n, hit in (
        ('display', bool(DISPLAY_OPCODES.search(code))),
        ('device', bool(DEVICE_OPTIONS.search(opts))),
        ('network', bool(NETWORK_OPCODES.search(code)))) if hit]


def options_text(text):
    opts = section(text, 'CsOptions') or ''
    return '\n'.join(line.split(';', 1)[0] for line in opts.splitlines())


def score_lines(score):
    """The example's i and f statements, one per line, comments removed."""
    if score is None:
        return []
    score = re.sub(r'/\*.*?\*/', ' ', score, flags=re.S)
    out = []
    for line in score.splitlines():
        line = line.split(';', 1)[0].strip()
        if re.match(r'[if](\s|\d|"|\.|\+|-)', line) and '$' not in line:
            out.append(line)
        if len(out) >= SCORE_LINES_MAX:
            break
    return out


def console_escape(code):
    """CODE for one console line: backslash, newline, CR, other control
    bytes and bytes that are not UTF-8 escaped (docs/console.md)."""
    if isinstance(code, str):
        code = code.encode('utf-8', 'surrogateescape')
    out = []
    # Valid UTF-8 runs pass through, everything else becomes \xHH.
    text = code.decode('utf-8', 'surrogateescape')
    for ch in text:
        o = ord(ch)
        if ch == '\\':
            out.append('\\\\')
        elif ch == '\n':
            out.append('\\n')
        elif ch == '\r':
            continue
        elif ch == '\t':
            out.append('\t')
        elif 0xDC80 <= o <= 0xDCFF:            # a byte that was not UTF-8
            out.append('\\x%02x' % (o - 0xDC00))
        elif o < 0x20 or o == 0x7f:
            out.append('\\x%02x' % o)
        else:
            out.append(ch)
    return ''.join(out)


# ------------------------------------------------------------- processes --

class Children:
    """Every child process we started, so that the end kills what is left."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs = set()

    def add(self, p):
        with self.lock:
            self.procs.add(p)

    def remove(self, p):
        with self.lock:
            self.procs.discard(p)

    def kill_all(self):
        with self.lock:
            procs = list(self.procs)
        for p in procs:
            kill_group(p)


CHILDREN = Children()


def kill_group(p, sig=signal.SIGKILL):
    """Signal the process group of a child we started (start_new_session).
    Also after the child itself has exited: what it forked can still hold
    its pipes (system.csd's system_i left a forked csound stuck in a futex
    before its exec, and the reference waited for its stdout for ever)."""
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass


def describe_rc(rc):
    if rc is None:
        return 'none'
    if rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:
            return 'signal %d' % -rc
    return str(rc)


def is_crash(rc):
    return rc is not None and (rc < 0 or rc in (134, 135, 136, 137, 139))


def watchdog_line(rc, lines):
    """The watchdog's line when csjack ended with EXIT_HUNG and said why."""
    if rc != EXIT_HUNG:
        return None
    for l in lines:
        if WATCHDOG_STDERR.search(l):
            return l.strip()
    return None


class Csjack:
    """A csjack child with pipes: replies from stdout through a queue,
    stderr kept in a ring, an event set once it plays."""

    def __init__(self, argv, cwd, env):
        self.argv = argv
        self.p = subprocess.Popen(argv, cwd=cwd, env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        CHILDREN.add(self.p)
        self.replies = queue.Queue()
        self.stderr = collections.deque(maxlen=200)
        self.playing = threading.Event()
        self.saw_playing = False
        self.watchdog_said = []   # kept apart: a child of system_i can
                                  # print hundreds of lines after it
        self.t_out = threading.Thread(target=self._read_out, daemon=True)
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out.start()
        self.t_err.start()

    def _read_out(self):
        for raw in self.p.stdout:
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            if line.startswith('# '):
                continue
            self.replies.put(line)
        self.replies.put(None)                 # EOF

    def _read_err(self):
        for raw in self.p.stderr:
            line = strip_ansi(raw.decode('utf-8', 'replace').rstrip('\n'))
            self.stderr.append(line)
            if WATCHDOG_STDERR.search(line):
                self.watchdog_said.append(line)
            if 'playing as JACK client' in line:
                self.saw_playing = True
                self.playing.set()
        self.playing.set()                     # exited: stop waiting

    def wait_playing(self, timeout):
        """True once it plays, False if it exited first, None on timeout.
        An exit counts without stderr's EOF: a child it forked (system_i's)
        can hold stderr open long after it."""
        deadline = now() + timeout
        exited_at = None
        while not self.playing.wait(0.25):
            t = now()
            if self.p.poll() is not None:
                exited_at = exited_at or t
                if t - exited_at >= 0.5:
                    return self.saw_playing
            if t >= deadline:
                return None
        return self.saw_playing

    def send(self, line):
        try:
            self.p.stdin.write(line.encode('utf-8', 'surrogateescape') + b'\n')
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def reply(self, timeout):
        """The next reply line; None at EOF or once csjack has exited and
        said nothing more (a child it forked, system_i's, can hold its
        stdout open long after it); TimeoutError when none came."""
        deadline = now() + timeout
        exited_at = None
        while True:
            try:
                return self.replies.get(timeout=0.25)
            except queue.Empty:
                pass
            t = now()
            if self.p.poll() is not None:
                exited_at = exited_at or t
                if t - exited_at >= 0.5:
                    return None
            if t >= deadline:
                raise TimeoutError

    def command(self, line, timeout=REPLY_TIMEOUT):
        if not self.send(line):
            return None
        return self.reply(timeout)

    def quit(self, timeout=EXIT_TIMEOUT):
        """:quit, then wait; True when it exited (by itself or after :quit)."""
        if self.p.poll() is None:
            self.send(':quit')
        try:
            self.p.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, quit_timeout=EXIT_TIMEOUT):
        """:quit, then SIGTERM to csjack itself when it has not exited.
        'exited' (by itself or after :quit), 'terminated' (after SIGTERM) or
        None (still running: a hang)."""
        if self.quit(quit_timeout):
            return 'exited'
        try:
            self.p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(TERM_TIMEOUT)
            return 'terminated'
        except subprocess.TimeoutExpired:
            return None

    def watchdog(self):
        """csjack's watchdog line when it ended with EXIT_HUNG (after
        finish(): the readers have been joined)."""
        return watchdog_line(self.p.returncode, self.watchdog_said)

    def finish(self):
        """Kill what is left, reap it, join the readers."""
        kill_group(self.p)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.p.stdin,):
            try:
                f.close()
            except OSError:
                pass
        self.t_out.join(5)
        self.t_err.join(5)
        CHILDREN.remove(self.p)
        return self.p.returncode

    def tail(self, n=TAIL):
        lines = [l for l in self.stderr if l.strip()]
        return lines[-n:]


# ---------------------------------------------------------------- a run --

class Runner:
    def __init__(self, args, shared, env, base_orc):
        self.args = args
        self.shared = shared          # the unpacked examples
        self.env = env
        self.base_orc = base_orc
        self.snapshot = {}
        self.snap_lock = threading.Lock()
        for rel in self.files():
            st = os.stat(os.path.join(shared, rel))
            self.snapshot[rel] = (st.st_size, st.st_mtime_ns)

    def files(self):
        for root, dirs, names in os.walk(self.shared):
            for n in names:
                yield os.path.relpath(os.path.join(root, n), self.shared)

    def make_workdir(self, idx):
        work = os.path.join(self.args.tmp, 'work', '%04d' % idx)
        shutil.rmtree(work, ignore_errors=True)
        with self.snap_lock:
            rels = list(self.snapshot)
        for rel in rels:
            dst = os.path.join(work, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.link(os.path.join(self.shared, rel), dst)
        return work

    def restore_changed(self):
        """Put back any shared file an example wrote through its link."""
        restored = []
        with self.snap_lock:
            for rel, (size, mtime) in self.snapshot.items():
                path = os.path.join(self.shared, rel)
                try:
                    st = os.stat(path)
                    same = (st.st_size, st.st_mtime_ns) == (size, mtime)
                except FileNotFoundError:
                    same = False
                if same:
                    continue
                unpack_one(self.args.examples, rel, self.shared)
                st = os.stat(path)
                self.snapshot[rel] = (st.st_size, st.st_mtime_ns)
                restored.append(rel)
        return restored

    # -- reference --
    def reference(self, work, name):
        argv = ['csound', '--nosound', '-+rtaudio=null', '-+rtmidi=null', '-d',
                name]
        res = {'argv': argv}
        t0 = now()
        p = subprocess.Popen(argv, cwd=work, env=self.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        CHILDREN.add(p)
        try:
            out, _ = p.communicate(timeout=REFERENCE_TIMEOUT)
            res['elapsed'] = round(now() - t0, 2)
            res['timed_out'] = False
        except subprocess.TimeoutExpired:
            kill_group(p)
            try:
                out, _ = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                out = b'run_corpus: the output pipe stayed open after SIGKILL\n'
            res['elapsed'] = round(now() - t0, 2)
            res['timed_out'] = True
        kill_group(p)              # whatever it forked and left behind
        CHILDREN.remove(p)
        text = strip_ansi(out.decode('utf-8', 'replace'))
        lines = [l for l in text.splitlines() if l.strip()]
        marks = [l for l in lines if REFERENCE_ERRORS.search(l)]
        res['rc'] = p.returncode
        res['exit'] = describe_rc(p.returncode)
        if res['timed_out']:
            ok = not marks
        else:
            ok = p.returncode == 0 and not marks
        res['accepts'] = ok
        res['status'] = 'plays' if ok else 'csound-rejects'
        res['errors'] = marks[:5]
        res['tail'] = lines[-TAIL:]
        res['reason'] = '' if ok else (
            (marks[0] if marks else 'csound exit %s' % describe_rc(p.returncode)))
        return res

    def reference_with_display(self, work, name):
        """Run the reference again under xvfb-run: True if it passes there."""
        if not shutil.which('xvfb-run'):
            return None
        env = dict(self.env)
        argv = ['xvfb-run', '-a', 'csound', '--nosound', '-+rtaudio=null',
                '-+rtmidi=null', '-d', name]
        p = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
        CHILDREN.add(p)
        try:
            out, _ = p.communicate(timeout=REFERENCE_TIMEOUT + 10)
            timed_out = False
        except subprocess.TimeoutExpired:
            kill_group(p)
            try:
                out, _ = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                out = b''
            timed_out = True
        CHILDREN.remove(p)
        text = strip_ansi(out.decode('utf-8', 'replace'))
        marks = [l for l in text.splitlines() if REFERENCE_ERRORS.search(l)]
        return (timed_out or p.returncode == 0) and not marks

    # -- csjack paths --
    def client_name(self, idx, tag):
        return 'corpus-%d-%04d-%s' % (os.getpid(), idx, tag)

    def startup(self, work, name, idx, ref_elapsed=0.0):
        argv = [self.args.csjack, '--no-connect', '-n',
                self.client_name(idx, 's'), name]
        c = Csjack(argv, work, self.env)
        res = {'argv': argv}
        # A CSD whose compile takes long in Csound too (system_i running an
        # analysis at init) gets the reference's time x 3 + 10 s to start.
        start_limit = max(START_TIMEOUT, 3 * ref_elapsed + 10)
        stopped = None
        try:
            t0 = now()
            played = c.wait_playing(START_TIMEOUT)
            if played is None and start_limit > START_TIMEOUT:
                res['start_extended'] = round(start_limit, 1)
                played = c.wait_playing(start_limit - START_TIMEOUT)
            res['start_s'] = round(now() - t0, 2)
            res['played'] = bool(played)
            if played:
                deadline = now() + self.args.seconds
                while c.p.poll() is None and now() < deadline:
                    time.sleep(0.05)
            stopped = c.stop()
            res['stopped'] = stopped
        finally:
            rc = c.finish()
        res['rc'] = rc
        res['exit'] = describe_rc(rc)
        res['tail'] = c.tail()
        wd = c.watchdog()
        if wd:
            res['watchdog_line'] = wd
        if stopped is None:
            res['status'] = 'hang'
            if played is None:
                res['reason'] = ('no "playing" line and no exit within %gs, nor '
                                 'within %gs of :quit and SIGTERM'
                                 % (start_limit, EXIT_TIMEOUT + TERM_TIMEOUT))
            else:
                res['reason'] = ('did not exit within %gs of :quit nor %gs of '
                                 'SIGTERM' % (EXIT_TIMEOUT, TERM_TIMEOUT))
        elif is_crash(rc):
            res['status'] = 'crash'
            res['reason'] = 'exit %s' % describe_rc(rc)
        elif wd:
            res['status'] = 'watchdog'
            res['reason'] = 'exit %d%s%s' % (
                rc, '' if played else ' before playing',
                ' after SIGTERM' if stopped == 'terminated' else '')
        elif played is None or stopped == 'terminated':
            res['status'] = 'hang'
            res['reason'] = ('no "playing" line within %gs' % start_limit
                             if played is None else
                             'did not exit within %gs of :quit' % EXIT_TIMEOUT) + \
                ' (exit %s after SIGTERM)' % describe_rc(rc)
        elif rc == 0:
            res['status'] = 'plays'
        else:
            res['status'] = 'fails'
            res['reason'] = 'exit %s%s' % (
                describe_rc(rc), '' if played else ' before playing')
        return res

    def live(self, work, idx, orc, score, direct):
        tag = 'd' if direct else 'q'
        cmd = ':orc! ' if direct else ':orc '
        argv = [self.args.csjack, '--no-connect', '-n',
                self.client_name(idx, tag), self.base_orc]
        res = {'argv': argv, 'command': cmd.strip()}
        line = cmd + console_escape(orc)
        if len(line.encode('utf-8', 'surrogateescape')) - len(cmd) > LINE_MAX or '\x00' in orc:
            res.update(status='plays', skipped=True,
                       reason='orchestra does not fit one console line')
            return res
        c = Csjack(argv, work, self.env)
        replies = []
        status = reason = None
        try:
            played = c.wait_playing(START_TIMEOUT)
            if not played:
                status = 'hang' if played is None else 'fails'
                reason = 'base orchestra did not start'
            else:
                r = c.command(line)
                replies.append(r)
                res['orc_reply'] = r
                if r is None:
                    status, reason = 'fails', 'no reply to %s: csjack exited' % cmd.strip()
                elif not r.startswith('ok'):
                    status, reason = 'fails', r[:300]
                else:
                    n_ok = 0
                    for s in score:
                        r = c.command(s)
                        if r is None:
                            break
                        if r.startswith('ok'):
                            n_ok += 1
                    res['score_sent'] = len(score)
                    res['score_ok'] = n_ok
                    r = c.command(':eval return 1')
                    res['eval_reply'] = r
                    if r is None:
                        status, reason = 'fails', 'csjack exited before :eval'
                    elif r != 'ok eval 1':
                        status, reason = 'fails', ':eval return 1 -> %s' % r[:200]
                    else:
                        deadline = now() + self.args.live_seconds
                        while c.p.poll() is None and now() < deadline:
                            time.sleep(0.05)
                        if c.p.poll() is None:
                            r = c.command(':eval return 1')
                            res['eval2_reply'] = r
                            if r is not None and r != 'ok eval 1':
                                status, reason = 'fails', 'second :eval -> %s' % r[:200]
        except TimeoutError:
            status, reason = 'hang', 'no console reply within %gs' % REPLY_TIMEOUT
        stopped = None
        try:
            stopped = c.stop()
            res['stopped'] = stopped
        finally:
            rc = c.finish()
        res['rc'] = rc
        res['exit'] = describe_rc(rc)
        res['tail'] = c.tail()
        wd = c.watchdog()
        if wd:
            res['watchdog_line'] = wd
        if stopped is None:
            status, reason = 'hang', '%sdid not exit within %gs of :quit nor %gs of SIGTERM' % (
                (reason + ', then ') if status == 'hang' else '', EXIT_TIMEOUT, TERM_TIMEOUT)
        elif is_crash(rc):
            status, reason = 'crash', 'exit %s%s' % (
                describe_rc(rc), (' (' + reason + ')') if reason else '')
        elif wd or (rc == EXIT_HUNG and status == 'fails' and any(
                (res.get(k) or '').startswith('error')
                for k in ('orc_reply', 'eval_reply', 'eval2_reply'))):
            # The watchdog ended it (the reply, if any, was an error), or
            # csjack ended itself 1 s after SIGTERM with Csound still inside.
            status, reason = 'watchdog', 'exit %d%s%s' % (
                rc, ' after SIGTERM' if stopped == 'terminated' else '',
                (' (' + reason + ')') if reason else '')
        elif status == 'hang' or stopped == 'terminated':
            status, reason = 'hang', '%s (exit %s%s)' % (
                reason if status == 'hang' else
                'did not exit within %gs of :quit' % EXIT_TIMEOUT,
                describe_rc(rc), ' after SIGTERM' if stopped == 'terminated' else '')
        elif status is None:
            if rc == 0:
                status = 'plays'
            else:
                status, reason = 'fails', 'exit %s' % describe_rc(rc)
        res['status'] = status
        if reason:
            res['reason'] = reason
        return res

    # -- one example --
    def run(self, idx, name):
        t0 = now()
        work = self.make_workdir(idx)
        try:
            with open(os.path.join(work, name), 'rb') as f:
                text = f.read().decode('utf-8', 'surrogateescape')
            orc = section(text, 'CsInstruments') or ''
            score = score_lines(section(text, 'CsScore'))
            opts = options_text(text)
            rec = {'name': name, 'paths': {}}
            ref = self.reference(work, name)
            rec['paths']['reference'] = ref
            rec['paths']['startup'] = self.startup(work, name, idx,
                                                   ref.get('elapsed', 0.0))
            rec['paths']['live-staged'] = self.live(work, idx, orc, score, False)
            rec['paths']['live-direct'] = self.live(work, idx, orc, score, True)
            rec['needs'] = example_needs(orc, opts)
            if (not ref['accepts'] and 'display' not in rec['needs']
                    and re.search(r'\bFL|display', ' '.join(ref['tail']))
                    and self.reference_with_display(work, name)):
                rec['needs'].append('display')
            for pname in CSJACK_PATHS:
                rec['paths'][pname]['raw'] = rec['paths'][pname]['status']
            apply_classification(rec)
            rec['seconds'] = round(now() - t0, 2)
            return rec
        finally:
            shutil.rmtree(work, ignore_errors=True)
            restored = self.restore_changed()
            if restored:
                sys.stderr.write('corpus: %s changed %s; restored\n'
                                 % (name, ', '.join(restored)))


def apply_classification(rec):
    ref = rec['paths']['reference']
    ref['status'] = 'plays' if ref['accepts'] else (
        'needs-display' if 'display' in rec['needs'] else 'csound-rejects')
    for pname in CSJACK_PATHS:
        classify(rec['paths'][pname], ref, rec['needs'])
    heads = [rec['paths'][p]['status'] for p in PATHS]
    rec['headline'] = min(heads, key=CATEGORIES.index)
    rec['reason'] = headline_reason(rec)


def classify(res, ref, needs):
    """Turn a csjack path's raw 'fails' into a category: Csound's fault,
    the environment's, or csjack's."""
    res['status'] = res.get('raw', res['status'])
    if res['status'] != 'fails':
        return
    tail = ' '.join(res.get('tail', []))
    if watchdog_line(res.get('rc'), [res.get('watchdog_line', '')]
                     + res.get('tail', [])):                # an older run's
        res['status'] = 'watchdog'
    elif 'display' in needs or (DISPLAY_STDERR.search(tail) and 'FL' in tail):
        res['status'] = 'needs-display'
    elif not ref['accepts']:
        res['status'] = 'csound-rejects'
    elif 'device' in needs and DEVICE_STDERR.search(tail):
        res['status'] = 'needs-device'
    elif 'network' in needs:
        res['status'] = 'needs-network'
    else:
        res['status'] = 'csjack-fails'


def headline_reason(rec):
    head = rec['headline']
    if head == 'plays':
        return ''
    for p in PATHS:
        r = rec['paths'][p]
        if r['status'] == head:
            why = r.get('reason', '')
            last = [l for l in r.get('tail', []) if l.strip()]
            err = [l for l in last if 'error' in l.lower()
                   and not re.match(r'\s*\d+ errors? in performance', l)]
            wd = [l[l.index('csjack:'):] for l in
                  [r.get('watchdog_line', '')] + last
                  if WATCHDOG_STDERR.search(l)]
            detail = (wd if head == 'watchdog' else []) or err or last or ['']
            detail = detail[-1]
            if p == 'reference':
                return 'reference: %s' % why
            return '%s: %s%s' % (p, why, (' | ' + detail) if detail else '')
    return ''


# ------------------------------------------------------------- examples --

def unpack_one(src_root, rel, dst_root):
    """Copy src_root/rel (or rel.gz, unpacked) to dst_root/rel."""
    dst = os.path.join(dst_root, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = dst + '.tmp-unpack'
    src = os.path.join(src_root, rel)
    if os.path.exists(src):
        shutil.copyfile(src, tmp)
    else:
        with gzip.open(src + '.gz', 'rb') as fi, open(tmp, 'wb') as fo:
            shutil.copyfileobj(fi, fo)
    os.replace(tmp, dst)


def unpack_examples(src_root, dst_root):
    """The examples with every .gz unpacked (a plain file wins over its .gz)."""
    rels = set()
    for root, dirs, names in os.walk(src_root):
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), src_root)
            if rel.endswith('.gz'):
                rel = rel[:-3]
            rels.add(rel)
    for rel in sorted(rels):
        unpack_one(src_root, rel, dst_root)
    return sorted(r for r in rels if r.endswith('.csd'))


# ----------------------------------------------------------------- JACK --

def jack_answers(env):
    try:
        r = subprocess.run(['jack_lsp'], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        return r.returncode == 0 and b'system:' in r.stdout
    except subprocess.TimeoutExpired:
        return False


def start_jackd(name, env, log):
    argv = ['jackd', '--no-realtime', '-n', name, '-d', 'dummy', '-r', '48000',
            '-p', '256']
    for attempt in range(3):
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        deadline = now() + 30
        while now() < deadline:
            if p.poll() is not None:
                break
            if jack_answers(env):
                return p
            time.sleep(0.25)
        stop_jackd(p)
        time.sleep(2 + 3 * attempt)
    raise RuntimeError('could not start jackd -n %s (see %s)' % (name, log.name))


def stop_jackd(p):
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)


# --------------------------------------------------------------- output --

def summary_counts(records):
    counts = {p: collections.Counter() for p in PATHS + ['headline']}
    for r in records:
        for p in PATHS:
            counts[p][r['paths'][p]['status']] += 1
        counts['headline'][r['headline']] += 1
    return counts


def md_escape(s):
    return s.replace('|', '\\|').replace('\n', ' ')


def write_md(path, meta, records):
    counts = summary_counts(records)
    out = ['# csjack corpus: Csound manual examples', '']
    for k in ('date', 'machine', 'csound', 'csjack', 'examples_dir', 'seconds',
              'live_seconds', 'jobs', 'count', 'elapsed_s'):
        out.append('- %s: %s' % (k, meta.get(k)))
    out += ['', '| category | ' + ' | '.join(PATHS + ['headline']) + ' |',
            '|---|' + '---:|' * (len(PATHS) + 1)]
    for cat in CATEGORIES:
        out.append('| %s | %s |' % (cat, ' | '.join(
            str(counts[p][cat]) for p in PATHS + ['headline'])))
    out.append('| total | %s |' % ' | '.join(
        str(sum(counts[p].values())) for p in PATHS + ['headline']))
    out += ['', '## Examples that do not simply play, by headline']
    for cat in CATEGORIES[:-1]:
        group = sorted((r for r in records if r['headline'] == cat),
                       key=lambda r: r['name'])
        if not group:
            continue
        out += ['', '### %s (%d)' % (cat, len(group)), '',
                '| example | reference | startup | live-staged | live-direct | reason |',
                '|---|---|---|---|---|---|']
        for r in group:
            out.append('| %s | %s | %s | %s | %s | %s |' % (
                r['name'], *(r['paths'][p]['status'] for p in PATHS),
                md_escape(r['reason'][:240])))
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
    names = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.endswith('.gz'):
                line = line[:-3]
            if not line.endswith('.csd'):
                line += '.csd'
            if line not in available:
                raise SystemExit('run_corpus: %s: no example %r' % (path, line))
            names.append(line)
    return names


def read_results(path):
    """An --out-json file, or the .partial file (one record a line) that a
    run writes as it goes, for a run that did not finish."""
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        records = [json.loads(l) for l in text.splitlines() if l.strip().startswith('{')]
        meta = {'partial': path, 'count': len(records), 'interrupted': True}
        return {'meta': meta, 'examples': records}


def reclassify(args):
    data = read_results(args.reclassify)
    data['examples'].sort(key=lambda r: r['name'])
    tmp = tempfile.mkdtemp(prefix='csjcorpus-')
    try:
        shared = os.path.join(tmp, 'examples')
        unpack_examples(args.examples, shared)
        for rec in data['examples']:
            with open(os.path.join(shared, rec['name']), 'rb') as f:
                text = f.read().decode('utf-8', 'surrogateescape')
            rec['needs'] = example_needs(section(text, 'CsInstruments') or '',
                                         options_text(text))
            ref = rec['paths']['reference']
            ref['errors'] = [l for l in ref.get('errors', [])
                             if REFERENCE_ERRORS.search(l)]
            ref['accepts'] = (ref['timed_out'] or ref['rc'] == 0) and not ref['errors']
            ref['reason'] = '' if ref['accepts'] else (
                ref['errors'][0] if ref['errors'] else 'csound exit %s' % ref['exit'])
            for pname in CSJACK_PATHS:
                r = rec['paths'][pname]
                if 'raw' not in r:      # a run from before 'raw' was kept
                    r['raw'] = 'fails' if r['status'] not in (
                        'plays', 'crash', 'hang', 'watchdog') else r['status']
            apply_classification(rec)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    records = data['examples']
    meta = data['meta']
    meta['reclassified'] = True
    return report(args, meta, records, meta.get('interrupted', False))


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--csjack', required=True, help='the csjack binary')
    ap.add_argument('--server', help='an existing JACK server to use (not stopped)')
    ap.add_argument('--examples', default=DEFAULT_EXAMPLES,
                    help='examples directory (default %(default)s)')
    ap.add_argument('--list', help='file with example names, one a line')
    ap.add_argument('--seconds', type=float, default=3.0,
                    help='how long each example plays on the startup path')
    ap.add_argument('--live-seconds', type=float, default=1.0,
                    help='how long the live paths play after the score lines')
    ap.add_argument('--jobs', type=int, default=1)
    ap.add_argument('--out-json')
    ap.add_argument('--out-md')
    ap.add_argument('--tmp', help='scratch directory (default: a new temporary one)')
    ap.add_argument('--reclassify', metavar='JSON',
                    help='run nothing: classify the results of an earlier '
                         'run again (after a change to the rules)')
    args = ap.parse_args()
    if args.reclassify:
        return reclassify(args)

    if not os.path.isdir(args.examples):
        print('run_corpus: no examples directory %s: skipped' % args.examples)
        return 77
    args.csjack = os.path.abspath(args.csjack)
    if not os.access(args.csjack, os.X_OK):
        raise SystemExit('run_corpus: %s is not executable' % args.csjack)
    own_tmp = args.tmp is None
    args.tmp = args.tmp or tempfile.mkdtemp(prefix='csjcorpus-')
    args.tmp = os.path.abspath(args.tmp)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)

    server = args.server or 'csjcorpus-%d' % os.getpid()
    env = dict(os.environ)
    env.pop('DISPLAY', None)
    env.update(JACK_DEFAULT_SERVER=server, JACK_NO_START_SERVER='1',
               JACK_NO_AUDIO_RESERVATION='1', LC_ALL='C')
    jackd = None
    jack_log = None
    t_start = now()
    records = []
    interrupted = False
    try:
        shared = os.path.join(args.tmp, 'examples')
        available = unpack_examples(args.examples, shared)
        names = read_list(args.list, set(available)) if args.list else available
        base_orc = os.path.join(args.tmp, 'base.orc')
        with open(base_orc, 'w') as f:
            f.write('sr = 48000\nksmps = 32\nnchnls = 2\n0dbfs = 1\n')

        if not args.server:
            jack_log = open(os.path.join(args.tmp, 'jackd.log'), 'w')
            jackd = start_jackd(server, env, jack_log)
        elif not jack_answers(env):
            raise SystemExit('run_corpus: JACK server %r does not answer' % server)

        runner = Runner(args, shared, env, base_orc)
        total = len(names)
        done = 0
        # Each record as it comes, one a line: --reclassify reads this file
        # when the run did not finish.
        partial = open(args.out_json + '.partial', 'w') if args.out_json else None
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            futs = {ex.submit(runner.run, i, n): n for i, n in enumerate(names)}
            try:
                for fut in concurrent.futures.as_completed(futs):
                    rec = fut.result()
                    records.append(rec)
                    if partial:
                        partial.write(json.dumps(rec) + '\n')
                        partial.flush()
                    done += 1
                    print('[%d/%d] %-40s %-14s %s' % (
                        done, total, rec['name'], rec['headline'],
                        ' '.join('%s=%s' % (p, rec['paths'][p]['status'])
                                 for p in CSJACK_PATHS
                                 if rec['paths'][p]['status'] != 'plays')),
                        file=sys.stderr, flush=True)
                    if jackd is not None and jackd.poll() is not None:
                        raise RuntimeError('the private jackd exited (see %s)' % jack_log.name)
            except BaseException:
                for f in futs:
                    f.cancel()
                CHILDREN.kill_all()
                raise
    except KeyboardInterrupt:
        interrupted = True
        print('run_corpus: interrupted', file=sys.stderr)
    finally:
        CHILDREN.kill_all()
        stop_jackd(jackd)
        if jack_log:
            jack_log.close()
        if own_tmp:
            shutil.rmtree(args.tmp, ignore_errors=True)

    records.sort(key=lambda r: r['name'])
    return report(args, {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%a %b %d %H:%M:%S UTC %Y'),
        'machine': '%s %s, %d cores, %s' % (platform.system(), platform.release(),
                                            os.cpu_count() or 0, platform.machine()),
        'csound': tool_version(['csound', '--version']),
        'csjack': tool_version([args.csjack, '--version']) + ' (' + args.csjack + ')',
        'examples_dir': args.examples,
        'seconds': args.seconds, 'live_seconds': args.live_seconds,
        'jobs': args.jobs, 'count': len(records),
        'elapsed_s': round(now() - t_start, 1),
        'interrupted': interrupted,
    }, records, interrupted)


def report(args, meta, records, interrupted):
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump({'meta': meta, 'summary': {p: dict(c) for p, c in
                                                 summary_counts(records).items()},
                       'examples': records}, f, indent=1)
    if args.out_md:
        write_md(args.out_md, meta, records)
    counts = summary_counts(records)['headline']
    for cat in CATEGORIES:
        if counts[cat]:
            print('%-15s %d' % (cat, counts[cat]))
    for r in records:
        if r['headline'] in ('crash', 'hang'):
            print('%s %s: %s' % (r['headline'].upper(), r['name'], r['reason']))
    failed = counts['crash'] + counts['hang']
    print('%d passed, %d failed' % (len(records) - failed, failed))
    if interrupted:
        return 130
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
