# SPDX-License-Identifier: LGPL-2.1-or-later
"""Finding libcsjack and declaring its C API for ctypes (standard library only).

Where the library is looked for, in order:

1. the path in the environment variable ``CSJACK_LIBRARY``;
2. the build tree this package sits in: ``../build*/libcsjack.so.0`` (and
   ``libcsjack.so``) relative to the ``python/`` directory that holds the
   package, ``build`` first, then the other ``build*`` directories in name
   order (an ASan build's library fails to load into a plain Python and is
   passed over);
3. the system's: ``ctypes.util.find_library('csjack')``, then plain
   ``libcsjack.so.0`` through the dynamic loader's own search.

The first that loads is used (``LIBRARY_PATH`` says which). When none
loads, ``ImportError`` names every place tried and why each failed.
"""

import ctypes
import ctypes.util
import os
from pathlib import Path

# CsjStatus, in the header's order.
STATUS_NAMES = (
    "CSJ_SUCCESS",
    "CSJ_ERR_BAD_ARG",
    "CSJ_ERR_NO_MEMORY",
    "CSJ_ERR_FILE",
    "CSJ_ERR_COMPILE",
    "CSJ_ERR_CSOUND",
    "CSJ_ERR_NO_SERVER",
    "CSJ_ERR_NAME_TAKEN",
    "CSJ_ERR_JACK",
    "CSJ_ERR_RESERVED",
    "CSJ_ERR_NO_OUTPUTS",
    "CSJ_ERR_STATE",
    "CSJ_ERR_TIMEOUT",
    "CSJ_ERR_RING_FULL",
    "CSJ_ERR_TOO_BIG",
    "CSJ_ERR_EVAL",
    "CSJ_ERR_NOT_FOUND",
    "CSJ_ERR_NOT_RUN",
    "CSJ_ERR_OPTION",
    "CSJ_ERR_RECORD",
    "CSJ_ERR_CHANNELS",
)
for _i, _n in enumerate(STATUS_NAMES):
    globals()[_n] = _i

# CsjEndReason
END_NONE, END_SCORE, END_EXITNOW, END_STOPPED, END_CSOUND_ERROR, END_SERVER_GONE, END_CSOUND_HUNG = range(7)

MESSAGE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
OFF_THREAD_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class CsjOptions(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("client_name", ctypes.c_char_p),
        ("server_name", ctypes.c_char_p),
        ("connect_out", ctypes.c_char_p),
        ("connect_in", ctypes.c_char_p),
        ("no_connect", ctypes.c_bool),
        ("csound_argc", ctypes.c_int),
        ("csound_argv", ctypes.POINTER(ctypes.c_char_p)),
        ("message_fn", MESSAGE_FN),
        ("message_data", ctypes.c_void_p),
        ("hang_limit_ms", ctypes.c_int),
        ("no_midi", ctypes.c_bool),
        ("connect_midi_in", ctypes.c_char_p),
        ("connect_midi_out", ctypes.c_char_p),
        ("transport", ctypes.c_int),
        ("timebase_master", ctypes.c_bool),
    ]


class CsjStatField(ctypes.Structure):
    """One row of the library's table of CsjStats (csj_stats_fields)."""
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("offset", ctypes.c_size_t),
        ("type", ctypes.c_int),
    ]


# CsjStatType, in the header's order.
_STAT_TYPES = (ctypes.c_uint64, ctypes.c_uint32, ctypes.c_bool)


class CsjResult(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_int),
        ("value", ctypes.c_double),
        ("message", ctypes.c_char_p),
    ]


RESULT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(CsjResult))


def _candidates():
    env = os.environ.get("CSJACK_LIBRARY")
    if env:
        yield "CSJACK_LIBRARY=" + env, env
    root = Path(__file__).resolve().parent.parent.parent  # python/csjack -> the tree
    dirs = sorted(root.glob("build*"), key=lambda p: (p.name != "build", p.name))
    for d in dirs:
        for name in ("libcsjack.so.0", "libcsjack.so"):
            lib = d / name
            if lib.exists():
                yield "build tree " + str(lib), str(lib)
                break
    found = ctypes.util.find_library("csjack")
    if found:
        yield "system (find_library) " + found, found
    yield "system (dynamic loader) libcsjack.so.0", "libcsjack.so.0"


