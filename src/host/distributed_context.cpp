// DistributedContext: the symmetric window (ncclMemAlloc + ncclCommWindowRegister), the device communicator,
// the local workspace, and the single launch per forward of the expert-parallel kernel.
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <nccl_device.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "device/ep_launch.h"
#include "host/checks.h"
#include "host/cuda_check.h"
#include "host/ep_layout.h"
#include "host/fault_injection.h"
#include "host/nccl_version.h"
#include "host/plan.h"
#include "host/sm_budget.h"
#include "host/task_timeline.h"
#include "host/tensor_maps.h"
#include "onemoe/distributed.h"

namespace onemoe {
namespace {

using host::cuda_error;
using host::DeviceGuard;

Result nccl_error(ncclResult_t err, const char* what) {
  std::ostringstream os;
  os << what << ": " << ncclGetErrorString(err);
  return Result::error(Status::kErrorCuda, os.str());
}

#define ONEMOE_NCCL_TRY(call, what)                         \
  do {                                                      \
    ncclResult_t err_ = (call);                             \
    if (err_ != ncclSuccess) return nccl_error(err_, what); \
  } while (0)

Result invalid(const std::string& message) { return Result::error(Status::kErrorInvalidArgument, message); }

Result check_aligned(const char* name, const void* ptr, bool required) {
  if (ptr == nullptr) return required ? invalid(std::string(name) + " is null") : Result::success();
  if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0)
    return Result::error(Status::kErrorMisalignedPointer, std::string(name) + " is not 16-byte aligned");
  return Result::success();
}

std::string describe_failure(const device::ErrorRecord& rec, int rank, const std::vector<int>& expert_to_rank,
                             double timeout_ms) {
  std::ostringstream os;
  os << "rank " << rank << ", forward " << rec.abort_epoch << ": ";
  switch (device::WaitSite(rec.site)) {
    case device::WaitSite::kPeerCounts:
      os << "no routing counts from rank " << rec.index << " within " << timeout_ms << " ms (saw forward "
         << rec.have << "): rank " << rec.index << " did not launch this forward, or is stuck";
      break;
    case device::WaitSite::kPeerOutputTile:
      os << "expert outputs from rank " << rec.index << " did not arrive within " << timeout_ms << " ms";
      break;
    case device::WaitSite::kPeerRowTile:
      os << "token rows for expert tile " << rec.index << " did not all arrive within " << timeout_ms << " ms (saw "
         << rec.have << " of " << rec.want << " rows)";
      break;
    case device::WaitSite::kGemmPipeline:
      os << "the TMA/MMA pipeline of expert tile " << rec.index << " stalled past " << timeout_ms << " ms";
      break;
    case device::WaitSite::kBadPreRouting:
      os << "pre-routed token " << rec.index << " names expert " << int32_t(rec.have) << ", which is outside 0.."
         << rec.want - 1 << " or repeats within the token (nothing was read or written out of bounds)";
      break;
    case device::WaitSite::kPlanOverflow:
      os << "rank " << rec.index << " was routed " << rec.have << " expert tiles, more than its window's "
         << rec.want << ": max_tokens differs between ranks";
      return os.str();
    default:
      os << "a wait (site " << rec.site << ", index " << rec.index << ") passed " << timeout_ms << " ms";
  }
  (void)expert_to_rank;
  return os.str();
}

// Collective: every rank of comm passes the same list of (name, value) fields, and learns whether every rank
// gave the same values, and whether every rank's own checks passed (local_ok). One fixed-size all-reduce, made
// before any collective whose sizes depend on these values, so a disagreement is an error on every rank instead
// of ranks registering windows of different sizes.
Result agree_across_ranks(ncclComm_t comm, const std::vector<std::pair<const char*, int64_t>>& fields, bool local_ok) {
  std::vector<int64_t> bounds;
  for (const auto& f : fields) bounds.insert(bounds.end(), {f.second, -f.second});
  bounds.push_back(local_ok ? 0 : 1);  // max over ranks: 1 if any rank refused
  int64_t* reduced = nullptr;
  ONEMOE_CUDA_TRY(cudaMalloc(&reduced, bounds.size() * sizeof(int64_t)), "allocating the agreement check");
  cudaMemcpy(reduced, bounds.data(), bounds.size() * sizeof(int64_t), cudaMemcpyHostToDevice);
  const ncclResult_t reduce =
      ncclAllReduce(reduced, reduced, bounds.size(), ncclInt64, ncclMax, comm, cudaStreamLegacy);
  const cudaError_t synced = cudaStreamSynchronize(cudaStreamLegacy);
  std::vector<int64_t> agreed(bounds.size());
  cudaMemcpy(agreed.data(), reduced, agreed.size() * sizeof(int64_t), cudaMemcpyDeviceToHost);
  cudaFree(reduced);
  if (reduce != ncclSuccess) return nccl_error(reduce, "checking that the ranks agree (ncclAllReduce)");
  if (synced != cudaSuccess) return cuda_error(synced, "checking that the ranks agree");
  if (local_ok && agreed.back() != 0) return invalid("another rank of the communicator refused its arguments");
  for (size_t i = 0; i < fields.size(); ++i) {
    if (agreed[2 * i] == -agreed[2 * i + 1]) continue;
    std::ostringstream os;
    os << fields[i].first << " differs between ranks (" << -agreed[2 * i + 1] << " to " << agreed[2 * i]
       << "); every rank must create the context with the same shape, config, max_tokens and placement";
    return invalid(os.str());
  }
  return Result::success();
}

int64_t placement_fingerprint(const std::vector<int>& expert_to_rank) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the owners
  for (int r : expert_to_rank) h = (h ^ uint64_t(uint32_t(r))) * 1099511628211ull;
  return int64_t(h >> 1);
}

}  // namespace

