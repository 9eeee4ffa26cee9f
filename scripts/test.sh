#!/usr/bin/env bash
# Builds everything and runs the tests. Without a GPU only the `cpu` label runs, and the GPU tests are
# reported as not run (they are never counted as passed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ONEMOE_BUILD_DIR:-$root/build}
jobs=${ONEMOE_JOBS:-$(nproc)}
"$root/scripts/setup_deps.sh"
# -U SKBUILD*, ONEMOE_BUILD_PYTHON=OFF: undo what a pip build in this tree (scripts/test_python.sh) set, whose
# Python extension lives in pip's temporary build environment.
cmake -U 'SKBUILD*' -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONEMOE_BUILD_PYTHON=OFF
cmake --build "$build" -j "$jobs"
gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi
cd "$build"
# A suite whose test discovery failed shows up as <name>_NOT_BUILT and carries no label, so a labelled run would
# skip it without a word: fail instead.
if not_built=$(ctest -N | grep -o '[A-Za-z0-9_]*_NOT_BUILT' | sort -u) && [ -n "$not_built" ]; then
  echo "[test] error: test discovery failed for: $not_built" >&2
  exit 1
fi
if [ "$gpus" -eq 0 ]; then
  echo "[test] no GPU on this machine: running the cpu label only; gpu and multigpu tests are NOT run"
  ctest -L cpu --output-on-failure -j "$jobs"
elif [ "$gpus" -eq 1 ]; then
  echo "[test] 1 GPU: running cpu and gpu labels; multigpu tests are NOT run"
  ctest -LE multigpu --output-on-failure
else
  echo "[test] $gpus GPUs: running every label"
  ctest --output-on-failure
fi
cd "$root"
"$root/scripts/test_python.sh" "$build"
