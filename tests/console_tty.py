#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The console on a terminal: csjack typed into through tmux.

    console_tty.py CSJACK DATA_DIR

Starts a private jackd (dummy driver) and csjack in a tmux session on a
server of its own (tmux -L), types with the keys a person uses and reads
the screen back with `tmux capture-pane -p`:

1. a command and its reply; Up recalls it from the history and Enter runs
   it again; Left arrow and Backspace edit a line; `:sta` + Tab completes
   to `:stats`; Csound's messages printed while a line is typed leave the
   line whole (it is drawn again under them); a line refused for its
   length (over 64 KiB) stays out of the history; Ctrl-D says "console closed;
   the music plays on (Ctrl-C to stop)" and csjack's ports are still
   there; Ctrl-C stops it with status 0 and the summary line; the history
   file holds the lines; the terminal's own mode is back afterwards;
2. a second csjack reads that history (Up shows the last line), and Ctrl-C
   while a line is being typed stops it, status 0;
3. a history file that cannot be written is one notice, and the console
   works; SIGTERM stops csjack, status 0;
4. Csound hangs while a line is typed: status 9, and the terminal has its
   own mode back;
5. stdin a terminal and stdout a pipe (`csjack ... | cat`): no prompt, no
   history, the plain replies; Ctrl-D (EOF) leaves the music playing.

No wall-clock bound: every wait polls the screen for the expected text
with a generous number of tries, and a failure prints the screen.
Exit status 77 (skipped) without tmux.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TRIES = 1200          # polls of the screen (or of jack_lsp) before giving up
POLL_S = 0.05
PROMPT = "csjack> "


class Failure(Exception):
    pass


class Session:
    """One csjack in one tmux session; its exit status goes to a file."""

    def __init__(self, t, name, env_extra, args, pipe_to=None):
        self.t = t
        self.name = name
        self.status_path = os.path.join(t.tmp, name + ".status")
        self.stty_path = os.path.join(t.tmp, name + ".stty")
        self.pid_path = os.path.join(t.tmp, name + ".pid")
        env = dict(env_extra)
        env["JACK_DEFAULT_SERVER"] = t.server
        env["JACK_NO_START_SERVER"] = "1"
        env["HOME"] = t.home
        env_words = " ".join(shlex.quote(k + "=" + v) for k, v in sorted(env.items()))
        csjack = " ".join(shlex.quote(a) for a in [t.csjack] + args)
        # The shell runs csjack in the foreground of the pane's terminal,
        # then keeps the pane for reading. Its trap keeps it alive through
        # the Ctrl-C meant for csjack (a handler, not an ignore: csjack
        # must get SIGINT).
        # With pipe_to, csjack's stdout goes into a pipe and its status is
        # written inside the pipeline, so it is csjack's, not the reader's.
        run = "env {env} {csjack}; echo $? > {status}.tmp".format(
            env=env_words, csjack=csjack, status=shlex.quote(self.status_path))
        if pipe_to:
            run = "{{ {}; }} | {}".format(run, pipe_to)
        script = (
            "trap true INT; echo $$ > {pid}; {run}; "
            "mv {status}.tmp {status}; stty -a > {stty}; exec sleep 3600"
        ).format(pid=shlex.quote(self.pid_path), run=run,
                 status=shlex.quote(self.status_path), stty=shlex.quote(self.stty_path))
        t.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "60", "sh -c " + shlex.quote(script))

    def screen(self):
        return self.t.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", self.name,
                           capture=True)

    def keys(self, *keys):
        self.t.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text):
        self.t.tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, what, check):
        """Polls the screen until check(screen) is true."""
        screen = ""
        for _ in range(TRIES):
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(POLL_S)
        raise Failure("{}: never saw {}; the screen:\n{}".format(self.name, what, screen))

    def wait_text(self, text, count=1):
        return self.wait_for("{!r} (x{})".format(text, count), lambda s: s.count(text) >= count)

    def wait_prompt_line(self, line):
        """The last non-blank line of the screen is exactly @p line."""
        def last_is(s):
            lines = [l.rstrip() for l in s.splitlines() if l.strip()]
            return bool(lines) and lines[-1] == line
        return self.wait_for("the last line {!r}".format(line), last_is)

    def wait_status(self):
        for _ in range(TRIES):
            if os.path.exists(self.status_path):
                with open(self.status_path) as f:
                    return int(f.read().strip())
            time.sleep(POLL_S)
        raise Failure("{}: csjack did not exit; the screen:\n{}".format(self.name, self.screen()))

    def csjack_pid(self):
        """csjack's pid: the process under the pane's shell that runs the
        csjack executable."""
        with open(self.pid_path) as f:
            shell = int(f.read().strip())
        exe = os.path.realpath(self.t.csjack)
        for _ in range(TRIES):
            children = {}
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        with open("/proc/{}/stat".format(d)) as f:
                            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                        children.setdefault(ppid, []).append(int(d))
                    except (OSError, ValueError, IndexError):
                        pass
            todo = list(children.get(shell, []))
            while todo:
                pid = todo.pop()
                try:
                    if os.path.realpath("/proc/{}/exe".format(pid)) == exe:
                        return pid
                except OSError:
                    pass
                todo.extend(children.get(pid, []))
            time.sleep(POLL_S)
        raise Failure("{}: no csjack process under the pane's shell".format(self.name))


