#include "launchprof/analyze/timeline_merge.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "launchprof/analyze/time_parse.h"

namespace launchprof {
namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// ns -> "123.456" microseconds, exactly (no double: trace timestamps have 16 or more digits in ns).
std::string us_text(int64_t ns) {
  char buf[48];
  const char* sign = ns < 0 ? "-" : "";
  uint64_t a = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  std::snprintf(buf, sizeof(buf), "%s%llu.%03llu", sign, static_cast<unsigned long long>(a / 1000),
                static_cast<unsigned long long>(a % 1000));
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

Status parse_timeline_csv(const std::string& text, const std::string& path, std::vector<TimelineTask>* out) {
  out->clear();
  std::istringstream in(text);
  std::string line;
  auto bad = [&path](size_t lineno, const std::string& why) {
    return Status::Error(StatusCode::kMalformed, path + ":" + std::to_string(lineno) + ": " + why);
  };
  if (!std::getline(in, line)) return Status::Error(StatusCode::kMalformed, path + ": empty file (no CSV header)");
  std::vector<std::string> header = split_csv_line(line);
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* need : {"stage", "index", "block", "sm", "start_us", "end_us"})
    if (!col.count(need))
      return bad(1, std::string("no '") + need +
                        "' column (expected onemoe-bench --timeline's header: "
                        "stage,index,block,sm,start_us,end_us,mark1_us,mark2_us,mark3_us)");
  std::vector<size_t> mark_cols;
  for (const char* m : {"mark1_us", "mark2_us", "mark3_us"})
    if (col.count(m)) mark_cols.push_back(col[m]);
  if (mark_cols.empty() && col.count("mark_us")) mark_cols.push_back(col["mark_us"]);  // older files: one mark
  size_t lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line == "\r") continue;
    std::vector<std::string> f = split_csv_line(line);
    if (f.size() != header.size())
      return bad(lineno, std::to_string(f.size()) + " fields, the header has " + std::to_string(header.size()));
    TimelineTask t;
    t.stage = f[col["stage"]];
    if (t.stage.empty()) return bad(lineno, "empty stage");
    auto integer = [&](const char* name, int64_t* v) {
      const std::string& s = f[col[name]];
      char* end = nullptr;
      long long x = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0') return false;
      *v = x;
      return true;
    };
    if (!integer("index", &t.index) || !integer("block", &t.block) || !integer("sm", &t.sm) || t.sm < 0)
      return bad(lineno, "index, block and sm must be integers (sm >= 0)");
    if (!parse_us_to_ns(f[col["start_us"]], &t.start_ns) || !parse_us_to_ns(f[col["end_us"]], &t.end_ns))
      return bad(lineno, "start_us and end_us must be numbers");
    if (t.end_ns < t.start_ns) return bad(lineno, "the task ends before it starts");
    for (size_t c : mark_cols) {
      int64_t m = -1;
      const std::string& s = f[c];
      if (!s.empty() && s[0] != '-' && !parse_us_to_ns(s, &m)) return bad(lineno, "a mark is not a number");
      t.marks_ns.push_back(s.empty() || s[0] == '-' ? -1 : m);
    }
    out->push_back(std::move(t));
  }
  if (out->empty()) return Status::Error(StatusCode::kMalformed, path + ": no tasks after the header");
  return Status::Ok();
}

std::string timeline_events(const std::vector<TimelineTask>& tasks, const TimelineTarget& target, size_t* tracks) {
  // Lanes per SM: a task goes to the first lane of its SM that is free at its start.
  std::vector<size_t> order(tasks.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&tasks](size_t a, size_t b) {
    return std::tie(tasks[a].sm, tasks[a].start_ns, tasks[a].end_ns) <
           std::tie(tasks[b].sm, tasks[b].start_ns, tasks[b].end_ns);
  });
  std::map<int64_t, std::vector<int64_t>> lane_free;  // sm -> end of the last task on each lane
  std::vector<int64_t> tid(tasks.size());
  std::map<int64_t, std::string> track_names;
  for (size_t i : order) {
    auto& lanes = lane_free[tasks[i].sm];
    size_t lane = 0;
    while (lane < lanes.size() && lanes[lane] > tasks[i].start_ns) ++lane;
    if (lane == lanes.size()) lanes.push_back(0);
    lanes[lane] = tasks[i].end_ns;
    tid[i] = kSmTrackBase + tasks[i].sm * 8 + static_cast<int64_t>(std::min<size_t>(lane, 7));
    if (lane >= 8) tid[i] = kSmTrackBase + 100000 + tasks[i].sm * 1000 + static_cast<int64_t>(lane);
    std::string name = "SM " + std::to_string(tasks[i].sm);
    if (lane > 0) name += " (" + std::to_string(lane + 1) + ")";
    track_names[tid[i]] = name;
  }
  *tracks = track_names.size();
  const std::string pid = std::to_string(target.pid);
  std::string out;
  auto sep = [&out]() {
    if (!out.empty()) out += ",\n";
  };
  for (const auto& [t, name] : track_names) {
    sep();
    out += "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":" + pid + ",\"tid\":" + std::to_string(t) +
           ",\"args\":{\"name\":" + json_string(name + " (in-kernel tasks)") + "}},\n";
    out += "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":" + pid + ",\"tid\":" + std::to_string(t) +
           ",\"args\":{\"sort_index\":" + std::to_string(t) + "}}";
  }
  const std::string kernel = json_string(target.kernel_name);
  for (size_t i = 0; i < tasks.size(); ++i) {
    const TimelineTask& k = tasks[i];
    const std::string common = ",\"pid\":" + pid + ",\"tid\":" + std::to_string(tid[i]);
    std::string args = "{\"stage\":" + json_string(k.stage) + ",\"index\":" + std::to_string(k.index) +
                       ",\"block\":" + std::to_string(k.block) + ",\"sm\":" + std::to_string(k.sm) +
                       ",\"kernel\":" + kernel +
                       (target.correlation >= 0 ? ",\"correlation\":" + std::to_string(target.correlation) : "") + "}";
    sep();
    out += "{\"ph\":\"X\",\"cat\":\"onemoe_task\",\"name\":" + json_string(k.stage) + common +
           ",\"ts\":" + us_text(target.ts_ns + k.start_ns) + ",\"dur\":" + us_text(k.end_ns - k.start_ns) +
           ",\"args\":" + args + "}";
    for (size_t m = 0; m < k.marks_ns.size(); ++m) {
      if (k.marks_ns[m] < 0) continue;
      sep();
      out += "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"onemoe_mark\",\"name\":" +
             json_string(k.stage + " mark" + std::to_string(m + 1)) + common +
             ",\"ts\":" + us_text(target.ts_ns + k.marks_ns[m]) + ",\"args\":" + args + "}";
    }
  }
  return out;
}

}  // namespace launchprof
