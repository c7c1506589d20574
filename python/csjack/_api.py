# SPDX-License-Identifier: LGPL-2.1-or-later
"""csjack's Python binding in ctcsound7's shape: Csound and its performance thread.

The design and its reasons are in docs/python.md. In short: a Csound object
collects options and compiles until the engine starts (at the performance
thread's play(), or when something needs it running); then cs.compileOrc and
cs.evalCode take Csound between two JACK cycles (the direct path), the
performance thread's calls are queued commands, and task(fn) runs fn on
csjack's worker thread while the JACK thread holds the line of commands
(csj_engine_task_off_thread). Python never runs on the JACK thread.
"""

import atexit
import ctypes
import math
import shlex
import sys
import threading
import traceback
import weakref

from . import _lib
from ._lib import lib

CSOUND_SUCCESS = 0
CSOUND_ERROR = -1

_ERR_SIZE = 2048
_DEFAULT_NAME = "csjack"
_DEFAULT_NAME_TRIES = 16


class CsjackError(RuntimeError):
    """A csjack call failed. ``status`` is the CsjStatus number, ``name`` its
    name (``"CSJ_ERR_STATE"``), ``strerror`` csj_strerror's text, ``message``
    what csjack or Csound said (csj_last_error, or Csound's own words)."""

    def __init__(self, call, status, message=""):
        self.call = call
        self.status = status
        self.name = _lib.status_name(status)
        self.strerror = _lib.strerror(status)
        self.message = message or ""
        text = f"{call}: {self.name} ({self.strerror})"
        if self.message and self.message != self.strerror:
            text += ": " + self.message
        super().__init__(text)


class CsoundError(CsjackError):
    """Csound refused code (CSJ_ERR_COMPILE, CSJ_ERR_EVAL): raised by
    compileOrc/evalCode only for a Csound created with ``strict=True``;
    otherwise they return CSOUND_ERROR / NaN, as ctcsound7 does."""


# ---- callbacks from csjack's threads -----------------------------------------------

# Python callables waiting for a C callback, by key; the C side carries the key.
_pending = {}
_pending_lock = threading.Lock()
_next_key = [1]
# Set while a thread runs a Python function for csjack (a task, a result):
# a Csound dropped there is destroyed on another thread.
_in_callback = threading.local()


def _keep(obj):
    with _pending_lock:
        key = _next_key[0]
        _next_key[0] += 1
        _pending[key] = obj
    return key


def _take(key):
    with _pending_lock:
        return _pending.pop(key, None)


def _forget_engine(owner):
    with _pending_lock:
        for key in [k for k, v in _pending.items() if v[0] is owner]:
            del _pending[key]


def _report_exception(what):
    sys.stderr.write(f"csjack: exception in {what}:\n")
    traceback.print_exc()


@_lib.OFF_THREAD_FN
def _off_thread_trampoline(engine, key):
    item = _take(key or 0)
    if item is None:
        return
    _owner, fn = item
    _in_callback.active = True
    try:
        fn()
    except BaseException:  # never into C
        _report_exception("a task")
    finally:
        _in_callback.active = False


@_lib.RESULT_FN
def _result_trampoline(data, result):
    item = _take(data or 0)
    if item is None:
        return
    _owner, fn = item
    r = result.contents
    message = r.message.decode("utf-8", "replace") if r.message else ""
    _in_callback.active = True
    try:
        fn(r.status, r.value, message)
    except BaseException:
        _report_exception("a result callback")
    finally:
        _in_callback.active = False


# ---- lifetime -----------------------------------------------------------------------

_live = weakref.WeakSet()


@atexit.register
def _destroy_all():
    """The interpreter is exiting: every engine is stopped and destroyed
    while Python still runs, so no csjack thread calls into a finalising
    interpreter."""
    for cs in list(_live):
        try:
            cs.destroy()
        except BaseException:
            pass


