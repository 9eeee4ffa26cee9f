#!/usr/bin/env bash
# run_all.sh OUTDIR BUILD_DIR: every launchprof study on one GPU in one go (a few minutes on an H200).
#
# Steps (each logs to logs/<step>.log; a failing step does not stop the others; each has a time limit):
#   env, build (only what is missing; build_fallback without CMake if that fails), null_kernel (launch floor,
#   isolated + burst), coverage_record{,_callback,_tid_cupti} (every launch API joined to its kernels through
#   `launchprof record` in each API-recording mode), overhead_cxx and overhead_torch (each record mode vs plain and
#   the PyTorch profiler on 10,000 tiny kernels), llama_record_callback (one PyTorch forward under record, NVTX ops,
#   callback source), llama_kineto (Llama-3.2-1B prefill, batch 1..64, eager + CUDA graph, PyTorch profiler
#   traces), [not with LAUNCHPROF_QUICK=1: llama_record (the default source), coverage_inprocess], record_burst,
#   record_bench (host-side costs of recording, CPU only), analyze (every trace), sweep (eager, graph), agreement
#   (analyze vs trace_metrics.py), package. The order is the priority: a run out of time loses the last steps.
#
# What is left in OUTDIR (the device tool returns at most 8 files of 16 MiB):
#   launchprof_results.tar.gz  results/ (bench/results envelope JSON), logs/, analysis/, sweep/ (PNG), traces/
#   summary.txt                step status and the main tables
#   fixture_*.json.gz          a few small real traces meant for CI fixtures (each at most 4 MiB)
# Environment: LAUNCHPROF_COMMIT=<sha> (recorded in results; the device copy has no .git), LAUNCHPROF_WORK=<dir>,
# LAUNCHPROF_BUDGET_S (whole-run time budget, default 540), LAUNCHPROF_QUICK=1 (smaller sizes, see "sizes" below),
# LAUNCHPROF_NO_BUILD=1 (never build: use the binaries in BUILD_DIR as they are).
set -u -o pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 OUTDIR BUILD_DIR" >&2
  exit 2
fi
mkdir -p "$1" || exit 2
OUT=$(cd "$1" && pwd)
mkdir -p "$2" || exit 2
BUILD=$(cd "$2" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STUDIES=$ROOT/launchprof/studies
WORK=${LAUNCHPROF_WORK:-$(mktemp -d /tmp/launchprof_run.XXXXXX)}
mkdir -p "$WORK"/{logs,results,traces,analysis,sweep,fixtures}
export LAUNCHPROF_COMMIT=${LAUNCHPROF_COMMIT:-$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)}
export PYTHONUNBUFFERED=1
DATE=$(date -u +%Y-%m-%d)
START=$(date +%s)
# Everything, packaging included, ends within LAUNCHPROF_BUDGET_S (default 540 s: the device runs one command for at
# most 600 s, and what is not packaged by then is lost). Steps that would overrun are cut short or skipped.
export DEADLINE=$(( START + ${LAUNCHPROF_BUDGET_S:-540} ))
STEPS=$WORK/steps.txt
: > "$STEPS"

# Library paths for binaries built on another machine (the project's device set-up), if the project has it.
[ -f "$ROOT/scripts/device_env.sh" ] && source "$ROOT/scripts/device_env.sh"

# True if the program starts at all (a binary carried from another machine may miss a shared library).
starts() {
  "$@" > /dev/null 2>&1
  local rc=$?
  [ $rc -ne 126 ] && [ $rc -ne 127 ]
}

NULLK=$BUILD/launchprof-null-kernel
INJECT=$BUILD/liblaunchprof_inject.so
find_launchprof() {
  for p in "$BUILD/launchprof/launchprof" "$BUILD/launchprof" "$BUILD/bin/launchprof"; do
    if [ -x "$p" ] && [ -f "$p" ]; then echo "$p"; return; fi
  done
}
LP=$(find_launchprof)
if [ -n "$LP" ] && ! starts "$LP" --help; then
  echo "$LP does not start here: ignoring it" | tee -a "$STEPS"
  LP=
fi

source "$STUDIES/steps.sh"  # step NAME LIMIT_S COMMAND...

# lp_record TRACE [record options] -- COMMAND...: `launchprof record` if built, else the same environment by hand.
lp_record() {
  local trace=$1
  shift
  if [ -n "$LP" ]; then
    "$LP" record -o "$trace" "$@"
  else
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
    shift
    local capture='' api_source='' tids='' prev=''
    for o in "${opts[@]}"; do
      [ "$o" = "--capture-range" ] && capture=cudaProfilerApi
      [ "$prev" = "--api-source" ] && api_source=$o
      [ "$prev" = "--thread-ids" ] && tids=$o
      prev=$o
    done
    env CUDA_INJECTION64_PATH="$INJECT" NVTX_INJECTION64_PATH="$INJECT" LAUNCHPROF_OUTPUT="$trace" \
        ${capture:+LAUNCHPROF_CAPTURE_RANGE=$capture} ${api_source:+LAUNCHPROF_API_SOURCE=$api_source} \
        ${tids:+LAUNCHPROF_THREAD_IDS=$tids} "$@"
  fi
}
export -f lp_record
export LP INJECT

