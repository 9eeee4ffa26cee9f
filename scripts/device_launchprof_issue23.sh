#!/usr/bin/env bash
# Issue 23's GPU runs in one device call (about 6 minutes on a 16-core H100/H200 with no network):
#   build      launchprof, liblaunchprof_inject.so, launchprof-null-kernel, launchprof-record-bench from this tree
#              (about 1 minute); onemoe-bench only after the timed steps, so that the compile does not share the
#              CPU with them (or take it from ONEMOE_BENCH / .carry/*/onemoe-bench if one starts here)
#   overhead   the 10,000-launch loops of issue 23 point 6, each configuration in fresh processes, interleaved:
#              C++ null kernel: plain, record, record-lean, diag-attach-only, diag-attach-bare (8 processes each);
#              PyTorch x.add_(1): plain, record, record-lean, torch-profiler (3 processes each), so torch.profiler
#              runs on the same loop in the same run
#   llama      Llama-3.2-1B-shaped prefill, seq 512, batch 1..32, eager, PyTorch profiler traces (llama_study.py)
#   sweep      launchprof sweep over those traces: the TKLQT rule and the idle rule, the transition each names,
#              the plot; analyze and agreement over every trace (analyze_traces.sh)
#   inkernel   one onemoe forward under launchprof record with its task timeline merged in (inkernel_timeline.py):
#              a track per SM under the kernel, checked against the Chrome trace-event format, read back by analyze
# OUT receives at most 8 files:
#   summary.txt                                          every step's rc and seconds, the tables, the verdicts
#   launchprof_issue23.tar.gz                            logs/, analysis/, traces/ (dropped if over 15 MiB)
#   <date>-launchprof-overhead-cxx-issue23-1gpu.json     the C++ loop
#   <date>-launchprof-overhead-torch-issue23-1gpu.json   the PyTorch loop, torch.profiler included
#   <date>-launchprof-llama-prefill-issue23-1gpu.json    the study (forward times without the profiler)
#   <date>-launchprof-sweep-llama-eager-issue23-1gpu.json (.png)   both rules and their transitions
#   <date>-launchprof-inkernel-timeline-1gpu.json        the in-kernel trace check (the merged trace is in the tarball)
#
#   LAUNCHPROF_COMMIT=$(git rev-parse HEAD) bash scripts/device_launchprof_issue23.sh     (OUT set by the device tool)
#
# Needs third_party/ (CUTLASS, CLI11; carry it, or set ONEMOE_THIRD_PARTY) and libsimdjson-dev/zlib for the build.
# Time: about 5.5 minutes with a prebuilt onemoe-bench (ONEMOE_BENCH, or .carry/<any>/onemoe-bench that starts
# here). Without one, the script builds it after the timed steps; that CUDA build takes a few minutes on 16 cores,
# so give it BUDGET_S=540 (about 9 minutes) or the in-kernel step is skipped for time (the others are unaffected).
# Environment: BUDGET_S (default 345: every step and the packaging end within it), BUILD_DIR (default
# build-issue23), ONEMOE_BENCH (a prebuilt onemoe-bench).
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/launchprof-issue23-out}
mkdir -p "$out"
START=$(date +%s)
export DEADLINE=$(( START + ${BUDGET_S:-345} ))
export STEP_RESERVE_S=20
WORK=$(mktemp -d /tmp/launchprof_issue23.XXXXXX)
export WORK
mkdir -p "$WORK"/{logs,results,traces,analysis,sweep,fixtures,inkernel}
STEPS=$WORK/steps.txt
: > "$STEPS"
export STEPS
export LAUNCHPROF_COMMIT=${LAUNCHPROF_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}
export PYTHONUNBUFFERED=1
DATE=$(date -u +%Y-%m-%d)
STUDIES=$root/launchprof/studies
source "$STUDIES/steps.sh"  # step NAME LIMIT_S COMMAND...
[ -f "$root/scripts/device_env.sh" ] && source "$root/scripts/device_env.sh"
BUILD=${BUILD_DIR:-$root/build-issue23}
TP=${ONEMOE_THIRD_PARTY:-$root/third_party}
echo "[issue23] commit $LAUNCHPROF_COMMIT, budget ${BUDGET_S:-345}s, work $WORK" | tee -a "$STEPS"

