#!/usr/bin/env python3
"""What recording costs a launch-bound workload: 10,000 tiny kernels, timed by wall clock.

Workloads (each run in a fresh process, configurations interleaved, --repeats processes each):
  cxx:   launchprof-null-kernel --no-cupti --mode burst: N empty kernels back to back (<<<>>>), then one sync
  torch: N in-place adds on a one-element CUDA tensor (x.add_(1)), then one sync
Configurations (--cxx-configs / --torch-configs pick them):
  plain              nothing attached
  record             under `launchprof record`, its defaults (CUPTI activity records, system thread ids)
  record-callback    --api-source callback: API calls from launchprof's own CUPTI callback, no API activity records
  record-tid-cupti   --thread-ids cupti: CUPTI's default thread id (pthread_self) instead of gettid
  record-all-runtime --all-runtime-apis: host-state queries (cudaGetDevice, cudaGetLastError, ...) recorded too
  diag-no-api        diagnostic: kernels, copies, sets, syncs only (LAUNCHPROF_DIAG_NO_API=1)
  diag-no-kernels    diagnostic: API records only (LAUNCHPROF_DIAG_NO_KERNELS=1)
  diag-attach-only   diagnostic: both of the above: CUPTI attached, no per-launch record (copies, sets, syncs only)
  diag-attach-bare   diagnostic: attach-only, and no CUPTI subscriber, CUPTI's own clock, no sync/device/context/NVTX
                     kinds: the floor of CUPTI's activity API with copies and sets enabled
  record-lean        diagnostic: record without the subscriber, the timestamp callback and the extra kinds: what
                     launchprof's own set-up adds to record (record - record-lean)
  cupti-inprocess    (cxx) the same collector linked into the program
  torch-profiler     (torch) the loop inside torch.profiler.profile(CPU+CUDA); export timed apart
Per run the workload reports the wall time of its timed loops (median of --loops loops); the study reports the median
over processes, and the overhead of each configuration against plain, for the loop and for the whole process.

  overhead.py --build BUILD_DIR --out OUT [--launchprof PATH] [--n 10000] [--repeats 3] [--workloads cxx,torch]
              [--cxx-configs a,b] [--torch-configs a,b] [--name launchprof-overhead]
  overhead.py --worker torch --profiler none|torch --n N --loops L --json PATH   (one measured process)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import envelope  # noqa: E402


def worker_torch(args):
    import torch

    x = torch.zeros(1, device="cuda")
    for _ in range(200):
        x.add_(1.0)
    torch.cuda.synchronize()

    def loops():
        out = []
        for _ in range(args.loops):
            t0 = time.perf_counter()
            for _ in range(args.n):
                x.add_(1.0)
            torch.cuda.synchronize()
            out.append((time.perf_counter() - t0) * 1e3)
        return out

    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__}
    if args.profiler == "torch":
        acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        t_enter = time.perf_counter()
        with torch.profiler.profile(activities=acts) as prof:
            t_in = time.perf_counter()
            result["loop_ms_each"] = loops()
            t_loops = time.perf_counter()
        t_exit = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            prof.export_chrome_trace(os.path.join(tmp, "t.json"))
        result["profiler_start_s"] = t_in - t_enter
        result["profiler_stop_s"] = t_exit - t_loops
        result["export_s"] = time.perf_counter() - t_exit
    else:
        result["loop_ms_each"] = loops()
    result["loop_ms"] = statistics.median(result["loop_ms_each"])
    with open(args.json, "w") as f:
        json.dump(result, f)
    return 0


def run_once(cmd, json_path, env=None):
    """Runs one measured process; returns (loop_ms, wall_s, extra dict) or raises."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    with open(json_path) as f:
        doc = json.load(f)
    if "rows" in doc:  # launchprof-null-kernel's envelope
        row = doc["rows"][0]
        return row["loop_ms"], wall, {"gpu": doc["gpu"], "loop_ms_each": row["loop_ms_each"]}
    return doc["loop_ms"], wall, doc


