#pragma once
// The pipeline builder: the one place that wires pipelines (STYLE.md §4). Every pipeline is
// built here — `run`, `validate`, `inspect`, `backtest`, `score-csv` and both benches — in two
// phases:
//   1. parse_pipeline() reads every component's options from config into plain structs
//      (source, state, sinks including Kafka and delivery, operators through the operator
//      table, metrics, reference data), checks them (librdkafka properties included) and
//      rejects unknown keys. Nothing is opened: `validate` is exactly this phase.
//   2. open_pipeline() opens I/O from those structs (files, RocksDB, Kafka clients lazily,
//      delivery workers) and assembles the task. A caller may adjust the options between
//      the phases or supply its own source, store or extra sinks.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/live_state.h"
#include "connectors/delivery_sink.h"
#include "connectors/file_source.h"
#include "connectors/kafka_changelog.h"
#include "connectors/kafka_options.h"
#include "operators/registry.h"
#include "stream/audit_log.h"
#include "stream/calendar.h"
#include "stream/config.h"
#include "stream/probe.h"
#include "stream/sink.h"
#include "stream/source.h"
#include "stream/state_store.h"
#include "stream/task.h"

namespace sw {
class MetricsServer;
class KafkaSink;
}  // namespace sw

namespace sw::cli {

//! Which parts a command takes from config. The others it supplies itself (open_pipeline's
//! PipelineInputs) or goes without; their config sections are left for the caller.
struct PipelineParts {
  bool task = true;      // pipeline.*, calendar.*, state.checkpoint_interval_ms, delivery
  bool source = true;    // source.*, kafka.*
  bool state = true;     // state.*
  bool sinks = true;     // sinks.file, sinks.kafka
  bool delivery = true;  // sinks.delivery: alerts to PagerDuty/Slack/Alertmanager, alert counts
  bool live = true;      // metrics.*, reference.*, open-alerts and queryable state
  //! Empty: every operator the table has enabled by config. Otherwise exactly these.
  std::vector<std::string_view> operators;
  bool reject_unknown_keys = true;  // config.check_unknown() at the end of phase 1
};

//! Phase 1: everything the config says, parsed and checked. Nothing opened.
struct PipelineOptions {
  PipelineParts parts;
  std::unique_ptr<Calendar> calendar;
  TaskOptions task;
  std::string source_kind;  // "file" | "kafka"; "" = supplied by the caller
  FileSourceOptions file_source;
  KafkaSourceOptions kafka_source;
  std::string state_dir;  // "" = in memory
  size_t memory_budget_bytes = 256u << 20;
  //! state.backup.*: scheduled snapshots (state/rocksdb_store.h), off when every_ms is 0.
  std::string backup_dir;
  int64_t backup_every_ms = 0;
  int backup_keep = 3;
  //! state.changelog.*: the state copied to compacted Kafka topics, restored from them when
  //! the state directory is lost (connectors/kafka_changelog.h, docs/changelog.md).
  ChangelogOptions changelog;
  //! state.audit.*: evidence for `shelfwatch explain` (stream/audit_log.h).
  AuditOptions audit;
  std::string output_dir;  // file sink directory, "" = none
  //! sinks.file.reset_outputs (run --reset-outputs): a new state directory may truncate
  //! non-empty outputs; otherwise such a start is refused.
  bool reset_outputs = false;
  std::optional<KafkaSinkOptions> kafka_sink;
  std::optional<DeliverySinkConfig> delivery;
  OperatorSet operators;
  std::string metrics_listen;  // "" or "off" = no server
  //! metrics.auth.token_env / token_file: bearer token for /state, /alerts, /admin/* ("" =
  //! open). Never written in the config itself.
  std::string metrics_auth_token;
  //! pipeline.shutdown_timeout: SIGTERM to exit, draining included (run).
  int64_t shutdown_timeout_ms = 30000;
  std::string reference_items_file;
  //! Stamped on every output record by open_pipeline (stream/output_stamp.h).
  std::string config_version;
  //! Keys set but unused by this configuration ("config key 'source.file.path' is unused
  //! because source.kind=kafka"): warnings that run and validate both print; not errors.
  std::vector<std::string> warnings;
};

//! Reads and checks every key of the parts asked for; throws ConfigError naming the key.
PipelineOptions parse_pipeline(const Config& config, const PipelineParts& parts = {});

//! What a command supplies itself in phase 2.
struct PipelineInputs {
  Source* source = nullptr;     // instead of a configured source (must outlive the pipeline)
  StateStore* store = nullptr;  // instead of the configured state
  std::vector<Sink*> sinks;     // appended after the configured sinks
  //! Wraps the source / each configured sink the task sees (benchmark probes); the wrapper
  //! must outlive the pipeline.
  std::function<Source*(Source&)> wrap_source;
  std::function<Sink*(Sink&)> wrap_sink;
  //! run: start the metrics server (metrics.listen) before the state is opened, so that
  //! /healthz answers, /readyz answers 503 with the changelog restore's progress and /metrics
  //! serves its gauges while it runs; start_metrics() completes it and turns /readyz ready.
  bool serve_metrics = false;
};

struct Pipeline {
  PipelineOptions options;
  std::unique_ptr<StateStore> owned_store;
  StateStore* store = nullptr;
  std::unique_ptr<Source> owned_source;
  Source* source = nullptr;  // what the task polls
  std::vector<std::unique_ptr<Sink>> owned_sinks;
  KafkaSink* kafka_sink = nullptr;        // owned by `owned_sinks`
  OpenAlertsSink* open_alerts = nullptr;  // owned by `owned_sinks`
  DeliverySink* delivery = nullptr;       // owned by `owned_sinks`
  AuditedOperators audit;  // wrappers of the operators the task sees (outlives the task)
  std::unique_ptr<Task> task;
  std::unique_ptr<StateQueries> queries;
  //! Hot reload requests, served by the task loop hook (parts.live).
  std::unique_ptr<ReloadRequests> reloads;
  //! Pipeline-level metrics (state_wal_rollbacks_total), rendered like operator probes.
  std::unique_ptr<Probe> probe = std::make_unique<Probe>();
  //! The changelog decorator of the store (owned by owned_store), when state.changelog is on.
  ChangelogStore* changelog = nullptr;
  //! Set when the state store recovered from a corrupt or torn WAL tail (printed by run).
  std::string state_warning;
  std::unique_ptr<MetricsServer> metrics;  // declared last: stops serving first
  ~Pipeline();
  Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;
};

//! Phase 2: opens I/O and assembles the task. Throws ConfigError naming the key when
//! something cannot be opened, StateDirError (state/rocksdb_store.h) when the state directory
//! is damaged or partial (run exits 1; nothing was touched).
Pipeline open_pipeline(PipelineOptions options, PipelineInputs inputs = {});

//! A checkpoint restored read-only into the run configuration's operators (inspect,
//! simulate): no input is read, no output written, the state directory is not modified.
struct RestoredCheckpoint {
  std::unique_ptr<StateStore> store;
  std::unique_ptr<Source> source;  // delivers nothing; remembers the checkpointed positions
  Pipeline pipeline;
  //! Source positions the checkpoint recorded (handed to the source by restore()).
  const std::vector<SourcePosition>& positions() const;
};
//! Checks the whole run configuration (phase 1), opens `state_dir` read-only and restores the
//! task from it. Throws ConfigError for configuration errors; returns a non-OK status (the
//! command prints it and exits 1) when the checkpoint cannot be opened or restored.
Status restore_checkpoint(const Config& config, const std::string& state_dir,
                          RestoredCheckpoint& out);

//! Starts the metrics/queryable-state server on `metrics.listen` (empty = off) and hooks
//! it into the task: task counters, delivery, every operator's and the source's probe;
//! /readyz turns ready. Call after restore(). The server itself may have been started
//! earlier (PipelineInputs::serve_metrics, serve_metrics()).
void start_metrics(Pipeline& p);
//! The server part alone, not ready ("not ready: restoring state from the changelog: ..."
//! while the changelog restores), with the pipeline and changelog probes; no-op when it
//! runs already or metrics.listen is off.
void serve_metrics(Pipeline& p);

//! Hot reload (SIGHUP, POST /admin/reload), on the task thread: loads the configuration
//! again with `load` (the file + the original --set overrides), checks it completely
//! (phase 1), refuses it when a key that cannot change live differs from `running` (naming
//! every such key), and otherwise applies operators.<name>.* to the live operators,
//! sinks.delivery.* to the delivery sink and sinks.kafka.{routes,topics,ce_source} to the
//! Kafka sink (KafkaSink::reroute), keeping all state; `running` then becomes the new
//! configuration. A rejected configuration changes nothing. Counts
//! shelfwatch_config_reloads_total{result}.
ReloadRequests::Result reload_pipeline(Pipeline& p, Config& running,
                                       const std::function<Config()>& load);

//! Feeds `item` reference records from `reference.items_file` (JSON lines) to the operators.
void load_reference_items(Pipeline& p);

//! The embedded default configuration (used when --config is omitted).
extern const char* const kDefaultConfig;

}  // namespace sw::cli
