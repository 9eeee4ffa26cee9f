"""The torch ops: torch.ops.onemoe.moe_forward, moe_forward_routed, moe_forward_prerouted and moe_forward_ep.

They are torch.library custom ops over onemoe._C, so they need no C++ compiled against torch. Each has a fake
implementation (shapes only), so torch.compile traces through them without a graph break. They enqueue one
kernel on torch's current stream, do not synchronize, and can be captured in a CUDA graph (a graph holds the
tensors' addresses: replay it with new inputs copied into the same buffers). Forward only: there is no backward.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from . import contexts, distributed
from .validate import check_inputs, check_prerouted_inputs

_NO_BACKWARD = ("onemoe's ops are forward-only (inference): there is no backward. Run the layer under "
                "torch.no_grad() / torch.inference_mode(), or use a PyTorch MoE for training.")


def _stream(x: Tensor) -> int:
    return torch.cuda.current_stream(x.device).cuda_stream


def _routing_buffers(x: Tensor, top_k: int) -> Tuple[Tensor, Tensor]:
    t = x.shape[0]
    return (torch.empty((t, top_k), dtype=torch.int32, device=x.device),
            torch.empty((t, top_k), dtype=torch.float32, device=x.device))


def _run_local(x, w_router, w1, w3, w2, top_k, scoring, renormalize, activation, capacity_factor, fp32_math,
               layer_id, ids, weights):
    spec = check_inputs(x, w_router, w1, w3, w2, top_k, scoring, renormalize, activation, capacity_factor,
                        fp32_math)
    out = torch.empty_like(x)
    num_tokens = x.shape[0]
    if num_tokens == 0:
        return out
    ctx = contexts.context_for(layer_id, x.device, spec, num_tokens)
    ctx.run(num_tokens, x.data_ptr(), w_router.data_ptr(), w1.data_ptr(), 0 if w3 is None else w3.data_ptr(),
            w2.data_ptr(), out.data_ptr(), 0 if ids is None else ids.data_ptr(),
            0 if weights is None else weights.data_ptr(), _stream(x))
    return out


@torch.library.custom_op("onemoe::moe_forward", mutates_args=())
def moe_forward(x: Tensor, w_router: Tensor, w1: Tensor, w3: Optional[Tensor], w2: Tensor, top_k: int,
                scoring: str = "softmax", renormalize: bool = True, activation: str = "gelu",
                capacity_factor: float = 0.0, fp32_math: str = "tf32", layer_id: int = 0) -> Tensor:
    """The MoE layer forward on one GPU. x [T, H]; w_router [E, H]; w1, w3 [E, I, H] (w3 None: plain FFN);
    w2 [E, H, I]; returns [T, H]. layer_id keys the cached Context (one per layer, device and max T)."""
    return _run_local(x, w_router, w1, w3, w2, top_k, scoring, renormalize, activation, capacity_factor,
                      fp32_math, layer_id, None, None)


@moe_forward.register_fake
def _moe_forward_fake(x, w_router, w1, w3, w2, top_k, scoring="softmax", renormalize=True, activation="gelu",
                      capacity_factor=0.0, fp32_math="tf32", layer_id=0):
    check_inputs(x, w_router, w1, w3, w2, top_k, scoring, renormalize, activation, capacity_factor, fp32_math,
                 real=False)
    return torch.empty_like(x)


@torch.library.custom_op("onemoe::moe_forward_routed", mutates_args=())
def moe_forward_routed(x: Tensor, w_router: Tensor, w1: Tensor, w3: Optional[Tensor], w2: Tensor, top_k: int,
                       scoring: str = "softmax", renormalize: bool = True, activation: str = "gelu",
                       capacity_factor: float = 0.0, fp32_math: str = "tf32",
                       layer_id: int = 0) -> Tuple[Tensor, Tensor, Tensor]:
    """moe_forward that also returns the routing: topk_ids [T, k] int32 (ascending within a token) and
    topk_weights [T, k] float32 (0 for a slot dropped by the capacity)."""
    ids, weights = _routing_buffers(x, top_k)
    out = _run_local(x, w_router, w1, w3, w2, top_k, scoring, renormalize, activation, capacity_factor,
                     fp32_math, layer_id, ids, weights)
    return out, ids, weights


@moe_forward_routed.register_fake
def _moe_forward_routed_fake(x, w_router, w1, w3, w2, top_k, scoring="softmax", renormalize=True,
                             activation="gelu", capacity_factor=0.0, fp32_math="tf32", layer_id=0):
    check_inputs(x, w_router, w1, w3, w2, top_k, scoring, renormalize, activation, capacity_factor, fp32_math,
                 real=False)
    ids, weights = _routing_buffers(x, top_k)
    return torch.empty_like(x), ids, weights


@torch.library.custom_op("onemoe::moe_forward_prerouted", mutates_args=())
def moe_forward_prerouted(x: Tensor, w1: Tensor, w3: Optional[Tensor], w2: Tensor, topk_ids: Tensor,
                          topk_weights: Tensor, activation: str = "gelu", capacity_factor: float = 0.0,
                          fp32_math: str = "tf32", layer_id: int = 0) -> Tensor:
    """The MoE layer forward with the routing given (an engine's own top-k kernel): topk_ids [T, k] int32, each
    in [0, E) and distinct within a token, in any order; topk_weights [T, k] float32, used as given. No router.
    Given moe_forward_routed's own ids and weights it returns that op's output bitwise. A bad id raises
    OnemoeError at the next synchronization (onemoe checks it on the GPU; nothing is read out of bounds)."""
    spec = check_prerouted_inputs(x, w1, w3, w2, topk_ids, topk_weights, activation, capacity_factor, fp32_math)
    out = torch.empty_like(x)
    num_tokens = x.shape[0]
    if num_tokens == 0:
        return out
    ctx = contexts.context_for(layer_id, x.device, spec, num_tokens)
    ctx.run(num_tokens, x.data_ptr(), 0, w1.data_ptr(), 0 if w3 is None else w3.data_ptr(), w2.data_ptr(),
            out.data_ptr(), 0, 0, _stream(x), in_topk_ids=topk_ids.data_ptr(),
            in_topk_weights=topk_weights.data_ptr())
    return out


@moe_forward_prerouted.register_fake
def _moe_forward_prerouted_fake(x, w1, w3, w2, topk_ids, topk_weights, activation="gelu", capacity_factor=0.0,
                                fp32_math="tf32", layer_id=0):
    check_prerouted_inputs(x, w1, w3, w2, topk_ids, topk_weights, activation, capacity_factor, fp32_math,
                           real=False)
    return torch.empty_like(x)


@torch.library.custom_op("onemoe::moe_forward_ep", mutates_args=())
def moe_forward_ep(x: Tensor, w_router: Tensor, w1: Tensor, w3: Optional[Tensor], w2: Tensor, top_k: int,
                   layer_id: int, return_routing: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
    """This rank's part of an expert-parallel forward (every rank of the layer's group calls it, the same number
    of times). x [T_r, H], T_r may differ per rank and may be 0; w1, w3, w2 hold this rank's experts only.
    layer_id names a layer registered by MoELayer(expert_parallel=...). Returns (out, topk_ids, topk_weights);
    the routing tensors are [T_r, k] when return_routing, else [0, k]."""
    ctx, spec, local = distributed.layer_context(layer_id)
    if top_k != spec.top_k:
        raise ValueError(f"top_k = {top_k} but expert-parallel layer {layer_id} was made with top_k = {spec.top_k}")
    got = check_inputs(x, w_router, w1, w3, w2, top_k, spec.scoring, spec.renormalize, spec.activation,
                       spec.capacity_factor, spec.fp32_math, num_local_experts=local)
    if got != spec:
        raise ValueError(f"these tensors make {got}, but expert-parallel layer {layer_id} was created as {spec}")
    ids, weights = _routing_buffers(x if return_routing else x[:0], top_k)
    out = torch.empty_like(x)
    num_tokens = x.shape[0]
    if num_tokens > ctx.max_tokens:
        raise ValueError(f"x has {num_tokens} tokens but the expert-parallel layer was made for at most "
                         f"{ctx.max_tokens} per rank (MoELayer(max_tokens=...))")
    ctx.run(num_tokens, x.data_ptr() if num_tokens else 0, w_router.data_ptr(), w1.data_ptr(),
            0 if w3 is None else w3.data_ptr(), w2.data_ptr(), out.data_ptr() if num_tokens else 0,
            ids.data_ptr() if return_routing and num_tokens else 0,
            weights.data_ptr() if return_routing and num_tokens else 0, _stream(x))
    return out, ids, weights


@moe_forward_ep.register_fake
def _moe_forward_ep_fake(x, w_router, w1, w3, w2, top_k, layer_id, return_routing=False):
    ids, weights = _routing_buffers(x if return_routing else x[:0], top_k)
    return torch.empty_like(x), ids, weights


def _refuse_backward(ctx, *grads):
    raise RuntimeError(_NO_BACKWARD)


def _no_saved_state(ctx, inputs, output):
    pass


for _op in (moe_forward, moe_forward_routed, moe_forward_prerouted, moe_forward_ep):
    _op.register_autograd(_refuse_backward, setup_context=_no_saved_state)
