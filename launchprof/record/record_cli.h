// `launchprof record [-o trace.json.gz] [options] -- <command...>`: runs the command with the CUPTI injection
// library loaded (CUDA_INJECTION64_PATH) and returns the command's exit code. Usage errors, a missing injection
// library and a command that cannot be started return 2.
#pragma once

#include <string>

namespace launchprof::record {

// argv[0] is the subcommand's name ("record") and is not read; the options and the command follow.
int record_main(int argc, char** argv);

// Where the injection library is: $LAUNCHPROF_INJECT_LIB, else next to the running executable (or in its parent, its
// record/ or its ../lib/ folder), else the path the build put it at. Empty if none exists.
std::string find_inject_library();

}  // namespace launchprof::record
