#include "reference/parallel.h"

#include <cstdlib>

namespace onemoe::reference {

int num_threads() {
  if (const char* env = std::getenv("ONEMOE_REF_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace onemoe::reference
