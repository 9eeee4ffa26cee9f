#!/usr/bin/env python3
"""Agreement test: `launchprof analyze --json` against launchprof/analyze/tools/independent_check.py (plain json)
on every fixture, and on generated Kineto traces (plain and gzip, with anomalies) against the numbers the generator
built in. Kernel count, orphan count and TKLQT (in ns) must be equal; a trace one side rejects, the other must too.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "launchprof", "analyze", "tools")
sys.path.insert(0, TOOLS)
import independent_check  # noqa: E402


def analyze(launchprof, trace, out_json):
    p = subprocess.run([launchprof, "analyze", trace, "--json", out_json, "-q"], capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.returncode, p.stderr.strip()
    with open(out_json) as f:
        doc = json.load(f)
    row = next(r for r in doc["rows"] if r["scope"] == "all")
    return {"kernels": row["kernels"], "orphans": row["orphans"], "tklqt_ns": round(row["tklqt_us"] * 1000)}, 0, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--launchprof", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)

    generated = []
    for name, extra in (("synthetic.json", []), ("synthetic_anomalies.json.gz", ["--gzip", "--anomalies",
                                                                                  "--devices", "2", "--streams", "2"])):
        path = os.path.join(args.work, name)
        expect = path + ".expect.json"
        subprocess.run([sys.executable, os.path.join(TOOLS, "make_synthetic_trace.py"), "-o", path, "--size-mb", "3",
                        "--seed", "7", "--expect", expect] + extra, check=True)
        generated.append((path, expect))

    traces = sorted(glob.glob(os.path.join(args.fixtures, "*.json*"))) + [g[0] for g in generated]
    failures = 0
    for trace in traces:
        name = os.path.basename(trace)
        got, rc, err = analyze(args.launchprof, trace, os.path.join(args.work, name + ".out.json"))
        try:
            ref = independent_check.check(trace)
            ref.pop("trace")
        except (ValueError, KeyError, OSError, EOFError) as e:  # json, gzip and layout errors
            ref = None
            ref_err = type(e).__name__
        if ref is None or got is None:
            ok = ref is None and got is None and rc == 2
            print(f"{'ok  ' if ok else 'FAIL'} {name}: rejected by "
                  f"{'both' if ok else ('script only' if ref is None else 'launchprof only')} "
                  f"(launchprof rc={rc} {err[:80]!r}; script {ref_err if ref is None else 'ok'})")
        else:
            ok = got == ref
            print(f"{'ok  ' if ok else 'FAIL'} {name}: launchprof {got} script {ref}")
        failures += not ok
    for trace, expect in generated:
        with open(expect) as f:
            built = json.load(f)
        got, _, _ = analyze(args.launchprof, trace, trace + ".out2.json")
        want = {k: built[k] for k in ("kernels", "orphans", "tklqt_ns")}
        ok = got == want
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(trace)}: launchprof {got} generator {want}")
    print(f"{len(traces) + len(generated) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
