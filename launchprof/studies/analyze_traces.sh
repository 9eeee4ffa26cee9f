#!/usr/bin/env bash
# analyze_traces.sh WORK LAUNCHPROF: the analysis half of run_all.sh, on the traces under WORK/traces and
# WORK/fixtures. Runs on a CPU machine too: unpack launchprof_results.tar.gz into WORK and run it there.
#   trace_metrics.py on every trace   -> WORK/analysis/trace_metrics.json
#   launchprof analyze on each trace  -> WORK/analysis/<trace>.json, .csv
#   launchprof sweep, eager and graph -> WORK/results/<date>-launchprof-sweep-llama-{eager,graph}-1gpu.json, WORK/sweep/*.png
#   agreement.py (analyze vs script)  -> WORK/results/<date>-launchprof-agreement-1gpu.json
set -u -o pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 WORK LAUNCHPROF" >&2
  exit 2
fi
WORK=$(cd "$1" && pwd)
LP=$2
STUDIES=$(cd "$(dirname "$0")" && pwd)
STEPS=$WORK/steps.txt
DATE=$(date -u +%Y-%m-%d)
mkdir -p "$WORK"/{logs,analysis,sweep,results}
source "$STUDIES/steps.sh"
# The plot script of this checkout: a carried binary's build tree is not here (the 2026-11-28 device run's sweeps
# exited 3 for that reason).
export LAUNCHPROF_PLOT_SCRIPT=${LAUNCHPROF_PLOT_SCRIPT:-$(cd "$STUDIES/../sweep" && pwd)/plot_sweep.py}

TRACES=$(ls "$WORK"/traces/*.json.gz "$WORK"/fixtures/*.json.gz 2>/dev/null)
if [ -z "$TRACES" ]; then
  echo "no traces under $WORK/traces or $WORK/fixtures" | tee -a "$STEPS"
  exit 1
fi
step trace_metrics 120 python3 "$STUDIES/trace_metrics.py" $TRACES --json "$WORK/analysis/trace_metrics.json"
if [ ! -x "$LP" ]; then
  echo "no launchprof binary at $LP: analyze, sweep and agreement skipped" | tee -a "$STEPS"
  exit 1
fi
# The step's rc is the worst analyze exit code (2: a trace could not be read; 1: an output could not be written).
step analyze 240 bash -c "
  rc=0
  for t in $(echo $TRACES); do
    n=\$(basename \$t .json.gz)
    echo \"== \$n\"
    '$LP' analyze \"\$t\" --json '$WORK/analysis/'\$n.json --csv '$WORK/analysis/'\$n.csv
    r=\$?
    [ \$r -ne 0 ] && echo \"== \$n: launchprof analyze exit \$r\"
    [ \$r -gt \$rc ] && rc=\$r
  done
  exit \$rc"
for variant in eager graph; do
  labels=()
  for b in 1 2 4 8 16 32 64; do
    t=$WORK/traces/llama_${variant}_b$b.json.gz
    [ -f "$t" ] && labels+=(--label "batch=$b:$t")
  done
  if [ ${#labels[@]} -gt 0 ]; then
    step sweep_$variant 120 "$LP" sweep "${labels[@]}" \
      --json "$WORK/results/$DATE-launchprof-sweep-llama-$variant-1gpu.json" --png "$WORK/sweep/sweep_llama_$variant.png"
  fi
done
step agreement 120 bash -c "python3 '$STUDIES/agreement.py' '$WORK'/analysis/llama_*.json \
  '$WORK'/analysis/null_kernel_*.json --out '$WORK/results/$DATE-launchprof-agreement-1gpu.json'"
