#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Smoke check of csjack-bench: run it with --quick --json and check that the
JSON has every key of the schema (docs/benchmark.md). Asserts no timing.

    check_json.py CSJACK_BENCH [EXTRA ARGS...]   run, then check
    check_json.py --file FILE.json               check an existing file
"""
import json
import math
import os
import subprocess
import sys
import tempfile

SYSTEMS = ["csjack_queued", "csjack_direct", "csjack_prompt", "csjack_stamped",
           "baseline_queued",
           "baseline_direct"]
WORKLOADS = ["evalcode_ms", "evalcode_music_ms", "event_latency_frames",
             "event_jitter_frames", "roundtrip_frames", "callback_us", "xruns",
             "dropped_cycles", "dropped_cycles_by_workload"]
# The per-workload objects: a number (or null) for each of these.
WORKLOAD_KEYS = ["idle", "evalcode", "events", "roundtrip", "compile", "evalcode_music"]
PERCENTILE_KEYS = {
    "evalcode_ms": ["n", "mean", "p50", "p90", "p99", "p99_9", "max"],
    "evalcode_music_ms": ["n", "mean", "p50", "p90", "p99", "p99_9", "max"],
    "event_latency_frames": ["n", "mean", "p50", "p99", "max", "mean_ms", "p50_ms",
                             "p99_ms", "max_ms"],
    "event_jitter_frames": ["sd", "range"],
    "roundtrip_frames": ["n", "mean", "p50", "max", "min"],
    "callback_us": ["n", "p50", "p99", "max"],
}


def check_period(obj, where, errors):
    for key in ["period", "rate", "systems"]:
        if key not in obj:
            errors.append(f"{where}: missing '{key}'")
    for key in ["period", "rate"]:
        if key in obj and not isinstance(obj[key], int):
            errors.append(f"{where}.{key}: not an integer")
    systems = obj.get("systems", {})
    if not isinstance(systems, dict):
        errors.append(f"{where}.systems: not an object")
        return
    for name in SYSTEMS:
        if name not in systems:
            errors.append(f"{where}.systems: missing '{name}'")
            continue
        system = systems[name]
        reasons = system.get("not_measured")
        if not isinstance(reasons, dict):
            errors.append(f"{where}.systems.{name}: missing 'not_measured' object")
            reasons = {}
        for key in WORKLOADS:
            at = f"{where}.systems.{name}.{key}"
            if key not in system:
                errors.append(f"{at}: missing")
                continue
            value = system[key]
            if value is None:
                # null needs a reason nearby: for this key, or the whole system.
                if key not in reasons and "all" not in reasons:
                    errors.append(f"{at}: null without a not_measured reason")
            elif key == "dropped_cycles_by_workload":
                if not isinstance(value, dict):
                    errors.append(f"{at}: not an object")
                    continue
                for sub in WORKLOAD_KEYS:
                    if sub not in value:
                        errors.append(f"{at}: missing '{sub}'")
                    elif value[sub] is not None and (
                            not isinstance(value[sub], (int, float)) or isinstance(value[sub], bool)):
                        errors.append(f"{at}.{sub}: neither a number nor null")
            elif isinstance(value, dict):
                for sub in PERCENTILE_KEYS.get(key, []):
                    if sub not in value:
                        errors.append(f"{at}: missing '{sub}'")
                    elif not isinstance(value[sub], (int, float)) or (
                            isinstance(value[sub], float) and math.isnan(value[sub])):
                        errors.append(f"{at}.{sub}: not a number")
            elif not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append(f"{at}: neither a number, an object nor null")
    if "not_measured" not in obj:
        errors.append(f"{where}: missing 'not_measured'")
    if obj.get("ring") is None and "ring" not in obj.get("not_measured", {}):
        errors.append(f"{where}.ring: null without a not_measured reason")
    check_midi_loop(obj, where, errors)
    check_capacity(obj, where, errors)


MIDI_SYSTEMS = ["csjack", "baseline"]
MIDI_PROBE_KEYS = ["sent", "returned", "strays", "xruns", "latency", "peak_jitter",
                   "median_of_runs", "runs_without_xruns", "runs"]
MIDI_LATENCY_KEYS = ["n", "mean", "min", "p50", "p99", "max"]
MIDI_TOOL_KEYS = ["sent", "received", "runs_ok", "average", "lowest", "highest",
                  "peak_jitter", "average_jitter", "runs"]


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (
        isinstance(v, float) and math.isnan(v))


def check_midi_loop(obj, where, errors):
    """midi_loop_frames: per system the probe's figures and
    jack_midi_latency_test's, each an object or null with a reason."""
    if "midi_loop_frames" not in obj:
        errors.append(f"{where}: missing 'midi_loop_frames'")
        return
    loop = obj["midi_loop_frames"]
    if loop is None:
        if "midi_loop_frames" not in obj.get("not_measured", {}):
            errors.append(f"{where}.midi_loop_frames: null without a not_measured reason")
        return
    at = f"{where}.midi_loop_frames"
    for key in ["messages", "runs", "ksmps"]:
        if not is_number(loop.get(key)):
            errors.append(f"{at}.{key}: not a number")
    for key in ["load_before", "load_after"]:
        if not isinstance(loop.get(key), list) or len(loop[key]) != 3:
            errors.append(f"{at}.{key}: not a list of 3")
    systems = loop.get("systems")
    if not isinstance(systems, dict):
        errors.append(f"{at}.systems: not an object")
        return
    for name in MIDI_SYSTEMS:
        system = systems.get(name)
        if not isinstance(system, dict):
            errors.append(f"{at}.systems: missing '{name}'")
            continue
        reasons = system.get("not_measured")
        if not isinstance(reasons, dict):
            errors.append(f"{at}.systems.{name}: missing 'not_measured' object")
            reasons = {}
        for part, keys in [("probe", MIDI_PROBE_KEYS),
                           ("jack_midi_latency_test", MIDI_TOOL_KEYS)]:
            p = f"{at}.systems.{name}.{part}"
            if part not in system:
                errors.append(f"{p}: missing")
                continue
            value = system[part]
            if value is None:
                if part not in reasons:
                    errors.append(f"{p}: null without a not_measured reason")
                continue
            for key in keys:
                if key not in value:
                    errors.append(f"{p}: missing '{key}'")
                elif key == "runs":
                    if not isinstance(value[key], list):
                        errors.append(f"{p}.runs: not a list")
                elif key == "latency":
                    for sub_key in MIDI_LATENCY_KEYS:
                        if not is_number(value[key].get(sub_key)):
                            errors.append(f"{p}.latency.{sub_key}: not a number")
                elif key == "runs_without_xruns":
                    if not isinstance(value[key], dict) or not is_number(
                            value[key].get("count")):
                        errors.append(f"{p}.runs_without_xruns: no count")
                elif key == "median_of_runs":
                    for sub_key in ["min", "p50", "max", "peak_jitter"]:
                        if not is_number(value[key].get(sub_key)):
                            errors.append(f"{p}.median_of_runs.{sub_key}: not a number")
                elif not is_number(value[key]):
                    errors.append(f"{p}.{key}: not a number")


