#!/usr/bin/env bash
# Builds the libFuzzer target for launchprof's trace reader with clang (-fsanitize=fuzzer,address,undefined) and
# runs it for a bounded time, seeded with the fixtures. Exit 77 (ctest: skipped) when clang or libFuzzer is missing.
#   run_fuzz.sh <source root> <work dir> <seconds>
set -euo pipefail
src=$1
work=$2
seconds=${3:-20}
cxx=${CLANGXX:-$(command -v clang++ || true)}
if [ -z "$cxx" ]; then
  echo "SKIP: clang++ not found (install clang and libclang-rt-dev; see scripts/setup_deps.sh)"
  exit 77
fi
mkdir -p "$work/corpus"
probe="$work/probe.cpp"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe"
if ! "$cxx" -fsanitize=fuzzer "$probe" -o "$work/probe" 2>"$work/probe.log"; then
  echo "SKIP: $cxx cannot link libFuzzer (libclang-rt-dev missing?): $(head -c 300 "$work/probe.log")"
  exit 77
fi
a=$src/launchprof/analyze
sources=(status byte_source event_model event_splitter event_decoder time_parse api_kind trace_reader join
         stream_timeline metrics kernel_stats fusion analysis)
objs=()
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -I"$src")
for s in "${sources[@]}"; do
  o="$work/$s.o"
  if [ ! -f "$o" ] || [ "$a/$s.cpp" -nt "$o" ] || [ -n "$(find "$a" -name '*.h' -newer "$o" -print -quit)" ]; then
    "$cxx" "${flags[@]}" -c "$a/$s.cpp" -o "$o" &
  fi
  objs+=("$o")
done
wait
"$cxx" "${flags[@]}" -fsanitize=fuzzer "$a/fuzz/fuzz_trace_reader.cpp" "${objs[@]}" -lsimdjson -lz \
  -o "$work/fuzz_trace_reader"
cp "$src"/tests/launchprof/fixtures/*.json "$work/corpus/" 2>/dev/null || true
cp "$src"/tests/launchprof/fuzz_corpus/* "$work/corpus/" 2>/dev/null || true
echo "fuzzing for ${seconds}s"
"$work/fuzz_trace_reader" -artifact_prefix="$work/" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$work/corpus"
