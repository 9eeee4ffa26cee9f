// onemoe._C.Context: one GPU's fused MoE layer. Pointers are device addresses (torch's data_ptr()), the stream
// is a cudaStream_t as an integer (torch.cuda.Stream.cuda_stream); 0 means the legacy default stream.
#include <cuda_runtime_api.h>
#include <nanobind/nanobind.h>

#include <cstdint>
#include <memory>

#include "binding_util.h"
#include "onemoe/onemoe.h"

namespace nb = nanobind;

namespace onemoe::python {
namespace {

cudaStream_t as_stream(uintptr_t handle) { return reinterpret_cast<cudaStream_t>(handle); }
template <class T>
T* as_ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

class PyContext {
 public:
  PyContext(const MoeShape& shape_with_max_tokens, const MoeConfig& config, int device, double wait_timeout_ms) {
    ContextOptions options;
    options.device = device;
    options.max_tokens = shape_with_max_tokens.num_tokens;
    options.wait_timeout_ms = wait_timeout_ms;
    Result r;
    {
      nb::gil_scoped_release release;
      r = Context::create(shape_with_max_tokens, config, options, &ctx_);
    }
    throw_if_failed(r);
  }

  void run(int64_t num_tokens, uintptr_t x, uintptr_t w_router, uintptr_t w1, uintptr_t w3, uintptr_t w2,
           uintptr_t out, uintptr_t topk_ids, uintptr_t topk_weights, uintptr_t stream, uintptr_t in_topk_ids,
           uintptr_t in_topk_weights, uintptr_t score_bias) {
    RunArgs args;
    args.num_tokens = num_tokens;
    args.x = as_ptr<const void>(x);
    args.w_router = as_ptr<const void>(w_router);
    args.w1 = as_ptr<const void>(w1);
    args.w3 = as_ptr<const void>(w3);
    args.w2 = as_ptr<const void>(w2);
    args.out = as_ptr<void>(out);
    args.topk_ids = as_ptr<int32_t>(topk_ids);
    args.topk_weights = as_ptr<float>(topk_weights);
    args.in_topk_ids = as_ptr<const int32_t>(in_topk_ids);
    args.in_topk_weights = as_ptr<const float>(in_topk_weights);
    args.score_bias = as_ptr<const float>(score_bias);
    Result r;
    {
      nb::gil_scoped_release release;
      r = ctx_->run(args, as_stream(stream));
    }
    throw_if_failed(r);
  }

  void synchronize_and_check(uintptr_t stream) {
    Result r;
    {
      nb::gil_scoped_release release;
      r = ctx_->synchronize_and_check(as_stream(stream));
    }
    throw_if_failed(r);
  }

  const Context& context() const { return *ctx_; }

 private:
  std::unique_ptr<Context> ctx_;
};

}  // namespace

void bind_context(nb::module_& m) {
  nb::class_<PyContext>(m, "Context",
                        "Plan and workspace of one layer on one GPU, for forwards of up to shape.num_tokens tokens")
      .def(nb::init<const MoeShape&, const MoeConfig&, int, double>(), nb::arg("shape_with_max_tokens"),
           nb::arg("config"), nb::arg("device"), nb::arg("wait_timeout_ms") = 2000.0)
      .def("run", &PyContext::run, nb::arg("num_tokens"), nb::arg("x"), nb::arg("w_router"), nb::arg("w1"),
           nb::arg("w3"), nb::arg("w2"), nb::arg("out"), nb::arg("topk_ids"), nb::arg("topk_weights"),
           nb::arg("stream"), nb::arg("in_topk_ids") = 0, nb::arg("in_topk_weights") = 0, nb::arg("score_bias") = 0,
           "Enqueue one forward on stream (one kernel launch). Pointers of optional tensors may be 0; in_topk_ids "
           "and in_topk_weights are the pre-routed mode's inputs, score_bias the grouped mode's. Raises "
           "OnemoeError on bad arguments, having launched nothing.")
      .def("synchronize_and_check", &PyContext::synchronize_and_check, nb::arg("stream"),
           "Wait for stream; raise OnemoeError if the last forward failed on the device (a timeout)")
      .def("workspace_size", [](const PyContext& c, int64_t t) { return c.context().workspace_size(t); })
      .def_prop_ro("max_tokens", [](const PyContext& c) { return c.context().shape().num_tokens; })
      .def_prop_ro("grid_blocks", [](const PyContext& c) { return c.context().grid_blocks(); });
}

}  // namespace onemoe::python
