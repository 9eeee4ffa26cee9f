#!/usr/bin/env bash
# Installs what the build needs into third_party/ (ignored by git) so that the tree can travel to a GPU machine
# with no network. Idempotent: a dependency already in place is left alone.
#   CUTLASS/CuTe headers  <- PyPI nvidia-cutlass (headers under cutlass_library/source/include)
#   CLI11 headers         <- Debian libcli11-dev
#   GoogleTest sources    <- Debian googletest
#   simdjson, zlib        <- Debian libsimdjson-dev, zlib1g-dev (launchprof analyze)
#   clang, libFuzzer      <- Debian clang, libclang-rt-dev (launchprof analyze fuzz test; skipped without them)
#   matplotlib            <- PyPI (launchprof sweep --png and its test; the test is skipped without it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tp="$root/third_party"
cutlass_version=4.2.0.0
mkdir -p "$tp"

need_apt=()
for pkg in libcli11-dev googletest libsimdjson-dev zlib1g-dev cmake ninja-build clang libclang-rt-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "[setup] apt-get install ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "[setup] missing packages ${need_apt[*]} and no apt-get: install them by hand" >&2
    exit 1
  fi
fi

if [ ! -f "$tp/cutlass/include/cute/tensor.hpp" ]; then
  echo "[setup] fetching CUTLASS headers (nvidia-cutlass==$cutlass_version from PyPI)"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "nvidia-cutlass==$cutlass_version"
  (cd "$tmp" && python3 -m zipfile -e nvidia_cutlass-*.whl x)
  rm -rf "$tp/cutlass" && mkdir -p "$tp/cutlass"
  mv "$tmp/x/cutlass_library/source/include" "$tp/cutlass/include"
  rm -rf "$tmp"
fi
if [ ! -f "$tp/cli11/include/CLI/CLI.hpp" ]; then
  mkdir -p "$tp/cli11/include" && cp -r /usr/include/CLI "$tp/cli11/include/"
fi
if [ ! -f "$tp/googletest/CMakeLists.txt" ]; then
  rm -rf "$tp/googletest" && cp -r /usr/src/googletest "$tp/googletest"
fi
# launchprof sweep draws its PNG with matplotlib; a machine without PyPI access keeps going without it.
if ! python3 -c 'import matplotlib' >/dev/null 2>&1; then
  echo "[setup] pip install matplotlib (launchprof sweep --png)"
  python3 -m pip install -q matplotlib || echo "[setup] matplotlib not installed: launchprof sweep --png will say so"
fi
echo "[setup] third_party ready: $(du -sh "$tp" | cut -f1)"
