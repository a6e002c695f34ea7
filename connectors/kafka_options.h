#pragma once
// Parsed Kafka settings, the first phase of building a pipeline (cli/pipeline.h): what
// `kafka.*`, `source.kafka.*` and `sinks.kafka.*` say, every librdkafka property already
// checked against librdkafka (on a throwaway conf, no client created), so a bad property or
// key is a ConfigError at start-up, in `validate` too. No librdkafka types here: anyone may
// include this header; only connectors/kafka* include librdkafka itself.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "stream/config.h"
#include "stream/output.h"

namespace sw::kafka {

enum class ClientRole { kConsumer, kProducer };

//! One effective property and the config key it came from ("" for built-in defaults).
struct Property {
  std::string name, value, source_key;
};

//! Effective properties for a client, in application order (see kafka_common.h).
std::vector<Property> client_properties(const Config& cfg, ClientRole role);

//! Sets every property on a throwaway librdkafka conf; throws ConfigError naming the config
//! key of the first unknown or invalid one.
void check_properties(const std::vector<Property>& props);

}  // namespace sw::kafka

namespace sw {

//! source.kafka.* (see connectors/kafka_source.h for the keys and defaults).
struct KafkaSourceOptions {
  std::vector<std::string> topics;
  std::string group_id = "shelfwatch";
  bool assign_mode = false;  // mode: assign
  bool stop_at_end = false;
  int64_t idle_ms = 5000;
  //! Live runs: how long the ordered merge waits for a lagging partition (processing time).
  int64_t max_task_idle_ms = 1000;
  //! Records one partition's merge lane may hold before its fetching pauses (no config key).
  size_t merge_lane_cap = 200'000;
  //! Live runs: a record more than this ahead of the wall clock (pipeline.max_future) takes no
  //! place of its own in the merge: it follows its predecessor, and the task dead-letters it
  //! (future_timestamp) instead of it holding its partition back until the stream reaches it.
  int64_t max_future_ms = 24 * 3600 * 1000;
  std::string start_from = "earliest";  // earliest | latest | committed
  std::vector<kafka::Property> properties;
};
//! Reads and checks source.kafka.* and kafka.* (properties and group id included).
KafkaSourceOptions kafka_source_options(const Config& cfg);

//! sinks.kafka.* (see connectors/kafka_sink.h for the keys and defaults).
struct KafkaSinkOptions {
  bool exactly_once = true;
  std::string ce_source = "shelfwatch";
  std::array<std::string, kOutputStreamCount> stream_topics;  // "" = stream disabled
  std::vector<std::pair<std::string, std::string>> routes;    // alert type -> topic
  std::vector<kafka::Property> producer_properties;
};
//! Reads and checks sinks.kafka.*, kafka.* and `delivery`.
KafkaSinkOptions kafka_sink_options(const Config& cfg);

//! The librdkafka version loaded at run time ("2.0.2"), for `shelfwatch --version`.
std::string librdkafka_version();

}  // namespace sw
