// Context: the plan, the persistent sync state, the owned workspace and the single launch per forward.
#include <cuda_runtime_api.h>

#include <sstream>

#include "device/launch.h"
#include "host/checks.h"
#include "host/cuda_check.h"
#include "host/fault_injection.h"
#include "host/plan.h"
#include "host/sm_budget.h"
#include "host/task_timeline.h"
#include "host/tensor_maps.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

using host::cuda_error;
using host::DeviceGuard;


const char* wait_site_name(uint32_t site) {
  switch (site) {
    case 1: return "plan_ready";
    case 2: return "row tile dispatched";
    case 3: return "expert hidden (GEMM1) done";
    case 4: return "expert output (GEMM2) done";
    case 5: return "dispatch done";
    case 10: return "a GEMM tile's TMA/MMA pipeline";
    case 11: return "expert row tile gathered";
    case 12: return "a gather's bulk copies";
    case 13: return "pre-routed expert ids";
    default: return "unknown";
  }
}


}  // namespace

class ContextImpl {
 public:
  MoeShape max_shape;
  MoeConfig config;
  ContextOptions options;
  device::KernelVariant variant{};
  device::KernelResources resources{};
  int grid_blocks = 0;
  host::SyncLayout sync{};
  void* sync_region = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  host::TaskTimeline timeline;
  uint32_t inject_epoch = 0, inject_site = 0;  // internal::inject_wait_timeout

  ~ContextImpl() {
    if (sync_region || workspace) {
      DeviceGuard guard(options.device);
      cudaFree(sync_region);
      cudaFree(workspace);
    }
  }
};

Context::Context(std::unique_ptr<ContextImpl> impl) : impl_(std::move(impl)) {}
Context::~Context() = default;

const MoeShape& Context::shape() const { return impl_->max_shape; }
const MoeConfig& Context::config() const { return impl_->config; }
int Context::grid_blocks() const { return impl_->grid_blocks; }
int Context::threads_per_block() const { return device::kThreadsPerBlock; }

size_t Context::workspace_size(int64_t num_tokens) const {
  MoeShape s = impl_->max_shape;
  s.num_tokens = num_tokens;
  return host::workspace_layout(s, impl_->config).total_bytes;
}

Result Context::create(const MoeShape& shape, const MoeConfig& config, const ContextOptions& options,
                       std::unique_ptr<Context>* out) {
  if (out == nullptr) return Result::error(Status::kErrorInvalidArgument, "out is null");
  MoeShape max_shape = shape;
  if (options.max_tokens > 0) max_shape.num_tokens = options.max_tokens;
  if (Result r = can_implement(max_shape, config); !r.ok()) return r;
  if (!(options.wait_timeout_ms > 0))
    return Result::error(Status::kErrorInvalidArgument, "wait_timeout_ms must be positive");

  auto impl = std::make_unique<ContextImpl>();
  impl->max_shape = max_shape;
  impl->config = config;
  impl->options = options;
  impl->options.wait_timeout_ms = host::effective_wait_timeout_ms(options.wait_timeout_ms);
  if (impl->options.device < 0) ONEMOE_CUDA_TRY(cudaGetDevice(&impl->options.device), "cudaGetDevice");
  DeviceGuard guard(impl->options.device);

  cudaDeviceProp prop{};
  ONEMOE_CUDA_TRY(cudaGetDeviceProperties(&prop, impl->options.device), "cudaGetDeviceProperties");
  if (prop.major != 9) {
    std::ostringstream os;
    os << "this build targets sm_90a (Hopper); device " << impl->options.device << " (" << prop.name << ") is sm_"
       << prop.major << prop.minor;
    return Result::error(Status::kErrorNotSupported, os.str());
  }
  if (!prop.cooperativeLaunch)
    return Result::error(Status::kErrorNotCoResident, "device does not support cooperative launch");

  impl->variant = {config.dtype, config.dtype == DType::kFP32 && config.fp32_math == Fp32Math::kFFMA};
  ONEMOE_CUDA_TRY(device::prepare_kernel(impl->variant, &impl->resources), "preparing the fused kernel");
  if (Result r = host::check_kernel_tiling(impl->resources.expert_tile_n); !r.ok()) return r;
  if (impl->resources.max_blocks_per_sm < 1) {
    std::ostringstream os;
    os << "the fused kernel (" << device::kThreadsPerBlock << " threads, " << impl->resources.dynamic_smem_bytes
       << " B dynamic smem) cannot be resident on an SM of " << prop.name;
    return Result::error(Status::kErrorNotCoResident, os.str());
  }
  // A green context's SMs, not the device's: a grid sized for the device would never be co-resident there.
  impl->grid_blocks = host::current_context_sms(prop.multiProcessorCount) * impl->resources.max_blocks_per_sm;

  impl->sync = host::sync_layout(max_shape);
  ONEMOE_CUDA_TRY(cudaMalloc(&impl->sync_region, impl->sync.total_bytes), "allocating sync state");
  ONEMOE_CUDA_TRY(cudaMemset(impl->sync_region, 0, impl->sync.total_bytes), "clearing sync state");
  if (options.allocate_workspace) {
    impl->workspace_bytes = host::workspace_layout(max_shape, config).total_bytes;
    ONEMOE_CUDA_TRY(cudaMalloc(&impl->workspace, impl->workspace_bytes), "allocating workspace");
  }
  if (options.record_task_timeline) {
    Result r = impl->timeline.allocate_for(max_shape.num_tokens, [&](int64_t T) {
      MoeShape s = max_shape;
      s.num_tokens = T;
      device::KernelParams p{};
      host::fill_plan(s, config, &p);
      return p.num_tickets;
    });
    if (!r.ok()) return r;
  }
  ONEMOE_CUDA_TRY(cudaDeviceSynchronize(), "initialising the context");
  out->reset(new Context(std::move(impl)));
  return Result::success();
}

