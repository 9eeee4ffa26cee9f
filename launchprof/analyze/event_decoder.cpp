#include "launchprof/analyze/event_decoder.h"

#include <cstring>
#include <string_view>
#include <utility>

#include "launchprof/analyze/api_kind.h"
#include "launchprof/analyze/json_fault.h"
#include "launchprof/analyze/time_parse.h"

namespace launchprof {
namespace {

namespace od = simdjson::ondemand;

enum class Category : uint8_t {
  kOther,
  kKernel,
  kRuntime,
  kDriver,
  kMemcpy,
  kMemset,
  kCpuOp,
  kUserAnnotation,
  kGpuUserAnnotation,
  kGpuSync,
  kFlow,
  kInKernelTask,  // `launchprof timeline`: a task of onemoe's persistent kernel ("X") or one of its marks ("i")
  kInKernelMark,
};

// Kineto names (and the capitalised names of older PyTorch releases).
Category classify_category(std::string_view cat) {
  char low[24];
  if (cat.size() >= sizeof(low)) return Category::kOther;
  for (size_t i = 0; i < cat.size(); ++i) low[i] = (cat[i] >= 'A' && cat[i] <= 'Z') ? cat[i] + 32 : cat[i];
  std::string_view c(low, cat.size());
  if (c == "kernel") return Category::kKernel;
  if (c == "cuda_runtime" || c == "runtime") return Category::kRuntime;
  if (c == "cuda_driver" || c == "driver") return Category::kDriver;
  if (c == "gpu_memcpy" || c == "memcpy") return Category::kMemcpy;
  if (c == "gpu_memset" || c == "memset") return Category::kMemset;
  if (c == "cpu_op" || c == "operator") return Category::kCpuOp;
  if (c == "user_annotation" || c == "nvtx") return Category::kUserAnnotation;
  if (c == "gpu_user_annotation") return Category::kGpuUserAnnotation;
  if (c == "cuda_sync") return Category::kGpuSync;
  if (c == "ac2g") return Category::kFlow;
  if (c == "onemoe_task") return Category::kInKernelTask;
  if (c == "onemoe_mark") return Category::kInKernelMark;
  return Category::kOther;
}

// Ids (pid, tid, correlation, External id, stream) are integers in Kineto, but some writers use strings
// ("stream 7"); a non-numeric string gets a stable hash with bit 62 set, away from small integers.
bool read_id(od::value v, int64_t* out) {
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type == od::json_type::number) {
    int64_t i;
    if (!v.get_int64().get(i)) {
      *out = i;
      return true;
    }
    double d;
    if (v.get_double().get(d)) return false;
    if (!(d > -9.2e18 && d < 9.2e18)) return false;  // also rejects NaN
    *out = static_cast<int64_t>(d);
    return true;
  }
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    int64_t n = 0;
    bool digits = !s.empty() && s.size() < 18;
    for (char c : s) digits = digits && c >= '0' && c <= '9';
    if (digits) {
      for (char c : s) n = n * 10 + (c - '0');
      *out = n;
      return true;
    }
    uint64_t h = 1469598103934665603ull;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    *out = static_cast<int64_t>((h & ((1ull << 62) - 1)) | (1ull << 62));
    return true;
  }
  return false;
}

bool read_time(od::value v, int64_t* ns) {
  return parse_us_to_ns(v.raw_json_token(), ns);
}

}  // namespace

Status EventDecoder::locate(Status s, const char* data, size_t size, uint64_t offset) const {
  std::string what;
  size_t at = find_json_fault(data, size, true, &what);
  if (at == kNoJsonFault || at >= size) return s;  // simdjson saw what the plain grammar check does not (UTF-8, ...)
  s.message = "malformed JSON at byte " + std::to_string(offset + at) + ": " + what + " (" + s.message + ")";
  return s;
}

