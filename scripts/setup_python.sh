#!/usr/bin/env bash
# Makes the Python environment of the package's CPU tests: a venv with the build tools (scikit-build-core,
# nanobind), pytest, and the lightest torch that imports on a machine without a GPU. Idempotent.
#   scripts/setup_python.sh VENV_DIR
#
# Which torch: PyPI's Linux torch wheel is a CUDA build, and its dependencies bring about 3 GB of CUDA
# libraries. This machine already has the CUDA 13 toolkit (cuBLAS, cuDNN, cuFFT, NCCL, ...), so torch is
# installed without its dependencies, plus the pure-Python packages it imports and the three CUDA libraries
# the toolkit lacks (cuFile, cuSPARSELt, NVSHMEM): about 0.8 GB instead of 3.5. Where that torch does not
# import, the full dependency set is installed instead (say which in the log; both run the same tests).
set -euo pipefail
venv=${1:?usage: scripts/setup_python.sh VENV_DIR}
torch_version=${ONEMOE_TORCH_VERSION:-2.11.0}
pip_q() { "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-warn-conflicts "$@"; }

if [ ! -x "$venv/bin/python" ]; then
  if python3 -c 'import torch' >/dev/null 2>&1; then
    # This machine's Python has torch already (a GPU machine, perhaps with no network): use it.
    echo "[setup-python] creating $venv on top of $(command -v python3)'s packages (torch is there)"
    python3 -m venv --system-site-packages "$venv"
  else
    echo "[setup-python] creating $venv"
    python3 -m venv "$venv"
  fi
fi
need=()
for spec in "scikit_build_core scikit-build-core>=0.10" "nanobind nanobind>=2.0" "pytest pytest" "numpy numpy"; do
  "$venv/bin/python" -c "import ${spec%% *}" >/dev/null 2>&1 || need+=("${spec#* }")
done
if [ ${#need[@]} -gt 0 ]; then pip_q "${need[@]}"; fi
if "$venv/bin/python" -c 'import torch' >/dev/null 2>&1; then
  echo "[setup-python] torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)') already there"
  exit 0
fi
t0=$SECONDS
echo "[setup-python] torch==$torch_version without its CUDA dependencies (the CUDA 13 toolkit provides them)"
pip_q --no-deps "torch==$torch_version"
pip_q filelock "typing-extensions>=4.10" "sympy>=1.13.3" "networkx>=2.5.1" jinja2 "fsspec>=0.8.5" "setuptools<82"
# Versions as torch 2.11's own requirements pin them; --no-deps keeps their CUDA runtimes out.
pip_q --no-deps nvidia-cufile==1.15.1.6 nvidia-cusparselt-cu13==0.8.0 nvidia-nvshmem-cu13==3.4.5
if ! err=$("$venv/bin/python" -c 'import torch' 2>&1); then
  echo "[setup-python] that torch does not import here (${err##*$'\n'}): installing its full dependency set"
  pip_q "torch==$torch_version"
fi
"$venv/bin/python" -c 'import torch; print("[setup-python] torch", torch.__version__, "imports;",
                                     "CUDA devices:", torch.cuda.device_count())'
echo "[setup-python] $((SECONDS - t0)) s, venv $(du -sh "$venv" | cut -f1)"