std::vector<int> contiguous_placement(int num_experts, int world_size) {
  std::vector<int> owner;
  if (num_experts <= 0 || world_size <= 0) return owner;
  owner.reserve(num_experts);
  const int base = num_experts / world_size, extra = num_experts % world_size;
  for (int r = 0; r < world_size; ++r) owner.insert(owner.end(), base + (r < extra ? 1 : 0), r);
  return owner;
}

Result DistributedContext::can_implement(const MoeShape& shape, const MoeConfig& config, int world_size,
                                         const ExpertPlacement& placement) {
  if (world_size < 1 || world_size > device::kMaxRanks) {
    std::ostringstream os;
    os << "world size " << world_size << " is outside 1.." << device::kMaxRanks;
    return Result::error(Status::kErrorNotSupported, os.str());
  }
  if (shape.num_tokens < 1) return invalid("max_tokens (shape.num_tokens) must be at least 1");
  if (Result r = Context::can_implement(shape, config); !r.ok()) return r;
  if (!placement.expert_to_rank.empty()) {
    if (int(placement.expert_to_rank.size()) != shape.num_experts) {
      std::ostringstream os;
      os << "placement maps " << placement.expert_to_rank.size() << " experts, the shape has " << shape.num_experts;
      return invalid(os.str());
    }
    for (int e = 0; e < shape.num_experts; ++e) {
      const int r = placement.expert_to_rank[e];
      if (r < 0 || r >= world_size) {
        std::ostringstream os;
        os << "placement puts expert " << e << " on rank " << r << ", outside 0.." << world_size - 1;
        return invalid(os.str());
      }
    }
  }
  return Result::success();
}

class DistributedContextImpl {
 public:
  MoeShape max_shape;
  MoeConfig config;
  DistributedOptions options;
  ncclComm_t comm = nullptr;
  int rank = 0, world_size = 1, device = 0;
  std::vector<int> expert_to_rank, local_experts;
  device::KernelVariant variant{};
  device::KernelResources resources{};
  int grid_blocks = 0;
  host::EpSizes sizes{};
  device::EpWindowLayout window_layout{};
  host::EpLocalLayout local_layout{};
  void* window_memory = nullptr;
  ncclWindow_t window = nullptr;
  ncclDevComm dev_comm{};
  bool dev_comm_created = false;
  void* local = nullptr;
  bool broken = false;
  uint32_t inject_epoch = 0, inject_site = 0;  // internal::inject_wait_timeout
  device::EpKernelParams fixed{};  // what every forward's parameters share; set once the buffers exist
  host::TaskTimeline timeline;

