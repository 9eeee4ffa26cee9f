#include "cupti_collector.h"

#include <cupti.h>
#include <cxxabi.h>
#include <link.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api_call_log.h"
#include "api_names.h"

namespace launchprof::record {
namespace {

// An NVTX range whose start marker has arrived and whose end has not.
struct OpenMarker {
  uint32_t name_idx;
  uint32_t domain_idx;
  uint64_t start_ns;
  uint32_t pid;
  uint32_t tid;
};

// Zeroed, already-faulted activity buffers. CUPTI needs zeroed buffers; with none ready it would zero a fresh one
// on the application thread that asked for it (16 MiB: about a millisecond, plus page faults). The
// buffer-completed callback, on CUPTI's worker thread, zeroes a finished buffer and puts it back here instead.
// NOTES: its own mutex: buffer_requested runs on application threads and must never wait for a buffer's conversion.
struct BufferPool {
  std::mutex mu;
  std::vector<uint8_t*> free;
};

constexpr size_t kPreallocatedBuffers = 2;  // the main thread's buffer and the next one
constexpr size_t kMaxPooledBuffers = 4;     // more are freed: memory held stays bounded

struct State {
  std::mutex mu;
  TraceModel model;
  std::unordered_map<const char*, uint32_t> kernel_names;  // CUPTI shares one name pointer per kernel
  const char* last_kernel_name = nullptr;                  // kernels repeat: the last lookup, kept
  uint32_t last_kernel_idx = 0;
  // cbid -> string index + 1 (0: not named yet): one array read per API record, no hashing.
  std::vector<uint32_t> runtime_names, driver_names;
  uint32_t sync_names[8] = {};         // synchronization type (0..6) -> string index + 1; 7: any other type
  uint32_t internal_launch_name = 0;   // string index + 1
  uint32_t last_context = UINT32_MAX;  // context_device holds it already
  std::unordered_map<uint32_t, uint32_t> copy_names;      // (copy kind, src kind, dst kind) or memset kind -> index
  std::unordered_map<uint64_t, OpenMarker> open_markers;  // marker id -> start
  size_t buffer_bytes = 16u << 20;
  bool started = false;
  bool own_clock = false;  // the timestamp callback is registered: records use monotonic_ns()
  BufferPool pool;
  std::atomic<uint64_t> buffers_allocated_on_request{0};
  std::atomic<bool> stopping{false};  // flushing at the end: completed buffers are freed, not zeroed for reuse
  // The callback API source (ApiSource::kCallback). The cbid tables are written before the callbacks are enabled
  // and only read afterwards.
  bool callback_source = false;
  std::atomic<bool> logging{false};       // cleared by collector_stop: calls after it are not logged
  std::vector<uint8_t> log_runtime_cbid;  // 1: log this runtime cbid
  std::vector<uint8_t> log_driver_cbid;
  ApiCallLog api_log;
};

State& state() {
  static State* s = new State();  // never destroyed: CUPTI may call back during exit
  return *s;
}

std::string cupti_error(CUptiResult r, const std::string& what) {
  const char* s = nullptr;
  cuptiGetResultString(r, &s);
  return what + ": " + (s ? s : "unknown CUPTI error");
}

uint64_t CUPTIAPI monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string demangle(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return name;
  std::string s(out);
  std::free(out);
  return s;
}

uint32_t kernel_name(State& st, const char* name) {
  if (name == nullptr) return st.model.strings.intern("<unnamed kernel>");
  if (name == st.last_kernel_name) return st.last_kernel_idx;
  auto it = st.kernel_names.find(name);
  uint32_t idx;
  if (it != st.kernel_names.end()) {
    idx = it->second;
  } else {
    idx = st.model.strings.intern(demangle(name));
    st.kernel_names.emplace(name, idx);
  }
  st.last_kernel_name = name;
  st.last_kernel_idx = idx;
  return idx;
}

uint32_t api_name(State& st, ApiDomain domain, uint32_t cbid) {
  if (domain == ApiDomain::kInternal) {
    if (st.internal_launch_name == 0) st.internal_launch_name = st.model.strings.intern("cuInternalLaunch") + 1;
    return st.internal_launch_name - 1;
  }
  auto& cache = domain == ApiDomain::kRuntime ? st.runtime_names : st.driver_names;
  if (cbid < cache.size() && cache[cbid] != 0) return cache[cbid] - 1;
  const char* name = nullptr;
  CUpti_CallbackDomain cb_domain =
      domain == ApiDomain::kRuntime ? CUPTI_CB_DOMAIN_RUNTIME_API : CUPTI_CB_DOMAIN_DRIVER_API;
  std::string s = cuptiGetCallbackName(cb_domain, cbid, &name) == CUPTI_SUCCESS && name != nullptr
                      ? strip_cbid_version(name)
                      : (domain == ApiDomain::kRuntime ? "cudaRuntimeCbid" : "cuDriverCbid") + std::to_string(cbid);
  uint32_t idx = st.model.strings.intern(s);
  if (cbid < (1u << 16)) {
    if (cache.size() <= cbid) cache.resize(cbid + 1, 0);
    cache[cbid] = idx + 1;
  }
  return idx;
}

const char* memcpy_kind_name(uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD:
      return "HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH:
      return "DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOA:
      return "HtoA";
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOH:
      return "AtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOA:
      return "AtoA";
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOD:
      return "AtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOA:
      return "DtoA";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD:
      return "DtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOH:
      return "HtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP:
      return "PtoP";
    default:
      return "Unknown";
  }
}

const char* memory_kind_name(unsigned kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMORY_KIND_PAGEABLE:
      return "Pageable";
    case CUPTI_ACTIVITY_MEMORY_KIND_PINNED:
      return "Pinned";
    case CUPTI_ACTIVITY_MEMORY_KIND_DEVICE:
      return "Device";
    case CUPTI_ACTIVITY_MEMORY_KIND_ARRAY:
      return "Array";
    case CUPTI_ACTIVITY_MEMORY_KIND_MANAGED:
      return "Managed";
    case CUPTI_ACTIVITY_MEMORY_KIND_DEVICE_STATIC:
      return "Device Static";
    case CUPTI_ACTIVITY_MEMORY_KIND_MANAGED_STATIC:
      return "Managed Static";
    default:
      return "Unknown";
  }
}

