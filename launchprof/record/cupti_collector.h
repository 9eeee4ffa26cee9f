// Collects CUPTI activity records of this process into a TraceModel. CUPTI hands records back through plain C
// callbacks, so there is one collector per process; the functions below drive it.
#pragma once

#include <cstddef>
#include <string>

#include "trace_model.h"

namespace launchprof::record {

// Where the runtime and driver API calls come from. kActivity: CUPTI's RUNTIME / DRIVER activity records.
// kCallback: our own CUPTI callback (cuptiSubscribe) on the same calls, which stores two timestamps, the correlation
// id and the cached thread id in a per-thread log (api_call_log.h); CUPTI then writes no API records at all. Which
// one costs the launching thread less is for a GPU run to say (launchprof/studies/overhead.py measures both).
enum class ApiSource { kActivity, kCallback };

struct CollectorOptions {
  size_t buffer_bytes = 16u << 20;  // host activity buffer handed to CUPTI each time it asks
  bool latency_timestamps = false;  // kernel "queued"/"submitted" times (cuptiActivityEnableLatencyTimestamps)
  bool all_driver_apis = false;     // every driver call, not only launches, copies, sets and syncs
  bool all_runtime_apis = false;    // also host-state queries (cudaGetDevice, cudaGetLastError, ...); see api_names.h
  bool markers = true;              // NVTX ranges (needs NVTX_INJECTION64_PATH; see inject.cpp)
  ApiSource api_source = ApiSource::kActivity;
  // Thread ids in CUPTI's records: the system id (CUPTI documents SYS_gettid for it on Linux) or CUPTI's default,
  // pthread_self() cut to 32 bits. The callback source always writes the system id, read once per thread.
  bool system_thread_ids = true;
  // Diagnostics for the overhead study only, never for a trace to analyze: leave out the API records (kernels,
  // copies, sets, syncs and NVTX stay), or the kernel records. Their costs then show apart.
  bool api_records = true;
  bool kernel_records = true;
  // Diagnostics of what CUPTI attached costs the launching thread, apart from any record per launch: the CUPTI
  // subscriber (it flushes before cudaDeviceReset and context teardown), launchprof's timestamp callback (CUPTI's
  // own clock instead), and the kinds beyond kernels, API calls, copies and sets (synchronization, internal
  // launches, devices, contexts, NVTX markers).
  bool subscriber = true;
  bool own_clock = true;
  bool extra_kinds = true;
};

// Reads LAUNCHPROF_BUFFER_MB, LAUNCHPROF_LATENCY, LAUNCHPROF_DRIVER_API=all, LAUNCHPROF_RUNTIME_API=all,
// LAUNCHPROF_NVTX=0, LAUNCHPROF_API_SOURCE=activity|callback, LAUNCHPROF_THREAD_IDS=system|cupti, and the
// diagnostics LAUNCHPROF_DIAG_NO_API=1, LAUNCHPROF_DIAG_NO_KERNELS=1, LAUNCHPROF_DIAG_NO_SUBSCRIBER=1,
// LAUNCHPROF_DIAG_CUPTI_CLOCK=1, LAUNCHPROF_DIAG_NO_EXTRA_KINDS=1.
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

// Test hooks for the callback API source, no GPU needed: the first turns its log on as collector_start would
// (without subscribing to CUPTI), the second is the subscriber callback, called with a hand-built
// CUpti_CallbackData. collector_take() then returns the logged calls.
void collector_start_call_log_for_test(const CollectorOptions& options);
void collector_api_callback_for_test(uint32_t cupti_domain, uint32_t cbid, const void* callback_data);

// Now, on the clock of the collector's records (CLOCK_MONOTONIC ns once the timestamp callback is registered,
// else CUPTI's own), so that host code can mark time windows in a trace.
uint64_t collector_now_ns();

// The file of the libcupti loaded in this process ("" if none): where NVTX must send its calls
// (NVTX_INJECTION64_PATH) for NVTX ranges to arrive as marker records of this CUPTI.
std::string loaded_cupti_path();

}  // namespace launchprof::record
