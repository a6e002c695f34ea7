// KafkaSink against librdkafka's mock cluster over TCP, with the in-memory state store
// standing in for the checkpoint.

#include "connectors/kafka_sink.h"

#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "state/memory_store.h"
#include "stream/json_writer.h"
#include "tests/support/kafka_test_util.h"

namespace sw {
namespace {

class KafkaSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = KafkaMockBroker::start(
        {0, 1, 4, {"shelfwatch.alerts", "shelfwatch.forecasts", "stock.alerts", "shelfwatch.dlq"}});
  }
  Config config(const std::string& delivery = "exactly_once") const {
    // Short reconnect backoff keeps the outage tests fast (librdkafka's default grows to 10 s).
    return Config::from_yaml(
        "kafka: {brokers: '" + broker_->bootstrap() +
        "', properties: {reconnect.backoff.max.ms: 500}}\ndelivery: " + delivery +
        "\nsinks:\n  kafka:\n    routes: {low_stock: stock.alerts}\n"
        "    ce_source: /shelfwatch/test\n");
  }
  // Alerts from 3 origins, keys over 12 store|sku pairs; seq per origin starts at first_seq.
  static std::vector<OutputRecord> alerts(int n, uint64_t first_seq = 1) {
    std::vector<OutputRecord> out;
    std::map<uint32_t, uint64_t> seq;
    for (int i = 0; i < n; ++i) {
      OutputRecord r;
      r.stream = i % 5 == 4 ? OutputStream::kForecasts : OutputStream::kAlerts;
      r.type =
          r.stream == OutputStream::kForecasts ? "forecast" : (i % 2 ? "low_stock" : "anomaly");
      r.key = "S" + std::to_string(i % 4) + "|SKU-" + std::to_string(i % 3);
      r.id = i % 7 == 0 ? "" : "alert-" + std::to_string(i);
      r.time_ms = 1'764'065'700'000 + i * 1000;
      r.origin = static_cast<uint32_t>(i % 3);
      auto [it, fresh] = seq.emplace(r.origin, first_seq);
      r.seq = fresh ? it->second : ++it->second;
      r.json = "{\"n\":" + std::to_string(i) + "}";
      out.push_back(r);
    }
    return out;
  }
  std::vector<testing::Consumed> all_outputs() const {
    std::vector<testing::Consumed> all;
    for (const char* t : {"shelfwatch.alerts", "shelfwatch.forecasts", "stock.alerts"}) {
      auto v = testing::consume_all(broker_->bootstrap(), t);
      for (auto& c : v) c.headers["topic"] = t;
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  }
  // Every record once; per (topic, partition, origin) seqs strictly increase.
  static void expect_exactly_once(const std::vector<testing::Consumed>& got, size_t n) {
    std::set<std::pair<std::string, std::string>> ids;
    std::map<std::tuple<std::string, int32_t, std::string>, uint64_t> last;
    for (const auto& c : got) {
      ids.emplace(c.headers.at("sw_origin"), c.headers.at("sw_seq"));
      auto key = std::make_tuple(c.headers.at("topic"), c.partition, c.headers.at("sw_origin"));
      uint64_t seq = std::stoull(c.headers.at("sw_seq"));
      EXPECT_GT(seq, last[key]) << "out of order or duplicated";
      last[key] = seq;
    }
    EXPECT_EQ(got.size(), n);
    EXPECT_EQ(ids.size(), n);
  }
  static size_t outbox_size(const MemoryStateStore& store) {
    size_t n = 0;
    EXPECT_TRUE(store
                    .scan_prefix(KafkaSink::kOutboxNamespace, "",
                                 [&](std::string_view, std::string_view) {
                                   ++n;
                                   return true;
                                 })
                    .is_ok());
    return n;
  }
  std::unique_ptr<KafkaMockBroker> broker_;
};

TEST_F(KafkaSinkTest, ExactlyOnceStagesInOutboxThenDeliversWithHeaders) {
  MemoryStateStore store;
  KafkaSink sink(config());
  ASSERT_TRUE(sink.recover(store).is_ok());
  auto recs = alerts(30);
  StateBatch batch;
  ASSERT_TRUE(sink.prepare(recs, batch).is_ok());
  ASSERT_TRUE(store.commit(batch).is_ok());
  EXPECT_EQ(outbox_size(store), 30u);
  EXPECT_TRUE(testing::consume_all(broker_->bootstrap(), "shelfwatch.alerts").empty());
  ASSERT_TRUE(sink.committed().is_ok());
  EXPECT_EQ(sink.stats().delivered, 30u);

  auto got = all_outputs();
  expect_exactly_once(got, 30);
  for (const auto& c : got) {
    int n = std::stoi(c.value.substr(5));
    const OutputRecord& r = recs[n];
    std::string want_topic = r.stream == OutputStream::kForecasts ? "shelfwatch.forecasts"
                             : r.type == "low_stock"              ? "stock.alerts"
                                                                  : "shelfwatch.alerts";
    EXPECT_EQ(c.headers.at("topic"), want_topic);
    EXPECT_EQ(c.key, r.key);
    EXPECT_EQ(c.partition, kafka::murmur2_partition(r.key, 4));
    EXPECT_EQ(c.headers.at("ce_specversion"), "1.0");
    EXPECT_EQ(c.headers.at("ce_id"),
              r.id.empty() ? std::to_string(r.origin) + ":" + std::to_string(r.seq) : r.id);
    EXPECT_EQ(c.headers.at("ce_type"), "com.shelfwatch." + r.type);
    EXPECT_EQ(c.headers.at("ce_source"), "/shelfwatch/test");
    EXPECT_EQ(c.headers.at("ce_time"), format_time(r.time_ms));
    EXPECT_EQ(c.headers.at("content-type"), "application/json");
    EXPECT_EQ(c.headers.at("sw_origin"), std::to_string(r.origin));
    EXPECT_EQ(c.headers.at("sw_seq"), std::to_string(r.seq));
  }
  // The next checkpoint deletes the delivered outbox entries.
  StateBatch next;
  ASSERT_TRUE(sink.prepare({}, next).is_ok());
  ASSERT_TRUE(store.commit(next).is_ok());
  EXPECT_EQ(outbox_size(store), 0u);
}

TEST_F(KafkaSinkTest, RecoverResendsWhatNeverLeft) {
  MemoryStateStore store;
  auto recs = alerts(25);
  {
    KafkaSink sink(config());
    ASSERT_TRUE(sink.recover(store).is_ok());
    StateBatch batch;
    ASSERT_TRUE(sink.prepare(recs, batch).is_ok());
    ASSERT_TRUE(store.commit(batch).is_ok());
    // crash: committed() never runs
  }
  KafkaSink again(config());
  ASSERT_TRUE(again.recover(store).is_ok());
  EXPECT_EQ(again.stats().resent, 25u);
  EXPECT_EQ(again.stats().fenced, 0u);
  expect_exactly_once(all_outputs(), 25);
}

// Hot reload (KafkaSink::reroute): routes swapped between checkpoints; a crash after the
// swap re-sends each outbox entry to the topic it was staged for, with the restarted
// process on the old routes, and nothing is lost or duplicated.
TEST_F(KafkaSinkTest, RerouteBetweenCheckpointsKeepsExactlyOnceAcrossACrash) {
  MemoryStateStore store;
  const auto first = alerts(20);
  const auto second = alerts(20, 100);
  {
    KafkaSink sink(config());
    ASSERT_TRUE(sink.recover(store).is_ok());
    StateBatch batch;
    ASSERT_TRUE(sink.prepare(first, batch).is_ok());
    ASSERT_TRUE(store.commit(batch).is_ok());
    ASSERT_TRUE(sink.committed().is_ok());
    Config swapped =
        Config::from_yaml("kafka: {brokers: '" + broker_->bootstrap() +
                          "'}\nsinks:\n  kafka:\n    routes: {anomaly: stock.alerts}\n"
                          "    topics: {forecasts: ''}\n    ce_source: /shelfwatch/reloaded\n");
    sink.reroute(kafka_sink_options(swapped));
    OutputRecord r;
    r.stream = OutputStream::kAlerts;
    r.type = "low_stock";
    EXPECT_EQ(sink.topic_for(r), "shelfwatch.alerts");
    r.type = "anomaly";
    EXPECT_EQ(sink.topic_for(r), "stock.alerts");
    r.stream = OutputStream::kForecasts;
    EXPECT_EQ(sink.topic_for(r), "");  // stream disabled
    StateBatch next;
    ASSERT_TRUE(sink.prepare(second, next).is_ok());
    ASSERT_TRUE(store.commit(next).is_ok());
    // crash: the second batch is in the outbox only
  }
  KafkaSink again(config());  // restarted on the old routes
  ASSERT_TRUE(again.recover(store).is_ok());
  size_t forecasts = 0;
  for (const OutputRecord& r : second) forecasts += r.stream == OutputStream::kForecasts;
  EXPECT_EQ(again.stats().resent, second.size() - forecasts);
  const auto got = all_outputs();
  expect_exactly_once(got, first.size() + second.size() - forecasts);
  for (const auto& c : got) {
    if (std::stoull(c.headers.at("sw_seq")) < 100) continue;
    const std::string& type = c.headers.at("ce_type");
    EXPECT_EQ(c.headers.at("topic"),
              type == "com.shelfwatch.anomaly" ? "stock.alerts" : "shelfwatch.alerts");
  }
}

TEST_F(KafkaSinkTest, RecoverSkipsWhatWasAlreadyDelivered) {
  MemoryStateStore store;
  {
    KafkaSink sink(config());
    ASSERT_TRUE(sink.recover(store).is_ok());
    StateBatch batch;
    ASSERT_TRUE(sink.prepare(alerts(25), batch).is_ok());
    ASSERT_TRUE(store.commit(batch).is_ok());
    ASSERT_TRUE(sink.committed().is_ok());
    // crash before the next checkpoint could delete the outbox entries
  }
  KafkaSink again(config());
  ASSERT_TRUE(again.recover(store).is_ok());
  EXPECT_EQ(again.stats().fenced, 25u);
  EXPECT_EQ(again.stats().resent, 0u);
  expect_exactly_once(all_outputs(), 25);
  StateBatch next;
  ASSERT_TRUE(again.prepare({}, next).is_ok());
  ASSERT_TRUE(store.commit(next).is_ok());
  EXPECT_EQ(outbox_size(store), 0u);
}

TEST_F(KafkaSinkTest, RecoverAfterPartialDeliveryFencesPerPartitionAndOrigin) {
  MemoryStateStore store;
  auto recs = alerts(40);
  {
    KafkaSink sink(config());
    ASSERT_TRUE(sink.recover(store).is_ok());
    StateBatch b;
    ASSERT_TRUE(sink.prepare(recs, b).is_ok());
    ASSERT_TRUE(store.commit(b).is_ok());
    // crash in the middle of committed(): only some records reached the broker.
  }
  {
    // The first 17 records reached the broker, exactly as the crashed sink sent them (same
    // partitions, same headers, in order): sent here by another sink with a scratch store.
    std::vector<OutputRecord> part(recs.begin(), recs.begin() + 17);
    MemoryStateStore scratch;
    KafkaSink other(config());
    ASSERT_TRUE(other.recover(scratch).is_ok());
    StateBatch b;
    ASSERT_TRUE(other.prepare(part, b).is_ok());
    ASSERT_TRUE(scratch.commit(b).is_ok());
    ASSERT_TRUE(other.committed().is_ok());
  }
  KafkaSink again(config());
  ASSERT_TRUE(again.recover(store).is_ok());
  EXPECT_EQ(again.stats().fenced, 17u);
  EXPECT_EQ(again.stats().resent, 23u);
  expect_exactly_once(all_outputs(), 40);
}

TEST_F(KafkaSinkTest, FenceIgnoresRecordsOfOlderRunsInTheTopic) {
  // An older run (other state) left records with high sequence numbers for origin 0.
  {
    MemoryStateStore old_store;
    KafkaSink old(config());
    ASSERT_TRUE(old.recover(old_store).is_ok());
    StateBatch b;
    ASSERT_TRUE(old.prepare(alerts(30, 1000), b).is_ok());
    ASSERT_TRUE(old_store.commit(b).is_ok());
    ASSERT_TRUE(old.committed().is_ok());
  }
  MemoryStateStore store;
  {
    KafkaSink sink(config());
    ASSERT_TRUE(sink.recover(store).is_ok());
    StateBatch b;
    ASSERT_TRUE(sink.prepare(alerts(30), b).is_ok());
    ASSERT_TRUE(store.commit(b).is_ok());
  }
  KafkaSink again(config());
  ASSERT_TRUE(again.recover(store).is_ok());
  EXPECT_EQ(again.stats().resent, 30u);  // none of them is hidden by the old run's seqs
  EXPECT_EQ(all_outputs().size(), 60u);
}

TEST_F(KafkaSinkTest, AtLeastOnceWritesNothingToTheCheckpoint) {
  MemoryStateStore store;
  KafkaSink sink(config("at_least_once"));
  ASSERT_TRUE(sink.recover(store).is_ok());
  StateBatch batch;
  ASSERT_TRUE(sink.prepare(alerts(12), batch).is_ok());
  EXPECT_TRUE(batch.empty());
  ASSERT_TRUE(sink.committed().is_ok());  // hands the records over, does not wait
  ASSERT_TRUE(sink.drain().is_ok());      // what the task waits for before a checkpoint
  EXPECT_EQ(sink.stats().delivered, 12u);
  expect_exactly_once(all_outputs(), 12);
  ASSERT_TRUE(sink.close().is_ok());
}

TEST_F(KafkaSinkTest, AtLeastOnceDrainWaitsThroughABrokerOutage) {
  MemoryStateStore store;
  KafkaSink sink(config("at_least_once"));
  ASSERT_TRUE(sink.recover(store).is_ok());
  auto recs = alerts(40);
  std::vector<OutputRecord> a(recs.begin(), recs.begin() + 20), b(recs.begin() + 20, recs.end());
  StateBatch batch;
  ASSERT_TRUE(sink.prepare(a, batch).is_ok());
  ASSERT_TRUE(sink.committed().is_ok());
  ASSERT_TRUE(sink.drain().is_ok());
  ASSERT_TRUE(broker_->set_broker_down(1).is_ok());
  ASSERT_TRUE(sink.prepare(b, batch).is_ok());
  ASSERT_TRUE(sink.committed().is_ok());  // returns during the outage
  std::thread up([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    ASSERT_TRUE(broker_->set_broker_up(1).is_ok());
  });
  Status st = sink.drain();  // returns once all 40 are acknowledged
  up.join();
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(sink.stats().delivered, 40u);
  expect_exactly_once(all_outputs(), 40);
  ASSERT_TRUE(sink.close().is_ok());
}

TEST_F(KafkaSinkTest, ProduceErrorsAndBrokerOutageDeliverEverythingOnce) {
  MemoryStateStore store;
  KafkaSink sink(config());
  ASSERT_TRUE(sink.recover(store).is_ok());
  auto recs = alerts(60);
  std::vector<OutputRecord> a(recs.begin(), recs.begin() + 20),
      b(recs.begin() + 20, recs.begin() + 40), c(recs.begin() + 40, recs.end());
  StateBatch b1;
  ASSERT_TRUE(sink.prepare(a, b1).is_ok());
  ASSERT_TRUE(store.commit(b1).is_ok());
  broker_->push_request_errors(
      KafkaMockBroker::kApiProduce,
      {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
       RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS});
  ASSERT_TRUE(sink.committed().is_ok());

  StateBatch b2;
  ASSERT_TRUE(sink.prepare(b, b2).is_ok());
  ASSERT_TRUE(store.commit(b2).is_ok());
  ASSERT_TRUE(broker_->set_broker_down(1).is_ok());
  std::thread up([&] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ASSERT_TRUE(broker_->set_broker_up(1).is_ok());
  });
  auto t0 = std::chrono::steady_clock::now();
  Status st = sink.committed();  // blocks through the outage, then delivers
  up.join();
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500));

  StateBatch b3;
  ASSERT_TRUE(sink.prepare(c, b3).is_ok());
  ASSERT_TRUE(store.commit(b3).is_ok());
  // A produce request lost in transport: the idempotent producer retries without duplicates.
  broker_->push_request_errors(KafkaMockBroker::kApiProduce, {RD_KAFKA_RESP_ERR__TRANSPORT});
  ASSERT_TRUE(sink.committed().is_ok());
  expect_exactly_once(all_outputs(), 60);
}

}  // namespace
}  // namespace sw
