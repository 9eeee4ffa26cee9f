#!/usr/bin/env python3
"""The launchprof analyze join done with HolisticTraceAnalysis (PyPI HolisticTraceAnalysis), for the speed baseline.

HTA's own trace parser (hta.common.trace_parser.parse_trace_dataframe, default configuration and backend) loads the
trace into a DataFrame; pandas then joins kernels to cuda_runtime/cuda_driver calls on correlation (a runtime call
preferred to a driver call, then the earliest, as launchprof does) and sums lq = kernel ts - call ts. ns rounding is
disabled (HTA_DISABLE_NS_ROUNDING=1) so timestamps stay as in the file. Prints one JSON object.

    hta_join.py TRACE.json[.gz]
"""
import json
import os
import sys
import time

os.environ.setdefault("HTA_DISABLE_NS_ROUNDING", "1")

from hta.common.trace_parser import parse_trace_dataframe  # noqa: E402
from hta.configs.parser_config import ParserConfig  # noqa: E402


def main():
    path = sys.argv[1]
    t0 = time.perf_counter()
    _, df, symbols = parse_trace_dataframe(path, ParserConfig.get_default_cfg())
    t1 = time.perf_counter()
    ids = symbols.get_sym_id_map()
    kernels = df[df["cat"] == ids.get("kernel", -1)][["ts", "correlation"]]
    pref = {ids.get("cuda_runtime", -1): 0, ids.get("cuda_driver", -2): 1}
    calls = df[df["cat"].isin(list(pref))][["ts", "correlation", "cat"]].copy()
    calls["pref"] = calls["cat"].map(pref)
    calls = calls.sort_values(["correlation", "pref", "ts"]).drop_duplicates("correlation")
    joined = kernels.merge(calls[["ts", "correlation"]], on="correlation", how="left", suffixes=("", "_call"))
    matched = joined["ts_call"].notna()
    tklqt_us = float((joined.loc[matched, "ts"] - joined.loc[matched, "ts_call"]).sum())
    t2 = time.perf_counter()
    print(json.dumps({"kernels": int(len(kernels)), "orphans": int((~matched).sum()), "tklqt_us": tklqt_us,
                      "parse_s": t1 - t0, "join_s": t2 - t1, "hta_version": hta_version()}))


def hta_version():
    try:
        from importlib.metadata import version
        return version("HolisticTraceAnalysis")
    except Exception:  # noqa: BLE001 - the version is informative only
        return None


if __name__ == "__main__":
    main()
