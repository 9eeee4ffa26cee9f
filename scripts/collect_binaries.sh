#!/usr/bin/env bash
# Copies the GPU-side executables of a build into .carry/bin (ignored by git) so a device run can use
# binaries built on this machine instead of rebuilding there.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/.carry/bin"
for exe in onemoe-bench tests/onemoe/onemoe_gpu_tests tests/onemoe/onemoe_multigpu_tests \
           bench/baselines/baseline-selfcheck bench/baselines/baselines_gpu_test; do
  [ -f "$root/$build/$exe" ] && cp "$root/$build/$exe" "$root/.carry/bin/"
done
ls -la "$root/.carry/bin"