# Recording configurations: name -> (`launchprof record` options, environment the collector reads). The
# environment is set in both cases, so it also works without the launchprof binary (CUDA_INJECTION64_PATH).
RECORD_CONFIGS = {
    "record": ([], {}),  # the default: CUPTI activity records, system thread ids
    "record-all-runtime": (["--all-runtime-apis"], {"LAUNCHPROF_RUNTIME_API": "all"}),
    "record-callback": (["--api-source", "callback"], {"LAUNCHPROF_API_SOURCE": "callback"}),
    "record-tid-cupti": (["--thread-ids", "cupti"], {"LAUNCHPROF_THREAD_IDS": "cupti"}),
    # Diagnostics: what the API records and the kernel records cost apart (not traces to analyze).
    "diag-no-api": ([], {"LAUNCHPROF_DIAG_NO_API": "1"}),
    "diag-no-kernels": ([], {"LAUNCHPROF_DIAG_NO_KERNELS": "1"}),
    # Run 2 (2026-11-28) measured each half alone costing about what both cost together: this one asks whether
    # having CUPTI attached at all, with no record per launch, already costs that.
    "diag-attach-only": ([], {"LAUNCHPROF_DIAG_NO_API": "1", "LAUNCHPROF_DIAG_NO_KERNELS": "1"}),
    # Run 3 (2026-11-29): attach-only cost +21.8%. These split that floor into what launchprof sets up (a CUPTI
    # subscriber, a timestamp callback, five extra kinds) and what attaching CUPTI's activity API costs by itself.
    "diag-attach-bare": ([], {"LAUNCHPROF_DIAG_NO_API": "1", "LAUNCHPROF_DIAG_NO_KERNELS": "1",
                              "LAUNCHPROF_DIAG_NO_SUBSCRIBER": "1", "LAUNCHPROF_DIAG_CUPTI_CLOCK": "1",
                              "LAUNCHPROF_DIAG_NO_EXTRA_KINDS": "1"}),
    "record-lean": ([], {"LAUNCHPROF_DIAG_NO_SUBSCRIBER": "1", "LAUNCHPROF_DIAG_CUPTI_CLOCK": "1",
                         "LAUNCHPROF_DIAG_NO_EXTRA_KINDS": "1"}),
}
CXX_CONFIGS = ["plain", "record", "record-callback", "record-tid-cupti", "diag-no-api", "diag-no-kernels",
               "diag-attach-only", "diag-attach-bare", "record-lean", "record-all-runtime", "cupti-inprocess"]
TORCH_CONFIGS = ["plain", "record", "record-callback", "record-tid-cupti", "record-all-runtime", "diag-attach-only",
                 "diag-attach-bare", "record-lean", "torch-profiler"]


