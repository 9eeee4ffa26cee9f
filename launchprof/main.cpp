// launchprof: a kernel-launch profiler after SKIP (TKLQT). One binary, three subcommands:
//   record  - run a program under the CUPTI injection library (launchprof/record), write a trace
//   analyze - join operator -> launch -> kernel in a trace and report the SKIP metrics
//   sweep   - metrics against batch size, and the CPU-bound -> GPU-bound transition
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string_view>

#include "launchprof/analyze/analyze_cli.h"
#include "launchprof/analyze/run_info.h"
#include "launchprof/sweep/sweep_cli.h"

#ifdef LAUNCHPROF_HAVE_RECORD
#include "launchprof/record/record_cli.h"
#endif

namespace launchprof {
namespace {

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

}  // namespace
}  // namespace launchprof

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "record") return launchprof::run_record(argc - 1, argv + 1);

  CLI::App app{"launchprof: kernel-launch profiler after SKIP. It joins operator -> launch call -> kernel and "
               "measures launch and queuing time (TKLQT), GPU idle, and fusion candidates."};
  app.require_subcommand(1);
  app.add_subcommand("record",
                     "launchprof record [-o trace.json.gz] -- <command...>: run a CUDA program under the CUPTI "
                     "injection library and write a Chrome trace (see `launchprof record --help`)"
#ifndef LAUNCHPROF_HAVE_RECORD
                     " [not built in this binary]"
#endif
  );
  launchprof::AnalyzeCliOptions analyze_opts;
  CLI::App* analyze = launchprof::add_analyze_command(app, analyze_opts);
  launchprof::SweepCliOptions sweep_opts;
  CLI::App* sweep = launchprof::add_sweep_command(app, sweep_opts);
  CLI11_PARSE(app, argc, argv);

  launchprof::RunInfo run = launchprof::make_run_info(argc, argv);
  if (analyze->parsed()) return launchprof::run_analyze(analyze_opts, run);
  if (sweep->parsed()) return launchprof::run_sweep(sweep_opts, run);
  return 1;
}
