"""onemoe: a Mixture-of-Experts layer whose whole forward is one CUDA kernel per GPU.

    import onemoe.torch                 # the PyTorch layer and op: onemoe.torch.MoELayer, torch.ops.onemoe.*
    onemoe.can_implement(shape, config) # host-only check of a shape and config (no GPU needed)

The C++ API's types are here as MoeShape, MoeConfig, Context, DistributedContext (raw device pointers);
onemoe.torch wraps them for tensors.
"""
from ._native import _C

__version__ = "0.1.0"

MoeShape = _C.MoeShape
MoeConfig = _C.MoeConfig
OnemoeError = _C.OnemoeError
can_implement = _C.can_implement
nccl_version = _C.nccl_version
nccl_built_version = _C.nccl_built_version

__all__ = ["MoeShape", "MoeConfig", "OnemoeError", "can_implement", "nccl_version", "nccl_built_version",
           "__version__"]
