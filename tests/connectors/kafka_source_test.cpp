// KafkaSource against librdkafka's mock cluster over TCP.

#include "connectors/kafka_source.h"

#include <chrono>
#include <map>
#include <set>
#include <span>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/kafka_test_util.h"

namespace sw {
namespace {

using testing::Produced;

class KafkaSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { broker_ = KafkaMockBroker::start({0, 1, 3, {"in", "in2"}}); }
  Config config(const std::string& extra) const {
    return Config::from_yaml(
        "kafka: {brokers: '" + broker_->bootstrap() +
        "', properties: {fetch.wait.max.ms: 10, reconnect.backoff.max.ms: 500}}\n"
        "source:\n  kafka:\n    topics: [in, in2]\n" +
        extra);
  }
  // 100 records per partition of "in": {"p":P,"n":N}.
  void produce_in(int per_partition, int first = 0) {
    std::vector<Produced> recs;
    for (int n = first; n < first + per_partition; ++n) {
      for (int p = 0; p < 3; ++p) {
        recs.push_back(
            {p, "k", "{\"p\":" + std::to_string(p) + ",\"n\":" + std::to_string(n) + "}"});
      }
    }
    testing::produce(broker_->bootstrap(), "in", recs);
  }
  // Polls until at_end() or timeout; returns payload copies per global partition.
  std::map<int32_t, std::vector<RawRecord>> drain(KafkaSource& src,
                                                  std::vector<std::string>* payloads = nullptr,
                                                  int timeout_s = 20) {
    std::map<int32_t, std::vector<RawRecord>> out;
    std::vector<RawRecord> batch;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (!src.at_end() && std::chrono::steady_clock::now() < deadline) {
      batch.clear();
      Status s = src.poll(batch, 64, 50);
      EXPECT_TRUE(s.is_ok()) << s.message();
      for (const RawRecord& r : batch) {
        // The payload must be followed by >= 64 readable bytes (simdjson padding).
        EXPECT_GE(r.readable_after, 64u);
        volatile char last = r.payload.data()[r.payload.size() + r.readable_after - 1];
        (void)last;
        if (payloads) payloads->emplace_back(r.payload);
        RawRecord copy = r;
        copy.payload = {};
        out[r.partition].push_back(copy);
      }
    }
    return out;
  }
  std::unique_ptr<KafkaMockBroker> broker_;
};

TEST_F(KafkaSourceTest, AssignModeReadsEveryRecordOnceWithPositions) {
  produce_in(100);
  KafkaSource src(config("    mode: assign\n    stop_at_end: true\n"));
  ASSERT_TRUE(src.seek({}).is_ok());
  std::vector<std::string> payloads;
  auto got = drain(src, &payloads);
  ASSERT_TRUE(src.at_end());
  ASSERT_EQ(got.size(), 3u);  // "in2" is empty
  for (int32_t p = 0; p < 3; ++p) {
    ASSERT_EQ(got[p].size(), 100u) << "partition " << p;
    for (size_t i = 0; i < 100; ++i) {
      EXPECT_EQ(got[p][i].offset, static_cast<int64_t>(i));
      EXPECT_EQ(got[p][i].next_offset, static_cast<int64_t>(i) + 1);
      EXPECT_EQ(got[p][i].line, 0);
      EXPECT_GT(got[p][i].ingest_ms, 1'700'000'000'000);
    }
  }
  std::set<std::string> unique(payloads.begin(), payloads.end());
  EXPECT_EQ(unique.size(), 300u);
  EXPECT_TRUE(unique.count("{\"p\":2,\"n\":99}"));
  EXPECT_EQ(src.name(), "in,in2");
}

TEST_F(KafkaSourceTest, StopAtEndNamesItsPartitionsAndIdlesThoseEmptyAtStart) {
  produce_in(20);
  KafkaSource src(config("    mode: assign\n    stop_at_end: true\n"));
  std::vector<RawRecord> batch;
  ASSERT_TRUE(src.poll(batch, 1, 0).is_ok());  // starts: assignment and end offsets known
  std::span<const int32_t> parts = src.partitions();
  std::vector<int32_t> ids(parts.begin(), parts.end());
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 1, 2, 1024, 1025, 1026}));
  EXPECT_FALSE(src.partition_idle(0));    // 20 records to go
  EXPECT_TRUE(src.partition_idle(1024));  // "in2" is empty: nothing will come
  drain(src);
  ASSERT_TRUE(src.at_end());
  EXPECT_TRUE(src.partition_idle(1025));
}

