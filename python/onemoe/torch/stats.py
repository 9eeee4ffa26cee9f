"""Router statistics of a forward, computed on the GPU from the kernel's routing output (no host sync).

Dropping follows the kernel's rule (include/onemoe/onemoe.h, MoeConfig::capacity_factor): each expert keeps
capacity = ceil(capacity_factor * T * k / E) rows, tokens in order, and drops the rest. Under expert
parallelism T is the total over ranks and the order is rank 0's tokens first, so the count of this rank's
dropped slots needs every rank's per-expert counts (one all-gather on the layer's group).
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor


@dataclass
class RouterStats:
    tokens_per_expert: Tensor  # [E] int64: routed (token, expert) slots of this forward's tokens, kept or dropped
    dropped: Tensor            # [] int64: of those, the slots past their expert's capacity (contribute zero)


def capacity(capacity_factor: float, num_tokens: int, top_k: int, num_experts: int) -> Optional[int]:
    """Rows each expert keeps, as the kernel computes it (the factor is a float32 there), or None: dropless."""
    factor = float(torch.tensor(capacity_factor, dtype=torch.float32))
    if factor <= 0:
        return None
    return math.ceil(factor * float(num_tokens * top_k) / float(num_experts))


def tokens_per_expert(topk_ids: Tensor, num_experts: int) -> Tensor:
    # scatter_add, not bincount: bincount reads its maximum back to the host (no CUDA graph, a graph break).
    ids = topk_ids.reshape(-1).long()
    return torch.zeros(num_experts, dtype=torch.int64, device=ids.device).scatter_add_(0, ids, torch.ones_like(ids))


def local_stats(topk_ids: Tensor, num_experts: int, capacity_factor: float) -> RouterStats:
    counts = tokens_per_expert(topk_ids, num_experts)
    cap = capacity(capacity_factor, topk_ids.shape[0], topk_ids.shape[1], num_experts)
    if cap is None:
        return RouterStats(counts, torch.zeros((), dtype=torch.int64, device=counts.device))
    return RouterStats(counts, (counts - counts.clamp(max=cap)).sum())


def rank_dropped(every: Tensor, rank: int, top_k: int, capacity_factor: float) -> Tensor:
    """Dropped slots of one rank's tokens. every [R, E + 1]: row r holds rank r's routed count per expert, then its T.
    The capacity comes from the total T, on the GPU (no host read, so a CUDA graph can hold it), with the same IEEE
    double operations as the kernel's host code: ceil(double(factor) * double(T * k) / double(E))."""
    num_experts = every.shape[1] - 1
    factor = float(torch.tensor(capacity_factor, dtype=torch.float32))
    routed = (every[:, num_experts].sum() * top_k).double()
    cap = torch.ceil(factor * routed / float(num_experts)).long()
    before = every[:rank, :num_experts].sum(dim=0)  # rows of each expert taken by lower ranks' tokens
    counts = every[rank, :num_experts]
    return (counts - (cap - before).clamp(min=0).minimum(counts)).sum()


def expert_parallel_stats(topk_ids: Tensor, num_experts: int, capacity_factor: float, group) -> RouterStats:
    """This rank's statistics under expert parallelism (collective over group when capacity_factor > 0)."""
    counts = tokens_per_expert(topk_ids, num_experts)
    if float(torch.tensor(capacity_factor, dtype=torch.float32)) <= 0:
        return RouterStats(counts, torch.zeros((), dtype=torch.int64, device=counts.device))
    import torch.distributed as dist
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    mine = torch.cat([counts, counts.new_full((1,), topk_ids.shape[0])])  # no host-to-device copy
    every = torch.empty((world, num_experts + 1), dtype=torch.int64, device=counts.device)
    dist.all_gather_into_tensor(every, mine, group=group)
    return RouterStats(counts, rank_dropped(every, rank, topk_ids.shape[1], capacity_factor))
