#include "record_cli.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace launchprof::record {
namespace {

constexpr int kUsageError = 2;
constexpr const char* kInjectName = "liblaunchprof_inject.so";

constexpr const char* kUsage =
    "usage: launchprof record [-o TRACE] [--latency] [--no-nvtx] [--capture-range] [--all-driver-apis] "
    "[--all-runtime-apis] [--api-source activity|callback] [--thread-ids system|cupti] -- COMMAND [ARGS...]\n"
    "  -o, --output TRACE    trace file (default launchprof-trace.json.gz; .gz compresses)\n"
    "      --latency         also record when each kernel was queued and submitted (more overhead)\n"
    "      --no-nvtx         do not record NVTX ranges\n"
    "      --capture-range   keep only what runs between cudaProfilerStart and cudaProfilerStop\n"
    "      --all-driver-apis record every driver API call, not only launches, copies, sets and syncs\n"
    "      --all-runtime-apis also record runtime calls that only read host state (cudaGetDevice,\n"
    "                        cudaGetLastError, ...; left out by default: frameworks make several per kernel)\n"
    "      --api-source S    who records the runtime and driver calls: CUPTI activity records (activity,\n"
    "                        the default) or launchprof's own CUPTI callback into a per-thread log (callback)\n"
    "      --thread-ids T    thread ids in CUPTI's records: system (gettid, the default) or cupti (pthread_self)\n"
    "The command runs with CUDA_INJECTION64_PATH set; its exit code is returned.\n";

std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "" : exe.substr(0, slash);
}

std::string absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

struct Args {
  std::string output = "launchprof-trace.json.gz";
  bool latency = false;
  bool nvtx = true;
  bool capture_range = false;
  bool all_driver_apis = false;
  bool all_runtime_apis = false;
  std::string api_source;  // "" (the library's default), "activity" or "callback"
  std::string thread_ids;  // "" (the library's default), "system" or "cupti"
  std::vector<char*> command;
};

// Returns -1 when the arguments are fine, else the exit code to return (0 for --help).
int parse(int argc, char** argv, Args& args) {
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "-o" || a == "--output") {
      if (i + 1 >= argc || argv[i + 1][0] == '\0') {
        std::fprintf(stderr, "launchprof record: %s needs a file name\n%s", a.c_str(), kUsage);
        return kUsageError;
      }
      args.output = argv[++i];
    } else if (a.rfind("--output=", 0) == 0) {
      args.output = a.substr(9);
    } else if (a == "--latency") {
      args.latency = true;
    } else if (a == "--no-nvtx") {
      args.nvtx = false;
    } else if (a == "--capture-range") {
      args.capture_range = true;
    } else if (a == "--all-driver-apis") {
      args.all_driver_apis = true;
    } else if (a == "--all-runtime-apis") {
      args.all_runtime_apis = true;
    } else if (a == "--api-source" || a == "--thread-ids") {
      const bool source = a == "--api-source";
      const std::string v = i + 1 < argc ? argv[i + 1] : "";
      const bool ok = source ? (v == "activity" || v == "callback") : (v == "system" || v == "cupti");
      if (!ok) {
        std::fprintf(stderr, "launchprof record: %s needs %s\n%s", a.c_str(),
                     source ? "activity or callback" : "system or cupti", kUsage);
        return kUsageError;
      }
      (source ? args.api_source : args.thread_ids) = v;
      ++i;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "launchprof record: unknown option %s\n%s", a.c_str(), kUsage);
      return kUsageError;
    } else {
      break;  // the command starts here (no "--")
    }
  }
  for (; i < argc; ++i) args.command.push_back(argv[i]);
  if (args.command.empty()) {
    std::fprintf(stderr, "launchprof record: no command given\n%s", kUsage);
    return kUsageError;
  }
  if (args.output.empty()) {
    std::fprintf(stderr, "launchprof record: empty output path\n");
    return kUsageError;
  }
  args.command.push_back(nullptr);
  return -1;
}