  // Placement, window and workspace pointers of fixed: everything but the shape, the tensors and the epoch.
  void build_fixed_params() {
    device::EpKernelParams& ep = fixed;
    device::KernelParams& p = ep.base;
    char* ws = static_cast<char*>(local);
    char* win = static_cast<char*>(window_memory);
    const host::EpLocalLayout& l = local_layout;
    host::bind_routing_workspace(ws, l, &p);
    p.expert_in = win + window_layout.expert_in;
    p.expert_hidden = ws + l.expert_hidden;
    p.expert_out = nullptr;  // output rows go straight to the sources' windows
    p.counters = reinterpret_cast<device::SyncCounters*>(ws + l.counters);
    p.row_tile_ready = reinterpret_cast<uint32_t*>(win + window_layout.row_tile_ready);
    p.gemm1_tiles_done = reinterpret_cast<uint32_t*>(ws + l.gemm1_tiles_done);
    p.gemm2_tiles_done = reinterpret_cast<uint32_t*>(ws + l.gemm2_tiles_done);
    p.dispatch_done = reinterpret_cast<uint32_t*>(ws + l.dispatch_done);
    p.error = reinterpret_cast<device::ErrorRecord*>(ws + l.error);
    p.forward_epoch = reinterpret_cast<uint32_t*>(ws + l.forward_epoch);
    p.wait_timeout_ns = uint64_t(options.context.wait_timeout_ms * 1e6);

    const int E = max_shape.num_experts;
    ep.rank = rank;
    ep.world_size = world_size;
    ep.num_local_experts = int(local_experts.size());
    for (int e = 0; e < E; ++e) ep.expert_owner[e] = uint8_t(expert_to_rank[e]);
    for (size_t i = 0; i < local_experts.size(); ++i) ep.local_expert[i] = uint8_t(local_experts[i]);
    // Dispatch chunks: every owner's experts cut into kEpDispatchChunks runs of ascending id, so chunk c holds
    // every owner's c-th run (ticket_layout.h). Chunk of the i-th of L experts: i * C / L; the first expert of
    // chunk c: ceil(c * L / C).
    constexpr int C = device::kEpDispatchChunks;
    std::vector<int> index_in_owner(E), held(world_size, 0);
    for (int e = 0; e < E; ++e) index_in_owner[e] = held[expert_to_rank[e]]++;
    for (int e = 0; e < E; ++e) ep.expert_chunk[e] = uint8_t(index_in_owner[e] * C / held[expert_to_rank[e]]);
    const int local = int(local_experts.size());
    for (int c = 0; c <= C; ++c) ep.local_chunk_first[c] = uint16_t((c * local + C - 1) / C);
    ep.window = window;
    ep.win = window_layout;
    ep.source_base = reinterpret_cast<int32_t*>(ws + l.source_base);
    ep.local_tile_offset = reinterpret_cast<int32_t*>(ws + l.local_tile_offset);
    ep.capacity = reinterpret_cast<int64_t*>(ws + l.capacity);
    ep.traffic = reinterpret_cast<device::EpTraffic*>(ws + l.traffic);
  }

  ~DistributedContextImpl() {
    DeviceGuard guard(device);
    cudaDeviceSynchronize();
    if (dev_comm_created) ncclDevCommDestroy(comm, &dev_comm);
    if (window != nullptr) ncclCommWindowDeregister(comm, window);
    if (window_memory != nullptr) ncclMemFree(window_memory);
    cudaFree(local);
  }
};

DistributedContext::DistributedContext(std::unique_ptr<DistributedContextImpl> impl) : impl_(std::move(impl)) {}
DistributedContext::~DistributedContext() = default;

int DistributedContext::rank() const { return impl_->rank; }
int DistributedContext::world_size() const { return impl_->world_size; }
const std::vector<int>& DistributedContext::local_experts() const { return impl_->local_experts; }
const std::vector<int>& DistributedContext::expert_to_rank() const { return impl_->expert_to_rank; }
int DistributedContext::grid_blocks() const { return impl_->grid_blocks; }

