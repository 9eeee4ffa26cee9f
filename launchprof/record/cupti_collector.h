// Collects CUPTI activity records of this process into a TraceModel. CUPTI hands records back through plain C
// callbacks, so there is one collector per process; the functions below drive it.
#pragma once

#include <cstddef>
#include <string>

#include "trace_model.h"

namespace launchprof::record {

struct CollectorOptions {
  size_t buffer_bytes = 16u << 20;  // host activity buffer handed to CUPTI each time it asks
  bool latency_timestamps = false;  // kernel "queued"/"submitted" times (cuptiActivityEnableLatencyTimestamps)
  bool all_driver_apis = false;     // every driver call, not only launches, copies, sets and syncs
  bool all_runtime_apis = false;    // also host-state queries (cudaGetDevice, cudaGetLastError, ...); see api_names.h
  bool markers = true;              // NVTX ranges (needs NVTX_INJECTION64_PATH; see inject.cpp)
};

// Reads LAUNCHPROF_BUFFER_MB, LAUNCHPROF_LATENCY, LAUNCHPROF_DRIVER_API=all, LAUNCHPROF_RUNTIME_API=all and
// LAUNCHPROF_NVTX=0.
CollectorOptions collector_options_from_env();

struct CollectorStatus {
  bool ok = true;
  std::string message;
};

// Registers the timestamp callback (once per process), the buffer callbacks, and enables the activity kinds.
CollectorStatus collector_start(const CollectorOptions& options);
// Forces every record collected so far, finished or not, into the model.
CollectorStatus collector_flush();
// Disables the activity kinds and flushes.
CollectorStatus collector_stop();
// Moves the records out; the collector keeps running with an empty model.
TraceModel collector_take();

// Converts the records of one CUPTI activity buffer into the model, exactly as the buffer-completed callback does
// (without recycling the buffer). Needs libcupti but no GPU: the CPU tests and launchprof-record-bench feed it
// hand-built records.
void collector_ingest_buffer(uint8_t* buffer, size_t valid_size);

// Now, on the clock of the collector's records (CLOCK_MONOTONIC ns once the timestamp callback is registered,
// else CUPTI's own), so that host code can mark time windows in a trace.
uint64_t collector_now_ns();

// The file of the libcupti loaded in this process ("" if none): where NVTX must send its calls
// (NVTX_INJECTION64_PATH) for NVTX ranges to arrive as marker records of this CUPTI.
std::string loaded_cupti_path();

}  // namespace launchprof::record
