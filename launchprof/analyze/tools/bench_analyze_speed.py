#!/usr/bin/env python3
"""Speed and memory of `launchprof analyze` on a large synthetic Kineto trace, against HolisticTraceAnalysis.

Writes bench/results/YYYY-MM-DD-launchprof-analyze-speed-0gpu.json (a new "-runN" name if that exists; files are
never overwritten) in the envelope of shared RESULTS.md. Steps:
  1. make_synthetic_trace.py writes a trace of --size-mb (default 1024) MB and the metrics it built in;
  2. `/usr/bin/time -v launchprof analyze TRACE --json ...` runs --repeats times: median wall time, peak RSS, and
     kernels / orphans / TKLQT checked against the generator ("wrong" = how many of the three differ);
  3. hta_join.py (HTA's parser + the same correlation join in pandas) runs under /usr/bin/time -v with the python
     of --hta-python (or a venv made at --hta-venv with `pip install HolisticTraceAnalysis`). If HTA fails or runs
     past --hta-timeout at the full size, both tools run again at --hta-fallback-mb and the ratio is taken there.

    bench_analyze_speed.py --launchprof build/launchprof/launchprof [--size-mb 1024] [--hta-venv /tmp/hta-venv]
"""
import argparse
import datetime
import json
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(TOOLS)))


def timed(cmd, timeout=None, env=None, mem_limit_bytes=None):
    """Runs cmd under /usr/bin/time -v; returns (returncode, stdout, wall_s, max_rss_mb)."""
    def limit():
        if mem_limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit_bytes, mem_limit_bytes))
    try:
        p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return None, "", None, None
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    seconds = None
    if wall:
        parts = [float(x) for x in wall.group(1).split(":")]
        seconds = sum(v * 60 ** (len(parts) - 1 - i) for i, v in enumerate(parts))
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-2000:])
    return p.returncode, p.stdout, seconds, int(rss.group(1)) / 1024 if rss else None


def make_trace(work, size_mb):
    path = os.path.join(work, f"synthetic-{size_mb:g}mb.json")
    expect = path + ".expect.json"
    if not (os.path.exists(path) and os.path.exists(expect)):
        subprocess.run([sys.executable, os.path.join(TOOLS, "make_synthetic_trace.py"), "-o", path, "--size-mb",
                        str(size_mb), "--seed", "1", "--expect", expect], check=True)
    with open(expect) as f:
        return path, json.load(f)


def run_launchprof(binary, trace, built, repeats, work):
    out = os.path.join(work, "analyze.out.json")
    walls, rss = [], []
    for _ in range(repeats):
        rc, _, wall, peak = timed([binary, "analyze", trace, "--json", out, "-q"])
        if rc != 0:
            raise SystemExit(f"launchprof analyze failed on {trace}")
        walls.append(wall)
        rss.append(peak)
    with open(out) as f:
        doc = json.load(f)
    row = next(r for r in doc["rows"] if r["scope"] == "all")
    events = doc["traces"][0]["events"]
    got = {"kernels": row["kernels"], "orphans": row["orphans"], "tklqt_ns": round(row["tklqt_us"] * 1000)}
    wrong = sum(got[k] != built[k] for k in got)
    return {"impl": "launchprof-analyze", "trace_mb": round(events["json_bytes"] / 1e6, 1), "events": events["total"],
            "kernels": row["kernels"], "orphans": row["orphans"], "tklqt_us": row["tklqt_us"],
            "wall_s": statistics.median(walls), "wall_s_runs": walls, "max_rss_mb": round(max(rss), 1),
            "wrong": wrong, "notes": "median of runs; wrong = kernels, orphans, TKLQT (ns) differing from the "
                                     "values the generator built in"}


def hta_python(args):
    if args.hta_python:
        return args.hta_python
    venv = args.hta_venv
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if subprocess.run([py, "-c", "import hta"], capture_output=True).returncode != 0:
        subprocess.run([py, "-m", "pip", "install", "-q", "HolisticTraceAnalysis"], check=True)
    return py


