// A minimal parallel-for for the reference: items are handed out one at a time from an atomic counter.
// Each item must write disjoint memory, so results never depend on the thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace onemoe::reference {

// ONEMOE_REF_THREADS when set to a positive integer, else the hardware concurrency (at least 1).
int num_threads();

template <class Fn>
void parallel_for(int64_t num_items, const Fn& fn) {
  const int64_t wanted = std::min<int64_t>(num_threads(), num_items);
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    for (int64_t i = next.fetch_add(1); i < num_items; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < wanted; ++t) {
    try {
      pool.emplace_back(worker);
    } catch (...) {
      break;  // fewer threads is still correct: the calling thread drains what is left
    }
  }
  worker();
  for (auto& th : pool) th.join();
}

}  // namespace onemoe::reference