# The statuses after which csj_last_error says why: for the others it may
# still hold an older call's message, which would mislead.
_SAYS_WHY = {_lib.CSJ_ERR_BAD_ARG, _lib.CSJ_ERR_FILE, _lib.CSJ_ERR_COMPILE, _lib.CSJ_ERR_EVAL,
             _lib.CSJ_ERR_CSOUND, _lib.CSJ_ERR_NO_SERVER, _lib.CSJ_ERR_NAME_TAKEN,
             _lib.CSJ_ERR_JACK, _lib.CSJ_ERR_TOO_BIG, _lib.CSJ_ERR_OPTION, _lib.CSJ_ERR_RECORD,
             _lib.CSJ_ERR_CHANNELS}


def _check(call, status, engine=None, message=None):
    if status != _lib.CSJ_SUCCESS:
        if message is None:
            message = _lib.last_error(engine) if engine and status in _SAYS_WHY else ""
        raise CsjackError(call, status, message)


def _c(text):
    """Text for the C library: str (UTF-8) or bytes; anything else, None
    included, is the caller's mistake, said here rather than as a stale
    csjack error."""
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    raise TypeError(f"expected text (str or bytes), not {type(text).__name__}")


def _pfields(values):
    values = [float(v) for v in values]
    return (ctypes.c_double * max(len(values), 1))(*values), len(values)


