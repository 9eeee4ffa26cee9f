#!/usr/bin/env python3
"""CPU test of trace_metrics.py on a hand-made Kineto-shaped trace, and a syntax check of every study script
(Python and bash)."""
import glob
import gzip
import json
import os
import py_compile
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import trace_metrics  # noqa: E402


def x(cat, name, ts, dur, **args):
    return {"ph": "X", "cat": cat, "name": name, "pid": 1, "tid": 1, "ts": ts, "dur": dur, "args": args}


EVENTS = [
    x("cpu_op", "aten::mm", 0, 50),
    x("cuda_runtime", "cudaLaunchKernel", 10, 5, correlation=1),
    x("kernel", "k1", 20, 10, correlation=1),
    x("cuda_runtime", "cudaLaunchKernel", 30, 5, correlation=2),        # no kernel
    x("kernel", "orphan", 60, 10, correlation=3),                        # no launch call
    x("cuda_runtime", "cudaGraphLaunch", 40, 2, correlation=4),
    x("kernel", "g1", 45, 5, correlation=4),
    x("kernel", "g2", 52, 5, correlation=4),
    x("cuda_runtime", "cudaMemcpyAsync", 42, 1, correlation=5),
    x("gpu_memcpy", "Memcpy HtoD", 70, 3, correlation=5),
    x("cuda_runtime", "cudaLaunchKernel", 85, 1, correlation=6),
    x("kernel", "early", 80, 2, correlation=6),                          # starts before its launch call
    {"ph": "s", "id": 1, "pid": 1, "tid": 1, "ts": 10, "cat": "ac2g", "name": "ac2g"},
]


class TraceMetricsTest(unittest.TestCase):
    def write(self, events, gz):
        fd, path = tempfile.mkstemp(suffix=".json.gz" if gz else ".json")
        os.close(fd)
        self.addCleanup(os.remove, path)
        with (gzip.open(path, "wt") if gz else open(path, "w")) as f:
            json.dump({"traceEvents": events}, f)
        return path

    def test_skip_quantities(self):
        for gz in (False, True):
            m = trace_metrics.metrics(self.write(EVENTS, gz))
            self.assertEqual(m["kernels"], 5)
            self.assertEqual(m["kernel_launch_calls"], 4)
            self.assertEqual(m["launches_without_kernel"], 1)
            self.assertEqual(m["orphan_kernels"], 1)
            self.assertEqual(m["negative_lq"], 1)
            self.assertEqual(m["lq_terms"], 4)
            self.assertAlmostEqual(m["tklqt_us"], (20 - 10) + (45 - 40) + (52 - 40) + (80 - 85))
            self.assertAlmostEqual(m["kernel_time_us"], 10 + 10 + 5 + 5 + 2)
            self.assertAlmostEqual(m["il_ms"], 0.082)    # last kernel end 82 us - first operator start 0
            self.assertAlmostEqual(m["idle_ms"], 0.050)  # 82 - 32 us

    def test_gzip_is_recognised_by_content_not_name(self):
        fd, path = tempfile.mkstemp(suffix=".json.gz")  # plain JSON under a .gz name
        os.close(fd)
        self.addCleanup(os.remove, path)
        with open(path, "w") as f:
            json.dump({"traceEvents": EVENTS}, f)
        self.assertEqual(trace_metrics.metrics(path)["kernels"], 5)

    def test_not_a_trace_is_reported_and_the_others_still_computed(self):
        fd, bad = tempfile.mkstemp(suffix=".json.gz")
        os.close(fd)
        self.addCleanup(os.remove, bad)
        with open(bad, "w") as f:
            json.dump({"tool": "x", "rows": []}, f)  # a results envelope where a trace should be
        with self.assertRaises(trace_metrics.TraceError):
            trace_metrics.metrics(bad)
        good = self.write(EVENTS, True)
        p = subprocess.run([sys.executable, os.path.join(HERE, "trace_metrics.py"), bad, good], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("no traceEvents", p.stderr)
        self.assertIn(good, p.stdout)

    def test_coverage_table(self):
        events = [x("user_annotation", "launch:a", 0, 10, **{"External id": 9}),
                  x("kernel", "k", 5, 1, correlation=1, **{"External id": 9}),
                  x("user_annotation", "launch:b", 20, 10, **{"External id": 10})]
        table = trace_metrics.coverage(self.write(events, False))
        self.assertEqual(table, {"launch:a": [1, 1, 1], "launch:b": [1, 0, 0]})

    def test_scripts_compile(self):
        for path in glob.glob(os.path.join(HERE, "*.py")):
            py_compile.compile(path, doraise=True, cfile=os.path.join(tempfile.gettempdir(), "lp_pycompile.pyc"))
        for path in glob.glob(os.path.join(HERE, "*.sh")):
            self.assertEqual(subprocess.run(["bash", "-n", path]).returncode, 0, path)


if __name__ == "__main__":
    unittest.main()
