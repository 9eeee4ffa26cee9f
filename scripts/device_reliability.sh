#!/usr/bin/env bash
# GPU checks of the reliability work in one device call (docs/reliability.md): every one-GPU suite, the
# expert-parallel suites on the GPUs present, the soak (default build and the 128x128-tile tuning build),
# compute-sanitizer on a subset, and the benchmark rows with the plain-PyTorch peers merged into one file.
# Binaries: .carry/bin (default build) and .carry/bin-tune (tuning build), from scripts/collect_binaries.sh;
# the peer script: .carry/peers/torch_grouped_moe.py. Writes logs and JSON to $OUT; ONEMOE_COMMIT names the commit.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
bin="$root/.carry/bin"
tune="$root/.carry/bin-tune"
peer="$root/.carry/peers/torch_grouped_moe.py"
out=${OUT:-/tmp/onemoe-out}
day=$(date -u +%Y-%m-%d)
tag=${ONEMOE_RESULT_TAG:+-$ONEMOE_RESULT_TAG}
mkdir -p "$out/logs"
log="$out/logs"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv > "$log/env.txt" 2>&1
step() { echo "[$(date -u +%T)] $*"; }

step "gpu tests"
timeout 300 "$bin/onemoe_gpu_tests" > "$log/gpu_tests.log" 2>&1; echo "[onemoe_gpu_tests] rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" "$log/gpu_tests.log" | tail -n 15
step "multigpu tests (the cases this machine's GPUs allow)"
timeout 200 "$bin/onemoe_multigpu_tests" > "$log/multigpu_tests.log" 2>&1; echo "[onemoe_multigpu_tests] rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED  \]" "$log/multigpu_tests.log" | tail -n 15

step "soak"
timeout 240 "$bin/onemoe-soak" -n 100000 --json "$out/$day-onemoe-soak$tag-1gpu.json" > "$log/soak.log" 2>&1
echo "[soak] rc=$?"; tail -n 3 "$log/soak.log"
if [ -x "$tune/onemoe-soak" ]; then
  step "soak, 128x128-tile tuning build"
  timeout 120 "$tune/onemoe-soak" -n 40000 --json "$out/$day-onemoe-soak-tune128$tag-1gpu.json" > "$log/soak-tune.log" 2>&1
  echo "[soak tune128] rc=$?"; tail -n 3 "$log/soak-tune.log"
fi

step "compute-sanitizer"
export ONEMOE_WAIT_TIMEOUT_MS=120000  # sanitized kernels run orders of magnitude slower
small='Shapes/FusedForward.*T1_E8*:Shapes/FusedForward.*T3_E8*'
for tool in memcheck racecheck synccheck initcheck; do
  filter=$small
  [ "$tool" = memcheck ] && filter="$small:RunGuards.*"
  [ "$tool" = racecheck ] && filter='Shapes/FusedForward.*T3_E8*bf16:Shapes/FusedForward.*T3_E8*fp32'
  timeout 150 compute-sanitizer --tool "$tool" --error-exitcode 99 "$bin/onemoe_gpu_tests" --gtest_filter="$filter" \
    > "$log/sanitizer-$tool.log" 2>&1
  echo "[sanitizer $tool] rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log/sanitizer-$tool.log" | tail -n 1)"
done
unset ONEMOE_WAIT_TIMEOUT_MS

step "bench rows with the peers of the same run"
bench_with_peers() {  # NAME ONEMOE-BENCH-ARGS... -- PEER-ARGS...
  local name=$1; shift
  local ours=() theirs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do ours+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  theirs=("$@")
  local files=("$log/$name-onemoe.json")
  timeout 200 "$bin/onemoe-bench" "${ours[@]}" --json "$log/$name-onemoe.json" > "$log/bench-$name.log" 2>&1
  echo "[bench $name] rc=$?"; grep -v '^#' "$log/bench-$name.log" | grep -v '^$'
  if [ -f "$peer" ]; then
    for mode in eager graph; do
      local extra=(); [ "$mode" = graph ] && extra=(--graph)
      timeout 200 python3 "$peer" "${theirs[@]}" "${extra[@]}" --json "$log/$name-peer-$mode.json" \
        > "$log/peer-$name-$mode.log" 2>&1
      echo "[peer $name $mode] rc=$?"; grep -v '^#' "$log/peer-$name-$mode.log" | grep -v '^$'
      [ -f "$log/$name-peer-$mode.json" ] && files+=("$log/$name-peer-$mode.json")
    done
  fi
  python3 "$root/scripts/merge_results.py" "$out/$day-onemoe-bench-$name$tag-1gpu.json" "${files[@]}"
}
bench_with_peers main -b 16384 -e 16384 --experts 8,32,128 -k 2 -d bf16 -w 5 -n 20 -- -T 16384 -E 128 -k 2
bench_with_peers decode -b 128 -e 128 --experts 128 -k 2 -d bf16 -w 5 -n 50 -- -T 128 -E 128 -k 2
step "done"