def _kind(kind):
    if isinstance(kind, (bytes, bytearray)):
        kind = kind.decode()
    if not isinstance(kind, str) or len(kind) != 1:
        raise ValueError(f"event kind must be one character ('i', 'f', 'e', ...), not {kind!r}")
    return kind.encode()


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
    - ``hang_limit_ms``: csjack's watchdog (0: its default of 2000 ms).
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
                 hang_limit_ms=0, message_callback=None, strict=False, timeout=5.0):
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

        def s(value):
            if value is None:
                return None
            b = _c(value)
            keep.append(b)
            return b

        opts.server_name = s(self._server)
        opts.connect_out = s(self._connect_out)
        opts.connect_in = s(self._connect_in)
        opts.no_connect = bool(self._no_connect)
        opts.connect_midi_in = s(self._connect_midi_in)
        opts.connect_midi_out = s(self._connect_midi_out)
        opts.no_midi = bool(self._no_midi)
        opts.hang_limit_ms = int(self._hang_limit_ms)
        argv = (ctypes.c_char_p * (len(self._args) + 1))(*[s(a) for a in self._args], None)
        opts.csound_argc = len(self._args)
        opts.csound_argv = argv
        if self._message_callback is not None:
            user = self._message_callback

            def sink(_data, attr, text):
                _in_callback.active = True  # a Csound collected here is destroyed elsewhere
                try:
                    user(attr, text.decode("utf-8", "replace") if text else "")
                except BaseException:
                    _report_exception("the message callback")
                finally:
                    _in_callback.active = False

            self._message_fn = _lib.MESSAGE_FN(sink)
            opts.message_fn = self._message_fn
        if self._client_name is not None:
            names = [self._client_name]
        else:
            names = [_DEFAULT_NAME] + [f"{_DEFAULT_NAME}-{i}"
                                       for i in range(2, _DEFAULT_NAME_TRIES + 1)]
        engine = ctypes.c_void_p()
        for name in names:
            opts.client_name = s(name)
            status = lib.csj_engine_create(ctypes.byref(opts), ctypes.byref(engine))
            if status != _lib.CSJ_ERR_NAME_TAKEN:
                break
        if status != _lib.CSJ_SUCCESS:
            raise CsjackError("csj_engine_create", status, _lib.last_error(None))
        self._e = engine.value

    def destroy(self):
        """Stops the performance and destroys the engine (its JACK client and
        Csound). Safe to call more than once; ``del cs`` and the interpreter's
        exit call it too."""
        with self._lock:
            e, self._e = self._e, None
            if e is None:
                return
            if self._end is None:
                self._end = (_lib.END_STOPPED, 0) if self._started else (_lib.END_NONE, 0)
            self._remember_stats(e)
        if getattr(_in_callback, "active", False):
            # On csjack's worker (a task dropped the last reference): the
            # engine cannot be destroyed from its own thread.
            threading.Thread(target=self._destroy_engine, args=(e,), daemon=False).start()
        else:
            self._destroy_engine(e)

    def _destroy_engine(self, e):
        lib.csj_engine_stop(e)
        lib.csj_engine_destroy(e)
        _forget_engine(self)

    def _remember_stats(self, e):
        st = _lib.CsjStats()
        lib.csj_engine_stats(e, ctypes.byref(st))
        self._ended_stats = st.as_dict()

    def __del__(self):
        try:
            self.destroy()
        except BaseException:
            pass

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
        encoded = [_c(w) for w in words]
        argv = (ctypes.c_char_p * (len(encoded) + 1))(*encoded, None)
        status = lib.csj_check_options(len(encoded), argv)
        if status != _lib.CSJ_SUCCESS:
            # Checked now, as Csound's csoundSetOption answers at once: a
            # refused option kept for later would fail every call after it.
            self._option_error = _lib.last_error(None)
            if status != _lib.CSJ_ERR_OPTION:
                raise CsjackError("setOption", status, self._option_error)
            if self.strict:
                raise CsoundError("setOption", status, self._option_error)
            sys.stderr.write("csjack: " + self._option_error + "\n")
            return CSOUND_ERROR
        self._args.extend(words)
        return CSOUND_SUCCESS

    def _code_result(self, call, status, e, err, failure_return):
        if status == _lib.CSJ_SUCCESS:
            return None
        message = err.value.decode("utf-8", "replace") if err is not None and err.value else \
            _lib.last_error(e)
        if status in (_lib.CSJ_ERR_COMPILE, _lib.CSJ_ERR_EVAL):
            if self.strict:
                raise CsoundError(call, status, message)
            return failure_return
        raise CsjackError(call, status, message)

    def compileOrc(self, orc, block=True):
        """Compiles orchestra code. Before the start it is part of what
        starts; while performing it is the direct path (Csound taken between
        two cycles, on this thread; ``block=False`` queues it instead, merged
        a unit at a time). Returns 0, or CSOUND_ERROR when Csound refuses the
        code (its message on the message sink; CsoundError with strict)."""
        e = self._engine("compileOrc")
        code = _c(orc)
        if not self._started:
            status = lib.csj_engine_compile_orc_text(e, code)
            if status == _lib.CSJ_SUCCESS:
                self._compiled = True
            r = self._code_result("compileOrc", status, e, None, CSOUND_ERROR)
            return CSOUND_SUCCESS if r is None else r
        if not block:
            return self.performanceThread().compile(orc)
        err = ctypes.create_string_buffer(_ERR_SIZE)
        status = lib.csj_engine_compile_orc_direct(e, code, err, _ERR_SIZE)
        r = self._code_result("compileOrc", status, e, err, CSOUND_ERROR)
        return CSOUND_SUCCESS if r is None else r

    def compileOrcAsync(self, orc):
        return self.compileOrc(orc, block=False)

    def evalCode(self, code):
        """Evaluates code and returns what its ``return`` set: the direct
        path (Csound taken between two cycles, on this thread), also before
        the start once something is compiled. NaN when Csound refuses the
        code (CsoundError with strict)."""
        e = self._engine("evalCode")
        if not self._compiled:
            raise CsjackError("evalCode", _lib.CSJ_ERR_STATE,
                              "compile an orchestra first (compileOrc)")
        value = ctypes.c_double(math.nan)
        err = ctypes.create_string_buffer(_ERR_SIZE)
        status = lib.csj_engine_eval_code_direct(e, _c(code), ctypes.byref(value), err, _ERR_SIZE)
        r = self._code_result("evalCode", status, e, err, math.nan)
        return value.value if r is None else r

    def compileCsd(self, path):
        """Compiles a .csd file (or a .orc file) before the start. While
        performing, a .orc file is compiled as compileOrc would; a CSD then
        is an error (csjack compiles a CSD's options and score at start only)."""
        e = self._engine("compileCsd")
        path = str(path)
        if self._started:
            if path.lower().endswith(".orc"):
                with open(path, encoding="utf-8") as f:
                    return self.compileOrc(f.read())
            raise CsjackError("compileCsd", _lib.CSJ_ERR_STATE,
                              "a CSD compiles before the start only; use compileOrc while "
                              "performing")
        status = lib.csj_engine_compile_file(e, _c(path))
        if status == _lib.CSJ_SUCCESS:
            self._compiled = True
        r = self._code_result("compileCsd", status, e, None, CSOUND_ERROR)
        return CSOUND_SUCCESS if r is None else r

    def compileCsdText(self, text):
        """Compiles CSD text before the start (its <CsOptions> are read by csjack)."""
        e = self._engine("compileCsdText")
        if self._started:
            raise CsjackError("compileCsdText", _lib.CSJ_ERR_STATE,
                              "a CSD compiles before the start only; use compileOrc while "
                              "performing")
        status = lib.csj_engine_compile_csd_text(e, _c(text))
        if status == _lib.CSJ_SUCCESS:
            self._compiled = True
        r = self._code_result("compileCsdText", status, e, None, CSOUND_ERROR)
        return CSOUND_SUCCESS if r is None else r

    # -- start, stop ---------------------------------------------------------------------

    def start(self):
        """Starts the performance: registers the ports, activates the JACK
        client, connects. Idempotent. Returns 0."""
        with self._lock:
            if self._started:
                return CSOUND_SUCCESS
            e = self._engine("start")
            if not self._compiled:
                raise CsjackError("start", _lib.CSJ_ERR_STATE,
                                  "nothing compiled yet (compileOrc, compileCsd)")
            _check("csj_engine_start", lib.csj_engine_start(e), e)
            self._started = True
            pending, self._pending_events = self._pending_events, []
        for send in pending:
            send()
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
            while lib.csj_engine_wait(e, 100) == _lib.CSJ_ERR_TIMEOUT:
                pass  # in slices, so that Ctrl-C reaches Python
        code = ctypes.c_int(0)
        reason = lib.csj_engine_join(e, ctypes.byref(code))
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
            e = self._running_engine("scoreEvent")
            _check("csj_engine_score_event", lib.csj_engine_score_event(e, k, arr, n, bool(absp2)), e)
        return self._queue("scoreEvent", send)

    def event(self, kind, pfields, block=True):
        return self.scoreEvent(kind, pfields)

    def scoreEventAsync(self, kind, pfields):
        return self.scoreEvent(kind, pfields)

    def inputMessage(self, message):
        """Sends score text ("i 1 0 1 0.5"), queued."""
        text = _c(message)

        def send():
            e = self._running_engine("inputMessage")
            _check("csj_engine_input_message", lib.csj_engine_input_message(e, text), e)
        return self._queue("inputMessage", send)

    def eventString(self, message, block=True):
        return self.inputMessage(message)

    def readScore(self, score):
        return self.inputMessage(score)

    def setScoreOffsetSeconds(self, time):
        def send():
            e = self._running_engine("setScoreOffsetSeconds")
            _check("csj_engine_set_score_offset_seconds",
                   lib.csj_engine_set_score_offset_seconds(e, float(time)), e)
        return self._queue("setScoreOffsetSeconds", send)

    # -- channels ---------------------------------------------------------------------------

    def setControlChannel(self, name, value):
        """Sets a control channel (an atomic store; a new name is created
        between two cycles)."""
        e = self._engine("setControlChannel")
        _check("csj_engine_set_control", lib.csj_engine_set_control(e, _c(name), float(value)), e)

    def controlChannel(self, name):
        """Returns ``(value, 0)``, as ctcsound7 does; a failure raises."""
        e = self._engine("controlChannel")
        v = ctypes.c_double(0.0)
        _check("csj_engine_get_control",
               lib.csj_engine_get_control(e, _c(name), ctypes.byref(v)), e)
        return v.value, CSOUND_SUCCESS

    def setStringChannel(self, name, string):
        e = self._running_engine("setStringChannel")
        _check("csj_engine_set_string_channel",
               lib.csj_engine_set_string_channel(e, _c(name), _c(string)), e)

    def stringChannel(self, name, size=65536):
        e = self._engine("stringChannel")
        buf = ctypes.create_string_buffer(size)
        _check("csj_engine_get_string_channel",
               lib.csj_engine_get_string_channel(e, _c(name), buf, size), e)
        return buf.value.decode("utf-8", "replace")

    # -- tables (queued: ordered with events and compiles) --------------------------------------

    def _timeout_ms(self, timeout):
        timeout = self.timeout if timeout is None else timeout
        return -1 if timeout is None or timeout < 0 else int(timeout * 1000)

    def tableGet(self, table, index, timeout=None):
        e = self._running_engine("tableGet")
        v = ctypes.c_double(0.0)
        _check("csj_engine_table_get",
               lib.csj_engine_table_get(e, int(table), int(index), ctypes.byref(v),
                                        self._timeout_ms(timeout)), e)
        return v.value

    def tableSet(self, table, index, value):
        e = self._running_engine("tableSet")
        _check("csj_engine_table_set",
               lib.csj_engine_table_set(e, int(table), int(index), float(value)), e)

    def tableLength(self, table, timeout=None):
        """The table's length, or -1 when there is no such table."""
        e = self._running_engine("tableLength")
        n = ctypes.c_size_t(0)
        status = lib.csj_engine_table_copy_out(e, int(table), None, 0, ctypes.byref(n),
                                               self._timeout_ms(timeout))
        if status == _lib.CSJ_ERR_NOT_FOUND:
            return -1
        _check("csj_engine_table_copy_out", status, e)
        return n.value

    def table(self, table, timeout=None):
        """A copy of the table's values (a list), or None when there is no
        such table. (ctcsound7 returns a numpy view of Csound's memory; csjack
        copies, in order with the other commands.)"""
        n = self.tableLength(table, timeout)
        if n < 0:
            return None
        e = self._running_engine("table")
        buf = (ctypes.c_double * max(n, 1))()
        got = ctypes.c_size_t(0)
        _check("csj_engine_table_copy_out",
               lib.csj_engine_table_copy_out(e, int(table), buf, n, ctypes.byref(got),
                                             self._timeout_ms(timeout)), e)
        return list(buf[:min(n, got.value)])

    def tableCopyIn(self, table, values):
        e = self._running_engine("tableCopyIn")
        arr, n = _pfields(values)
        _check("csj_engine_table_copy_in", lib.csj_engine_table_copy_in(e, int(table), arr, n), e)

    def tableCopyOut(self, table, timeout=None):
        return self.table(table, timeout)

    # -- what the engine reports ------------------------------------------------------------------

    def stats(self):
        """csjack's counters (CsjStats) as a dict; after the end, the last ones."""
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
        e = self._e
        return lib.csj_engine_client_name(e).decode() if e is not None else None

    def lastError(self):
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