Result DistributedContext::create(const MoeShape& shape, const MoeConfig& config, ncclComm_t comm,
                                  const DistributedOptions& options, std::unique_ptr<DistributedContext>* out) {
  if (out == nullptr) return invalid("out is null");
  if (comm == nullptr) return invalid("comm is null");
  if (Result r = host::check_nccl_version(); !r.ok()) return r;
  auto impl = std::make_unique<DistributedContextImpl>();
  impl->comm = comm;
  ONEMOE_NCCL_TRY(ncclCommCount(comm, &impl->world_size), "ncclCommCount");
  ONEMOE_NCCL_TRY(ncclCommUserRank(comm, &impl->rank), "ncclCommUserRank");
  ONEMOE_NCCL_TRY(ncclCommCuDevice(comm, &impl->device), "ncclCommCuDevice");
  MoeShape max_shape = shape;
  if (options.context.max_tokens > 0) max_shape.num_tokens = options.context.max_tokens;
  Result local = can_implement(max_shape, config, impl->world_size, options.placement);
  if (local.ok() && !(options.context.wait_timeout_ms > 0)) local = invalid("wait_timeout_ms must be positive");
  if (local.ok() && options.context.device >= 0 && options.context.device != impl->device) {
    std::ostringstream os;
    os << "options.context.device = " << options.context.device << " but comm's device is " << impl->device;
    local = invalid(os.str());
  }
  {
    DeviceGuard guard(impl->device);
    const std::vector<int> owners = options.placement.expert_to_rank.empty()
                                        ? contiguous_placement(max_shape.num_experts, impl->world_size)
                                        : options.placement.expert_to_rank;
    const Result agreed = agree_across_ranks(
        comm,
        {{"max_tokens", max_shape.num_tokens},
         {"num_experts", max_shape.num_experts},
         {"top_k", max_shape.top_k},
         {"hidden", max_shape.hidden},
         {"intermediate", max_shape.intermediate},
         {"dtype", int64_t(config.dtype)},
         {"fp32_math", int64_t(config.fp32_math)},
         {"routing", int64_t(config.routing)},
         {"routed_scaling_factor (x 1e6)", int64_t(double(config.routed_scaling_factor) * 1e6)},
         {"scoring", int64_t(config.scoring)},
         {"renormalize", int64_t(config.renormalize)},
         {"activation", int64_t(config.activation)},
         {"gated", int64_t(config.gated)},
         {"capacity_factor (x 1e6)", int64_t(double(config.capacity_factor) * 1e6)},
         {"placement", placement_fingerprint(owners)}},
        local.ok());
    if (!local.ok()) return local;
    if (!agreed.ok()) return agreed;
  }
  impl->max_shape = max_shape;
  impl->config = config;
  impl->options = options;
  impl->options.context.wait_timeout_ms = host::effective_wait_timeout_ms(options.context.wait_timeout_ms);
  impl->expert_to_rank = options.placement.expert_to_rank.empty()
                             ? contiguous_placement(max_shape.num_experts, impl->world_size)
                             : options.placement.expert_to_rank;
  for (int e = 0; e < max_shape.num_experts; ++e)
    if (impl->expert_to_rank[e] == impl->rank) impl->local_experts.push_back(e);
  DeviceGuard guard(impl->device);

  cudaDeviceProp prop{};
  ONEMOE_CUDA_TRY(cudaGetDeviceProperties(&prop, impl->device), "cudaGetDeviceProperties");
  if (prop.major != 9) {
    std::ostringstream os;
    os << "this build targets sm_90a (Hopper); device " << impl->device << " (" << prop.name << ") is sm_"
       << prop.major << prop.minor;
    return Result::error(Status::kErrorNotSupported, os.str());
  }
  impl->variant = {config.dtype, config.dtype == DType::kFP32 && config.fp32_math == Fp32Math::kFFMA};
  ONEMOE_CUDA_TRY(device::prepare_ep_kernel(impl->variant, &impl->resources), "preparing the expert-parallel kernel");
  if (Result r = host::check_kernel_tiling(impl->resources.expert_tile_n); !r.ok()) return r;
  if (impl->resources.max_blocks_per_sm < 1)
    return Result::error(Status::kErrorNotCoResident, "the expert-parallel kernel cannot be resident on an SM");
  impl->grid_blocks = host::current_context_sms(prop.multiProcessorCount) * impl->resources.max_blocks_per_sm;

  impl->sizes = host::ep_sizes(max_shape, impl->world_size, impl->expert_to_rank);
  impl->sizes.grid_blocks = impl->grid_blocks;
  impl->window_layout = host::ep_window_layout(max_shape, config, impl->sizes);
  impl->local_layout = host::ep_local_layout(max_shape, config, impl->sizes, int(impl->local_experts.size()));

  // Zero the window before registering it: registration is collective, so no peer can write into it earlier.
  ONEMOE_NCCL_TRY(ncclMemAlloc(&impl->window_memory, impl->window_layout.total_bytes), "ncclMemAlloc (window)");
  ONEMOE_CUDA_TRY(cudaMemset(impl->window_memory, 0, impl->window_layout.total_bytes), "clearing the window");
  ONEMOE_CUDA_TRY(cudaMalloc(&impl->local, impl->local_layout.total_bytes), "allocating the workspace");
  ONEMOE_CUDA_TRY(cudaMemset(impl->local, 0, impl->local_layout.total_bytes), "clearing the workspace");
  if (options.context.record_task_timeline) {
    Result r = impl->timeline.allocate_for(max_shape.num_tokens, [&](int64_t T) {
      MoeShape s = max_shape;
      s.num_tokens = T;
      device::EpKernelParams ep{};
      host::fill_ep_plan(s, config, impl->sizes, &ep);
      return ep.base.num_tickets;
    });
    if (!r.ok()) return r;
  }
  ONEMOE_CUDA_TRY(cudaDeviceSynchronize(), "clearing the window");
  ONEMOE_NCCL_TRY(ncclCommWindowRegister(comm, impl->window_memory, impl->window_layout.total_bytes, &impl->window,
                                         NCCL_WIN_COLL_SYMMETRIC),
                  "ncclCommWindowRegister");
  ncclDevCommRequirements reqs;
  std::memset(&reqs, 0, sizeof(reqs));
  ONEMOE_NCCL_TRY(ncclDevCommCreate(comm, &reqs, &impl->dev_comm), "ncclDevCommCreate");
  impl->dev_comm_created = true;
  if (impl->dev_comm.lsaSize != impl->world_size) {
    std::ostringstream os;
    os << "only " << impl->dev_comm.lsaSize << " of " << impl->world_size
       << " ranks share load/store access (one NVLink domain); peers beyond it need the GIN path, which is not built";
    return Result::error(Status::kErrorNotSupported, os.str());
  }
  // Setup-time barrier (not inside any forward): every rank's window is registered and zero before the first
  // forward of any rank writes into it.
  if (Result r = agree_across_ranks(comm, {{"window bytes", int64_t(impl->window_layout.total_bytes)}}, true);
      !r.ok())
    return r;
  impl->build_fixed_params();
  out->reset(new DistributedContext(std::move(impl)));
  return Result::success();
}

