"""Loads the compiled module onemoe._C.

_C links the CUDA 13 runtime (libcudart.so.13) and NCCL (libnccl.so.2) dynamically. In a PyTorch process
those are the copies torch loaded, so torch is imported first when it is installed; a process without torch
needs them on the loader's path (the CUDA 13 toolkit, or LD_LIBRARY_PATH).
"""
try:
    import torch as _torch  # noqa: F401  (loads torch's CUDA runtime and NCCL for _C to bind to)
except ImportError:
    _torch = None

try:
    from . import _C
except ImportError as err:
    raise ImportError(
        f"onemoe's compiled module did not load ({err}). It needs the CUDA 13 runtime (libcudart.so.13) and "
        "NCCL (libnccl.so.2): install a CUDA 13 build of torch (import torch first), or put the CUDA 13 "
        "toolkit's lib directory on LD_LIBRARY_PATH") from err