class CsoundPerformanceThread:
    """The performance of a Csound in csjack: the JACK thread itself.

    Made by ``Csound.performanceThread()``. The JACK process callback is the
    performance thread; the calls here are commands queued into it (events,
    pause, compile, evalCode, tables, recording), in order, each run once.
    ``task(fn)`` runs ``fn(cs, pt)`` on csjack's worker thread in order with
    them (never on the JACK thread). ``setProcessCallback(fn)`` calls
    ``fn(data)`` once per JACK cycle on that same worker thread, in order
    with the commands (see docs/python.md).
    """

    def __init__(self, csound, withProcessQueue=False):
        self._csound = csound
        self._process = None          # (fn, data), or None
        self._process_generation = 0
        self._with_queue = bool(withProcessQueue)
        self._played = False
        csound._thread_ref = weakref.ref(self)

    # -- playing ---------------------------------------------------------------------------------

    def _engine(self, call):
        cs = self._csound
        if not cs._started:
            # On first need before play(): start, paused, as a performance
            # thread is until play().
            cs.start()
            if not self._played:
                e = cs._e
                lib.csj_engine_pause(e)
        e = cs._e
        if e is None:
            raise CsjackError(call, _lib.CSJ_ERR_STATE,
                              "the performance has ended (join() released the engine)")
        return e

    def play(self):
        """Starts the engine if it has not started, and plays (unpauses)."""
        self._played = True
        cs = self._csound
        if not cs._started:
            cs.start()
            return
        e = self._engine("play")
        _check("csj_engine_play", lib.csj_engine_play(e), e)

    def pause(self):
        e = self._engine("pause")
        _check("csj_engine_pause", lib.csj_engine_pause(e), e)

    def togglePause(self):
        e = self._engine("togglePause")
        _check("csj_engine_toggle_pause", lib.csj_engine_toggle_pause(e), e)

    def stop(self):
        """Ends the performance (at the start of the next cycle; cannot be continued)."""
        self._csound.stop()

    def join(self):
        """Waits for the end of the performance, releases the engine (its
        JACK client), and returns the status: 1 for the score's end, stop()
        or ``exitnow 0``, negative for an error (or exitnow's code)."""
        return self._csound._join()

    def isRunning(self):
        return self._csound.isRunning()

    def status(self):
        """0 while performing (or not started), 1 once ended by the score,
        stop() or exitnow 0, negative after an error."""
        cs = self._csound
        e = cs._e
        if e is None:
            return cs._status_of(cs._end)
        code = ctypes.c_int(0)
        reason = lib.csj_engine_end_reason(e, ctypes.byref(code))
        return cs._status_of((reason, code.value))

    def csound(self):
        return self._csound

    def stats(self):
        return self._csound.stats()

    # -- events and the queue ---------------------------------------------------------------------

    def scoreEvent(self, absp2mode, kind, pfields):
        """Sends a score event: ``absp2mode`` non-zero counts p2 from the
        start of the performance instead of from now."""
        k = _kind(kind)
        arr, n = _pfields(pfields)
        e = self._engine("scoreEvent")
        _check("csj_engine_score_event",
               lib.csj_engine_score_event(e, k, arr, n, bool(absp2mode)), e)

    def inputMessage(self, s):
        e = self._engine("inputMessage")
        _check("csj_engine_input_message", lib.csj_engine_input_message(e, _c(s)), e)

    def setScoreOffsetSeconds(self, time):
        e = self._engine("setScoreOffsetSeconds")
        _check("csj_engine_set_score_offset_seconds",
               lib.csj_engine_set_score_offset_seconds(e, float(time)), e)

    def setEndMarker(self, time, absolute=False):
        self.scoreEvent(int(absolute), "e", [0, time])

    def record(self, filename, samplebits=16, numbufs=4):
        """Records what csjack sends to JACK into a WAV file (16, 24 or 32
        bits; 32 is float). ``numbufs`` is accepted and ignored."""
        e = self._engine("record")
        _check("csj_engine_record", lib.csj_engine_record(e, _c(str(filename)), int(samplebits)), e)

    def stopRecord(self):
        """Stops recording; returns once the file is complete and closed."""
        e = self._engine("stopRecord")
        _check("csj_engine_stop_record", lib.csj_engine_stop_record(e), e)

    def flushMessageQueue(self, timeout=None):
        """Waits until every command queued before has run."""
        e = self._engine("flushMessageQueue")
        limit = None if timeout is None else timeout
        waited = 0.0
        while True:
            status = lib.csj_engine_flush(e, 100)
            if status != _lib.CSJ_ERR_TIMEOUT:
                _check("csj_engine_flush", status, e)
                return
            waited += 0.1
            if limit is not None and waited >= limit:
                _check("csj_engine_flush", status, e)

    flush = flushMessageQueue

    def sync(self, timeout=None):
        """Waits until every task (and command) queued before has run."""
        self.flushMessageQueue(timeout)

    # -- code -------------------------------------------------------------------------------------

    def setProcessQueue(self):
        """Kept for ctcsound7: csjack's queue needs no set-up (task, compile
        and evalCode work with or without withProcessQueue)."""
        self._with_queue = True

    def compile(self, code):
        """Compiles orchestra code through the queue (parsed off the JACK
        thread, merged a unit at a time, in order with the commands). Returns
        at once; a failure is reported on stderr (Csound's message)."""
        e = self._engine("compile")

        def done(status, _value, message):
            if status != _lib.CSJ_SUCCESS:
                sys.stderr.write(f"csjack: compile failed: {_lib.status_name(status)}: "
                                 f"{message}\n")
        key = _keep((self._csound, done))
        status = lib.csj_engine_compile_orc_async(e, _c(code), _result_trampoline, key)
        if status != _lib.CSJ_SUCCESS:
            _take(key)
            _check("csj_engine_compile_orc_async", status, e)

    def evalCode(self, code, callback=None, timeout=None):
        """Evaluates code through the queue and returns the value of its
        ``return`` (NaN when Csound refuses it; CsoundError with strict).
        With ``callback``, returns 0.0 at once and calls ``callback(value)``
        later on csjack's worker thread. ``timeout`` in seconds (default the
        Csound's ``timeout``, 5 s): CsjackError CSJ_ERR_TIMEOUT after it."""
        e = self._engine("evalCode")
        cs = self._csound
        if callback is not None:
            def done(status, value, message):
                if status != _lib.CSJ_SUCCESS:
                    sys.stderr.write(f"csjack: evalCode failed: {_lib.status_name(status)}: "
                                     f"{message}\n")
                    value = math.nan
                callback(value)
            key = _keep((cs, done))
            status = lib.csj_engine_eval_code_async(e, _c(code), _result_trampoline, key)
            if status != _lib.CSJ_SUCCESS:
                _take(key)
                _check("csj_engine_eval_code_async", status, e)
            return 0.0
        value = ctypes.c_double(math.nan)
        err = ctypes.create_string_buffer(_ERR_SIZE)
        status = lib.csj_engine_eval_code(e, _c(code), cs._timeout_ms(timeout),
                                          ctypes.byref(value), err, _ERR_SIZE)
        r = cs._code_result("evalCode", status, e, err, math.nan)
        return value.value if r is None else r

    def task(self, func, data=None):
        """Queues ``func(cs, pt)`` to run once, in order with the other
        commands, on csjack's worker thread (never the JACK thread): what it
        does through ``cs`` (compileOrc, evalCode, channels: the direct path)
        takes effect before anything queued after the task. The queued calls
        that wait for a reply (pt.evalCode without callback, tables, flush,
        record) raise inside it: they would wait for the line the task holds."""
        e = self._engine("task")
        cs = self._csound
        key = _keep((cs, lambda: func(cs, self)))
        status = lib.csj_engine_task_off_thread(e, _off_thread_trampoline, key)
        if status != _lib.CSJ_SUCCESS:
            _take(key)
            _check("csj_engine_task_off_thread", status, e)

    def processCallback(self):
        return self._process[0] if self._process else None

    def setProcessCallback(self, function, data=None):
        """Calls ``function(data)`` once per JACK cycle (not per k-block), on
        csjack's worker thread, never the JACK thread; None removes it. Each
        call is an off-thread task that queues the next one first: so a
        command queued after something the callback will see (a job put in
        a Python queue, then an event) runs only after the call that saw it
        has returned, and what the callback did through ``cs`` (compileOrc)
        comes first. While a callback is set, queued commands wait one
        cycle more (about two periods in all)."""
        self._process_generation += 1
        if function is None:
            self._process = None
            return
        self._process = (function, data)
        generation = self._process_generation
        e = self._engine("setProcessCallback")
        self._queue_tick(e, generation)

    def _queue_tick(self, e, generation):
        cs = self._csound

        def tick():
            if self._process_generation != generation or self._process is None:
                return
            engine = cs._e
            if engine is None:
                return
            # The next call first: anything queued from now on is behind it.
            self._queue_tick(engine, generation)
            fn, data = self._process
            fn(data)

        key = _keep((cs, tick))
        status = lib.csj_engine_task_off_thread(e, _off_thread_trampoline, key)
        if status != _lib.CSJ_SUCCESS:
            _take(key)
            if status != _lib.CSJ_ERR_STATE:  # the end stops the chain quietly
                _check("csj_engine_task_off_thread", status, e)


PerformanceThread = CsoundPerformanceThread
