#!/usr/bin/env bash
# One GPU call with binaries built here (.carry/bin, see collect_binaries.sh): baseline self-check, the
# GPU tests, and the main benchmark rows. Every step is time-boxed; logs and JSON go to $OUT.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
bin="$root/.carry/bin"
out=${OUT:-/tmp/onemoe-out}
mkdir -p "$out"
nvidia-smi -L | tee "$out/env.txt"
step() {  # step NAME SECONDS CMD...
  local name=$1 secs=$2
  shift 2
  local t0=$SECONDS
  timeout "$secs" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "[step] $name rc=$rc $((SECONDS - t0))s"
  tail -n 4 "$out/$name.log"
}
step selfcheck 120 "$bin/baseline-selfcheck"
step gpu_tests_small 240 "$bin/onemoe_gpu_tests" --gtest_filter='*T1_*:*T3_*:*T300_*:RunGuards*:*RuntimeShapes*'
step bench_main 240 "$bin/onemoe-bench" -b 16384 -e 16384 --experts 8,32,128 -k 2 -d bf16 -w 3 -n 10 \
  --json "$out/bench_main.json"
step bench_decode 120 "$bin/onemoe-bench" -b 128 -e 128 --experts 128 -k 2 -d bf16 -w 3 -n 20 \
  --json "$out/bench_decode.json"
grep -h -v '^#' "$out"/bench_*.log | head -40
