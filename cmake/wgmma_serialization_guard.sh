#!/usr/bin/env bash
# Compiler launcher for the kernel sources (src/CMakeLists.txt). It runs the compile unchanged and fails it if
# ptxas reports serialized wgmma (advisory C7510: a call inside the wgmma pipeline). That advisory is only
# "info", yet it cost the kernel a quarter of its speed once (docs/perf_notes.md, run 47), so a build with it
# is an error. The object file is removed so that the next build compiles it again.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ] && grep -q "C7510" "$log"; then
  object=""
  prev=""
  for arg in "$@"; do
    [ "$prev" = "-o" ] && object=$arg
    prev=$arg
  done
  [ -n "$object" ] && rm -f "$object"
  echo "error: ptxas serialized the wgmma instructions of ${object:-this object} (advisory C7510 above)." >&2
  echo "       A device function holding the GEMM pipeline was not inlined; mark it __forceinline__." >&2
  exit 1
fi
exit "$rc"