class Test:
    def __init__(self, csjack, data):
        self.csjack = csjack
        self.data = data
        self.tmp = tempfile.mkdtemp(prefix="csj-tty-")
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)
        self.server = "csjtty-{}".format(os.getpid())
        self.socket = "csjtty-{}".format(os.getpid())
        self.jackd = None
        self.tmux_started = False

    def tmux(self, *args, capture=False):
        r = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null"] + list(args),
                           capture_output=True, text=True)
        self.tmux_started = True
        if r.returncode != 0 and args[0] != "kill-server":
            raise Failure("tmux {} failed: {}".format(" ".join(args), r.stderr))
        return r.stdout if capture else None

    def jack_env(self):
        env = dict(os.environ)
        env["JACK_DEFAULT_SERVER"] = self.server
        env["JACK_NO_START_SERVER"] = "1"
        env["JACK_NO_AUDIO_RESERVATION"] = "1"
        return env

    def ports(self):
        r = subprocess.run(["jack_lsp"], env=self.jack_env(), capture_output=True, text=True)
        return r.stdout.split() if r.returncode == 0 else None

    def start_jackd(self):
        log = open(os.path.join(self.tmp, "jackd.log"), "w")
        self.jackd = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", self.server, "-d", "dummy", "-r", "48000", "-p", "256"],
            env=self.jack_env(), stdout=log, stderr=subprocess.STDOUT)
        for _ in range(TRIES):
            if self.jackd.poll() is not None:
                raise Failure("jackd exited with {}".format(self.jackd.returncode))
            if self.ports() is not None:
                return
            time.sleep(POLL_S)
        raise Failure("the private jackd never answered")

    def wait_port(self, port, present=True):
        for _ in range(TRIES):
            ports = self.ports() or []
            if (port in ports) == present:
                return
            time.sleep(POLL_S)
        raise Failure("port {} {}".format(port, "never appeared" if present else "stayed"))

    def cleanup(self):
        if self.tmux_started:
            self.tmux("kill-server")
        if self.jackd and self.jackd.poll() is None:
            self.jackd.terminate()
            try:
                self.jackd.wait(10)
            except subprocess.TimeoutExpired:
                self.jackd.kill()
                self.jackd.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def history_lines(path):
    """libedit's history file, its vis(3) escapes (\\040, ...) decoded."""
    with open(path, "rb") as f:
        raw = f.read().decode("utf-8", "replace").splitlines()
    if not raw or raw[0] != "_HiStOrY_V2_":
        raise Failure("{} is not a libedit history file: {!r}".format(path, raw[:2]))
    return [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), l) for l in raw[1:]]


def expect(cond, what, screen=""):
    if not cond:
        raise Failure(what + ("; the screen:\n" + screen if screen else ""))


