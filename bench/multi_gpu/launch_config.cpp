#include "multi_gpu/launch_config.h"

#include <cerrno>
#include <cstdlib>

#include "baselines/bulk_sync_baseline.h"

namespace onemoe::multi_gpu {
namespace {

bool parse_int(const char* s, int64_t* v) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *v = x;
  return true;
}

Result bad(const std::string& msg) { return Result::error(Status::kErrorInvalidArgument, msg); }

}  // namespace

bool parse_int_list(const std::string& spec, std::vector<int64_t>* out) {
  out->clear();
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t comma = spec.find(',', pos);
    const std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    int64_t v = 0;
    if (!parse_int(item.c_str(), &v)) return false;
    out->push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return !out->empty();
}

Result resolve_rank_env(int flag_rank, int flag_world_size, const EnvLookup& env, RankEnv* out) {
  RankEnv r;
  int64_t rank = -1, world = -1, local = -1;
  if (flag_rank >= 0 && flag_world_size >= 1) {
    rank = flag_rank;
    world = flag_world_size;
    r.source = "flags";
  } else if (parse_int(env("OMPI_COMM_WORLD_RANK"), &rank) && parse_int(env("OMPI_COMM_WORLD_SIZE"), &world)) {
    r.source = "OMPI_COMM_WORLD_*";
    if (!parse_int(env("OMPI_COMM_WORLD_LOCAL_RANK"), &local)) local = -1;
  } else if (parse_int(env("RANK"), &rank) && parse_int(env("WORLD_SIZE"), &world)) {
    r.source = "RANK/WORLD_SIZE";
    if (!parse_int(env("LOCAL_RANK"), &local)) local = -1;
  } else {
    return bad("no rank: pass --rank and --world-size, or start under mpirun (OMPI_COMM_WORLD_RANK/SIZE) or "
               "torchrun (RANK/WORLD_SIZE)");
  }
  if (r.source == "flags") {
    // A launcher's local rank still picks the GPU when only rank/world come from flags.
    if (!parse_int(env("OMPI_COMM_WORLD_LOCAL_RANK"), &local) && !parse_int(env("LOCAL_RANK"), &local)) local = -1;
  }
  if (world < 1 || rank < 0 || rank >= world) {
    return bad("rank " + std::to_string(rank) + " is not in [0, world size " + std::to_string(world) + ")");
  }
  r.rank = int(rank);
  r.world_size = int(world);
  r.local_rank = int(local);
  *out = r;
  return Result::success();
}

int pick_device(const RankEnv& env, int flag_device, int device_count) {
  if (device_count <= 0) return -1;
  if (flag_device >= 0) return flag_device % device_count;
  if (env.local_rank >= 0) return env.local_rank % device_count;
  return env.rank % device_count;
}

Result parse_tokens_per_rank(const std::string& spec, int world_size, std::vector<int64_t>* out) {
  std::vector<int64_t> v;
  if (!parse_int_list(spec, &v)) return bad("--tokens-per-rank '" + spec + "' is not a comma list of integers");
  if (v.size() == 1) v.assign(size_t(world_size), v[0]);
  if (int(v.size()) != world_size) {
    return bad("--tokens-per-rank has " + std::to_string(v.size()) + " values for " + std::to_string(world_size) +
               " ranks");
  }
  int64_t total = 0;
  for (int64_t t : v) {
    if (t < 0) return bad("--tokens-per-rank values must be >= 0");
    total += t;
  }
  if (total == 0) return bad("--tokens-per-rank: every rank has 0 tokens");
  *out = v;
  return Result::success();
}

Result parse_placement(const std::string& spec, int num_experts, int world_size, std::vector<int>* out) {
  if (num_experts < 1 || world_size < 1) return bad("placement needs E >= 1 and R >= 1");
  if (spec.empty() || spec == "contiguous") {
    *out = baselines::contiguous_expert_to_rank(num_experts, world_size);
    return Result::success();
  }
  if (spec == "round-robin") {
    out->resize(size_t(num_experts));
    for (int e = 0; e < num_experts; ++e) (*out)[size_t(e)] = e % world_size;
    return Result::success();
  }
  std::vector<int64_t> v;
  if (!parse_int_list(spec, &v)) return bad("--placement '" + spec + "': contiguous, round-robin or a list");
  if (int(v.size()) != num_experts) {
    return bad("--placement lists " + std::to_string(v.size()) + " ranks for " + std::to_string(num_experts) +
               " experts");
  }
  out->clear();
  for (int64_t r : v) {
    if (r < 0 || r >= world_size) return bad("--placement: rank " + std::to_string(r) + " out of range");
    out->push_back(int(r));
  }
  return Result::success();
}

}  // namespace onemoe::multi_gpu