Status EventDecoder::decode_batch(const char* data, size_t size, size_t num_elements, uint64_t offset) {
  size_t need = size + 2 + simdjson::SIMDJSON_PADDING;
  if (padded_.size() < need) padded_.resize(need + need / 4);
  padded_[0] = '[';
  std::memcpy(padded_.data() + 1, data, size);
  padded_[size + 1] = ']';
  std::memset(padded_.data() + size + 2, ' ', simdjson::SIMDJSON_PADDING);
  auto fail = [&](simdjson::error_code e) {
    return Status::Error(StatusCode::kMalformed, "malformed trace event near event #" + std::to_string(decoded_) +
                                                     ": " + simdjson::error_message(e));
  };
  od::document doc;
  if (auto e = parser_.iterate(padded_.data(), size + 2, padded_.size()).get(doc))
    return locate(fail(e), data, size, offset);
  od::array events;
  if (auto e = doc.get_array().get(events)) return locate(fail(e), data, size, offset);
  for (auto element : events) {
    od::object obj;
    if (auto e = element.get_object().get(obj)) return locate(fail(e), data, size, offset);
    Status s = decode_event(obj);
    if (!s.ok()) return locate(s, data, size, offset);
    ++decoded_;
  }
  (void)num_elements;
  return Status::Ok();
}

bool EventDecoder::to_offset(int64_t* ts) {
  if (!out_->has_time_base) {
    out_->time_base_ns = *ts;
    out_->has_time_base = true;
  }
  __int128 offset = static_cast<__int128>(*ts) - out_->time_base_ns;
  if (offset <= -kMaxTimeOffsetNs || offset >= kMaxTimeOffsetNs) return false;
  *ts = static_cast<int64_t>(offset);
  return true;
}

