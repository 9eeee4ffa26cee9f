// `launchprof timeline`: puts the inside of onemoe's persistent kernel into a Chrome trace. onemoe-bench
// --timeline PREFIX writes one CSV row per task (stage,index,block,sm,start_us,end_us,mark1_us,mark2_us,mark3_us;
// times from the first task's start). Each task becomes a slice on a track (tid) of its SM, placed under the
// kernel's process, with the first task at the kernel's start; each mark becomes an instant event on that track.
// Tasks of one SM that overlap in time (two blocks on one SM) go to extra lanes, "SM 12 (2)", so that slices on a
// track always nest.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launchprof/analyze/status.h"

namespace launchprof {

struct TimelineTask {
  std::string stage;
  int64_t index = 0, block = 0, sm = 0;
  int64_t start_ns = 0, end_ns = 0;  // from the first task's start
  std::vector<int64_t> marks_ns;     // from the first task's start; -1 = not reached
};

// Parses the CSV text (path is for messages). Errors name the line.
Status parse_timeline_csv(const std::string& text, const std::string& path, std::vector<TimelineTask>* out);

struct TimelineTarget {
  std::string kernel_name;
  int64_t pid = 0;    // the kernel's process (device) in the trace
  int64_t ts_ns = 0;  // absolute kernel start in trace time
  int64_t dur_ns = 0;
  int64_t correlation = -1;  // -1 if the kernel had none
};

// The Chrome-trace events (JSON objects, comma-separated, no brackets) for the tasks under `target`:
// thread_name and thread_sort_index metadata for each track, an "X" slice per task, an "i" instant per mark.
// `tracks` receives the number of tracks made.
std::string timeline_events(const std::vector<TimelineTask>& tasks, const TimelineTarget& target, size_t* tracks);

// The first tid of the SM tracks: far above CUDA stream ids, so they never collide.
constexpr int64_t kSmTrackBase = 1000000;

}  // namespace launchprof
