#!/usr/bin/env bash
# The GPU validation of a submission, in one device call: a clean build of the tree (third_party carried),
# every cpu and gpu test, and the benchmark rows recorded in bench/results. Pass the commit as ONEMOE_COMMIT.
#   usage: scripts/device_validate.sh   (writes to $OUT)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
out=${OUT:-/tmp/onemoe-out}
day=$(date -u +%Y-%m-%d)
mkdir -p "$out"
build=/tmp/onemoe-build
t0=$SECONDS
{ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONEMOE_BUILD_LAUNCHPROF=OFF \
  && cmake --build "$build" -j 16; } > "$out/build.log" 2>&1
echo "[build] rc=$? $((SECONDS - t0))s"
(cd "$build" && timeout 420 ctest -LE multigpu --output-on-failure > "$out/ctest.log" 2>&1; echo "[ctest] rc=$?")
tail -n 8 "$out/ctest.log"
bench() {  # bench NAME SECONDS ARGS...
  local name=$1 secs=$2
  shift 2
  timeout "$secs" "$build/onemoe-bench" "$@" --json "$out/$day-onemoe-bench-$name-1gpu.json" > "$out/bench-$name.log" 2>&1
  echo "[bench $name] rc=$?"
  grep -v '^#' "$out/bench-$name.log" | grep -v '^$'
}
bench main 300 -b 16384 -e 16384 --experts 8,32,128 -k 2 -d bf16 -w 5 -n 20
bench decode 120 -b 128 -e 128 --experts 128 -k 2 -d bf16 -w 5 -n 50
bench dtypes 240 -b 16384 -e 16384 --experts 128 -k 2 -d fp16,tf32 -w 3 -n 10
