// How a multi-GPU bench run is laid out: which rank this process is (flags or the launcher's environment),
// which GPU it drives, how many tokens each rank holds, and which rank holds each expert. Pure host code.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "onemoe/onemoe.h"

namespace onemoe::multi_gpu {

struct RankEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = -1;  // -1: not given
  std::string source;   // "flags", "OMPI_COMM_WORLD_*", "RANK/WORLD_SIZE" (torchrun)
};

using EnvLookup = std::function<const char*(const char*)>;

// Rank and world size from the flags when given (>= 0), else from Open MPI's OMPI_COMM_WORLD_RANK/SIZE/
// LOCAL_RANK, else from torchrun's RANK/WORLD_SIZE/LOCAL_RANK. Fails when neither gives both, or they are
// out of range. env is getenv in the bench and a map in the test.
Result resolve_rank_env(int flag_rank, int flag_world_size, const EnvLookup& env, RankEnv* out);

// The GPU a process drives: the flag when >= 0, else local_rank, else rank, modulo the visible device count.
int pick_device(const RankEnv& env, int flag_device, int device_count);

// "16384" (same T on every rank) or "16384,0,300,..." (one per rank). T >= 0, and not all 0.
Result parse_tokens_per_rank(const std::string& spec, int world_size, std::vector<int64_t>* out);

// "contiguous" (blocks; the first E % R ranks hold one more), "round-robin" (expert e on rank e % R), or an
// explicit comma list of E ranks.
Result parse_placement(const std::string& spec, int num_experts, int world_size, std::vector<int>* out);

// Rows of a list of integers "1,2,3" (no spaces); false on anything else.
bool parse_int_list(const std::string& spec, std::vector<int64_t>* out);

}  // namespace onemoe::multi_gpu
