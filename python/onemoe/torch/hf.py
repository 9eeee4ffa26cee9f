"""MoELayer.from_hf: Hugging Face transformers' sparse MoE blocks as onemoe layers.

Routing of the supported blocks, and why onemoe computes the same:
  MixtralSparseMoeBlock   softmax over the E logits (fp32), top-k, divide by the sum of the k. The original
                          Mixtral takes top-k of the logits, then softmax over those k: the same weights, since
                          softmax is monotonic and renormalizing cancels the other experts' share.
                          -> scoring softmax, renormalize True.
  Qwen3MoeSparseMoeBlock  softmax (fp32), top-k, divided by their sum only when config.norm_topk_prob.
  Qwen2MoeSparseMoeBlock  the same routing, plus a shared expert: refused (onemoe has no shared expert).
  OlmoeSparseMoeBlock     Qwen3's routing (OLMoE sets norm_topk_prob False).
Experts: gate/up/down projections, act_fn = config.hidden_act (silu for all three models), gated FFN:
onemoe's w1 = gate, w3 = up, w2 = down.

Weights: transformers 5 stores the experts fused as gate_up_proj [E, 2I, H] (gate rows, then up rows) and
down_proj [E, H, I]. down_proj and the router weight [E, H] are onemoe's layouts and are shared, not copied;
the gate and up halves are strided views of one tensor and are copied into w1 and w3 (the kernel reads each as
a dense [E, I, H]). transformers 4's per-expert nn.Linear modules are stacked (copied).
"""
from typing import Optional

import torch
from torch import nn

_SUPPORTED = ("MixtralSparseMoeBlock", "Qwen3MoeSparseMoeBlock", "Qwen2MoeSparseMoeBlock", "OlmoeSparseMoeBlock")
_ACTIVATIONS = {"silu": "silu", "swish": "silu", "gelu": "gelu", "relu": "relu"}


def _missing_features(block: nn.Module, gate: nn.Module, experts: nn.Module):
    """What the block computes that onemoe does not, in words."""
    missing = []
    for attr in ("shared_expert", "shared_experts"):
        if getattr(block, attr, None) is not None:
            missing.append(f"a shared expert ({attr}, applied to every token beside the routed experts)")
    owners = (block, gate)
    if any(getattr(o, "e_score_correction_bias", None) is not None for o in owners):
        missing.append("biased routing (e_score_correction_bias added to the scores before top-k)")
    if any((getattr(o, "n_group", None) or 1) > 1 or (getattr(o, "topk_group", None) or 1) > 1 for o in owners):
        missing.append("grouped routing (n_group / topk_group: top-k within the best expert groups)")
    if getattr(gate, "bias", None) is not None:
        missing.append("a router bias")
    expert_bias = getattr(experts, "has_bias", False) or any(
        getattr(experts, b, None) is not None for b in ("gate_up_proj_bias", "down_proj_bias"))
    if isinstance(experts, nn.ModuleList):
        expert_bias |= any(isinstance(m, nn.Linear) and m.bias is not None for e in experts for m in e.modules())
    if expert_bias:
        missing.append("expert biases")
    if getattr(experts, "has_post_expert_norm", False):
        missing.append("a norm after each expert")
    return missing


def _check_runnable(block: nn.Module, gate: nn.Module, experts: nn.Module):
    name = type(block).__name__
    missing = _missing_features(block, gate, experts)
    if missing:
        raise NotImplementedError(f"onemoe cannot run {name}: it has {'; '.join(missing)}. onemoe runs top-k "
                                  "routed experts with plain softmax or sigmoid scores, no biases and no shared expert")
    if name not in _SUPPORTED:
        raise NotImplementedError(f"MoELayer.from_hf does not know {name}; it converts {', '.join(_SUPPORTED)}")
    if getattr(experts, "is_concatenated", True) is False:
        raise NotImplementedError(f"{name}'s gate and up projections are interleaved; from_hf reads them "
                                  "concatenated (gate rows, then up rows)")
    if getattr(experts, "is_transposed", False):
        raise NotImplementedError(f"{name}'s experts are stored transposed ([E, H, 2I]); from_hf reads the "
                                  "[E, 2I, H] layout")