# ---- build launchprof (host C++ only; the CUDA pieces are the null kernel and the injection library) ----
step configure 60 cmake -S "$root" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONEMOE_BUILD_TESTS=OFF \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DONEMOE_THIRD_PARTY="$TP"
step build_launchprof 150 cmake --build "$BUILD" -j "$(nproc)" --target launchprof launchprof_inject \
  launchprof-null-kernel launchprof-record-bench
LP=$BUILD/launchprof/launchprof
NULLK=$BUILD/launchprof-null-kernel
export LAUNCHPROF_INJECT_LIB=$BUILD/liblaunchprof_inject.so
export LAUNCHPROF_PLOT_SCRIPT=$root/launchprof/sweep/plot_sweep.py
if [ ! -x "$LP" ] || [ ! -x "$NULLK" ]; then
  echo "launchprof did not build: see logs/build_launchprof.log" | tee -a "$STEPS"
fi
"$LP" --version 2>&1 | tee -a "$STEPS"

# ---- 1. overhead, the timing-sensitive step first, on an idle CPU ----
step overhead_cxx 75 python3 "$STUDIES/overhead.py" --build "$BUILD" --launchprof "$LP" --out "$WORK" \
  --workloads cxx --cxx-configs plain,record,record-lean,diag-attach-only,diag-attach-bare --n 10000 \
  --repeats 8 --name launchprof-overhead-cxx-issue23
step overhead_torch 110 python3 "$STUDIES/overhead.py" --build "$BUILD" --launchprof "$LP" --out "$WORK" \
  --workloads torch --torch-configs plain,record,record-lean,torch-profiler --n 10000 --loops 3 \
  --repeats 3 --name launchprof-overhead-torch-issue23

# ---- 2. the Llama study, batch 1..32 (the issue's range), eager only ----
llama_batches=()
for b in 1 2 4 8 16 32; do llama_batches+=(--batch "$b"); done
step llama_kineto 70 python3 "$STUDIES/llama_study.py" --out "$WORK" --warmup 1 --timed 3 "${llama_batches[@]}"
for f in "$WORK"/results/*-launchprof-llama-prefill-1gpu.json; do
  [ -f "$f" ] && mv "$f" "${f%-1gpu.json}-issue23-1gpu.json"
done

# ---- onemoe-bench: a carried one if it starts here, else built now that the timed steps are done ----
BENCH=${ONEMOE_BENCH:-}
if [ -z "$BENCH" ]; then
  for c in "$root"/.carry/*/onemoe-bench "$BUILD/onemoe-bench"; do
    if [ -x "$c" ] && "$c" --help > /dev/null 2>&1; then BENCH=$c; break; fi
  done
fi
if [ -z "$BENCH" ]; then
  cmake --build "$BUILD" -j "$(nproc)" --target onemoe-bench > "$WORK/logs/build_onemoe_bench.log" 2>&1 &
  bench_build_pid=$!
fi

# ---- 3. sweep with both rules, analyze, agreement (CPU; runs beside the onemoe-bench build) ----
labels=()
for b in 1 2 4 8 16 32; do
  t=$WORK/traces/llama_eager_b$b.json.gz
  [ -f "$t" ] && labels+=(--label "batch=$b:$t")