def run_hta(py, trace, built, timeout, mem_limit_gb):
    env = dict(os.environ, HTA_DISABLE_NS_ROUNDING="1")
    rc, out, wall, peak = timed([py, os.path.join(TOOLS, "hta_join.py"), trace], timeout=timeout, env=env,
                                mem_limit_bytes=int(mem_limit_gb * 2**30))
    if rc != 0:
        return None, "timed out" if rc is None else f"exit code {rc}"
    got = json.loads(out.strip().splitlines()[-1])
    tklqt_ns = got["tklqt_us"] * 1000
    wrong = (got["kernels"] != built["kernels"]) + (got["orphans"] != built["orphans"]) + \
        (abs(tklqt_ns - built["tklqt_ns"]) > 1e-6 * abs(built["tklqt_ns"]) + 1000)
    return {"impl": "baseline-hta", "trace_mb": round(built["json_bytes"] / 1e6, 1), "kernels": got["kernels"],
            "orphans": got["orphans"], "tklqt_us": got["tklqt_us"], "wall_s": wall, "max_rss_mb": round(peak, 1),
            "hta_parse_s": round(got["parse_s"], 3), "hta_join_s": round(got["join_s"], 3),
            "hta_version": got["hta_version"], "wrong": int(wrong),
            "notes": "HTA parse_trace_dataframe (default config, JSON backend) + pandas join on correlation; "
                     "wall includes the Python start and imports; TKLQT within 1e-6 relative counts as right"}, None


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1)}


def results_path(results_dir):
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    path = os.path.join(results_dir, f"{day}-launchprof-analyze-speed-0gpu.json")
    n = 2
    while os.path.exists(path):
        path = os.path.join(results_dir, f"{day}-launchprof-analyze-speed-run{n}-0gpu.json")
        n += 1
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--launchprof", required=True)
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default="/tmp/launchprof-bench")
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--hta-python", help="python with HolisticTraceAnalysis installed")
    ap.add_argument("--hta-venv", default="/tmp/launchprof-hta-venv", help="made and filled if --hta-python is absent")
    ap.add_argument("--hta-timeout", type=float, default=1800)
    ap.add_argument("--hta-mem-gb", type=float, default=18, help="address-space limit for HTA (protects the machine)")
    ap.add_argument("--hta-fallback-mb", type=float, default=256)
    ap.add_argument("--no-hta", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    binary = os.path.abspath(args.launchprof)

    trace, built = make_trace(args.work, args.size_mb)
    rows = [run_launchprof(binary, trace, built, args.repeats, args.work)]
    print(json.dumps(rows[-1]))
    comparison = None
    if not args.no_hta:
        py = hta_python(args)
        hta, why = run_hta(py, trace, built, args.hta_timeout, args.hta_mem_gb)
        common = rows[0]
        if hta is None:
            print(f"HTA at {args.size_mb:g} MB: {why}; retrying both at {args.hta_fallback_mb:g} MB", file=sys.stderr)
            small, small_built = make_trace(args.work, args.hta_fallback_mb)
            common = run_launchprof(binary, small, small_built, args.repeats, args.work)
            rows.append(common)
            hta, why = run_hta(py, small, small_built, args.hta_timeout, args.hta_mem_gb)
            if hta is not None:
                hta["notes"] += f"; at {args.size_mb:g} MB HTA {why}"
        if hta is not None:
            rows.append(hta)
            print(json.dumps(hta))
            comparison = {"trace_mb": common["trace_mb"], "wall_ratio_hta_over_launchprof":
                          round(hta["wall_s"] / common["wall_s"], 2), "rss_ratio_hta_over_launchprof":
                          round(hta["max_rss_mb"] / common["max_rss_mb"], 2)}
        else:
            comparison = {"error": f"HTA could not run: {why}"}

    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    doc = {"tool": "launchprof/analyze/tools/bench_analyze_speed.py",
           "command": " ".join(shlex.quote(a) for a in sys.argv),
           "commit": commit or "unknown",
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "gpu": None, "gpus": 0, "machine": machine(),
           "target": "analyze a 1 GB uncompressed Kineto trace in <= 10 s with <= 2 GB peak memory (2 cores)",
           "meets_target": rows[0]["wall_s"] <= 10 and rows[0]["max_rss_mb"] <= 2048 and rows[0]["trace_mb"] >= 1000,
           "comparison": comparison, "rows": rows}
    os.makedirs(args.results_dir, exist_ok=True)
    out = results_path(args.results_dir)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