Result Context::run(const RunArgs& args, cudaStream_t stream) {
  ContextImpl& c = *impl_;
  if (Result r = host::check_run_args(c.config, args); !r.ok()) return r;
  MoeShape shape = c.max_shape;
  shape.num_tokens = args.num_tokens;
  if (Result r = can_implement(shape, c.config); !r.ok()) return r;
  if (args.num_tokens > c.max_shape.num_tokens) {
    std::ostringstream os;
    os << "num_tokens = " << args.num_tokens << " exceeds the Context's max_tokens = " << c.max_shape.num_tokens;
    return Result::error(Status::kErrorWorkspaceTooSmall, os.str());
  }
  const host::WorkspaceLayout layout = host::workspace_layout(shape, c.config);
  char* ws = static_cast<char*>(c.workspace);
  if (args.workspace != nullptr) {
    if (args.workspace_bytes < layout.total_bytes) {
      std::ostringstream os;
      os << "workspace of " << args.workspace_bytes << " B is smaller than the " << layout.total_bytes
         << " B this run needs (Context::workspace_size)";
      return Result::error(Status::kErrorWorkspaceTooSmall, os.str());
    }
    ws = static_cast<char*>(args.workspace);
  } else if (ws == nullptr) {
    return Result::error(Status::kErrorWorkspaceTooSmall,
                         "the Context owns no workspace (allocate_workspace=false) and RunArgs gives none");
  }

  device::KernelParams p{};
  host::fill_plan(shape, c.config, &p);
  host::bind_run_args(args, &p);
  host::bind_routing_workspace(ws, layout, &p);
  p.expert_in = ws + layout.expert_in;
  p.expert_row_token = reinterpret_cast<int32_t*>(ws + layout.expert_row_token);
  p.expert_hidden = ws + layout.expert_hidden;
  p.expert_out = ws + layout.expert_out;

  char* sync = static_cast<char*>(c.sync_region);
  p.counters = reinterpret_cast<device::SyncCounters*>(sync + c.sync.counters);
  p.row_tile_ready = reinterpret_cast<uint32_t*>(sync + c.sync.row_tile_ready);
  p.row_tile_gathered = reinterpret_cast<uint32_t*>(sync + c.sync.row_tile_gathered);
  p.gemm1_tiles_done = reinterpret_cast<uint32_t*>(sync + c.sync.gemm1_tiles_done);
  p.gemm2_tiles_done = reinterpret_cast<uint32_t*>(sync + c.sync.gemm2_tiles_done);
  p.dispatch_done = reinterpret_cast<uint32_t*>(sync + c.sync.dispatch_done);
  p.error = reinterpret_cast<device::ErrorRecord*>(sync + c.sync.error);
  p.forward_epoch = reinterpret_cast<uint32_t*>(sync + c.sync.forward_epoch);
  p.inject_epoch = c.inject_epoch;
  p.inject_site = c.inject_site;
  p.wait_timeout_ns = uint64_t(c.options.wait_timeout_ms * 1e6);
  c.timeline.attach(&p);

  if (!c.variant.exact_fp32) {
    if (Result r = host::encode_tensor_maps(c.config.dtype, &p, p.num_experts); !r.ok()) return r;
  }

  DeviceGuard guard(c.options.device);
  const cudaError_t launched =
      device::launch_moe_forward(c.variant, p, c.grid_blocks, c.resources.dynamic_smem_bytes, stream);
  if (launched == cudaErrorCooperativeLaunchTooLarge) {
    cudaGetLastError();  // not sticky: clear it for the caller
    std::ostringstream os;
    os << "the persistent grid of " << c.grid_blocks << " blocks cannot be co-resident on this stream's SMs: was "
       << "the context created under a context with more SMs (a green context's stream, or another device's)?";
    return Result::error(Status::kErrorNotCoResident, os.str());
  }
  ONEMOE_CUDA_TRY(launched, "launching the fused MoE kernel");
  return Result::success();
}

