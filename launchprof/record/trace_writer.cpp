#include "trace_writer.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace launchprof::record {
namespace {

constexpr size_t kFlushBytes = 4u << 20;

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not valid UTF-8.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < s.size() && byte(k) >= lo && byte(k) <= hi;
  };
  const unsigned c = byte(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c == 0xE0) return cont(i + 1, 0xA0, 0xBF) && cont(i + 2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c == 0xED) return cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;  // no UTF-16 surrogates
  if (c == 0xF0) return cont(i + 1, 0x90, 0xBF) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c == 0xF4) return cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

template <typename T>
void append_int(std::string& out, T value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

// Builds the JSON text in a string and hands it to the sink in large pieces.
class Emitter {
 public:
  explicit Emitter(Sink& sink) : sink_(sink) { buf_.reserve(kFlushBytes + (64u << 10)); }
  std::string& buf() { return buf_; }
  // Starts a new element of traceEvents.
  void begin_event() {
    if (!first_event_) buf_ += ",\n";
    first_event_ = false;
    buf_ += '{';
  }
  void end_event() {
    buf_ += '}';
    if (buf_.size() >= kFlushBytes) flush();
  }
  void flush() {
    if (!sink_.write(buf_)) failed_ = true;
    buf_.clear();
  }
  bool failed() const { return failed_; }

 private:
  Sink& sink_;
  std::string buf_;
  bool first_event_ = true;
  bool failed_ = false;
};

void key(std::string& out, std::string_view k) {
  out += '"';
  out += k;
  out += "\":";
}

const char* api_category(ApiDomain d) { return d == ApiDomain::kRuntime ? "cuda_runtime" : "cuda_driver"; }

const char* op_category(GpuOpKind k) {
  switch (k) {
    case GpuOpKind::kKernel:
      return "kernel";
    case GpuOpKind::kMemcpy:
      return "gpu_memcpy";
    case GpuOpKind::kMemset:
      return "gpu_memset";
  }
  return "kernel";
}

struct Context {
  const TraceModel& model;
  const LinkedTrace& linked;
  Emitter& em;
  uint64_t base;
  uint64_t events = 0;
};

// "ph":"X" common fields; leaves the buffer inside the event object, before "args".
void x_event_head(Context& ctx, std::string_view cat, std::string_view name, int64_t pid, int64_t tid, uint64_t start,
                  uint64_t end) {
  std::string& b = ctx.em.buf();
  ctx.em.begin_event();
  b += "\"ph\":\"X\",\"cat\":\"";
  b += cat;
  b += "\",\"name\":";
  append_json_string(b, name);
  b += ",\"pid\":";
  append_int(b, pid);
  b += ",\"tid\":";
  append_int(b, tid);
  b += ",\"ts\":";
  append_relative_us(b, start, ctx.base);
  b += ",\"dur\":";
  append_relative_us(b, end, start);
  ctx.events += 1;
}

int64_t range_external_id(const Context& ctx, int32_t api_idx) {
  if (api_idx < 0) return 0;
  int32_t r = ctx.linked.api_range[api_idx];
  return r >= 0 && ctx.linked.range_kept[r] ? static_cast<int64_t>(ctx.model.ranges[r].id) : 0;
}

void write_header(Context& ctx, const TraceSummary& s) {
  std::string& b = ctx.em.buf();
  const TraceModel& m = ctx.model;
  b += "{\"schemaVersion\":1,\n\"deviceProperties\":[";
  for (size_t i = 0; i < m.devices.size(); ++i) {
    const DeviceInfo& d = m.devices[i];
    if (i) b += ',';
    b += "{\"id\":";
    append_int(b, d.id);
    b += ",\"name\":";
    append_json_string(b, m.strings.at(d.name_idx));
    b += ",\"computeMajor\":";
    append_int(b, d.compute_major);
    b += ",\"computeMinor\":";
    append_int(b, d.compute_minor);
    b += ",\"numSms\":";
    append_int(b, d.num_sms);
    b += ",\"totalGlobalMem\":";
    append_int(b, d.global_memory);
    b += '}';
  }
  b += "],\n\"launchprof\":{\"format\":1,\"pid\":";
  append_int(b, m.pid);
  b += ",\"cupti_version\":";
  append_json_string(b, m.cupti_version);
  b += ",\"clock\":";
  append_json_string(b, m.clock);
  b += ",\"runtime_apis\":";
  append_json_string(b, m.runtime_apis);
  b += ",\"api_source\":";
  append_json_string(b, m.api_source);
  b += ",\"thread_ids\":";
  append_json_string(b, m.thread_ids);
  auto count = [&](std::string_view k, uint64_t v) {
    b += ",\"";
    b += k;
    b += "\":";
    append_int(b, v);
  };
  count("kernels", s.kernels);
  count("graph_kernels", s.graph_kernels);
  count("memcpys", s.memcpys);
  count("memsets", s.memsets);
  count("kernel_launch_calls", s.kernel_launch_calls);
  count("launches_without_op", s.launches_without_op);
  count("orphan_kernels", s.orphan_kernels);
  count("orphan_other_ops", s.orphan_other_ops);
  count("negative_lq", s.negative_lq);
  b += ",\"tklqt_ns\":";
  append_int(b, s.tklqt_ns);
  count("nested_calls_not_written", s.nested_calls);
  count("dropped_records", m.counts.dropped_records);
  count("ops_without_timestamps_not_written", m.counts.ops_without_timestamps);
  count("unclosed_ranges", m.counts.unclosed_ranges);
  count("unmatched_range_ends", m.counts.unmatched_range_ends);
  count("instant_markers_not_written", m.counts.instant_markers);
  count("buffers_completed", m.counts.buffers_completed);
  count("buffers_allocated_on_request", m.counts.buffers_allocated_on_request);
  count("api_calls_lost", m.counts.api_calls_lost);
  b += ",\"capture_range_missing\":";
  b += ctx.linked.capture_range_missing ? "true" : "false";
  b += "},\n\"displayTimeUnit\":\"ms\",\n\"baseTimeNanoseconds\":";
  append_int(b, ctx.base);
  b += ",\n\"traceEvents\":[\n";
}

void write_metadata_events(Context& ctx) {
  std::string& b = ctx.em.buf();
  std::set<uint32_t> host_pids;
  std::set<uint32_t> devices;
  std::set<std::pair<uint32_t, uint32_t>> streams;
  for (size_t i = 0; i < ctx.model.api_calls.size(); ++i) {
    if (ctx.linked.api_kept[i]) host_pids.insert(ctx.model.api_calls[i].pid);
  }
  for (size_t i = 0; i < ctx.model.gpu_ops.size(); ++i) {
    if (!ctx.linked.op_kept[i]) continue;
    devices.insert(ctx.model.gpu_ops[i].device);
    streams.insert({ctx.model.gpu_ops[i].device, ctx.model.gpu_ops[i].stream});
  }
  auto meta = [&](std::string_view what, int64_t pid, int64_t tid, std::string_view arg, const std::string& value) {
    ctx.em.begin_event();
    b += "\"name\":\"";
    b += what;
    b += "\",\"ph\":\"M\",\"ts\":0,\"pid\":";
    append_int(b, pid);
    b += ",\"tid\":";
    append_int(b, tid);
    b += ",\"args\":{\"";
    b += arg;
    b += "\":";
    if (arg == "sort_index") {
      b += value;
    } else {
      append_json_string(b, value);
    }
    b += "}";
    ctx.em.end_event();
  };
  for (uint32_t pid : host_pids) meta("process_name", pid, 0, "name", "host process " + std::to_string(pid));
  for (uint32_t d : devices) {
    meta("process_name", d, 0, "name", "GPU " + std::to_string(d));
    meta("process_sort_index", d, 0, "sort_index", std::to_string(1000 + d));
  }
  for (auto [d, s] : streams) meta("thread_name", d, s, "name", "stream " + std::to_string(s));
}

template <typename T, typename Kept>
std::vector<int32_t> sorted_kept(const std::vector<T>& items, const Kept& kept) {
  std::vector<int32_t> idx;
  idx.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (kept[i]) idx.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t c) { return items[a].start_ns < items[c].start_ns; });
  return idx;
}

