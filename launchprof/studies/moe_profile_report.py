#!/usr/bin/env python3
"""The launch profile of one MoE forward, onemoe against the multi-kernel baselines, as a bench/results envelope.

Input: `launchprof analyze --per-kernel --json` of each trace moe_profile.sh recorded (moe_<impl>_T<T>_E<E>.json.gz,
FORWARDS forwards each, nothing else on the GPU). Per implementation it reports the whole recording (kernels, TKLQT,
IL as analyze gives them: IL from the first launch call, the trace having no operators) and per forward:

  kernels_per_forward    kernels / FORWARDS (must be whole)
  forwards               kernels in start order are cut into FORWARDS equal slices; every slice must hold the same
                         kernel names in the same order, else the per-forward fields are null and `notes` says why
  tklqt_us_per_forward   median over the timed forwards (the last TIMED) of sum lq (lq = kernel start - launch call
                         start; it includes waiting behind the previous forward when forwards are launched back to back)
  il_ms_per_forward      median over the timed forwards of: last kernel end - first launch call start of the slice
  idle_ms_per_forward    median of: that IL - union of the slice's kernel intervals

T, E, k, H, I, dtype and the bench's own median forward time come from the bench table in moe_<impl>.record.log next
to the analyze JSON, when it is there.

  moe_profile_report.py ANALYZE_JSON... --out RESULT.json [--forwards 10] [--timed 8] [--commit SHA]
"""
import argparse
import datetime
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import envelope  # noqa: E402

TRACE_NAME = re.compile(r"moe_(?P<impl>.+)_T(?P<T>\d+)_E(?P<E>\d+)\.json(\.gz)?$")
BENCH_ROW = re.compile(r"^\s*(?P<T>\d+)\s+(?P<E>\d+)\s+(?P<k>\d+)\s+(?P<H>\d+)\s+(?P<I>\d+)\s+(?P<dtype>\w+)\s+"
                       r"(?P<impl>\S+)\s+(?P<ms>[\d.]+)\s")


def union_us(intervals):
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def per_forward(kernels, forwards, timed):
    """(fields, note): per-forward medians over the timed forwards, or nulls and why not."""
    nulls = {"tklqt_us_per_forward": None, "il_ms_per_forward": None, "idle_ms_per_forward": None}
    if not kernels:
        return nulls, "no per-kernel rows (analyze without --per-kernel?)"
    if len(kernels) % forwards:
        return nulls, f"{len(kernels)} kernels do not split into {forwards} forwards"
    kernels = sorted(kernels, key=lambda k: k["ts_us"])
    n = len(kernels) // forwards
    slices = [kernels[i * n:(i + 1) * n] for i in range(forwards)]
    first = [k["name"] for k in slices[0]]
    if any([k["name"] for k in s] != first for s in slices[1:]):
        return nulls, "the forwards do not launch the same kernel sequence"
    if any(k.get("launch_ts_us") is None for k in kernels):
        return nulls, "a kernel has no launch call"
    tklqt, il, idle = [], [], []
    for s in slices[forwards - timed:]:
        anchor = min(k["launch_ts_us"] for k in s)
        end = max(k["ts_us"] + k["dur_us"] for k in s)
        tklqt.append(sum(k["lq_us"] for k in s))
        il.append(end - anchor)
        idle.append(end - anchor - union_us([(k["ts_us"], k["ts_us"] + k["dur_us"]) for k in s]))
    return {"tklqt_us_per_forward": round(statistics.median(tklqt), 3),
            "il_ms_per_forward": round(statistics.median(il) / 1e3, 6),
            "idle_ms_per_forward": round(statistics.median(idle) / 1e3, 6)}, None


def bench_row(log_path, impl):
    if not os.path.exists(log_path):
        return {}
    with open(log_path) as f:
        for line in f:
            m = BENCH_ROW.match(line)
            if m and m["impl"] == impl:
                return {"T": int(m["T"]), "E": int(m["E"]), "k": int(m["k"]), "H": int(m["H"]), "I": int(m["I"]),
                        "dtype": m["dtype"], "ms": float(m["ms"])}
    return {}