const char* sync_name(CUpti_ActivitySynchronizationType type) {
  switch (type) {
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_EVENT_SYNCHRONIZE:
      return "Event Sync";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_STREAM_WAIT_EVENT:
      return "Stream Wait Event";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_STREAM_SYNCHRONIZE:
      return "Stream Sync";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_CONTEXT_SYNCHRONIZE:
      return "Context Sync";
    default:
      return "Unknown Sync";
  }
}

// The fields kernel, memcpy and memset records share. Returns false (and counts it) when the record has no
// timestamps: CUPTI could not time it, and an event at time 0 would be a lie.
template <typename Record>
bool common_op_fields(State& st, const Record& r, GpuOpKind kind, GpuOp& op) {
  if (r.start == 0 && r.end == 0) {
    st.model.counts.ops_without_timestamps += 1;
    return false;
  }
  op.kind = kind;
  op.start_ns = r.start;
  op.end_ns = r.end;
  op.device = r.deviceId;
  op.context = r.contextId;
  op.stream = r.streamId;
  op.correlation = r.correlationId;
  op.graph_id = r.graphId;
  op.graph_node_id = r.graphNodeId;
  // try_emplace, not emplace: emplace builds (allocates) a node before it finds the key present, once per record.
  if (r.contextId != st.last_context) {
    st.model.context_device.try_emplace(r.contextId, r.deviceId);
    st.last_context = r.contextId;
  }
  return true;
}

void convert_kernel(State& st, const CUpti_ActivityKernel10& k) {
  GpuOp op;
  if (!common_op_fields(st, k, GpuOpKind::kKernel, op)) return;
  op.name_idx = kernel_name(st, k.name);
  op.queued_ns = k.queued == CUPTI_TIMESTAMP_UNKNOWN ? 0 : k.queued;
  op.submitted_ns = k.submitted == CUPTI_TIMESTAMP_UNKNOWN ? 0 : k.submitted;
  op.grid[0] = k.gridX;
  op.grid[1] = k.gridY;
  op.grid[2] = k.gridZ;
  op.block[0] = k.blockX;
  op.block[1] = k.blockY;
  op.block[2] = k.blockZ;
  op.registers_per_thread = k.registersPerThread;
  op.shared_memory = static_cast<uint32_t>(k.staticSharedMemory + k.dynamicSharedMemory);
  st.model.gpu_ops.push_back(op);
}

// Copy and set names are built once per distinct kind, not once per record.
uint32_t memcpy_name(State& st, const CUpti_ActivityMemcpy6& m) {
  const uint32_t key = (1u << 24) | (uint32_t{m.copyKind} << 16) | (uint32_t{m.srcKind} << 8) | m.dstKind;
  auto it = st.copy_names.find(key);
  if (it != st.copy_names.end()) return it->second;
  uint32_t idx = st.model.strings.intern(std::string("Memcpy ") + memcpy_kind_name(m.copyKind) + " (" +
                                         memory_kind_name(m.srcKind) + " -> " + memory_kind_name(m.dstKind) + ")");
  st.copy_names.emplace(key, idx);
  return idx;
}

