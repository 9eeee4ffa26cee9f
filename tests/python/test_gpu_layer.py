# The layer on a GPU against the fp64 model in moe_reference.py, on fresh random inputs (never zeros), with the
# output's memory poisoned (NaN) first.
import pytest
import torch

import moe_reference as ref
from onemoe.torch import MoELayer, clear_contexts, moe_forward_routed
from onemoe.torch.contexts import cached_contexts

pytestmark = pytest.mark.gpu


def random_layer(H, I, E, k, dtype, seed, **kw):
    torch.manual_seed(seed)
    layer = MoELayer(H, I, E, k, dtype=dtype, device="cuda", **kw)
    with torch.no_grad():  # weights ~ N(0, 1/fan_in): logits and activations of order 1
        for w in (layer.w_router, layer.w1, layer.w3, layer.w2):
            if w is not None:
                w.copy_(torch.randn_like(w, dtype=torch.float32) * w.shape[-1] ** -0.5)
    return layer


def poison_next_output(shape, dtype):
    # The caching allocator hands a freed block of the same size to the next allocation on this stream.
    torch.full(shape, float("nan"), dtype=dtype, device="cuda")


CASES = [
    # H, I, E, k, dtype, kwargs, T
    (1024, 512, 8, 2, torch.bfloat16, {}, 1000),
    (1024, 512, 64, 8, torch.bfloat16, dict(gated=True, activation="silu"), 777),
    (512, 1024, 16, 4, torch.float16, dict(activation="relu", renormalize=False), 300),
    (512, 512, 32, 2, torch.bfloat16, dict(scoring="sigmoid", gated=True, activation="gelu"), 129),
    (512, 512, 16, 2, torch.bfloat16, dict(capacity_factor=1.0), 2048),
    (512, 256, 8, 2, torch.float32, dict(fp32_math="tf32"), 200),
]


@pytest.mark.parametrize("H,I,E,k,dtype,kw,T", CASES)
def test_layer_matches_the_fp64_model(H, I, E, k, dtype, kw, T):
    layer = random_layer(H, I, E, k, dtype, seed=T, **kw)
    skew = torch.linspace(0.5, -0.5, H, device="cuda") if kw.get("capacity_factor") else 0
    x = (torch.randn(T, H, device="cuda") + skew).to(dtype)
    poison_next_output((T, H), dtype)
    first = layer(x)  # allocates only its output, so it gets the poisoned block
    torch.cuda.synchronize()
    assert not bool(first.isnan().any()), "the kernel left elements unwritten or produced NaN"
    out, ids, weights = moe_forward_routed(x, layer.w_router, layer.w1, layer.w3, layer.w2, k, layer.scoring,
                                           layer.renormalize, layer.activation, layer.capacity_factor,
                                           kw.get("fp32_math", "tf32"), layer.layer_id)
    assert torch.equal(out, first)
    s = ref.scores(x, layer.w_router, layer.scoring)
    checked = ref.check_routing(ids, s, k, margin=ref.ROUTER_MARGIN[dtype])
    want, want_w = ref.forward(x, layer.w_router, layer.w1, layer.w3, layer.w2, checked, layer.scoring,
                               layer.renormalize, layer.activation, layer.capacity_factor)
    assert ref.rel_l2(out, want) <= ref.TOLERANCE[dtype]
    assert torch.allclose(weights.double(), want_w, atol=ref.WEIGHT_ATOL[dtype], rtol=1e-2)
    if kw.get("capacity_factor"):
        assert int((weights == 0).sum()) > 0  # the case drops tokens: not vacuous
    # The layer gives the same output, through the other op, for [..., H].
    y, stats = layer(x.reshape(2, T // 2, H) if T % 2 == 0 else x, return_router_stats=True)
    assert torch.equal(y.reshape(T, H), out)
    assert stats.tokens_per_expert.tolist() == torch.bincount(checked.reshape(-1), minlength=E).tolist()
    assert int(stats.dropped) == int((weights == 0).sum())


def test_bitwise_run_to_run_and_empty_batch():
    layer = random_layer(1024, 1024, 32, 2, torch.bfloat16, seed=1)
    x = torch.randn(4096, 1024, device="cuda", dtype=torch.bfloat16)
    a, b = layer(x), layer(x)
    assert torch.equal(a, b)
    assert layer(x[:0]).shape == (0, 1024)


def test_contexts_grow_with_t_and_are_reused():
    layer = random_layer(512, 512, 8, 2, torch.bfloat16, seed=2)
    for T in (100, 128, 60, 300, 1000, 257):
        layer(torch.randn(T, 512, device="cuda", dtype=torch.bfloat16))
    assert cached_contexts(layer.layer_id) == [(torch.cuda.current_device(), t) for t in (128, 512, 1024)]
    clear_contexts(layer.layer_id)
    assert cached_contexts(layer.layer_id) == []


def test_backward_is_refused_with_a_clear_error():
    layer = random_layer(512, 512, 8, 2, torch.bfloat16, seed=3)
    x = torch.randn(64, 512, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    with pytest.raises(RuntimeError, match="forward-only"):
        layer(x).float().sum().backward()


@pytest.mark.parametrize("gated", [False, True])
def test_prerouted_equals_the_routed_forward_it_was_given(gated):
    from onemoe.torch import moe_forward_prerouted
    layer = random_layer(1024, 512, 32, 4, torch.bfloat16, seed=4, gated=gated,
                         activation="silu" if gated else "gelu")
    x = torch.randn(500, 1024, device="cuda", dtype=torch.bfloat16)
    out, ids, weights = moe_forward_routed(x, layer.w_router, layer.w1, layer.w3, layer.w2, 4,
                                           activation=layer.activation, layer_id=layer.layer_id)
    # Any order within a token: the op sorts them back into the combine order.
    again = moe_forward_prerouted(x, layer.w1, layer.w3, layer.w2, ids.flip(1).contiguous(),
                                  weights.flip(1).contiguous(), activation=layer.activation,
                                  layer_id=layer.layer_id)
    assert torch.equal(again, out)


def test_prerouted_bad_id_raises_at_sync():
    import onemoe
    from onemoe.torch import moe_forward_prerouted
    layer = random_layer(512, 512, 8, 2, torch.bfloat16, seed=5)
    x = torch.randn(64, 512, device="cuda", dtype=torch.bfloat16)
    ids = torch.stack([torch.arange(64) % 8, (torch.arange(64) + 3) % 8], 1).int().cuda()
    ids[10, 1] = 8  # outside 0..E-1
    weights = torch.full((64, 2), 0.5, device="cuda")
    moe_forward_prerouted(x, layer.w1, None, layer.w2, ids, weights, layer_id=layer.layer_id)
    with pytest.raises(onemoe.OnemoeError, match="token 10"):
        onemoe.torch.check_device_errors(layer.layer_id)
    onemoe.torch.check_device_errors(layer.layer_id)  # reported once; the context is usable again
