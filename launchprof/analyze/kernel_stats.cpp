#include "launchprof/analyze/kernel_stats.h"

#include <algorithm>

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
  uint64_t count = 0, joined = 0, launches = 0;
  int64_t total_ns = 0, lq_ns = 0;
  uint64_t count_for_top() const { return count; }
};

}  // namespace

KernelTables top_tables(const TraceData& t, const JoinResult& join, const PerKernelDerived& d, size_t top_n) {
  KernelTables out;
  std::vector<NameAcc> kern(t.names.size()), ops(t.names.size());
  for (size_t i = 0; i < kern.size(); ++i) kern[i].name = ops[i].name = static_cast<uint32_t>(i);
  for (size_t j = 0; j < t.kernels.size(); ++j) {
    const KernelRec& k = t.kernels[j];
    NameAcc& a = kern[k.name];
    ++a.count;
    a.total_ns += k.dur_ns;
    if (!d.timing.joined[j]) continue;
    int64_t lq = k.ts_ns - d.timing.launch_start_ns[j];
    ++a.joined;
    a.lq_ns += lq;
    int32_t op = join.api_op[join.kernel_launch[j]];
    if (op < 0) continue;
    NameAcc& o = ops[t.ops[op].name];
    ++o.count;
    o.lq_ns += lq;
  }
  for (size_t i = 0; i < t.apis.size(); ++i) {
    if (!is_launch(t.apis[i].kind) || join.api_shadowed[i] || join.api_op[i] < 0) continue;
    ++ops[t.ops[join.api_op[i]].name].launches;
  }
  for (const NameAcc& a : kern) out.distinct_kernel_names += a.count > 0;

  auto to_kernel = [&t](const NameAcc& a) {
    return KernelStat{std::string(t.names.name(a.name)), a.count, a.total_ns, a.joined, a.lq_ns};
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
  for (const NameAcc& a : top(ops, top_n, [&](const NameAcc& a, const NameAcc& b) {
         return a.count != b.count ? a.count > b.count : name_less(a, b);
       }))
    out.ops_by_kernels.push_back(OpStat{std::string(t.names.name(a.name)), a.launches, a.count, a.lq_ns});
  return out;
}

}  // namespace launchprof
