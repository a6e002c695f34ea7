#pragma once
// Kafka sink (DESIGN.md §3-§4): an idempotent librdkafka producer for every output stream.
//
// Routing: stream -> `sinks.kafka.topics.<stream>` (alerts, forecasts, price-triggers,
// replenishment, dlq, late, scores; default "shelfwatch.<stream>"; "" disables the stream);
// alerts and price triggers whose `type` has an entry in `sinks.kafka.routes.<type>` go to that
// topic instead. Partition: Java-compatible murmur2 of the record key (`store|sku` or series),
// chosen by shelfwatch so recovery knows where each record went. Headers: CloudEvents binary
// mode (ce_specversion, ce_id, ce_type, ce_source, ce_time, content-type) plus sw_origin and
// sw_seq (DESIGN.md §4).
//
// delivery: exactly_once (default) — prepare() writes each record as an outbox entry into the
// checkpoint batch (namespace "sink/kafka/outbox", key = 8-byte big-endian outbox id) together
// with per-partition fence offsets ("sink/kafka/fence"); committed() produces the staged
// records and waits for their delivery reports; the next prepare() deletes delivered entries.
// recover() re-sends what the last checkpoint left in the outbox, skipping, per output
// partition, records whose (origin, seq) is <= the highest already in the partition since its
// fence offset. delivery: at_least_once — prepare() only stages, committed() hands the records
// to librdkafka and returns without waiting for their delivery reports (the task processes
// the next batch meanwhile), drain() waits for every report before the task checkpoints;
// nothing goes into the checkpoint.
//
// A delivery failure (after librdkafka's own retries up to message.timeout.ms) is sticky: every
// later call returns the error and the process must restart, so recovery can fence exactly.
//
// Threading: task thread only; librdkafka's delivery callbacks run inside committed(),
// drain() and close().

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "connectors/kafka_options.h"
#include "stream/config.h"
#include "stream/sink.h"

namespace sw {

class KafkaSink final : public Sink {
 public:
  //! Throws ConfigError for bad keys or librdkafka properties. Connects lazily.
  explicit KafkaSink(const Config& cfg);
  //! From options already read and checked (kafka_sink_options()). Connects lazily.
  explicit KafkaSink(KafkaSinkOptions options);
  ~KafkaSink() override;

  std::string name() const override { return "kafka"; }
  Status prepare(std::span<const OutputRecord> records, StateBatch& batch) override;
  Status committed() override;
  Status drain() override;
  Status recover(const StateStore& store) override;
  Status close() override;

  //! Hot reload, task thread, no commit in flight (Task::wait_checkpoint): adopts new
  //! stream topics, routes and ce_source for the records prepared from now on. Safe for
  //! exactly-once: each outbox entry names the topic it was staged for and fences are kept
  //! per topic partition (a topic seen for the first time gets its fence base on first use),
  //! so recovery re-sends every entry to its own topic. The caller refuses what it cannot
  //! swap: `delivery` and the producer properties (cli/pipeline.cpp changes_live).
  void reroute(const KafkaSinkOptions& options);

  //! Topic a record is routed to ("" = its stream is disabled).
  const std::string& topic_for(const OutputRecord& r) const;

  struct Stats {
    uint64_t delivered = 0;  // delivery reports with success
    uint64_t dropped = 0;    // records of disabled streams
    uint64_t resent = 0;     // outbox entries re-sent by recover()
    uint64_t fenced = 0;     // outbox entries recover() found already delivered
  };
  Stats stats() const;

  static constexpr const char* kOutboxNamespace = "sink/kafka/outbox";
  static constexpr const char* kFenceNamespace = "sink/kafka/fence";
  static constexpr const char* kMetaNamespace = "sink/kafka/meta";

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

//! Factory for the task/CLI wiring (sinks.kafka.enabled: true).
std::unique_ptr<Sink> make_kafka_sink(const Config& cfg);

}  // namespace sw
