# SPDX-License-Identifier: LGPL-2.1-or-later
"""csjack for Python: Csound performed inside the JACK process callback,
in the shape of ctcsound7 (``import csjack as ct`` in place of
``import ctcsound7 as ct``).

Standard library only (ctypes). The library is found as _lib's docstring
says; ``csjack.LIBRARY_PATH`` is the one loaded. The design, and what
differs from ctcsound7: docs/python.md.
"""

from ._lib import LIBRARY_PATH, STATUS_NAMES, version as libraryVersion
from ._api import (
    BadArgumentError,
    CSOUND_ERROR,
    CSOUND_SUCCESS,
    Csound,
    CsoundError,
    CsoundPerformanceThread,
    CsjackError,
    PerformanceThread,
)

__all__ = [
    "BadArgumentError",
    "CSOUND_ERROR",
    "CSOUND_SUCCESS",
    "Csound",
    "CsoundError",
    "CsoundPerformanceThread",
    "CsjackError",
    "LIBRARY_PATH",
    "PerformanceThread",
    "STATUS_NAMES",
    "libraryVersion",
]
