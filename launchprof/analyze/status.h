// A small status type for launchprof: library code returns it instead of throwing or exiting.
#pragma once

#include <string>
#include <utility>

namespace launchprof {

enum class StatusCode {
  kOk = 0,
  kIoError,        // cannot open or read the file
  kTruncated,      // the input ended inside the JSON document
  kMalformed,      // not valid JSON, or not a trace
  kNoTraceEvents,  // valid JSON without a traceEvents array
  kInvalidArgument,
};

struct Status {
  StatusCode code = StatusCode::kOk;
  std::string message;

  bool ok() const { return code == StatusCode::kOk; }
  static Status Ok() { return {}; }
  static Status Error(StatusCode c, std::string msg) { return {c, std::move(msg)}; }
};

const char* status_code_name(StatusCode code);

}  // namespace launchprof
