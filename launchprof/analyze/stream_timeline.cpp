#include "launchprof/analyze/stream_timeline.h"

#include <algorithm>
#include <utility>

namespace launchprof {

const char* gap_class_name(GapClass c) {
  switch (c) {
    case GapClass::kFirst:
      return "first";
    case GapClass::kHostWait:
      return "host-wait";
    case GapClass::kKernelWait:
      return "kernel-wait";
    case GapClass::kOther:
      return "other";
    case GapClass::kOverlap:
      return "overlap";
  }
  return "?";
}

GapStats classify_gaps(const std::vector<uint32_t>& stream_kernels, const std::vector<KernelRec>& kernels,
                       const KernelTiming& timing, std::vector<uint8_t>* gap_class, std::vector<int64_t>* gap_ns) {
  GapStats stats;
  int64_t prev_end = 0;
  for (size_t n = 0; n < stream_kernels.size(); ++n) {
    uint32_t j = stream_kernels[n];
    const KernelRec& k = kernels[j];
    GapClass c;
    int64_t gap = 0;
    if (n == 0) {
      c = GapClass::kFirst;
    } else {
      gap = k.ts_ns - prev_end;
      if (gap < 0) {
        c = GapClass::kOverlap;
      } else if (!timing.joined[j]) {
        c = GapClass::kOther;
      } else if (timing.launch_start_ns[j] > prev_end) {
        c = GapClass::kHostWait;
      } else if (timing.launch_end_ns[j] <= prev_end) {
        c = GapClass::kKernelWait;
      } else {
        c = GapClass::kOther;
      }
    }
    int64_t counted = (c == GapClass::kFirst || c == GapClass::kOverlap) ? 0 : gap;
    ++stats.count[static_cast<int>(c)];
    stats.gap_ns[static_cast<int>(c)] += counted;
    (*gap_class)[j] = static_cast<uint8_t>(c);
    (*gap_ns)[j] = gap;
    // The stream is busy until the latest end seen so far (an overlapped kernel may end first).
    prev_end = n == 0 ? k.ts_ns + k.dur_ns : std::max(prev_end, k.ts_ns + k.dur_ns);
  }
  return stats;
}

QueueStats queue_length(const std::vector<uint32_t>& scope_kernels, const std::vector<KernelRec>& kernels,
                        const KernelTiming& timing, int64_t window_start, int64_t window_end) {
  std::vector<std::pair<int64_t, int>> edges;  // (time, +1 enqueue / -1 start); -1 sorts first at a tie
  edges.reserve(scope_kernels.size() * 2);
  int64_t queued_ns = 0;
  for (uint32_t j : scope_kernels) {
    if (!timing.joined[j]) continue;
    int64_t from = timing.launch_start_ns[j], to = kernels[j].ts_ns;
    if (to <= from) continue;  // negative or zero lq: never queued (negative lq is reported elsewhere)
    edges.emplace_back(from, +1);
    edges.emplace_back(to, -1);
    queued_ns += to - from;
  }
  std::sort(edges.begin(), edges.end());
  QueueStats q;
  int depth = 0;
  for (const auto& e : edges) {
    depth += e.second;
    q.max = std::max<uint32_t>(q.max, static_cast<uint32_t>(std::max(depth, 0)));
  }
  // The integral of the queue length over time is the summed queued time (Little's law).
  int64_t window = window_end - window_start;
  q.mean = window > 0 ? static_cast<double>(queued_ns) / static_cast<double>(window) : 0.0;
  return q;
}

}  // namespace launchprof