def _activation(block: nn.Module, experts: nn.Module) -> str:
    config = getattr(experts, "config", None) or getattr(block, "config", None)
    act = getattr(config, "hidden_act", None)
    if act is None and isinstance(experts, nn.ModuleList) and len(experts):
        act = getattr(getattr(experts[0], "config", None), "hidden_act", None)
    if act is None:
        raise NotImplementedError(f"cannot tell {type(block).__name__}'s activation (no config.hidden_act)")
    if act not in _ACTIVATIONS:
        raise NotImplementedError(f"{type(block).__name__} uses activation {act!r}; onemoe has "
                                  f"{', '.join(sorted(set(_ACTIVATIONS.values())))} (GELU in its exact erf form)")
    return _ACTIVATIONS[act]


def _expert_weights(experts: nn.Module):
    """(w1, w3, w2) as [E, I, H], [E, I, H], [E, H, I]; shared with the block where the layout allows."""
    if hasattr(experts, "gate_up_proj") and hasattr(experts, "down_proj"):
        gate_up, down = experts.gate_up_proj.detach(), experts.down_proj.detach()
        inter = gate_up.shape[1] // 2
        return gate_up[:, :inter].contiguous(), gate_up[:, inter:].contiguous(), down.contiguous()
    if isinstance(experts, nn.ModuleList):
        first = experts[0]
        names = ("w1", "w3", "w2") if hasattr(first, "w1") else ("gate_proj", "up_proj", "down_proj")
        return tuple(torch.stack([getattr(e, n).weight.detach() for e in experts]) for n in names)
    raise NotImplementedError(f"unknown expert layout {type(experts).__name__}: expected gate_up_proj/down_proj "
                              "tensors or a ModuleList of expert MLPs")


def layer_from_hf(cls, block: nn.Module, *, capacity_factor: float = 0.0, expert_parallel=None,
                  max_tokens: Optional[int] = None):
    gate, experts = getattr(block, "gate", None), getattr(block, "experts", None)
    if gate is None or experts is None or getattr(gate, "weight", None) is None:
        raise NotImplementedError(f"{type(block).__name__} has no gate.weight / experts: not a sparse MoE block")
    _check_runnable(block, gate, experts)
    w_router = gate.weight.detach()
    num_experts, hidden = w_router.shape
    top_k = getattr(gate, "top_k", None) or getattr(block, "top_k", None)
    if type(block).__name__ == "MixtralSparseMoeBlock":
        renormalize = True
    else:
        norm = getattr(gate, "norm_topk_prob", getattr(block, "norm_topk_prob", None))
        if norm is None:
            raise NotImplementedError(f"cannot tell whether {type(block).__name__} renormalizes (norm_topk_prob)")
        renormalize = bool(norm)
    activation = _activation(block, experts)
    w1, w3, w2 = _expert_weights(experts)
    dtype, device = w1.dtype, w1.device
    if w_router.dtype != dtype:
        w_router = w_router.to(dtype)  # the kernel reads the router in the layer's dtype
    layer = cls(hidden=hidden, intermediate=w1.shape[1], num_experts=num_experts, top_k=int(top_k),
                activation=activation, gated=True, scoring="softmax", renormalize=renormalize,
                capacity_factor=capacity_factor, dtype=dtype, device="meta",
                expert_parallel=expert_parallel, max_tokens=max_tokens)
    if expert_parallel is not None:
        local = torch.tensor(layer.local_experts, device=device)
        w1, w3, w2 = (w.index_select(0, local) for w in (w1, w3, w2))
    layer.w_router = nn.Parameter(w_router, requires_grad=False)
    layer.w1 = nn.Parameter(w1, requires_grad=False)
    layer.w3 = nn.Parameter(w3, requires_grad=False)
    layer.w2 = nn.Parameter(w2, requires_grad=False)
    return layer
