// The NCCL loaded at run time must be the release whose device API the kernel was compiled against: the device
// communicator and window structures have no ABI compatibility across NCCL releases.
#pragma once

#include "onemoe/onemoe.h"

namespace onemoe::host {

// Success when ncclGetVersion() equals NCCL_VERSION_CODE of the headers this library was built with; otherwise
// kErrorNotSupported naming both versions and the file the runtime NCCL was loaded from.
Result check_nccl_version();

}  // namespace onemoe::host
