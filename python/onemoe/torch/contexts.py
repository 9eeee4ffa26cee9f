"""The Contexts behind the single-GPU op: one per (layer, device, max T).

A Context owns the plan and a workspace sized for its max T. A forward uses the smallest cached Context of its
layer and device whose max T is at least its T; a larger T makes a new one (max T rounded up to a power of two,
so a growing batch makes few). Older Contexts are kept, because a captured CUDA graph may still point into
their workspace; clear_contexts() frees them when no graph needs them.

A layer's Contexts are not shared between layers, so layers may run on different streams. One layer's forwards
must not run concurrently on two streams (they would share the workspace).
"""
import threading
from typing import Dict, List, Optional, Tuple

import torch

from .._native import _C
from .validate import LayerSpec

_lock = threading.Lock()
_contexts: Dict[Tuple[int, int, LayerSpec], List["_C.Context"]] = {}


def _next_power_of_two(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def context_for(layer_id: int, device: torch.device, spec: LayerSpec, num_tokens: int) -> "_C.Context":
    index = device.index if device.index is not None else torch.cuda.current_device()
    key = (layer_id, index, spec)
    with _lock:
        fitting = [c for c in _contexts.get(key, []) if c.max_tokens >= num_tokens]
        if fitting:
            return min(fitting, key=lambda c: c.max_tokens)
        if torch.cuda.is_current_stream_capturing():
            raise RuntimeError(
                f"onemoe: layer {layer_id} has no Context for T={num_tokens} on cuda:{index} and one cannot be made "
                "while a CUDA graph is being captured (it allocates): run one eager forward with this T first "
                "(the warm-up torch.cuda.graph expects)")
        ctx = _C.Context(spec.shape(_next_power_of_two(num_tokens)), spec.config(), index)
        _contexts.setdefault(key, []).append(ctx)
        return ctx


def clear_contexts(layer_id: Optional[int] = None) -> None:
    """Frees the cached Contexts of one layer (MoELayer.layer_id), or of every layer. Graphs captured with
    them must not be replayed afterwards."""
    with _lock:
        for key in [k for k in _contexts if layer_id is None or k[0] == layer_id]:
            del _contexts[key]


def cached_contexts(layer_id: int) -> List[Tuple[int, int]]:
    """(device, max T) of each cached Context of a layer, for tests and diagnostics."""
    with _lock:
        return sorted((k[1], c.max_tokens) for k, v in _contexts.items() if k[0] == layer_id for c in v)


def check_device_errors(layer_id: Optional[int] = None) -> None:
    """Waits for the current stream and raises onemoe.OnemoeError if a forward of a cached Context (one layer's, or
    every layer's) failed on the GPU since the last check: a wait that passed its bound, or a pre-routed expert
    id outside [0, E). The ops never synchronize, so this is where such a failure is seen."""
    with _lock:
        items = [(k[1], c) for k, v in _contexts.items() if layer_id is None or k[0] == layer_id for c in v]
    for device, ctx in items:
        ctx.synchronize_and_check(torch.cuda.current_stream(device).cuda_stream)
