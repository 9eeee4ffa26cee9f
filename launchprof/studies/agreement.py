#!/usr/bin/env python3
"""Agreement check: `launchprof analyze --json` against trace_metrics.py (independent code) on the same traces.

For each trace named in the analyze JSON files (the row with scope "all"), it compares kernel count, orphan kernel
count and TKLQT. Counts must be equal; TKLQT may differ only by the microsecond rounding of the trace's timestamps
(1 ns per kernel, as both sum values printed with three decimals) plus 1e-9 relative.
A row's "wrong" is the number of the three quantities that disagree.

  agreement.py ANALYZE_JSON... --out RESULT.json
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import envelope  # noqa: E402
import trace_metrics  # noqa: E402


def analyze_rows(path):
    with open(path) as f:
        doc = json.load(f)
    rows = [r for r in doc.get("rows", []) if r.get("scope") == "all"]
    anomalies = {t.get("trace"): t.get("anomalies", {}) for t in doc.get("traces", [])}
    return doc.get("gpu") or "unknown", rows, anomalies


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("analyze_json", nargs="+")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out_rows = []
    unreadable = []
    gpu = "unknown"
    for path in args.analyze_json:
        try:
            g, rows, anomalies = analyze_rows(path)
        except (OSError, ValueError) as e:
            print(f"skip {path}: {e}", file=sys.stderr)
            continue
        gpu = g if gpu == "unknown" else gpu
        for r in rows:
            trace = r["trace"]
            try:
                m = trace_metrics.metrics(trace)
            except trace_metrics.TraceError as e:  # analyze read it, the script cannot: reported, run fails
                print(f"error: {e}", file=sys.stderr)
                unreadable.append(trace)
                continue
            a_orphans = r.get("orphans", anomalies.get(trace, {}).get("orphan_kernels"))
            tol = 1e-3 * max(m["kernels"], 1) + 1e-9 * abs(m["tklqt_us"])
            checks = {
                "kernels": r.get("kernels") == m["kernels"],
                "orphan_kernels": a_orphans == m["orphan_kernels"],
                "tklqt_us": r.get("tklqt_us") is not None and abs(r["tklqt_us"] - m["tklqt_us"]) <= tol,
            }
            row = {"impl": "agreement-analyze-vs-script", "trace": os.path.basename(trace),
                   "kernels_analyze": r.get("kernels"), "kernels_script": m["kernels"],
                   "orphans_analyze": a_orphans, "orphans_script": m["orphan_kernels"],
                   "tklqt_us_analyze": r.get("tklqt_us"), "tklqt_us_script": m["tklqt_us"],
                   "tklqt_tolerance_us": round(tol, 6),
                   "il_ms_analyze": r.get("il_ms"), "il_ms_script": m["il_ms"],
                   "disagree": [k for k, ok in checks.items() if not ok],
                   "wrong": sum(1 for ok in checks.values() if not ok)}
            out_rows.append(row)
            print(f"{'ok  ' if row['wrong'] == 0 else 'DIFF'} {row['trace']:44s} kernels {row['kernels_analyze']}/"
                  f"{row['kernels_script']}  orphans {row['orphans_analyze']}/{row['orphans_script']}  TKLQT "
                  f"{row['tklqt_us_analyze']}/{row['tklqt_us_script']} us")
    envelope.write_envelope(args.out, "launchprof/studies/agreement.py", out_rows, gpu)
    print(f"wrote {args.out}")
    return 0 if out_rows and not unreadable and all(r["wrong"] == 0 for r in out_rows) else 1


if __name__ == "__main__":
    sys.exit(main())
