// `shelfwatch run` and `shelfwatch validate`.

#include <csignal>
#include <cstdio>
#include <optional>

#include "cli/commands.h"
#include "cli/pipeline.h"
#include "cli/summary.h"
#include "state/rocksdb_store.h"

namespace sw::cli {

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true);
}

Config load_config(const Args& args) {
  std::string path;
  std::vector<std::string> sets = values_of(args, "--set");
  for (const auto& a : args) {
    if (a == "--reset-outputs") sets.push_back("sinks.file.reset_outputs=true");
  }
  if (value_of(args, "--config", path)) return Config::from_file(path, sets);
  return Config::from_yaml(kDefaultConfig, sets);
}

const char* const kRunHelp =
    "usage: shelfwatch run [--config FILE] [--set key.path=value ...] [--quiet] "
    "[--reset-outputs]\n\n"
    "Runs a pipeline. Without --config the embedded default is used (file source\n"
    "events.jsonl, state in ./state, outputs in ./out). A file source exits 0 at end of\n"
    "input after every window closed and every output was written; SIGINT/SIGTERM\n"
    "checkpoint and exit cleanly. A summary is printed at exit (--quiet: to stderr only).\n"
    "A damaged state directory is refused (exit 1, nothing touched); so are non-empty\n"
    "output files when the state directory is new, unless --reset-outputs is given\n"
    "(= --set sinks.file.reset_outputs=true), which truncates them.\n\n"
    "examples:\n"
    "  shelfwatch run --config examples/demo.yaml\n"
    "  shelfwatch run --set source.file.path=x.jsonl --set state.dir=state --set "
    "sinks.file.dir=out\n"
    "  cat x.jsonl | shelfwatch run --set source.file.path=-\n"
    "  shelfwatch run --set source.file.path=live.jsonl --set source.file.follow=true\n";

const char* const kValidateHelp =
    "usage: shelfwatch validate --config FILE [--set key.path=value ...]\n\n"
    "Checks every key (types, ranges, unknown keys) without opening inputs or state, and\n"
    "prints the effective configuration with secrets redacted. Exits 2 naming the key and\n"
    "the fix on the first problem: exactly the configurations `run` refuses at start-up\n"
    "(run also fails when an input, the state directory or the metrics port cannot be\n"
    "opened). A key set but unused by this configuration (another source kind's, a\n"
    "disabled operator's or sink's) is a warning on stderr, as in run: \"config key\n"
    "'source.file.path' is unused because source.kind=kafka\"; a key no component\n"
    "knows is an error, in a disabled section too.\n\n"
    "example:\n"
    "  shelfwatch validate --config examples/demo.yaml --set state.checkpoint_interval_ms=500\n";

}  // namespace

int run_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kRunHelp, stdout);
    return 0;
  }
  Config config = load_config(args);
  bool quiet = false;
  for (const auto& a : args) quiet |= a == "--quiet";
  std::optional<Pipeline> opened;
  try {
    PipelineOptions options = parse_pipeline(config);
    for (const std::string& w : options.warnings) {
      std::fprintf(stderr, "shelfwatch run: warning: %s\n", w.c_str());
    }
    opened.emplace(open_pipeline(std::move(options)));
  } catch (const StateDirError& e) {
    std::fprintf(stderr, "shelfwatch run: %s\n", e.what());
    return 1;
  }
  Pipeline& p = *opened;
  if (!p.state_warning.empty()) {
    std::fprintf(stderr, "shelfwatch run: warning: %s\n", p.state_warning.c_str());
  }
  Status s = p.task->restore();
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch run: restoring state from '%s' failed: %s\n",
                 p.options.state_dir.c_str(), s.to_string().c_str());
    return 1;
  }
  if (!p.task->restored_from_checkpoint()) load_reference_items(p);
  start_metrics(p);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto start = std::chrono::steady_clock::now();
  s = p.task->run(g_stop);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch run: %s\n", s.to_string().c_str());
    return 1;
  }
  print_summary(quiet ? stderr : stdout, p.task->counters(), p.options.output_dir,
                p.options.state_dir, secs);
  return p.task->counters().balanced() ? 0 : 1;
}

int validate_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kValidateHelp, stdout);
    return 0;
  }
  std::string path;
  if (!value_of(args, "--config", path)) {
    std::fputs(kValidateHelp, stderr);
    return 2;
  }
  Config config = load_config(args);  // the same file, --set and --reset-outputs as run
  // Phase 1 only: every key read and checked, nothing opened. Unused keys are warnings, as
  // in run (exit 0).
  PipelineOptions options = parse_pipeline(config);
  for (const std::string& w : options.warnings) {
    std::fprintf(stderr, "shelfwatch validate: warning: %s\n", w.c_str());
  }
  std::printf("config OK: %s\n%s", path.c_str(), config.dump().c_str());
  return 0;
}

}  // namespace sw::cli
