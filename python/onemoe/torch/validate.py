"""Argument checks of the ops and the layer. They read only shapes, dtypes and devices, so they run before any
CUDA call (and on fake tensors while torch.compile traces)."""
from dataclasses import dataclass
from typing import Optional

import torch

from .._native import _C

DTYPE_NAMES = {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32"}
SCORINGS = ("softmax", "sigmoid")
ACTIVATIONS = ("relu", "gelu", "silu")
FP32_MATHS = ("tf32", "ffma")


@dataclass(frozen=True)
class LayerSpec:
    """Shape (without T) and config of one layer: the key of its Contexts."""
    num_experts: int
    top_k: int
    hidden: int
    intermediate: int
    dtype: str
    scoring: str
    renormalize: bool
    activation: str
    gated: bool
    capacity_factor: float
    fp32_math: str
    routing: str = "topk"  # or "pre-routed": the op's caller gives the top-k ids and weights

    def shape(self, num_tokens: int) -> "_C.MoeShape":
        return _C.MoeShape(num_tokens, self.num_experts, self.top_k, self.hidden, self.intermediate)

    def config(self) -> "_C.MoeConfig":
        return _C.MoeConfig(dtype=self.dtype, scoring=self.scoring, renormalize=self.renormalize,
                            activation=self.activation, gated=self.gated, capacity_factor=self.capacity_factor,
                            fp32_math=self.fp32_math, routing=self.routing)


def dtype_name(dtype: torch.dtype) -> str:
    if dtype not in DTYPE_NAMES:
        raise TypeError(f"onemoe runs bfloat16, float16 and float32 tensors, not {dtype}")
    return DTYPE_NAMES[dtype]


def check_choice(what: str, value: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_spec(spec: LayerSpec, num_tokens: int = 1) -> LayerSpec:
    """The library's own verdict on the shape and config (pure host code: k > E, H or I not a multiple of 64...)."""
    check_choice("scoring", spec.scoring, SCORINGS)
    check_choice("activation", spec.activation, ACTIVATIONS)
    check_choice("fp32_math", spec.fp32_math, FP32_MATHS)
    status, message = _C.can_implement(spec.shape(max(num_tokens, 1)), spec.config())
    if status == "invalid argument":
        raise ValueError(message)
    if status != "success":
        raise NotImplementedError(f"onemoe cannot run this layer: {message}")
    return spec


def _expect_shape(name: str, t: torch.Tensor, shape, meaning: str):
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must be {meaning} = {list(shape)}, got {list(t.shape)}")


def check_inputs(x: torch.Tensor, w_router: torch.Tensor, w1: torch.Tensor, w3: Optional[torch.Tensor],
                 w2: torch.Tensor, top_k: int, scoring: str, renormalize: bool, activation: str,
                 capacity_factor: float, fp32_math: str, num_local_experts: Optional[int] = None,
                 real: bool = True) -> LayerSpec:
    """Checks one forward's tensors and returns the layer's spec. real=False (fake or meta tensors, while
    tracing) skips what needs memory (alignment) and accepts the meta device."""
    if x.dim() != 2:
        raise ValueError(f"x must be [T, H] (2-D; MoELayer flattens [..., H]), got shape {list(x.shape)}")
    if w_router.dim() != 2:
        raise ValueError(f"w_router must be [E, H], got shape {list(w_router.shape)}")
    num_experts, hidden = w_router.shape
    if w1.dim() != 3:
        raise ValueError(f"w1 must be [E, I, H], got shape {list(w1.shape)}")
    intermediate = w1.shape[1]
    experts_here, e_name = (num_experts, "E") if num_local_experts is None else (num_local_experts, "E_local")
    _expect_shape("x", x, (x.shape[0], hidden), "[T, H] with H from w_router")
    _expect_shape("w1", w1, (experts_here, intermediate, hidden), f"[{e_name}, I, H]")
    _expect_shape("w2", w2, (experts_here, hidden, intermediate), f"[{e_name}, H, I]")
    if w3 is not None:
        _expect_shape("w3", w3, tuple(w1.shape), "w1's shape (the gated FFN's up projection)")
    name = dtype_name(x.dtype)
    for wname, w in (("w_router", w_router), ("w1", w1), ("w3", w3), ("w2", w2)):
        if w is not None and w.dtype != x.dtype:
            raise TypeError(f"{wname} is {w.dtype} but x is {x.dtype}: every tensor of the layer has one dtype")
    spec = check_spec(LayerSpec(int(num_experts), int(top_k), int(hidden), int(intermediate), name, scoring,
                                bool(renormalize), activation, w3 is not None, float(capacity_factor), fp32_math),
                      int(x.shape[0]) if real else 1)
    _check_placement(x, [("x", x), ("w_router", w_router), ("w1", w1), ("w3", w3), ("w2", w2)], real)
    return spec


def _check_placement(x: torch.Tensor, tensors, real: bool, align: int = 16) -> None:
    """Contiguous, on x's device, a CUDA device (or meta while tracing), and aligned (real tensors only)."""
    for tname, t in tensors:
        if t is None:
            continue
        if not t.is_contiguous():
            raise ValueError(f"{tname} must be contiguous (row-major, innermost dimension last); call "
                             f".contiguous() once on weights")
        if t.device != x.device:
            raise ValueError(f"{tname} is on {t.device} but x is on {x.device}: all tensors on one GPU")
    if x.device.type != "cuda" and (real or x.device.type != "meta"):
        raise ValueError(f"onemoe runs on CUDA tensors; x is on {x.device} (move the layer and the input to a GPU)")
    if real:
        for tname, t in tensors:
            if t is not None and t.numel() > 0 and t.data_ptr() % align != 0:
                raise ValueError(f"{tname} is not {align}-byte aligned (a view that starts inside a tensor?)")



def check_prerouted_inputs(x: torch.Tensor, w1: torch.Tensor, w3: Optional[torch.Tensor], w2: torch.Tensor,
                           topk_ids: torch.Tensor, topk_weights: torch.Tensor, activation: str,
                           capacity_factor: float, fp32_math: str, real: bool = True) -> LayerSpec:
    """check_inputs for the pre-routed op: E from w1, k from topk_ids, no router. The ids' values (in [0, E),
    distinct within a token) are checked on the GPU: a bad one raises OnemoeError at the next sync."""
    if x.dim() != 2:
        raise ValueError(f"x must be [T, H] (2-D), got shape {list(x.shape)}")
    if w1.dim() != 3:
        raise ValueError(f"w1 must be [E, I, H], got shape {list(w1.shape)}")
    num_experts, intermediate, hidden = w1.shape
    _expect_shape("x", x, (x.shape[0], hidden), "[T, H] with H from w1")
    _expect_shape("w2", w2, (num_experts, hidden, intermediate), "[E, H, I]")
    if w3 is not None:
        _expect_shape("w3", w3, tuple(w1.shape), "w1's shape (the gated FFN's up projection)")
    if topk_ids.dim() != 2:
        raise ValueError(f"topk_ids must be [T, k], got shape {list(topk_ids.shape)}")
    _expect_shape("topk_ids", topk_ids, (x.shape[0], topk_ids.shape[1]), "[T, k] with T from x")
    _expect_shape("topk_weights", topk_weights, tuple(topk_ids.shape), "topk_ids' shape [T, k]")
    name = dtype_name(x.dtype)
    for wname, w in (("w1", w1), ("w3", w3), ("w2", w2)):
        if w is not None and w.dtype != x.dtype:
            raise TypeError(f"{wname} is {w.dtype} but x is {x.dtype}: every tensor of the layer has one dtype")
    if topk_ids.dtype != torch.int32:
        raise TypeError(f"topk_ids must be torch.int32, got {topk_ids.dtype}")
    if topk_weights.dtype != torch.float32:
        raise TypeError(f"topk_weights must be torch.float32, got {topk_weights.dtype}")
    spec = check_spec(LayerSpec(int(num_experts), int(topk_ids.shape[1]), int(hidden), int(intermediate), name,
                                "softmax", True, activation, w3 is not None, float(capacity_factor), fp32_math,
                                "pre-routed"),
                      int(x.shape[0]) if real else 1)
    _check_placement(x, [("x", x), ("w1", w1), ("w3", w3), ("w2", w2)], real)
    _check_placement(x, [("topk_ids", topk_ids), ("topk_weights", topk_weights)], real, align=4)
    return spec
