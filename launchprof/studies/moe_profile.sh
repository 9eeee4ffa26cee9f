#!/usr/bin/env bash
# The launch profile of one MoE forward: onemoe against the multi-kernel baselines, each recorded by
# `launchprof record` and analyzed (kernels, TKLQT, IL), per forward.
#   usage: moe_profile.sh BENCH LAUNCHPROF OUTDIR [T] [E]
set -u
bench=$1 lp=$2 out=$3 T=${4:-4096} E=${5:-32}
warmup=2 iters=8  # recorded forwards = warmup + iters (no check, and the CUPTI counter yields to the recorder)
mkdir -p "$out"
for impl in onemoe baseline-torch-loop baseline-grouped-gemm; do
  trace="$out/moe_${impl}_T${T}_E${E}.json.gz"
  "$lp" record -o "$trace" -- "$bench" -b "$T" -e "$T" --experts "$E" -k 2 -d bf16 -w $warmup -n $iters -c 0 \
    --impl "$impl" > "$out/moe_${impl}.record.log" 2>&1
  echo "[moe_profile] $impl record rc=$? forwards=$((warmup + iters))"
  "$lp" analyze "$trace" --per-kernel --json "$out/moe_${impl}_analysis.json" > "$out/moe_${impl}_analysis.txt" 2>&1
  echo "[moe_profile] $impl analyze rc=$?"
  head -n 25 "$out/moe_${impl}_analysis.txt"
done
# Per-forward kernels, TKLQT and IL as a bench/results envelope (LAUNCHPROF_COMMIT: the commit that was built).
python3 "$(dirname "$0")/moe_profile_report.py" "$out"/moe_*_analysis.json --forwards $((warmup + iters)) \
  --timed $iters --commit "${LAUNCHPROF_COMMIT:-unknown}" \
  --out "$out/$(date -u +%Y-%m-%d)-launchprof-moe-profile-1gpu.json"
echo "[moe_profile] report rc=$?"