void write_ranges(Context& ctx) {
  std::string& b = ctx.em.buf();
  for (int32_t i : sorted_kept(ctx.model.ranges, ctx.linked.range_kept)) {
    const Range& r = ctx.model.ranges[i];
    x_event_head(ctx, "user_annotation", ctx.model.strings.at(r.name_idx), r.pid, r.tid, r.start_ns, r.end_ns);
    b += ",\"args\":{\"External id\":";
    append_int(b, r.id);
    if (r.domain_idx != 0) {
      b += ",\"domain\":";
      append_json_string(b, ctx.model.strings.at(r.domain_idx));
    }
    b += '}';
    ctx.em.end_event();
  }
}

void write_api_calls(Context& ctx) {
  std::string& b = ctx.em.buf();
  for (int32_t i : sorted_kept(ctx.model.api_calls, ctx.linked.api_kept)) {
    const ApiCall& c = ctx.model.api_calls[i];
    x_event_head(ctx, api_category(c.domain), ctx.model.strings.at(c.name_idx), c.pid, c.tid, c.start_ns, c.end_ns);
    b += ",\"args\":{";
    if (int64_t ext = range_external_id(ctx, i); ext != 0) {
      key(b, "External id");
      append_int(b, ext);
      b += ',';
    }
    key(b, "cbid");
    append_int(b, c.cbid);
    b += ",\"correlation\":";
    append_int(b, c.correlation);
    if (c.return_value != 0) {
      b += ",\"return\":";
      append_int(b, c.return_value);
    }
    b += '}';
    ctx.em.end_event();
  }
}

