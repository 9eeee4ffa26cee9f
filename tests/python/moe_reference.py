"""An fp64 PyTorch model of the MoE layer (the semantics of include/onemoe/onemoe.h), for the GPU tests.

It is written from the spec, not from the package: scores in fp64, the top-k, weights, capacity dropping in
token order, the FFN and the combine. Routing is checked rather than copied: check_routing() accepts the
kernel's expert set for a token only where it is a top-k of the fp64 scores up to a rounding margin, and
forward() then evaluates the FFN on that set, so a near-tie that fp32 resolved the other way cannot fail the
test while a wrong selection still does.
"""
import math

import torch
import torch.nn.functional as F

ACT = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}
TOLERANCE = {torch.bfloat16: 1e-2, torch.float16: 1e-2, torch.float32: 5e-3}  # relative L2, reference/compare.h
# How far (relative to a token's top score) a kernel's choice may sit below an unchosen expert: fp32 router logits
# from bf16/fp16 inputs are exact to ~1e-6; an fp32 layer's router GEMM runs in TF32 (~1e-3).
ROUTER_MARGIN = {torch.bfloat16: 1e-4, torch.float16: 1e-4, torch.float32: 2e-2}
WEIGHT_ATOL = {torch.bfloat16: 2e-3, torch.float16: 2e-3, torch.float32: 2e-2}


def scores(x, w_router, scoring):
    logits = x.double() @ w_router.double().t()
    return torch.softmax(logits, dim=-1) if scoring == "softmax" else torch.sigmoid(logits)


def check_routing(ids, s, top_k, margin=1e-4):
    """ids [T, k] from the kernel. Each token's set must hold k distinct experts in ascending order, and every
    chosen score must be at least every unchosen score minus margin (relative to the token's top score)."""
    ids = ids.long()
    assert ids.shape[1] == top_k
    assert bool((ids[:, 1:] > ids[:, :-1]).all()), "expert ids not ascending within a token"
    chosen = torch.zeros_like(s, dtype=torch.bool).scatter_(1, ids, True)
    low = s.masked_fill(~chosen, math.inf).min(dim=1).values
    high = s.masked_fill(chosen, -math.inf).max(dim=1).values
    scale = s.max(dim=1).values
    bad = (high - low) > margin * scale
    assert not bool(bad.any()), f"{int(bad.sum())} tokens routed to experts outside their top-{top_k}"
    return ids


def forward(x, w_router, w1, w3, w2, ids, scoring="softmax", renormalize=True, activation="gelu",
            capacity_factor=0.0):
    """fp64 output [T, H] for the given (checked) expert sets, and the expected combine weights [T, k]."""
    T, k = ids.shape
    E = w_router.shape[0]
    s = scores(x, w_router, scoring)
    w = s.gather(1, ids)
    if renormalize:
        w = w / w.sum(dim=1, keepdim=True)
    if capacity_factor > 0:
        cap = math.ceil(float(torch.tensor(capacity_factor, dtype=torch.float32)) * T * k / E)
        onehot = torch.zeros(T, E, dtype=torch.int64, device=x.device).scatter_(1, ids, 1)
        row = (onehot.cumsum(dim=0) - 1).gather(1, ids)  # each slot's row within its expert, tokens in order
        w = torch.where(row < cap, w, torch.zeros_like(w))
    xd = x.double()
    out = torch.zeros(T, x.shape[1], dtype=torch.float64, device=x.device)
    act = ACT[activation]
    for e in range(E):
        tok, slot = (ids == e).nonzero(as_tuple=True)
        if tok.numel() == 0:
            continue
        h = act(xd[tok] @ w1[e].double().t())
        if w3 is not None:
            h = h * (xd[tok] @ w3[e].double().t())
        out.index_add_(0, tok, (h @ w2[e].double().t()) * w[tok, slot].unsqueeze(1))
    return out, w


def rel_l2(got, ref):
    got, ref = got.double(), ref.double()
    return float((got - ref).norm() / ref.norm().clamp_min(1e-30))