def first_session(t, orc, state):
    name = "csjtty{}a".format(os.getpid())
    s = Session(t, "first", {"XDG_STATE_HOME": state}, ["--no-connect", "-n", name, orc])
    s.wait_prompt_line(PROMPT.rstrip())
    t.wait_port(name + ":out_1")

    # A command and its reply.
    s.type(":eval return 2+2")
    s.keys("Enter")
    s.wait_text("ok eval 4")
    # Up recalls it from the history; Enter runs it again.
    s.keys("Up")
    s.wait_prompt_line(PROMPT + ":eval return 2+2")
    s.keys("Enter")
    s.wait_text("ok eval 4", 2)
    # Left arrow and Backspace edit the line: 5+2 becomes 7+2.
    s.type(":eval return 5+2")
    s.keys("Left", "Left", "BSpace")
    s.type("7")
    s.wait_prompt_line(PROMPT + ":eval return 7+2")
    s.keys("Enter")
    screen = s.wait_text("ok eval 9")
    expect("^[[D" not in screen and not re.search(r"^error", screen, re.M),
           "an arrow key reached the line", screen)
    # Tab completes a command from the console's table.
    s.type(":sta")
    s.keys("Tab")
    s.wait_prompt_line(PROMPT + ":stats")
    s.keys("Enter")
    s.wait_text("ok stats cycles=")
    # Tab on a prefix shared by several lists them and keeps the line.
    s.type(":re")
    s.keys("Tab")
    s.wait_text(":record  :reset-peak")
    s.wait_prompt_line(PROMPT + ":re")
    s.keys("C-u")
    s.wait_prompt_line(PROMPT.rstrip())

    # Csound prints while a line is typed: the line is drawn again below.
    s.type(r':orc instr 50\nprintks "tick %d\\n", 0.2, timeinsts()*5\nendin')
    s.keys("Enter")
    s.wait_text("ok orc")
    s.type("i 50 0 3")
    s.keys("Enter")
    s.wait_text("ok score")
    s.type(":chn amp 0.25")
    s.wait_for("eight ticks", lambda x: len(re.findall(r"^tick \d+\s*$", x, re.M)) >= 8)
    s.wait_prompt_line(PROMPT + ":chn amp 0.25")
    screen = s.screen()
    for line in screen.splitlines():
        if "tick" in line and "printks" not in line:
            expect(re.match(r"^tick \d+\s*$", line), "a message and the line mixed: " + repr(line),
                   screen)
    # The line is whole: Enter sends it as typed.
    s.keys("Enter")
    s.wait_text("ok chn amp 0.25")

    # A line refused for its length stays out of the history: Up brings
    # back the line before it (and the file is checked below).
    long_line = ":eval return " + "1" * (65537 - len(":eval return "))
    for i in range(0, len(long_line), 4096):
        s.type(long_line[i:i + 4096])
    s.keys("Enter")
    s.wait_text("error line too long (65537 bytes, max 65536)")
    s.keys("Up")
    s.wait_prompt_line(PROMPT + ":chn amp 0.25")
    s.keys("C-u")
    s.wait_prompt_line(PROMPT.rstrip())

    # Ctrl-D closes the console; the music plays on.
    s.keys("C-d")
    s.wait_text("console closed; the music plays on (Ctrl-C to stop)")
    t.wait_port(name + ":out_1")
    time.sleep(0.5)  # not a bound: csjack must still be there after a while
    expect(name + ":out_1" in (t.ports() or []), "csjack's ports went away after Ctrl-D",
           s.screen())

    # Ctrl-C stops it: status 0 and the summary.
    s.keys("C-c")
    status = s.wait_status()
    screen = s.screen()
    expect(status == 0, "exit status {} after Ctrl-C".format(status), screen)
    expect("csjack: stopped (SIGINT); cycles " in screen, "no summary line", screen)
    expect(re.search(r"longest callback [0-9.]+ ms of 5\.33 ms", screen) is not None,
           "no 'longest callback ... of 5.33 ms' in the summary", screen)
    expect(re.search(r"late callbacks \d+, dropped cycles \d+", screen) is not None,
           "no late callbacks / dropped cycles in the summary", screen)
    expect(re.search(r"played \d+\.\d s, status 0", screen) is not None,
           "no 'played N s' in the summary", screen)
    t.wait_port(name + ":out_1", present=False)
    # The terminal's own mode is back.
    with open(s.stty_path) as f:
        stty = f.read().split()
    expect("icanon" in stty and "echo" in stty, "the terminal was left in raw mode: " + " ".join(stty))

    # The history file holds the lines, in order, one each.
    hist = history_lines(os.path.join(state, "csjack", "history"))
    for want in [":eval return 2+2", ":eval return 7+2", ":stats", "i 50 0 3", ":chn amp 0.25"]:
        expect(want in hist, "{!r} not in the history file: {!r}".format(want, hist))
    expect(hist.index(":stats") < hist.index(":chn amp 0.25"), "history out of order: {!r}".format(hist))
    expect(all(len(l) <= 65536 for l in hist), "a line refused for its length is in the history file")
    mode = os.stat(os.path.join(state, "csjack", "history")).st_mode & 0o777
    expect(mode == 0o600, "the history file's mode is {:o}, not 600".format(mode))
    print("first session: ok ({} history lines)".format(len(hist)))


def second_session(t, orc, state):
    name = "csjtty{}b".format(os.getpid())
    s = Session(t, "second", {"XDG_STATE_HOME": state}, ["--no-connect", "-n", name, orc])
    s.wait_prompt_line(PROMPT.rstrip())
    # The last session's last line comes back with Up.
    s.keys("Up")
    s.wait_prompt_line(PROMPT + ":chn amp 0.25")
    # Ctrl-C while a line is typed stops csjack.
    s.keys("C-c")
    status = s.wait_status()
    screen = s.screen()
    expect(status == 0, "exit status {} after Ctrl-C while typing".format(status), screen)
    expect("csjack: stopped (SIGINT); cycles " in screen, "no summary line", screen)
    print("second session: ok")


