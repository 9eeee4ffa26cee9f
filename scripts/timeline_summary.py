#!/usr/bin/env python3
"""Summarizes task timelines written by `onemoe-bench --timeline PREFIX`.

For each CSV: per stage, how many tasks ran, when the stage started and ended, the busy block-time it took
and its task durations (and, for stages with marks, the median time from task start to each mark: route =
router GEMM done, first logits staged in smem, tokens routed; dispatch = plan seen; gemm1/gemm2 = inputs
ready, tile computed, rows stored); then, per time bucket, what share of the grid's blocks was in each stage.
Usage: timeline_summary.py [--bucket-us N] FILE.csv...
"""
import argparse
import csv
import statistics
import sys

STAGES = ["route", "plan", "dispatch", "gather", "gemm1", "gemm2", "combine"]


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no tasks")
    for r in rows:
        r["start_us"] = float(r["start_us"])
        r["end_us"] = float(r["end_us"])
        r["block"] = int(r["block"])
        # mark1..3_us; files of 6e4f296 have one mark_us, older ones none
        r["marks"] = [float(r.get(f"mark{i}_us") or (r.get("mark_us") if i == 1 else None) or -1) for i in (1, 2, 3)]
    return rows


def summarize(path, bucket_us):
    rows = load(path)
    end = max(r["end_us"] for r in rows)
    blocks = len({r["block"] for r in rows})
    print(f"== {path}: {len(rows)} tasks on {blocks} blocks, {end:.1f} us from first task start to last task end")
    print(f"{'stage':9} {'tasks':>6} {'start':>8} {'end':>8} {'block-us':>10} {'share':>6} "
          f"{'median':>8} {'p90':>8} {'max':>8} {'mark1':>8} {'mark2':>8} {'mark3':>8}  (us)")
    busy_total = sum(r["end_us"] - r["start_us"] for r in rows)
    for stage in STAGES:
        mine = [r for r in rows if r["stage"] == stage]
        if not mine:
            continue
        d = sorted(r["end_us"] - r["start_us"] for r in mine)
        busy = sum(d)
        marks = []
        for i in range(3):
            to_mark = [r["marks"][i] - r["start_us"] for r in mine if r["marks"][i] >= 0]
            marks.append(f"{statistics.median(to_mark):8.2f}" if to_mark else f"{'-':>8}")
        mark = " ".join(marks)
        print(f"{stage:9} {len(mine):6d} {min(r['start_us'] for r in mine):8.1f} {max(r['end_us'] for r in mine):8.1f} "
              f"{busy:10.0f} {busy / busy_total:6.1%} {statistics.median(d):8.2f} {d[int(0.9 * (len(d) - 1))]:8.2f} "
              f"{d[-1]:8.2f} {mark}")
    print(f"grid busy: {busy_total / (blocks * end):.1%} of blocks x span")
    n = int(end // bucket_us) + 1
    share = [[0.0] * len(STAGES) for _ in range(n)]
    for r in rows:
        s = STAGES.index(r["stage"])
        t0, t1 = r["start_us"], r["end_us"]
        b = int(t0 // bucket_us)
        while b < n and b * bucket_us < t1:
            lo, hi = max(t0, b * bucket_us), min(t1, (b + 1) * bucket_us)
            share[b][s] += max(0.0, hi - lo) / (bucket_us * blocks)
            b += 1
    used = [i for i, st in enumerate(STAGES) if any(row[i] for row in share)]
    print(f"{'t (us)':>12} " + " ".join(f"{STAGES[i]:>8}" for i in used) + f" {'idle':>8}")
    for b, row in enumerate(share):
        idle = max(0.0, 1 - sum(row))
        print(f"{b * bucket_us:5.0f}-{(b + 1) * bucket_us:<6.0f} " + " ".join(f"{row[i]:8.0%}" for i in used) +
              f" {idle:8.0%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bucket-us", type=float, default=100.0, help="width of a time bucket (default 100)")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    if a.bucket_us <= 0:
        ap.error("--bucket-us must be positive")
    for path in a.files:
        try:
            summarize(path, a.bucket_us)
        except (OSError, ValueError, KeyError) as e:
            print(f"timeline_summary: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
