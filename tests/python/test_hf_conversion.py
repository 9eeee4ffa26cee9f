# MoELayer.from_hf on stand-ins with transformers 5's layout (runs without a GPU and without transformers):
# which weights are shared, which are copied, which routing, and the refusals.
import pytest
import torch
from torch import nn

from hf_stubs import block
from onemoe.torch import MoELayer


def test_mixtral_block_shares_router_and_down_projection():
    b = block("MixtralSparseMoeBlock", E=8, H=128, I=64, k=2)
    layer = MoELayer.from_hf(b)
    assert (layer.num_experts, layer.top_k, layer.hidden, layer.intermediate) == (8, 2, 128, 64)
    assert layer.gated and layer.activation == "silu" and layer.scoring == "softmax" and layer.renormalize
    assert layer.w_router.data_ptr() == b.gate.weight.data_ptr()
    assert layer.w2.data_ptr() == b.experts.down_proj.data_ptr()
    assert torch.equal(layer.w1, b.experts.gate_up_proj[:, :64]) and torch.equal(layer.w3, b.experts.gate_up_proj[:, 64:])
    assert layer.w1.is_contiguous() and layer.w3.is_contiguous()


@pytest.mark.parametrize("norm", [True, False])
def test_qwen3_block_renormalizes_as_norm_topk_prob_says(norm):
    layer = MoELayer.from_hf(block("Qwen3MoeSparseMoeBlock", E=16, k=4, norm=norm))
    assert layer.renormalize is norm and layer.top_k == 4


def test_shared_expert_is_refused():
    b = block("Qwen2MoeSparseMoeBlock")
    b.shared_expert = nn.Linear(128, 128, bias=False)
    with pytest.raises(NotImplementedError, match="cannot run Qwen2MoeSparseMoeBlock: it has a shared expert"):
        MoELayer.from_hf(b)


def test_grouped_and_biased_routing_and_biases_are_refused():
    b = block("Qwen3MoeSparseMoeBlock")
    b.gate.e_score_correction_bias = torch.zeros(8)
    with pytest.raises(NotImplementedError, match="biased routing"):
        MoELayer.from_hf(b)
    b = block("Qwen3MoeSparseMoeBlock")
    b.n_group, b.topk_group = 4, 2
    with pytest.raises(NotImplementedError, match="grouped routing"):
        MoELayer.from_hf(b)
    b = block("MixtralSparseMoeBlock")
    b.gate.bias = nn.Parameter(torch.zeros(8))
    with pytest.raises(NotImplementedError, match="a router bias"):
        MoELayer.from_hf(b)
    b = block("MixtralSparseMoeBlock")
    b.experts.has_bias = True
    with pytest.raises(NotImplementedError, match="expert biases"):
        MoELayer.from_hf(b)


def test_every_missing_feature_is_named():
    b = block("DeepseekV3MoE")
    b.shared_experts = nn.Linear(128, 128, bias=False)
    b.gate.e_score_correction_bias = torch.zeros(8)
    b.n_group, b.topk_group = 4, 2
    with pytest.raises(NotImplementedError, match="shared expert.*biased routing.*grouped routing"):
        MoELayer.from_hf(b)


def test_unknown_block_and_activation_are_refused():
    with pytest.raises(NotImplementedError, match="does not know DeepseekV3MoE"):
        MoELayer.from_hf(block("DeepseekV3MoE"))
    with pytest.raises(NotImplementedError, match="activation 'gelu_pytorch_tanh'"):
        MoELayer.from_hf(block("MixtralSparseMoeBlock", act="gelu_pytorch_tanh"))
