# Agreement with Hugging Face transformers' Mixtral, Qwen3 and OLMoE MoE blocks (random weights from their
# configs) at bf16 tolerance. The kernel computes router logits in fp32 from bf16 inputs; HF rounds them to bf16 first, so a
# token whose top-k is a near-tie may pick another expert there. Such tokens must be rare and near-ties; every
# other token must agree.
import copy

import pytest
import torch

import moe_reference as ref
from hf_blocks import hf_routing, make_block
from onemoe.torch import MoELayer, moe_forward_routed

pytestmark = pytest.mark.gpu
transformers = pytest.importorskip("transformers")

T = 2048


def onemoe_routed(layer, x):
    return moe_forward_routed(x, layer.w_router, layer.w1, layer.w3, layer.w2, layer.top_k, layer.scoring,
                              layer.renormalize, layer.activation, layer.capacity_factor, "tf32", layer.layer_id)


def compare(block, layer, x, max_flipped, tolerance):
    """x is bf16 (what onemoe runs); the block gets it in its own dtype."""
    out, ids, _ = onemoe_routed(layer, x)
    dtype = next(block.parameters()).dtype
    with torch.no_grad():
        want = block(x.to(dtype).unsqueeze(0)).squeeze(0)
        hf_ids = hf_routing(block, x.to(dtype))
    same = (hf_ids == ids.long()).all(dim=1)
    flipped = int((~same).sum())
    assert flipped <= max_flipped * T, f"{flipped} of {T} tokens routed differently from HF ({dtype})"
    if flipped:  # each must be a near-tie of the fp64 scores, both ways
        s = ref.scores(x, layer.w_router, "softmax")[~same]
        ref.check_routing(ids[~same], s, layer.top_k, margin=2e-2)
        ref.check_routing(hf_ids[~same], s, layer.top_k, margin=2e-2)
    err = ref.rel_l2(out[same], want[same])
    print(f"[hf agreement] {type(block).__name__} {dtype}: relative L2 {err:.2e} on {int(same.sum())} tokens, "
          f"{flipped} of {T} routed differently (near-ties)")
    assert err <= tolerance, f"relative L2 {err:.2e} against HF ({dtype}) on the {int(same.sum())} tokens routed alike"


@pytest.mark.parametrize("name", ["mixtral-8x7b", "qwen3-30b-a3b"])
def test_matches_the_hf_block_in_bf16_and_fp32(name):
    block = make_block(name)
    layer = MoELayer.from_hf(block)
    x = torch.randn(T, layer.hidden, device="cuda").to(torch.bfloat16)
    # Against HF in bf16 both sides carry bf16 rounding (HF's also between its GEMMs and in its bf16 sum over the
    # k experts), so the bound is twice the bf16 tolerance.
    compare(block, layer, x, max_flipped=0.05, tolerance=2e-2)
    # HF in fp32 on the same bf16 values is the accurate model: the bf16 tolerance itself. Its router sees the
    # logits the kernel sees, up to summation order, so next to no token may route differently.
    block32 = copy.deepcopy(block).float()
    compare(block32, layer, x, max_flipped=0.005, tolerance=1e-2)


@pytest.mark.parametrize("name,overrides", [("qwen3-30b-a3b", dict(norm_topk_prob=False, hidden_size=1024,
                                                                                num_experts=64)),
                                            ("olmoe-1b-7b", {})])
def test_blocks_without_renormalization(name, overrides):
    block = make_block(name, **overrides)
    layer = MoELayer.from_hf(block)
    assert not layer.renormalize
    x = torch.randn(T, layer.hidden, device="cuda").to(torch.bfloat16)
    compare(block, layer, x, max_flipped=0.05, tolerance=2e-2)
    compare(copy.deepcopy(block).float(), layer, x, max_flipped=0.005, tolerance=1e-2)


def test_weights_are_shared_where_the_layouts_agree():
    block = make_block("mixtral-8x7b", hidden_size=1024, intermediate_size=1024)
    layer = MoELayer.from_hf(block)
    assert layer.w_router.data_ptr() == block.gate.weight.data_ptr()
    assert layer.w2.data_ptr() == block.experts.down_proj.data_ptr()


def test_qwen2_moe_shared_expert_is_refused():
    block = transformers.models.qwen2_moe.modeling_qwen2_moe.Qwen2MoeSparseMoeBlock(
        transformers.Qwen2MoeConfig(hidden_size=512, moe_intermediate_size=256, shared_expert_intermediate_size=512,
                                    num_experts=8, num_experts_per_tok=2))
    with pytest.raises(NotImplementedError, match="shared expert"):
        MoELayer.from_hf(block)