uint32_t memset_name(State& st, const CUpti_ActivityMemset4& m) {
  const uint32_t key = (2u << 24) | (m.memoryKind & 0xffffu);
  auto it = st.copy_names.find(key);
  if (it != st.copy_names.end()) return it->second;
  uint32_t idx = st.model.strings.intern(std::string("Memset (") + memory_kind_name(m.memoryKind) + ")");
  st.copy_names.emplace(key, idx);
  return idx;
}

void convert_memcpy(State& st, const CUpti_ActivityMemcpy6& m) {
  GpuOp op;
  if (!common_op_fields(st, m, GpuOpKind::kMemcpy, op)) return;
  op.name_idx = memcpy_name(st, m);
  op.runtime_correlation = m.runtimeCorrelationId;
  op.bytes = m.bytes;
  st.model.gpu_ops.push_back(op);
}

void convert_memset(State& st, const CUpti_ActivityMemset4& m) {
  GpuOp op;
  if (!common_op_fields(st, m, GpuOpKind::kMemset, op)) return;
  op.name_idx = memset_name(st, m);
  op.bytes = m.bytes;
  st.model.gpu_ops.push_back(op);
}

void convert_api(State& st, const CUpti_ActivityAPI& a, ApiDomain domain) {
  ApiCall c;
  c.domain = domain;
  c.cbid = domain == ApiDomain::kInternal ? 0 : a.cbid;
  c.name_idx = api_name(st, domain, a.cbid);
  c.start_ns = a.start;
  c.end_ns = a.end;
  c.pid = a.processId;
  c.tid = a.threadId;
  c.correlation = a.correlationId;
  c.return_value = a.returnValue;
  st.model.api_calls.push_back(c);
}

void convert_sync(State& st, const CUpti_ActivitySynchronization2& s) {
  SyncOp op;
  // The name of each type is interned once (it was built and hashed per record).
  const size_t type = std::min<size_t>(static_cast<size_t>(s.type), 7);
  if (st.sync_names[type] == 0) st.sync_names[type] = st.model.strings.intern(sync_name(s.type)) + 1;
  op.name_idx = st.sync_names[type] - 1;
  op.start_ns = s.start;
  op.end_ns = s.end;
  op.correlation = s.correlationId;
  op.context = s.contextId;
  op.stream = s.streamId == CUPTI_SYNCHRONIZATION_INVALID_VALUE ? -1 : static_cast<int64_t>(s.streamId);
  op.event = s.cudaEventId == CUPTI_SYNCHRONIZATION_INVALID_VALUE ? -1 : static_cast<int64_t>(s.cudaEventId);
  st.model.syncs.push_back(op);
}

void convert_marker(State& st, const CUpti_ActivityMarker2& m) {
  if (m.flags & CUPTI_ACTIVITY_FLAG_MARKER_INSTANTANEOUS) {
    st.model.counts.instant_markers += 1;
    return;
  }
  if (m.flags & CUPTI_ACTIVITY_FLAG_MARKER_START) {
    OpenMarker om;
    om.name_idx = st.model.strings.intern(m.name ? m.name : "");
    om.domain_idx = st.model.strings.intern(m.domain ? m.domain : "");
    om.start_ns = m.timestamp;
    om.pid = m.objectKind == CUPTI_ACTIVITY_OBJECT_THREAD || m.objectKind == CUPTI_ACTIVITY_OBJECT_PROCESS
                 ? m.objectId.pt.processId
                 : st.model.pid;
    om.tid = m.objectKind == CUPTI_ACTIVITY_OBJECT_THREAD ? m.objectId.pt.threadId : 0;
    st.open_markers[m.id] = om;
    return;
  }
  if (m.flags & CUPTI_ACTIVITY_FLAG_MARKER_END) {
    auto it = st.open_markers.find(m.id);
    if (it == st.open_markers.end()) {
      st.model.counts.unmatched_range_ends += 1;
      return;
    }
    const OpenMarker& om = it->second;
    Range r;
    r.name_idx = om.name_idx;
    r.domain_idx = om.domain_idx;
    r.start_ns = om.start_ns;
    r.end_ns = m.timestamp;
    r.pid = om.pid;
    r.tid = om.tid;
    r.id = m.id;
    st.model.ranges.push_back(r);
    st.open_markers.erase(it);
  }
}

void convert_device(State& st, const CUpti_ActivityDevice5& d) {
  for (const DeviceInfo& known : st.model.devices) {
    if (known.id == d.id) return;
  }
  DeviceInfo info;
  info.id = d.id;
  info.name_idx = st.model.strings.intern(d.name ? d.name : "");
  info.compute_major = d.computeCapabilityMajor;
  info.compute_minor = d.computeCapabilityMinor;
  info.num_sms = d.numMultiprocessors;
  info.global_memory = d.globalMemorySize;
  st.model.devices.push_back(info);
}