done
if [ ${#labels[@]} -gt 0 ]; then
  step sweep_eager 40 "$LP" sweep "${labels[@]}" --json "$WORK/results/$DATE-launchprof-sweep-llama-eager-issue23-1gpu.json" \
    --png "$WORK/results/$DATE-launchprof-sweep-llama-eager-issue23-1gpu.png"
  step analyze_llama 40 bash -c "for t in $WORK/traces/llama_*_b*.json.gz; do \
    '$LP' analyze \"\$t\" --json $WORK/analysis/\$(basename \$t .json.gz).json -q || exit \$?; done"
  graph=()
  for b in 1 2 4 8 16 32; do
    t=$WORK/traces/llama_graph_b$b.json.gz
    [ -f "$t" ] && graph+=(--label "batch=$b:$t")
  done
  [ ${#graph[@]} -gt 0 ] && step sweep_graph 30 "$LP" sweep "${graph[@]}" \
    --json "$WORK/analysis/$DATE-launchprof-sweep-llama-graph-issue23-1gpu.json"
  step agreement 40 python3 "$STUDIES/agreement.py" "$WORK"/analysis/llama_*.json \
    --out "$WORK/results/$DATE-launchprof-agreement-issue23-1gpu.json"
fi

# ---- 4. one onemoe forward with the in-kernel tracks ----
if [ -n "${bench_build_pid:-}" ]; then
  left=$(( DEADLINE - $(date +%s) - STEP_RESERVE_S - 40 ))
  waited=0
  while kill -0 "$bench_build_pid" 2>/dev/null && [ "$waited" -lt "$left" ]; do sleep 2; waited=$((waited + 2)); done
  if kill -0 "$bench_build_pid" 2>/dev/null; then
    kill "$bench_build_pid" 2>/dev/null
    echo "build_onemoe_bench     rc=124  (out of time after ${waited}s)" | tee -a "$STEPS"
  else
    wait "$bench_build_pid"
    echo "build_onemoe_bench     rc=$?   ${waited}s (waited after the sweep)" | tee -a "$STEPS"
  fi
  [ -x "$BUILD/onemoe-bench" ] && BENCH=$BUILD/onemoe-bench
fi
if [ -n "$BENCH" ]; then
  step inkernel 40 python3 "$STUDIES/inkernel_timeline.py" --bench "$BENCH" --launchprof "$LP" \
    --out "$WORK/inkernel" -T 4096 -E 32 -k 2 --warmup 2 --iters 3
  cp "$WORK"/inkernel/*-launchprof-inkernel-timeline-1gpu.json "$WORK/results/" 2>/dev/null
else
  echo "inkernel               rc=skip (no onemoe-bench)" | tee -a "$STEPS"
fi
step record_bench 20 "$BUILD/launchprof-record-bench"

# ---- package ----
{
  echo "# launchprof issue 23: commit $LAUNCHPROF_COMMIT, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(( $(date +%s) - START )) s"
  cat "$STEPS"
  for f in overhead_cxx overhead_torch llama_kineto sweep_eager sweep_graph agreement inkernel record_bench; do
    echo
    echo "## $f (tail of logs/$f.log)"
    tail -n 25 "$WORK/logs/$f.log" 2>/dev/null
  done
} > "$out/summary.txt"
for f in "$WORK"/results/*; do
  [ -f "$f" ] || continue
  case $f in *agreement*) continue ;; esac  # in the tarball: OUT keeps 8 files
  cp "$f" "$out/"
done
cp "$WORK/results/"*agreement* "$WORK/analysis/" 2>/dev/null
tar -C "$WORK" -czf "$out/launchprof_issue23.tar.gz" logs analysis traces inkernel steps.txt
if [ "$(stat -c %s "$out/launchprof_issue23.tar.gz")" -gt $((15 << 20)) ]; then
  echo "tarball over 15 MiB: leaving the Llama traces out" | tee -a "$out/summary.txt"
  tar -C "$WORK" -czf "$out/launchprof_issue23.tar.gz" logs analysis inkernel steps.txt
fi
n=$(find "$out" -maxdepth 1 -type f | wc -l)
echo "[issue23] done in $(( $(date +%s) - START )) s, $n files in OUT (at most 8 come back)"
cat "$STEPS"
