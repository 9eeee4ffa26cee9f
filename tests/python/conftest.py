# Tests of the Python package. Those marked `gpu` need a CUDA device (Hopper) and are skipped without one;
# the others run in CI with no GPU: they check what happens before any CUDA call.
import pytest
import torch


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a Hopper GPU")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
