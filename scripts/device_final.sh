#!/usr/bin/env bash
# GPU validation of a submission in one device call: every GPU test binary, then the benchmark rows that
# go to bench/results. Pass the commit as ONEMOE_COMMIT and, for a second run on one day, a result-name tag
# as ONEMOE_RESULT_TAG (result files are never overwritten); writes to $OUT.
#   scripts/device_final.sh           binaries from a clean local build, carried in .carry/bin (collect_binaries.sh)
#   scripts/device_final.sh --build   a clean build on the device first (carry third_party)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
bin="$root/.carry/bin"
out=${OUT:-/tmp/onemoe-out}
day=$(date -u +%Y-%m-%d)
mkdir -p "$out"
if [ "${1:-}" = "--build" ]; then
  build=/tmp/onemoe-build
  t0=$SECONDS
  { cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONEMOE_BUILD_LAUNCHPROF=OFF \
    && cmake --build "$build" -j "$(nproc)"; } > "$out/build.log" 2>&1
  echo "[build] rc=$? $((SECONDS - t0))s"
  bin=/tmp/onemoe-bin
  mkdir -p "$bin"
  cp "$build/onemoe-bench" "$build/tests/onemoe/onemoe_gpu_tests" "$build/bench/baselines/baseline-selfcheck" \
     "$build/bench/baselines/baselines_gpu_test" "$bin/"
fi
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv > "$out/env.txt" 2>&1
t0=$SECONDS
{
  timeout 100 "$bin/baseline-selfcheck"; echo "[baseline-selfcheck] rc=$?"
  timeout 100 "$bin/baselines_gpu_test"; echo "[baselines_gpu_test] rc=$?"
  timeout 300 "$bin/onemoe_gpu_tests"; echo "[onemoe_gpu_tests] rc=$?"
} > "$out/gpu_tests.log" 2>&1
echo "[tests] $((SECONDS - t0))s"
grep -E "^\[(baseline|onemoe)|PASSED|FAILED|PASS: |FAIL" "$out/gpu_tests.log" | tail -n 12
bench() {  # bench NAME SECONDS ARGS...
  local name=$1 secs=$2
  shift 2
  timeout "$secs" "$bin/onemoe-bench" "$@" --json "$out/$day-onemoe-bench-$name${ONEMOE_RESULT_TAG:+-$ONEMOE_RESULT_TAG}-1gpu.json" > "$out/bench-$name.log" 2>&1
  echo "[bench $name] rc=$?"
  grep -v '^#' "$out/bench-$name.log" | grep -v '^$'
}
bench main 200 -b 16384 -e 16384 --experts 8,32,128 -k 2 -d bf16 -w 5 -n 20
bench decode 60 -b 128 -e 128 --experts 128 -k 2 -d bf16 -w 5 -n 50
bench dtypes 150 -b 16384 -e 16384 --experts 128 -k 2 -d fp16,tf32 -w 3 -n 10
