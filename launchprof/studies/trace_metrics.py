#!/usr/bin/env python3
"""Independent, short computation of SKIP's quantities from one Chrome trace (PyTorch profiler or launchprof record).

It shares no code with `launchprof analyze`; run_all.sh compares the two on the same traces (the "agreement" check).
It loads the whole file with the json module, so it is meant for traces of a few hundred MB at most. Gzip is
recognised by the file's first two bytes, not by its name.

Definitions (SKIP): for each kernel j, lq_j = kernel start - start of the launch call with the same correlation id;
TKLQT = sum of lq_j over kernels that have a launch call; IL = last kernel end - first operator start (operators:
cpu_op and user_annotation events; the first launch call if there are none); GPU idle = IL - sum of kernel durations.
Orphan kernels have no launch call; launches with no kernel are kernel-launch calls whose correlation id no kernel has.

  trace_metrics.py TRACE... [--json OUT]     one row per trace; exit 2 if any trace cannot be read (the
                                             others are still reported)
  trace_metrics.py --coverage TRACE          per NVTX range "launch:*"/"op:*": did each instance get its GPU ops?
"""
import argparse
import gzip
import json
import sys

LAUNCH_PREFIXES = ("cudaLaunch", "__cudaLaunch", "cudaGraphLaunch", "cuLaunch", "cuGraphLaunch")
API_CATS = ("cuda_runtime", "cuda_driver")
GPU_OP_CATS = ("kernel", "gpu_memcpy", "gpu_memset")
OPERATOR_CATS = ("cpu_op", "user_annotation")


def is_kernel_launch(name):
    return name.startswith(LAUNCH_PREFIXES) and "HostFunc" not in name


GZIP_MAGIC = b"\x1f\x8b"


class TraceError(ValueError):
    """A file that is not a trace: unreadable, not JSON, or a JSON object with no traceEvents."""


def open_trace(path):
    """A text stream of the file, gunzipped when it starts with the gzip magic (the name does not decide)."""
    with open(path, "rb") as f:
        gz = f.read(2) == GZIP_MAGIC
    return gzip.open(path, "rt", encoding="utf-8") if gz else open(path, "r", encoding="utf-8")


def load(path):
    try:
        with open_trace(path) as f:
            data = json.load(f)
    except (OSError, EOFError, ValueError) as e:  # gzip.BadGzipFile and JSONDecodeError are among these
        raise TraceError(f"{path}: cannot read trace: {e}") from e
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("traceEvents"), list):
        return data["traceEvents"]
    raise TraceError(f"{path}: not a trace (no traceEvents array)")


def complete_events(events, cats):
    return [e for e in events if e.get("ph") == "X" and e.get("cat") in cats]


def metrics(path):
    events = load(path)
    kernels = complete_events(events, ("kernel",))
    apis = complete_events(events, API_CATS)
    operators = complete_events(events, OPERATOR_CATS)
    launch_by_corr = {}
    for e in apis:
        corr = e.get("args", {}).get("correlation")
        if corr is not None and corr not in launch_by_corr:
            launch_by_corr[corr] = e
    kernel_corrs = set()
    tklqt = 0.0
    lq_terms = 0
    negative = 0
    orphans = 0
    kernel_time = 0.0
    for k in kernels:
        corr = k.get("args", {}).get("correlation")
        kernel_corrs.add(corr)
        kernel_time += float(k["dur"])
        launch = launch_by_corr.get(corr)
        if launch is None:
            orphans += 1
            continue
        lq = float(k["ts"]) - float(launch["ts"])
        tklqt += lq
        lq_terms += 1
        negative += lq < 0
    gpu_op_corrs = {e.get("args", {}).get("correlation") for e in complete_events(events, GPU_OP_CATS)}
    launches = [e for e in apis if is_kernel_launch(e.get("name", ""))]
    no_kernel = sum(1 for e in launches if e.get("args", {}).get("correlation") not in gpu_op_corrs)
    il = idle = None
    if kernels:
        last_end = max(float(k["ts"]) + float(k["dur"]) for k in kernels)
        starts = [float(e["ts"]) for e in operators] or [float(e["ts"]) for e in launches]
        if starts:
            il = last_end - min(starts)
            idle = il - kernel_time
    return {
        "trace": path,
        "kernels": len(kernels),
        "kernel_launch_calls": len(launches),
        "lq_terms": lq_terms,
        "tklqt_us": round(tklqt, 3),
        "orphan_kernels": orphans,
        "launches_without_kernel": no_kernel,
        "negative_lq": negative,
        "kernel_time_us": round(kernel_time, 3),
        "il_ms": None if il is None else round(il / 1e3, 6),
        "idle_ms": None if idle is None else round(idle / 1e3, 6),
    }


def coverage(path):
    """Per range name: instances, instances whose launch calls reached GPU ops, and those ops."""
    events = load(path)
    ops_by_ext = {}
    for e in complete_events(events, GPU_OP_CATS):
        ext = e.get("args", {}).get("External id")
        if ext is not None:
            ops_by_ext[ext] = ops_by_ext.get(ext, 0) + 1
    table = {}
    for r in complete_events(events, ("user_annotation",)):
        name = r.get("name", "")
        if not (name.startswith("launch:") or name.startswith("op:")):
            continue
        row = table.setdefault(name, [0, 0, 0])
        n = ops_by_ext.get(r.get("args", {}).get("External id"), 0)
        row[0] += 1
        row[1] += n > 0
        row[2] += n
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--json", help="write the rows as a JSON list")
    ap.add_argument("--coverage", action="store_true")
    args = ap.parse_args()
    if args.coverage:
        ok = True
        for path in args.traces:
            try:
                table = coverage(path)
            except TraceError as e:
                print(f"trace_metrics.py: error: {e}", file=sys.stderr)
                return 2
            print(f"# coverage of {path}")
            print(f"# {'range':36s} {'instances':>9s} {'with ops':>9s} {'gpu ops':>8s}")
            for name in sorted(table):
                inst, covered, ops = table[name]
                ok = ok and covered == inst
                print(f"  {name:36s} {inst:9d} {covered:9d} {ops:8d} {'ok' if covered == inst else 'MISSING'}")
            if not table:
                print("  no launch:/op: ranges found (were NVTX ranges recorded?)")
                ok = False
        return 0 if ok else 1
    rows = []
    bad = []
    for p in args.traces:
        try:
            rows.append(metrics(p))
        except TraceError as e:  # one bad trace is reported; the others are still computed
            print(f"trace_metrics.py: error: {e}", file=sys.stderr)
            bad.append(p)
    keys = ["kernels", "kernel_launch_calls", "tklqt_us", "orphan_kernels", "launches_without_kernel", "negative_lq",
            "il_ms", "idle_ms"]
    print("# " + " ".join(f"{k:>14s}" for k in keys) + "  trace")
    for r in rows:
        print("  " + " ".join(f"{str(r[k]):>14s}" for k in keys) + "  " + r["trace"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 2 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
