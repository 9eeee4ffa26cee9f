#!/usr/bin/env python3
"""One onemoe forward with the inside of its kernel in the trace: launch call -> kernel -> the kernel's tasks.

  1. `launchprof record` around `onemoe-bench --impl onemoe --timeline PREFIX` (a few forwards; onemoe-bench writes
     the task timeline of the last timed one as CSV)
  2. `launchprof timeline` merges that CSV under the last onemoe kernel: a track per SM, tasks by stage, marks
  3. the merged trace is checked against the Chrome trace-event format (tests/launchprof/check_chrome_trace.py)
  4. `launchprof analyze` reads it back: the kernels, TKLQT and IL as before, the in-kernel tasks by stage
  5. a results envelope: <date>-launchprof-inkernel-timeline-1gpu.json

    inkernel_timeline.py --bench BUILD/onemoe-bench --launchprof LP --out DIR [-T 4096] [-E 32] [-k 2]
    inkernel_timeline.py --launchprof LP --out DIR --trace T.json.gz --tasks T.csv     (steps 2-5 only, no GPU)

Exit code: 0 when every step passed, 1 when one failed (the envelope says which), 2 for bad arguments.
"""
import argparse
import glob
import gzip
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "launchprof"))
import envelope  # noqa: E402

try:
    import check_chrome_trace  # noqa: E402
except ImportError:  # a copy of the studies without the tests
    check_chrome_trace = None


def run(cmd, log):
    with open(log, "w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    return p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--launchprof", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench", help="onemoe-bench; without it --trace and --tasks are needed")
    ap.add_argument("--trace", help="a recorded trace (skips step 1)")
    ap.add_argument("--tasks", help="its task timeline CSV (skips step 1)")
    ap.add_argument("-T", type=int, default=4096)
    ap.add_argument("-E", type=int, default=32)
    ap.add_argument("-k", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args()
    if not a.bench and not (a.trace and a.tasks):
        ap.error("give --bench, or --trace and --tasks")
    os.makedirs(a.out, exist_ok=True)
    steps = {}
    row = {"impl": "onemoe", "T": a.T, "E": a.E, "k": a.k, "dtype": "bf16"}
    gpu = None

    trace, tasks = a.trace, a.tasks
    if a.bench:
        trace = os.path.join(a.out, f"onemoe_T{a.T}_E{a.E}.json.gz")
        prefix = os.path.join(a.out, "onemoe_timeline")
        for old in glob.glob(prefix + "-*.csv"):
            os.remove(old)
        rc = run([a.launchprof, "record", "-o", trace, "--", a.bench, "-b", str(a.T), "-e", str(a.T), "--experts",
                  str(a.E), "-k", str(a.k), "-d", "bf16", "-w", str(a.warmup), "-n", str(a.iters), "-c", "0",
                  "--impl", "onemoe", "--timeline", prefix], os.path.join(a.out, "record.log"))
        steps["record"] = rc
        found = sorted(glob.glob(prefix + "-*.csv"))
        tasks = found[-1] if found else None
        steps["timeline_csv_written"] = tasks is not None
        row["forwards_recorded"] = a.warmup + a.iters
    merged = os.path.join(a.out, "onemoe_inkernel.json.gz")
    if trace and tasks and os.path.exists(trace):
        steps["merge"] = run([a.launchprof, "timeline", "--trace", trace, "--tasks", tasks, "-o", merged],
                             os.path.join(a.out, "timeline.log"))
    if steps.get("merge") == 0:
        if check_chrome_trace is not None:
            problems = check_chrome_trace.check(check_chrome_trace.load(merged))
            steps["chrome_trace_format"] = "valid" if not problems else problems[:10]
        else:
            steps["chrome_trace_format"] = "not checked (tests/launchprof/check_chrome_trace.py missing)"
        analysis = os.path.join(a.out, "onemoe_inkernel_analysis.json")
        steps["analyze"] = run([a.launchprof, "analyze", merged, "--json", analysis],
                               os.path.join(a.out, "analyze.log"))
        if steps["analyze"] == 0:
            with open(analysis) as f:
                doc = json.load(f)
            gpu = doc.get("gpu")
            all_row = doc["rows"][0]
            t = doc["traces"][0]
            row.update({k: all_row.get(k) for k in ("kernels", "tklqt_us", "il_ms", "idle_ms", "lq_p50_us")})
            row["in_kernel_tasks"] = t["in_kernel"]["tasks"]
            row["in_kernel_marks"] = t["in_kernel"]["marks"]
            row["stages"] = t["in_kernel"]["stages"]
            with gzip.open(merged, "rt") as f:
                meta = json.load(f).get("launchprofTimeline", {})
            row["tracks"] = meta.get("tracks")
            row["kernel_index"] = meta.get("kernel_index")
    ok = (steps.get("record", 0) == 0 and steps.get("merge") == 0 and steps.get("chrome_trace_format") == "valid"
          and steps.get("analyze") == 0 and row.get("in_kernel_tasks", 0) > 0)
    row["wrong"] = None  # no numerical check in this study (-c 0): it is about the trace
    row["notes"] = ("tasks aligned so that the first task starts at the kernel's start (the task clock and CUPTI's "
                    "differ in origin)")
    out = os.path.join(a.out, envelope.result_name("launchprof-inkernel-timeline"))
    envelope.write_envelope(out, "launchprof/studies/inkernel_timeline.py", [row], gpu,
                            extra={"steps": steps, "passed": ok, "trace": os.path.basename(merged)})
    print(json.dumps({"passed": ok, "steps": steps, "result": out}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
