#!/usr/bin/env python3
"""Draws a `launchprof sweep --json` file against batch size (log2 x-axis): TKLQT and IL (log y) on top, the TKLQT
rule's queue ratio (median lq / median launch call) in the middle, the idle rule's GPU idle fraction below, and the
transition each rule names as a dashed line.

    plot_sweep.py SWEEP.json OUT.png

Exit codes: 0 drawn; 2 the JSON cannot be read or has nothing to plot; 1 the PNG cannot be written.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fail(code, message):
    print(f"plot_sweep.py: {message}", file=sys.stderr)
    sys.exit(code)


def main():
    if len(sys.argv) != 3:
        fail(2, "usage: plot_sweep.py SWEEP.json OUT.png")
    try:
        with open(sys.argv[1]) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail(2, f"cannot read {sys.argv[1]}: {e}")
    rows = [r for r in doc.get("rows", []) if r.get("il_ms") is not None or r.get("queue_ratio") is not None]
    if not rows:
        fail(2, "no row with kernels to plot")
    nan = float("nan")
    batch = [r["batch"] for r in rows]
    tklqt_ms = [r["tklqt_us"] / 1e3 if r.get("tklqt_us") else nan for r in rows]
    il_ms = [r["il_ms"] if r.get("il_ms") is not None else nan for r in rows]
    ratio = [r["queue_ratio"] if r.get("queue_ratio") is not None else nan for r in rows]
    idle = [r["idle_frac"] if r.get("idle_frac") is not None else nan for r in rows]
    t_tklqt = doc.get("transition_batch")
    t_idle = doc.get("transition_batch_idle")
    factor = doc.get("queue_factor", 4.0)
    threshold = doc.get("idle_threshold", 0.5)

    fig, (top, mid, bottom) = plt.subplots(3, 1, figsize=(7, 8), sharex=True, height_ratios=[2, 1, 1])
    top.plot(batch, tklqt_ms, "o-", label="TKLQT (sum of launch + queue time)")
    top.plot(batch, il_ms, "s-", label="IL (inference latency)")
    top.set_yscale("log")
    top.set_ylabel("ms")
    top.set_title(f"launchprof sweep{' on ' + doc['gpu'] if doc.get('gpu') else ''}")
    mid.plot(batch, ratio, "^-", color="tab:purple", label="median lq / median launch call")
    mid.axhline(factor, color="gray", linestyle=":", label=f"queue factor {factor:g}")
    mid.set_yscale("log")
    mid.set_ylabel("queue ratio")
    bottom.plot(batch, idle, "d-", color="tab:green", label="GPU idle / IL")
    bottom.axhline(threshold, color="gray", linestyle=":", label=f"threshold {threshold:g}")
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("idle fraction")
    bottom.set_xlabel("batch size")
    bottom.set_xscale("log", base=2)
    bottom.set_xticks(batch)
    bottom.set_xticklabels([str(b) for b in batch])
    for ax in (top, mid, bottom):
        if t_tklqt is not None:
            ax.axvline(t_tklqt, color="tab:red", linestyle="--",
                       label=f"TKLQT rule: GPU-bound from {t_tklqt}" if ax is top else None)
        if t_idle is not None:
            ax.axvline(t_idle, color="tab:orange", linestyle="-.",
                       label=f"idle rule: GPU-bound from {t_idle}" if ax is top else None)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    notes = []
    if t_tklqt is None:
        notes.append("TKLQT rule: " + doc.get("verdict", "no transition in range"))
    if t_idle is None:
        notes.append("idle rule: " + doc.get("verdict_idle", "no transition in range"))
    if notes:
        top.text(0.02, 0.02, "\n".join(notes), transform=top.transAxes, fontsize=7)
    fig.tight_layout()
    try:
        fig.savefig(sys.argv[2], dpi=120)
    except OSError as e:
        fail(1, f"cannot write {sys.argv[2]}: {e.strerror or e}")


if __name__ == "__main__":
    main()
