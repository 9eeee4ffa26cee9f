// The multi-GPU mode of onemoe-bench: expert-parallel rows of the fused kernel and of the bulk-synchronous
// baseline over the GPUs of one node, either one process with a thread per GPU (--gpus N) or one process per
// GPU under mpirun/torchrun (--nccl-id-file PATH). Rank 0 prints the rows and writes the JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "onemoe/onemoe.h"

namespace onemoe::multi_gpu {

struct EpOptions {
  // What to run (the single-GPU path's options, same meaning).
  std::vector<std::string> dtypes;
  std::vector<int> experts, top_k;
  int hidden = 0, intermediate = 0;
  MoeConfig base;  // activation, scoring, gated, renormalize, capacity; dtype set per row
  std::string activation_label;
  std::vector<int64_t> token_values;  // T on every rank, one sweep value each
  std::string tokens_per_rank;        // when set: one T per rank ("16384,0,300"), replaces token_values
  std::string placement = "contiguous";
  double skew = 0;
  int skew_rank = 0;
  std::vector<std::string> impls;
  int warmup = 5, iters = 20;
  bool check = true, count_launches = true, check_bitwise = false;
  int64_t check_tokens = 512;  // per rank (dropless)
  uint64_t seed = 1;
  std::string json_path, command;
  std::string timeline_prefix;  // onemoe: write each rank's last timed forward as a task timeline CSV

  // How ranks are laid out.
  int gpus = 0;               // > 0: this process drives GPUs 0..gpus-1, one thread each
  std::string nccl_id_file;   // set: one process per GPU, rank 0 writes the NCCL id here
  int rank = -1, world_size = -1, device = -1;
  double id_timeout_s = 120;
  double wait_timeout_ms = 2000;  // onemoe: bound on every device-side wait
};

// Runs every row; returns the process exit code (0: all rows ran and passed).
int run_ep_bench(const EpOptions& options);

}  // namespace onemoe::multi_gpu
