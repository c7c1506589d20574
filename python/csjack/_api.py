# SPDX-License-Identifier: LGPL-2.1-or-later
"""csjack's Python binding in ctcsound7's shape: the Csound class.

The design and its reasons are in docs/python.md. In short: a Csound object
collects options and compiles until the engine starts (at the performance
thread's play(), or when something needs it running); then cs.compileOrc and
cs.evalCode take Csound between two JACK cycles (the direct path), the
performance thread's calls are queued commands (_thread.py), and task(fn)
runs fn on csjack's worker thread while the JACK thread holds the line of
commands (csj_engine_task_off_thread). Python never runs on the JACK thread.
Every queued call waits for room when the ring is full (backpressure), in
short slices so that Ctrl-C works.
"""

import atexit
import ctypes
import math
import shlex
import sys
import threading
import time as _time
import weakref

from . import _lib
from ._lib import lib
from ._support import (CSOUND_ERROR, CSOUND_SUCCESS, ERR_SIZE, SUBMIT_SLICE_MS,
                       BadArgumentError, CsjackError, CsoundError, c_text, check, error,
                       forget_engine, in_callback, on_worker, report_exception, running_task,
                       why)
from ._support import kind as _kind, pfields as _pfields
from ._thread import CsoundPerformanceThread, PerformanceThread

__all__ = ["CSOUND_ERROR", "CSOUND_SUCCESS", "BadArgumentError", "Csound", "CsoundError",
           "CsoundPerformanceThread", "CsjackError", "PerformanceThread"]

_DEFAULT_NAME = "csjack"
_DEFAULT_NAME_TRIES = 16

# ---- lifetime -----------------------------------------------------------------------

_live = weakref.WeakSet()


@atexit.register
def _destroy_all():
    """The interpreter is exiting: every engine is stopped and destroyed
    while Python still runs, so no csjack thread calls into a finalising
    interpreter. A task that never returns is given up on after the hang
    limit (the library says so), so the exit ends."""
    for cs in list(_live):
        try:
            cs.destroy()
        except BaseException:
            pass