void write_gpu_ops(Context& ctx) {
  std::string& b = ctx.em.buf();
  for (int32_t i : sorted_kept(ctx.model.gpu_ops, ctx.linked.op_kept)) {
    const GpuOp& op = ctx.model.gpu_ops[i];
    const int32_t launch = ctx.linked.op_launch[i];
    x_event_head(ctx, op_category(op.kind), ctx.model.strings.at(op.name_idx), op.device, op.stream, op.start_ns,
                 op.end_ns);
    b += ",\"args\":{";
    if (int64_t ext = range_external_id(ctx, launch); ext != 0) {
      key(b, "External id");
      append_int(b, ext);
      b += ',';
    }
    if (op.queued_ns != 0) {
      key(b, "queued");
      append_relative_us(b, op.queued_ns, ctx.base);
      b += ',';
    }
    if (op.submitted_ns != 0) {
      key(b, "submitted");
      append_relative_us(b, op.submitted_ns, ctx.base);
      b += ',';
    }
    key(b, "device");
    append_int(b, op.device);
    b += ",\"context\":";
    append_int(b, op.context);
    b += ",\"stream\":";
    append_int(b, op.stream);
    // The launch call's id: for a kernel launched through a driver call nested in a runtime call, the runtime one.
    b += ",\"correlation\":";
    append_int(b, launch >= 0 ? ctx.model.api_calls[launch].correlation : op.correlation);
    if (op.kind == GpuOpKind::kKernel) {
      b += ",\"registers per thread\":";
      append_int(b, op.registers_per_thread);
      b += ",\"shared memory\":";
      append_int(b, op.shared_memory);
      b += ",\"grid\":[";
      for (int k = 0; k < 3; ++k) {
        if (k) b += ',';
        append_int(b, op.grid[k]);
      }
      b += "],\"block\":[";
      for (int k = 0; k < 3; ++k) {
        if (k) b += ',';
        append_int(b, op.block[k]);
      }
      b += ']';
    } else {
      b += ",\"bytes\":";
      append_int(b, op.bytes);
    }
    if (op.graph_id != 0) {
      b += ",\"graph id\":";
      append_int(b, op.graph_id);
      b += ",\"graph node id\":";
      append_int(b, op.graph_node_id);
    }
    b += '}';
    ctx.em.end_event();
  }
}