Result Context::task_timeline(std::vector<TaskSpan>* out) const {
  DeviceGuard guard(impl_->options.device);
  return impl_->timeline.read(out);
}

Result Context::synchronize_and_check(cudaStream_t stream) {
  ContextImpl& c = *impl_;
  DeviceGuard guard(c.options.device);
  ONEMOE_CUDA_TRY(cudaStreamSynchronize(stream), "running the fused MoE kernel");
  device::ErrorRecord rec{};
  char* error_ptr = static_cast<char*>(c.sync_region) + c.sync.error;
  ONEMOE_CUDA_TRY(cudaMemcpy(&rec, error_ptr, sizeof(rec), cudaMemcpyDeviceToHost), "reading the error record");
  if (rec.abort_epoch == 0) return Result::success();
  ONEMOE_CUDA_TRY(cudaMemset(error_ptr, 0, sizeof(rec)), "clearing the error record");
  std::ostringstream os;
  if (device::WaitSite(rec.site) == device::WaitSite::kBadPreRouting) {
    os << "forward " << rec.abort_epoch << ": pre-routed token " << rec.index << " names expert " << int32_t(rec.have)
       << ", which is outside 0.." << rec.want - 1 << " or repeats within the token; the forward's output is not "
       << "valid (nothing was read or written out of bounds)";
    return Result::error(Status::kErrorInvalidArgument, os.str());
  }
  os << "forward " << rec.abort_epoch << " gave up after " << c.options.wait_timeout_ms << " ms: block " << rec.block
     << " waited on '" << wait_site_name(rec.site) << "' of tile " << rec.index << " (saw " << rec.have
     << ", wanted " << rec.want << "). The output of that forward is not valid; the context itself is: the next "
     << "forward starts from clean state";
  return Result::error(Status::kErrorTimeout, os.str());
}

namespace internal {

Result inject_wait_timeout(Context& ctx, device::WaitSite site, uint32_t forwards_ahead) {
  ContextImpl& c = ContextAccess::impl(ctx);
  if (Result r = epoch_ahead(c.options.device, static_cast<char*>(c.sync_region) + c.sync.forward_epoch,
                             forwards_ahead, &c.inject_epoch);
      !r.ok())
    return r;
  c.inject_site = uint32_t(site);
  return Result::success();
}

}  // namespace internal
}  // namespace onemoe