class Csound:
    """A Csound instance performed by csjack, inside a JACK client's process callback.

    The positional arguments are ctcsound7's (``hostData``, ``opcodeDir``),
    kept for compatibility. The keywords are csjack's JACK options:

    - ``client_name``: the JACK client's exact name. Not given: ``"csjack"``,
      or ``"csjack-2"``, ``"csjack-3"``, ... when that is taken.
    - ``server``: the JACK server's name (default: ``JACK_DEFAULT_SERVER`` or
      the default server). No server is ever started.
    - ``connect_out``, ``connect_in``: regular expressions for the ports to
      connect to (default: the physical playback/capture ports);
      ``no_connect=True`` connects nothing.
    - ``connect_midi_in``, ``connect_midi_out``, ``no_midi``: csjack's MIDI ports.
    - ``transport``: ``"ignore"`` (default) or ``"follow"``: whether the score
      follows the JACK transport (docs/studio.md); ``timebase_master=True``
      makes csjack the JACK timebase master when no client is.
    - ``hang_limit_ms``: csjack's watchdog (0: its default of 2000 ms;
      negative: never), also how long the close waits for a task that
      does not return.
    - ``message_callback``: ``fn(attr, text)`` for Csound's and csjack's
      messages, called on csjack's threads (never the JACK thread); default
      the process's stderr.
    - ``strict``: compile and evalCode errors raise CsoundError instead of
      returning CSOUND_ERROR / NaN.
    - ``timeout``: seconds the performance thread's waiting calls wait by
      default (evalCode, tables).
    """

    def __init__(self, hostData=None, opcodeDir="", pointer=None, *, client_name=None,
                 server=None, connect_out=None, connect_in=None, no_connect=False,
                 connect_midi_in=None, connect_midi_out=None, no_midi=False,
                 transport="ignore", timebase_master=False, hang_limit_ms=0, message_callback=None, strict=False, timeout=5.0):
        if pointer is not None:
            raise CsjackError("Csound(pointer=...)", _lib.CSJ_ERR_BAD_ARG,
                              "csjack owns its Csound instance; a CSOUND* cannot be adopted")
        self._host_data = hostData
        self._client_name = client_name
        self._server = server
        self._connect_out = connect_out
        self._connect_in = connect_in
        self._no_connect = no_connect
        self._connect_midi_in = connect_midi_in
        self._connect_midi_out = connect_midi_out
        self._no_midi = no_midi
        if transport not in ("ignore", "follow"):
            raise CsjackError("Csound(transport=...)", _lib.CSJ_ERR_BAD_ARG,
                              "transport is 'ignore' or 'follow', not %r" % (transport,))
        self._transport = transport
        self._timebase_master = bool(timebase_master)
        self._hang_limit_ms = hang_limit_ms
        self._message_callback = message_callback
        self._message_fn = None
        self.strict = strict
        self.timeout = timeout
        self._args = []
        self._option_error = ""
        if opcodeDir:
            self._args.append("--opcode-dir=" + opcodeDir)
        self._e = None           # CsjEngine*, as an int
        self._compiled = False
        self._started = False
        self._ended_stats = None
        self._end = None          # (reason, code) once joined
        self._lock = threading.RLock()
        # Calls inside the library on this engine now: the engine is
        # destroyed only once they have left (a queued call may wait there).
        self._calls = 0
        self._idle = threading.Condition(self._lock)
        self._destroyed = None    # set once the library's destroy has returned
        # Closed while the process callback's next call waits for room in a
        # full ring: the binding's queued calls wait behind it, so none
        # overtakes the call that would have seen what was put before it.
        self._chain_open = threading.Event()
        self._chain_open.set()
        self._pending_events = []  # queued calls made before start, sent at start
        self._thread_ref = None
        _live.add(self)

    # -- the engine's lifetime ----------------------------------------------------

    def _engine(self, call):
        """The engine, created on first need (options are final from then on)."""
        with self._lock:
            if self._e is None:
                if self._end is not None:
                    raise CsjackError(call, _lib.CSJ_ERR_STATE,
                                      "the performance has ended and its engine is destroyed "
                                      "(join() releases it); make a new Csound")
                self._create()
            return self._e

    def _create(self):
        opts = _lib.CsjOptions()
        lib.csj_options_init(ctypes.byref(opts))
        keep = []

        def s(value, what):
            if value is None:
                return None
            b = c_text(value, what)
            keep.append(b)
            return b

        opts.server_name = s(self._server, "server")
        opts.connect_out = s(self._connect_out, "connect_out")
        opts.connect_in = s(self._connect_in, "connect_in")
        opts.no_connect = bool(self._no_connect)
        opts.connect_midi_in = s(self._connect_midi_in, "connect_midi_in")
        opts.connect_midi_out = s(self._connect_midi_out, "connect_midi_out")
        opts.no_midi = bool(self._no_midi)
        opts.transport = 1 if self._transport == "follow" else 0
        opts.timebase_master = self._timebase_master
        opts.hang_limit_ms = int(self._hang_limit_ms)
        argv = (ctypes.c_char_p * (len(self._args) + 1))(*[s(a, "option") for a in self._args],
                                                         None)
        opts.csound_argc = len(self._args)
        opts.csound_argv = argv
        if self._message_callback is not None:
            user = self._message_callback

            def sink(_data, attr, text):
                in_callback.active = True  # a Csound collected here is destroyed elsewhere
                try:
                    user(attr, text.decode("utf-8", "replace") if text else "")
                except BaseException:
                    report_exception("the message callback")
                finally:
                    in_callback.active = False

            self._message_fn = _lib.MESSAGE_FN(sink)
            opts.message_fn = self._message_fn
        if self._client_name is not None:
            names = [self._client_name]
        else:
            names = [_DEFAULT_NAME] + [f"{_DEFAULT_NAME}-{i}"
                                       for i in range(2, _DEFAULT_NAME_TRIES + 1)]
        engine = ctypes.c_void_p()
        for name in names:
            opts.client_name = s(name, "client_name")
            status = lib.csj_engine_create(ctypes.byref(opts), ctypes.byref(engine))
            if status != _lib.CSJ_ERR_NAME_TAKEN:
                break
        if status != _lib.CSJ_SUCCESS:
            raise error("csj_engine_create", status, _lib.last_error(None))
        self._e = engine.value
        # Queued calls wait for room instead of failing: the library waits a
        # slice, the binding asks again (see _submit).
        lib.csj_engine_set_submit_timeout(self._e, SUBMIT_SLICE_MS)

    def destroy(self):
        """Stops the performance and destroys the engine (its JACK client and
        Csound). Safe to call more than once; ``del cs`` and the interpreter's
        exit call it too. Waits in short slices, so Ctrl-C interrupts the
        wait (the close goes on in the background). A task that does not
        return is given up on after the hang limit (see docs/python.md)."""
        with self._lock:
            e, self._e = self._e, None
            done = self._destroyed
            if e is not None:
                if self._end is None:
                    self._end = (_lib.END_STOPPED, 0) if self._started else (_lib.END_NONE, 0)
                self._remember_stats(e)
                done = self._destroyed = threading.Event()
        if done is None:
            return
        if e is not None:
            # What waits inside the library (a queued call, a table read)
            # returns once the performance has ended.
            lib.csj_engine_stop(e)
            try:
                threading.Thread(target=self._destroy_engine, args=(e, done), daemon=True,
                                 name="csjack-destroy").start()
            except RuntimeError:  # no new threads (the interpreter is finalising)
                self._destroy_engine(e, done)
        if on_worker():
            # On csjack's worker (a task dropped the last reference): the
            # close waits for this very thread, so it is not waited for here.
            return
        while not done.wait(0.1):
            pass

    def _destroy_engine(self, e, done):
        try:
            with self._lock:
                while self._calls:
                    self._idle.wait(0.1)
            lib.csj_engine_destroy(e)
            held = running_task(self)
            if held is not None:
                self._say(f"csjack: the task that has not returned is {held}\n")
            forget_engine(self)
        finally:
            done.set()

    def _say(self, text):
        """A line of the binding's own, where csjack's messages go."""
        if self._message_callback is not None:
            try:
                self._message_callback(0, text)
            except BaseException:
                report_exception("the message callback")
        else:
            sys.stderr.write(text)
            sys.stderr.flush()

    def _remember_stats(self, e):
        st = _lib.CsjStats()
        lib.csj_engine_stats(e, ctypes.byref(st))
        self._ended_stats = st.as_dict()

    def __del__(self):
        try:
            self.destroy()
        except BaseException:
            pass

    # -- calls into the engine: kept apart from its destruction -------------------------

    def _enter(self, call):
        with self._lock:
            e = self._e
            if e is None:
                raise CsjackError(call, _lib.CSJ_ERR_STATE,
                                  "the performance has ended (join() released the engine)")
            self._calls += 1
            return e

    def _leave(self):
        with self._lock:
            self._calls -= 1
            if not self._calls:
                self._idle.notify_all()

    def _raw(self, call, fn, *args):
        """fn(e, *args), with the engine kept alive meanwhile."""
        e = self._enter(call)
        try:
            return fn(e, *args)
        finally:
            self._leave()

    def _call(self, call, fn, *args):
        """fn(e, *args), with the engine kept alive meanwhile: (status, what
        csj_last_error says about it)."""
        e = self._enter(call)
        try:
            status = fn(e, *args)
            return status, why(e, status) if status != _lib.CSJ_SUCCESS else ""
        finally:
            self._leave()

    def _submit(self, call, fn, *args, chain=False):
        """A queueing call fn(e, *args) that waits for room: while the ring
        (or the library's limit of commands in flight) is full, the library
        waits a slice and the binding asks again, until the command is
        queued or the performance ends (CSJ_ERR_STATE). On csjack's worker
        (a task, a callback) it asks once: the line that thread holds is
        what would make room. Returns (status, message)."""
        worker = on_worker()
        while True:
            if not chain and not worker:
                while not self._chain_open.wait(0.1):
                    pass
            t0 = _time.monotonic()
            status, message = self._call(call, fn, *args)
            if status != _lib.CSJ_ERR_RING_FULL or worker:
                return status, message
            if _time.monotonic() - t0 < 0.001:
                _time.sleep(0.001)  # the library did not wait (a submit timeout of 0)

    def _queued(self, call, fn, *args):
        """_submit, raising what it could not queue."""
        status, message = self._submit(call, fn, *args)
        check(call, status, message=message)

    # -- options and compiling before the start ---------------------------------------

    def setOption(self, option):
        """Adds Csound command-line options; several words in one string are
        several options (``'-d -odac -m0'``). Options for jobs csjack does
        itself (``-odac``, ``-iadc``, ``-b``, ``-B``, ``-+rtaudio``, ...) are
        accepted and left out with a notice. Before the first compile only.
        Returns 0, or CSOUND_ERROR when Csound or csjack refuses one of the
        options (then none of them is kept; the reason is in lastError(),
        and CsoundError is raised with strict)."""
        if self._e is not None or self._end is not None:
            raise CsjackError("setOption", _lib.CSJ_ERR_STATE,
                              "options must be set before the first compile")
        words = shlex.split(option) if isinstance(option, str) else list(option)
        encoded = [c_text(w, "setOption") for w in words]
        argv = (ctypes.c_char_p * (len(encoded) + 1))(*encoded, None)
        status = lib.csj_check_options(len(encoded), argv)
        if status != _lib.CSJ_SUCCESS:
            # Checked now, as Csound's csoundSetOption answers at once: a
            # refused option kept for later would fail every call after it.
            self._option_error = _lib.last_error(None)
            if status != _lib.CSJ_ERR_OPTION:
                raise error("setOption", status, self._option_error)
            if self.strict:
                raise CsoundError("setOption", status, self._option_error)
            sys.stderr.write("csjack: " + self._option_error + "\n")
            return CSOUND_ERROR
        self._args.extend(words)
        return CSOUND_SUCCESS

    def _code_result(self, call, status, message, failure_return):
        """None on success; Csound's refusal of code as ctcsound7 answers it
        (or CsoundError with strict); csjack's failures raise."""
        if status == _lib.CSJ_SUCCESS:
            return None
        if status in (_lib.CSJ_ERR_COMPILE, _lib.CSJ_ERR_EVAL):
            if self.strict:
                raise CsoundError(call, status, message)
            return failure_return
        raise error(call, status, message)

    def _code_call(self, call, fn, *args):
        """A call that fills an error buffer: (status, Csound's or csjack's words)."""
        err = ctypes.create_string_buffer(ERR_SIZE)
        e = self._enter(call)
        try:
            status = fn(e, *args, err, ERR_SIZE)
            message = err.value.decode("utf-8", "replace") if err.value else \
                _lib.last_error(e) if status != _lib.CSJ_SUCCESS else ""
            return status, message
        finally:
            self._leave()

    def compileOrc(self, orc, block=True):
        """Compiles orchestra code. Before the start it is part of what
        starts; while performing it is the direct path (Csound taken between
        two cycles, on this thread; ``block=False`` queues it instead, merged
        a unit at a time). Returns 0, or CSOUND_ERROR when Csound refuses the
        code (its message on the message sink; CsoundError with strict)."""
        code = c_text(orc, "compileOrc")
        self._engine("compileOrc")
        if not self._started:
            status, message = self._call("compileOrc", lib.csj_engine_compile_orc_text, code)
            if status == _lib.CSJ_SUCCESS:
                self._compiled = True
            r = self._code_result("compileOrc", status, message, CSOUND_ERROR)
            return CSOUND_SUCCESS if r is None else r
        if not block:
            return self.performanceThread().compile(orc)
        status, message = self._code_call("compileOrc", lib.csj_engine_compile_orc_direct, code)
        r = self._code_result("compileOrc", status, message, CSOUND_ERROR)
        return CSOUND_SUCCESS if r is None else r

    def compileOrcAsync(self, orc):
        return self.compileOrc(orc, block=False)

    def evalCode(self, code):
        """Evaluates code and returns what its ``return`` set: the direct
        path (Csound taken between two cycles, on this thread), also before
        the start once something is compiled. NaN when Csound refuses the
        code (CsoundError with strict)."""
        text = c_text(code, "evalCode")
        self._engine("evalCode")
        if not self._compiled:
            raise CsjackError("evalCode", _lib.CSJ_ERR_STATE,
                              "compile an orchestra first (compileOrc)")
        value = ctypes.c_double(math.nan)
        status, message = self._code_call("evalCode", lib.csj_engine_eval_code_direct, text,
                                          ctypes.byref(value))
        r = self._code_result("evalCode", status, message, math.nan)
        return value.value if r is None else r

    def compileCsd(self, path):
        """Compiles a .csd file (or a .orc file) before the start. While
        performing, a .orc file is compiled as compileOrc would; a CSD then
        is an error (csjack compiles a CSD's options and score at start only)."""
        path = str(path)
        name = c_text(path, "compileCsd")
        self._engine("compileCsd")
        if self._started:
            if path.lower().endswith(".orc"):
                with open(path, encoding="utf-8") as f:
                    code = f.read()
                # Its #include files and samples are found beside it, as
                # before the start (a folder that cannot be added is said).
                lib.csj_engine_add_file_folder(self._engine("compileCsd"), name)
                return self.compileOrc(code)
            raise CsjackError("compileCsd", _lib.CSJ_ERR_STATE,
                              "a CSD compiles before the start only; use compileOrc while "
                              "performing")
        status, message = self._call("compileCsd", lib.csj_engine_compile_file, name)
        if status == _lib.CSJ_SUCCESS:
            self._compiled = True
        r = self._code_result("compileCsd", status, message, CSOUND_ERROR)
        return CSOUND_SUCCESS if r is None else r

    def compileCsdText(self, text):
        """Compiles CSD text before the start (its <CsOptions> are read by csjack)."""
        csd = c_text(text, "compileCsdText")
        self._engine("compileCsdText")
        if self._started:
            raise CsjackError("compileCsdText", _lib.CSJ_ERR_STATE,
                              "a CSD compiles before the start only; use compileOrc while "
                              "performing")
        status, message = self._call("compileCsdText", lib.csj_engine_compile_csd_text, csd)
        if status == _lib.CSJ_SUCCESS:
            self._compiled = True
        r = self._code_result("compileCsdText", status, message, CSOUND_ERROR)
        return CSOUND_SUCCESS if r is None else r

    # -- start, stop ---------------------------------------------------------------------

    def start(self):
        """Starts the performance: registers the ports, activates the JACK
        client, connects. Idempotent while performing. Returns 0; after the
        end (join(), cleanup()) CsjackError CSJ_ERR_STATE, as every call."""
        with self._lock:
            if self._started:
                if self._e is None:
                    raise CsjackError("start", _lib.CSJ_ERR_STATE,
                                      "the performance has ended and its engine is destroyed "
                                      "(join() releases it); make a new Csound, or reset()")
                return CSOUND_SUCCESS
            self._engine("start")
            if not self._compiled:
                raise CsjackError("start", _lib.CSJ_ERR_STATE,
                                  "nothing compiled yet (compileOrc, compileCsd)")
            status, message = self._call("start", lib.csj_engine_start)
            check("csj_engine_start", status, message=message)
            self._started = True
            pending, self._pending_events = self._pending_events, []
        # One refused (a NaN p-field) does not take the others with it.
        first = None
        for send in pending:
            try:
                send()
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first
        return CSOUND_SUCCESS

    def _running_engine(self, call):
        """The engine of a performance that has started (starting it if needed)."""
        if not self._started:
            self.start()
        e = self._e
        if e is None:
            raise CsjackError(call, _lib.CSJ_ERR_STATE, "the engine has been destroyed")
        return e

    def stop(self):
        """Asks the performance to end (at the start of the next cycle)."""
        with self._lock:
            e = self._e
            if e is not None:
                lib.csj_engine_stop(e)

    def cleanup(self):
        """Ends the performance and releases the engine (as join() does)."""
        if self._e is not None:
            self.stop()
            self._join()
        return CSOUND_SUCCESS

    def reset(self):
        """csjack cannot compile a new performance into a used engine: this
        ends and releases the engine, and the next compile makes a new one
        with the same options."""
        self.cleanup()
        with self._lock:
            self._end = None
            self._started = False
            self._compiled = False
            self._ended_stats = None
            self._destroyed = None

    def perform(self):
        """Starts and waits for the end of the performance (the score's end,
        stop(), exitnow). Returns the status join() returns."""
        self.start()
        return self._join()

    def _join(self):
        e = self._e
        if e is None:
            return self._status_of(self._end)
        if self._started:
            while self._raw("join", lib.csj_engine_wait, 100) == _lib.CSJ_ERR_TIMEOUT:
                pass  # in slices, so that Ctrl-C reaches Python
        code = ctypes.c_int(0)
        reason = self._raw("join", lib.csj_engine_join, ctypes.byref(code))
        with self._lock:
            self._end = (reason, code.value)
        self.destroy()
        return self._status_of(self._end)

    @staticmethod
    def _status_of(end):
        if end is None or end[0] == _lib.END_NONE:
            return 0
        reason, code = end
        if reason in (_lib.END_SCORE, _lib.END_STOPPED):
            return 1
        if reason == _lib.END_EXITNOW:
            return 1 if code == 0 else -abs(code)
        return -1

    def isRunning(self):
        e = self._e
        return bool(e is not None and lib.csj_engine_is_running(e))

    # -- the performance thread ------------------------------------------------------------

    def performanceThread(self, withProcessQueue=False):
        """The performance thread of this Csound: the same object for every
        call while it is referenced (csjack has one per Csound). The engine
        starts at its play() or when a call needs it running."""
        pt = self._thread_ref() if self._thread_ref is not None else None
        if pt is None:
            pt = CsoundPerformanceThread(self, withProcessQueue=withProcessQueue)
        elif withProcessQueue:
            pt.setProcessQueue()
        return pt

    # -- queued calls on the Csound object (ctcsound's Csound.scoreEvent, ...) ----------------

    def _queue(self, call, send):
        """Runs @send now when performing; before the start, keeps it for the start."""
        with self._lock:
            if not self._started and self._end is None:
                self._engine(call)
                self._pending_events.append(send)
                return CSOUND_SUCCESS
        send()
        return CSOUND_SUCCESS

    def scoreEvent(self, kind, pfields, absp2=False):
        """Sends a score event (queued, in order with the other commands)."""
        k = _kind(kind)
        arr, n = _pfields(pfields)

        def send():
            self._running_engine("scoreEvent")
            self._queued("csj_engine_score_event", lib.csj_engine_score_event, k, arr, n,
                         bool(absp2))
        return self._queue("scoreEvent", send)

    def event(self, kind, pfields, block=True):
        return self.scoreEvent(kind, pfields)

    def scoreEventAsync(self, kind, pfields):
        return self.scoreEvent(kind, pfields)

    def inputMessage(self, message):
        """Sends score text ("i 1 0 1 0.5"), queued."""
        text = c_text(message, "inputMessage")

        def send():
            self._running_engine("inputMessage")
            self._queued("csj_engine_input_message", lib.csj_engine_input_message, text)
        return self._queue("inputMessage", send)

    def eventString(self, message, block=True):
        return self.inputMessage(message)

    def readScore(self, score):
        return self.inputMessage(score)

    def setScoreOffsetSeconds(self, time):
        def send():
            self._running_engine("setScoreOffsetSeconds")
            self._queued("csj_engine_set_score_offset_seconds",
                         lib.csj_engine_set_score_offset_seconds, float(time))
        return self._queue("setScoreOffsetSeconds", send)

    # -- channels ---------------------------------------------------------------------------

    def setControlChannel(self, name, value):
        """Sets a control channel (an atomic store; a new name is created
        between two cycles). NaN and infinities are refused (BadArgumentError)."""
        key = c_text(name, "setControlChannel")
        self._engine("setControlChannel")
        status, message = self._call("setControlChannel", lib.csj_engine_set_control, key,
                                     float(value))
        check("csj_engine_set_control", status, message=message)

    def controlChannel(self, name):
        """Returns ``(value, 0)``, as ctcsound7 does; a failure raises."""
        key = c_text(name, "controlChannel")
        self._engine("controlChannel")
        v = ctypes.c_double(0.0)
        status, message = self._call("controlChannel", lib.csj_engine_get_control, key,
                                     ctypes.byref(v))
        check("csj_engine_get_control", status, message=message)
        return v.value, CSOUND_SUCCESS

    def setStringChannel(self, name, string):
        key = c_text(name, "setStringChannel")
        text = c_text(string, "setStringChannel")
        self._running_engine("setStringChannel")
        self._queued("csj_engine_set_string_channel", lib.csj_engine_set_string_channel, key,
                     text)

    def stringChannel(self, name, size=65536):
        key = c_text(name, "stringChannel")
        self._engine("stringChannel")
        buf = ctypes.create_string_buffer(size)
        status, message = self._call("stringChannel", lib.csj_engine_get_string_channel, key,
                                     buf, size)
        check("csj_engine_get_string_channel", status, message=message)
        return buf.value.decode("utf-8", "replace")

    # -- tables (queued: ordered with events and compiles) --------------------------------------

    def _timeout_ms(self, timeout):
        timeout = self.timeout if timeout is None else timeout
        return -1 if timeout is None or timeout < 0 else int(timeout * 1000)

    def tableGet(self, table, index, timeout=None):
        self._running_engine("tableGet")
        v = ctypes.c_double(0.0)
        self._queued("csj_engine_table_get", lib.csj_engine_table_get, int(table), int(index),
                     ctypes.byref(v), self._timeout_ms(timeout))
        return v.value

    def tableSet(self, table, index, value):
        self._running_engine("tableSet")
        self._queued("csj_engine_table_set", lib.csj_engine_table_set, int(table), int(index),
                     float(value))

    def tableLength(self, table, timeout=None):
        """The table's length, or -1 when there is no such table."""
        self._running_engine("tableLength")
        n = ctypes.c_size_t(0)
        status, message = self._submit("csj_engine_table_copy_out",
                                       lib.csj_engine_table_copy_out, int(table), None, 0,
                                       ctypes.byref(n), self._timeout_ms(timeout))
        if status == _lib.CSJ_ERR_NOT_FOUND:
            return -1
        check("csj_engine_table_copy_out", status, message=message)
        return n.value

    def table(self, table, timeout=None):
        """A copy of the table's values (a list), or None when there is no
        such table. (ctcsound7 returns a numpy view of Csound's memory; csjack
        copies, in order with the other commands.)"""
        n = self.tableLength(table, timeout)
        if n < 0:
            return None
        buf = (ctypes.c_double * max(n, 1))()
        got = ctypes.c_size_t(0)
        self._queued("csj_engine_table_copy_out", lib.csj_engine_table_copy_out, int(table), buf,
                     n, ctypes.byref(got), self._timeout_ms(timeout))
        return list(buf[:min(n, got.value)])

    def tableCopyIn(self, table, values):
        self._running_engine("tableCopyIn")
        arr, n = _pfields(values)
        self._queued("csj_engine_table_copy_in", lib.csj_engine_table_copy_in, int(table), arr, n)

    def tableCopyOut(self, table, timeout=None):
        return self.table(table, timeout)

    # -- what the engine reports ------------------------------------------------------------------

    def stats(self):
        """csjack's counters (CsjStats) as a dict; after the end, the last ones."""
        with self._lock:
            e = self._e
            if e is None:
                return dict(self._ended_stats) if self._ended_stats else {}
            st = _lib.CsjStats()
            lib.csj_engine_stats(e, ctypes.byref(st))
        return st.as_dict()

    def sr(self):
        return float(self.stats().get("sample_rate", 0))

    def ksmps(self):
        return int(self.stats().get("ksmps", 0))

    def kr(self):
        s = self.stats()
        return s["sample_rate"] / s["ksmps"] if s.get("ksmps") else 0.0

    def nchnls(self):
        return int(self.stats().get("outputs", 0))

    def nchnlsInput(self):
        return int(self.stats().get("inputs", 0))

    def clientName(self):
        """The JACK client's name (None before the engine exists)."""
        with self._lock:
            e = self._e
            return lib.csj_engine_client_name(e).decode() if e is not None else None

    def lastError(self):
        with self._lock:
            e = self._e
            return _lib.last_error(e) if e is not None else self._option_error

    def hostData(self):
        return self._host_data

    def setHostData(self, data):
        self._host_data = data

    def version(self):
        """csjack's version number, MAJOR * 10000 + MINOR * 100 + MICRO."""
        major, minor, micro = (int(x) for x in _lib.version().split("."))
        return major * 10000 + minor * 100 + micro
