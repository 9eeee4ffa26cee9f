#!/usr/bin/env python3
"""The PyTorch speed table: onemoe's MoELayer against the Hugging Face block and the plain-PyTorch grouped peer,
each eager and replayed from a CUDA graph, on one layer of Mixtral-8x7B and of Qwen3-30B-A3B (random weights
from their configs), all in one run on one GPU.

Implementations (rows' "impl"):
  onemoe            MoELayer.from_hf(block): the fused kernel, one launch
  hf-eager          the transformers block, experts_implementation="eager" (its per-expert loop; it reads
                    the routed experts back to the host, so it cannot be captured in a CUDA graph: that
                    row says so)
  hf-grouped_mm     the same block with experts_implementation="grouped_mm" (torch._grouped_mm)
  peer-torch-grouped  ../shared/bench/torch_grouped_moe.py's layer (path from --peer-script or PEER_SCRIPT),
                    the faster of its two weight layouts
Every row is checked against that script's fp32 reference (same routing: fp32 softmax, top-k, renormalize):
`wrong` counts elements with |out - ref| > 1e-2 * rms(ref) + 2e-2 * |ref| on the tokens whose experts equal the
reference's; `tokens_routed_differently` counts the others (near-ties: HF rounds router logits to bf16).
Times: the peer script's own timer (CUDA events, median of --iters after --warmup, no L2 flush).

  PEER_SCRIPT=/work/shared/bench/torch_grouped_moe.py python3 bench/torch/torch_layer_bench.py --json out.json
"""
import argparse
import datetime
import importlib.util
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "python"))
from hf_blocks import CONFIGS, hf_routing, make_block  # noqa: E402

from onemoe.torch import MoELayer, clear_contexts, moe_forward_routed  # noqa: E402


def load_peer(path):
    if not path or not os.path.exists(path):
        raise SystemExit(f"peer script not found: {path!r} (pass --peer-script or set PEER_SCRIPT)")
    spec = importlib.util.spec_from_file_location("torch_grouped_moe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kernels_per_forward(fn):
    """Kernel launches of one forward, counted by the profiler (None where it cannot count)."""
    try:
        from torch.profiler import ProfilerActivity, profile
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA and
                   not e.name.startswith(("Memcpy", "Memset")))
    except Exception:  # noqa: BLE001  (no CUPTI: say nothing rather than guess)
        return None


def timed(peer, fn, warmup, iters, graph):
    """(median ms, None), or (None, why) when the forward cannot run that way (e.g. no CUDA-graph capture)."""
    try:
        return peer.time_ms(fn, warmup, iters, graph), None
    except Exception as err:  # noqa: BLE001
        torch.cuda.synchronize()
        return None, f"{'CUDA-graph capture' if graph else 'run'} failed: {str(err).splitlines()[0][:160]}"


def with_time(row, ms, why, flop):
    if ms is None:
        return dict(row, ms=None, tflops=None, notes=row["notes"] + "; " + why)
    return dict(row, ms=round(ms, 4), tflops=round(flop / ms / 1e9, 1))


def count_wrong(out, ref, same):
    out, ref = out[same].float(), ref[same]
    tol = 1e-2 * ref.pow(2).mean().sqrt() + 2e-2 * ref.abs()
    return int(((out - ref).abs() > tol).sum()) + int(out.isnan().sum())


