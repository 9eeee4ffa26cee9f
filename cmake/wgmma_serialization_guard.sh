#!/usr/bin/env bash
# Compiler launcher for the kernel sources (src/CMakeLists.txt, gemm-lab). It runs the compile unchanged and
# fails it if ptxas reports serialized wgmma: any advisory that says "wgmma.mma_async instructions are
# serialized", whatever its number (C7510 a call inside the pipeline, C7518 a compiler-inserted dependence in a
# divergent path, and the others of the family). The advisory is only "info", yet it cost the kernel a quarter of
# its speed once, so a build with it is an error. The object file is removed so that the next build compiles it
# again.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ] && grep -qE "wgmma[.a-z_]* instructions are serialized|\(C751[0-9]\)" "$log"; then
  object=""
  prev=""
  for arg in "$@"; do
    [ "$prev" = "-o" ] && object=$arg
    prev=$arg
  done
  [ -n "$object" ] && rm -f "$object"
  echo "error: ptxas serialized the wgmma instructions of ${object:-this object} (the advisory above)." >&2
  echo "       C7510: a device function holding the GEMM pipeline was not inlined (mark it __forceinline__);" >&2
  echo "       C7518: a branch around the wgmma inside the k loop (choose once, outside the loop)." >&2
  exit 1
fi
exit "$rc"
