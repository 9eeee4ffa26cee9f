"""Minimal stand-ins for transformers' MoE blocks, with their class names and attributes (transformers 5
layout), so from_hf's checks run without transformers installed. The GPU tests use the real classes."""
from types import SimpleNamespace

import torch
from torch import nn


def _experts(E, H, I, act="silu", dtype=torch.bfloat16):
    experts = nn.Module()
    experts.gate_up_proj = nn.Parameter(torch.randn(E, 2 * I, H, dtype=dtype))
    experts.down_proj = nn.Parameter(torch.randn(E, H, I, dtype=dtype))
    experts.config = SimpleNamespace(hidden_act=act)
    experts.has_bias = False
    experts.is_transposed = False
    return experts


def _router(E, H, k, dtype=torch.bfloat16, norm=None):
    gate = nn.Module()
    gate.weight = nn.Parameter(torch.randn(E, H, dtype=dtype))
    gate.top_k = k
    if norm is not None:
        gate.norm_topk_prob = norm
    return gate


def block(class_name, E=8, H=128, I=64, k=2, act="silu", norm=True):
    cls = type(class_name, (nn.Module,), {})
    b = cls()
    b.gate = _router(E, H, k, norm=None if class_name.startswith("Mixtral") else norm)
    b.experts = _experts(E, H, I, act)
    return b