Result DistributedContext::run(const RunArgs& args, cudaStream_t stream) {
  DistributedContextImpl& c = *impl_;
  if (c.broken)
    return Result::error(Status::kErrorInternal,
                         "a forward of this context timed out; peers may hold half a forward: create a new context");
  if (args.num_tokens < 0 || args.num_tokens > c.max_shape.num_tokens) {
    std::ostringstream os;
    os << "num_tokens = " << args.num_tokens << " is outside 0..max_tokens (" << c.max_shape.num_tokens << ")";
    return Result::error(args.num_tokens < 0 ? Status::kErrorInvalidArgument : Status::kErrorWorkspaceTooSmall,
                         os.str());
  }
  if (args.workspace != nullptr) return invalid("the distributed context owns its workspace: pass workspace = null");
  const bool has_tokens = args.num_tokens > 0, has_experts = !c.local_experts.empty();
  const bool pre_routed = c.config.routing == Routing::kPreRouted;
  if (!pre_routed && (args.in_topk_ids != nullptr || args.in_topk_weights != nullptr))
    return invalid("in_topk_ids / in_topk_weights are given but the routing is not pre-routed");
  for (Result r : {check_aligned("x", args.x, has_tokens), check_aligned("out", args.out, has_tokens),
                   check_aligned("w_router", args.w_router, !pre_routed),
                   check_aligned("in_topk_ids", args.in_topk_ids, pre_routed && has_tokens),
                   check_aligned("in_topk_weights", args.in_topk_weights, pre_routed && has_tokens),
                   check_aligned("w1", args.w1, has_experts),
                   check_aligned("w2", args.w2, has_experts),
                   check_aligned("w3", args.w3, has_experts && c.config.gated)})
    if (!r.ok()) return r;
  if (!c.config.gated && args.w3 != nullptr) return invalid("w3 is given but the FFN is not gated");

  MoeShape shape = c.max_shape;
  shape.num_tokens = args.num_tokens;
  device::EpKernelParams ep = c.fixed;
  host::fill_ep_plan(shape, c.config, c.sizes, &ep);
  device::KernelParams& p = ep.base;
  host::bind_run_args(args, &p);
  p.inject_epoch = c.inject_epoch;
  p.inject_site = c.inject_site;
  c.timeline.attach(&p);

  if (!c.variant.exact_fp32) {
    if (Result r = host::encode_tensor_maps(c.config.dtype, &p, ep.num_local_experts); !r.ok()) return r;
  }
  DeviceGuard guard(c.device);
  ONEMOE_CUDA_TRY(device::launch_moe_ep_forward(c.variant, ep, c.grid_blocks, c.resources.dynamic_smem_bytes, stream),
                  "launching the expert-parallel MoE kernel");
  return Result::success();
}

