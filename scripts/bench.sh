#!/usr/bin/env bash
# Builds everything and runs the main job: the fused MoE layer against its peers at the default shape (bf16, E=128,
# T=16384, H=I=2048, k=2), with a correctness check: onemoe-bench's in-binary baselines, then, when this Python
# has a CUDA torch, the plain-PyTorch layer on torch._grouped_mm (PEER_SCRIPT, by default the team's
# ../shared/bench/torch_grouped_moe.py beside the clone). Extra arguments go to onemoe-bench (the PyTorch peer then
# is not run: it knows only the default shape's flags).
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
rc=0
"$build/onemoe-bench" "$@" || rc=$?
peer=${PEER_SCRIPT:-$root/../shared/bench/torch_grouped_moe.py}
if [ $# -eq 0 ] && [ -f "$peer" ] && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    >/dev/null 2>&1; then
  echo "[bench] the plain-PyTorch peer on the same shape ($peer), eager and in a CUDA graph:"
  python3 "$peer" -T 16384 -E 128 -k 2 -H 2048 -I 2048 || rc=$?
  python3 "$peer" -T 16384 -E 128 -k 2 -H 2048 -I 2048 --graph || rc=$?
elif [ $# -eq 0 ]; then
  echo "[bench] the plain-PyTorch peer was not run: set PEER_SCRIPT to torch_grouped_moe.py and use a Python with a CUDA torch"
fi
exit $rc
