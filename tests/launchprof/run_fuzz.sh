#!/usr/bin/env bash
# Builds the libFuzzer target for launchprof's trace reader with clang (-fsanitize=fuzzer,address,undefined) and
# runs it for a bounded time, seeded with the fixtures and the saved findings (fuzz_regressions/).
# Exit 77 (ctest: skipped) only when clang or libFuzzer is missing; any finding, or a build failure, exits 1.
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
sources=(status byte_source event_model event_splitter json_fault event_decoder time_parse api_kind trace_reader join
         stream_timeline metrics kernel_stats fusion analysis)
objs=()
pids=()
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -I"$src")
for s in "${sources[@]}"; do
  o="$work/$s.o"
  if [ ! -f "$o" ] || [ "$a/$s.cpp" -nt "$o" ] || [ -n "$(find "$a" -name '*.h' -newer "$o" -print -quit)" ]; then
    "$cxx" "${flags[@]}" -c "$a/$s.cpp" -o "$o" &
    pids+=($!)
  fi
  objs+=("$o")
done
for p in "${pids[@]}"; do
  wait "$p" || { echo "FAIL: compiling the fuzz target's sources failed"; exit 1; }
done
"$cxx" "${flags[@]}" -fsanitize=fuzzer "$a/fuzz/fuzz_trace_reader.cpp" "${objs[@]}" -lsimdjson -lz \
  -o "$work/fuzz_trace_reader"
cp "$src"/tests/launchprof/fixtures/*.json "$work/corpus/" 2>/dev/null || true
cp "$src"/tests/launchprof/fuzz_corpus/* "$work/corpus/" 2>/dev/null || true
cp "$src"/tests/launchprof/fuzz_regressions/*.json "$work/corpus/"
echo "fuzzing for ${seconds}s"
# libFuzzer's own default exit codes (77 for a finding) would read as "skipped" in ctest: make every finding exit 1.
rc=0
"$work/fuzz_trace_reader" -artifact_prefix="$work/" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 "$work/corpus" || rc=$?
if [ "$rc" -ne 0 ]; then
  # Also covers exits whose code no flag sets (out of memory: 71), so that nothing here can exit 77.
  echo "FAIL: the fuzzer exited with $rc; inputs it saved: $(find "$work" -maxdepth 1 -newer "$work/fuzz_trace_reader" \
    \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | tr '\n' ' ')"
  exit 1
fi
