#!/usr/bin/env bash
# The GEMM engine on its own (docs/design.md), in one device call: gemm-lab's checked variants, then the expert
# GEMMs of the model shapes against cuBLAS dense in the same run. Binary: $ONEMOE_BIN/gemm-lab (default
# .carry/bin). Writes the rows to $OUT/<date>-gemm-lab-1gpu.json and the log to $OUT/gemm-lab.log.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
bin=${ONEMOE_BIN:-$root/.carry/bin}
out=${OUT:-/tmp/onemoe-out}
mkdir -p "$out"
log="$out/gemm-lab.log"
lab() { echo "== gemm-lab $*" | tee -a "$log"; timeout 120 "$bin/gemm-lab" "$@" 2>&1 | tee -a "$log" | grep -v '^#'; }
: > "$log"
lab --quick
tmp=$(mktemp -d)
i=0
run() { i=$((i + 1)); lab "$@" --json "$tmp/$i.json"; }
run --experts 128 --rows 32768 -N 2048 -K 2048 --act gelu             # main shape, GEMM1
run --experts 128 --rows 32768 -N 2048 -K 2048 --act gelu --n-major
run --experts 128 --rows 32768 -N 2048 -K 2048 --act gelu --stages 3
run --experts 128 --rows 32768 -N 2048 -K 2048 --act gelu --cluster 2  # weight tiles shared by block pairs
run --experts 128 --rows 32768 -N 2048 -K 2048 --act gelu --stages 3 --epilogue tma  # against --stages 3 above
run --experts 128 --rows 32768 -N 2048 -K 2048 --act none             # main shape, GEMM2
run --experts 8 --rows 8192 -N 14336 -K 4096 --gated                  # Mixtral-8x7B GEMM1, T=4096
run --experts 8 --rows 8192 -N 14336 -K 4096 --gated --cluster 2
run --experts 8 --rows 8192 -N 4096 -K 14336 --act none               # Mixtral-8x7B GEMM2
run --experts 128 --rows 131072 -N 768 -K 2048 --gated                # Qwen3-30B-A3B GEMM1, T=16384
# DeepSeek-V3 routed GEMM1 (T=4096, k=8: 128 rows per expert), on 32 of its 256 experts: the host draws every
# weight, and 256 experts of 2 x 2048 x 7168 would take minutes of it.
run --experts 32 --rows 4096 -N 2048 -K 7168 --gated
run --experts 128 --rows 256 -N 2048 -K 2048 --act gelu               # decode, T=128
python3 "$root/scripts/merge_results.py" "$out/$(date -u +%Y-%m-%d)-gemm-lab-1gpu.json" "$tmp"/*.json
