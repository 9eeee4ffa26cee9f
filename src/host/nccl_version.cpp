#include "host/nccl_version.h"

#include <dlfcn.h>
#include <nccl.h>

#include <sstream>

namespace onemoe::host {
namespace {

void print_version(std::ostream& os, int code) {
  // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
  os << code / 10000 << '.' << (code / 100) % 100 << '.' << code % 100;
}

}  // namespace

Result check_nccl_version() {
  int runtime = 0;
  if (ncclGetVersion(&runtime) != ncclSuccess)
    return Result::error(Status::kErrorInternal, "ncclGetVersion failed: the runtime NCCL is unusable");
  if (runtime == NCCL_VERSION_CODE) return Result::success();
  std::ostringstream os;
  os << "NCCL version mismatch: onemoe was compiled against NCCL ";
  print_version(os, NCCL_VERSION_CODE);
  os << " (its device API has no ABI compatibility across releases) but this process loaded NCCL ";
  print_version(os, runtime);
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&ncclGetVersion), &info) != 0 && info.dli_fname != nullptr)
    os << " from " << info.dli_fname;
  os << ": rebuild onemoe with -DONEMOE_NCCL_ROOT pointing at the NCCL you run with, or load the NCCL it was "
        "built against first";
  return Result::error(Status::kErrorNotSupported, os.str());
}

}  // namespace onemoe::host
