# Router statistics: the GPU-side formula against a plain loop over tokens (runs on CPU tensors).
import math

import pytest
import torch

from onemoe.torch import stats


def loop_stats(ids, num_experts, capacity_factor):
    T, k = ids.shape
    cap = None if capacity_factor <= 0 else math.ceil(capacity_factor * T * k / num_experts)
    rows, dropped = [0] * num_experts, 0
    for t in range(T):
        for e in sorted(ids[t].tolist()):
            if cap is not None and rows[e] >= cap:
                dropped += 1
            rows[e] += 1
    return rows, dropped


def routing(T, E, k, skew, seed):
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(T, E, generator=g) + skew * torch.linspace(1, 0, E)
    return scores.topk(k, dim=1).indices.sort(dim=1).values.to(torch.int32)


@pytest.mark.parametrize("T,E,k,cf,skew", [(300, 8, 2, 1.0, 2.0), (257, 16, 4, 1.25, 0.5), (64, 8, 2, 0.0, 3.0),
                                           (1000, 32, 8, 0.5, 0.0)])
def test_local_stats_match_a_loop(T, E, k, cf, skew):
    ids = routing(T, E, k, skew, seed=T)
    got = stats.local_stats(ids, E, cf)
    rows, dropped = loop_stats(ids, E, cf)
    assert got.tokens_per_expert.tolist() == rows
    assert int(got.dropped) == dropped
    if cf > 0 and skew > 1:
        assert dropped > 0  # the skewed router overflows its first experts: the case is not vacuous


@pytest.mark.parametrize("cf", [0.8, 1.0, 1.3])
def test_expert_parallel_drops_follow_the_global_token_order(cf):
    # Four ranks with uneven T, one with none: the kernel drops as one GPU would on all tokens in rank order.
    E, k, sizes = 8, 2, [500, 0, 133, 321]
    per_rank = [routing(t, E, k, skew=1.5, seed=10 + r) for r, t in enumerate(sizes)]
    everyone = torch.cat(per_rank)
    cap = stats.capacity(cf, everyone.shape[0], k, E)
    rows, want = [0] * E, [0] * len(sizes)
    for r, ids in enumerate(per_rank):
        for t in range(ids.shape[0]):
            for e in ids[t].tolist():
                want[r] += rows[e] >= cap
                rows[e] += 1
    every = torch.stack([torch.cat([stats.tokens_per_expert(ids, E), torch.tensor([ids.shape[0]])])
                         for ids in per_rank])
    got = [int(stats.rank_dropped(every, r, k, cf)) for r in range(len(sizes))]
    assert got == want and sum(want) == int(stats.local_stats(everyone, E, cf).dropped)
    assert sum(want) > 0


def test_capacity_uses_the_float32_factor():
    # 0.1 is not exact in float32 (0.100000001...): the kernel's ceil sees the float32 value.
    assert stats.capacity(0.1, 1000, 1, 10) == math.ceil(float(torch.tensor(0.1)) * 1000 / 10)
    assert stats.capacity(0.0, 1000, 2, 8) is None
