#include "stream/cli/pipeline.h"

#include <chrono>
#include <cmath>
#include <fstream>

#include "connectors/delivery_sink.h"
#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "connectors/metrics.h"
#include "operators/forecast.h"
#include "state/memory_store.h"
#include "state/rocksdb_store.h"

namespace sw::cli {

const char* const kDefaultConfig = R"(# shelfwatch embedded default configuration
source:
  kind: file
  file:
    path: events.jsonl
state:
  dir: state
  checkpoint_interval_ms: 1000
sinks:
  file:
    dir: out
delivery: exactly_once
operators:
  low_stock:
    enabled: true
)";

namespace {
constexpr const char* kDefaultMetricsListen = "127.0.0.1:9464";
}  // namespace

Pipeline::Pipeline() = default;
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;

Pipeline build_pipeline(const Config& config, bool open_io) {
  Pipeline p;
  p.calendar = std::make_unique<Calendar>(config);
  TaskOptions options = TaskOptions::from_config(config);
  std::string kind = config.get_enum("source.kind", "file", {"file", "kafka"});
  p.state_dir = config.get_string("state.dir", "state");
  size_t budget = static_cast<size_t>(config.get_int("state.memory_budget_mb", 256, 16, 1 << 20))
                  << 20;
  p.output_dir = config.get_string("sinks.file.dir", "out");
  bool kafka_sink = config.get_bool("sinks.kafka.enabled", false);
  p.operators = make_operators(config);
  // Read here so validate and check_unknown() see them; used after restore.
  config.get_string("metrics.listen", kDefaultMetricsListen);
  config.get_string("reference.items_file", "");
  if (!open_io) {
    // Parse every connector's keys without opening anything.
    if (kind == "file")
      (void)file_source_options(config);
    else
      config.mark_read("source.kafka"), config.mark_read("kafka");
    if (kafka_sink) config.mark_read("sinks.kafka"), config.mark_read("kafka");
    config.mark_read("sinks.delivery");
    return p;
  }
  p.source = kind == "file" ? make_file_source(config) : make_kafka_source(config);
  StateStore* ack_store = nullptr;
  if (p.state_dir.empty()) {
    p.store = std::make_unique<MemoryStateStore>();
  } else {
    RocksDbOptions ro;
    ro.path = p.state_dir;
    ro.memory_budget_bytes = budget;
    auto r = RocksDbStateStore::open(ro);
    if (!r.is_ok()) throw StateDirError(r.status().message());  // exit 1, nothing touched
    p.store = std::move(r.value());
    ack_store = p.store.get();  // RocksDB commits are thread-safe
  }
  if (!p.output_dir.empty()) p.sinks.push_back(std::make_unique<FileSink>(p.output_dir));
  if (kafka_sink) p.sinks.push_back(make_kafka_sink(config));
  auto delivery = make_delivery_sink(config, ack_store);
  p.delivery = delivery.get();
  p.sinks.push_back(std::move(delivery));
  auto open_alerts = std::make_unique<OpenAlertsSink>();
  p.open_alerts = open_alerts.get();
  p.sinks.push_back(std::move(open_alerts));
  std::vector<Sink*> sinks;
  for (auto& s : p.sinks) sinks.push_back(s.get());
  p.task = std::make_unique<Task>(options, *p.source, sinks, *p.store, p.operators.pointers(),
                                  *p.calendar);
  p.task->mutable_views() = p.operators.views;
  p.queries = std::make_unique<StateQueries>();
  StateQueries* queries = p.queries.get();
  Task* task = p.task.get();
  p.task->set_loop_hook([queries, task] { queries->serve(*task); });
  return p;
}

void start_metrics(const Config& config, Pipeline& p) {
  std::string listen = config.get_string("metrics.listen", kDefaultMetricsListen);
  if (listen.empty() || listen == "off") return;
  MetricsServerOptions o;
  o.listen = listen;
  StateQueries* queries = p.queries.get();
  OpenAlertsSink* open = p.open_alerts;
  o.state_query = [queries](std::string_view store, std::string_view sku) {
    return queries->query(store, sku);
  };
  o.alerts_query = [open] { return open->open_alerts_json(); };
  try {
    p.metrics = std::make_unique<MetricsServer>(std::move(o));
  } catch (const std::exception& e) {
    throw ConfigError("metrics.listen", std::string("cannot serve metrics: ") + e.what(),
                      "pick a free host:port, or set metrics.listen: off");
  }
  p.metrics->add_task(p.task->counters());
  if (p.delivery) p.metrics->add_collectable(p.delivery->collectable());
  RuntimeMetrics* rt = &p.metrics->runtime();
  std::string source = p.source->name();
  const ForecastOperator* forecast = nullptr;
  for (const auto& op : p.operators.owned) {
    if (auto* f = dynamic_cast<const ForecastOperator*>(op.get())) forecast = f;
  }
  KafkaSource* kafka = dynamic_cast<KafkaSource*>(p.source.get());
  p.task->set_batch_hook([rt, source, forecast, kafka](const Task::BatchStats& b) {
    if (kafka != nullptr) {
      for (const auto& l : kafka->consumer_lag()) rt->set_consumer_lag(l.topic, l.partition, l.lag);
    }
    if (forecast != nullptr) {
      const forecast::AccuracySums& acc = forecast->overall_accuracy();
      double mase = forecast::accuracy_mase(acc), wape = forecast::accuracy_wape(acc);
      if (std::isfinite(mase) && std::isfinite(wape)) rt->set_forecast_accuracy(mase, wape);
    }
    rt->processing_latency().observe(b.seconds / static_cast<double>(b.records));
    if (b.max_event_ms != INT64_MIN) {
      int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
      rt->event_lag().observe(static_cast<double>(now - b.max_event_ms) / 1000.0);
    }
    if (b.watermark_ms != INT64_MIN && b.watermark_ms != INT64_MAX) {
      rt->set_partition_watermark(source, 0, b.watermark_ms);
    }
  });
  rt->set_ready(true);
}

void load_reference_items(const Config& config, Pipeline& p) {
  std::string path = config.get_string("reference.items_file", "");
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in)
    throw ConfigError("reference.items_file", "cannot open '" + path + "'", "check the path");
  Decoder decoder;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Event e;
    DecodeError err = decoder.decode(line, 0, e);
    if (err != DecodeError::kNone || e.type != EventType::kItem) {
      throw ConfigError("reference.items_file",
                        path + ":" + std::to_string(n) + ": " +
                            (err != DecodeError::kNone ? decoder.detail() : "not an item record"),
                        "every line must be an `item` record of the input contract");
    }
    p.task->apply_reference(e);
  }
}

}  // namespace sw::cli
