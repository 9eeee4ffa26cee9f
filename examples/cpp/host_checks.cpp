// The installed package's host-side API, callable with no GPU: can_implement says why a shape cannot run.
#include <cstdio>

#include "onemoe/distributed.h"

int main() {
  int failures = 0;
  auto expect = [&](const char* what, const onemoe::Result& r, onemoe::Status want) {
    const bool ok = r.status == want;
    failures += !ok;
    std::printf("%s %s: %s %s\n", ok ? "PASS" : "FAIL", what, onemoe::status_string(r.status), r.message.c_str());
  };
  onemoe::MoeConfig config;
  expect("a valid shape", onemoe::Context::can_implement({4096, 8, 2, 1024, 1024}, config), onemoe::Status::kSuccess);
  expect("k > E", onemoe::Context::can_implement({4096, 4, 8, 1024, 1024}, config),
         onemoe::Status::kErrorInvalidArgument);
  expect("H not a multiple of 64", onemoe::Context::can_implement({4096, 8, 2, 1000, 1024}, config),
         onemoe::Status::kErrorNotSupported);
  expect("EP over 2 ranks", onemoe::DistributedContext::can_implement({4096, 8, 2, 1024, 1024}, config, 2, {}),
         onemoe::Status::kSuccess);
  std::printf("%s\n", failures == 0 ? "PASS: host checks" : "FAIL: host checks");
  return failures == 0 ? 0 : 1;
}
