// launchprof-record-bench: what the injection library's own code costs per record, on the CPU, without a GPU.
// It times the pieces of recording that run on the host:
//   clock   - one timestamp (the callback launchprof registers reads CLOCK_MONOTONIC; CUPTI's default reads
//             CLOCK_REALTIME); CUPTI takes two per API record, on the calling thread
//   zero    - zeroing one activity buffer: a new allocation (page faults) and a resident one. Without a zeroed
//             buffer ready, CUPTI zeroes it on the application thread that filled the previous one
//   ingest  - the buffer-completed conversion (collector_ingest_buffer) per record, for a C++ launch (1 runtime
//             record + 1 kernel) and a PyTorch-like launch (+ 8 cudaGetDevice + 1 cudaGetLastError, the host
//             queries left out by default)
//   exit    - link + summary + gzip Chrome trace of N launches, as written at process exit
// Usage: launchprof-record-bench [--launches N] [--buffer-mb M] [--out DIR]
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cupti_collector.h"
#include "output_file.h"
#include "synthetic_records.h"
#include "trace_link.h"
#include "trace_writer.h"

namespace lp = launchprof::record;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double clock_ns(clockid_t id) {
  constexpr int kCalls = 2000000;
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    timespec ts;
    uint64_t sink = 0;
    auto t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) {
      clock_gettime(id, &ts);
      sink += static_cast<uint64_t>(ts.tv_nsec);
    }
    runs.push_back(seconds_since(t0) * 1e9 / kCalls);
    if (sink == 1) std::puts("");  // keeps the loop
  }
  return median(runs);
}

// Milliseconds to zero `bytes`: fresh pages from mmap (first touch), then the same pages again.
void zero_ms(size_t bytes, double* fresh_ms, double* resident_ms) {
  std::vector<double> fresh, resident;
  for (int r = 0; r < 7; ++r) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    auto t0 = Clock::now();
    std::memset(p, 0, bytes);
    asm volatile("" ::"r"(p) : "memory");
    fresh.push_back(seconds_since(t0) * 1e3);
    t0 = Clock::now();
    std::memset(p, 0, bytes);
    asm volatile("" ::"r"(p) : "memory");
    resident.push_back(seconds_since(t0) * 1e3);
    munmap(p, bytes);
  }
  *fresh_ms = median(fresh);
  *resident_ms = median(resident);
}

// One buffer of `launches` launches; with host queries, each launch is preceded by PyTorch's usual queries.
lp::synthetic::ActivityBuffer make_launches(int launches, bool host_queries) {
  lp::synthetic::ActivityBuffer b;
  uint64_t t = 1000000;
  uint32_t corr = 1;
  for (int i = 0; i < launches; ++i) {
    if (host_queries) {
      for (int q = 0; q < 8; ++q, t += 100)
        b.api(CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_RUNTIME_TRACE_CBID_cudaGetDevice_v3020, t, t + 50, corr++);
    }
    b.api(CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_RUNTIME_TRACE_CBID_cudaLaunchKernel_v7000, t, t + 2000, corr);
    b.kernel("_ZN10launchprof7studies11null_kernelEv", t + 5000, t + 5600, corr++);
    if (host_queries) {
      b.api(CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_RUNTIME_TRACE_CBID_cudaGetLastError_v3020, t + 2100, t + 2150, corr++);
    }
    t += 4800;
  }
  return b;
}

// Nanoseconds per record of the buffer-completed conversion (median of runs), and the model of the last run.
double ingest_ns_per_record(lp::synthetic::ActivityBuffer& b, lp::TraceModel* last) {
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    lp::collector_take();
    auto t0 = Clock::now();
    lp::collector_ingest_buffer(b.data(), b.size());
    runs.push_back(seconds_since(t0) * 1e9 / static_cast<double>(b.records()));
    *last = lp::collector_take();
  }
  return median(runs);
}

