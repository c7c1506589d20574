# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reading back what csjack recorded (its own output, through record())."""

import array
import statistics
import wave


def read_wav(path):
    """(rate, channels): each channel a list of floats in [-1, 1]. 16- or
    24-bit PCM, as csjack's record(file, 16|24) writes."""
    with wave.open(str(path), "rb") as w:
        n, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
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
