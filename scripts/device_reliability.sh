#!/usr/bin/env bash
# GPU checks of the reliability work in one device call (docs/reliability.md): every one-GPU suite, the
# expert-parallel suites on the GPUs present, the soak (default build and the 128x128-tile tuning build),
# compute-sanitizer on a subset, and the benchmark rows with the plain-PyTorch peers merged into one file.
# Binaries: $ONEMOE_BIN (default .carry/bin, from scripts/collect_binaries.sh, or a device build:
# scripts/device_build.sh) and $ONEMOE_TUNE_BIN (the tuning build's onemoe-soak); the peer script $PEER_SCRIPT
# (a copy of ../shared/bench/torch_grouped_moe.py, which does not travel). Optional: .carry/bin-before, the same
# tests built on the code before the device-side epoch. Writes logs and JSON to $OUT; ONEMOE_COMMIT names the
# commit.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
bin=${ONEMOE_BIN:-$root/.carry/bin}
tune=${ONEMOE_TUNE_BIN:-$root/.carry/bin-tune}
peer=${PEER_SCRIPT:-$root/.carry/peers/torch_grouped_moe.py}
out=${OUT:-/tmp/onemoe-out}
day=$(date -u +%Y-%m-%d)
tag=${ONEMOE_RESULT_TAG:+-$ONEMOE_RESULT_TAG}
# Logs go to one folder that is packed into $OUT/logs.tgz after every step (a device call returns only a few
# files, and a call cut short still returns the steps it finished).
log=$(mktemp -d)
mkdir -p "$out"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv > "$log/env.txt" 2>&1
step() {
  tar czf "$out/logs.tgz" -C "$log" . 2>/dev/null
  echo "[$(date -u +%T)] $*"
}

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
if [ -d "$root/.carry/bin-before" ]; then
  # The graph tests built against the code before the device-side epoch (a "fails before the fix" check).
  step "graph tests on the code before the fix"
  timeout 90 "$root/.carry/bin-before/onemoe_gpu_tests" --gtest_filter='*GraphReplay*' > "$log/before-gpu.log" 2>&1
  echo "[before: one-GPU graph tests] rc=$?"; grep -E "^\[  (PASSED|FAILED) |FAILED  \]" "$log/before-gpu.log" | tail -n 4
  timeout 90 "$root/.carry/bin-before/onemoe_multigpu_tests" --gtest_filter='*Graphs*' > "$log/before-ep.log" 2>&1
  echo "[before: EP graph test] rc=$?"; grep -E "^\[  (PASSED|FAILED) |FAILED  \]|differs|replay" "$log/before-ep.log" | tail -n 4
  # Same-call A/B of the forward's time, this build against the one before (onemoe only, no check).
  for round in 1 2; do
    for b in "$bin" "$root/.carry/bin-before"; do
      for shape in "-b 16384 -e 16384" "-b 128 -e 128"; do
        timeout 60 "$b/onemoe-bench" $shape --experts 128 -k 2 -d bf16 -w 5 -n 30 -c 0 --count-launches 0 --impl onemoe \
          2>&1 | grep -E "^ +[0-9]" | sed "s|^|[ab $round $(basename "$b")] |"
      done
    done
  done
fi
if [ "${ONEMOE_SANITIZE:-1}" = 1 ]; then
  step "compute-sanitizer (a subset of the one-GPU suite)"
  export ONEMOE_WAIT_TIMEOUT_MS=120000  # sanitized kernels run orders of magnitude slower
  for tool in memcheck racecheck synccheck initcheck; do
    case $tool in
      memcheck) filter='Shapes/FusedForward.*/T1_E8*:Shapes/FusedForward.*/T3_E8*bf16:RunGuards.NullPointer:RunGuards.CallerWorkspaceTooSmall' ;;
      *) filter='Shapes/FusedForward.*/T1_E8*bf16:Shapes/FusedForward.*/T3_E8*fp32' ;;
    esac
    timeout "${ONEMOE_SANITIZER_SECONDS:-75}" compute-sanitizer --tool "$tool" --error-exitcode 99 \
      "$bin/onemoe_gpu_tests" --gtest_filter="$filter" > "$log/sanitizer-$tool.log" 2>&1
    echo "[sanitizer $tool] rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|PASSED|FAILED' "$log/sanitizer-$tool.log" | tail -n 2 | tr '\n' ' ')"
  done
  unset ONEMOE_WAIT_TIMEOUT_MS
fi
step "done"