CAPACITY_SYSTEMS = ["csjack", "csjack_j2", "baseline"]


def check_capacity(obj, where, errors):
    """capacity (only with --capacity): per system voices, period and
    latency_frames, numbers, or voices null with a reason ("why")."""
    if "capacity" not in obj:
        return
    cap = obj["capacity"]
    at = f"{where}.capacity"
    if cap is None:
        if "capacity" not in obj.get("not_measured", {}):
            errors.append(f"{at}: null without a not_measured reason")
        return
    for key in ["hold_s", "resolution", "max"]:
        if not is_number(cap.get(key)):
            errors.append(f"{at}.{key}: not a number")
    if not isinstance(cap.get("server_realtime"), bool):
        errors.append(f"{at}.server_realtime: not a boolean")
    for name in CAPACITY_SYSTEMS:
        system = cap.get(name)
        if not isinstance(system, dict):
            errors.append(f"{at}: missing '{name}'")
            continue
        if not is_number(system.get("period")):
            errors.append(f"{at}.{name}.period: not a number")
        if system.get("voices") is None:
            if not isinstance(system.get("why"), str):
                errors.append(f"{at}.{name}.voices: null without a why")
            continue
        for key in ["voices", "latency_frames"]:
            if not is_number(system.get(key)):
                errors.append(f"{at}.{name}.{key}: not a number")
        if not isinstance(system.get("steps"), list):
            errors.append(f"{at}.{name}.steps: not a list")


def check(doc):
    errors = []
    if isinstance(doc, list):
        if not doc:
            errors.append("top: empty array")
        for i, obj in enumerate(doc):
            check_period(obj, f"[{i}]", errors)
    elif isinstance(doc, dict):
        check_period(doc, "top", errors)
    else:
        errors.append("top: neither an object nor an array")
    return errors


def main(argv):
    if len(argv) >= 3 and argv[1] == "--file":
        path = argv[2]
    elif len(argv) >= 2:
        fd, path = tempfile.mkstemp(prefix="csjack-bench-", suffix=".json")
        os.close(fd)
        cmd = [argv[1], "--quick", "--json", path] + argv[2:]
        print("running:", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, timeout=110)
        if proc.returncode != 0:
            print(f"csjack-bench exited with {proc.returncode}")
            return 1
    else:
        print(__doc__)
        return 2
    with open(path) as f:
        doc = json.load(f)
    errors = check(doc)
    for e in errors:
        print("error:", e)
    if not errors:
        print("JSON has every key")
    if len(argv) < 3 or argv[1] != "--file":
        os.unlink(path)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
