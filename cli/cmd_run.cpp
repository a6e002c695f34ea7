// `shelfwatch run` and `shelfwatch validate`.

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <thread>

#include "cli/audit.h"
#include "cli/commands.h"
#include "cli/pipeline.h"
#include "cli/summary.h"
#include "connectors/metrics.h"
#include "state/rocksdb_store.h"

namespace sw::cli {

namespace {

Config load_config(const Args& args) {
  std::string path;
  std::vector<std::string> sets = values_of(args, "--set");
  for (const auto& a : args) {
    if (a == "--reset-outputs") sets.push_back("sinks.file.reset_outputs=true");
  }
  if (value_of(args, "--config", path)) return Config::from_file(path, sets);
  return Config::from_yaml(kDefaultConfig, sets);
}

// Process signals, handled on a thread of their own (sigwait) so that they can take locks
// and log: SIGHUP asks the task for a reload; the first SIGTERM/SIGINT turns /readyz false
// and stops the task (it drains, checkpoints, flushes the sinks and the delivery outbox);
// a second one, or the shutdown timeout running out, ends the process at once with _exit —
// as safe as a crash: the next start resumes exactly-once from the last checkpoint.
class SignalThread {
 public:
  //! Blocks the signals in the calling thread; call before any other thread is started, so
  //! that every thread inherits the mask and only this one receives them.
  SignalThread() {
    sigemptyset(&set_);
    for (int sig : {SIGHUP, SIGINT, SIGTERM}) sigaddset(&set_, sig);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  ~SignalThread() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
    // The signals stay blocked: one arriving while the process returns from main is dropped
    // rather than killing it with a signal's exit status.
  }
  //! Starts handling; `on_stop` runs once on the first SIGTERM/SIGINT.
  void start(ReloadRequests* reloads, std::function<void()> on_stop, int64_t shutdown_timeout_ms) {
    thread_ = std::thread([this, reloads, on_stop = std::move(on_stop), shutdown_timeout_ms] {
      std::optional<std::chrono::steady_clock::time_point> deadline;
      while (!done_.load()) {
        timespec wait{0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&set_, nullptr, &wait);
        if (deadline && std::chrono::steady_clock::now() >= *deadline && !done_.load()) {
          std::fprintf(stderr,
                       "shelfwatch run: pipeline.shutdown_timeout (%lld ms) passed before the "
                       "drain finished; exiting now (the next start resumes from the last "
                       "checkpoint)\n",
                       static_cast<long long>(shutdown_timeout_ms));
          ::_exit(1);
        }
        if (sig == SIGHUP) {
          std::fprintf(stderr, "shelfwatch run: SIGHUP: reloading the configuration\n");
          if (reloads != nullptr) reloads->request();
        } else if (sig == SIGINT || sig == SIGTERM) {
          if (deadline) {
            std::fprintf(stderr,
                         "shelfwatch run: second %s: exiting now without the final checkpoint "
                         "(the next start resumes from the last checkpoint)\n",
                         sig == SIGINT ? "SIGINT" : "SIGTERM");
            ::_exit(128 + sig);
          }
          std::fprintf(stderr,
                       "shelfwatch run: %s: draining (not ready; checkpoint, flush, exit; a "
                       "second signal exits at once)\n",
                       sig == SIGINT ? "SIGINT" : "SIGTERM");
          deadline =
              std::chrono::steady_clock::now() + std::chrono::milliseconds(shutdown_timeout_ms);
          on_stop();
        }
      }
    });
  }

 private:
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

const char* const kRunHelp =
    "usage: shelfwatch run [--config FILE] [--set key.path=value ...] [--quiet] "
    "[--reset-outputs]\n\n"
    "Runs a pipeline. Without --config the embedded default is used (file source\n"
    "events.jsonl, state in ./state, outputs in ./out). A file source exits 0 at end of\n"
    "input after every window closed and every output was written. SIGTERM/SIGINT turn\n"
    "/readyz false, drain, checkpoint, flush the sinks and the delivery outbox and exit 0\n"
    "within pipeline.shutdown_timeout (default 30s; a second signal exits at once, and the\n"
    "next start resumes exactly-once). SIGHUP (or POST /admin/reload) reloads the config\n"
    "file + --set overrides: operator settings and sinks.delivery.* apply live, other\n"
    "changed keys are refused by name and the running config stays. A summary is printed at exit "
    "(--quiet: to stderr only).\n"
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
  SignalThread signals;  // first: every thread started below inherits the blocked mask
  Config config = load_config(args);
  bool quiet = false;
  for (const auto& a : args) quiet |= a == "--quiet";
  std::optional<Pipeline> opened;
  try {
    PipelineOptions options = parse_pipeline(config);
    for (const std::string& w : options.warnings) {
      std::fprintf(stderr, "shelfwatch run: warning: %s\n", w.c_str());
    }
    PipelineInputs inputs;
    inputs.serve_metrics = true;  // /healthz and a 503 /readyz during the changelog restore
    opened.emplace(open_pipeline(std::move(options), std::move(inputs)));
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
  log_effective_config(config, p, stderr);
  start_metrics(p);
  if (p.reloads) {
    p.reloads->set_handler([&p, &config, &args] {
      const std::string version = p.options.config_version;
      auto result = reload_pipeline(p, config, [&args] { return load_config(args); });
      // A reload that changed thresholds changes config_version: record the new one so
      // `explain` finds its settings, and log the effective configuration and its diff.
      if (result.applied && p.options.config_version != version) {
        log_effective_config(config, p, stderr);
      }
      return result;
    });
  }
  std::atomic<bool> stop{false};
  MetricsServer* metrics = p.metrics.get();
  signals.start(
      p.reloads.get(),
      [&stop, metrics] {
        if (metrics != nullptr) {
          metrics->runtime().set_not_ready_reason("draining");
          metrics->runtime().set_ready(false);
        }
        stop.store(true);
      },
      p.options.shutdown_timeout_ms);
  auto start = std::chrono::steady_clock::now();
  s = p.task->run(stop);
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
