#!/usr/bin/env bash
# Multi-GPU (issue 3) validation on one node, in one or more device calls: the multi-GPU GPU tests, then the
# expert-parallel benchmark rows. Binaries come from .carry/bin (scripts/collect_binaries.sh); logs and JSON
# go to $OUT. Pass the commit as ONEMOE_COMMIT; ONEMOE_RESULT_TAG adds a tag to the result names.
#   scripts/device_multigpu.sh [PART...]   PART: tests main flashmoe weak decode uneven skew bitwise procs
#                                          (default: all, in that order; each bench call has its own timeout)
# Result files: <date>-onemoe-bench-ep-<name>-<N>gpu.json, N = GPUs of the row (all visible ones, except the
# weak-scaling runs on 1, 2 and 4).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
bin="$root/.carry/bin"
out=${OUT:-/tmp/onemoe-out}
day=$(date -u +%Y-%m-%d)
mkdir -p "$out"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
[ "$gpus" -ge 1 ] || { echo "no GPU visible"; exit 3; }
parts=${*:-tests main flashmoe weak decode uneven skew bitwise procs}
nvidia-smi topo -m > "$out/topo.txt" 2>&1
nvidia-smi --query-gpu=index,name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv > "$out/env.txt" 2>&1
echo "[multigpu] $gpus GPU(s), parts: $parts"

name_of() {  # name_of NAME GPUS -> result path
  echo "$out/$day-onemoe-bench-ep-$1${ONEMOE_RESULT_TAG:+-$ONEMOE_RESULT_TAG}-$2gpu.json"
}
bench() {  # bench NAME GPUS SECONDS ARGS...  (one process, a thread per GPU)
  local name=$1 n=$2 secs=$3
  shift 3
  local t0=$SECONDS
  timeout "$secs" "$bin/onemoe-bench" --gpus "$n" "$@" --json "$(name_of "$name" "$n")" > "$out/bench-ep-$name-${n}gpu.log" 2>&1
  echo "[bench ep-$name ${n}gpu] rc=$? $((SECONDS - t0))s"
  grep -v '^#' "$out/bench-ep-$name-${n}gpu.log" | grep -v '^$'
  grep '^#   ' "$out/bench-ep-$name-${n}gpu.log"
}
# Comma list of N values: first value on rank 0, second on the others (e.g. "16384,300,300,300").
per_rank() {
  local first=$1 rest=$2 list=$1 i
  for ((i = 1; i < gpus; ++i)); do list="$list,$rest"; done
  echo "$list"
}

for part in $parts; do
  case $part in
    tests)
      if [ -x "$bin/onemoe_multigpu_tests" ]; then
        timeout 600 "$bin/onemoe_multigpu_tests" > "$out/multigpu_tests.log" 2>&1
        echo "[onemoe_multigpu_tests] rc=$?"
        grep -E "PASSED|FAILED|^\[  SKIPPED" "$out/multigpu_tests.log" | tail -n 12
      else
        echo "[onemoe_multigpu_tests] not in $bin (not built yet?)"
      fi ;;
    main)  # the headline row: bf16, E=128, T=16384 per rank, H=I=2048, k=2
      bench main "$gpus" 420 -b 16384 -e 16384 --experts 128 -k 2 -H 2048 -I 2048 -d bf16 -w 5 -n 20 ;;
    flashmoe)  # FlashMoE's rows: TF32, E=32, T = 4096, 8192, 16384 per rank
      bench flashmoe-tf32 "$gpus" 420 -b 4096 -e 16384 -f 2 --experts 32 -k 2 -H 2048 -I 2048 -d tf32 -w 5 -n 20 ;;
    weak)  # weak scaling: the same T per GPU on 1, 2 and 4 GPUs
      for n in 1 2 4; do
        [ "$n" -le "$gpus" ] && bench weak "$n" 300 -b 8192 -e 8192 --experts 32 -k 2 -H 2048 -I 2048 -d bf16,tf32 -w 5 -n 20
      done ;;
    decode)
      bench decode "$gpus" 240 -b 128 -e 128 --experts 128 -k 2 -H 2048 -I 2048 -d bf16 -w 10 -n 50 ;;
    uneven)  # one rank with many tokens, the others with few; then a rank with none
      [ "$gpus" -ge 2 ] && bench uneven "$gpus" 300 --tokens-per-rank "$(per_rank 16384 300)" --experts 128 -k 2 -d bf16 -w 5 -n 20
      [ "$gpus" -ge 2 ] && bench tzero "$gpus" 300 --tokens-per-rank "$(per_rank 0 4096)" --experts 128 -k 2 -d bf16 -w 5 -n 20 ;;
    skew)  # most tokens routed to rank 0's experts
      bench skew "$gpus" 300 -b 8192 -e 8192 --experts 32 -k 2 -d bf16 --skew 4 --skew-rank 0 -w 5 -n 20 ;;
    bitwise)  # onemoe on N GPUs against onemoe on one GPU, same global problem, bit for bit
      bench bitwise "$gpus" 300 -b 2048 -e 2048 --experts 32 -k 2 -d bf16,tf32 --check-bitwise --check-tokens 0 \
        --impl onemoe -w 1 -n 3 ;;
    procs)  # one process per GPU (the mpirun/torchrun path), ranks given by flags, NCCL id through a file
      idfile="$out/ncclid.$$.$RANDOM"
      t0=$SECONDS
      for ((r = 1; r < gpus; ++r)); do
        timeout 300 "$bin/onemoe-bench" --nccl-id-file "$idfile" --rank "$r" --world-size "$gpus" --device "$r" \
          -b 4096 -e 4096 --experts 32 -k 2 -d bf16 -w 3 -n 10 > "$out/bench-ep-procs-rank$r.log" 2>&1 &
      done
      timeout 300 "$bin/onemoe-bench" --nccl-id-file "$idfile" --rank 0 --world-size "$gpus" --device 0 \
        -b 4096 -e 4096 --experts 32 -k 2 -d bf16 -w 3 -n 10 --json "$(name_of procs "$gpus")" \
        > "$out/bench-ep-procs-${gpus}gpu.log" 2>&1
      echo "[bench ep-procs ${gpus}gpu] rank0 rc=$? $((SECONDS - t0))s"
      wait
      grep -v '^#' "$out/bench-ep-procs-${gpus}gpu.log" | grep -v '^$'
      cat "$out"/bench-ep-procs-rank*.log 2>/dev/null | head -n 20 ;;
    *) echo "unknown part '$part'" ;;
  esac
done
