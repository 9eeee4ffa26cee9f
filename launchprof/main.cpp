// launchprof: a kernel-launch profiler after SKIP (TKLQT). One binary, five subcommands:
//   record  - run a program under the CUPTI injection library (launchprof/record), write a trace
//   analyze - join operator -> launch -> kernel in a trace and report the SKIP metrics
//   sweep   - metrics against batch size, and the CPU-bound -> GPU-bound transition
//   diff    - two traces side by side
//   timeline - merge onemoe-bench's in-kernel task timeline into a trace
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string_view>

#include "launchprof/analyze/analyze_cli.h"
#include "launchprof/analyze/diff_cli.h"
#include "launchprof/analyze/run_info.h"
#include "launchprof/analyze/timeline_cli.h"
#include "launchprof/sweep/sweep_cli.h"

#ifdef LAUNCHPROF_HAVE_RECORD
#include "launchprof/record/record_cli.h"
#endif

#ifndef LAUNCHPROF_VERSION
#define LAUNCHPROF_VERSION "unknown"
#endif

namespace launchprof {
namespace {

constexpr const char* kSubcommands[] = {"record", "analyze", "sweep", "diff", "timeline"};

// `record` takes the rest of the command line verbatim (it contains the profiled program's own flags),
// so it is dispatched before CLI11 parses anything.
int run_record(int argc, char** argv) {
#ifdef LAUNCHPROF_HAVE_RECORD
  return record::record_main(argc, argv);
#else
  (void)argc;
  (void)argv;
  std::fprintf(stderr, "launchprof record: record not built (the launchprof_record_cli target is missing)\n");
  return 1;
#endif
}

int print_version(int argc, char** argv) {
  RunInfo run = make_run_info(argc, argv);
  std::printf("launchprof %s (commit %s)\n", LAUNCHPROF_VERSION, run.commit.c_str());
  return kExitOk;
}

}  // namespace
}  // namespace launchprof

int main(int argc, char** argv) {
  using namespace launchprof;
  if (argc >= 2 && std::string_view(argv[1]) == "record") return run_record(argc - 1, argv + 1);
  if (argc >= 2 && (std::string_view(argv[1]) == "--version" || std::string_view(argv[1]) == "-V"))
    return print_version(argc, argv);
  // CLI11 reads an unknown first word as an extra argument and says "A subcommand is required".
  if (argc >= 2 && argv[1][0] != '-') {
    bool known = false;
    for (const char* s : kSubcommands) known = known || std::string_view(argv[1]) == s;
    if (!known) {
      std::fprintf(stderr,
                   "launchprof: unknown subcommand '%s' (the subcommands are record, analyze, sweep, diff and "
                   "timeline; see launchprof --help)\n",
                   argv[1]);
      return kExitUsageError;
    }
  }

  CLI::App app{"launchprof: kernel-launch profiler after SKIP. It joins operator -> launch call -> kernel and "
               "measures launch and queuing time (TKLQT), GPU idle, and fusion candidates. Exit codes: 0 success, 1 "
               "an output file could not be written, 2 a trace could not be read, 3 no plot (sweep --png), 64 a "
               "usage error; record returns the command's exit code (2 if it could not start it)."};
  app.require_subcommand(1);
  bool version = false;  // handled before parsing; listed here so that --help shows it
  app.add_flag("-V,--version", version, "print the version and the commit, then exit");
  app.add_subcommand("record",
                     "launchprof record [-o trace.json.gz] -- <command...>: run a CUDA program under the CUPTI "
                     "injection library and write a Chrome trace (see `launchprof record --help`)"
#ifndef LAUNCHPROF_HAVE_RECORD
                     " [not built in this binary]"
#endif
  );
  AnalyzeCliOptions analyze_opts;
  CLI::App* analyze = add_analyze_command(app, analyze_opts);
  SweepCliOptions sweep_opts;
  CLI::App* sweep = add_sweep_command(app, sweep_opts);
  DiffCliOptions diff_opts;
  CLI::App* diff = add_diff_command(app, diff_opts);
  TimelineCliOptions timeline_opts;
  CLI::App* timeline = add_timeline_command(app, timeline_opts);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105, 106, 109, ...) mean one thing to a user: the command line is wrong.
    app.exit(e);
    return kExitUsageError;
  }

  RunInfo run = make_run_info(argc, argv);
  if (analyze->parsed()) return run_analyze(analyze_opts, run);
  if (sweep->parsed()) return run_sweep(sweep_opts, run);
  if (diff->parsed()) return run_diff(diff_opts, run);
  if (timeline->parsed()) return run_timeline(timeline_opts);
  return kExitUsageError;
}
