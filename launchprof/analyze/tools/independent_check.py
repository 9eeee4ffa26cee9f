#!/usr/bin/env python3
"""Independent check of launchprof analyze: kernel count, orphan kernels and TKLQT of a Kineto trace.

Plain json + gzip, no code shared with launchprof. A kernel joins the runtime/driver call with the same
args.correlation (a cuda_runtime call is preferred to a cuda_driver one, then the earliest); lq = kernel ts -
call ts, summed exactly with Decimal. Kernels without a matching call are orphans.

    independent_check.py TRACE.json[.gz] ...   -> one JSON object per line
"""
import gzip
import json
import sys
from decimal import Decimal

RUNTIME = {"cuda_runtime": 0, "runtime": 0, "cuda_driver": 1, "driver": 1}  # value: preference (lower wins)


def load_events(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    doc = json.loads(raw, parse_float=Decimal)
    events = doc if isinstance(doc, list) else doc["traceEvents"]
    return [e for e in events if isinstance(e, dict) and e.get("ph") == "X" and "ts" in e and "dur" in e]


def check(path):
    calls = {}  # correlation -> (preference, ts)
    kernels = []
    for e in load_events(path):
        cat = str(e.get("cat", "")).lower()
        corr = (e.get("args") or {}).get("correlation")
        ts = Decimal(str(e["ts"]))
        if cat in RUNTIME and corr is not None:
            key = (RUNTIME[cat], ts)
            if corr not in calls or key < calls[corr]:
                calls[corr] = key
        elif cat == "kernel":
            kernels.append((corr, ts))
    tklqt_us = Decimal(0)
    orphans = 0
    for corr, ts in kernels:
        if corr is None or corr not in calls:
            orphans += 1
        else:
            tklqt_us += ts - calls[corr][1]
    return {"trace": path, "kernels": len(kernels), "orphans": orphans, "tklqt_ns": int(tklqt_us * 1000)}


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(json.dumps(check(p)))
