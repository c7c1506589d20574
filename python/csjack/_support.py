# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the binding's classes share: its errors, text and numbers for C,
and the Python functions csjack's threads call back (tasks, results)."""

import ctypes
import sys
import threading
import traceback

from . import _lib

CSOUND_SUCCESS = 0
CSOUND_ERROR = -1

ERR_SIZE = 2048

# How long one queueing call waits in the library for room in the ring (or
# among the commands in flight) before the binding asks again: short, so
# that Ctrl-C reaches Python between two tries.
SUBMIT_SLICE_MS = 50


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


class BadArgumentError(CsjackError, ValueError):
    """An argument csjack refuses (CSJ_ERR_BAD_ARG): text holding a NUL,
    a NaN or infinite p-field or channel value, bits other than 16, 24 or
    32. Also a ValueError, as Python's own refusals of a value are."""


def error(call, status, message=""):
    cls = BadArgumentError if status == _lib.CSJ_ERR_BAD_ARG else CsjackError
    return cls(call, status, message)


# The statuses after which csj_last_error says why: for the others it may
# still hold an older call's message, which would mislead.
SAYS_WHY = {_lib.CSJ_ERR_BAD_ARG, _lib.CSJ_ERR_FILE, _lib.CSJ_ERR_COMPILE, _lib.CSJ_ERR_EVAL,
            _lib.CSJ_ERR_CSOUND, _lib.CSJ_ERR_NO_SERVER, _lib.CSJ_ERR_NAME_TAKEN,
            _lib.CSJ_ERR_JACK, _lib.CSJ_ERR_TOO_BIG, _lib.CSJ_ERR_OPTION, _lib.CSJ_ERR_RECORD,
            _lib.CSJ_ERR_CHANNELS}


def why(engine, status):
    """csj_last_error's text when it is about this failure, else ""."""
    return _lib.last_error(engine) if engine and status in SAYS_WHY else ""


def check(call, status, engine=None, message=None):
    if status != _lib.CSJ_SUCCESS:
        raise error(call, status, why(engine, status) if message is None else message)


def c_text(text, what="text"):
    """Text for the C library: str (UTF-8) or bytes; anything else, None
    included, is the caller's mistake, said here rather than as a stale
    csjack error. A NUL would end the text in C where Python goes on, so
    what follows it would be dropped without a word: refused."""
    if isinstance(text, str):
        b = text.encode("utf-8")
    elif isinstance(text, (bytes, bytearray)):
        b = bytes(text)
    else:
        raise TypeError(f"{what}: expected text (str or bytes), not {type(text).__name__}")
    nul = b.find(b"\0")
    if nul >= 0:
        raise BadArgumentError(what, _lib.CSJ_ERR_BAD_ARG,
                               f"the text holds a NUL character (byte {nul}), where C would stop "
                               "reading it: refused whole")
    return b


def pfields(values):
    values = [float(v) for v in values]
    return (ctypes.c_double * max(len(values), 1))(*values), len(values)


def kind(k):
    if isinstance(k, (bytes, bytearray)):
        k = k.decode()
    if not isinstance(k, str) or len(k) != 1:
        raise ValueError(f"event kind must be one character ('i', 'f', 'e', ...), not {k!r}")
    return k.encode()


def describe(fn):
    """A Python function as a person finds it: its name, file and line."""
    name = getattr(fn, "__qualname__", None) or repr(fn)
    code = getattr(fn, "__code__", None)
    if code is not None:
        return f"{name}() at {code.co_filename}:{code.co_firstlineno}"
    return name


# ---- callbacks from csjack's threads -----------------------------------------------

# Python callables waiting for a C callback, by key: (owner, fn, description).
# The C side carries the key.
_pending = {}
_pending_lock = threading.Lock()
_next_key = [1]
# The task each worker thread runs now, by thread: (owner, description).
# What the close names when it gives up on a task.
_running = {}
# Set while a thread runs a Python function for csjack (a task, a result):
# that is csjack's worker, where nothing may wait for the line.
in_callback = threading.local()


def on_worker():
    return getattr(in_callback, "active", False)


def keep(owner, fn, description=None):
    with _pending_lock:
        key = _next_key[0]
        _next_key[0] += 1
        _pending[key] = (owner, fn, description)
    return key


def take(key):
    with _pending_lock:
        return _pending.pop(key, None)


def forget_engine(owner):
    with _pending_lock:
        for key in [k for k, v in _pending.items() if v[0] is owner]:
            del _pending[key]


def running_task(owner):
    """The description of a task of @p owner still running, or None."""
    with _pending_lock:
        for who, description in _running.values():
            if who is owner:
                return description
    return None


def report_exception(what):
    sys.stderr.write(f"csjack: exception in {what}:\n")
    traceback.print_exc()


@_lib.OFF_THREAD_FN
def off_thread_trampoline(engine, key):
    item = take(key or 0)
    if item is None:
        return
    owner, fn, description = item
    me = threading.get_ident()
    with _pending_lock:
        _running[me] = (owner, description or describe(fn))
    in_callback.active = True
    try:
        fn()
    except BaseException:  # never into C
        report_exception("a task")
    finally:
        in_callback.active = False
        with _pending_lock:
            _running.pop(me, None)


@_lib.RESULT_FN
def result_trampoline(data, result):
    item = take(data or 0)
    if item is None:
        return
    _owner, fn, _description = item
    r = result.contents
    message = r.message.decode("utf-8", "replace") if r.message else ""
    in_callback.active = True
    try:
        fn(r.status, r.value, message)
    except BaseException:
        report_exception("a result callback")
    finally:
        in_callback.active = False
