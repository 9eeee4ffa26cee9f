#include "launchprof/analyze/timeline_cli.h"

#include <zlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "launchprof/analyze/analyze_cli.h"
#include "launchprof/analyze/byte_source.h"
#include "launchprof/analyze/event_splitter.h"
#include "launchprof/analyze/timeline_merge.h"
#include "launchprof/analyze/trace_reader.h"

namespace launchprof {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Plain or gzip output, chosen by the name (".gz").
class TraceOutput {
 public:
  bool open(const std::string& path) {
    gz_ = ends_with(path, ".gz");
    if (gz_) {
      gzf_ = gzopen(path.c_str(), "wb6");
      return gzf_ != nullptr;
    }
    f_ = std::fopen(path.c_str(), "wb");
    return f_ != nullptr;
  }
  bool write(const char* data, size_t n) {
    if (n == 0) return ok_;
    if (gz_)
      ok_ = ok_ && gzwrite(gzf_, data, static_cast<unsigned>(n)) == static_cast<int>(n);
    else
      ok_ = ok_ && std::fwrite(data, 1, n, f_) == n;
    return ok_;
  }
  bool write(const std::string& s) { return write(s.data(), s.size()); }
  bool close() {
    if (gz_)
      ok_ = (gzf_ && gzclose(gzf_) == Z_OK) && ok_;
    else
      ok_ = (f_ && std::fclose(f_) == 0) && ok_;
    gzf_ = nullptr;
    f_ = nullptr;
    return ok_;
  }

 private:
  bool gz_ = false, ok_ = true;
  gzFile gzf_ = nullptr;
  std::FILE* f_ = nullptr;
};

}  // namespace

CLI::App* add_timeline_command(CLI::App& app, TimelineCliOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "timeline",
      "Put onemoe's in-kernel task timeline (onemoe-bench --timeline PREFIX writes it as CSV) into a Chrome trace: "
      "one track per SM under the kernel's process, the tasks as slices named by stage, their marks as instant "
      "events, the first task at the kernel's start. Open the result in Perfetto, or run launchprof analyze on it.");
  cmd->add_option("--trace", o.trace_path, "the trace holding the kernel (launchprof record or PyTorch profiler)")
      ->required();
  cmd->add_option("--tasks", o.tasks_path, "the task timeline CSV of onemoe-bench --timeline")->required();
  cmd->add_option("-o,--output", o.output_path, "the merged trace (.json or .json.gz)")->required();
  cmd->add_option("--kernel", o.kernel, "the kernel: a part of its name")->capture_default_str();
  cmd->add_option("--kernel-index", o.kernel_index,
                  "which of the matching kernels, in start order from 0; -1 = the last (onemoe-bench writes the last "
                  "timed forward's timeline)")
      ->capture_default_str();
  return cmd;
}

