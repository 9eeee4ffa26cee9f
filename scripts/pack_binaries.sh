#!/usr/bin/env bash
# Builds here what the device scripts run and packs it for a device call (the working tree that travels is
# limited to 64 MiB, and the unpacked binaries are over it): the default build's executables and the
# 128x128-tile tuning build's onemoe-soak, stripped, in .carry/bins.tgz (ignored by git). On the GPU machine:
#   mkdir -p /tmp/bins && tar xzf .carry/bins.tgz -C /tmp/bins && \
#     ONEMOE_BIN=/tmp/bins/bin ONEMOE_TUNE_BIN=/tmp/bins/bin-tune scripts/device_reliability.sh
# (call it with carry [".carry/bins.tgz"]). A build here saves the device call the minutes of building there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${ONEMOE_JOBS:-$(nproc)}
"$root/scripts/setup_deps.sh" >/dev/null
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j "$jobs" --target onemoe-bench onemoe-soak gemm-lab onemoe_gpu_tests onemoe_multigpu_tests \
  baseline-selfcheck baselines_gpu_test
cmake -S "$root" -B "$root/build-tune" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONEMOE_BUILD_LAUNCHPROF=OFF \
  -DONEMOE_BUILD_TESTS=OFF \
  "-DONEMOE_TUNING_DEFINITIONS=ONEMOE_EXPERT_TILE_N=128;ONEMOE_MIN_BLOCKS_PER_SM=2;ONEMOE_GEMM_STAGES=3;ONEMOE_GEMM_MMA_IN_FLIGHT=0" \
  >/dev/null
cmake --build "$root/build-tune" -j "$jobs" --target onemoe-soak
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/bin-tune"
for exe in onemoe-bench onemoe-soak gemm-lab tests/onemoe/onemoe_gpu_tests tests/onemoe/onemoe_multigpu_tests \
           bench/baselines/baseline-selfcheck bench/baselines/baselines_gpu_test; do
  cp "$root/build/$exe" "$stage/bin/"
done
cp "$root/build-tune/onemoe-soak" "$stage/bin-tune/"
strip "$stage"/bin/* "$stage"/bin-tune/*
mkdir -p "$root/.carry"
tar czf "$root/.carry/bins.tgz" -C "$stage" bin bin-tune
echo "[pack] $(du -h "$root/.carry/bins.tgz" | cut -f1) in .carry/bins.tgz ($(git -C "$root" rev-parse --short HEAD))"