void convert(State& st, const CUpti_Activity* record) {
  switch (record->kind) {
    case CUPTI_ACTIVITY_KIND_KERNEL:
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
      convert_kernel(st, *reinterpret_cast<const CUpti_ActivityKernel10*>(record));
      break;
    case CUPTI_ACTIVITY_KIND_MEMCPY:
      convert_memcpy(st, *reinterpret_cast<const CUpti_ActivityMemcpy6*>(record));
      break;
    case CUPTI_ACTIVITY_KIND_MEMSET:
      convert_memset(st, *reinterpret_cast<const CUpti_ActivityMemset4*>(record));
      break;
    case CUPTI_ACTIVITY_KIND_RUNTIME:
      convert_api(st, *reinterpret_cast<const CUpti_ActivityAPI*>(record), ApiDomain::kRuntime);
      break;
    case CUPTI_ACTIVITY_KIND_DRIVER:
      convert_api(st, *reinterpret_cast<const CUpti_ActivityAPI*>(record), ApiDomain::kDriver);
      break;
    case CUPTI_ACTIVITY_KIND_INTERNAL_LAUNCH_API:
      convert_api(st, *reinterpret_cast<const CUpti_ActivityAPI*>(record), ApiDomain::kInternal);
      break;
    case CUPTI_ACTIVITY_KIND_SYNCHRONIZATION:
      convert_sync(st, *reinterpret_cast<const CUpti_ActivitySynchronization2*>(record));
      break;
    case CUPTI_ACTIVITY_KIND_MARKER:
      convert_marker(st, *reinterpret_cast<const CUpti_ActivityMarker2*>(record));
      break;
    case CUPTI_ACTIVITY_KIND_CONTEXT: {
      const auto& c = *reinterpret_cast<const CUpti_ActivityContext3*>(record);
      st.model.context_device[c.contextId] = c.deviceId;
      break;
    }
    case CUPTI_ACTIVITY_KIND_DEVICE:
      convert_device(st, *reinterpret_cast<const CUpti_ActivityDevice5*>(record));
      break;
    default:
      st.model.counts.unknown_records += 1;
  }
}

// A zeroed buffer whose pages are already mapped (memset writes every page), or nullptr.
uint8_t* new_zeroed_buffer(size_t bytes) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(8, bytes));
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

void fill_pool(State& st, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    uint8_t* p = new_zeroed_buffer(st.buffer_bytes);
    if (p == nullptr) return;
    std::lock_guard<std::mutex> lock(st.pool.mu);
    st.pool.free.push_back(p);
  }
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  State& st = state();
  *max_records = 0;  // as many as fit
  *size = st.buffer_bytes;
  uint8_t* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(st.pool.mu);
    if (!st.pool.free.empty()) {
      p = st.pool.free.back();
      st.pool.free.pop_back();
    }
  }
  if (p == nullptr) {  // pool empty: allocate and zero here, on the requesting thread
    p = new_zeroed_buffer(st.buffer_bytes);
    st.buffers_allocated_on_request.fetch_add(1, std::memory_order_relaxed);
  }
  *buffer = p;
  if (p == nullptr) *size = 0;  // CUPTI then drops records, and counts them
}

void ingest(State& st, uint8_t* buffer, size_t valid_size) {
  CUpti_Activity* record = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid_size, &record) == CUPTI_SUCCESS) convert(st, record);
}

void CUPTIAPI buffer_completed(CUcontext context, uint32_t stream_id, uint8_t* buffer, size_t size, size_t valid_size) {
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    ingest(st, buffer, valid_size);
    size_t dropped = 0;
    if (cuptiActivityGetNumDroppedRecords(context, stream_id, &dropped) == CUPTI_SUCCESS) {
      st.model.counts.dropped_records += dropped;
    }
    st.model.counts.buffers_completed += 1;
  }
  if (buffer == nullptr) return;
  if (!st.stopping.load(std::memory_order_relaxed) && size == st.buffer_bytes) {
    // The whole buffer, not only valid_size: reused, it must be as zero as a new one.
    std::memset(buffer, 0, size);
    std::lock_guard<std::mutex> lock(st.pool.mu);
    if (st.pool.free.size() < kMaxPooledBuffers) {
      st.pool.free.push_back(buffer);
      return;
    }
  }
  std::free(buffer);
}

// Leaves host-state queries out of the runtime records (see is_host_query_runtime_api). Returns the cbids left out.
size_t filter_runtime_queries(std::string& warnings) {
  size_t left_out = 0;
  for (uint32_t cbid = 1; cbid < CUPTI_RUNTIME_TRACE_CBID_SIZE; ++cbid) {
    const char* name = nullptr;
    if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_RUNTIME_API, cbid, &name) != CUPTI_SUCCESS || name == nullptr) continue;
    if (!is_host_query_runtime_api(strip_cbid_version(name))) continue;
    CUptiResult r = cuptiActivityEnableRuntimeApi(cbid, 0);
    if (r != CUPTI_SUCCESS) {
      warnings += cupti_error(r, "cuptiActivityEnableRuntimeApi") + " (host queries are recorded); ";
      return left_out;
    }
    ++left_out;
  }
  return left_out;
}