def summarize(samples, args, launchprof):
    rows = []
    gpu = "unknown"
    for workload in ("cxx", "torch"):
        base = samples.get((workload, "plain"))
        base_loop = statistics.median(base["loop"]) if base and base["loop"] else None
        base_wall = statistics.median(base["wall"]) if base and base["wall"] else None
        for (w, config), s in samples.items():
            if w != workload or not s["loop"]:
                continue
            gpu = s["extra"][0].get("gpu", gpu)
            loop = statistics.median(s["loop"])
            wall = statistics.median(s["wall"])
            row = {"impl": f"overhead-{workload}-{config}", "workload": workload, "config": config, "n": args.n,
                   "loops_per_process": args.loops, "processes": len(s["loop"]), "loop_ms": round(loop, 4),
                   "loop_ms_each_process": [round(x, 4) for x in s["loop"]], "process_s": round(wall, 4),
                   "us_per_kernel": round(loop * 1e3 / args.n, 4), "wrong": None}
            if base_loop:
                row["loop_overhead_pct"] = round(100.0 * (loop - base_loop) / base_loop, 2)
                row["us_added_per_kernel"] = round((loop - base_loop) * 1e3 / args.n, 4)
            if base_wall:
                row["process_overhead_pct"] = round(100.0 * (wall - base_wall) / base_wall, 2)
            if config == "torch-profiler":
                for k in ("profiler_start_s", "profiler_stop_s", "export_s"):
                    row[k] = round(statistics.median(e[k] for e in s["extra"]), 4)
            if config in RECORD_CONFIGS:
                opts, env = RECORD_CONFIGS[config]
                how = "launchprof record" if launchprof else "CUDA_INJECTION64_PATH (no launchprof binary)"
                row["recorder"] = " ".join([how, *opts] + [f"{k}={v}" for k, v in env.items()])
                if config.startswith("diag-"):
                    row["notes"] = "diagnostic: part of the records left out; not a usable trace"
            rows.append(row)
    return rows, gpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", choices=["torch"])
    ap.add_argument("--profiler", choices=["none", "torch"], default="none")
    ap.add_argument("--json")
    ap.add_argument("--build", help="build directory with launchprof-null-kernel and liblaunchprof_inject.so")
    ap.add_argument("--launchprof", help="the launchprof binary (default BUILD/launchprof if present)")
    ap.add_argument("--out", default="launchprof_out")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--loops", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workloads", default="cxx,torch", help="comma-separated: cxx, torch")
    ap.add_argument("--cxx-configs", default=",".join(CXX_CONFIGS))
    ap.add_argument("--torch-configs", default=",".join(TORCH_CONFIGS))
    ap.add_argument("--name", default="launchprof-overhead", help="result file name (before -1gpu.json)")
    ap.add_argument("--skip-torch", action="store_true")
    args = ap.parse_args()
    if args.worker == "torch":
        return worker_torch(args)

    build = os.path.abspath(args.build)
    null_kernel = os.path.join(build, "launchprof-null-kernel")
    inject = os.path.join(build, "liblaunchprof_inject.so")
    launchprof = args.launchprof or (os.path.join(build, "launchprof")
                                     if os.access(os.path.join(build, "launchprof"), os.X_OK) else None)
    os.makedirs(os.path.join(args.out, "results"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="launchprof_overhead_")
    base_env = dict(os.environ)
    for k in ("CUDA_INJECTION64_PATH", "NVTX_INJECTION64_PATH", "LAUNCHPROF_RUNTIME_API", "LAUNCHPROF_API_SOURCE",
              "LAUNCHPROF_THREAD_IDS", "LAUNCHPROF_DIAG_NO_API", "LAUNCHPROF_DIAG_NO_KERNELS",
              "LAUNCHPROF_DIAG_NO_SUBSCRIBER", "LAUNCHPROF_DIAG_CUPTI_CLOCK", "LAUNCHPROF_DIAG_NO_EXTRA_KINDS"):
        base_env.pop(k, None)

    cxx = [null_kernel, "--no-cupti", "--mode", "burst", "--n", str(args.n), "--repeat", str(args.loops), "--json"]
    cxx_inproc = [null_kernel, "--mode", "burst", "--n", str(args.n), "--repeat", str(args.loops), "--json"]
    torch_cmd = [sys.executable, os.path.abspath(__file__), "--worker", "torch", "--n", str(args.n), "--loops",
                 str(args.loops), "--json"]

    def recorded(workload, config, base_cmd):
        opts, extra = RECORD_CONFIGS[config]
        trace = os.path.join(tmp, f"{workload}_{config}.json.gz")
        env = dict(base_env, **extra)
        if launchprof:
            return (lambda j: [launchprof, "record", "-o", trace, *opts, "--"] + base_cmd(j)), env
        env.update(CUDA_INJECTION64_PATH=inject, NVTX_INJECTION64_PATH=inject, LAUNCHPROF_OUTPUT=trace)
        return (lambda j: base_cmd(j)), env

    workloads = [w for w in args.workloads.split(",") if w and not (w == "torch" and args.skip_torch)]
    configs = []  # (workload, config, command builder, env)
    for workload in workloads:
        names = (args.cxx_configs if workload == "cxx" else args.torch_configs).split(",")
        base_cmd = (lambda j: cxx + [j]) if workload == "cxx" else (lambda j: torch_cmd + [j, "--profiler", "none"])
        for config in filter(None, names):
            if config == "plain":
                configs.append((workload, config, base_cmd, base_env))
            elif config in RECORD_CONFIGS:
                configs.append((workload, config, *recorded(workload, config, base_cmd)))
            elif config == "cupti-inprocess" and workload == "cxx":
                configs.append((workload, config, lambda j: cxx_inproc + [j], base_env))
            elif config == "torch-profiler" and workload == "torch":
                configs.append((workload, config, lambda j: torch_cmd + [j, "--profiler", "torch"], base_env))
            else:
                print(f"unknown configuration {workload}/{config}", file=sys.stderr)
                return 2
    samples = {(w, c): {"loop": [], "wall": [], "extra": []} for w, c, _, _ in configs}
    errors = []
    path = os.path.join(args.out, "results", envelope.result_name(args.name))
    # Repetitions interleave the configurations (drift hits all alike); the results file is rewritten after each
    # one, so a run cut short by its time limit keeps the repetitions it finished.
    for rep in range(args.repeats):
        for workload, config, build_cmd, env in configs:
            j = os.path.join(tmp, f"{workload}_{config}_{rep}.json")
            try:
                loop_ms, wall, extra = run_once(build_cmd(j), j, env)
            except Exception as e:  # one failing configuration must not stop the others
                errors.append(f"{workload}/{config}: {e}")
                print(errors[-1], file=sys.stderr)
                continue
            s = samples[(workload, config)]
            s["loop"].append(loop_ms)
            s["wall"].append(wall)
            s["extra"].append(extra)
            print(f"rep {rep} {workload:5s} {config:18s} loop {loop_ms:9.3f} ms  process {wall:7.3f} s", flush=True)
        rows, gpu = summarize(samples, args, launchprof)
        envelope.write_envelope(path, "launchprof/studies/overhead.py", rows, gpu,
                                extra={"repetitions_done": rep + 1, "repetitions_asked": args.repeats})

    rows, gpu = summarize(samples, args, launchprof)
    print(f"\n# {'workload':8s} {'config':18s} {'loop_ms':>10s} {'loop_ovh_%':>10s} {'us/kernel+':>10s} "
          f"{'process_s':>10s} {'proc_ovh_%':>10s}")
    for r in rows:
        print(f"  {r['workload']:8s} {r['config']:18s} {r['loop_ms']:10.3f} {str(r.get('loop_overhead_pct')):>10s} "
              f"{str(r.get('us_added_per_kernel')):>10s} {r['process_s']:10.3f} "
              f"{str(r.get('process_overhead_pct')):>10s}")
    print(f"wrote {path}")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
