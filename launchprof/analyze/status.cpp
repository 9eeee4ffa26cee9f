#include "launchprof/analyze/status.h"

namespace launchprof {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kIoError:
      return "io-error";
    case StatusCode::kTruncated:
      return "truncated";
    case StatusCode::kMalformed:
      return "malformed";
    case StatusCode::kNoTraceEvents:
      return "no-trace-events";
    case StatusCode::kInvalidArgument:
      return "invalid-argument";
  }
  return "?";
}

}  // namespace launchprof