// The driver calls worth recording by default: launches, copies, sets and waits. The runtime calls are all recorded.
bool wanted_driver_api(const std::string& name) {
  static const char* const kPrefixes[] = {
      "cuLaunch",         "cuGraphLaunch",      "cuMemcpy",          "cuMemset",        "cuStreamSynchronize",
      "cuCtxSynchronize", "cuEventSynchronize", "cuStreamWaitEvent", "cuProfilerStart", "cuProfilerStop"};
  for (const char* p : kPrefixes) {
    if (name.rfind(p, 0) == 0) return true;
  }
  return false;
}

bool is_teardown(CUpti_CallbackDomain domain, CUpti_CallbackId cbid) {
  if (domain == CUPTI_CB_DOMAIN_RUNTIME_API) return cbid == CUPTI_RUNTIME_TRACE_CBID_cudaDeviceReset_v3020;
  return cbid == CUPTI_DRIVER_TRACE_CBID_cuCtxDestroy || cbid == CUPTI_DRIVER_TRACE_CBID_cuCtxDestroy_v2 ||
         cbid == CUPTI_DRIVER_TRACE_CBID_cuDevicePrimaryCtxReset ||
         cbid == CUPTI_DRIVER_TRACE_CBID_cuDevicePrimaryCtxReset_v2;
}

// The calling thread's system id, read once per thread (gettid is a system call).
uint32_t cached_tid() {
  thread_local uint32_t tid = static_cast<uint32_t>(syscall(SYS_gettid));
  return tid;
}

uint64_t host_now(const State& st) {
  if (st.own_clock) return monotonic_ns();
  uint64_t t = 0;
  cuptiGetTimestamp(&t);
  return t;
}

// The one CUPTI subscriber callback. A context about to be destroyed takes its unflushed records with it: flush
// first. With the callback API source it also logs the chosen calls: the start time goes through CUPTI's
// per-call correlationData from entry to exit, and the exit appends one entry to the thread's log.
void CUPTIAPI on_api_callback(void* /*userdata*/, CUpti_CallbackDomain domain, CUpti_CallbackId cbid,
                              const void* data) {
  if (domain != CUPTI_CB_DOMAIN_RUNTIME_API && domain != CUPTI_CB_DOMAIN_DRIVER_API) return;
  const auto* cb = static_cast<const CUpti_CallbackData*>(data);
  State& st = state();
  if (cb->callbackSite == CUPTI_API_ENTER && is_teardown(domain, cbid)) {
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  }
  if (!st.callback_source || !st.logging.load(std::memory_order_relaxed)) return;
  const std::vector<uint8_t>& wanted = domain == CUPTI_CB_DOMAIN_RUNTIME_API ? st.log_runtime_cbid : st.log_driver_cbid;
  if (cbid >= wanted.size() || !wanted[cbid]) return;
  if (cb->callbackSite == CUPTI_API_ENTER) {
    if (cb->correlationData != nullptr) *cb->correlationData = host_now(st);
    return;
  }
  LoggedCall call;
  call.end_ns = host_now(st);
  call.start_ns = cb->correlationData != nullptr ? *cb->correlationData : call.end_ns;
  call.correlation = cb->correlationId;
  call.cbid = cbid;
  call.tid = cached_tid();
  call.return_value = cb->functionReturnValue != nullptr ? *static_cast<const uint32_t*>(cb->functionReturnValue) : 0;
  call.domain = static_cast<uint8_t>(domain == CUPTI_CB_DOMAIN_RUNTIME_API ? ApiDomain::kRuntime : ApiDomain::kDriver);
  st.api_log.append(call);
}

