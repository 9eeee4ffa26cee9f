// Writes a result file in the envelope of /work/shared/RESULTS.md (tool, command, commit, date, gpu, gpus, rows).
// Rows are pre-rendered JSON objects; the study that measured them builds them.
#pragma once

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "trace_writer.h"  // append_json_string

namespace launchprof::studies {

inline std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Returns false if the file cannot be written.
inline bool write_envelope(const std::string& path, const std::string& tool, const std::string& command,
                           const std::string& commit, const std::string& gpu, int gpus,
                           const std::vector<std::string>& rows) {
  using launchprof::record::append_json_string;
  std::string out = "{\n  \"tool\": ";
  append_json_string(out, tool);
  out += ",\n  \"command\": ";
  append_json_string(out, command);
  out += ",\n  \"commit\": ";
  append_json_string(out, commit);
  out += ",\n  \"date\": ";
  append_json_string(out, utc_now_iso());
  out += ",\n  \"gpu\": ";
  append_json_string(out, gpu);
  out += ",\n  \"gpus\": " + std::to_string(gpus) + ",\n  \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) out += "    " + rows[i] + (i + 1 < rows.size() ? ",\n" : "\n");
  out += "  ]\n}\n";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace launchprof::studies
