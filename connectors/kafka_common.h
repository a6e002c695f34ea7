#pragma once
// Shared librdkafka plumbing for the Kafka source and sink: config -> rd_kafka_conf_t, owning
// handle wrappers, the task-global partition id scheme. Only connectors/kafka* include this
// header (it includes librdkafka).
//
// Property precedence (later wins): shelfwatch defaults for the client role, then
// `kafka.brokers` (bootstrap.servers), then every `kafka.properties.*` key, then the role's own
// `source.kafka.properties.*` / `sinks.kafka.properties.*` keys. Every key is passed to
// librdkafka verbatim, so SASL/SSL/OAuth settings for Redpanda, Apache Kafka, Confluent Cloud or
// MSK need no code here; an unknown or invalid property is a ConfigError naming the key.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/kafka_options.h"
#include "stream/config.h"
#include "stream/status.h"

namespace sw::kafka {

using Properties = std::vector<std::pair<std::string, std::string>>;

//! Defaults shelfwatch sets before the user's properties. Consumer: the queue settings that
//! avoid librdkafka 2.0.2's ~1 s prefetch stall (MEASURED.md: queued.min.messages=10000000,
//! queued.max.messages.kbytes=2000000), manual offset commits, partition EOF events, earliest
//! reset. Producer: idempotence with the gapless guarantee, linger.ms=0 for latency.
//! socket.nagle.disable stays false: true cut the mock-cluster consumer's throughput 2.3 x
//! (kafka_source_drain 445 k -> 192 k events/s) with no measurable latency gain.
Properties default_properties(ClientRole role);

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;

//! Builds a conf from properties; throws ConfigError naming the offending config key.
ConfPtr make_conf(const std::vector<Property>& props);
//! Convenience for tools and tests: `bootstrap.servers` + extra properties, no config file.
ConfPtr make_conf(const std::string& brokers, const Properties& extra);
//! Current value of a conf property ("" if unset/unknown).
std::string conf_get(const rd_kafka_conf_t* conf, const char* name);
//! Creates a client handle (takes ownership of conf); throws std::runtime_error on failure.
HandlePtr make_handle(rd_kafka_type_t type, ConfPtr conf);

//! Task-global partition id of an input partition: index of the topic in the configured
//! list * kPartitionsPerTopic + Kafka partition. Stable as long as the topic list keeps its
//! order (topics may be appended), so it can be checkpointed.
inline constexpr int32_t kPartitionsPerTopic = 1024;
inline int32_t global_partition(size_t topic_index, int32_t kafka_partition) {
  return static_cast<int32_t>(topic_index) * kPartitionsPerTopic + kafka_partition;
}

//! Wall clock in epoch milliseconds.
int64_t wall_ms();
//! Monotonic clock in milliseconds.
int64_t mono_ms();

//! Java-compatible murmur2 partition for a record key (what the Java client's default
//! partitioner and librdkafka's `murmur2` partitioner choose).
int32_t murmur2_partition(std::string_view key, int32_t partition_count);

//! Partition count of a topic from broker metadata, or a Status on error/timeout.
[[nodiscard]] Result<int32_t> partition_count(rd_kafka_t* rk, const std::string& topic,
                                              int timeout_ms);

}  // namespace sw::kafka