// Subscribes on_api_callback: the teardown calls always, and with the callback source every logged call.
// Returns "" or the reason it failed.
std::string subscribe_callbacks(State& st) {
  CUpti_SubscriberHandle subscriber;
  CUptiResult r = cuptiSubscribe(&subscriber, on_api_callback, nullptr);
  if (r != CUPTI_SUCCESS) return cupti_error(r, "cuptiSubscribe");
  auto enable = [&](CUpti_CallbackDomain domain, CUpti_CallbackId cbid) {
    return cuptiEnableCallback(1, subscriber, domain, cbid) == CUPTI_SUCCESS;
  };
  enable(CUPTI_CB_DOMAIN_RUNTIME_API, CUPTI_RUNTIME_TRACE_CBID_cudaDeviceReset_v3020);
  for (CUpti_CallbackId cbid :
       {CUPTI_DRIVER_TRACE_CBID_cuCtxDestroy, CUPTI_DRIVER_TRACE_CBID_cuCtxDestroy_v2,
        CUPTI_DRIVER_TRACE_CBID_cuDevicePrimaryCtxReset, CUPTI_DRIVER_TRACE_CBID_cuDevicePrimaryCtxReset_v2}) {
    enable(CUPTI_CB_DOMAIN_DRIVER_API, cbid);
  }
  if (!st.callback_source) return "";
  for (uint32_t cbid = 1; cbid < st.log_runtime_cbid.size(); ++cbid) {
    if (st.log_runtime_cbid[cbid] && !enable(CUPTI_CB_DOMAIN_RUNTIME_API, cbid)) st.log_runtime_cbid[cbid] = 0;
  }
  for (uint32_t cbid = 1; cbid < st.log_driver_cbid.size(); ++cbid) {
    if (st.log_driver_cbid[cbid] && !enable(CUPTI_CB_DOMAIN_DRIVER_API, cbid)) st.log_driver_cbid[cbid] = 0;
  }
  return "";
}

// The cbids whose calls are recorded, the same set for both API sources: every runtime call but the host queries
// (unless all_runtime_apis), and the driver calls that launch, copy, set or wait (or all of them).
void choose_cbids(State& st, const CollectorOptions& options) {
  st.log_runtime_cbid.assign(CUPTI_RUNTIME_TRACE_CBID_SIZE, 0);
  st.log_driver_cbid.assign(CUPTI_DRIVER_TRACE_CBID_SIZE, 0);
  for (uint32_t cbid = 1; cbid < CUPTI_RUNTIME_TRACE_CBID_SIZE; ++cbid) {
    const char* name = nullptr;
    if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_RUNTIME_API, cbid, &name) != CUPTI_SUCCESS || name == nullptr) continue;
    st.log_runtime_cbid[cbid] = options.all_runtime_apis || !is_host_query_runtime_api(strip_cbid_version(name));
  }
  for (uint32_t cbid = 1; cbid < CUPTI_DRIVER_TRACE_CBID_SIZE; ++cbid) {
    const char* name = nullptr;
    if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_DRIVER_API, cbid, &name) != CUPTI_SUCCESS || name == nullptr) continue;
    st.log_driver_cbid[cbid] = options.all_driver_apis || wanted_driver_api(strip_cbid_version(name));
  }
}

// Moves the callback log into the model (under st.mu).
void take_logged_calls(State& st) {
  if (!st.callback_source) return;
  std::vector<LoggedCall> calls;
  st.api_log.take(calls);
  st.model.api_calls.reserve(st.model.api_calls.size() + calls.size());
  for (const LoggedCall& l : calls) {
    ApiCall c;
    c.domain = static_cast<ApiDomain>(l.domain);
    c.cbid = l.cbid;
    c.name_idx = api_name(st, c.domain, l.cbid);
    c.start_ns = l.start_ns;
    c.end_ns = l.end_ns;
    c.pid = st.model.pid;
    c.tid = l.tid;
    c.correlation = l.correlation;
    c.return_value = l.return_value;
    st.model.api_calls.push_back(c);
  }
  st.model.counts.api_calls_lost = st.api_log.lost();
}

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return !(std::strcmp(v, "0") == 0 || std::strcmp(v, "false") == 0 || std::strcmp(v, "off") == 0);
}

}  // namespace

CollectorOptions collector_options_from_env() {
  CollectorOptions o;
  if (const char* mb = std::getenv("LAUNCHPROF_BUFFER_MB")) {
    long v = std::strtol(mb, nullptr, 10);
    if (v > 0 && v <= 1024) o.buffer_bytes = static_cast<size_t>(v) << 20;
  }
  o.latency_timestamps = env_flag("LAUNCHPROF_LATENCY", false);
  const char* driver = std::getenv("LAUNCHPROF_DRIVER_API");
  o.all_driver_apis = driver != nullptr && std::strcmp(driver, "all") == 0;
  const char* runtime = std::getenv("LAUNCHPROF_RUNTIME_API");
  o.all_runtime_apis = runtime != nullptr && std::strcmp(runtime, "all") == 0;
  o.markers = env_flag("LAUNCHPROF_NVTX", true);
  const char* source = std::getenv("LAUNCHPROF_API_SOURCE");
  if (source != nullptr && std::strcmp(source, "callback") == 0) o.api_source = ApiSource::kCallback;
  const char* tids = std::getenv("LAUNCHPROF_THREAD_IDS");
  o.system_thread_ids = !(tids != nullptr && std::strcmp(tids, "cupti") == 0);
  o.api_records = !env_flag("LAUNCHPROF_DIAG_NO_API", false);
  o.kernel_records = !env_flag("LAUNCHPROF_DIAG_NO_KERNELS", false);
  o.subscriber = !env_flag("LAUNCHPROF_DIAG_NO_SUBSCRIBER", false);
  o.own_clock = !env_flag("LAUNCHPROF_DIAG_CUPTI_CLOCK", false);
  o.extra_kinds = !env_flag("LAUNCHPROF_DIAG_NO_EXTRA_KINDS", false);
  return o;
}