# ---- env and build ----
step env 60 bash -c "nvidia-smi; nvcc --version; cmake --version; python3 -c 'import torch, sys; \
print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())'; \
echo commit=$LAUNCHPROF_COMMIT"

# LAUNCHPROF_NO_BUILD=1 (device_launchprof.sh): the binaries were carried; a build would only eat the budget.
NO_BUILD=${LAUNCHPROF_NO_BUILD:-0}
if [ "$NO_BUILD" = 1 ] && { ! starts "$NULLK" --help || [ -z "$LP" ]; }; then
  echo "LAUNCHPROF_NO_BUILD=1: not building; $NULLK or the launchprof binary does not start here" | tee -a "$STEPS"
fi
if [ "$NO_BUILD" != 1 ] && { ! starts "$NULLK" --help || [ ! -f "$INJECT" ] || [ -z "$LP" ]; }; then
  step build 420 bash -c "
    set -x
    if [ ! -f '$BUILD/CMakeCache.txt' ]; then
      cmake -S '$ROOT' -B '$BUILD' -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90a || exit 1
    fi
    rc=0
    for t in launchprof_inject launchprof-null-kernel launchprof launchprof-record-bench; do
      cmake --build '$BUILD' --target \$t -j \$(nproc) || rc=1
    done
    exit \$rc"
  LP=$(find_launchprof)
  export LP
fi
if [ "$NO_BUILD" != 1 ] && { [ ! -f "$INJECT" ] || ! starts "$NULLK" --help; }; then
  step build_fallback 300 "$STUDIES/build_record_standalone.sh" "$BUILD/standalone"
  NULLK=$BUILD/standalone/launchprof-null-kernel
  INJECT=$BUILD/standalone/liblaunchprof_inject.so
  export INJECT
fi
BIN=$(dirname "$NULLK")  # holds launchprof-null-kernel and liblaunchprof_inject.so
export LAUNCHPROF_INJECT_LIB=$INJECT  # `launchprof record` then injects exactly this library
if [ -z "$LP" ]; then
  echo "launchprof binary not found under $BUILD: record runs use CUDA_INJECTION64_PATH directly; analyze and sweep are skipped" \
    | tee -a "$STEPS"
fi

# ---- sizes: LAUNCHPROF_QUICK=1 trims the run to about 4 minutes (scripts/device_launchprof.sh) ----
QUICK=${LAUNCHPROF_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  NULL_N=5000
  # Run 2 (2026-11-28): record-callback was slowest in C++ and PyTorch, so it is left out here; plain C++ spread
  # 36.2 to 46.0 ms over 5 processes, so C++ gets 8 processes, and diag-attach-only asks what CUPTI costs attached.
  OVH_CXX_CONFIGS=plain,record,record-tid-cupti,diag-no-api,diag-no-kernels,diag-attach-only
  OVH_TORCH_CONFIGS=plain,record,torch-profiler
  OVH_CXX_REPEATS=8 OVH_TORCH_REPEATS=3 OVH_TORCH_LOOPS=3
  LLAMA_ARGS=(--warmup 1 --timed 3) LLAMA_LIMIT=75  # batches it has not reached by then are left out
else
  NULL_N=10000
  OVH_CXX_CONFIGS=plain,record,record-callback,record-tid-cupti,diag-no-api,diag-no-kernels,diag-attach-only,cupti-inprocess
  OVH_TORCH_CONFIGS=plain,record,record-callback,record-tid-cupti,record-all-runtime,torch-profiler
  OVH_CXX_REPEATS=5 OVH_TORCH_REPEATS=5 OVH_TORCH_LOOPS=5
  LLAMA_ARGS=() LLAMA_LIMIT=330
fi
echo "sizes: quick=$QUICK null_n=$NULL_N cxx=[$OVH_CXX_CONFIGS]x$OVH_CXX_REPEATS torch=[$OVH_TORCH_CONFIGS]x$OVH_TORCH_REPEATS" \
  | tee -a "$STEPS"

# Steps run in priority order: if the time budget runs out, the last ones are cut short or skipped.
# ---- launch floor and launch-API coverage, in each API-recording mode of `launchprof record` ----
step null_kernel 60 "$NULLK" --n "$NULL_N" --mode both --commit "$LAUNCHPROF_COMMIT" \
  --json "$WORK/results/$DATE-launchprof-null-kernel-1gpu.json"
# Every launch API must be joined to its kernels with the callback source and with CUPTI's thread ids too.
for mode in default callback tid-cupti; do
  case $mode in
    default) opts=() suffix= ;;
    callback) opts=(--api-source callback) suffix=_callback ;;
    tid-cupti) opts=(--thread-ids cupti) suffix=_tid_cupti ;;
  esac
  trace=$WORK/fixtures/null_kernel_coverage_record$suffix.json.gz
  step "coverage_record${suffix}" 45 bash -c "lp_record '$trace' ${opts[*]} -- '$NULLK' --no-cupti --mode none --coverage \
    && python3 '$STUDIES/trace_metrics.py' --coverage '$trace'"