def write_json(path, rows, complete):
    if not path:
        return
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    doc = dict(tool="torch_layer_bench.py", command="python3 " + " ".join(sys.argv),
               commit=commit or os.environ.get("ONEMOE_COMMIT", ""),
               date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               gpu=torch.cuda.get_device_name(), gpus=1, torch=torch.__version__, complete=complete, rows=rows)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="mixtral-8x7b,qwen3-30b-a3b", help="comma-separated, of: " + ", ".join(CONFIGS))
    ap.add_argument("-T", "--tokens", type=int, nargs="+", default=[128, 4096, 16384])
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--peer-script", default=os.environ.get("PEER_SCRIPT"))
    ap.add_argument("--json", help="write the rows in the format of bench/results (RESULTS.md)")
    a = ap.parse_args()
    peer = load_peer(a.peer_script)
    rows, uncapturable = [], []
    for name in a.configs.split(","):
        block = make_block(name)
        grouped = make_block(name, experts_implementation="grouped_mm")
        grouped.load_state_dict(block.state_dict())
        layer = MoELayer.from_hf(block)
        E, k, H, I = layer.num_experts, layer.top_k, layer.hidden, layer.intermediate
        wr32 = block.gate.weight.float()
        gate_up, down = block.experts.gate_up_proj.detach(), block.experts.down_proj.detach()
        peer_layouts = {"nk": (gate_up.transpose(1, 2), down.transpose(1, 2)),
                        "kn": (gate_up.transpose(1, 2).contiguous(), down.transpose(1, 2).contiguous())}
        for T in a.tokens:
            torch.manual_seed(T)
            x = torch.randn(T, H, device="cuda").to(torch.bfloat16)
            x3 = x.unsqueeze(0)
            topw, topi = peer.route(x, wr32, k)
            ref = peer.reference(x, gate_up, down, topw, topi, True)
            ref_ids = topi.sort(dim=1).values
            common = dict(dtype="bf16", T=T, E=E, k=k, H=H, I=I, ranks=1, gated=True, activation="silu", model=name)
            flop = 2 * T * k * H * I * 3 + 2 * T * H * E

            def onemoe_fwd():
                return layer(x)

            def routed_ids_onemoe():
                return moe_forward_routed(x, layer.w_router, layer.w1, layer.w3, layer.w2, k, "softmax",
                                          layer.renormalize, "silu", 0.0, "tf32", layer.layer_id)[1].long()

            # Default arguments bind this T's tensors: the hf-eager graph row runs after the loop.
            impls = [("onemoe", onemoe_fwd, routed_ids_onemoe, "MoELayer.from_hf(block)"),
                     ("hf-eager", lambda b=block, x3=x3: b(x3), lambda b=block, x=x: hf_routing(b, x),
                      "experts_implementation=eager"),
                     ("hf-grouped_mm", lambda b=grouped, x3=x3: b(x3), lambda b=grouped, x=x: hf_routing(b, x),
                      "experts_implementation=grouped_mm")]
            for impl, fn, ids_fn, note in impls:
                with torch.no_grad():
                    out = fn().reshape(T, H)
                    same = (ids_fn() == ref_ids).all(dim=1)
                    wrong = count_wrong(out, ref, same)
                    launches = kernels_per_forward(fn)
                    for mode in ("eager", "graph"):
                        row = dict(common, impl=impl, mode=mode, wrong=wrong, launches_per_forward=launches,
                                   tokens_routed_differently=int((~same).sum()), notes=note)
                        if impl == "hf-eager" and mode == "graph":
                            uncapturable.append((row, fn, flop))  # tried last: a failed capture must not touch the rest
                            continue
                        ms, why = timed(peer, fn, a.warmup, a.iters, mode == "graph")
                        rows.append(with_time(row, ms, why, flop))
                        print(f"{name:14} T={T:6} {impl:18} {mode:5} {ms or float('nan'):9.4f} ms  wrong={wrong}"
                              f"{'  ' + why if why else ''}", flush=True)
            best = {}  # mode -> (ms, layout, forward): the faster weight layout, as the peer script reports
            for lname, (b1, b2) in peer_layouts.items():
                fwd = peer.make_layer(b1, b2, wr32, E, k, True)
                for mode in ("eager", "graph"):
                    ms = peer.time_ms(lambda: fwd(x), a.warmup, a.iters, mode == "graph")
                    if mode not in best or ms < best[mode][0]:
                        best[mode] = (ms, lname, fwd)
            for mode, (ms, lname, fwd) in best.items():
                out = fwd(x)
                same = torch.ones(T, dtype=torch.bool, device="cuda")  # its routing is the reference's
                rows.append(dict(common, impl="peer-torch-grouped", mode=mode, ms=round(ms, 4),
                                 tflops=round(flop / ms / 1e9, 1), wrong=count_wrong(out, ref, same),
                                 launches_per_forward=kernels_per_forward(lambda: fwd(x)),
                                 tokens_routed_differently=0, notes=f"weights {lname}"))
                print(f"{name:14} T={T:6} {'peer-torch-grouped':18} {mode:5} {ms:9.4f} ms", flush=True)
        clear_contexts(layer.layer_id)
        del grouped, layer
        torch.cuda.empty_cache()
        write_json(a.json, rows, complete=False)  # a run cut short still leaves the configs it finished
    for row, fn, flop in uncapturable:
        with torch.no_grad():
            ms, why = timed(peer, fn, a.warmup, a.iters, True)
        rows.append(with_time(row, ms, why, flop))
        print(f"{row['model']:14} T={row['T']:6} {'hf-eager':18} graph {why or ms}", flush=True)
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name()}")
    write_json(a.json, rows, complete=True)

if __name__ == "__main__":
    main()
