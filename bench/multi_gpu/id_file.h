// Hands NCCL's unique id from rank 0 to the other processes through a file (no MPI needed): rank 0 writes
// it to PATH.tmp and renames (readers never see half a file); the others poll with a bounded wait and only
// accept a file newer than their own start, so a stale file from an earlier run is not taken.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "onemoe/onemoe.h"

namespace onemoe::multi_gpu {

Result write_id_file(const std::string& path, const std::vector<uint8_t>& bytes);

// Waits until path holds exactly `size` bytes and was modified at or after not_before (seconds since the
// epoch; 0 accepts any age), polling every poll_ms, at most timeout_ms. kErrorTimeout names the path.
Result read_id_file(const std::string& path, size_t size, std::time_t not_before, double timeout_ms, int poll_ms,
                    std::vector<uint8_t>* bytes);

}  // namespace onemoe::multi_gpu
