# Expert parallelism through torch.distributed, launched by torchrun (world size 1 on one GPU; the same script
# runs on more GPUs when a machine has them).
import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.gpu


def test_torchrun_expert_parallel():
    script = os.path.join(os.path.dirname(__file__), "expert_parallel_check.py")
    world = int(os.environ.get("ONEMOE_TEST_EP_RANKS", "1"))
    if torch.cuda.device_count() < world:
        pytest.skip(f"needs {world} GPUs")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}",
                          script], capture_output=True, text=True, timeout=600)
    print(run.stdout[-4000:], run.stderr[-4000:])
    assert run.returncode == 0
    assert run.stdout.count("PASS: expert parallel") == world
