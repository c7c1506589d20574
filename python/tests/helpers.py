# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reading back what csjack recorded (its own output, through record())."""

import array
import statistics
import struct


def read_wav(path):
    """(rate, channels): each channel a list of floats in [-1, 1]. 16- or
    24-bit PCM, as csjack's record(file, 16|24) writes: WAV with an
    extensible fmt chunk, or RF64 (the chunks are walked here: Python's
    wave module takes neither)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    at, fmt, raw = 12, None, None
    while at + 8 <= len(data):
        tag, size = data[at:at + 4], struct.unpack_from("<I", data, at + 4)[0]
        if tag == b"fmt ":
            fmt = struct.unpack_from("<HHIIHH", data, at + 8)
        elif tag == b"data":
            raw = data[at + 8:at + 8 + size] if size != 0xFFFFFFFF else data[at + 8:]
        at += 8 + size + (size & 1)
    if fmt is None or raw is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    _, n, rate, _, _, bits = fmt
    width = bits // 8
    raw = raw[:len(raw) // (width * n) * width * n]
    if width == 2:
        a = array.array("h")
        a.frombytes(raw)
        samples = [x / 32768.0 for x in a]
    elif width == 3:
        samples = []
        for i in range(0, len(raw), 3):
            v = int.from_bytes(raw[i:i + 3], "little", signed=True)
            samples.append(v / 8388608.0)
    else:
        raise ValueError(f"{width}-byte samples")
    return rate, [samples[c::n] for c in range(n)]


def peak(x, start=0, end=None):
    seg = x[start:end]
    return max((abs(v) for v in seg), default=0.0)


def onset(x, threshold=0.01):
    """The first frame whose magnitude exceeds threshold, or None."""
    for i, v in enumerate(x):
        if abs(v) > threshold:
            return i
    return None


def summary(times_ms):
    s = sorted(times_ms)
    return (f"n {len(s)}, median {statistics.median(s):.3f} ms, "
            f"p90 {s[int(0.9 * (len(s) - 1))]:.3f} ms, min {s[0]:.3f}, max {s[-1]:.3f}")
