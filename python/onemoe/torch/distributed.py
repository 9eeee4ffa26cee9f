"""Expert parallelism over a torch.distributed process group.

ExpertParallelGroup makes onemoe's own NCCL communicator for a group: rank 0 of the group draws an NCCL unique
id and the group broadcasts it (through the group's own backend), then every rank joins. An expert-parallel
MoELayer then creates its DistributedContext over that communicator (collective: every rank constructs the same
layers in the same order). Launch with torchrun, one process per GPU:

    torchrun --nproc-per-node 4 my_script.py
    dist.init_process_group("nccl"); torch.cuda.set_device(local_rank)
    group = onemoe.torch.ExpertParallelGroup()          # default: the world group
    layer = MoELayer(..., expert_parallel=group, max_tokens=16384)   # holds this rank's experts only
"""
import threading
from typing import Dict, List, Optional, Tuple

import torch

from .._native import _C
from .validate import LayerSpec

_lock = threading.Lock()
_layers: Dict[int, Tuple["_C.DistributedContext", LayerSpec, int]] = {}


class ExpertParallelGroup:
    """onemoe's NCCL communicator over the ranks of a torch.distributed group (all GPUs of one NVLink domain)."""

    def __init__(self, group=None, device: Optional[torch.device] = None):
        import torch.distributed as dist
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("ExpertParallelGroup needs torch.distributed initialized first "
                               "(dist.init_process_group('nccl'), launched with torchrun)")
        self.group = group if group is not None else dist.group.WORLD
        self.rank = dist.get_rank(self.group)
        self.world_size = dist.get_world_size(self.group)
        self.device = torch.device("cuda", torch.cuda.current_device()) if device is None else torch.device(device)
        uid = torch.zeros(128, dtype=torch.uint8, device=self._exchange_device(dist))
        if self.rank == 0:
            uid.copy_(torch.frombuffer(bytearray(_C.nccl_unique_id()), dtype=torch.uint8))
        dist.broadcast(uid, src=dist.get_global_rank(self.group, 0), group=self.group)
        self.comm = _C.NcclComm(bytes(uid.cpu().tolist()), self.world_size, self.rank, self.device.index)

    def _exchange_device(self, dist) -> torch.device:
        # An NCCL group moves CUDA tensors only; a gloo group moves CPU tensors ("cpu:gloo,cuda:nccl": either).
        return self.device if "nccl" in str(dist.get_backend(self.group)) else torch.device("cpu")

    def placement(self, num_experts: int) -> List[int]:
        """Rank of each expert: contiguous blocks in expert order (E need not divide by the world size)."""
        return list(_C.contiguous_placement(num_experts, self.world_size))

    def local_experts(self, num_experts: int) -> List[int]:
        return [e for e, r in enumerate(self.placement(num_experts)) if r == self.rank]


def register_layer(layer_id: int, group: ExpertParallelGroup, spec: LayerSpec, max_tokens: int) -> List[int]:
    """Creates the layer's DistributedContext (collective over group); returns this rank's experts."""
    ctx = _C.DistributedContext(spec.shape(max_tokens), spec.config(), group.comm, group.placement(spec.num_experts))
    with _lock:
        _layers[layer_id] = (ctx, spec, len(ctx.local_experts))
    return list(ctx.local_experts)


def layer_context(layer_id: int) -> Tuple["_C.DistributedContext", LayerSpec, int]:
    with _lock:
        if layer_id not in _layers:
            raise ValueError(f"no expert-parallel layer {layer_id}: make it with MoELayer(expert_parallel=...)")
        return _layers[layer_id]


def unregister_layer(layer_id: int) -> None:
    with _lock:
        _layers.pop(layer_id, None)
