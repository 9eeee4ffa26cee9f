#!/usr/bin/env bash
# The whole launchprof study on one H200 in one device call, with binaries built elsewhere and carried in
# .carry/lp (scripts/build_launchprof_carry.sh). Runs launchprof/studies/run_all.sh with LAUNCHPROF_QUICK=1 (the
# trimmed sizes are listed there under "sizes") inside a time budget, and leaves in $OUT at most 6 files:
#   summary.txt                 every step's exit code and seconds, and the tails of the main logs
#   launchprof_results.tar.gz   results/ (envelope JSON for bench/results), logs/, analysis/, sweep/, traces/
#   fixture_*.json.gz           up to 4 small real traces (coverage and Llama forward in the callback source,
#                               eager and graph Llama b1 from the PyTorch profiler)
#
#   LAUNCHPROF_COMMIT=<sha> bash scripts/device_launchprof.sh        (OUT set by the device tool)
#
# Environment: LAUNCHPROF_BUDGET_S (default 270: every step, analysis and packaging end within it),
# LAUNCHPROF_QUICK (default 1; 0 runs the full sizes, which need about 9 minutes), LAUNCHPROF_CARRY (default
# .carry/lp). Exit code: run_all.sh's (0), 2 if the binaries are missing, 124 if the safety timeout hit.
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${LAUNCHPROF_CARRY:-$root/.carry/lp}
out=${OUT:-/tmp/launchprof-out}
mkdir -p "$out"
for f in launchprof liblaunchprof_inject.so launchprof-null-kernel launchprof-record-bench; do
  if [ ! -f "$bin/$f" ]; then
    echo "missing $bin/$f: run scripts/build_launchprof_carry.sh first" | tee "$out/summary.txt" >&2
    exit 2
  fi
done
chmod +x "$bin/launchprof" "$bin/launchprof-null-kernel" "$bin/launchprof-record-bench" 2>/dev/null

# libcupti / libcudart from the machine's CUDA (the project's device set-up), libsimdjson from the carry.
# shellcheck source=device_env.sh
[ -f "$root/scripts/device_env.sh" ] && source "$root/scripts/device_env.sh"
export LD_LIBRARY_PATH="$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LAUNCHPROF_COMMIT=${LAUNCHPROF_COMMIT:-$(cat "$bin/COMMIT" 2>/dev/null || echo unknown)}
export LAUNCHPROF_QUICK=${LAUNCHPROF_QUICK:-1}
export LAUNCHPROF_NO_BUILD=1  # the carried binaries or nothing: a build on the device would eat the budget
export LAUNCHPROF_BUDGET_S=${LAUNCHPROF_BUDGET_S:-270}
export STEP_RESERVE_S=${STEP_RESERVE_S:-25}  # seconds kept for the analysis's end and the packaging
LAUNCHPROF_WORK=$(mktemp -d /tmp/launchprof_run.XXXXXX)
export LAUNCHPROF_WORK
echo "[device_launchprof] commit $LAUNCHPROF_COMMIT (carry built from $(cat "$bin/COMMIT" 2>/dev/null || echo '?')),"\
     "budget ${LAUNCHPROF_BUDGET_S}s, quick $LAUNCHPROF_QUICK"

# run_all.sh keeps to the budget itself; this outer limit only stops a hung packaging step.
timeout --kill-after=10 $((LAUNCHPROF_BUDGET_S + 30)) bash "$root/launchprof/studies/run_all.sh" "$out" "$bin"
rc=$?
if [ ! -f "$out/launchprof_results.tar.gz" ] && [ -d "$LAUNCHPROF_WORK" ]; then
  # Cut off before packaging: take what there is.
  tar -C "$LAUNCHPROF_WORK" -czf "$out/launchprof_results.tar.gz" . 2>/dev/null
  cp "$LAUNCHPROF_WORK/steps.txt" "$out/summary.txt" 2>/dev/null
fi
n=$(find "$out" -maxdepth 1 -type f | wc -l)
echo "[device_launchprof] rc=$rc, $n files in OUT (the device returns at most 8)"
exit $rc
