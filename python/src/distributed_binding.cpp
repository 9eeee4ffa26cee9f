// onemoe._C.NcclComm and onemoe._C.DistributedContext: expert parallelism. A framework broadcasts the bytes of
// nccl_unique_id() from one rank to the others (onemoe.torch does it through a torch.distributed group), every
// rank makes an NcclComm of them, then a DistributedContext over it (collective).
#include <cuda_runtime_api.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <nccl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "binding_util.h"
#include "onemoe/distributed.h"

namespace nb = nanobind;

namespace onemoe::python {
namespace {

void throw_nccl(ncclResult_t err, const char* what) {
  if (err != ncclSuccess)
    throw OnemoeError(Result::error(Status::kErrorCuda, std::string(what) + ": " + ncclGetErrorString(err)));
}

std::string version_string(int code) {
  return std::to_string(code / 10000) + "." + std::to_string(code / 100 % 100) + "." + std::to_string(code % 100);
}

class NcclComm {
 public:
  NcclComm(nb::bytes unique_id, int world_size, int rank, int device) {
    if (unique_id.size() != sizeof(ncclUniqueId))
      throw nb::value_error(("unique_id must be " + std::to_string(sizeof(ncclUniqueId)) + " bytes, got " +
                             std::to_string(unique_id.size()))
                                .c_str());
    ncclUniqueId id;
    std::memcpy(&id, unique_id.c_str(), sizeof(id));
    ncclResult_t err;
    {
      nb::gil_scoped_release release;  // collective: returns once every rank has joined
      int previous = 0;
      cudaGetDevice(&previous);
      cudaSetDevice(device);
      err = ncclCommInitRank(&comm_, world_size, id, rank);
      cudaSetDevice(previous);
    }
    throw_nccl(err, "ncclCommInitRank");
  }
  ~NcclComm() {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  ncclComm_t get() const { return comm_; }

 private:
  ncclComm_t comm_ = nullptr;
};

class PyDistributedContext {
 public:
  PyDistributedContext(const MoeShape& shape_with_max_tokens, const MoeConfig& config, const NcclComm& comm,
                       std::vector<int> expert_to_rank, double wait_timeout_ms) {
    DistributedOptions options;
    options.context.max_tokens = shape_with_max_tokens.num_tokens;
    options.context.wait_timeout_ms = wait_timeout_ms;
    options.placement.expert_to_rank = std::move(expert_to_rank);
    Result r;
    {
      nb::gil_scoped_release release;  // collective over comm
      r = DistributedContext::create(shape_with_max_tokens, config, comm.get(), options, &ctx_);
    }
    throw_if_failed(r);
  }

  void run(int64_t num_tokens, uintptr_t x, uintptr_t w_router, uintptr_t w1, uintptr_t w3, uintptr_t w2,
           uintptr_t out, uintptr_t topk_ids, uintptr_t topk_weights, uintptr_t stream) {
    RunArgs args;
    args.num_tokens = num_tokens;
    args.x = reinterpret_cast<const void*>(x);
    args.w_router = reinterpret_cast<const void*>(w_router);
    args.w1 = reinterpret_cast<const void*>(w1);
    args.w3 = reinterpret_cast<const void*>(w3);
    args.w2 = reinterpret_cast<const void*>(w2);
    args.out = reinterpret_cast<void*>(out);
    args.topk_ids = reinterpret_cast<int32_t*>(topk_ids);
    args.topk_weights = reinterpret_cast<float*>(topk_weights);
    Result r;
    {
      nb::gil_scoped_release release;
      r = ctx_->run(args, reinterpret_cast<cudaStream_t>(stream));
    }
    throw_if_failed(r);
  }

  nb::dict synchronize_and_check(uintptr_t stream) {
    TrafficStats traffic;
    Result r;
    {
      nb::gil_scoped_release release;
      r = ctx_->synchronize_and_check(reinterpret_cast<cudaStream_t>(stream), &traffic);
    }
    throw_if_failed(r);
    nb::dict d;
    d["rows_to_peers"] = traffic.rows_to_peers;
    d["rows_returned"] = traffic.rows_returned;
    d["payload_bytes"] = traffic.payload_bytes;
    d["control_bytes"] = traffic.control_bytes;
    d["rows_local"] = traffic.rows_local;
    return d;
  }

  const DistributedContext& context() const { return *ctx_; }

 private:
  std::unique_ptr<DistributedContext> ctx_;
};

}  // namespace

void bind_distributed(nb::module_& m) {
  m.def("nccl_version", [] {
    int code = 0;
    throw_nccl(ncclGetVersion(&code), "ncclGetVersion");
    return version_string(code);
  }, "The NCCL release loaded in this process, e.g. '2.28.9'");
  m.def("nccl_built_version", [] { return version_string(NCCL_VERSION_CODE); },
        "The NCCL release onemoe's device API code was compiled against; a DistributedContext needs the same at "
        "run time");
  m.def("nccl_unique_id", [] {
    ncclUniqueId id;
    throw_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    return nb::bytes(reinterpret_cast<const char*>(&id), sizeof(id));
  }, "A fresh NCCL unique id (bytes) for NcclComm; make it on one rank and send it to the others");
  m.def("contiguous_placement", &contiguous_placement, nb::arg("num_experts"), nb::arg("world_size"),
        "Rank of each expert when experts are placed in contiguous blocks (the default)");

  nb::class_<NcclComm>(m, "NcclComm", "An NCCL communicator owned by onemoe (ncclCommInitRank)")
      .def(nb::init<nb::bytes, int, int, int>(), nb::arg("unique_id"), nb::arg("world_size"), nb::arg("rank"),
           nb::arg("device"));

  nb::class_<PyDistributedContext>(m, "DistributedContext",
                                   "This rank's part of an expert-parallel MoE layer (collective creation)")
      .def(nb::init<const MoeShape&, const MoeConfig&, const NcclComm&, std::vector<int>, double>(),
           nb::arg("shape_with_max_tokens"), nb::arg("config"), nb::arg("comm"),
           nb::arg("expert_to_rank") = std::vector<int>{}, nb::arg("wait_timeout_ms") = 2000.0,
           nb::keep_alive<1, 4>())  // the communicator outlives the context
      .def("run", &PyDistributedContext::run, nb::arg("num_tokens"), nb::arg("x"), nb::arg("w_router"),
           nb::arg("w1"), nb::arg("w3"), nb::arg("w2"), nb::arg("out"), nb::arg("topk_ids"),
           nb::arg("topk_weights"), nb::arg("stream"))
      .def("synchronize_and_check", &PyDistributedContext::synchronize_and_check, nb::arg("stream"),
           "Wait for stream; raise OnemoeError on a device-side failure; return this rank's traffic counts")
      .def_prop_ro("rank", [](const PyDistributedContext& c) { return c.context().rank(); })
      .def_prop_ro("world_size", [](const PyDistributedContext& c) { return c.context().world_size(); })
      .def_prop_ro("local_experts", [](const PyDistributedContext& c) { return c.context().local_experts(); })
      .def_prop_ro("expert_to_rank", [](const PyDistributedContext& c) { return c.context().expert_to_rank(); })
      .def_prop_ro("grid_blocks", [](const PyDistributedContext& c) { return c.context().grid_blocks(); });
}

}  // namespace onemoe::python