void set_child_environment(const Args& args, const std::string& inject, const std::string& output) {
  setenv("CUDA_INJECTION64_PATH", inject.c_str(), 1);
  setenv("LAUNCHPROF_OUTPUT", output.c_str(), 1);
  // The command keeps the child's pid through exec; processes it starts write beside its trace.
  setenv("LAUNCHPROF_ROOT_PID", std::to_string(getpid()).c_str(), 1);
  if (args.nvtx) {
    setenv("NVTX_INJECTION64_PATH", inject.c_str(), 0);  // a user's own NVTX tool wins
  } else {
    setenv("LAUNCHPROF_NVTX", "0", 1);
  }
  if (args.latency) setenv("LAUNCHPROF_LATENCY", "1", 1);
  if (args.capture_range) setenv("LAUNCHPROF_CAPTURE_RANGE", "cudaProfilerApi", 1);
  if (args.all_driver_apis) setenv("LAUNCHPROF_DRIVER_API", "all", 1);
  if (args.all_runtime_apis) setenv("LAUNCHPROF_RUNTIME_API", "all", 1);
  if (!args.api_source.empty()) setenv("LAUNCHPROF_API_SOURCE", args.api_source.c_str(), 1);
  if (!args.thread_ids.empty()) setenv("LAUNCHPROF_THREAD_IDS", args.thread_ids.c_str(), 1);
}

}  // namespace

std::string find_inject_library() {
  if (const char* env = std::getenv("LAUNCHPROF_INJECT_LIB"); env != nullptr && *env != '\0') {
    return file_exists(env) ? canonical(env) : "";
  }
  const std::string dir = self_dir();
  if (!dir.empty()) {
    for (const char* rel : {"/", "/../", "/record/", "/../lib/"}) {
      std::string p = dir + rel + kInjectName;
      if (file_exists(p)) return canonical(p);
    }
  }
#ifdef LAUNCHPROF_INJECT_BUILD_PATH
  if (file_exists(LAUNCHPROF_INJECT_BUILD_PATH)) return LAUNCHPROF_INJECT_BUILD_PATH;
#endif
  return "";
}

int record_main(int argc, char** argv) {
  Args args;
  if (int rc = parse(argc, argv, args); rc >= 0) return rc;

  const std::string inject = find_inject_library();
  if (inject.empty()) {
    std::fprintf(stderr, "launchprof record: cannot find %s (set LAUNCHPROF_INJECT_LIB to its path)\n", kInjectName);
    return kUsageError;
  }
  const std::string output = absolute(args.output);  // the command may change directory

  // The child reports an exec failure through this pipe; it closes on a successful exec.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "launchprof record: pipe: %s\n", std::strerror(errno));
    return kUsageError;
  }
  pid_t child = fork();
  if (child < 0) {
    std::fprintf(stderr, "launchprof record: fork: %s\n", std::strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return kUsageError;
  }
  if (child == 0) {
    close(fds[0]);
    set_child_environment(args, inject, output);
    execvp(args.command[0], args.command.data());
    int err = errno;
    ssize_t ignored = write(fds[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(fds[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(fds[0]);

  // Ctrl-C reaches the command (same process group); wait for it to finish writing its trace.
  struct sigaction ignore {
  }, old_int{}, old_term{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGTERM, &ignore, &old_term);
  int status = 0;
  pid_t w;
  do {
    w = waitpid(child, &status, 0);
  } while (w < 0 && errno == EINTR);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);

  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    std::fprintf(stderr, "launchprof record: cannot run %s: %s\n", args.command[0], std::strerror(child_errno));
    return kUsageError;
  }
  if (w < 0) {
    std::fprintf(stderr, "launchprof record: waitpid: %s\n", std::strerror(errno));
    return kUsageError;
  }
  if (!file_exists(output)) {
    std::fprintf(stderr, "launchprof record: no trace at %s (did the command initialize CUDA?)\n", output.c_str());
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "launchprof record: %s killed by signal %d\n", args.command[0], WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return 1;
}

}  // namespace launchprof::record
