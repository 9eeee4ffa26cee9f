import torch
from onemoe.torch import MoELayer

layer = MoELayer(hidden=2048, intermediate=1408, num_experts=64, top_k=6, activation="silu", gated=True,
                 dtype=torch.bfloat16, device="cuda")             # random weights, nn.Linear layout
x = torch.randn(4, 1024, 2048, dtype=torch.bfloat16, device="cuda")  # [..., H]
with torch.inference_mode():
    y, stats = layer(x, return_router_stats=True)                 # one kernel launch
print(y.shape, stats.tokens_per_expert.sum().item(), "routed slots,", stats.dropped.item(), "dropped")
