#pragma once
// Builds a pipeline (source, state store, sinks, operators, task, metrics server) from
// config: the single wiring place of the CLI (STYLE.md §4).

#include <memory>
#include <string>
#include <vector>

#include "operators/registry.h"
#include "stream/calendar.h"
#include "cli/live_state.h"
#include "stream/config.h"
#include "stream/sink.h"
#include "stream/source.h"
#include "stream/state_store.h"
#include "stream/task.h"

namespace sw {
class MetricsServer;
class DeliverySink;
}  // namespace sw

namespace sw::cli {

struct Pipeline {
  std::unique_ptr<Calendar> calendar;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<Source> source;
  std::vector<std::unique_ptr<Sink>> sinks;
  OperatorSet operators;
  std::unique_ptr<Task> task;
  std::unique_ptr<StateQueries> queries;
  OpenAlertsSink* open_alerts = nullptr;   // owned by `sinks`
  DeliverySink* delivery = nullptr;        // owned by `sinks`
  std::unique_ptr<MetricsServer> metrics;  // declared last: stops serving first
  std::string output_dir;                  // file sink directory, empty if none
  std::string state_dir;
  ~Pipeline();
  Pipeline();
  Pipeline(Pipeline&&) noexcept;
};

//! Reads every key the pipeline uses; with `open_io` false nothing is opened (validate).
//! Throws ConfigError for bad keys and for start-up failures naming the key.
Pipeline build_pipeline(const Config& config, bool open_io);

//! Starts the metrics/queryable-state server on `metrics.listen` (empty = off) and hooks
//! it into the task. Call after restore().
void start_metrics(const Config& config, Pipeline& p);

//! Feeds `item` reference records from `reference.items_file` (JSON lines) to the operators.
void load_reference_items(const Config& config, Pipeline& p);

//! The embedded default configuration (used when --config is omitted).
extern const char* const kDefaultConfig;

}  // namespace sw::cli
