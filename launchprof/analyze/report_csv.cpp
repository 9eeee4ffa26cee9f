#include <cinttypes>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>

#include "launchprof/analyze/report.h"

namespace launchprof {
namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string fixed(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string num(uint64_t v) { return std::to_string(v); }
// An undefined value is an empty field (JSON writes null), never 0.
std::string opt(bool defined, double v, int digits = 3) { return defined ? fixed(v, digits) : std::string(); }
int gi(GapClass c) { return static_cast<int>(c); }

// One table of (header, value) pairs keeps the header and the rows in step.
using Column = std::pair<const char*, std::function<std::string(const ScopeMetrics&)>>;
const std::vector<Column>& scope_columns() {
  static const std::vector<Column> cols = {
      {"kernels", [](const ScopeMetrics& m) { return num(m.kernels); }},
      {"joined", [](const ScopeMetrics& m) { return num(m.joined); }},
      {"orphans", [](const ScopeMetrics& m) { return num(m.orphans); }},
      {"graph_kernels", [](const ScopeMetrics& m) { return num(m.graph_kernels); }},
      {"tklqt_us", [](const ScopeMetrics& m) { return fixed(ns_to_us(m.tklqt_ns)); }},
      {"lq_mean_us", [](const ScopeMetrics& m) { return opt(m.joined > 0, m.lq_mean_ns() / 1e3); }},
      {"lq_p50_us", [](const ScopeMetrics& m) { return opt(m.joined > 0, ns_to_us(m.lq_p50_ns)); }},
      {"lq_p99_us", [](const ScopeMetrics& m) { return opt(m.joined > 0, ns_to_us(m.lq_p99_ns)); }},
      {"negative_lq", [](const ScopeMetrics& m) { return num(m.negative_lq); }},
      {"negative_lq_us", [](const ScopeMetrics& m) { return fixed(ns_to_us(m.negative_lq_ns)); }},
      {"akd_us", [](const ScopeMetrics& m) { return opt(m.kernels > 0, m.akd_ns() / 1e3); }},
      {"kernel_time_ms", [](const ScopeMetrics& m) { return fixed(ns_to_ms(m.kernel_time_ns), 6); }},
      {"busy_ms", [](const ScopeMetrics& m) { return opt(m.il_defined, ns_to_ms(m.busy_ns), 6); }},
      {"il_ms", [](const ScopeMetrics& m) { return opt(m.il_defined, ns_to_ms(m.il_ns), 6); }},
      {"idle_ms", [](const ScopeMetrics& m) { return opt(m.il_defined, ns_to_ms(m.idle_ns), 6); }},
      {"idle_sum_ms", [](const ScopeMetrics& m) { return opt(m.il_defined, ns_to_ms(m.idle_sum_ns), 6); }},
      {"idle_frac", [](const ScopeMetrics& m) { return opt(m.idle_fraction_defined(), m.idle_fraction(), 6); }},
      {"kernels_before_anchor", [](const ScopeMetrics& m) { return num(m.kernels_before_anchor); }},
      {"queue_delay_us", [](const ScopeMetrics& m) { return opt(m.joined > 0, ns_to_us(m.queue_delay_ns)); }},
      {"queue_delay_max_us", [](const ScopeMetrics& m) { return opt(m.joined > 0, ns_to_us(m.queue_delay_max_ns)); }},
      {"started_before_launch_returned", [](const ScopeMetrics& m) { return num(m.started_before_launch_returned); }},
      {"host_wait_gaps", [](const ScopeMetrics& m) { return num(m.gaps.count[gi(GapClass::kHostWait)]); }},
      {"host_wait_us", [](const ScopeMetrics& m) { return fixed(ns_to_us(m.gaps.gap_ns[gi(GapClass::kHostWait)])); }},
      {"kernel_wait_gaps", [](const ScopeMetrics& m) { return num(m.gaps.count[gi(GapClass::kKernelWait)]); }},
      {"kernel_wait_us",
       [](const ScopeMetrics& m) { return fixed(ns_to_us(m.gaps.gap_ns[gi(GapClass::kKernelWait)])); }},
      {"other_gaps", [](const ScopeMetrics& m) { return num(m.gaps.count[gi(GapClass::kOther)]); }},
      {"other_gap_us", [](const ScopeMetrics& m) { return fixed(ns_to_us(m.gaps.gap_ns[gi(GapClass::kOther)])); }},
      {"overlaps", [](const ScopeMetrics& m) { return num(m.gaps.count[gi(GapClass::kOverlap)]); }},
      {"queue_max", [](const ScopeMetrics& m) { return num(m.queue.max); }},
      {"queue_mean", [](const ScopeMetrics& m) { return opt(m.joined > 0, m.queue.mean, 4); }},
      {"memcpy", [](const ScopeMetrics& m) { return num(m.memcpy); }},
      {"memcpy_us", [](const ScopeMetrics& m) { return fixed(ns_to_us(m.memcpy_ns)); }},
      {"memset", [](const ScopeMetrics& m) { return num(m.memset); }},
      {"memset_us", [](const ScopeMetrics& m) { return fixed(ns_to_us(m.memset_ns)); }},
      {"copy_busy_ms", [](const ScopeMetrics& m) { return opt(m.il_defined, ns_to_ms(m.copy_busy_ns), 6); }},
      {"kernels_ending_before_anchor", [](const ScopeMetrics& m) { return num(m.kernels_ending_before_anchor); }},
  };
  return cols;
}

void scope_csv(std::string& out, const std::string& path, const ScopeMetrics& m) {
  out += csv_field(path) + ",";
  out += m.device == kAllDevices ? std::string("all") : std::to_string(m.device);
  out += ",";
  out += m.stream == kAllStreams ? std::string("all") : std::to_string(m.stream);
  for (const auto& c : scope_columns()) {
    out += ',';
    out += c.second(m);
  }
  out += "\n";
}

}  // namespace

std::string csv_report(const std::vector<TraceAnalysis>& analyses) {
  std::string out = "trace,device,stream";
  for (const auto& c : scope_columns()) {
    out += ',';
    out += c.first;
  }
  out += "\n";
  for (const auto& a : analyses) {
    scope_csv(out, a.path, a.all);
    for (const auto& d : a.devices) scope_csv(out, a.path, d);
    for (const auto& s : a.streams) scope_csv(out, a.path, s);
  }
  return out;
}

std::string kernels_csv_report(const std::vector<TraceAnalysis>& analyses) {
  std::string out =
      "trace,device,stream,name,ts_us,dur_us,correlation,launch,launch_ts_us,lq_us,queue_delay_us,gap_class,gap_us,"
      "operator\n";
  for (const auto& a : analyses) {
    for (const auto& r : a.per_kernel) {
      out += csv_field(a.path) + "," + std::to_string(r.device) + "," + std::to_string(r.stream) + ",";
      out += csv_field(r.name) + "," + fixed(ns_to_us(r.ts_ns)) + "," + fixed(ns_to_us(r.dur_ns)) + ",";
      out += (r.correlation == kNoId ? std::string() : std::to_string(r.correlation)) + ",";
      out += csv_field(r.launch_name) + ",";
      if (r.joined)
        out += fixed(ns_to_us(r.launch_ts_ns)) + "," + fixed(ns_to_us(r.lq_ns)) + "," + fixed(ns_to_us(r.queue_delay_ns));
      else
        out += ",,";
      out += std::string(",") + gap_class_name(r.gap_class) + "," + fixed(ns_to_us(r.gap_ns)) + ",";
      out += csv_field(r.op_name) + "\n";
    }
  }
  return out;
}

}  // namespace launchprof
