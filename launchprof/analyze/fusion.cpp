#include "launchprof/analyze/fusion.h"

#include <algorithm>
#include <cstddef>

#include "launchprof/analyze/api_kind.h"

namespace launchprof {
namespace {

inline uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

// One chain: where its first occurrence lives (to compare contents) and what was summed over occurrences.
struct Slot {
  uint64_t hash = 0;
  uint32_t stream = 0;
  uint32_t pos = 0;
  uint64_t count = 0;
  int64_t kernel_time_ns = 0;
  int64_t lq_removable_ns = 0;
  uint8_t len = 0;  // 0 = empty
};

class ChainTable {
 public:
  ChainTable(const std::vector<std::vector<uint32_t>>& names, size_t max_entries)
      : names_(names), max_entries_(max_entries) {
    slots_.resize(1 << 16);
  }

  // Returns the slot of the chain names_[stream][pos .. pos+len), inserting it if new (nullptr when full).
  Slot* find_or_insert(uint64_t hash, uint32_t stream, uint32_t pos, uint8_t len) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.len == 0) {
        if (size_ >= max_entries_) {
          full_ = true;
          return nullptr;
        }
        s.hash = hash;
        s.stream = stream;
        s.pos = pos;
        s.len = len;
        ++size_;
        return &s;
      }
      if (s.hash == hash && s.len == len && same(s, stream, pos)) return &s;
    }
  }

  const std::vector<Slot>& slots() const { return slots_; }
  size_t size() const { return size_; }
  bool full() const { return full_; }

 private:
  bool same(const Slot& s, uint32_t stream, uint32_t pos) const {
    const uint32_t* a = names_[s.stream].data() + s.pos;
    const uint32_t* b = names_[stream].data() + pos;
    return std::equal(a, a + s.len, b);
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.len == 0) continue;
      size_t i = s.hash & mask;
      while (slots_[i].len != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  const std::vector<std::vector<uint32_t>>& names_;
  size_t max_entries_;
  std::vector<Slot> slots_;
  size_t size_ = 0;
  bool full_ = false;
};

}  // namespace

