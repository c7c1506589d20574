# SPDX-License-Identifier: LGPL-2.1-or-later
"""csjack's Python binding: CsoundPerformanceThread, whose calls are commands
queued into the JACK thread (docs/python.md says why each is as it is)."""

import ctypes
import math
import sys
import threading
import time
import weakref

from . import _lib
from ._lib import lib
from ._support import (BadArgumentError, CsjackError, c_text, check, describe, error, keep,
                       off_thread_trampoline, on_worker, result_trampoline, take)
from ._support import kind as _kind, pfields as _pfields


class CsoundPerformanceThread:
    """The performance of a Csound in csjack: the JACK thread itself.

    Made by ``Csound.performanceThread()``. The JACK process callback is the
    performance thread; the calls here are commands queued into it (events,
    pause, compile, evalCode, tables, recording), in order, each run once.
    ``task(fn)`` runs ``fn(cs, pt)`` on csjack's worker thread in order with
    them (never on the JACK thread). ``setProcessCallback(fn)`` calls
    ``fn(data)`` once per JACK cycle on that same worker thread, in order
    with the commands (see docs/python.md). A call that finds the command
    ring full waits for room (in short slices: Ctrl-C works) instead of
    failing, except on csjack's worker (in a task or a callback).
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
                cs._queued("csj_engine_pause", lib.csj_engine_pause)
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
        self._engine("play")
        cs._queued("csj_engine_play", lib.csj_engine_play)

    def pause(self):
        self._engine("pause")
        self._csound._queued("csj_engine_pause", lib.csj_engine_pause)

    def togglePause(self):
        self._engine("togglePause")
        self._csound._queued("csj_engine_toggle_pause", lib.csj_engine_toggle_pause)

    def stop(self):
        """Ends the performance (at the start of the next cycle; cannot be continued)."""
        self._csound.stop()

    def join(self):
        """Waits for the end of the performance, releases the engine (its
        JACK client), and returns the status: 1 for the score's end, stop()
        or ``exitnow 0``, negative for an error (or exitnow's code). Waits
        in short slices (Ctrl-C works); a task still running is given up on
        after the hang limit, and the library says so."""
        return self._csound._join()

    def isRunning(self):
        return self._csound.isRunning()

    def status(self):
        """0 while performing (or not started), 1 once ended by the score,
        stop() or exitnow 0, negative after an error."""
        cs = self._csound
        with cs._lock:
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
        start of the performance instead of from now. NaN and infinite
        p-fields are refused (BadArgumentError)."""
        k = _kind(kind)
        arr, n = _pfields(pfields)
        self._engine("scoreEvent")
        self._csound._queued("csj_engine_score_event", lib.csj_engine_score_event, k, arr, n,
                             bool(absp2mode))

    def inputMessage(self, s):
        text = c_text(s, "inputMessage")
        self._engine("inputMessage")
        self._csound._queued("csj_engine_input_message", lib.csj_engine_input_message, text)

    def setScoreOffsetSeconds(self, time):
        self._engine("setScoreOffsetSeconds")
        self._csound._queued("csj_engine_set_score_offset_seconds",
                             lib.csj_engine_set_score_offset_seconds, float(time))

    def setEndMarker(self, time, absolute=False):
        self.scoreEvent(int(absolute), "e", [0, time])

    def record(self, filename, samplebits=16, numbufs=4):
        """Records what csjack sends to JACK into a WAV file (16, 24 or 32
        bits; 32 is float). ``numbufs`` is accepted and ignored."""
        if samplebits not in (16, 24, 32):
            raise BadArgumentError("record", _lib.CSJ_ERR_BAD_ARG,
                                   f"bits must be 16, 24 or 32, not {samplebits!r}")
        path = c_text(str(filename), "record")
        self._engine("record")
        self._csound._queued("csj_engine_record", lib.csj_engine_record, path, int(samplebits))

    def stopRecord(self):
        """Stops recording; returns once the file is complete and closed."""
        self._engine("stopRecord")
        self._csound._queued("csj_engine_stop_record", lib.csj_engine_stop_record)

    def flushMessageQueue(self, timeout=None):
        """Waits until every command queued before has run (in 100 ms
        slices, so that Ctrl-C works)."""
        self._engine("flushMessageQueue")
        cs = self._csound
        t0 = time.monotonic()
        while True:
            status, message = cs._submit("csj_engine_flush", lib.csj_engine_flush, 100)
            if status != _lib.CSJ_ERR_TIMEOUT or \
                    (timeout is not None and time.monotonic() - t0 >= timeout):
                check("csj_engine_flush", status, message=message)
                return

    flush = flushMessageQueue

    def sync(self, timeout=None):
        """Waits until every task (and command) queued before has run."""
        self.flushMessageQueue(timeout)

    # -- code -------------------------------------------------------------------------------------

    def setProcessQueue(self):
        """Kept for ctcsound7: csjack's queue needs no set-up (task, compile
        and evalCode work with or without withProcessQueue)."""
        self._with_queue = True

    def _queue_result(self, call, fn, text, done, description=None):
        """Queues an _async call whose result comes to done(status, value, message)."""
        cs = self._csound
        key = keep(cs, done, description)
        try:
            status, message = cs._submit(call, fn, text, result_trampoline, key)
        except BaseException:
            take(key)
            raise
        if status != _lib.CSJ_SUCCESS:
            take(key)
            check(call, status, message=message)
        return key

    def compile(self, code):
        """Compiles orchestra code through the queue (parsed off the JACK
        thread, merged a unit at a time, in order with the commands). Returns
        at once; a failure is reported on stderr (Csound's message)."""
        text = c_text(code, "compile")
        self._engine("compile")

        def done(status, _value, message):
            if status != _lib.CSJ_SUCCESS:
                sys.stderr.write(f"csjack: compile failed: {_lib.status_name(status)}: "
                                 f"{message}\n")
        self._queue_result("csj_engine_compile_orc_async", lib.csj_engine_compile_orc_async,
                           text, done)

    def evalCode(self, code, callback=None, timeout=None):
        """Evaluates code through the queue and returns the value of its
        ``return`` (NaN when Csound refuses it; CsoundError with strict).
        With ``callback``, returns 0.0 at once and calls ``callback(value)``
        later on csjack's worker thread. ``timeout`` in seconds (default the
        Csound's ``timeout``, 5 s; negative: no limit): CsjackError
        CSJ_ERR_TIMEOUT after it. Waits in short slices, so that Ctrl-C
        works (the code stays queued, its value is dropped)."""
        text = c_text(code, "evalCode")
        self._engine("evalCode")
        cs = self._csound
        if callback is not None:
            def done(status, value, message):
                if status != _lib.CSJ_SUCCESS:
                    sys.stderr.write(f"csjack: evalCode failed: {_lib.status_name(status)}: "
                                     f"{message}\n")
                    value = math.nan
                callback(value)
            self._queue_result("csj_engine_eval_code_async", lib.csj_engine_eval_code_async,
                               text, done)
            return 0.0
        if on_worker():
            # The library refuses it there at once (it would wait for the
            # line this very thread holds): its own words.
            value = ctypes.c_double(math.nan)
            status, message = cs._code_call("evalCode", lib.csj_engine_eval_code, text,
                                            cs._timeout_ms(timeout), ctypes.byref(value))
            r = cs._code_result("evalCode", status, message, math.nan)
            return value.value if r is None else r
        answer = []
        ready = threading.Event()

        def reply(status, value, message):
            answer.append((status, value, message))
            ready.set()
        key = self._queue_result("csj_engine_eval_code_async", lib.csj_engine_eval_code_async,
                                 text, reply)
        try:
            self._await(key, ready, cs._timeout_ms(timeout))
        except BaseException:
            take(key)  # its answer, when it comes, is dropped
            raise
        status, value, message = answer[0]
        r = cs._code_result("evalCode", status, message, math.nan)
        return value if r is None else r

    def _await(self, key, ready, timeout_ms):
        """Waits for a queued result in short slices. An answer that has not
        come a second after the end of the performance never will."""
        cs = self._csound
        t0 = time.monotonic()
        ended = None
        while not ready.wait(0.05):
            now = time.monotonic()
            if 0 <= timeout_ms <= (now - t0) * 1000:
                raise CsjackError("evalCode", _lib.CSJ_ERR_TIMEOUT,
                                  "no answer yet: the code stays queued, its value is dropped")
            with cs._lock:
                running = cs._e is not None and lib.csj_engine_is_running(cs._e)
            if running:
                ended = None
            elif ended is None:
                ended = now
            elif now - ended > 1.0:
                raise CsjackError("evalCode", _lib.CSJ_ERR_NOT_RUN,
                                  "the performance ended before the code ran")

    def task(self, func, data=None):
        """Queues ``func(cs, pt)`` to run once, in order with the other
        commands, on csjack's worker thread (never the JACK thread): what it
        does through ``cs`` (compileOrc, evalCode, channels: the direct path)
        takes effect before anything queued after the task. The queued calls
        that wait for a reply (pt.evalCode without callback, tables, flush,
        record) raise inside it: they would wait for the line the task holds.
        A task still running when the engine closes is given up on after
        the hang limit."""
        self._engine("task")
        cs = self._csound
        key = keep(cs, lambda: func(cs, self), describe(func))
        try:
            status, message = cs._submit("csj_engine_task_off_thread",
                                         lib.csj_engine_task_off_thread, off_thread_trampoline,
                                         key)
        except BaseException:
            take(key)
            raise
        if status != _lib.CSJ_SUCCESS:
            take(key)
            check("csj_engine_task_off_thread", status, message=message)

    # -- the process callback: a chain of tasks -----------------------------------------------

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
        cycle more (about two periods in all). A full ring delays the next
        call, never ends the chain; a callback that can no longer be called
        is reported on stderr and removed."""
        cs = self._csound
        self._process_generation += 1
        cs._chain_open.set()  # a re-arm of the previous callback no longer holds the line
        if function is None:
            self._process = None
            return
        self._engine("setProcessCallback")
        self._process = (function, data)
        try:
            self._queue_tick(self._process_generation, first=True)
        except BaseException:
            self._process = None
            raise

    def _tick(self, generation):
        process = self._process
        if self._process_generation != generation or process is None:
            return
        # The next call first: anything queued from now on is behind it.
        self._queue_tick(generation)
        fn, data = process
        fn(data)

    def _queue_tick(self, generation, first=False, rearm=False):
        """Queues the chain's next call. On csjack's worker (in a call) a
        full ring cannot be waited for there: the binding's queued calls are
        held back (the gate) and a thread of the binding queues it as soon
        as there is room."""
        cs = self._csound
        process = self._process
        description = "the process callback " + describe(process[0]) if process else None
        key = keep(cs, lambda: self._tick(generation), description)
        try:
            status, message = cs._submit("csj_engine_task_off_thread",
                                         lib.csj_engine_task_off_thread, off_thread_trampoline,
                                         key, chain=not first)
        except CsjackError:
            take(key)  # the engine is gone: the chain ends with it
            if first:
                raise
            return
        except BaseException:
            take(key)
            raise
        if status == _lib.CSJ_SUCCESS:
            return
        take(key)
        if status == _lib.CSJ_ERR_RING_FULL and not rearm:
            cs._chain_open.clear()
            threading.Thread(target=self._rearm, args=(generation,), daemon=True,
                             name="csjack-process-callback").start()
        elif status == _lib.CSJ_ERR_STATE:
            if first:
                check("csj_engine_task_off_thread", status, message=message)
        else:
            self._chain_broken(generation, status, message, first)

    def _rearm(self, generation):
        """Queues the chain's next call once there is room (the binding's
        other queued calls wait at the gate meanwhile)."""
        try:
            if self._process_generation == generation and self._process is not None:
                self._queue_tick(generation, rearm=True)
        finally:
            if self._process_generation == generation:
                self._csound._chain_open.set()

    def _chain_broken(self, generation, status, message, first):
        if first:
            check("csj_engine_task_off_thread", status, message=message)
        if self._process_generation != generation:
            return
        fn = self._process[0] if self._process else None
        self._process = None
        sys.stderr.write(f"csjack: the process callback {describe(fn)} can no longer be called "
                         f"and is removed: {error('csj_engine_task_off_thread', status, message)}"
                         "\n")


PerformanceThread = CsoundPerformanceThread