TEST_F(KafkaSourceTest, SeekResumesFromCheckpointedPositions) {
  produce_in(100);
  KafkaSource src(config("    mode: assign\n    stop_at_end: true\n"));
  ASSERT_TRUE(src.seek({{0, 40, 0}, {2, 100, 0}}).is_ok());
  std::vector<std::string> payloads;
  auto got = drain(src, &payloads);
  ASSERT_TRUE(src.at_end());
  EXPECT_EQ(got[0].size(), 60u);
  EXPECT_EQ(got[0].front().offset, 40);
  EXPECT_EQ(got[1].size(), 100u);
  EXPECT_EQ(got.count(2), 0u);
  EXPECT_EQ(payloads.front().substr(0, 5), "{\"p\":");
}

TEST_F(KafkaSourceTest, SecondTopicGetsItsOwnGlobalPartitionIds) {
  testing::produce(broker_->bootstrap(), "in2", {{1, "k", "{\"x\":1}"}, {2, "k", "{\"x\":2}"}});
  KafkaSource src(config("    mode: assign\n    stop_at_end: true\n"));
  auto got = drain(src);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.count(1024 + 1), 1u);
  EXPECT_EQ(got.count(1024 + 2), 1u);
  EXPECT_EQ(src.topic_of(1024 + 2), "in2");
  EXPECT_EQ(src.kafka_partition_of(1024 + 2), 2);
  EXPECT_EQ(src.topic_of(2), "in");
}

TEST_F(KafkaSourceTest, StopAtEndUsesEndOffsetsFoundAtStart) {
  produce_in(10);
  KafkaSource src(config("    mode: assign\n    stop_at_end: true\n"));
  std::vector<RawRecord> batch;
  ASSERT_TRUE(src.poll(batch, 1, 0).is_ok());  // starts: end offsets are now fixed
  produce_in(10, 10);                          // arrives after start
  auto got = drain(src);
  ASSERT_TRUE(src.at_end());
  size_t total = batch.size();
  for (auto& [p, v] : got) total += v.size();
  EXPECT_GE(total, 30u);
  EXPECT_LE(total, 60u);
}

TEST_F(KafkaSourceTest, WithoutStopAtEndNeverAtEnd) {
  produce_in(5);
  KafkaSource src(config("    mode: assign\n"));
  std::vector<RawRecord> batch;
  size_t total = 0;
  for (int i = 0; i < 40 && total < 15; ++i) {
    batch.clear();
    ASSERT_TRUE(src.poll(batch, 100, 50).is_ok());
    total += batch.size();
  }
  EXPECT_EQ(total, 15u);
  EXPECT_FALSE(src.at_end());
}

TEST_F(KafkaSourceTest, EmptyPartitionsBecomeIdleAfterIdleMs) {
  testing::produce(broker_->bootstrap(), "in", {{0, "k", "{}"}});
  KafkaSource src(config("    mode: assign\n    idle_ms: 300\n"));
  std::vector<RawRecord> batch;
  ASSERT_TRUE(src.poll(batch, 10, 500).is_ok());
  EXPECT_FALSE(src.partition_idle(1));  // assigned, not idle yet
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(700);
  while (std::chrono::steady_clock::now() < until) {
    batch.clear();
    ASSERT_TRUE(src.poll(batch, 10, 50).is_ok());
  }
  EXPECT_TRUE(src.partition_idle(1));
  EXPECT_TRUE(src.partition_idle(0));   // its one record is older than idle_ms
  EXPECT_TRUE(src.partition_idle(77));  // not assigned to this process
  testing::produce(broker_->bootstrap(), "in", {{1, "k", "{}"}});
  bool got = false;
  for (int i = 0; i < 40 && !got; ++i) {
    batch.clear();
    ASSERT_TRUE(src.poll(batch, 10, 50).is_ok());
    for (auto& r : batch) got |= r.partition == 1;
  }
  ASSERT_TRUE(got);
  EXPECT_FALSE(src.partition_idle(1));  // just had data
}