def _load():
    tried = []
    for label, path in _candidates():
        try:
            loaded = ctypes.CDLL(path)
        except OSError as exc:
            tried.append(f"  {label}: {exc}")
            continue
        if tried:
            import warnings
            warnings.warn("csjack: loaded " + path + " after failing with:\n" + "\n".join(tried),
                          RuntimeWarning, stacklevel=3)
        return loaded, path
    raise ImportError("csjack: cannot load libcsjack; tried, in order:\n" + "\n".join(tried) +
                      "\nBuild it (meson setup build && meson compile -C build), install it, "
                      "or point CSJACK_LIBRARY at libcsjack.so.0.")


lib, LIBRARY_PATH = _load()


_E = ctypes.c_void_p  # CsjEngine*
_S = ctypes.c_int     # CsjStatus


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_fn("csj_version", ctypes.c_char_p)
_fn("csj_strerror", ctypes.c_char_p, ctypes.c_int)
_fn("csj_end_reason_name", ctypes.c_char_p, ctypes.c_int)
_fn("csj_options_init", None, ctypes.POINTER(CsjOptions))
_fn("csj_check_options", _S, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p))
_fn("csj_engine_create", _S, ctypes.POINTER(CsjOptions), ctypes.POINTER(_E))
_fn("csj_engine_compile_file", _S, _E, ctypes.c_char_p)
_fn("csj_engine_add_file_folder", _S, _E, ctypes.c_char_p)
_fn("csj_engine_compile_csd_text", _S, _E, ctypes.c_char_p)
_fn("csj_engine_compile_orc_text", _S, _E, ctypes.c_char_p)
_fn("csj_engine_start", _S, _E)
_fn("csj_engine_stop", None, _E)
_fn("csj_engine_set_freewheel", _S, _E, ctypes.c_bool)
_fn("csj_engine_finished", ctypes.c_bool, _E)
_fn("csj_engine_wait", _S, _E, ctypes.c_int)
_fn("csj_engine_join", ctypes.c_int, _E, ctypes.POINTER(ctypes.c_int))
_fn("csj_engine_end_reason", ctypes.c_int, _E, ctypes.POINTER(ctypes.c_int))


def _stats_struct():
    """CsjStats as this library lays it out: its fields, their offsets and
    types from csj_stats_fields, so that a new counter needs no edit here."""
    try:
        _fn("csj_stats_fields", ctypes.POINTER(CsjStatField), ctypes.POINTER(ctypes.c_size_t))
        _fn("csj_stats_size", ctypes.c_size_t)
    except AttributeError as exc:
        raise ImportError(f"csjack: {LIBRARY_PATH} is older than this binding: {exc}") from None
    count = ctypes.c_size_t()
    table = lib.csj_stats_fields(ctypes.byref(count))
    rows = sorted((table[i] for i in range(count.value)), key=lambda row: row.offset)
    fields = []
    names = []
    at = 0
    for row in rows:
        if row.type >= len(_STAT_TYPES):
            raise ImportError(f"csjack: {LIBRARY_PATH} has a CsjStats field "
                              f"{row.name.decode()} of a type this binding does not know "
                              f"({row.type})")
        if row.offset > at:
            fields.append((f"_gap_{at}", ctypes.c_uint8 * (row.offset - at)))
        name = row.name.decode()
        kind = _STAT_TYPES[row.type]
        fields.append((name, kind))
        names.append(name)
        at = row.offset + ctypes.sizeof(kind)
    size = lib.csj_stats_size()
    if size > at:
        fields.append(("_tail", ctypes.c_uint8 * (size - at)))

    def as_dict(self):
        return {name: getattr(self, name) for name in names}

    struct = type("CsjStats", (ctypes.Structure,),
                  {"_fields_": fields, "as_dict": as_dict, "__doc__": "csjack's counters."})
    # csj_engine_stats writes the library's whole struct: a ctypes copy that
    # lays a field elsewhere, or is shorter, would be misread or overrun.
    for row, name in zip(rows, names):
        placed = getattr(struct, name).offset
        if placed != row.offset:
            raise ImportError(f"csjack: {LIBRARY_PATH}: CsjStats.{name} is at {row.offset}, "
                              f"this binding put it at {placed}")
    if ctypes.sizeof(struct) != size:
        raise ImportError(f"csjack: {LIBRARY_PATH} has a CsjStats of {size} bytes, this "
                          f"binding laid out one of {ctypes.sizeof(struct)}")
    return struct