int run_timeline(const TimelineCliOptions& o) {
  TraceData trace;
  Status s = read_trace_file(o.trace_path, &trace);
  if (!s.ok()) {
    std::fprintf(stderr, "launchprof timeline: error: %s\n", s.message.c_str());
    return kExitTraceError;
  }
  std::vector<const KernelRec*> matches;
  for (const KernelRec& k : trace.kernels)
    if (trace.names.name(k.name).find(o.kernel) != std::string_view::npos) matches.push_back(&k);
  std::sort(matches.begin(), matches.end(), [](const KernelRec* a, const KernelRec* b) { return a->ts_ns < b->ts_ns; });
  if (matches.empty()) {
    std::fprintf(stderr,
                 "launchprof timeline: error: %s has no kernel whose name contains '%s' (%zu kernels; see "
                 "--kernel)\n",
                 o.trace_path.c_str(), o.kernel.c_str(), trace.kernels.size());
    return kExitTraceError;
  }
  int64_t n = static_cast<int64_t>(matches.size());
  int64_t index = o.kernel_index < 0 ? n + o.kernel_index : o.kernel_index;
  if (index < 0 || index >= n) {
    std::fprintf(stderr, "launchprof timeline: error: --kernel-index %" PRId64 " but %" PRId64 " kernels match '%s'\n",
                 o.kernel_index, n, o.kernel.c_str());
    return kExitUsageError;
  }
  const KernelRec& k = *matches[index];

  std::ifstream in(o.tasks_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "launchprof timeline: error: cannot read %s: %s\n", o.tasks_path.c_str(),
                 std::strerror(errno));
    return kExitTraceError;
  }
  std::stringstream csv;
  csv << in.rdbuf();
  std::vector<TimelineTask> tasks;
  s = parse_timeline_csv(csv.str(), o.tasks_path, &tasks);
  if (!s.ok()) {
    std::fprintf(stderr, "launchprof timeline: error: %s\n", s.message.c_str());
    return kExitTraceError;
  }
  TimelineTarget target;
  target.kernel_name = std::string(trace.names.name(k.name));
  target.pid = k.device;
  target.ts_ns = trace.time_base_ns + k.ts_ns;
  target.dur_ns = k.dur_ns;
  target.correlation = k.correlation == kNoId ? -1 : k.correlation;
  int64_t span = 0;
  for (const auto& t : tasks) span = std::max(span, t.end_ns);
  if (span > k.dur_ns)
    std::fprintf(stderr,
                 "launchprof timeline: warning: the tasks span %.3f us, longer than the kernel's %.3f us: is the CSV "
                 "from this kernel (--kernel-index)?\n",
                 span / 1e3, k.dur_ns / 1e3);

  size_t tracks = 0;
  const std::string added = timeline_events(tasks, target, &tracks);
  TraceOutput out;
  if (!out.open(o.output_path)) {
    std::fprintf(stderr, "launchprof timeline: error: cannot write %s: %s\n", o.output_path.c_str(),
                 std::strerror(errno));
    return kExitOutputError;
  }
  // The input's events are copied verbatim, element by element, then the new ones follow.
  out.write("{\"traceEvents\":[\n");
  bool first = true;
  EventSplitter splitter([&out, &first](const char* data, size_t size, size_t) {
    if (!first) out.write(",\n", 2);
    first = false;
    out.write(data, size);
    return Status::Ok();
  });
  std::unique_ptr<ByteSource> source;
  s = open_byte_source(o.trace_path, &source);
  while (s.ok()) {
    char* area = splitter.write_area(8 << 20);
    size_t got = 0;
    s = source->read(area, 8 << 20, &got);
    if (!s.ok() || got == 0) break;
    s = splitter.commit(got);
  }
  if (s.ok()) s = splitter.finish();
  if (!s.ok()) {
    std::fprintf(stderr, "launchprof timeline: error: %s: %s\n", o.trace_path.c_str(), s.message.c_str());
    out.close();
    std::remove(o.output_path.c_str());
    return kExitTraceError;
  }
  if (!added.empty()) out.write(first ? "" : ",\n");
  out.write(added);
  out.write("\n]");
  if (!splitter.device_properties().empty()) out.write(",\n\"deviceProperties\":" + splitter.device_properties());
  char meta[512];
  std::snprintf(meta, sizeof(meta),
                ",\n\"launchprofTimeline\":{\"tasks\":%zu,\"tracks\":%zu,\"kernel_index\":%" PRId64
                ",\"kernel_ts_us\":%.3f,\"alignment\":\"the first task starts at the kernel's start\"}\n}\n",
                tasks.size(), tracks, index, target.ts_ns / 1e3);
  out.write(meta);
  if (!out.close()) {
    std::fprintf(stderr, "launchprof timeline: error: cannot write %s: %s\n", o.output_path.c_str(),
                 std::strerror(errno));
    return kExitOutputError;
  }
  std::fprintf(stderr,
               "launchprof timeline: %zu tasks on %zu tracks under %s (kernel %" PRId64 " of %" PRId64 ") -> %s\n",
               tasks.size(), tracks, target.kernel_name.c_str(), index, n, o.output_path.c_str());
  return kExitOk;
}

}  // namespace launchprof