TEST_F(KafkaSourceTest, ConsumerGroupSubscribeAndLagCommits) {
  produce_in(20);
  std::string group = testing::unique_name("sw-test-group");
  {
    KafkaSource src(config("    group_id: " + group + "\n    stop_at_end: true\n"));
    auto got = drain(src, nullptr, 30);
    ASSERT_TRUE(src.at_end());
    size_t total = 0;
    std::vector<SourcePosition> positions;
    for (auto& [p, v] : got) {
      total += v.size();
      positions.push_back({p, v.back().next_offset, 0});
    }
    EXPECT_EQ(total, 60u);
    src.on_checkpoint(positions);
    std::vector<RawRecord> batch;
    ASSERT_TRUE(src.poll(batch, 10, 300).is_ok());  // serves the async commit
  }
  // Kafka's committed offsets now show the positions (lag tools read these).
  kafka::HandlePtr rk = kafka::make_handle(
      RD_KAFKA_CONSUMER, kafka::make_conf(broker_->bootstrap(), {{"group.id", group}}));
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(3));
  for (int p = 0; p < 3; ++p) rd_kafka_topic_partition_list_add(list.get(), "in", p);
  ASSERT_EQ(rd_kafka_committed(rk.get(), list.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(list->elems[p].offset, 20) << "partition " << p;
}

TEST_F(KafkaSourceTest, FetchErrorsAndBrokerOutageLoseAndRepeatNothing) {
  produce_in(200);
  KafkaSource src(config("    mode: assign\n    stop_at_end: true\n"));
  broker_->push_request_errors(
      KafkaMockBroker::kApiFetch,
      {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
       RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART});
  std::vector<RawRecord> batch;
  std::map<int32_t, std::vector<int64_t>> offsets;
  bool downed = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (!src.at_end() && std::chrono::steady_clock::now() < deadline) {
    batch.clear();
    ASSERT_TRUE(src.poll(batch, 50, 50).is_ok());
    for (auto& r : batch) offsets[r.partition].push_back(r.offset);
    if (!downed && offsets[0].size() >= 50) {
      downed = true;
      ASSERT_TRUE(broker_->set_broker_down(1).is_ok());
      std::this_thread::sleep_for(std::chrono::seconds(2));
      ASSERT_TRUE(broker_->set_broker_up(1).is_ok());
    }
  }
  ASSERT_TRUE(src.at_end());
  for (int32_t p = 0; p < 3; ++p) {
    ASSERT_EQ(offsets[p].size(), 200u) << "partition " << p;
    for (size_t i = 0; i < 200; ++i) ASSERT_EQ(offsets[p][i], static_cast<int64_t>(i));
  }
}

TEST_F(KafkaSourceTest, PauseResumeContinuesExactlyWhereTheTaskWas) {
  produce_in(100);
  KafkaSource src(config("    mode: assign\n    stop_at_end: true\n"));
  std::vector<RawRecord> batch;
  std::map<int32_t, std::vector<int64_t>> offsets;
  int polls = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!src.at_end() && std::chrono::steady_clock::now() < deadline) {
    batch.clear();
    ASSERT_TRUE(src.poll(batch, 7, 50).is_ok());
    for (auto& r : batch) offsets[r.partition].push_back(r.offset);
    if (++polls % 5 == 0) {
      src.pause();
      batch.clear();
      ASSERT_TRUE(src.poll(batch, 7, 20).is_ok());  // may still hold prefetched records
      for (auto& r : batch) offsets[r.partition].push_back(r.offset);
      src.resume();
    }
  }
  ASSERT_TRUE(src.at_end());
  for (int32_t p = 0; p < 3; ++p) {
    ASSERT_EQ(offsets[p].size(), 100u) << "partition " << p;
    for (size_t i = 0; i < 100; ++i) ASSERT_EQ(offsets[p][i], static_cast<int64_t>(i));
  }
}

