#!/usr/bin/env python3
"""launchprof sweep end to end: generated traces whose kernels grow with the batch (CPU-bound at small batches,
GPU-bound at large ones), the table, the JSON envelope, the transition, and the PNG. Exit 77 (skipped) when
matplotlib is missing, after everything but the plot has been checked.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEN = os.path.join(ROOT, "launchprof", "analyze", "tools", "make_synthetic_trace.py")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--launchprof", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    labels = []
    # Kernel time scales with the batch; host launch overhead does not.
    for batch, scale in ((1, 0.05), (2, 0.1), (4, 0.2), (8, 2.0), (16, 4.0)):
        path = os.path.join(args.work, f"b{batch}.json.gz")
        subprocess.run([sys.executable, GEN, "-o", path, "--size-mb", "0.3", "--gzip", "--layers", "2",
                        "--gpu-scale", str(scale), "--seed", str(batch)], check=True)
        labels += ["--label", f"batch={batch}:{path}"]
    out_json = os.path.join(args.work, "sweep.json")
    p = subprocess.run([args.launchprof, "sweep", *labels, "--json", out_json], capture_output=True, text=True)
    print(p.stdout, p.stderr)
    assert p.returncode == 0, p.returncode
    with open(out_json) as f:
        doc = json.load(f)
    for key in ("tool", "command", "commit", "date", "gpu", "gpus", "rows", "rule", "transition_batch"):
        assert key in doc, key
    rows = doc["rows"]
    assert [r["batch"] for r in rows] == [1, 2, 4, 8, 16]
    for r in rows:
        for key in ("kernels", "tklqt_us", "il_ms", "idle_ms", "idle_frac", "regime", "regime_idle", "lq_p50_us",
                    "launch_call_p50_us", "queue_ratio"):
            assert key in r, key
        assert (r["idle_frac"] >= doc["idle_threshold"]) == (r["regime_idle"] == "cpu-bound")
        assert (r["queue_ratio"] >= doc["queue_factor"]) == (r["regime"] == "gpu-bound")
    assert doc["transition_batch"] == 8, doc["transition_batch"]
    assert doc["transition_batch_idle"] == 8, doc["transition_batch_idle"]
    assert "transition, TKLQT rule: CPU-bound below batch 8" in p.stdout
    assert "transition, idle rule:  CPU-bound below batch 8" in p.stdout
    check_rules_disagree(args)

    # A bad label is a usage error (64); an unreadable trace is a trace error (2).
    bad = subprocess.run([args.launchprof, "sweep", "--label", "batch=x:nothing"], capture_output=True)
    assert bad.returncode == 64, bad.returncode
    missing = subprocess.run([args.launchprof, "sweep", "--label", "batch=1:/nonexistent.json"], capture_output=True)
    assert missing.returncode == 2, missing.returncode

    # One unreadable trace among readable ones (a results envelope under a trace's name, as a study once wrote):
    # it is named and left out, the others are still reported and written, and the exit code is 2.
    not_a_trace = os.path.join(args.work, "b32.json.gz")
    with open(not_a_trace, "w") as f:
        json.dump({"tool": "x", "rows": []}, f)
    partial_json = os.path.join(args.work, "sweep_partial.json")
    p = subprocess.run([args.launchprof, "sweep", *labels, "--label", f"batch=32:{not_a_trace}", "--json",
                        partial_json], capture_output=True, text=True)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "batch 32 left out" in p.stderr and "traceEvents" in p.stderr, p.stderr
    with open(partial_json) as f:
        partial = json.load(f)
    assert [r["batch"] for r in partial["rows"]] == [1, 2, 4, 8, 16], partial["rows"]
    assert [u["batch"] for u in partial["unreadable"]] == [32], partial["unreadable"]
    assert partial["transition_batch"] == 8 and "left out: batch 32" in partial["verdict"], partial["verdict"]
    assert doc["unreadable"] == []

    # An unwritable --png path: one clear line, exit 1, no Python traceback, the JSON still written.
    unwritable_json = os.path.join(args.work, "sweep_unwritable.json")
    p = subprocess.run([args.launchprof, "sweep", *labels, "--json", unwritable_json, "--png",
                        "/nonexistent-dir/sweep.png", "-q"], capture_output=True, text=True)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "cannot write the plot /nonexistent-dir/sweep.png" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert os.path.exists(unwritable_json)

    # plot_sweep.py missing (a carried binary once looked only in its build's source tree): a clear message naming
    # where it looked, exit 3, and the table and JSON still written.
    png = os.path.join(args.work, "sweep.png")
    if os.path.exists(png):
        os.remove(png)
    no_script_json = os.path.join(args.work, "sweep_no_script.json")
    env = dict(os.environ, LAUNCHPROF_PLOT_SCRIPT=os.path.join(args.work, "no_such_plot.py"))
    p = subprocess.run([args.launchprof, "sweep", *labels, "--json", no_script_json, "--png", png, "-q"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "plot_sweep.py not found" in p.stderr and "no_such_plot.py" in p.stderr, p.stderr
    assert os.path.exists(no_script_json) and not os.path.exists(png)
    p = subprocess.run([args.launchprof, "sweep", *labels, "--png", png, "-q"], capture_output=True, text=True)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert p.returncode == 3 and "matplotlib" in p.stderr, (p.returncode, p.stderr)
        print("matplotlib is not installed: the PNG check is skipped")
        return 77
    assert p.returncode == 0, p.stderr
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG"
    check_script_next_to_binary(args, labels)
    print(f"passed: {png}")
    return 0


def write_layer_trace(path, batch, layers=24):
    """A layer of one GEMM and nine small kernels, launched every 12 us (a 7 us launch call; an unqueued kernel starts
    1.8 us after its call returns). Kernel time grows with the batch: GEMM 4*batch us, the others 0.5*batch us. At
    batch 8 the GEMM keeps the GPU busy for more than half of the time (the idle rule says GPU-bound) while only the
    three kernels behind it queue, so the median kernel still starts at the launch cost. From batch 16 the GPU is
    slower than the host and every kernel queues."""
    events, t, gpu_free, corr = [], 1000.0, 0.0, 0
    events.append({"ph": "X", "cat": "cpu_op", "name": "aten::forward", "pid": 1, "tid": 1, "ts": t,
                   "dur": layers * 10 * 12.0, "args": {"External id": 0}})
    for layer in range(layers):
        for k in range(10):
            corr += 1
            dur = 4.0 * batch if k == 0 else 0.5 * batch
            start = max(t + 7.0 + 1.8, gpu_free)
            gpu_free = start + dur
            name = "gemm_kernel" if k == 0 else f"small_kernel_{k}"
            events.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1,
                           "ts": round(t, 3), "dur": 7.0, "args": {"correlation": corr, "External id": 0}})
            events.append({"ph": "X", "cat": "kernel", "name": name, "pid": 0, "tid": 7, "ts": round(start, 3),
                           "dur": dur, "args": {"device": 0, "stream": 7, "correlation": corr}})
            t += 12.0
    with open(path, "w") as f:
        json.dump({"traceEvents": events}, f)


def check_rules_disagree(args):
    """The TKLQT rule names where the typical kernel starts to queue (16); the idle rule names 8."""
    labels = []
    for batch in (1, 2, 4, 8, 16, 32):
        path = os.path.join(args.work, f"layer_b{batch}.json")
        write_layer_trace(path, batch)
        labels += ["--label", f"batch={batch}:{path}"]
    out_json = os.path.join(args.work, "sweep_layers.json")
    p = subprocess.run([args.launchprof, "sweep", *labels, "--json", out_json], capture_output=True, text=True)
    print(p.stdout, p.stderr)
    assert p.returncode == 0, (p.returncode, p.stderr)
    with open(out_json) as f:
        doc = json.load(f)
    assert doc["transition_batch"] == 16, doc["verdict"]
    assert doc["transition_batch_idle"] == 8, doc["verdict_idle"]
    by_batch = {r["batch"]: r for r in doc["rows"]}
    assert abs(by_batch[8]["lq_p50_us"] - 8.8) < 1e-6, by_batch[8]
    assert by_batch[8]["idle_frac"] < 0.5 and by_batch[8]["regime"] == "cpu-bound"
    assert by_batch[16]["queue_ratio"] >= doc["queue_factor"]
    assert doc["largest_tklqt_step"]["to_batch"] == 16, doc["largest_tklqt_step"]


def check_script_next_to_binary(args, labels):
    """A binary copied elsewhere (the device carry) uses the plot_sweep.py copied next to it."""
    carry = os.path.join(args.work, "carry")
    os.makedirs(carry, exist_ok=True)
    binary = os.path.join(carry, "launchprof")
    shutil.copy2(args.launchprof, binary)
    marker = os.path.join(args.work, "carry_plot_ran.txt")
    if os.path.exists(marker):
        os.remove(marker)
    with open(os.path.join(carry, "plot_sweep.py"), "w") as f:
        f.write(f"import sys\nopen({marker!r}, 'w').write(sys.argv[2])\nopen(sys.argv[2], 'wb').write(b'x')\n")
    png = os.path.join(args.work, "carry.png")
    env = {k: v for k, v in os.environ.items() if k != "LAUNCHPROF_PLOT_SCRIPT"}
    p = subprocess.run([binary, "sweep", *labels, "--png", png, "-q"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, (p.returncode, p.stderr)
    with open(marker) as f:
        assert f.read() == png


if __name__ == "__main__":
    sys.exit(main())
