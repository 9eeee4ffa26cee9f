#!/usr/bin/env bash
# Builds everything and runs the main job: the fused MoE layer against the baselines at the default shape
# (bf16, E=128, T=16384, H=I=2048, k=2), with a correctness check. Extra arguments go to onemoe-bench.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ONEMOE_BUILD_DIR:-$root/build}
"$root/scripts/setup_deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "${ONEMOE_JOBS:-$(nproc)}"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "[bench] built, but this machine has no NVIDIA GPU: the benchmark needs a Hopper GPU (sm_90a)."
  echo "[bench] run ./scripts/test.sh for the CPU tests, or this script on an H100/H200."
  exit 0
fi
exec "$build/onemoe-bench" "$@"
