#!/usr/bin/env python3
"""Real traces recorded on an H200 (tests/launchprof/fixtures/real/, see its README.md): what `launchprof analyze`
reports on them must equal what the independent scripts compute, and both must equal the values stored in
expected.json, which this script wrote with --write-expected from the independent scripts alone:

  launchprof/analyze/tools/independent_check.py  kernels, orphan kernels, TKLQT in ns (plain json, Decimal)
  launchprof/studies/trace_metrics.py            kernel launch calls, launches without kernel, negative lq, IL,
                                                 and per NVTX range "launch:*" the instances and their GPU ops

It also checks, on the values computed here (never typed in):
  * the Llama forward recorded by the PyTorch profiler (eager, and replayed from a CUDA graph) and by `launchprof
    record` (three recordings, one model, batch 1) has the same kernel count, and no orphan kernel;
  * in the CUDA-graph trace every kernel joins the graph launch: analyze counts all of them as graph kernels, under
    as many graph launches as the script finds launch calls;
  * in each coverage trace (API calls from CUPTI activity records, and from launchprof's own callback) every launch
    API's range joins each of its calls to its kernels: analyze's operator table gives the same launches and kernels
    per range as the script's coverage table;
  * moe_profile_report.py cuts each MoE recording into its forwards (kernels / forwards, same kernel sequence each).

  check_real_traces.py --launchprof BIN --work DIR            (the test)
  check_real_traces.py --write-expected                       (after adding or replacing a fixture)
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REAL = os.path.join(ROOT, "tests", "launchprof", "fixtures", "real")
EXPECTED = os.path.join(REAL, "expected.json")
STUDIES = os.path.join(ROOT, "launchprof", "studies")
sys.path.insert(0, os.path.join(ROOT, "launchprof", "analyze", "tools"))
sys.path.insert(0, STUDIES)
import independent_check  # noqa: E402
import trace_metrics  # noqa: E402

# Facts about how each trace was recorded (from the study scripts, not from the trace).
FORWARDS = {"moe_onemoe_T4096_E32.json.gz": 10, "moe_baseline-grouped-gemm_T4096_E32.json.gz": 10}  # moe_profile.sh
# llama_study.py, batch 1, seq 512: eager and CUDA graph under the PyTorch profiler, and under launchprof record.
SAME_FORWARD = ("llama_eager_b1.json.gz", "llama_graph_b1.json.gz", "llama_record_b1.json.gz")
GRAPH = "llama_graph_b1.json.gz"  # llama_study.py's CUDA-graph variant: one cudaGraphLaunch per forward
# launchprof-null-kernel --coverage under launchprof record, with --api-source activity and callback.
COVERAGE = ("coverage_record.json.gz", "coverage_record_callback.json.gz")
IL_TOLERANCE_MS = 2e-6  # the script sums floats; 13-digit microsecond timestamps keep about 1 ns


def independent(path):
    exact = independent_check.check(path)
    m = trace_metrics.metrics(path)
    values = {"kernels": exact["kernels"], "orphans": exact["orphans"], "tklqt_ns": exact["tklqt_ns"],
              "kernel_launch_calls": m["kernel_launch_calls"], "launches_without_kernel": m["launches_without_kernel"],
              "negative_lq": m["negative_lq"], "il_ms": m["il_ms"]}
    if m["kernels"] != exact["kernels"] or m["orphan_kernels"] != exact["orphans"]:
        raise SystemExit(f"{path}: the two independent scripts disagree: {m} {exact}")
    if os.path.basename(path) in COVERAGE:
        values["coverage"] = {name: {"instances": v[0], "with_ops": v[1], "gpu_ops": v[2]}
                              for name, v in sorted(trace_metrics.coverage(path).items())}
    return values


def traces():
    return sorted(f for f in os.listdir(REAL) if f.endswith(".json.gz"))


def write_expected():
    doc = {"written_by": "tests/launchprof/check_real_traces.py --write-expected",
           "computed_by": "launchprof/analyze/tools/independent_check.py and launchprof/studies/trace_metrics.py",
           "traces": {name: independent(os.path.join(REAL, name)) for name in traces()}}
    with open(EXPECTED, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {EXPECTED}")
    return 0


class Checker:
    def __init__(self):
        self.failures = 0

    def eq(self, what, got, want):
        ok = got == want
        self.failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {got}" + ("" if ok else f" (want {want})"))

    def near(self, what, got, want, tol):
        ok = got is not None and want is not None and abs(got - want) <= tol
        self.failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {got}" + ("" if ok else f" (want {want} +- {tol})"))


def analyze(launchprof, trace, out_json, *extra):
    p = subprocess.run([launchprof, "analyze", trace, "--json", out_json, "-q", "--top", "100", *extra],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"launchprof analyze {trace}: exit {p.returncode}: {p.stderr}")
    with open(out_json) as f:
        return json.load(f)


def check(launchprof, work):
    with open(EXPECTED) as f:
        expected = json.load(f)["traces"]
    c = Checker()
    c.eq("fixtures listed in expected.json", sorted(expected), traces())
    got_all = {}
    for name in traces():
        path = os.path.join(REAL, name)
        want = expected.get(name, {})
        c.eq(f"{name}: independent scripts today = expected.json", independent(path), want)
        doc = analyze(launchprof, path, os.path.join(work, name + ".analyze.json"))
        row = next(r for r in doc["rows"] if r["scope"] == "all")
        t = doc["traces"][0]
        got = {"kernels": row["kernels"], "orphans": row["orphans"], "tklqt_ns": round(row["tklqt_us"] * 1000),
               "kernel_launch_calls": t["join"]["launch_calls"],
               "launches_without_kernel": t["anomalies"]["launches_without_kernel"],
               "negative_lq": row["negative_lq"]}
        got_all[name] = got
        c.eq(f"{name}: analyze", got, {k: want.get(k) for k in got})
        c.near(f"{name}: analyze il_ms", row["il_ms"], want.get("il_ms"), IL_TOLERANCE_MS)
        if name == GRAPH:
            c.eq(f"{name}: every kernel is a graph kernel", row["graph_kernels"], row["kernels"])
            c.eq(f"{name}: graph launches = launch calls", t["join"]["graph_launches"], want.get("kernel_launch_calls"))
        if name in COVERAGE:
            ops = {o["name"]: {"launches": o["launches"], "kernels": o["kernels"]} for o in t["top_operators"]}
            for rng, cov in want["coverage"].items():
                c.eq(f"{name}: every {rng} instance reached the GPU", cov["with_ops"], cov["instances"])
                if rng.startswith("launch:"):  # analyze's operator table counts kernels (op:* ranges hold copies)
                    c.eq(f"{name}: analyze joins {rng}", ops.get(rng),
                         {"launches": cov["instances"], "kernels": cov["gpu_ops"]})
        if name in FORWARDS:
            check_forwards(c, launchprof, work, path, name, FORWARDS[name], got["kernels"])
    same = [n for n in SAME_FORWARD if n in got_all]
    c.eq(f"one Llama forward, kernels in {', '.join(same)}", len({got_all[n]["kernels"] for n in same}), 1)
    c.eq("orphan kernels in each", [got_all[n]["orphans"] for n in same], [0] * len(same))
    print(f"{c.failures} failed")
    return 1 if c.failures else 0


def check_forwards(c, launchprof, work, path, name, forwards, kernels):
    """moe_profile_report.py on analyze --per-kernel: whole forwards, the same kernel sequence in each."""
    per_kernel = os.path.join(work, name + ".per_kernel.json")
    analyze(launchprof, path, per_kernel, "--per-kernel")
    out = os.path.join(work, name + ".report.json")
    p = subprocess.run([sys.executable, os.path.join(STUDIES, "moe_profile_report.py"), per_kernel, "--forwards",
                        str(forwards), "--timed", str(forwards - 2), "--out", out], capture_output=True, text=True)
    c.eq(f"{name}: moe_profile_report.py exit", p.returncode, 0)
    if p.returncode != 0:
        print(p.stderr)
        return
    with open(out) as f:
        row = json.load(f)["rows"][0]
    c.eq(f"{name}: kernels per forward ({row['kernels_per_forward']}) x {forwards} forwards = kernels",
         row["kernels_per_forward"] * forwards, kernels)
    c.eq(f"{name}: per-forward metrics computed (same kernel sequence in every forward)",
         row["tklqt_us_per_forward"] is not None and row["il_ms_per_forward"] is not None, True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--launchprof")
    ap.add_argument("--work")
    ap.add_argument("--write-expected", action="store_true")
    args = ap.parse_args()
    if args.write_expected:
        return write_expected()
    if not args.launchprof or not args.work:
        ap.error("--launchprof and --work are needed to check")
    os.makedirs(args.work, exist_ok=True)
    return check(args.launchprof, args.work)


if __name__ == "__main__":
    sys.exit(main())
