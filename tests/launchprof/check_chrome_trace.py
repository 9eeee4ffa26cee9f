#!/usr/bin/env python3
"""Checks a file against the Chrome trace-event format (the JSON object form that chrome://tracing, Perfetto and
launchprof read), strictly enough to catch what breaks a viewer:

  * the root is an object with a "traceEvents" array (or a bare array of events);
  * every event is an object with a string "ph" of a known phase, and "name" a string where the phase needs one;
  * pid and tid are integers or strings; ts (and dur of "X") are finite numbers, dur >= 0;
  * "i"/"I" instants have a scope "s" of g, p or t (default t); "M" metadata events are one of the known names with
    an "args" object holding what that name needs ("name" for *_name, "sort_index" for *_sort_index);
  * "B"/"E" pairs match on each thread, and "X" slices on one (pid, tid) nest: one never ends inside another and
    outlives it (viewers draw a thread's slices as a stack).

    check_chrome_trace.py TRACE.json[.gz]      exit 0 if valid, else 1 with the first problems listed
"""
import gzip
import json
import math
import sys

PHASES = set("BEXiIbneCsftPOND") | {"M", "R", "(", ")", "c", "T", "S", "p", "F"}
METADATA = {"process_name": "name", "thread_name": "name", "process_labels": "labels",
            "process_sort_index": "sort_index", "thread_sort_index": "sort_index", "process_uptime_seconds": None}


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check(doc):
    problems = []
    if isinstance(doc, dict):
        events = doc.get("traceEvents")
        if not isinstance(events, list):
            return ["the root object has no traceEvents array"]
    elif isinstance(doc, list):
        events = doc
    else:
        return ["the root is neither an object nor an array"]
    slices = {}
    open_b = {}
    for n, e in enumerate(events):
        where = f"event #{n}"
        if not isinstance(e, dict):
            problems.append(f"{where}: not an object")
            continue
        ph = e.get("ph")
        if not isinstance(ph, str) or ph not in PHASES:
            problems.append(f"{where}: unknown phase {ph!r}")
            continue
        for key in ("pid", "tid"):
            if key in e and not (isinstance(e[key], (int, str)) and not isinstance(e[key], bool)):
                problems.append(f"{where}: {key} is neither an integer nor a string")
        if ph == "M":
            need = METADATA.get(e.get("name"), "missing")
            if need == "missing":
                problems.append(f"{where}: unknown metadata name {e.get('name')!r}")
            elif need is not None and not (isinstance(e.get("args"), dict) and need in e["args"]):
                problems.append(f"{where}: metadata {e.get('name')} without args.{need}")
            continue
        if not isinstance(e.get("name"), str):
            problems.append(f"{where}: no name")
        if not is_number(e.get("ts")):
            problems.append(f"{where}: ts is not a finite number")
            continue
        key = (e.get("pid"), e.get("tid"))
        if ph == "X":
            if not is_number(e.get("dur")) or e["dur"] < 0:
                problems.append(f"{where}: X without a duration >= 0")
                continue
            slices.setdefault(key, []).append((e["ts"], e["ts"] + e["dur"], n))
        elif ph in ("i", "I"):
            if e.get("s", "t") not in ("g", "p", "t"):
                problems.append(f"{where}: instant scope {e.get('s')!r} is not g, p or t")
        elif ph == "B":
            open_b.setdefault(key, []).append(n)
        elif ph == "E":
            if not open_b.get(key):
                problems.append(f"{where}: E without a B on its thread")
            else:
                open_b[key].pop()
        if "args" in e and not isinstance(e["args"], dict):
            problems.append(f"{where}: args is not an object")
    for key, stack in open_b.items():
        if stack:
            problems.append(f"thread {key}: {len(stack)} B events never end")
    for key, spans in slices.items():
        spans.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for start, end, n in spans:
            while stack and stack[-1][1] <= start:
                stack.pop()
            if stack and end > stack[-1][1]:
                problems.append(f"thread {key}: X event #{n} [{start}, {end}) overlaps #{stack[-1][2]} "
                                f"[{stack[-1][0]}, {stack[-1][1]}) without nesting")
                continue
            stack.append((start, end, n))
    return problems


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    problems = check(load(sys.argv[1]))
    for p in problems[:20]:
        print(f"{sys.argv[1]}: {p}")
    if problems:
        print(f"{sys.argv[1]}: {len(problems)} problems")
        return 1
    print(f"{sys.argv[1]}: a valid Chrome trace")
    return 0


if __name__ == "__main__":
    sys.exit(main())
