#!/usr/bin/env bash
# The Python package's part of ./scripts/test.sh: `pip wheel .` from this clone, the wheel installed into a venv,
# then pytest on tests/python (without a GPU: import, argument validation, fake-tensor shapes, torch.export,
# router statistics, from_hf's checks; with one, the GPU tests too).
#   scripts/test_python.sh BUILD_DIR     (BUILD_DIR: the tree test.sh has just built)
#
# The wheel is built in BUILD_DIR itself (scikit-build-core's build-dir), so the CUDA library, already compiled
# there with the same flags, is not compiled a second time: pip's build configures the same CMake tree with
# SKBUILD set and compiles only the nanobind module. A fresh `pip install .` compiles everything once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: scripts/test_python.sh BUILD_DIR}" && pwd)
venv=$build/pyenv
"$root/scripts/setup_python.sh" "$venv"
py=$venv/bin/python

# pip wheel as a user runs it: an isolated build environment made from pyproject.toml's build requirements
# (from PyPI). ONEMOE_PIP_OFFLINE=1 builds with the venv's scikit-build-core and nanobind instead.
isolation=()
if [ "${ONEMOE_PIP_OFFLINE:-0}" = 1 ]; then isolation=(--no-build-isolation --no-index); fi
t0=$SECONDS
echo "[test-python] pip wheel . ${isolation[*]:-(isolated build environment)}, build-dir=$build"
rm -rf "$build/wheelhouse"
"$py" -m pip wheel -q --disable-pip-version-check --no-deps "${isolation[@]}" -w "$build/wheelhouse" \
  -C "build-dir=$build" "$root"
wheel=$(ls "$build"/wheelhouse/onemoe-*.whl)
"$py" -m pip install -q --disable-pip-version-check --no-deps --no-index --force-reinstall "$wheel"
echo "[test-python] $(basename "$wheel") built and installed in $((SECONDS - t0)) s"

# From outside the tree, so that `import onemoe` is the installed wheel.
cd "$build"
"$py" -c 'import onemoe, onemoe.torch; print("[test-python] import onemoe", onemoe.__version__, "from",
onemoe.__file__, "- NCCL built against", onemoe.nccl_built_version())'
"$py" -m pytest -p no:cacheprovider -q -rs "$root/tests/python"