done

# ---- overhead: record (each mode) vs the PyTorch profiler on 10,000 tiny kernels; a results file per workload ----
step overhead_cxx 120 python3 "$STUDIES/overhead.py" --build "$BIN" ${LP:+--launchprof "$LP"} --out "$WORK" \
  --workloads cxx --cxx-configs "$OVH_CXX_CONFIGS" --n 10000 --repeats "$OVH_CXX_REPEATS" \
  --name launchprof-overhead-cxx
step overhead_torch 150 python3 "$STUDIES/overhead.py" --build "$BIN" ${LP:+--launchprof "$LP"} --out "$WORK" \
  --workloads torch --torch-configs "$OVH_TORCH_CONFIGS" --n 10000 --loops "$OVH_TORCH_LOOPS" \
  --repeats "$OVH_TORCH_REPEATS" --name launchprof-overhead-torch

# ---- one PyTorch forward under `launchprof record`, NVTX ops; the callback source end to end ----
step llama_record_callback 60 bash -c "lp_record '$WORK/traces/llama_record_callback_b1.json.gz' --capture-range \
  --api-source callback -- python3 '$STUDIES/llama_study.py' --mode nvtx --batch 1"

# ---- the paper's study: Llama-3.2-1B-shaped prefill, batch 1..64, eager and CUDA graph ----
step llama_kineto "$LLAMA_LIMIT" python3 "$STUDIES/llama_study.py" --out "$WORK" "${LLAMA_ARGS[@]}"
if [ "$QUICK" != 1 ]; then
  step llama_record 150 bash -c "lp_record '$WORK/traces/llama_record_b1.json.gz' --capture-range -- \
    python3 '$STUDIES/llama_study.py' --mode nvtx --batch 1"
  step coverage_inprocess 60 "$NULLK" --mode none --coverage \
    --trace "$WORK/fixtures/null_kernel_coverage_inprocess.json.gz"
fi
step record_burst 60 bash -c "lp_record '$WORK/traces/null_kernel_burst_record.json.gz' -- \
  '$NULLK' --no-cupti --mode burst --n 2000"
# ---- host-side costs of recording on this machine's CPU (timestamps, buffer zeroing, conversion, trace writing) ----
if [ -x "$BUILD/launchprof-record-bench" ]; then
  step record_bench 60 "$BUILD/launchprof-record-bench" --out "$WORK"
fi

# ---- analyze, sweep, agreement (also runnable on a CPU machine: see analyze_traces.sh) ----
if [ -n "$LP" ]; then
  bash "$STUDIES/analyze_traces.sh" "$WORK" "$LP"
else
  python3 "$STUDIES/trace_metrics.py" "$WORK"/traces/*.json.gz "$WORK"/fixtures/*.json.gz \
    --json "$WORK/analysis/trace_metrics.json" > "$WORK/logs/trace_metrics.log" 2>&1
fi

# ---- package: what comes back ----
{
  echo "# launchprof run_all: commit $LAUNCHPROF_COMMIT, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(( $(date +%s) - START )) s"
  echo "# steps (rc 124/137 = time limit)"
  cat "$STEPS"
  for f in null_kernel coverage_record coverage_record_callback coverage_record_tid_cupti overhead_cxx overhead_torch \
           llama_record_callback llama_kineto record_bench agreement; do
    echo
    echo "## $f (tail of logs/$f.log)"
    tail -n 30 "$WORK/logs/$f.log" 2>/dev/null
  done
  echo
  echo "## sizes"
  du -sh "$WORK"/traces "$WORK"/fixtures "$WORK"/analysis 2>/dev/null
} > "$WORK/summary.txt"

cp "$WORK/summary.txt" "$OUT/summary.txt"
# Fixtures: a few small real traces, each at most 4 MiB, as separate files.
for f in "$WORK/fixtures/null_kernel_coverage_record_callback.json.gz" \
         "$WORK/traces/llama_record_callback_b1.json.gz" "$WORK/traces/llama_eager_b1.json.gz" \
         "$WORK/traces/llama_graph_b1.json.gz"; do
  if [ -f "$f" ] && [ "$(stat -c %s "$f")" -le $((4 << 20)) ]; then
    cp "$f" "$OUT/fixture_$(basename "$f")"
  fi
done
tar -C "$WORK" -czf "$OUT/launchprof_results.tar.gz" results logs analysis sweep traces fixtures steps.txt summary.txt
if [ "$(stat -c %s "$OUT/launchprof_results.tar.gz")" -gt $((15 << 20)) ]; then
  echo "tarball over 15 MiB: leaving the traces out" | tee -a "$OUT/summary.txt"
  tar -C "$WORK" -czf "$OUT/launchprof_results.tar.gz" results logs analysis sweep steps.txt summary.txt
fi
echo "[run_all] done in $(( $(date +%s) - START )) s; OUTDIR:"
ls -la "$OUT"
cat "$STEPS"