Status EventDecoder::decode_event(od::object obj) {
  std::string_view ph, cat, name;
  int64_t ts = 0, dur = 0;
  bool has_ts = false, has_dur = false;
  int64_t pid = 0, tid = 0, flow_id = kNoId;
  int64_t correlation = kNoId, external_id = kNoId, device = kNoId, stream = kNoId, bytes = kNoId;
  auto fail = [&](simdjson::error_code e) {
    return Status::Error(StatusCode::kMalformed, "malformed trace event #" + std::to_string(decoded_) + ": " +
                                                     simdjson::error_message(e));
  };
  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return fail(e);
    od::raw_json_string key = field.key();
    od::value v = field.value();
    // Dispatch on the first byte: most keys are rejected after one comparison.
    switch (*reinterpret_cast<const char*>(key.raw())) {
      case 'p':
        if (key == "ph") {
          if (auto e = v.get_string().get(ph)) return fail(e);
        } else if (key == "pid") {
          read_id(v, &pid);
        }
        break;
      case 'c':
        if (key == "cat") {
          if (auto e = v.get_string().get(cat)) return fail(e);
        }
        break;
      case 'n':
        if (key == "name") {
          if (auto e = v.get_string().get(name)) return fail(e);
        }
        break;
      case 't':
        if (key == "ts") {
          has_ts = read_time(v, &ts);
        } else if (key == "tid") {
          read_id(v, &tid);
        }
        break;
      case 'd':
        if (key == "dur") has_dur = read_time(v, &dur);
        break;
      case 'i':
        if (key == "id") read_id(v, &flow_id);
        break;
      case 'a':
        if (key == "args") {
          od::object args;
          if (v.get_object().get(args)) break;  // non-object args: nothing we use
          for (auto arg_result : args) {
            od::field arg;
            if (auto e = std::move(arg_result).get(arg)) return fail(e);
            od::raw_json_string k = arg.key();
            od::value av = arg.value();
            if (k == "correlation") {
              read_id(av, &correlation);
            } else if (k == "External id") {
              read_id(av, &external_id);
            } else if (k == "device") {
              read_id(av, &device);
            } else if (k == "stream") {
              read_id(av, &stream);
            } else if (k == "bytes") {
              read_id(av, &bytes);
            }
          }
        }
        break;
      default:
        break;
    }
  }

  ReadCounts& counts = out_->counts;
  ++counts.events;
  Category category = classify_category(cat);
  if (category == Category::kOther) {
    ++counts.other;
    return Status::Ok();
  }
  if (category == Category::kFlow) {
    if (ph != "s" && ph != "f" && ph != "t") {
      ++counts.skipped_bad_phase;
      return Status::Ok();
    }
    ++counts.flows;
    out_->flows.push_back({flow_id, ph[0]});
    return Status::Ok();
  }
  if (category == Category::kInKernelMark) {
    ++counts.in_kernel_marks;
    return Status::Ok();
  }
  if (ph != "X") {
    ++counts.skipped_bad_phase;
    return Status::Ok();
  }
  if (!has_ts || !has_dur || !to_offset(&ts) || dur <= -kMaxTimeOffsetNs || dur >= kMaxTimeOffsetNs) {
    ++counts.skipped_missing_time;
    return Status::Ok();
  }
  if (dur < 0) ++counts.negative_durations;
  switch (category) {
    case Category::kKernel: {
      ++counts.kernels;
      int32_t dev = static_cast<int32_t>(device != kNoId ? device : pid);
      out_->kernels.push_back({ts, dur, correlation, stream != kNoId ? stream : tid, dev, out_->names.intern(name)});
      break;
    }
    case Category::kRuntime:
    case Category::kDriver: {
      bool is_driver = category == Category::kDriver;
      ++(is_driver ? counts.driver : counts.runtime);
      uint32_t id = out_->names.intern(name);
      if (id >= api_kind_by_name_.size()) api_kind_by_name_.resize(id + 1, kUnclassified);
      if (api_kind_by_name_[id] == kUnclassified) api_kind_by_name_[id] = static_cast<uint8_t>(classify_api(name));
      ApiKind kind = static_cast<ApiKind>(api_kind_by_name_[id]);
      out_->apis.push_back({ts, dur, correlation, external_id, pid, tid, id, kind, is_driver});
      break;
    }
    case Category::kMemcpy:
    case Category::kMemset: {
      bool is_memset = category == Category::kMemset;
      ++(is_memset ? counts.memset : counts.memcpy);
      int32_t dev = static_cast<int32_t>(device != kNoId ? device : pid);
      out_->mems.push_back({ts, dur, stream != kNoId ? stream : tid, bytes, dev, out_->names.intern(name), is_memset});
      break;
    }
    case Category::kCpuOp:
    case Category::kUserAnnotation: {
      bool is_op = category == Category::kCpuOp;
      ++(is_op ? counts.cpu_ops : counts.user_annotations);
      out_->ops.push_back({ts, dur, external_id, pid, tid, out_->names.intern(name),
                           is_op ? OpKind::kCpuOp : OpKind::kUserAnnotation});
      break;
    }
    case Category::kGpuUserAnnotation:
      ++counts.gpu_user_annotations;
      break;
    case Category::kInKernelTask:
      ++counts.in_kernel_tasks;
      out_->tasks.push_back({ts, dur, pid, tid, out_->names.intern(name)});
      break;
    case Category::kGpuSync:
      ++counts.gpu_syncs;
      break;
    default:
      break;
  }
  return Status::Ok();
}

std::string device_name_from_properties(const std::string& json) {
  if (json.empty()) return "";
  simdjson::padded_string padded(json);
  od::parser parser;
  od::document doc;
  if (parser.iterate(padded).get(doc)) return "";
  od::array devices;
  if (doc.get_array().get(devices)) return "";
  for (auto dev : devices) {
    od::object obj;
    if (dev.get_object().get(obj)) return "";
    std::string_view name;
    if (!obj.find_field_unordered("name").get_string().get(name)) return std::string(name);
  }
  return "";
}

}  // namespace launchprof