def third_session(t, orc):
    # XDG_STATE_HOME is a regular file: no history directory can be made.
    blocker = os.path.join(t.tmp, "not-a-directory")
    with open(blocker, "w") as f:
        f.write("x")
    name = "csjtty{}c".format(os.getpid())
    s = Session(t, "third", {"XDG_STATE_HOME": blocker}, ["--no-connect", "-n", name, orc])
    s.wait_prompt_line(PROMPT.rstrip())
    s.type(":eval return 6*7")
    s.keys("Enter")
    s.wait_text("ok eval 42")
    s.type(":eval return 1")
    s.keys("Enter")
    screen = s.wait_text("ok eval 1")
    expect(screen.count("csjack: notice: cannot create the directory of the console history") == 1,
           "want one notice about the history", screen)
    os.kill(s.csjack_pid(), signal.SIGTERM)
    status = s.wait_status()
    screen = s.screen()
    expect(status == 0, "exit status {} after SIGTERM".format(status), screen)
    expect("csjack: stopped (SIGTERM); cycles " in screen, "no summary line", screen)
    print("third session: ok")


def fourth_session(t, orc):
    # Csound hangs (an endless loop at i-time on the JACK thread) while a
    # line is being typed: csjack cannot wait for the console's thread and
    # exits with status 9, but gives the terminal its own mode back.
    name = "csjtty{}d".format(os.getpid())
    s = Session(t, "fourth", {"XDG_STATE_HOME": os.path.join(t.tmp, "state4")},
                ["--no-connect", "--hang-limit", "500", "-n", name, orc])
    s.wait_prompt_line(PROMPT.rstrip())
    s.type(r":orc instr 60\nki = 0\nwhile ki >= 0 do\nki += 1\nki -= 1\nod\nendin")
    s.keys("Enter")
    s.wait_text("ok orc")
    s.type("i 60 0.5 1")
    s.keys("Enter")
    s.wait_text("ok score")
    s.type(":chn amp 0.1")
    status = s.wait_status()
    screen = s.screen()
    expect(status == 9, "exit status {} after the hang, not 9".format(status), screen)
    expect("csjack: Csound hung; cycles " in screen, "no summary line", screen)
    with open(s.stty_path) as f:
        stty = f.read().split()
    expect("icanon" in stty and "echo" in stty,
           "the terminal was left in raw mode after the hang: " + " ".join(stty), screen)
    print("fourth session: ok")


def fifth_session(t, orc):
    # stdin a terminal but stdout a pipe: the plain protocol, no prompt, no
    # editing (what is typed is the terminal's own echo).
    name = "csjtty{}e".format(os.getpid())
    s = Session(t, "fifth", {"XDG_STATE_HOME": os.path.join(t.tmp, "state5")},
                ["--no-connect", "-n", name, orc], pipe_to="cat")
    t.wait_port(name + ":out_1")
    s.type(":eval return 2+2")
    s.keys("Enter")
    screen = s.wait_text("ok eval 4")
    expect(PROMPT.strip() not in screen, "a prompt with stdout in a pipe", screen)
    expect(not os.path.exists(os.path.join(t.tmp, "state5")), "a history with stdout in a pipe",
           screen)
    s.keys("C-d")
    time.sleep(0.5)  # not a bound: EOF must leave the music playing
    expect(name + ":out_1" in (t.ports() or []), "EOF stopped the music", s.screen())
    expect("console closed" not in s.screen(), "the terminal's message through a pipe", s.screen())
    os.kill(s.csjack_pid(), signal.SIGINT)
    status = s.wait_status()
    expect(status == 0, "exit status {} after SIGINT".format(status), s.screen())
    print("fifth session: ok")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    if shutil.which("tmux") is None:
        print("tmux is not installed: skipped")
        return 77
    csjack = os.path.abspath(sys.argv[1])
    orc = os.path.join(os.path.abspath(sys.argv[2]), "console_play.orc")
    t = Test(csjack, orc)
    try:
        t.start_jackd()
        state = os.path.join(t.tmp, "state")
        first_session(t, orc, state)
        second_session(t, orc, state)
        third_session(t, orc)
        fourth_session(t, orc)
        fifth_session(t, orc)
    except Failure as e:
        print("FAIL:", e)
        return 1
    finally:
        t.cleanup()
    print("console_tty: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
