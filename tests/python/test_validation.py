# Argument validation with clear errors, before any CUDA call (runs without a GPU).
import pytest
import torch

import onemoe
from onemoe.torch import MoELayer, moe_forward

H, I, E, K = 256, 128, 8, 2


def weights(dtype=torch.bfloat16, device="cpu", gated=False):
    w1 = torch.randn(E, I, H, dtype=dtype, device=device)
    return (torch.randn(E, H, dtype=dtype, device=device), w1, torch.randn_like(w1) if gated else None,
            torch.randn(E, H, I, dtype=dtype, device=device))


def test_cpu_tensor_is_refused():
    x = torch.randn(16, H, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="CUDA tensors; x is on cpu"):
        moe_forward(x, *weights(), K)
    with pytest.raises(ValueError, match="CUDA tensors"):
        MoELayer(H, I, E, K)(x)


def test_wrong_dtype_is_refused():
    with pytest.raises(TypeError, match="bfloat16, float16 and float32.*not torch.float64"):
        moe_forward(torch.randn(16, H, dtype=torch.float64), *weights(torch.float64), K)
    wr, w1, w3, w2 = weights()
    with pytest.raises(TypeError, match="w2 is torch.float16 but x is torch.bfloat16"):
        moe_forward(torch.randn(16, H, dtype=torch.bfloat16), wr, w1, w3, w2.half(), K)
    with pytest.raises(TypeError, match="x is torch.float32 but the layer's weights are torch.bfloat16"):
        MoELayer(H, I, E, K)(torch.randn(4, H))
    with pytest.raises(TypeError, match="not torch.int8"):
        MoELayer(H, I, E, K, dtype=torch.int8)


def test_wrong_shape_is_refused():
    wr, w1, w3, w2 = weights()
    x = torch.randn(16, H, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match=r"x must be \[T, H\] with H from w_router = \[16, 256\], got \[16, 192\]"):
        moe_forward(x[:, :192].contiguous(), wr, w1, w3, w2, K)
    with pytest.raises(ValueError, match=r"x must be \[T, H\] \(2-D"):
        moe_forward(x.reshape(2, 8, H), wr, w1, w3, w2, K)
    with pytest.raises(ValueError, match=r"w2 must be \[E, H, I\] = \[8, 256, 128\], got \[8, 128, 256\]"):
        moe_forward(x, wr, w1, w3, w2.transpose(1, 2).contiguous(), K)
    with pytest.raises(ValueError, match=r"w3 must be w1's shape"):
        moe_forward(x, wr, w1, w1[:4].contiguous(), w2, K)
    with pytest.raises(ValueError, match="w1 must be contiguous"):
        moe_forward(x, wr, w1.transpose(1, 2).contiguous().transpose(1, 2), w3, w2, K)
    with pytest.raises(ValueError, match=r"x must be \[\.\.\., H\] with H = 256"):
        MoELayer(H, I, E, K)(torch.randn(3, 4, 100, dtype=torch.bfloat16))


def test_k_above_e_is_refused():
    with pytest.raises(ValueError, match=r"top_k \(k\) = 9 exceeds num_experts \(E\) = 8"):
        MoELayer(H, I, E, 9)
    with pytest.raises(ValueError, match=r"top_k \(k\) = 9 exceeds num_experts \(E\) = 8"):
        moe_forward(torch.randn(16, H, dtype=torch.bfloat16), *weights(), 9)


def test_unsupported_shapes_and_configs_say_why():
    with pytest.raises(NotImplementedError, match=r"hidden \(H\) = 200 is not a multiple of 64"):
        MoELayer(200, I, E, K)
    with pytest.raises(NotImplementedError, match=r"top_k \(k\) = 9 exceeds the supported 8"):
        MoELayer(H, I, 16, 9)
    with pytest.raises(ValueError, match="activation must be one of relu, gelu, silu, got 'tanh'"):
        MoELayer(H, I, E, K, activation="tanh")
    with pytest.raises(ValueError, match="scoring must be one of softmax, sigmoid"):
        MoELayer(H, I, E, K, scoring="sparsemax")
    with pytest.raises(ValueError, match="max_tokens is for expert-parallel layers"):
        MoELayer(H, I, E, K, max_tokens=128)


def test_host_api_without_gpu():
    status, message = onemoe.can_implement(onemoe.MoeShape(128, 4, 8, 1024, 1024), onemoe.MoeConfig())
    assert status == "invalid argument" and "exceeds num_experts" in message
    assert onemoe.can_implement(onemoe.MoeShape(128, 8, 2, 1024, 1024), onemoe.MoeConfig(gated=True)) == ("success", "")
    with pytest.raises(ValueError, match="dtype must be one of bf16, fp16, fp32"):
        onemoe.MoeConfig(dtype="int4")
    assert onemoe.nccl_built_version().count(".") == 2


def test_prerouted_inputs_are_checked():
    from onemoe.torch import moe_forward_prerouted
    _, w1, _, w2 = weights()
    x = torch.randn(16, H, dtype=torch.bfloat16)
    ids = torch.zeros(16, K, dtype=torch.int32)
    w = torch.ones(16, K)
    with pytest.raises(TypeError, match="topk_ids must be torch.int32, got torch.int64"):
        moe_forward_prerouted(x, w1, None, w2, ids.long(), w)
    with pytest.raises(TypeError, match="topk_weights must be torch.float32"):
        moe_forward_prerouted(x, w1, None, w2, ids, w.half())
    with pytest.raises(ValueError, match=r"topk_ids must be \[T, k\] with T from x"):
        moe_forward_prerouted(x, w1, None, w2, ids[:15], w[:15])
    with pytest.raises(ValueError, match="topk_weights must be topk_ids' shape"):
        moe_forward_prerouted(x, w1, None, w2, ids, w[:, :1])
    with pytest.raises(ValueError, match="exceeds num_experts"):
        moe_forward_prerouted(x, w1, None, w2, torch.zeros(16, E + 1, dtype=torch.int32), torch.ones(16, E + 1))
    with pytest.raises(ValueError, match="CUDA tensors; x is on cpu"):
        moe_forward_prerouted(x, w1, None, w2, ids, w)
