#include "multi_gpu/id_file.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

namespace onemoe::multi_gpu {

Result write_id_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!f) return Result::error(Status::kErrorInvalidArgument, "cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Result::error(Status::kErrorInvalidArgument, "cannot rename " + tmp + " to " + path);
  }
  return Result::success();
}

Result read_id_file(const std::string& path, size_t size, std::time_t not_before, double timeout_ms, int poll_ms,
                    std::vector<uint8_t>* bytes) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(timeout_ms);
  while (true) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && size_t(st.st_size) == size && st.st_mtime >= not_before) {
      std::ifstream f(path, std::ios::binary);
      bytes->assign(size, 0);
      f.read(reinterpret_cast<char*>(bytes->data()), std::streamsize(size));
      if (f && size_t(f.gcount()) == size) return Result::success();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Result::error(Status::kErrorTimeout, "no fresh NCCL id in " + path + " after " +
                                                      std::to_string(int64_t(timeout_ms)) + " ms (is rank 0 running "
                                                      "with the same --nccl-id-file?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

}  // namespace onemoe::multi_gpu
