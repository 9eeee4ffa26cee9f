# torch.compile and CUDA graphs: no graph break at the op, the eager output, and bitwise replays with new inputs.
import pytest
import torch

from onemoe.torch import MoELayer

pytestmark = pytest.mark.gpu
H = 1024


class TwoLayers(torch.nn.Module):
    """Two MoE layers with a residual and an RMS norm between them, as in a decoder."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = MoELayer(H, 512, 32, 4, gated=True, activation="silu", device="cuda")
        self.b = MoELayer(H, 1024, 8, 2, device="cuda")

    def forward(self, x):
        h = x + self.a(x)
        norm = torch.rsqrt(h.float().pow(2).mean(-1, keepdim=True) + 1e-6)  # an RMS norm in plain aten ops
        return h + self.b((h.float() * norm).to(h.dtype))


def test_compile_has_no_graph_break_and_gives_the_eager_output():
    model = TwoLayers()
    x = torch.randn(3, 700, H, device="cuda", dtype=torch.bfloat16)
    eager = model(x)
    explanation = torch._dynamo.explain(model)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1
    torch._dynamo.reset()
    # Dynamo's graph run as captured (aten ops as in eager): the same kernels, so the same bits.
    assert torch.equal(torch.compile(model, backend="aot_eager", fullgraph=True)(x), eager)
    torch._dynamo.reset()
    # Inductor fuses the residual and the norm into its own kernels: equal up to their rounding.
    compiled = torch.compile(model, fullgraph=True)(x)
    assert (compiled.float() - eager.float()).norm() / eager.float().norm() < 1e-2


def test_cuda_graph_replay_with_new_inputs_equals_eager_bitwise():
    model = TwoLayers()
    static_x = torch.randn(1024, H, device="cuda", dtype=torch.bfloat16)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside capture: makes the layers' Contexts
        model(static_x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_y = model(static_x)
    for seed in range(5):
        torch.manual_seed(100 + seed)
        x = torch.randn(1024, H, device="cuda", dtype=torch.bfloat16)
        static_x.copy_(x)
        graph.replay()
        assert torch.equal(static_y, model(x)), f"replay {seed} differs from eager"


def test_capture_without_a_context_for_that_t_says_what_to_do():
    layer = MoELayer(H, 512, 8, 2, device="cuda")
    x = torch.randn(96, H, device="cuda", dtype=torch.bfloat16)
    graph = torch.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="run one eager forward with this T first"):
        with torch.cuda.graph(graph):
            layer(x)
