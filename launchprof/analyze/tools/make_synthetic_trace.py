#!/usr/bin/env python3
"""Writes a synthetic PyTorch-profiler (Kineto) trace of a requested size, for launchprof tests and benchmarks.

The trace imitates an eager transformer forward, step after step: ProfilerStep user annotations, nested aten
cpu_ops, cudaLaunchKernel runtime calls joined to kernels by correlation (and to ops by External id), ac2g flow
events, python_function noise, an async D2H copy and a cudaStreamSynchronize per step. A simple queue model sets
kernel start = max(launch start + launch latency, previous kernel end on the stream), so lq and queuing look real.

With --expect, it also writes the exact metrics it built in (kernel count, TKLQT in ns, orphans, launches without
kernel), computed from its own integer timestamps, so that a reader can be checked without another parser.

    make_synthetic_trace.py --size-mb 1024 -o big.json [--gzip] [--expect big.expect.json]
"""
import argparse
import gzip
import json
import random

BASE_TS_NS = 1_700_000_000_000_000  # ~ a Kineto epoch-based timestamp, in ns

KERNELS = {
    "linear": "void cutlass::Kernel2<cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_{m}x{n}_32x3_tn_align8>"
              "(cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_{m}x{n}_32x3_tn_align8::Params)",
    "rms_norm": "void at::native::(anonymous namespace)::rms_norm_kernel<c10::BFloat16, float>"
                "(int64_t, float, c10::BFloat16 const*, c10::BFloat16 const*, c10::BFloat16*)",
    "silu": "void at::native::vectorized_elementwise_kernel<4, at::native::silu_kernel(at::TensorIteratorBase&)"
            "::{lambda()#1}::operator()() const::{lambda(c10::BFloat16)#1}, at::detail::Array<char*, 2> >"
            "(int, at::native::silu_kernel(at::TensorIteratorBase&)::{lambda()#1}, at::detail::Array<char*, 2>)",
    "mul": "void at::native::elementwise_kernel<128, 2, at::native::gpu_kernel_impl<at::native::BinaryFunctor"
           "<c10::BFloat16, c10::BFloat16, c10::BFloat16, at::native::binary_internal::MulFunctor<float> > >"
           "(at::TensorIteratorBase&, at::native::BinaryFunctor<c10::BFloat16, c10::BFloat16, c10::BFloat16, "
           "at::native::binary_internal::MulFunctor<float> > const&)::{lambda(int)#1}>(int, {lambda(int)#1})",
    "add": "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, "
           "at::detail::Array<char*, 3> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3>)",
    "rope": "void at::native::(anonymous namespace)::apply_rotary_kernel<c10::BFloat16>(c10::BFloat16*, "
            "c10::BFloat16 const*, c10::BFloat16 const*, int, int, int)",
    "attention": "void pytorch_flash::flash_fwd_kernel<pytorch_flash::Flash_fwd_kernel_traits<64, 128, 64, 4, false, "
                 "false, cutlass::bfloat16_t, pytorch_flash::Flash_kernel_traits<64, 128, 64, 4, "
                 "cutlass::bfloat16_t> >, false, true, false, false, true, true, false, false>(pytorch_flash::"
                 "Flash_fwd_params)",
    "copy": "void at::native::unrolled_elementwise_kernel<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)"
            "::{lambda()#3}::operator()() const::{lambda(c10::BFloat16)#1}, at::detail::Array<char*, 2>, "
            "TrivialOffsetCalculator<1, unsigned int>, char*, at::native::memory::LoadWithCast<1>, "
            "at::native::memory::StoreWithCast<1> >(int, {lambda(c10::BFloat16)#1}, at::detail::Array<char*, 2>)",
}

# One decoder layer: (aten op, inner op or None, kernel key, mean kernel duration in us).
LAYER = [
    ("aten::rms_norm", None, "rms_norm", 6.0),
    ("aten::linear", "aten::addmm", "linear", 18.0),
    ("aten::linear", "aten::addmm", "linear", 9.0),
    ("aten::linear", "aten::addmm", "linear", 9.0),
    ("aten::_fused_rope", None, "rope", 4.0),
    ("aten::scaled_dot_product_attention", "aten::_scaled_dot_product_flash_attention", "attention", 35.0),
    ("aten::linear", "aten::addmm", "linear", 16.0),
    ("aten::add", None, "add", 3.0),
    ("aten::rms_norm", None, "rms_norm", 6.0),
    ("aten::linear", "aten::addmm", "linear", 40.0),
    ("aten::linear", "aten::addmm", "linear", 40.0),
    ("aten::silu", None, "silu", 5.0),
    ("aten::mul", None, "mul", 5.0),
    ("aten::linear", "aten::addmm", "linear", 38.0),
    ("aten::add", None, "add", 3.0),
]


def us(ns):
    """Kineto prints microseconds with three decimals."""
    return f"{ns // 1000}.{ns % 1000:03d}"


