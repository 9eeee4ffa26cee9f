#!/usr/bin/env python3
"""Merges result files of one device call into one bench/results file: the first file's envelope (tool, commit,
date, GPU) with every file's rows, each row tagged with the tool that measured it. So that onemoe's rows and the
peers measured beside them (../shared/bench/torch_grouped_moe.py) stay in one file, as RESULTS.md asks.

  merge_results.py OUT.json onemoe-bench.json peer-eager.json peer-graph.json ...
"""
import json
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: merge_results.py OUT.json FIRST.json [MORE.json ...]")
    out, inputs = sys.argv[1], sys.argv[2:]
    docs = []
    for path in inputs:
        try:
            with open(path) as f:
                docs.append(json.load(f))
        except (OSError, json.JSONDecodeError) as e:
            sys.exit(f"merge_results.py: {path}: {e}")
    merged = {k: v for k, v in docs[0].items() if k != "rows"}
    merged["commands"] = [d.get("command", "") for d in docs]
    gpus = {d.get("gpu") for d in docs}
    if len(gpus) != 1:
        sys.exit(f"merge_results.py: the files come from different GPUs {sorted(map(str, gpus))}: not one run")
    merged["rows"] = [dict(r, tool=d.get("tool", "")) for d in docs for r in d.get("rows", [])]
    with open(out, "w") as f:
        json.dump(merged, f, indent=1)
    print(f"merge_results.py: {len(merged['rows'])} rows from {len(docs)} files into {out}")


if __name__ == "__main__":
    main()