FusionResult find_fusion_candidates(const TraceData& t, const JoinResult& join, const PerKernelDerived& d,
                                    const std::vector<std::vector<uint32_t>>& streams, const FusionOptions& opt) {
  FusionResult result;
  std::vector<int64_t> syncs;
  for (size_t i = 0; i < t.apis.size(); ++i)
    if (is_host_sync(t.apis[i].kind) && !join.api_shadowed[i]) syncs.push_back(t.apis[i].ts_ns);
  std::sort(syncs.begin(), syncs.end());
  result.sync_calls = syncs.size();
  auto syncs_up_to = [&syncs](int64_t ts) { return std::upper_bound(syncs.begin(), syncs.end(), ts) - syncs.begin(); };

  // Per stream: name ids, the sequence each kernel belongs to, and prefix sums for durations and lq.
  std::vector<std::vector<uint32_t>> names(streams.size());
  std::vector<std::vector<uint32_t>> segment(streams.size());
  std::vector<std::vector<int64_t>> dur_prefix(streams.size()), lq_prefix(streams.size());
  std::vector<uint64_t> name_count(t.names.size(), 0);
  for (size_t s = 0; s < streams.size(); ++s) {
    const auto& ks = streams[s];
    names[s].resize(ks.size());
    segment[s].resize(ks.size());
    dur_prefix[s].assign(ks.size() + 1, 0);
    lq_prefix[s].assign(ks.size() + 1, 0);
    uint32_t seg = 0;
    std::ptrdiff_t prev_syncs = 0;
    for (size_t i = 0; i < ks.size(); ++i) {
      uint32_t j = ks[i];
      const KernelRec& k = t.kernels[j];
      int64_t host_ts = d.timing.joined[j] ? d.timing.launch_start_ns[j] : k.ts_ns;
      std::ptrdiff_t now = syncs_up_to(host_ts);
      if (i > 0 && now > prev_syncs) ++seg;
      prev_syncs = now;
      names[s][i] = k.name;
      segment[s][i] = seg;
      ++name_count[k.name];
      dur_prefix[s][i + 1] = dur_prefix[s][i] + k.dur_ns;
      lq_prefix[s][i + 1] = lq_prefix[s][i] + (d.timing.joined[j] ? k.ts_ns - d.timing.launch_start_ns[j] : 0);
    }
    if (!ks.empty()) result.sequences += seg + 1;
  }

  ChainTable table(names, opt.max_distinct_chains);
  const int min_len = std::max(2, opt.min_len), max_len = std::min(255, std::max(min_len, opt.max_len));
  for (size_t s = 0; s < streams.size(); ++s) {
    const auto& nm = names[s];
    const auto& sg = segment[s];
    for (size_t i = 0; i < nm.size(); ++i) {
      uint64_t h = mix(0, nm[i]);
      for (int len = 2; len <= max_len; ++len) {
        size_t last = i + len - 1;
        if (last >= nm.size() || sg[last] != sg[i]) break;
        h = mix(h, nm[last]);
        if (len < min_len) continue;
        Slot* slot = table.find_or_insert(h, static_cast<uint32_t>(s), static_cast<uint32_t>(i),
                                          static_cast<uint8_t>(len));
        if (!slot) continue;
        ++slot->count;
        slot->kernel_time_ns += dur_prefix[s][last + 1] - dur_prefix[s][i];
        slot->lq_removable_ns += lq_prefix[s][last + 1] - lq_prefix[s][i + 1];
      }
    }
  }
  result.distinct_chains = table.size();
  result.table_full = table.full();

  std::vector<FusionCandidate> all;
  for (const Slot& slot : table.slots()) {
    if (slot.len == 0 || slot.count < opt.min_occurrences) continue;
    FusionCandidate c;
    c.names.assign(names[slot.stream].begin() + slot.pos, names[slot.stream].begin() + slot.pos + slot.len);
    c.chain_occurrences = slot.count;
    c.first_kernel_occurrences = name_count[c.names[0]];
    c.score = static_cast<double>(c.chain_occurrences) / static_cast<double>(c.first_kernel_occurrences);
    c.kernel_time_ns = slot.kernel_time_ns;
    c.lq_removable_ns = slot.lq_removable_ns;
    all.push_back(std::move(c));
  }
  // Best first: highest score, then most launch+queue time removable, then longest; ties by names for a
  // deterministic order.
  std::sort(all.begin(), all.end(), [](const FusionCandidate& a, const FusionCandidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.lq_removable_ns != b.lq_removable_ns) return a.lq_removable_ns > b.lq_removable_ns;
    if (a.names.size() != b.names.size()) return a.names.size() > b.names.size();
    return a.names < b.names;
  });

  // Non-overlapping selection. Where each name starts a window: (stream, position), in stream order.
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> starts(t.names.size());
  for (size_t s = 0; s < names.size(); ++s)
    for (size_t i = 0; i < names[s].size(); ++i)
      starts[names[s][i]].emplace_back(static_cast<uint32_t>(s), static_cast<uint32_t>(i));
  std::vector<std::vector<uint8_t>> claimed(names.size());
  for (size_t s = 0; s < names.size(); ++s) claimed[s].assign(names[s].size(), 0);
  // Bounds the selection's work on pathological traces (many candidates whose windows are all taken).
  uint64_t budget = uint64_t{64} << 20;
  std::vector<std::pair<uint32_t, uint32_t>> taken;
  for (auto& c : all) {
    if (result.candidates.size() >= opt.top_n) break;
    const auto& from = starts[c.names[0]];
    if (budget < from.size() * c.names.size()) {
      result.selection_cut = true;
      break;
    }
    budget -= from.size() * c.names.size();
    const size_t len = c.names.size();
    taken.clear();
    int64_t kernel_time = 0, lq_removable = 0;
    uint32_t last_stream = UINT32_MAX;
    size_t free_from = 0;  // windows of this chain do not overlap each other either
    for (auto [s, pos] : from) {
      if (s != last_stream) last_stream = s, free_from = 0;
      size_t last = pos + len - 1;
      if (pos < free_from || last >= names[s].size() || segment[s][last] != segment[s][pos]) continue;
      bool ok = true;
      for (size_t k = 0; k < len && ok; ++k) ok = names[s][pos + k] == c.names[k] && !claimed[s][pos + k];
      if (!ok) continue;
      taken.emplace_back(s, pos);
      free_from = last + 1;
      kernel_time += dur_prefix[s][last + 1] - dur_prefix[s][pos];
      lq_removable += lq_prefix[s][last + 1] - lq_prefix[s][pos + 1];
    }
    if (taken.size() < opt.min_occurrences) continue;
    for (auto [s, pos] : taken)
      for (size_t k = 0; k < len; ++k) claimed[s][pos + k] = 1;
    c.occurrences = taken.size();
    c.kernel_time_ns = kernel_time;
    c.lq_removable_ns = lq_removable;
    result.candidates.push_back(std::move(c));
  }
  return result;
}

}  // namespace launchprof
