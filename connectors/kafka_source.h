#pragma once
// Kafka source (DESIGN.md §4-§5): a librdkafka consumer over one or more input topics.
//
// Positions: the task checkpoints "next offset" per task-global partition id
// (kafka::global_partition: topic index * 1024 + Kafka partition) and hands them back through
// seek() before the first poll; partitions without a checkpointed position start from
// `source.kafka.start_from` (earliest by default). Kafka's committed offsets are written in
// on_checkpoint() for lag tools only; they are never read back as the source of truth.
//
// Order (DESIGN.md §4, Determinism): fetched messages wait in the lanes of an ordered merge
// (stream/partition_merge.h) and poll() hands them over by (event time, partition id), so the
// task applies the same sequence whatever the fetch interleaving. With stop_at_end the merge
// waits for every partition until it reaches the end offset found at start (a replay is fully
// deterministic; records written after that offset are left for the next run); live, it waits
// up to source.kafka.max_task_idle for a partition that is not caught up, then goes on without
// it and counts that (shelfwatch_source_merge_enforced_total). A partition whose lane holds
// 200 k records is paused until the merge has drained half of them.
//
// Config keys (defaults): source.kafka.topics (required), source.kafka.group_id ("shelfwatch"),
// source.kafka.mode (subscribe: consumer group with rebalancing | assign: this process takes
// every partition, no group join), source.kafka.stop_at_end (false), source.kafka.idle_ms
// (5000), source.kafka.max_task_idle (1s), source.kafka.start_from (earliest | latest |
// committed), kafka.brokers, kafka.properties.*, source.kafka.properties.*.
//
// Threading: all methods are called from the task thread. librdkafka's own threads fetch in
// the background; rebalance callbacks run inside poll().

#include <memory>
#include <string>
#include <vector>

#include "connectors/kafka_options.h"
#include "stream/config.h"
#include "stream/source.h"

namespace sw {

class KafkaSource final : public Source {
 public:
  //! Connects lazily (first poll); throws ConfigError for bad keys or librdkafka properties.
  explicit KafkaSource(const Config& cfg);
  //! From options already read and checked (kafka_source_options()); connects lazily.
  explicit KafkaSource(KafkaSourceOptions options);
  ~KafkaSource() override;

  //! Returns as soon as at least one record is available (or after timeout_ms). Payloads are
  //! copied into one batch buffer with >= 64 readable bytes after each (readable_after).
  Status poll(std::vector<RawRecord>& out, size_t max, int timeout_ms) override;
  //! stop_at_end only: true once every assigned partition reached the end offset that was
  //! current when the source started.
  bool at_end() const override;
  //! stop_at_end: a replay of what the topics held at start.
  bool bounded() const override;
  Status seek(const std::vector<SourcePosition>& positions) override;
  //! The configured topics, comma-separated.
  std::string name() const override;
  //! True for partitions not assigned to this process, for assigned partitions that are at
  //! their end and have had no data for source.kafka.idle_ms, and (stop_at_end) for
  //! partitions that were empty at start.
  bool partition_idle(int32_t partition) const override;
  //! The assigned partitions (task-global ids).
  std::span<const int32_t> partitions() const override;
  //! poll() hands records over in the ordered merge's sequence (stream/partition_merge.h).
  bool merges_partitions() const override { return true; }
  //! Commits the positions of assigned partitions to Kafka asynchronously (for lag tools).
  void on_checkpoint(const std::vector<SourcePosition>& positions) override;

  //! Topic and Kafka partition of a task-global partition id (for DLQ positions).
  std::string topic_of(int32_t partition) const;
  int32_t kafka_partition_of(int32_t partition) const;
  //! Stops fetching for all assigned partitions (librdkafka drops what it prefetched) /
  //! resumes from the last position handed to the task. For callers that stop polling for a
  //! long time (sink outage): the consumer keeps its group membership meanwhile.
  void pause();
  void resume();
  //! Leaves the consumer group. Idempotent; the destructor calls it.
  void close();
  //! Consumer lag per assigned partition: the high watermark librdkafka last saw in a fetch
  //! response (cached, no broker round trip) minus the next offset to hand out. Call from
  //! the polling thread.
  struct PartitionLag {
    std::string topic;
    int32_t partition;
    int64_t lag;
  };
  std::vector<PartitionLag> consumer_lag() const;
  //! Records skipped because they were already returned (after pause/resume or rebalances).
  uint64_t duplicates_skipped() const;
  //! Consumer lag per partition (shelfwatch_consumer_lag_messages{topic,partition}).
  const Probe* probe() const override { return &probe_; }
  void update_probe() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Probe probe_;
};

//! Factory for the task/CLI wiring (source.kind: kafka).
std::unique_ptr<Source> make_kafka_source(const Config& cfg);

}  // namespace sw