void report_ingest(const char* label, lp::synthetic::ActivityBuffer buffer, int launches, lp::TraceModel* model) {
  double ns = ingest_ns_per_record(buffer, model);
  std::printf("ingest    %s  %8.1f ns per record, %8.1f ns per launch (%zu B per launch in the buffer)\n", label, ns,
              ns * static_cast<double>(buffer.records()) / launches, buffer.size() / static_cast<size_t>(launches));
}

// Writes the trace as the injection library does at exit; returns "" or the error.
std::string write_trace(const lp::TraceModel& model, const lp::LinkedTrace& linked, const lp::TraceSummary& summary,
                        const std::string& path, double* seconds, uint64_t* events) {
  std::string error;
  auto t0 = Clock::now();
  auto sink = lp::FileSink::open(path, &error);
  if (!sink) return error;
  lp::WriterOptions options;
  options.trace_name = path;
  lp::WriteResult written = lp::write_chrome_trace(model, linked, summary, options, *sink);
  bool closed = sink->close(&error);
  *seconds = seconds_since(t0);
  *events = written.events;
  if (!written.ok) return written.error;
  return closed ? "" : error;
}

}  // namespace

int main(int argc, char** argv) {
  int launches = 50000;  // the overhead study's C++ process: 5 loops of 10,000 launches
  size_t buffer_mb = 16;
  std::string out_dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--launches" && i + 1 < argc) {
      launches = std::atoi(argv[++i]);
    } else if (a == "--buffer-mb" && i + 1 < argc) {
      buffer_mb = static_cast<size_t>(std::atoi(argv[++i]));
    } else if (a == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: launchprof-record-bench [--launches N] [--buffer-mb M] [--out DIR]\n");
      return 2;
    }
  }
  if (launches <= 0 || buffer_mb == 0) return 2;

  std::printf("# launchprof-record-bench: host-side costs of recording (no GPU), %d launches, %zu MiB buffers\n",
              launches, buffer_mb);
  std::printf("clock     CLOCK_MONOTONIC (launchprof's timestamp callback)  %8.1f ns per timestamp\n",
              clock_ns(CLOCK_MONOTONIC));
  std::printf("clock     CLOCK_REALTIME (CUPTI's default)                   %8.1f ns per timestamp\n",
              clock_ns(CLOCK_REALTIME));
  double fresh = 0, resident = 0;
  zero_ms(buffer_mb << 20, &fresh, &resident);
  std::printf("zero      one %zu MiB buffer, new pages (page faults)           %8.3f ms\n", buffer_mb, fresh);
  std::printf("zero      one %zu MiB buffer, resident                         %8.3f ms\n", buffer_mb, resident);

  lp::TraceModel model;
  report_ingest("C++ launch: runtime + kernel record  ", make_launches(launches, false), launches, &model);
  lp::TraceModel torch_model;
  report_ingest("PyTorch-like launch: + 9 host queries", make_launches(launches, true), launches, &torch_model);

  // Exit: what write_trace_at_exit does with the C++ model, to a gzip file and (for the split) a plain one.
  auto t0 = Clock::now();
  lp::LinkedTrace linked = lp::link_trace(model, {});
  lp::TraceSummary summary = lp::summarize(model, linked);
  double link_s = seconds_since(t0);
  std::printf("exit      link + summary of %d launches                 %8.1f ms (%6.1f ns per launch)\n", launches,
              link_s * 1e3, link_s * 1e9 / launches);
  for (const char* suffix : {".json.gz", ".json"}) {
    const std::string path = out_dir + "/launchprof-record-bench" + suffix;
    double write_s = 0;
    uint64_t events = 0;
    std::string error = write_trace(model, linked, summary, path, &write_s, &events);
    std::remove(path.c_str());
    if (!error.empty()) {
      std::fprintf(stderr, "launchprof-record-bench: %s\n", error.c_str());
      return 1;
    }
    std::printf("exit      Chrome trace to %-8s %llu events          %8.1f ms (%6.1f ns per launch)\n", suffix,
                static_cast<unsigned long long>(events), write_s * 1e3, write_s * 1e9 / launches);
  }
  return 0;
}
