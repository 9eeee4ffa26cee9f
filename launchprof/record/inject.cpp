// liblaunchprof_inject.so: loaded by the CUDA driver from CUDA_INJECTION64_PATH, which calls InitializeInjection
// during cuInit, before the program's first CUDA call returns. It starts the CUPTI collector and, at exit, writes
// the trace to LAUNCHPROF_OUTPUT and a summary to stderr. `launchprof record` sets the variables; see record_cli.h.
//
// Environment:
//   LAUNCHPROF_OUTPUT          trace path (".gz" compresses); "%p" becomes the pid. Default launchprof-<pid>.json.gz
//   LAUNCHPROF_ROOT_PID        set by `launchprof record`: other processes (children of the command) write to
//                              the output path with ".<pid>" before ".json"
//   LAUNCHPROF_CAPTURE_RANGE   "cudaProfilerApi": keep only what runs between cudaProfilerStart and Stop
//   LAUNCHPROF_QUIET=1         no summary on stderr
//   (and the collector's: LAUNCHPROF_BUFFER_MB, LAUNCHPROF_LATENCY, LAUNCHPROF_DRIVER_API=all, LAUNCHPROF_NVTX=0)
//
// NVTX: NVTX hands its calls to the library named by NVTX_INJECTION64_PATH. `launchprof record` points it at this
// library, which forwards to the CUPTI it is linked with, so that NVTX ranges arrive as CUPTI marker records
// from the same CUPTI instance (a second copy of libcupti in the process would not see our configuration).
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "cupti_collector.h"
#include "output_file.h"
#include "trace_link.h"
#include "trace_writer.h"

namespace {

using launchprof::record::collector_options_from_env;
using launchprof::record::collector_start;
using launchprof::record::collector_stop;
using launchprof::record::collector_take;

bool quiet() {
  const char* q = std::getenv("LAUNCHPROF_QUIET");
  return q != nullptr && std::strcmp(q, "1") == 0;
}

// The output path for this process, following LAUNCHPROF_OUTPUT, "%p" and LAUNCHPROF_ROOT_PID.
std::string output_path() {
  const std::string pid = std::to_string(getpid());
  const char* env = std::getenv("LAUNCHPROF_OUTPUT");
  std::string path = env != nullptr && *env != '\0' ? env : "launchprof-%p.json.gz";
  bool had_pid = false;
  for (size_t pos; (pos = path.find("%p")) != std::string::npos;) {
    path.replace(pos, 2, pid);
    had_pid = true;
  }
  const char* root = std::getenv("LAUNCHPROF_ROOT_PID");
  if (!had_pid && root != nullptr && pid != root) {
    // A child of the recorded command: keep the parent's file, write beside it.
    size_t dot = path.rfind(".json");
    path.insert(dot == std::string::npos ? path.size() : dot, "." + pid);
  }
  return path;
}

void write_trace_at_exit() {
  const bool q = quiet();
  auto status = collector_stop();
  if (!status.ok && !q) std::fprintf(stderr, "launchprof: %s\n", status.message.c_str());
  launchprof::record::TraceModel model = collector_take();
  launchprof::record::LinkOptions link_options;
  const char* capture = std::getenv("LAUNCHPROF_CAPTURE_RANGE");
  link_options.capture_profiler_range = capture != nullptr && std::strcmp(capture, "cudaProfilerApi") == 0;
  launchprof::record::LinkedTrace linked = launchprof::record::link_trace(model, link_options);
  launchprof::record::TraceSummary summary = launchprof::record::summarize(model, linked);

  const std::string path = output_path();
  std::string error;
  auto sink = launchprof::record::FileSink::open(path, &error);
  if (!sink) {
    std::fprintf(stderr, "launchprof: cannot write trace: %s\n", error.c_str());
    return;
  }
  launchprof::record::WriterOptions options;
  options.trace_name = path;
  auto result = launchprof::record::write_chrome_trace(model, linked, summary, options, *sink);
  bool closed = sink->close(&error);
  if (!result.ok || !closed) {
    std::fprintf(stderr, "launchprof: trace write failed: %s\n", result.ok ? error.c_str() : result.error.c_str());
    return;
  }
  if (!q) {
    std::fputs(launchprof::record::format_summary(model, linked, summary).c_str(), stderr);
    std::fprintf(stderr, "launchprof: wrote %llu events to %s%s\n", static_cast<unsigned long long>(result.events),
                 path.c_str(),
                 path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0 && !sink->compressed()
                     ? " (not compressed: built without zlib)"
                     : "");
  }
}

bool start_once() {
  auto status = collector_start(collector_options_from_env());
  if (!status.ok) {
    std::fprintf(stderr, "launchprof: not recording: %s\n", status.message.c_str());
    return false;
  }
  if (!status.message.empty() && !quiet()) std::fprintf(stderr, "launchprof: note: %s\n", status.message.c_str());
  std::atexit(write_trace_at_exit);
  return true;
}

// The libcupti this library was linked with (already loaded as its dependency).
void* own_cupti_handle() {
  const std::string path = launchprof::record::loaded_cupti_path();
  return path.empty() ? nullptr : dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
}

}  // namespace

extern "C" {

// CUDA's injection entry point. It may be reached more than once (several contexts); it starts recording once.
__attribute__((visibility("default"))) int InitializeInjection(void) {
  static std::once_flag once;
  static bool started = false;
  std::call_once(once, [] { started = start_once(); });
  // Never fail the program's CUDA initialization because recording could not start.
  (void)started;
  return 1;
}

// NVTX's injection entry point (NVTX_INJECTION64_PATH=this library): hand NVTX to our CUPTI.
__attribute__((visibility("default"))) int InitializeInjectionNvtx2(const void* get_export_table) {
  void* cupti = own_cupti_handle();
  if (cupti == nullptr) return 0;
  using Fn = int (*)(const void*);
  auto fn = reinterpret_cast<Fn>(dlsym(cupti, "InitializeInjectionNvtx2"));
  return fn != nullptr ? fn(get_export_table) : 0;
}

}  // extern "C"
