#include "stream/cli/pipeline.h"

#include <fstream>

#include "connectors/file_sink.h"
#include "connectors/file_source.h"
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

Pipeline build_pipeline(const Config& config, bool open_io) {
  Pipeline p;
  p.calendar = std::make_unique<Calendar>(config);
  TaskOptions options = TaskOptions::from_config(config);
  std::string kind = config.get_enum("source.kind", "file", {"file", "kafka"});
  config.get_string("metrics.listen", "");
  if (kind == "kafka") {
    throw ConfigError("source.kind", "the Kafka source is not built into this binary yet",
                      "use source.kind: file");
  }
  p.state_dir = config.get_string("state.dir", "state");
  size_t budget = static_cast<size_t>(config.get_int("state.memory_budget_mb", 256, 16, 1 << 20)) << 20;
  p.output_dir = config.get_string("sinks.file.dir", "out");
  bool kafka_sink = config.get_bool("sinks.kafka.enabled", false);
  if (kafka_sink) {
    throw ConfigError("sinks.kafka.enabled", "the Kafka sink is not built into this binary yet",
                      "set sinks.kafka.enabled: false");
  }
  p.operators = make_operators(config);
  if (open_io) {
    if (kind == "file") p.source = make_file_source(config);
    if (p.state_dir.empty()) {
      p.store = std::make_unique<MemoryStateStore>();
    } else {
      RocksDbOptions ro;
      ro.path = p.state_dir;
      ro.memory_budget_bytes = budget;
      auto r = RocksDbStateStore::open(ro);
      if (!r.is_ok()) throw ConfigError("state.dir", r.status().message(), "check the directory");
      p.store = std::move(r.value());
    }
    if (!p.output_dir.empty()) p.sinks.push_back(std::make_unique<FileSink>(p.output_dir));
    std::vector<Sink*> sinks;
    for (auto& s : p.sinks) sinks.push_back(s.get());
    p.task = std::make_unique<Task>(options, *p.source, sinks, *p.store, p.operators.pointers(),
                                    *p.calendar);
    p.task->mutable_views() = p.operators.views;
  }
  config.get_string("reference.items_file", "");
  return p;
}

void load_reference_items(const Config& config, Pipeline& p) {
  std::string path = config.get_string("reference.items_file", "");
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in) throw ConfigError("reference.items_file", "cannot open '" + path + "'", "check the path");
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
