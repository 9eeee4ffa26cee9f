"""onemoe for PyTorch: the layer, the ops, and conversion from Hugging Face transformers.

    from onemoe.torch import MoELayer
    layer = MoELayer(hidden=2048, intermediate=2048, num_experts=128, top_k=2, device="cuda")
    y = layer(x)                                  # x: [..., 2048] bf16 on the GPU
    y, stats = layer(x, return_router_stats=True) # stats.tokens_per_expert, stats.dropped
    layer = MoELayer.from_hf(model.model.layers[0].mlp)   # MixtralSparseMoeBlock, Qwen2/Qwen3 MoE blocks

The ops (torch.ops.onemoe.moe_forward, moe_forward_routed, moe_forward_prerouted (the routing given, as engines
that run their own top-k want), moe_forward_ep) have fake implementations, so
torch.compile traces them without a graph break, and run on the current stream (CUDA-graph safe).
"""
from .contexts import check_device_errors, clear_contexts
from .distributed import ExpertParallelGroup
from .layer import MoELayer
from .ops import moe_forward, moe_forward_ep, moe_forward_prerouted, moe_forward_routed
from .stats import RouterStats

__all__ = ["MoELayer", "RouterStats", "ExpertParallelGroup", "moe_forward", "moe_forward_routed",
           "moe_forward_prerouted", "moe_forward_ep", "clear_contexts", "check_device_errors"]