def report_row(doc, path, forwards, timed):
    trace = doc["traces"][0]
    whole = next(r for r in doc["rows"] if r.get("scope") == "all")
    name = TRACE_NAME.search(os.path.basename(trace["trace"]))
    if not name:
        raise ValueError(f"{path}: trace {trace['trace']} is not named moe_<impl>_T<T>_E<E>.json.gz")
    impl = name["impl"]
    row = {"impl": impl, "T": int(name["T"]), "E": int(name["E"])}
    row.update(bench_row(os.path.join(os.path.dirname(path), f"moe_{impl}.record.log"), impl))
    if "ms" in row:
        row["ms_note"] = "onemoe-bench's median forward time while recorded"
    kernels = whole["kernels"]
    row.update({
        "forwards_recorded": forwards, "timed_forwards": timed, "kernels": kernels,
        "kernels_per_forward": kernels / forwards if kernels % forwards else kernels // forwards,
        "launch_calls": trace["join"]["launch_calls"], "launches_per_forward": trace["join"]["launch_calls"] / forwards,
        "ranks": 1, "orphans": whole["orphans"],
        "launches_without_kernel": trace["anomalies"]["launches_without_kernel"],
        "negative_lq": whole["negative_lq"], "distinct_kernel_names": trace["distinct_kernel_names"],
        "tklqt_us": whole["tklqt_us"], "il_ms": whole["il_ms"], "idle_ms": whole["idle_ms"],
        "il_anchor": trace["il_anchor"]["kind"], "kernel_time_ms": whole["kernel_time_ms"],
    })
    fields, note = per_forward(trace.get("per_kernel", []), forwards, timed)
    row.update(fields)
    row["notes"] = note or (f"tklqt/il/idle per forward: median over the last {timed} of {forwards} forwards, each "
                            "from its first launch call to its last kernel end; tklqt_us, il_ms, idle_ms: the whole "
                            "recording (warm-up and timed forwards and the host work between them)")
    row["wrong"] = None  # recorded with the correctness check off (-c 0)
    row["trace"] = os.path.basename(trace["trace"])
    return row, doc.get("gpu") or "unknown", doc.get("commit")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("analyze_json", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--forwards", type=int, default=10, help="forwards in each recording (moe_profile.sh: 2 + 8)")
    ap.add_argument("--timed", type=int, default=8, help="the last TIMED forwards are the timed ones")
    ap.add_argument("--commit", default="unknown", help="commit of the code that was recorded (bench and record)")
    ap.add_argument("--date", help="when the traces were recorded (default: the newest trace file's mtime, else now)")
    args = ap.parse_args()
    if not 0 < args.timed <= args.forwards:
        ap.error("need 0 < --timed <= --forwards")
    rows, gpu, analyze_commits, mtimes = [], "unknown", set(), []
    for path in args.analyze_json:
        with open(path) as f:
            doc = json.load(f)
        row, g, commit = report_row(doc, path, args.forwards, args.timed)
        rows.append(row)
        gpu = g if gpu == "unknown" else gpu
        analyze_commits.add(commit or "unknown")
        trace = doc["traces"][0]["trace"]
        if os.path.exists(trace):
            mtimes.append(os.path.getmtime(trace))
        print(f"{row['impl']:24s} kernels/fwd {row['kernels_per_forward']}  TKLQT/fwd {row['tklqt_us_per_forward']} us"
              f"  IL/fwd {row['il_ms_per_forward']} ms  (whole: {row['kernels']} kernels, TKLQT {row['tklqt_us']} us,"
              f" IL {row['il_ms']} ms)")
    date = args.date or (datetime.datetime.fromtimestamp(max(mtimes), datetime.timezone.utc)
                         .strftime("%Y-%m-%dT%H:%M:%SZ") if mtimes else None)
    if args.commit == "unknown":
        print("warning: no --commit: the envelope says commit \"unknown\"", file=sys.stderr)
    envelope.write_envelope(args.out, "launchprof/studies/moe_profile_report.py", rows, gpu, commit=args.commit,
                            date=date, extra={"analyzed_by": "launchprof analyze --per-kernel --json",
                                              "analyze_commit": ",".join(sorted(analyze_commits))})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
