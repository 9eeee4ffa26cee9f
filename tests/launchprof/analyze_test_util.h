// Shared helpers for the launchprof analyze tests: fixture paths and a one-call analysis.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "launchprof/analyze/analysis.h"
#include "launchprof/analyze/trace_reader.h"

namespace launchprof::testing {

inline std::string fixture(const std::string& name) { return std::string(LAUNCHPROF_FIXTURES) + "/" + name; }

inline TraceAnalysis analyze_fixture(const std::string& name, AnalyzeOptions options = {}) {
  TraceAnalysis a;
  Status s = analyze_file(fixture(name), options, &a);
  EXPECT_TRUE(s.ok()) << name << ": " << s.message;
  return a;
}

inline constexpr int64_t us(double v) { return static_cast<int64_t>(v * 1000.0 + (v >= 0 ? 0.5 : -0.5)); }

inline const ScopeMetrics* find_stream(const TraceAnalysis& a, int32_t device, int64_t stream) {
  for (const auto& s : a.streams)
    if (s.device == device && s.stream == stream) return &s;
  return nullptr;
}

inline const ScopeMetrics* find_device(const TraceAnalysis& a, int32_t device) {
  for (const auto& d : a.devices)
    if (d.device == device) return &d;
  return nullptr;
}

}  // namespace launchprof::testing