Result DistributedContext::task_timeline(std::vector<TaskSpan>* out) const {
  DeviceGuard guard(impl_->device);
  return impl_->timeline.read(out);
}

Result DistributedContext::synchronize_and_check(cudaStream_t stream, TrafficStats* traffic) {
  DistributedContextImpl& c = *impl_;
  DeviceGuard guard(c.device);
  ONEMOE_CUDA_TRY(cudaStreamSynchronize(stream), "running the expert-parallel MoE kernel");
  char* ws = static_cast<char*>(c.local);
  device::ErrorRecord rec{};
  ONEMOE_CUDA_TRY(cudaMemcpy(&rec, ws + c.local_layout.error, sizeof(rec), cudaMemcpyDeviceToHost),
                  "reading the error record");
  if (traffic != nullptr) {
    device::EpTraffic t{};
    ONEMOE_CUDA_TRY(cudaMemcpy(&t, ws + c.local_layout.traffic, sizeof(t), cudaMemcpyDeviceToHost),
                    "reading the traffic counts");
    *traffic = TrafficStats{t.rows_to_peers, t.rows_returned, t.payload_bytes, t.control_bytes, t.rows_local};
  }
  if (rec.abort_epoch == 0) return Result::success();
  // The record stays: it is what makes every later forward of this context give up on the device too
  // (give_up_if_context_failed), a replayed CUDA graph included.
  c.broken = true;
  const device::WaitSite site = device::WaitSite(rec.site);
  return Result::error(site == device::WaitSite::kPlanOverflow    ? Status::kErrorInternal
                       : site == device::WaitSite::kBadPreRouting ? Status::kErrorInvalidArgument
                                                                  : Status::kErrorTimeout,
                       describe_failure(rec, c.rank, c.expert_to_rank, c.options.context.wait_timeout_ms) +
                           ". This context is unusable from now on (a peer may still write into its window): every "
                           "later forward gives up at once; create a new context");
}

namespace internal {

Result inject_wait_timeout(DistributedContext& ctx, device::WaitSite site, uint32_t forwards_ahead) {
  DistributedContextImpl& c = ContextAccess::impl(ctx);
  if (Result r = epoch_ahead(c.device, static_cast<char*>(c.local) + c.local_layout.forward_epoch, forwards_ahead,
                             &c.inject_epoch);
      !r.ok())
    return r;
  c.inject_site = uint32_t(site);
  return Result::success();
}

}  // namespace internal
}  // namespace onemoe