std::string loaded_cupti_path() {
  std::string path;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        const char* name = info->dlpi_name;
        if (name != nullptr && std::strstr(name, "libcupti.so") != nullptr) {
          *static_cast<std::string*>(out) = name;
          return 1;
        }
        return 0;
      },
      &path);
  return path;
}

void collector_start_call_log_for_test(const CollectorOptions& options) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  choose_cbids(st, options);
  st.callback_source = options.api_source == ApiSource::kCallback;
  st.logging.store(st.callback_source, std::memory_order_relaxed);
  st.model.pid = static_cast<uint32_t>(getpid());
}

void collector_api_callback_for_test(uint32_t cupti_domain, uint32_t cbid, const void* callback_data) {
  on_api_callback(nullptr, static_cast<CUpti_CallbackDomain>(cupti_domain), cbid, callback_data);
}

uint64_t collector_now_ns() {
  if (state().own_clock) return monotonic_ns();
  uint64_t t = 0;
  cuptiGetTimestamp(&t);
  return t;
}

CollectorStatus collector_start(const CollectorOptions& options) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (st.started) return {false, "collector already started"};
  st.buffer_bytes = options.buffer_bytes;
  st.model.pid = static_cast<uint32_t>(getpid());
  uint32_t version = 0;
  cuptiGetVersion(&version);
  st.model.cupti_version = std::to_string(version);

  // The timestamp callback must come before any kind is enabled; once per process (start is refused a second time).
  CUptiResult r = options.own_clock ? cuptiActivityRegisterTimestampCallback(monotonic_ns) : CUPTI_ERROR_NOT_SUPPORTED;
  st.own_clock = r == CUPTI_SUCCESS;
  if (!st.own_clock) st.model.clock = "CUPTI default";  // records still share one clock; only its origin differs
  cuptiSetThreadIdType(options.system_thread_ids ? CUPTI_ACTIVITY_THREAD_ID_TYPE_SYSTEM
                                                 : CUPTI_ACTIVITY_THREAD_ID_TYPE_DEFAULT);
  st.model.thread_ids = options.system_thread_ids ? "system" : "cupti";
  std::string warnings;
  // Buffers come zeroed from the pool (see BufferPool), so CUPTI need not zero them on the application thread.
  uint8_t zeroed = 1;
  size_t zeroed_size = sizeof(zeroed);
  r = cuptiActivitySetAttribute(CUPTI_ACTIVITY_ATTR_ZEROED_OUT_ACTIVITY_BUFFER, &zeroed_size, &zeroed);
  if (r != CUPTI_SUCCESS) warnings += cupti_error(r, "zeroed-buffer attribute (CUPTI zeroes each buffer)") + "; ";
  fill_pool(st, kPreallocatedBuffers);
  r = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
  if (r != CUPTI_SUCCESS) return {false, cupti_error(r, "cuptiActivityRegisterCallbacks")};
  if (options.latency_timestamps) cuptiActivityEnableLatencyTimestamps(1);

  // Which calls are recorded, then who records them. The subscriber comes first: if it cannot be had, the
  // callback source falls back to activity records.
  choose_cbids(st, options);
  st.callback_source = options.api_records && options.api_source == ApiSource::kCallback;
  st.logging.store(st.callback_source, std::memory_order_relaxed);
  // Without the subscriber (a diagnostic), the callback source has nothing to log with.
  std::string sub = options.subscriber || st.callback_source ? subscribe_callbacks(st) : std::string();
  if (!options.subscriber && !st.callback_source)
    warnings += "diagnostic: no CUPTI subscriber (no flush before cudaDeviceReset); ";
  if (!sub.empty()) {
    warnings += sub + (st.callback_source ? " (API calls from activity records instead; no flush before "
                                            "cudaDeviceReset)"
                                          : " (no flush before cudaDeviceReset)");
    warnings += "; ";
    st.callback_source = false;
    st.logging.store(false, std::memory_order_relaxed);
  }
  st.model.api_source = options.api_records ? (st.callback_source ? "callback" : "activity") : "none (diagnostic)";

  // Kinds that must work; then kinds that are useful where supported.
  std::vector<CUpti_ActivityKind> required = {CUPTI_ACTIVITY_KIND_MEMCPY, CUPTI_ACTIVITY_KIND_MEMSET};
  if (options.kernel_records) required.push_back(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
  const bool api_activity = options.api_records && !st.callback_source;
  if (api_activity) required.push_back(CUPTI_ACTIVITY_KIND_RUNTIME);
  for (CUpti_ActivityKind kind : required) {
    r = cuptiActivityEnable(kind);
    if (r != CUPTI_SUCCESS)
      return {false, cupti_error(r, "cuptiActivityEnable") + " (kind " + std::to_string(kind) + ")"};
  }
  // After the RUNTIME kind: enabling the kind resets the per-call settings.
  if (api_activity && !options.all_runtime_apis && filter_runtime_queries(warnings) > 0) {
    st.model.runtime_apis = "no host queries";
  }
  if (st.callback_source && !options.all_runtime_apis) st.model.runtime_apis = "no host queries";
  // Plain enable, not EnableAndDump: the collector starts before CUDA initializes (injection, or a program that
  // starts it first), so device and context records arrive as CUDA creates them.
  auto optional = [&](CUpti_ActivityKind kind) {
    CUptiResult res = cuptiActivityEnable(kind);
    if (res != CUPTI_SUCCESS) warnings += cupti_error(res, "enable kind " + std::to_string(kind)) + "; ";
  };
  if (options.extra_kinds) {
    optional(CUPTI_ACTIVITY_KIND_SYNCHRONIZATION);
    if (options.api_records) optional(CUPTI_ACTIVITY_KIND_INTERNAL_LAUNCH_API);
    optional(CUPTI_ACTIVITY_KIND_DEVICE);
    optional(CUPTI_ACTIVITY_KIND_CONTEXT);
    if (options.markers) optional(CUPTI_ACTIVITY_KIND_MARKER);
  }
  if (api_activity && options.all_driver_apis) {
    optional(CUPTI_ACTIVITY_KIND_DRIVER);
  } else if (api_activity) {
    for (uint32_t cbid = 1; cbid < st.log_driver_cbid.size(); ++cbid) {
      if (st.log_driver_cbid[cbid]) cuptiActivityEnableDriverApi(cbid, 1);
    }
  }
  st.started = true;
  return {true, warnings};
}

