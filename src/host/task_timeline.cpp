#include "host/task_timeline.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <sstream>

#include "device/ticket_layout.h"
#include "host/cuda_check.h"

namespace onemoe::host {

TaskTimeline::~TaskTimeline() {
  if (spans_ == nullptr) return;
  DeviceGuard guard(device_);
  cudaFree(spans_);
}

Result TaskTimeline::allocate(uint32_t tickets) {
  ONEMOE_CUDA_TRY(cudaGetDevice(&device_), "cudaGetDevice");
  const size_t bytes = size_t(tickets) * sizeof(device::TaskSpanRecord);
  void* spans = nullptr;
  ONEMOE_CUDA_TRY(cudaMalloc(&spans, bytes), "allocating the task timeline");
  spans_ = static_cast<device::TaskSpanRecord*>(spans);
  ONEMOE_CUDA_TRY(cudaMemset(spans_, 0, bytes), "clearing the task timeline");
  capacity_ = tickets;
  return Result::success();
}

void TaskTimeline::attach(device::KernelParams* p) {
  if (spans_ == nullptr) return;
  p->task_spans = p->num_tickets <= capacity_ ? spans_ : nullptr;
  last_ = *p;
}

Result TaskTimeline::read(std::vector<TaskSpan>* out) const {
  if (out == nullptr) return Result::error(Status::kErrorInvalidArgument, "out is null");
  out->clear();
  if (spans_ == nullptr)
    return Result::error(Status::kErrorInvalidArgument, "the context was created without record_task_timeline");
  if (last_.task_spans == nullptr)
    return Result::error(Status::kErrorInvalidArgument, "no forward has recorded a timeline yet");
  const device::KernelParams& p = last_;
  std::vector<device::TaskSpanRecord> records(p.num_tickets);
  ONEMOE_CUDA_TRY(cudaMemcpy(records.data(), spans_, records.size() * sizeof(records[0]), cudaMemcpyDeviceToHost),
                  "reading the task timeline");
  // The forward that ran last: the kernel keeps its epoch in device memory (this_forward_epoch).
  uint32_t epoch = 0;
  ONEMOE_CUDA_TRY(cudaMemcpy(&epoch, p.forward_epoch, sizeof(epoch), cudaMemcpyDeviceToHost),
                  "reading the forward epoch");
  uint64_t origin = UINT64_MAX;
  for (const auto& r : records)
    if (r.epoch == epoch) origin = std::min(origin, r.start_ns);
  const uint32_t route_end = uint32_t(p.num_route_tiles);  // expert parallel: the plan's ticket follows
  for (uint32_t t = 0; t < p.num_tickets; ++t) {
    const device::TaskSpanRecord& r = records[t];
    if (r.epoch != epoch) continue;  // not reached: the forward gave up before this ticket
    TaskSpan s;
    if (r.stage == device::kSpanStageDispatch) s.stage = "dispatch", s.index = r.index;
    else if (r.stage == device::kSpanStageGemm1) s.stage = "gemm1", s.index = r.index;
    else if (t < route_end) s.stage = "route", s.index = int(t);
    else if (t < p.first_dispatch_ticket) s.stage = "plan", s.index = int(t - route_end);
    else if (t < p.first_gemm1_ticket) s.stage = "dispatch", s.index = int(t - p.first_dispatch_ticket);
    else if (t < p.first_gemm2_ticket) {
      const device::EarlyTicket early = device::locate_gemm1_ticket(t - p.first_gemm1_ticket, p.max_expert_tiles,
                                                                    p.gemm1_n_tiles, p.gather_lead);
      s.stage = early.gather ? "gather" : "gemm1";
      s.index = early.index;
    }
    else {
      const device::LateTicket late =
          device::locate_late_ticket(t - p.first_gemm2_ticket, p.max_expert_tiles, p.gemm2_n_tiles, p.gemm2_groups,
                                     p.num_route_tiles, p.combine_parts);
      s.stage = late.combine ? "combine" : "gemm2";
      s.index = late.index;
    }
    s.block = int(r.block);
    s.sm = int(r.sm);
    s.start_us = double(r.start_ns - origin) * 1e-3;
    s.end_us = double(r.end_ns - origin) * 1e-3;
    static_assert(TaskSpan::kMarks == device::kTaskMarks);
    for (int i = 0; i < TaskSpan::kMarks; ++i)
      if (r.mark_offset_ns[i] != 0) s.mark_us[i] = s.start_us + double(r.mark_offset_ns[i] - 1) * 1e-3;
    out->push_back(s);
  }
  return Result::success();
}

}  // namespace onemoe::host