CsjStats = _stats_struct()
_fn("csj_engine_stats", None, _E, ctypes.POINTER(CsjStats))
_fn("csj_engine_set_submit_timeout", None, _E, ctypes.c_int)
_fn("csj_engine_play", _S, _E)
_fn("csj_engine_pause", _S, _E)
_fn("csj_engine_toggle_pause", _S, _E)
_fn("csj_engine_score_event", _S, _E, ctypes.c_char, ctypes.POINTER(ctypes.c_double),
    ctypes.c_int, ctypes.c_bool)
_fn("csj_engine_input_message", _S, _E, ctypes.c_char_p)
_fn("csj_engine_set_score_offset_seconds", _S, _E, ctypes.c_double)
_fn("csj_engine_compile_orc", _S, _E, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
    ctypes.c_size_t)
_fn("csj_engine_compile_orc_async", _S, _E, ctypes.c_char_p, RESULT_FN, ctypes.c_void_p)
_fn("csj_engine_eval_code", _S, _E, ctypes.c_char_p, ctypes.c_int,
    ctypes.POINTER(ctypes.c_double), ctypes.c_char_p, ctypes.c_size_t)
_fn("csj_engine_eval_code_async", _S, _E, ctypes.c_char_p, RESULT_FN, ctypes.c_void_p)
_fn("csj_engine_eval_code_direct", _S, _E, ctypes.c_char_p, ctypes.POINTER(ctypes.c_double),
    ctypes.c_char_p, ctypes.c_size_t)
_fn("csj_engine_compile_orc_direct", _S, _E, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t)
_fn("csj_engine_eval_code_prompt", _S, _E, ctypes.c_char_p, ctypes.c_int,
    ctypes.POINTER(ctypes.c_double), ctypes.c_char_p, ctypes.c_size_t)
_fn("csj_engine_set_control", _S, _E, ctypes.c_char_p, ctypes.c_double)
_fn("csj_engine_get_control", _S, _E, ctypes.c_char_p, ctypes.POINTER(ctypes.c_double))
_fn("csj_engine_set_string_channel", _S, _E, ctypes.c_char_p, ctypes.c_char_p)
_fn("csj_engine_get_string_channel", _S, _E, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t)
_fn("csj_engine_table_set", _S, _E, ctypes.c_int, ctypes.c_int, ctypes.c_double)
_fn("csj_engine_table_get", _S, _E, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_double),
    ctypes.c_int)
_fn("csj_engine_table_copy_in", _S, _E, ctypes.c_int, ctypes.POINTER(ctypes.c_double),
    ctypes.c_size_t)
_fn("csj_engine_table_copy_out", _S, _E, ctypes.c_int, ctypes.POINTER(ctypes.c_double),
    ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t), ctypes.c_int)
_fn("csj_engine_task_off_thread", _S, _E, OFF_THREAD_FN, ctypes.c_void_p)
_fn("csj_engine_flush", _S, _E, ctypes.c_int)
_fn("csj_engine_record", _S, _E, ctypes.c_char_p, ctypes.c_int)
_fn("csj_engine_stop_record", _S, _E)
_fn("csj_engine_is_running", ctypes.c_bool, _E)
_fn("csj_engine_client_name", ctypes.c_char_p, _E)
_fn("csj_engine_destroy", None, _E)
_fn("csj_last_error", ctypes.c_char_p, _E)


def status_name(status):
    return STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else f"CsjStatus({status})"


def strerror(status):
    return lib.csj_strerror(status).decode("utf-8", "replace")


def last_error(engine):
    text = lib.csj_last_error(engine)
    return text.decode("utf-8", "replace") if text else ""


def version():
    return lib.csj_version().decode()