void write_syncs(Context& ctx) {
  std::string& b = ctx.em.buf();
  std::map<uint32_t, int32_t> api_by_corr;
  for (size_t i = 0; i < ctx.model.api_calls.size(); ++i) {
    api_by_corr.emplace(ctx.model.api_calls[i].correlation, static_cast<int32_t>(i));
  }
  for (int32_t i : sorted_kept(ctx.model.syncs, ctx.linked.sync_kept)) {
    const SyncOp& s = ctx.model.syncs[i];
    auto dev = ctx.model.context_device.find(s.context);
    int64_t pid;
    int64_t tid;
    if (dev != ctx.model.context_device.end()) {
      pid = dev->second;
      tid = s.stream >= 0 ? s.stream : 0;
    } else if (auto api = api_by_corr.find(s.correlation); api != api_by_corr.end()) {
      // Device unknown: show the wait on the thread that waited.
      pid = ctx.model.api_calls[api->second].pid;
      tid = ctx.model.api_calls[api->second].tid;
    } else {
      pid = -1;
      tid = s.stream >= 0 ? s.stream : 0;
    }
    const std::string& name = ctx.model.strings.at(s.name_idx);
    x_event_head(ctx, "cuda_sync", name, pid, tid, s.start_ns, s.end_ns);
    b += ",\"args\":{\"cuda_sync_kind\":";
    append_json_string(b, name);
    b += ",\"stream\":";
    append_int(b, s.stream);
    b += ",\"correlation\":";
    append_int(b, s.correlation);
    b += ",\"device\":";
    append_int(b, dev != ctx.model.context_device.end() ? static_cast<int64_t>(dev->second) : -1);
    b += ",\"context\":";
    append_int(b, s.context);
    if (s.event >= 0) {
      b += ",\"event\":";
      append_int(b, s.event);
    }
    b += '}';
    ctx.em.end_event();
  }
}

void write_flow(Context& ctx, char ph, uint32_t id, int64_t pid, int64_t tid, uint64_t ts) {
  std::string& b = ctx.em.buf();
  ctx.em.begin_event();
  b += "\"ph\":\"";
  b += ph;
  b += "\",\"id\":";
  append_int(b, id);
  b += ",\"pid\":";
  append_int(b, pid);
  b += ",\"tid\":";
  append_int(b, tid);
  b += ",\"ts\":";
  append_relative_us(b, ts, ctx.base);
  b += ",\"cat\":\"ac2g\",\"name\":\"ac2g\"";
  if (ph == 'f') b += ",\"bp\":\"e\"";
  ctx.em.end_event();
}

// One flow per launch call, to its earliest op: a graph launch's later kernels share its id, and Chrome-trace flows
// pair one start with one end.
void write_flows(Context& ctx) {
  for (size_t i = 0; i < ctx.model.gpu_ops.size(); ++i) {
    if (!ctx.linked.op_first[i] || !ctx.linked.op_kept[i]) continue;
    const GpuOp& op = ctx.model.gpu_ops[i];
    const ApiCall& c = ctx.model.api_calls[ctx.linked.op_launch[i]];
    write_flow(ctx, 's', c.correlation, c.pid, c.tid, c.start_ns);
    write_flow(ctx, 'f', c.correlation, op.device, op.stream, op.start_ns);
  }
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
          } else {
            out += static_cast<char>(c);
          }
      }
      i += 1;
      continue;
    }
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\\ufffd";
      i += 1;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out += '"';
}

void append_relative_us(std::string& out, uint64_t t_ns, uint64_t base_ns) {
  // Unsigned difference, then sign: exact for every pair of 64-bit timestamps.
  const bool negative = t_ns < base_ns;
  const uint64_t d = negative ? base_ns - t_ns : t_ns - base_ns;
  if (negative) out += '-';
  append_int(out, d / 1000);
  const uint64_t frac = d % 1000;
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
}

WriteResult write_chrome_trace(const TraceModel& model, const LinkedTrace& linked, const TraceSummary& summary,
                               const WriterOptions& options, Sink& sink) {
  Emitter em(sink);
  Context ctx{model, linked, em, linked.base_ns};
  write_header(ctx, summary);
  write_metadata_events(ctx);
  write_ranges(ctx);
  write_api_calls(ctx);
  write_gpu_ops(ctx);
  write_syncs(ctx);
  if (options.flows) write_flows(ctx);
  std::string& b = em.buf();
  b += "\n],\n\"traceName\":";
  append_json_string(b, options.trace_name);
  b += "}\n";
  em.flush();
  WriteResult result;
  result.ok = !em.failed();
  result.events = ctx.events;
  if (!result.ok) result.error = "trace write failed";
  return result;
}

}  // namespace launchprof::record
