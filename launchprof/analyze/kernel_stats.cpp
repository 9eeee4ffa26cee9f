#include "launchprof/analyze/kernel_stats.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "launchprof/analyze/api_kind.h"

namespace launchprof {
namespace {

template <typename T, typename Less>
std::vector<T> top(const std::vector<T>& all, size_t n, Less less) {
  std::vector<const T*> ptrs;
  for (const T& x : all)
    if (x.count_for_top() > 0) ptrs.push_back(&x);
  size_t k = std::min(n, ptrs.size());
  std::partial_sort(ptrs.begin(), ptrs.begin() + static_cast<std::ptrdiff_t>(k), ptrs.end(),
                    [&less](const T* a, const T* b) { return less(*a, *b); });
  std::vector<T> out;
  for (size_t i = 0; i < k; ++i) out.push_back(*ptrs[i]);
  return out;
}

struct NameAcc {
  uint32_t name;
  uint64_t count = 0, joined = 0, launches = 0, calls = 0;
  int64_t total_ns = 0, lq_ns = 0, cpu_ns = 0, min_ns = INT64_MAX, max_ns = INT64_MIN;
  double sum_sq = 0.0;  // of durations relative to the first one seen (shift), for a stable variance
  int64_t shift = 0;
  bool is_driver = false;
  uint64_t count_for_top() const { return count + calls; }
  void add_duration(int64_t d) {
    if (count == 0) shift = d;
    double x = static_cast<double>(d - shift);
    sum_sq += x * x;
    min_ns = std::min(min_ns, d);
    max_ns = std::max(max_ns, d);
  }
  double std_ns() const {
    if (count == 0) return 0.0;
    double mean_shifted = static_cast<double>(total_ns - static_cast<int64_t>(count) * shift) / count;
    double var = sum_sq / count - mean_shifted * mean_shifted;
    return var > 0 ? std::sqrt(var) : 0.0;
  }
};

const char* size_class(int64_t bytes) {
  if (bytes < 0) return "unknown";
  if (bytes <= (4 << 10)) return "<= 4 KiB";
  if (bytes <= (64 << 10)) return "<= 64 KiB";
  if (bytes <= (1 << 20)) return "<= 1 MiB";
  if (bytes <= (16 << 20)) return "<= 16 MiB";
  return "> 16 MiB";
}

}  // namespace

KernelTables top_tables(const TraceData& t, const JoinResult& join, const PerKernelDerived& d, size_t top_n) {
  KernelTables out;
  std::vector<NameAcc> kern(t.names.size()), ops(t.names.size());
  for (size_t i = 0; i < kern.size(); ++i) kern[i].name = ops[i].name = static_cast<uint32_t>(i);
  for (size_t j = 0; j < t.kernels.size(); ++j) {
    const KernelRec& k = t.kernels[j];
    NameAcc& a = kern[k.name];
    a.add_duration(k.dur_ns);
    ++a.count;
    a.total_ns += k.dur_ns;
    out.kernel_time_ns += k.dur_ns;
    if (!d.timing.joined[j]) continue;
    int64_t lq = k.ts_ns - d.timing.launch_start_ns[j];
    ++a.joined;
    a.lq_ns += lq;
    int32_t op = join.api_op[join.kernel_launch[j]];
    if (op < 0) continue;
    NameAcc& o = ops[t.ops[op].name];
    ++o.count;
    o.lq_ns += lq;
    o.total_ns += k.dur_ns;
  }
  for (const OpRec& op : t.ops) {
    ++ops[op.name].calls;
    ops[op.name].cpu_ns += op.dur_ns;
  }
  for (size_t i = 0; i < t.apis.size(); ++i) {
    if (!is_launch(t.apis[i].kind) || join.api_shadowed[i] || join.api_op[i] < 0) continue;
    ++ops[t.ops[join.api_op[i]].name].launches;
  }
  for (const NameAcc& a : kern) out.distinct_kernel_names += a.count > 0;

  auto to_kernel = [&t](const NameAcc& a) {
    return KernelStat{std::string(t.names.name(a.name)), a.count, a.total_ns, a.min_ns, a.max_ns, a.std_ns(),
                      a.joined, a.lq_ns};
  };
  auto to_op = [&t](const NameAcc& a) {
    return OpStat{std::string(t.names.name(a.name)), a.calls, a.cpu_ns, a.launches, a.count, a.total_ns, a.lq_ns};
  };
  // Ties broken by name so that output is deterministic.
  auto name_less = [&t](const NameAcc& a, const NameAcc& b) { return t.names.name(a.name) < t.names.name(b.name); };
  for (const NameAcc& a : top(kern, top_n, [&](const NameAcc& a, const NameAcc& b) {
         return a.count != b.count ? a.count > b.count : name_less(a, b);
       }))
    out.by_count.push_back(to_kernel(a));
  for (const NameAcc& a : top(kern, top_n, [&](const NameAcc& a, const NameAcc& b) {
         return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : name_less(a, b);
       }))
    out.by_time.push_back(to_kernel(a));
  std::vector<NameAcc> launching;  // operators that launched a kernel
  for (const NameAcc& a : ops)
    if (a.count > 0) launching.push_back(a);
  for (const NameAcc& a : top(launching, top_n, [&](const NameAcc& a, const NameAcc& b) {
         return a.count != b.count ? a.count > b.count : name_less(a, b);
       }))
    out.ops_by_kernels.push_back(to_op(a));
  for (const NameAcc& a : top(launching, top_n, [&](const NameAcc& a, const NameAcc& b) {
         return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : name_less(a, b);
       }))
    out.ops_by_gpu_time.push_back(to_op(a));

  // API calls by name; the preferred call of a shared correlation only (as the join counts them).
  std::vector<NameAcc> apis(t.names.size());
  for (size_t i = 0; i < apis.size(); ++i) apis[i].name = static_cast<uint32_t>(i);
  for (size_t i = 0; i < t.apis.size(); ++i) {
    if (join.api_shadowed[i]) continue;
    NameAcc& a = apis[t.apis[i].name];
    a.add_duration(t.apis[i].dur_ns);
    ++a.count;
    a.total_ns += t.apis[i].dur_ns;
    a.joined += join.api_kernels[i];
    a.is_driver = t.apis[i].is_driver;
  }
  for (const NameAcc& a : top(apis, top_n, [&](const NameAcc& a, const NameAcc& b) {
         return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : name_less(a, b);
       }))
    out.apis_by_time.push_back(
        ApiStat{std::string(t.names.name(a.name)), a.is_driver, a.count, a.total_ns, a.min_ns, a.max_ns, a.joined});

  std::map<std::pair<uint32_t, const char*>, MemStat> mems;
  for (const MemRec& r : t.mems) {
    const char* size = size_class(r.bytes);
    MemStat& m = mems[{r.name, size}];
    if (m.count == 0) m.kind = std::string(t.names.name(r.name)), m.size = size;
    ++m.count;
    m.bytes += std::max<int64_t>(0, r.bytes);
    m.total_ns += r.dur_ns;
  }
  for (auto& [key, m] : mems) out.mems.push_back(std::move(m));
  std::sort(out.mems.begin(), out.mems.end(), [](const MemStat& a, const MemStat& b) {
    return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : std::tie(a.kind, a.size) < std::tie(b.kind, b.size);
  });
  return out;
}

}  // namespace launchprof