// The ordered merge (issue #16): records of three partitions come out by (event time,
// partition id), whatever the fetch sizes; a record that does not decode follows its
// predecessor in its partition; records written after start are left for the next run.
TEST(KafkaSourceMergeTest, HandsRecordsOverInEventTimeOrderWhateverTheFetchSize) {
  auto broker = KafkaMockBroker::start({0, 1, 3, {"in"}});
  std::vector<Produced> recs;
  // Partition p holds times p, p+3, p+6, ... (ms): the merged order interleaves them; p1
  // also holds a record without a time after its time-4 record.
  for (int i = 0; i < 60; ++i) {
    const int p = i % 3;
    recs.push_back({p, "k",
                    "{\"type\":\"metric\",\"series\":\"s\",\"value\":1,\"ts\":" +
                        std::to_string(1'000'000 + i) + "}"});
    if (i == 4) recs.push_back({p, "k", "not json"});
  }
  testing::produce(broker->bootstrap(), "in", recs);
  size_t round = 0;
  for (const char* fetch : {"1048576", "1"}) {
    KafkaSource src(Config::from_yaml(
        "kafka: {brokers: '" + broker->bootstrap() +
        "', properties: {fetch.wait.max.ms: 10}}\n"
        "source:\n  kafka:\n    topics: [in]\n    mode: assign\n    stop_at_end: true\n"
        "    properties: {max.partition.fetch.bytes: " +
        fetch + "}\n"));
    ASSERT_TRUE(src.seek({}).is_ok());
    ASSERT_TRUE(src.merges_partitions());
    // Records produced now are past the end offsets found at the first poll.
    std::vector<RawRecord> batch;
    std::vector<std::string> order;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool late_produced = false;
    while (!src.at_end() && std::chrono::steady_clock::now() < deadline) {
      batch.clear();
      ASSERT_TRUE(src.poll(batch, 7, 50).is_ok());
      if (!late_produced) {
        testing::produce(broker->bootstrap(), "in", {{0, "k", "{\"late\":1}"}});
        late_produced = true;
      }
      for (const RawRecord& r : batch) order.emplace_back(r.payload);
    }
    ASSERT_TRUE(src.at_end()) << fetch;
    // The previous round's late record is in this round's range.
    EXPECT_EQ(std::erase(order, "{\"late\":1}"), round++) << fetch;
    ASSERT_EQ(order.size(), 61u) << fetch;
    for (int i = 0; i < 61; ++i) {
      const int n = i <= 4 ? i : i - 1;
      if (i == 5) {
        EXPECT_EQ(order[i], "not json") << fetch;
        continue;
      }
      EXPECT_NE(order[i].find(std::to_string(1'000'000 + n)), std::string::npos)
          << fetch << " record " << i << ": " << order[i];
    }
  }
}
// A partition far ahead in event time fills its lane up to the cap, is paused while the
// merge drains the others, and resumes where it stopped: nothing lost, nothing twice.
TEST(KafkaSourceMergeTest, FullLanePausesItsPartitionAndResumesWithoutGapsOrRepeats) {
  auto broker = KafkaMockBroker::start({0, 1, 2, {"in"}});
  std::vector<Produced> recs;
  for (int i = 0; i < 2000; ++i) {
    recs.push_back({0, "k", "{\"ts\":" + std::to_string(1000 + i) + "}"});
    recs.push_back({1, "k", "{\"ts\":" + std::to_string(100000 + i) + "}"});
  }
  testing::produce(broker->bootstrap(), "in", recs);
  KafkaSourceOptions o = kafka_source_options(Config::from_yaml(
      "kafka: {brokers: '" + broker->bootstrap() +
      "', properties: {fetch.wait.max.ms: 10}}\n"
      "source:\n  kafka:\n    topics: [in]\n    mode: assign\n    stop_at_end: true\n"
      "    properties: {max.partition.fetch.bytes: 2000}\n"));
  o.merge_lane_cap = 100;
  KafkaSource src(std::move(o));
  ASSERT_TRUE(src.seek({}).is_ok());
  std::vector<RawRecord> batch;
  std::vector<int64_t> offsets[2];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!src.at_end() && std::chrono::steady_clock::now() < deadline) {
    batch.clear();
    ASSERT_TRUE(src.poll(batch, 64, 50).is_ok());
    for (const RawRecord& r : batch) offsets[r.partition].push_back(r.offset);
    // Partition 1 comes only after partition 0 is done.
    if (!batch.empty() && batch.back().partition == 1) {
      EXPECT_EQ(offsets[0].size(), 2000u);
    }
  }
  ASSERT_TRUE(src.at_end());
  for (int p = 0; p < 2; ++p) {
    ASSERT_EQ(offsets[p].size(), 2000u) << p;
    for (int i = 0; i < 2000; ++i) {
      ASSERT_EQ(offsets[p][i], i) << p;
    }
  }
}

}  // namespace
}  // namespace sw
