#!/usr/bin/env bash
# Tuning run: the main benchmark rows for each carried build variant (.carry/<variant>/onemoe-bench),
# then the full GPU test suite of the default build. Logs and JSON go to $OUT.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
out=${OUT:-/tmp/onemoe-out}
mkdir -p "$out"
for variant in "$@"; do
  bench="$root/.carry/$variant/onemoe-bench"
  [ -x "$bench" ] || continue
  timeout 200 "$bench" -b 16384 -e 16384 --experts 8,128 -k 2 -d bf16 -w 3 -n 10 --impl onemoe --check-tokens 256 \
    --json "$out/perf_$variant.json" > "$out/perf_$variant.log" 2>&1
  echo "[variant $variant] rc=$?"
  grep -v '^#' "$out/perf_$variant.log" | grep -v '^$'
  timeout 60 "$bench" -b 128 -e 128 --experts 128 -k 2 -d bf16 -w 3 -n 20 --impl onemoe 2>&1 | grep -v '^#'
done
timeout 330 "$root/.carry/bin/onemoe_gpu_tests" ${GTEST_FILTER:+--gtest_filter=$GTEST_FILTER} > "$out/gpu_tests_full.log" 2>&1
echo "[gpu tests] rc=$?"
grep -E "FAILED|PASSED|OK \]" "$out/gpu_tests_full.log" | tail -n 12
