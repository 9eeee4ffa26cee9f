#!/usr/bin/env bash
# Builds the launchprof binaries the device study needs and copies them into .carry/lp (ignored by git), with the
# shared libraries a bare GPU machine may lack (libsimdjson), for scripts/device_launchprof.sh.
#   scripts/build_launchprof_carry.sh [COMMIT]     (default HEAD)
# It builds a clean export of COMMIT (git archive) in build-lp-carry/, so the binaries are exactly that commit,
# whatever the working tree holds; third_party/ comes from this checkout. .carry/lp then holds: launchprof,
# liblaunchprof_inject.so, launchprof-null-kernel, launchprof-record-bench, plot_sweep.py, libsimdjson.so.*, COMMIT (the
# full sha) and BUILD_INFO.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$root" rev-parse "${1:-HEAD}^{commit}")
work=${LAUNCHPROF_CARRY_BUILD:-$root/build-lp-carry}
src=$work/src
build=$work/build
carry=$root/.carry/lp
targets=(launchprof launchprof_inject launchprof-null-kernel launchprof-record-bench)

rm -rf "$src"
mkdir -p "$src" "$build"
git -C "$root" archive "$commit" | tar -x -C "$src"
cmake -S "$src" -B "$build" -G Ninja -DONEMOE_BUILD_LAUNCHPROF=ON -DONEMOE_BUILD_TESTS=OFF \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DONEMOE_THIRD_PARTY="$root/third_party" > "$work/configure.log"
cmake --build "$build" --target "${targets[@]}" -j "$(nproc)"

rm -rf "$carry"
mkdir -p "$carry"
cp "$build/launchprof/launchprof" "$build/liblaunchprof_inject.so" "$build/launchprof-null-kernel" \
   "$build/launchprof-record-bench" "$carry/"
# `launchprof sweep --png` looks for plot_sweep.py next to itself: the build's source tree is not on the device.
cp "$src/launchprof/sweep/plot_sweep.py" "$carry/"
# Non-system libraries the binaries load, copied under their soname (a symbolic link might not travel).
for exe in "$carry"/*; do
  ldd "$exe" 2>/dev/null | awk '/=> \// {print $1, $3}'
done | sort -u | while read -r soname path; do
  case $soname in libsimdjson*) cp -L "$path" "$carry/$soname" ;; esac
done
ls "$carry"/libsimdjson.so* > /dev/null || { echo "libsimdjson not found by ldd" >&2; exit 1; }

echo "$commit" > "$carry/COMMIT"
{
  echo "commit $commit"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) from a git archive of it, in $build"
  nvcc --version | tail -n 1
  for exe in launchprof liblaunchprof_inject.so launchprof-null-kernel launchprof-record-bench; do
    echo "== ldd $exe"
    ldd "$carry/$exe"
  done
} > "$carry/BUILD_INFO.txt"

# launchprof must start here with only .carry/lp added to the library path; the others may miss only the driver
# (libcuda.so.1), which a machine without a GPU lacks.
LD_LIBRARY_PATH=$carry${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$carry/launchprof" --help > /dev/null
for exe in liblaunchprof_inject.so launchprof-null-kernel launchprof-record-bench; do
  missing=$(LD_LIBRARY_PATH=$carry${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$carry/$exe" | grep "not found" \
            | grep -v "libcuda.so.1" || true)
  if [ -n "$missing" ]; then
    echo "$exe misses: $missing" >&2
    exit 1
  fi
done
du -sh "$carry"
ls -la "$carry"
