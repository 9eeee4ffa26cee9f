"""onemoe.torch.MoELayer: an nn.Module whose forward is one onemoe kernel launch per GPU."""
import itertools
import math
from typing import Optional, Tuple, Union

import torch
from torch import Tensor, nn

from . import distributed, ops, stats
from .validate import LayerSpec, check_spec, dtype_name

_layer_ids = itertools.count(1)


class MoELayer(nn.Module):
    """A Mixture-of-Experts layer: router, top-k, expert FFN and weighted combine, as one kernel.

    Parameters, in nn.Linear layout ([out_features, in_features]) as the kernel reads them:
        w_router [E, H]; w1 [E, I, H] (the gate projection when gated); w3 [E, I, H] (gated only: the up
        projection; None otherwise); w2 [E, H, I]. Under expert parallelism w1, w3, w2 hold this rank's experts.
    Semantics: scores = softmax (or sigmoid) of x·w_routerᵀ in fp32; the top_k largest (ties: lower expert id);
    weights = those scores, divided by their sum when renormalize; out = Σ weight · FFN_e(x), FFN_e =
    act(x·w1ᵀ)·w2ᵀ or (act(x·w1ᵀ) * x·w3ᵀ)·w2ᵀ; act is relu, gelu (exact erf) or silu. capacity_factor > 0
    drops tokens past each expert's capacity ceil(capacity_factor·T·k/E) (in token order); 0 is dropless.

    forward(x) takes [..., H] and returns [..., H] of the same dtype; forward(x, return_router_stats=True)
    also returns RouterStats (tokens_per_expert [E], dropped []). Inference only (no backward).
    """

    def __init__(self, hidden: int, intermediate: int, num_experts: int, top_k: int, activation: str = "gelu",
                 gated: bool = False, scoring: str = "softmax", renormalize: bool = True,
                 capacity_factor: float = 0.0, dtype: torch.dtype = torch.bfloat16,
                 device: Optional[Union[str, torch.device]] = None, fp32_math: str = "tf32",
                 expert_parallel: Optional[distributed.ExpertParallelGroup] = None,
                 max_tokens: Optional[int] = None):
        super().__init__()
        self.spec = check_spec(LayerSpec(int(num_experts), int(top_k), int(hidden), int(intermediate),
                                         dtype_name(dtype), scoring, bool(renormalize), activation, bool(gated),
                                         float(capacity_factor), fp32_math))
        self.layer_id = next(_layer_ids)
        self.expert_parallel = expert_parallel
        if expert_parallel is None:
            if max_tokens is not None:
                raise ValueError("max_tokens is for expert-parallel layers; one GPU sizes its Contexts per T")
            self.local_experts = list(range(num_experts))
        else:
            if max_tokens is None or max_tokens < 1:
                raise ValueError("an expert-parallel layer needs max_tokens (the most tokens per rank per forward, "
                                 "the same on every rank: it sizes the symmetric window)")
            device = expert_parallel.device if device is None else device
            self.local_experts = distributed.register_layer(self.layer_id, expert_parallel, self.spec, max_tokens)
        n, H, I = len(self.local_experts), hidden, intermediate
        kw = dict(dtype=dtype, device=device)
        self.w_router = nn.Parameter(torch.empty(num_experts, H, **kw), requires_grad=False)
        self.w1 = nn.Parameter(torch.empty(n, I, H, **kw), requires_grad=False)
        self.w3 = nn.Parameter(torch.empty(n, I, H, **kw), requires_grad=False) if gated else None
        self.w2 = nn.Parameter(torch.empty(n, H, I, **kw), requires_grad=False)
        self.reset_parameters()

    # The layer's config, by the names of the constructor's arguments.
    hidden = property(lambda self: self.spec.hidden)
    intermediate = property(lambda self: self.spec.intermediate)
    num_experts = property(lambda self: self.spec.num_experts)
    top_k = property(lambda self: self.spec.top_k)
    activation = property(lambda self: self.spec.activation)
    gated = property(lambda self: self.spec.gated)
    scoring = property(lambda self: self.spec.scoring)
    renormalize = property(lambda self: self.spec.renormalize)
    capacity_factor = property(lambda self: self.spec.capacity_factor)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """nn.Linear's default initialization, per expert: uniform in ±1/sqrt(fan_in)."""
        for w in (self.w_router, self.w1, self.w3, self.w2):
            if w is not None and w.device.type != "meta":
                bound = 1.0 / math.sqrt(w.shape[-1])
                w.uniform_(-bound, bound)

    def forward(self, x: Tensor, return_router_stats: bool = False) -> Union[Tensor, Tuple[Tensor, stats.RouterStats]]:
        if x.shape[-1] != self.spec.hidden:
            raise ValueError(f"x must be [..., H] with H = {self.spec.hidden}, got shape {list(x.shape)}")
        if x.dtype != self.w_router.dtype:
            raise TypeError(f"x is {x.dtype} but the layer's weights are {self.w_router.dtype}")
        lead = x.shape[:-1]
        flat = x.reshape(-1, self.spec.hidden).contiguous()
        s = self.spec
        if self.expert_parallel is not None:
            out, ids, _ = ops.moe_forward_ep(flat, self.w_router, self.w1, self.w3, self.w2, s.top_k, self.layer_id,
                                            return_router_stats)
            result = out.reshape(*lead, s.hidden)
            if not return_router_stats:
                return result
            return result, stats.expert_parallel_stats(ids, s.num_experts, s.capacity_factor,
                                                       self.expert_parallel.group)
        args = (flat, self.w_router, self.w1, self.w3, self.w2, s.top_k, s.scoring, s.renormalize, s.activation,
                s.capacity_factor, s.fp32_math, self.layer_id)
        if not return_router_stats:
            return ops.moe_forward(*args).reshape(*lead, s.hidden)
        out, ids, _ = ops.moe_forward_routed(*args)
        return out.reshape(*lead, s.hidden), stats.local_stats(ids, s.num_experts, s.capacity_factor)

    def extra_repr(self) -> str:
        s = self.spec
        ffn = f"gated-{s.activation}" if s.gated else s.activation
        ep = "" if self.expert_parallel is None else (f", expert_parallel={self.expert_parallel.world_size} ranks "
                                                      f"({len(self.local_experts)} experts here)")
        return (f"hidden={s.hidden}, intermediate={s.intermediate}, num_experts={s.num_experts}, top_k={s.top_k}, "
                f"ffn={ffn}, scoring={s.scoring}, renormalize={s.renormalize}, "
                f"capacity_factor={s.capacity_factor}, dtype={self.w_router.dtype}{ep}")

    @classmethod
    def from_hf(cls, block: nn.Module, *, capacity_factor: float = 0.0,
                expert_parallel: Optional[distributed.ExpertParallelGroup] = None,
                max_tokens: Optional[int] = None) -> "MoELayer":
        """A MoELayer computing what a Hugging Face transformers sparse MoE block computes, with its weights
        (shared where the layouts agree, copied where they do not). Supported: MixtralSparseMoeBlock,
        Qwen3MoeSparseMoeBlock, OlmoeSparseMoeBlock, Qwen2MoeSparseMoeBlock without a shared expert. A block onemoe cannot run
        (shared experts, grouped or biased routing, biases) raises NotImplementedError naming what is missing."""
        from .hf import layer_from_hf
        return layer_from_hf(cls, block, capacity_factor=capacity_factor, expert_parallel=expert_parallel,
                             max_tokens=max_tokens)
