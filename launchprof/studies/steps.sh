# Sourced by run_all.sh and analyze_traces.sh. Needs WORK (with logs/) and STEPS (a file) set.
# If DEADLINE (epoch seconds) is set, every step's limit is cut so that the run ends before it, leaving
# STEP_RESERVE_S seconds (default 30) for packaging; a step with no time left is skipped (rc=skip).
#
# step NAME LIMIT_S COMMAND...: runs one step with a time limit, logs it to $WORK/logs/NAME.log, records rc and seconds.
step() {
  local name=$1 limit=$2
  shift 2
  local t=$(date +%s)
  if [ -n "${DEADLINE:-}" ]; then
    local left=$(( DEADLINE - t - ${STEP_RESERVE_S:-30} ))
    if [ "$left" -lt 5 ]; then
      printf '%-22s rc=%-4s %5ss\n' "$name" "skip" 0 | tee -a "$STEPS"
      return 124
    fi
    [ "$left" -lt "$limit" ] && limit=$left
  fi
  echo "[launchprof] $(date -u +%H:%M:%S) $name (limit ${limit}s)"
  timeout --kill-after=5 "$limit" "$@" > "$WORK/logs/$name.log" 2>&1
  local rc=$?
  printf '%-22s rc=%-4s %5ss\n' "$name" "$rc" "$(( $(date +%s) - t ))" | tee -a "$STEPS"
  return $rc
}
