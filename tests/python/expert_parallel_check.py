"""Run by torchrun (tests/python/test_gpu_expert_parallel.py): an expert-parallel MoELayer over the world group
against a one-GPU MoELayer holding all experts, on every rank's own tokens (bitwise equal: the library promises
the same output for any rank count), plus its router statistics with dropping."""
import os

import torch
import torch.distributed as dist

from onemoe.torch import ExpertParallelGroup, MoELayer


def main():
    local_rank = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
    rank, world = dist.get_rank(), dist.get_world_size()
    group = ExpertParallelGroup()
    H, I, E, k = 1024, 512, 16, 2
    for gated, cf in ((False, 0.0), (True, 1.0)):
        torch.manual_seed(0)  # the same full weights on every rank
        full = MoELayer(H, I, E, k, gated=gated, activation="silu" if gated else "gelu", capacity_factor=cf,
                        device="cuda")
        ep = MoELayer(H, I, E, k, gated=gated, activation=full.activation, capacity_factor=cf,
                      expert_parallel=group, max_tokens=4096)
        local = torch.tensor(ep.local_experts, device="cuda")
        with torch.no_grad():
            ep.w_router.copy_(full.w_router)
            for name in ("w1", "w3", "w2"):
                if getattr(full, name) is not None:
                    getattr(ep, name).copy_(getattr(full, name).index_select(0, local))
        torch.manual_seed(1 + rank)
        T = 3000 - 700 * rank  # uneven per rank
        x = torch.randn(T, H, device="cuda", dtype=torch.bfloat16)
        y, stats = ep(x, return_router_stats=True)
        # The one-GPU layer on all ranks' tokens in rank order: what the expert-parallel layer computes.
        sizes = [3000 - 700 * r for r in range(world)]
        everyone = [torch.empty(s, H, device="cuda", dtype=torch.bfloat16) for s in sizes]
        dist.all_gather(everyone, x)
        want, want_stats = full(torch.cat(everyone), return_router_stats=True)
        start = sum(sizes[:rank])
        assert torch.equal(y, want[start:start + T]), "expert-parallel output differs from one GPU"
        total = stats.tokens_per_expert.clone()
        dist.all_reduce(total)
        dropped = stats.dropped.clone()
        dist.all_reduce(dropped)
        assert torch.equal(total, want_stats.tokens_per_expert)
        assert int(dropped) == int(want_stats.dropped)
        assert (cf == 0) == (int(dropped) == 0)
        print(f"rank {rank}: gated={gated} capacity_factor={cf}: bitwise equal to one GPU, "
              f"{int(stats.dropped)} slots dropped here")
    dist.barrier()
    print("PASS: expert parallel", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
