"""Hugging Face transformers MoE blocks built from their configs with random weights (nothing downloaded):
one layer of Mixtral-8x7B, Qwen3-30B-A3B and OLMoE-1B-7B, for the GPU tests and the speed table."""
import torch

CONFIGS = {
    # name: (config class, block class, module, config kwargs)
    "mixtral-8x7b": ("MixtralConfig", "MixtralSparseMoeBlock", "transformers.models.mixtral.modeling_mixtral",
                     dict(hidden_size=4096, intermediate_size=14336, num_local_experts=8, num_experts_per_tok=2,
                          hidden_act="silu")),
    "qwen3-30b-a3b": ("Qwen3MoeConfig", "Qwen3MoeSparseMoeBlock", "transformers.models.qwen3_moe.modeling_qwen3_moe",
                      dict(hidden_size=2048, moe_intermediate_size=768, num_experts=128, num_experts_per_tok=8,
                           norm_topk_prob=True, hidden_act="silu")),
    "olmoe-1b-7b": ("OlmoeConfig", "OlmoeSparseMoeBlock", "transformers.models.olmoe.modeling_olmoe",
                    dict(hidden_size=2048, intermediate_size=1024, num_experts=64, num_experts_per_tok=8,
                         norm_topk_prob=False, hidden_act="silu")),
}


def make_block(name, dtype=torch.bfloat16, seed=0, experts_implementation="eager", device="cuda", **overrides):
    import importlib

    import transformers
    config_cls, block_cls, module, kwargs = CONFIGS[name]
    config = getattr(transformers, config_cls)(**{**kwargs, **overrides})
    config._experts_implementation = experts_implementation
    block_type = getattr(importlib.import_module(module), block_cls)
    torch.manual_seed(seed)
    with torch.device(device):
        block = block_type(config).to(dtype)
    with torch.no_grad():  # N(0, 1/fan_in): routing spread over the experts, activations of order 1
        for p in block.parameters():
            p.copy_(torch.randn_like(p, dtype=torch.float32) * p.shape[-1] ** -0.5)
    return block.eval()


def hidden_size(block):
    return block.gate.weight.shape[1]


def hf_routing(block, x2d):
    """HF's expert choice per token, ascending, as [T, k] int64 (transformers 5's router returns it; for an
    nn.Linear gate, softmax/top-k of its logits)."""
    out = block.gate(x2d)
    if isinstance(out, tuple):
        ids = out[2]
    else:
        k = getattr(block, "top_k", None) or block.gate.top_k
        ids = torch.softmax(out.float(), dim=-1).topk(k, dim=-1).indices
    return ids.sort(dim=1).values
