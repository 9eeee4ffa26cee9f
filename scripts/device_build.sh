#!/usr/bin/env bash
# Builds, on the GPU machine, what the device scripts run: the default build into $ONEMOE_DEVICE_BUILD
# (default /tmp/onemoe-build) and the 128x128-tile tuning build of onemoe-soak into <that>-tune. Carry
# third_party (scripts/setup_deps.sh fills it; the machine has no network). Then, for example:
#   scripts/device_build.sh && ONEMOE_BIN=/tmp/onemoe-build/bin ONEMOE_TUNE_BIN=/tmp/onemoe-build-tune/bin \
#     PEER_SCRIPT=.carry/peers/torch_grouped_moe.py scripts/device_reliability.sh
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
build=${ONEMOE_DEVICE_BUILD:-/tmp/onemoe-build}
t0=$SECONDS
{ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONEMOE_BUILD_LAUNCHPROF=OFF &&
  cmake --build "$build" -j "$(nproc)"; } > "${OUT:-/tmp}/build.log" 2>&1
rc=$?
echo "[build] rc=$rc $((SECONDS - t0))s"
mkdir -p "$build/bin"
for exe in onemoe-bench onemoe-soak gemm-lab tests/onemoe/onemoe_gpu_tests tests/onemoe/onemoe_multigpu_tests \
           bench/baselines/baseline-selfcheck bench/baselines/baselines_gpu_test; do
  [ -f "$build/$exe" ] && cp "$build/$exe" "$build/bin/"
done
t0=$SECONDS
{ cmake -S "$root" -B "$build-tune" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONEMOE_BUILD_LAUNCHPROF=OFF \
    -DONEMOE_BUILD_TESTS=OFF \
    "-DONEMOE_TUNING_DEFINITIONS=ONEMOE_EXPERT_TILE_N=128;ONEMOE_MIN_BLOCKS_PER_SM=2;ONEMOE_GEMM_STAGES=3;ONEMOE_GEMM_MMA_IN_FLIGHT=0" &&
  cmake --build "$build-tune" -j "$(nproc)" --target onemoe-soak; } > "${OUT:-/tmp}/build-tune.log" 2>&1
echo "[build tune128] rc=$? $((SECONDS - t0))s"
mkdir -p "$build-tune/bin" && cp "$build-tune/onemoe-soak" "$build-tune/bin/" 2>/dev/null
exit $rc