class Writer:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.out = gzip.open(args.output, "wt", compresslevel=1) if args.gzip else open(args.output, "w")
        self.bytes = 0
        self.first = True
        self.corr = 1000
        self.ext = 1
        self.ev_idx = 0
        self.host_ns = BASE_TS_NS
        self.stream_free = {}  # (device, stream) -> ns when the last kernel ends
        self.kernels = 0
        self.tklqt_ns = 0
        self.orphans = 0
        self.launch_without_kernel = 0
        self.buf = []

    def emit(self, text):
        if self.first:
            self.first = False
        else:
            text = ",\n" + text
        self.buf.append(text)
        self.bytes += len(text)
        if len(self.buf) >= 4096:
            self.out.write("".join(self.buf))
            self.buf.clear()

    def header(self):
        props = [{"id": d, "name": "NVIDIA H200", "totalGlobalMem": 150109880320, "computeMajor": 9,
                  "computeMinor": 0, "maxThreadsPerBlock": 1024, "maxThreadsPerMultiprocessor": 2048,
                  "regsPerBlock": 65536, "warpSize": 32, "sharedMemPerBlock": 49152, "numSms": 132,
                  "sharedMemPerBlockOptin": 232448} for d in range(self.args.devices)]
        head = ('{\n  "schemaVersion": 1,\n  "deviceProperties": ' + json.dumps(props) +
                ',\n  "distributedInfo": {"backend": "nccl", "rank": 0, "world_size": 1},' +
                '\n  "cupti_version": 24, "cuda_runtime_version": 12080, "cuda_driver_version": 12080,' +
                '\n  "record_shapes": 1, "with_stack": 1, "trace_id": "SYNTHETIC",' +
                '\n  "displayTimeUnit": "ms", "baseTimeNanoseconds": 1700000000000000000,\n  "traceEvents": [\n')
        self.out.write(head)
        self.bytes += len(head)

    def footer(self):
        self.out.write("".join(self.buf))
        tail = '\n  ],\n  "traceName": "synthetic.pt.trace.json"\n}\n'
        self.out.write(tail)
        self.bytes += len(tail)
        self.out.close()

    def x(self, cat, name, pid, tid, ts, dur, args):
        self.emit(f'{{"ph": "X", "cat": "{cat}", "name": {json.dumps(name)}, "pid": {pid}, "tid": {tid}, '
                  f'"ts": {us(ts)}, "dur": {us(dur)}, "args": {{{args}}}}}')

    def cpu_op(self, name, ts, dur, ext):
        self.ev_idx += 1
        self.x("cpu_op", name, self.args.pid, self.args.pid, ts, dur,
               f'"External id": {ext}, "Record function id": 0, "Ev Idx": {self.ev_idx}, '
               f'"Input Dims": [[{self.rng.choice([1, 4, 16])}, 512, 2048], [2048, 2048]], '
               f'"Input type": ["c10::BFloat16", "c10::BFloat16"], "Sequence number": {self.ev_idx}, '
               f'"Fwd thread id": 0')

    def python_function(self, ts, dur):
        self.x("python_function", "torch/nn/modules/module.py(1747): _call_impl", self.args.pid, self.args.pid, ts,
               dur, f'"Python parent id": {self.ev_idx}, "Python id": {self.ev_idx + 1}, "Python thread": 0')

    def launch(self, ext, kernel_name, mean_dur_us, device, stream, with_kernel=True, with_corr=True):
        """A cudaLaunchKernel call at the current host time and, unless told otherwise, its kernel."""
        rng = self.rng
        self.corr += 1
        corr = self.corr
        start = self.host_ns
        dur = rng.randint(2500, 6000)
        self.x("cuda_runtime", "cudaLaunchKernel", self.args.pid, self.args.pid, start, dur,
               f'"External id": {ext}, "cbid": 211, "correlation": {corr}')
        self.emit(f'{{"ph": "s", "id": {corr}, "pid": {self.args.pid}, "tid": {self.args.pid}, "ts": {us(start)}, '
                  f'"cat": "ac2g", "name": "ac2g"}}')
        self.host_ns = start + dur
        if not with_kernel:
            self.launch_without_kernel += 1
            return
        key = (device, stream)
        k_start = max(start + rng.randint(3000, 7000), self.stream_free.get(key, 0) + rng.randint(800, 1500))
        k_dur = max(1000, int(rng.gauss(mean_dur_us, mean_dur_us * 0.1) * 1000 * self.args.gpu_scale))
        self.stream_free[key] = k_start + k_dur
        args = (f'"External id": {ext}, "queued": 0, "device": {device}, "context": 1, "stream": {stream}, ')
        if with_corr:
            args += f'"correlation": {corr}, '
        args += ('"registers per thread": 128, "shared memory": 98304, "blocks per SM": 1.212121, '
                 '"warps per SM": 4.848485, "grid": [160, 1, 1], "block": [128, 1, 1], '
                 '"est. achieved occupancy %": 6')
        self.x("kernel", kernel_name, device, stream, k_start, k_dur, args)
        self.emit(f'{{"ph": "f", "id": {corr}, "pid": {device}, "tid": {stream}, "ts": {us(k_start)}, '
                  f'"cat": "ac2g", "name": "ac2g", "bp": "e"}}')
        self.kernels += 1
        if with_corr:
            self.tklqt_ns += k_start - start
        else:
            self.orphans += 1  # its launch call then has no kernel either, as a correlation join sees it
            self.launch_without_kernel += 1

    def op(self, outer, inner, kernel_key, mean_us, device, stream):
        rng = self.rng
        t0 = self.host_ns
        self.python_function(t0, 1000)
        self.host_ns += rng.randint(4000, 9000)  # Python and dispatcher overhead before the op
        outer_start = self.host_ns
        outer_ext = self.ext
        self.ext += 1
        launch_ext = outer_ext
        inner_start = None
        if inner:
            self.host_ns += rng.randint(1500, 3000)
            inner_start = self.host_ns
            launch_ext = self.ext
            self.ext += 1
        self.host_ns += rng.randint(2000, 5000)
        tile = {6.0: "64x64", 9.0: "64x128", 16.0: "128x64", 18.0: "128x128", 38.0: "256x64", 40.0: "256x128"}
        name = KERNELS[kernel_key].replace("{m}x{n}", tile.get(mean_us, "128x128"))
        anomalies = self.args.anomalies
        with_kernel = not (anomalies and rng.random() < 0.001)
        with_corr = not (anomalies and rng.random() < 0.001)
        self.launch(launch_ext, name, mean_us, device, stream, with_kernel, with_corr)
        self.host_ns += rng.randint(1000, 3000)
        if inner:
            self.cpu_op(inner, inner_start, self.host_ns - inner_start, launch_ext)
            self.host_ns += rng.randint(500, 1500)
        self.cpu_op(outer, outer_start, self.host_ns - outer_start, outer_ext)

    def step(self, index):
        rng = self.rng
        step_start = self.host_ns
        ext = self.ext
        self.ext += 1
        for layer in range(self.args.layers):
            device = layer % self.args.devices
            stream = 7 + (layer % self.args.streams)
            for outer, inner, kernel_key, mean_us in LAYER:
                self.op(outer, inner, kernel_key, mean_us, device, stream)
        # Copy the logits to the host, then wait: the step's host sync.
        self.host_ns += rng.randint(2000, 4000)
        self.corr += 1
        copy_start = self.host_ns
        self.x("cuda_runtime", "cudaMemcpyAsync", self.args.pid, self.args.pid, copy_start, 6000,
               f'"External id": {ext}, "cbid": 41, "correlation": {self.corr}')
        free = max(self.stream_free.values()) if self.stream_free else copy_start
        m_start = max(copy_start + 4000, free + 1000)
        self.x("gpu_memcpy", "Memcpy DtoH (Device -> Pinned)", 0, 7, m_start, 12000,
               f'"External id": {ext}, "device": 0, "context": 1, "stream": 7, "correlation": {self.corr}, '
               f'"bytes": 1048576, "memory bandwidth (GB/s)": 87.3')
        self.host_ns = copy_start + 6000
        self.corr += 1
        sync_end = max(self.host_ns + 2000, m_start + 12000 + 1500)
        self.x("cuda_runtime", "cudaStreamSynchronize", self.args.pid, self.args.pid, self.host_ns,
               sync_end - self.host_ns, f'"External id": {ext}, "cbid": 131, "correlation": {self.corr}')
        self.host_ns = sync_end + rng.randint(1000, 2000)
        self.x("user_annotation", f"ProfilerStep#{index}", self.args.pid, self.args.pid, step_start,
               self.host_ns - step_start, f'"External id": {ext}')
        self.host_ns += rng.randint(20000, 40000)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--size-mb", type=float, required=True, help="stop after the first step that reaches this size")
    p.add_argument("--gzip", action="store_true", help="write gzip (the size then counts uncompressed bytes)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--streams", type=int, default=1, help="streams per device")
    p.add_argument("--gpu-scale", type=float, default=1.0,
                   help="multiply kernel durations (below 1: CPU-bound, above 1: GPU-bound)")
    p.add_argument("--pid", type=int, default=4242)
    p.add_argument("--anomalies", action="store_true", help="add ~0.1%% orphan kernels and launches without kernel")
    p.add_argument("--expect", help="write the metrics built into the trace to this JSON file")
    args = p.parse_args()
    w = Writer(args)
    w.header()
    target = int(args.size_mb * 1e6)
    step = 0
    while w.bytes < target:
        w.step(step)
        step += 1
    w.footer()
    if args.expect:
        with open(args.expect, "w") as f:
            json.dump({"kernels": w.kernels, "tklqt_ns": w.tklqt_ns, "orphans": w.orphans,
                       "launches_without_kernel": w.launch_without_kernel, "steps": step,
                       "json_bytes": w.bytes}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
