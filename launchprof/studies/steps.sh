# Sourced by run_all.sh and analyze_traces.sh. Needs WORK (with logs/) and STEPS (a file) set.
# step NAME LIMIT_S COMMAND...: runs one step with a time limit, logs it to $WORK/logs/NAME.log, records rc and seconds.
step() {
  local name=$1 limit=$2
  shift 2
  local t=$(date +%s)
  echo "[launchprof] $(date -u +%H:%M:%S) $name"
  timeout --kill-after=10 "$limit" "$@" > "$WORK/logs/$name.log" 2>&1
  local rc=$?
  printf '%-22s rc=%-4s %5ss\n' "$name" "$rc" "$(( $(date +%s) - t ))" | tee -a "$STEPS"
  return $rc
}
