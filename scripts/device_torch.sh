#!/usr/bin/env bash
# The PyTorch package on a GPU machine, in one device call (no network; ~6 minutes on 16 cores):
#   1. pip install . offline (--no-build-isolation: the machine's scikit-build-core, nanobind and torch), which
#      compiles the CUDA library and onemoe._C against torch's NCCL;
#   2. the README's PyTorch example (examples/python/quickstart.py) as a newcomer runs it;
#   3. the speed table (bench/torch/torch_layer_bench.py) into $OUT/<date>-torch-layer-bench-1gpu.json;
#   4. the pytest suite with its GPU tests: the fp64 model, HF Mixtral/Qwen3/OLMoE agreement, torch.compile and
#      CUDA graphs, expert parallelism under torchrun (world size 1);
#   5. the C++ examples built against `cmake --install` of the same build, and run.
# Each step has a time limit, so the call returns with every log even when a step hangs.
# Needs third_party/cutlass (carry it, or have nvidia-cutlass in the Python) and the peer script
# ../shared/bench/torch_grouped_moe.py copied to .carry/torch_grouped_moe.py (or PEER_SCRIPT=path).
# Logs go to $OUT: pip_install.log, quickstart.log, pytest.log, cpp_examples.log, bench.log.
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/device_env.sh"
out=${OUT:-/tmp/onemoe-out}
mkdir -p "$out"
py=${PYTHON:-python3}
day=$(date -u +%Y-%m-%d)
build=/tmp/onemoe-pip-build
export PEER_SCRIPT=${PEER_SCRIPT:-$root/.carry/torch_grouped_moe.py}
export ONEMOE_COMMIT=${ONEMOE_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}
status=0
step() { echo "[$1] rc=$2 $3s"; [ "$2" -eq 0 ] || status=1; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/env.txt" 2>&1
"$py" -c 'import torch, nanobind, scikit_build_core, transformers; print("torch", torch.__version__, "nanobind",
nanobind.__version__, "scikit-build-core", scikit_build_core.__version__, "transformers", transformers.__version__)' \
  >> "$out/env.txt" 2>&1
cat "$out/env.txt"

t0=$SECONDS
pip_args=(install -v --no-build-isolation --no-deps --no-index -C "build-dir=$build" "$root")
timeout 240 "$py" -m pip "${pip_args[@]}" > "$out/pip_install.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "externally-managed" "$out/pip_install.log"; then  # a system Python (PEP 668)
  timeout 240 "$py" -m pip "${pip_args[@]}" --break-system-packages >> "$out/pip_install.log" 2>&1
  rc=$?
fi
step pip-install $rc $((SECONDS - t0))
# ptxas's resource report (-Xptxas=-v) is most of the log: keep the rest.
grep -vE "ptxas info|bytes stack frame|spill (stores|loads)|Function properties|Compiling entry|Used [0-9]+ registers" \
  "$out/pip_install.log" > "$out/pip_install.log.tmp" && mv "$out/pip_install.log.tmp" "$out/pip_install.log"
grep -E "onemoe: NCCL|Successfully installed|error" "$out/pip_install.log" | head -n 5

cd /tmp  # import the installed package, not the source tree
t0=$SECONDS
timeout 120 "$py" "$root/examples/python/quickstart.py" > "$out/quickstart.log" 2>&1
step quickstart $? $((SECONDS - t0))
cat "$out/quickstart.log"
"$py" -c 'import onemoe; print("NCCL loaded", onemoe.nccl_version(), "built against", onemoe.nccl_built_version())'

t0=$SECONDS
timeout 180 "$py" "$root/bench/torch/torch_layer_bench.py" --json "$out/$day-torch-layer-bench-1gpu.json" \
  > "$out/bench.log" 2>&1
step bench $? $((SECONDS - t0))
grep -v "^W" "$out/bench.log" | tail -n 40

t0=$SECONDS
timeout 230 "$py" -m pytest "$root/tests/python" -v -s -rs -p no:cacheprovider > "$out/pytest.log" 2>&1
step pytest $? $((SECONDS - t0))
tail -n 15 "$out/pytest.log"

t0=$SECONDS
{
  cmake --install "$build" --component cxx --prefix /tmp/onemoe-prefix \
    && cmake -S "$root/examples/cpp" -B /tmp/onemoe-examples -G Ninja -DCMAKE_PREFIX_PATH=/tmp/onemoe-prefix \
    && cmake --build /tmp/onemoe-examples \
    && timeout 60 /tmp/onemoe-examples/host_checks && timeout 60 /tmp/onemoe-examples/single_gpu \
    && timeout 60 /tmp/onemoe-examples/expert_parallel
} > "$out/cpp_examples.log" 2>&1
step cpp-examples $? $((SECONDS - t0))
tail -n 4 "$out/cpp_examples.log"

exit $status
