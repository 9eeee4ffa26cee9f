# Fake-tensor shape propagation: what torch.compile and torch.export see of the ops (runs without a GPU).
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from onemoe.torch import MoELayer, moe_forward, moe_forward_routed

H, I, E, K = 512, 256, 16, 4


class TwoLayers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = MoELayer(H, I, E, K, gated=True, activation="silu", device="cuda")
        self.b = MoELayer(H, I, E, 2, device="cuda", capacity_factor=1.25)

    def forward(self, x):
        return self.b(torch.nn.functional.rms_norm(self.a(x) + x, (H,)))


@pytest.mark.parametrize("lead", [(7,), (2, 33), (0,), (1, 1, 5)])
def test_layer_output_shape(lead):
    with FakeTensorMode():
        layer = MoELayer(H, I, E, K, gated=True, activation="silu", device="cuda")
        y = layer(torch.empty(*lead, H, dtype=torch.bfloat16, device="cuda"))
        assert y.shape == (*lead, H) and y.dtype == torch.bfloat16 and y.device.type == "cuda"
        y, stats = layer(torch.empty(*lead, H, dtype=torch.bfloat16, device="cuda"), return_router_stats=True)
        assert y.shape == (*lead, H)
        assert stats.tokens_per_expert.shape == (E,) and stats.tokens_per_expert.dtype == torch.int64
        assert stats.dropped.shape == () and stats.dropped.dtype == torch.int64


def test_routed_op_shapes():
    with FakeTensorMode():
        x = torch.empty(37, H, dtype=torch.float16, device="cuda")
        wr, w1, w2 = (torch.empty(s, dtype=torch.float16, device="cuda") for s in ((E, H), (E, I, H), (E, H, I)))
        out, ids, weights = moe_forward_routed(x, wr, w1, None, w2, K)
        assert out.shape == (37, H) and out.dtype == torch.float16
        assert ids.shape == (37, K) and ids.dtype == torch.int32
        assert weights.shape == (37, K) and weights.dtype == torch.float32


def test_fake_checks_shapes_too():
    with FakeTensorMode():
        x = torch.empty(37, H, dtype=torch.bfloat16, device="cuda")
        wr, w1, w2 = (torch.empty(s, dtype=torch.bfloat16, device="cuda") for s in ((E, H), (E, I, H), (E, I, H)))
        with pytest.raises(ValueError, match=r"w2 must be \[E, H, I\]"):
            moe_forward(x, wr, w1, None, w2, K)


def test_export_of_two_layers_keeps_both_ops_in_one_graph():
    # torch.export traces with dynamo as torch.compile does, whole-graph: a graph break would be an error.
    with FakeTensorMode(allow_non_fake_inputs=True):
        model = TwoLayers()
        x = torch.empty(4, 33, H, dtype=torch.bfloat16, device="cuda")
        exported = torch.export.export(model, (x,))
    calls = [str(n.target) for n in exported.graph.nodes if n.op == "call_function"]
    assert calls.count("onemoe.moe_forward.default") == 2, calls
    (out,) = [n for n in exported.graph.nodes if n.op == "output"][0].args[0]
    assert tuple(out.meta["val"].shape) == (4, 33, H)


def test_prerouted_op_shapes():
    from onemoe.torch import moe_forward_prerouted
    with FakeTensorMode():
        x = torch.empty(29, H, dtype=torch.bfloat16, device="cuda")
        w1, w3, w2 = (torch.empty(s, dtype=torch.bfloat16, device="cuda") for s in ((E, I, H), (E, I, H), (E, H, I)))
        ids = torch.empty(29, 3, dtype=torch.int32, device="cuda")
        weights = torch.empty(29, 3, dtype=torch.float32, device="cuda")
        out = moe_forward_prerouted(x, w1, w3, w2, ids, weights, activation="silu")
        assert out.shape == (29, H) and out.dtype == torch.bfloat16
