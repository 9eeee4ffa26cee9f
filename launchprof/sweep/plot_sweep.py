#!/usr/bin/env python3
"""Draws a `launchprof sweep --json` file: TKLQT and IL against batch size (log2 x-axis, log y), with the GPU idle
fraction below, and the CPU-bound -> GPU-bound transition marked on both.

    plot_sweep.py SWEEP.json OUT.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    rows = [r for r in doc["rows"] if r.get("il_ms") is not None]
    if not rows:
        sys.exit("plot_sweep.py: no row with kernels to plot")
    batch = [r["batch"] for r in rows]
    tklqt_ms = [r["tklqt_us"] / 1e3 for r in rows]
    il_ms = [r["il_ms"] for r in rows]
    idle = [r["idle_frac"] if r.get("idle_frac") is not None else float("nan") for r in rows]
    transition = doc.get("transition_batch")
    threshold = doc.get("idle_threshold", 0.5)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, height_ratios=[2, 1])
    top.plot(batch, tklqt_ms, "o-", label="TKLQT (sum of launch + queue time)")
    top.plot(batch, il_ms, "s-", label="IL (inference latency)")
    top.set_yscale("log")
    top.set_ylabel("ms")
    title = f"launchprof sweep{' on ' + doc['gpu'] if doc.get('gpu') else ''}"
    top.set_title(title)
    bottom.plot(batch, idle, "d-", color="tab:green", label="GPU idle / IL")
    bottom.axhline(threshold, color="gray", linestyle=":", label=f"threshold {threshold:g}")
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("idle fraction")
    bottom.set_xlabel("batch size")
    bottom.set_xscale("log", base=2)
    bottom.set_xticks(batch)
    bottom.set_xticklabels([str(b) for b in batch])
    for ax in (top, bottom):
        if transition is not None:
            ax.axvline(transition, color="tab:red", linestyle="--",
                       label=f"GPU-bound from batch {transition}" if ax is top else None)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    if transition is None:
        top.text(0.02, 0.02, doc.get("verdict", "no transition in range"), transform=top.transAxes, fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)


if __name__ == "__main__":
    main()