CollectorStatus collector_flush() {
  CUptiResult r = cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(nullptr, 0, &dropped) == CUPTI_SUCCESS)
    st.model.counts.dropped_records += dropped;
  if (r != CUPTI_SUCCESS) return {false, cupti_error(r, "cuptiActivityFlushAll")};
  return {};
}

CollectorStatus collector_stop() {
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (!st.started) return {false, "collector not started"};
  }
  st.stopping.store(true, std::memory_order_relaxed);
  st.logging.store(false, std::memory_order_relaxed);
  CollectorStatus status = collector_flush();
  {
    std::lock_guard<std::mutex> lock(st.pool.mu);
    for (uint8_t* p : st.pool.free) std::free(p);
    st.pool.free.clear();
  }
  const CUpti_ActivityKind kinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL,
                                      CUPTI_ACTIVITY_KIND_RUNTIME,
                                      CUPTI_ACTIVITY_KIND_DRIVER,
                                      CUPTI_ACTIVITY_KIND_MEMCPY,
                                      CUPTI_ACTIVITY_KIND_MEMSET,
                                      CUPTI_ACTIVITY_KIND_SYNCHRONIZATION,
                                      CUPTI_ACTIVITY_KIND_INTERNAL_LAUNCH_API,
                                      CUPTI_ACTIVITY_KIND_MARKER,
                                      CUPTI_ACTIVITY_KIND_DEVICE,
                                      CUPTI_ACTIVITY_KIND_CONTEXT};
  for (CUpti_ActivityKind kind : kinds) cuptiActivityDisable(kind);
  return status;
}

TraceModel collector_take() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  take_logged_calls(st);
  TraceModel out = std::move(st.model);
  out.counts.unclosed_ranges += st.open_markers.size();
  out.counts.buffers_allocated_on_request += st.buffers_allocated_on_request.exchange(0);
  st.model = TraceModel();
  st.model.pid = out.pid;
  st.model.cupti_version = out.cupti_version;
  st.model.clock = out.clock;
  st.model.runtime_apis = out.runtime_apis;
  st.model.api_source = out.api_source;
  st.model.thread_ids = out.thread_ids;
  // Every cache of string indices points into the model just taken: all of them start again.
  st.kernel_names.clear();
  st.last_kernel_name = nullptr;
  st.runtime_names.clear();
  st.driver_names.clear();
  st.copy_names.clear();
  std::fill(std::begin(st.sync_names), std::end(st.sync_names), 0u);
  st.internal_launch_name = 0;
  st.last_context = UINT32_MAX;
  return out;
}

void collector_ingest_buffer(uint8_t* buffer, size_t valid_size) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  ingest(st, buffer, valid_size);
  st.model.counts.buffers_completed += 1;
}

}  // namespace launchprof::record
