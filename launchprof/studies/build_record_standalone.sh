#!/usr/bin/env bash
# build_record_standalone.sh OUT_DIR: builds liblaunchprof_inject.so and launchprof-null-kernel without CMake, for a
# machine where the project's configure fails (e.g. a dependency of another part is missing). run_all.sh falls back
# to it; the `launchprof` binary is then absent, and record runs set CUDA_INJECTION64_PATH directly.
set -eu -o pipefail
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REC=$ROOT/launchprof/record
CUDA=${CUDA_HOME:-/usr/local/cuda}
ARCH=${LAUNCHPROF_CUDA_ARCH:-sm_90}
ZLIB=()
if [ -f /usr/include/zlib.h ]; then ZLIB=(-DLAUNCHPROF_HAVE_ZLIB -lz); fi
CUPTI_LIB=$CUDA/lib64
[ -f "$CUPTI_LIB/libcupti.so" ] || CUPTI_LIB=$CUDA/extras/CUPTI/lib64
TRACE_SRC=("$REC/api_names.cpp" "$REC/trace_link.cpp" "$REC/trace_writer.cpp" "$REC/output_file.cpp"
           "$REC/cupti_collector.cpp" "$REC/api_call_log.cpp")
set -x
g++ -std=c++20 -O2 -fPIC -shared -fvisibility=hidden -I"$REC" -I"$CUDA/include" -I"$CUDA/extras/CUPTI/include" \
  "$REC/inject.cpp" "${TRACE_SRC[@]}" -L"$CUPTI_LIB" -Wl,-rpath,"$CUPTI_LIB" -lcupti -ldl -Wl,--no-undefined \
  "${ZLIB[@]}" -o "$OUT/liblaunchprof_inject.so"
"$CUDA/bin/nvcc" -std=c++20 -O2 -arch="$ARCH" -I"$REC" -I"$ROOT/launchprof/studies" -I"$CUDA/extras/CUPTI/include" \
  "$ROOT/launchprof/studies/null_kernel.cu" "$ROOT/launchprof/studies/launch_apis.cu" "${TRACE_SRC[@]}" \
  -L"$CUPTI_LIB" -Xlinker -rpath -Xlinker "$CUPTI_LIB" -lcupti -lcuda -ldl "${ZLIB[@]}" -o "$OUT/launchprof-null-kernel"
