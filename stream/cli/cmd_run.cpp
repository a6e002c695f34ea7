// `shelfwatch run` and `shelfwatch validate`.

#include <csignal>
#include <cstdio>
#include <optional>

#include "connectors/counter_collectable.h"
#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "connectors/metrics.h"
#include "state/rocksdb_store.h"
#include "stream/cli/commands.h"
#include "stream/cli/pipeline.h"
#include "stream/cli/summary.h"

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

// Read by run and validate alike (so validate knows the key).
bool reset_outputs(const Config& config) {
  return config.get_bool("sinks.file.reset_outputs", false);
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
    "the fix on the first problem.\n\n"
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
  bool reset = reset_outputs(config);
  std::optional<Pipeline> built;
  try {
    built.emplace(build_pipeline(config, true));
  } catch (const StateDirError& e) {
    std::fprintf(stderr, "shelfwatch run: %s\n", e.what());
    return 1;
  }
  Pipeline& p = *built;
  config.check_unknown();
  if (auto* rocks = dynamic_cast<RocksDbStateStore*>(p.store.get())) {
    if (rocks->wal_rolled_back()) {
      std::fprintf(stderr,
                   "shelfwatch run: warning: the state WAL in '%s' ended in a corrupt or torn "
                   "record (%s); the state was recovered to the last intact checkpoint and "
                   "the input is re-read from there (normal after a crash during a commit; "
                   "otherwise check the disk)\n",
                   p.state_dir.c_str(), rocks->wal_problem().c_str());
    }
    for (auto& sink : p.sinks) {
      if (auto* fs = dynamic_cast<FileSink*>(sink.get()))
        fs->set_fresh_state(rocks->created(), reset);
    }
  }
  Status s = p.task->restore();
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch run: restoring state from '%s' failed: %s\n",
                 p.state_dir.c_str(), s.to_string().c_str());
    return 1;
  }
  if (!p.task->restored_from_checkpoint()) load_reference_items(config, p);
  start_metrics(config, p);
  if (p.metrics) {
    // Issue 21: what the state store and the file source noticed (docs/contract.md).
    std::vector<CounterCollectable::Counter> counts;
    if (auto* rocks = dynamic_cast<RocksDbStateStore*>(p.store.get())) {
      double rolled = rocks->wal_rolled_back() ? 1 : 0;
      counts.push_back({"shelfwatch_state_wal_rollbacks_total",
                        "State WAL replays that dropped a corrupt or torn tail at start-up.",
                        [rolled] { return rolled; }});
    }
    if (auto* file = dynamic_cast<const FileSource*>(p.source.get())) {
      counts.push_back({"shelfwatch_source_file_rotations_total",
                        "Followed input files renamed away and replaced (followed).",
                        [file] { return static_cast<double>(file->rotations()); }});
      counts.push_back({"shelfwatch_source_file_truncations_total",
                        "Followed input files truncated or rewritten (read again from the start).",
                        [file] { return static_cast<double>(file->truncations()); }});
      counts.push_back({"shelfwatch_source_file_replaced_total",
                        "Restarts on a different input file than the checkpoint's, or on stdin.",
                        [file] { return static_cast<double>(file->replaced()); }});
    }
    p.metrics->add_collectable(std::make_shared<CounterCollectable>(std::move(counts)));
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto start = std::chrono::steady_clock::now();
  s = p.task->run(g_stop);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch run: %s\n", s.to_string().c_str());
    return 1;
  }
  print_summary(quiet ? stderr : stdout, p.task->counters(), p.output_dir, p.state_dir, secs);
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
  Config config = Config::from_file(path, values_of(args, "--set"));
  Pipeline p = build_pipeline(config, false);
  (void)reset_outputs(config);
  config.check_unknown();
  std::printf("config OK: %s\n%s", path.c_str(), config.dump().c_str());
  return 0;
}

}  // namespace sw::cli
