#include "connectors/kafka_common.h"

#include <librdkafka/rdkafka.h>

#include <gtest/gtest.h>

#include "connectors/kafka_mock_broker.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "stream/config.h"

namespace sw {
namespace {

std::string effective(const std::vector<kafka::Property>& props, const std::string& name) {
  kafka::ConfPtr conf = kafka::make_conf(props);
  return kafka::conf_get(conf.get(), name.c_str());
}

TEST(KafkaCommonTest, ConsumerDefaultsAvoidThePrefetchStall) {
  Config cfg = Config::from_yaml("kafka: {brokers: [a:1, b:2]}\n");
  auto props = kafka::client_properties(cfg, kafka::ClientRole::kConsumer);
  EXPECT_EQ(effective(props, "queued.min.messages"), "10000000");
  EXPECT_EQ(effective(props, "queued.max.messages.kbytes"), "2000000");
  EXPECT_EQ(effective(props, "enable.auto.commit"), "false");
  EXPECT_EQ(effective(props, "enable.partition.eof"), "true");
  EXPECT_EQ(effective(props, "bootstrap.servers"), "a:1,b:2");
}

TEST(KafkaCommonTest, ProducerIsIdempotentWithGaplessGuarantee) {
  Config cfg = Config::from_yaml("kafka: {brokers: x:9}\n");
  auto props = kafka::client_properties(cfg, kafka::ClientRole::kProducer);
  EXPECT_EQ(effective(props, "enable.idempotence"), "true");
  EXPECT_EQ(effective(props, "enable.gapless.guarantee"), "true");
  EXPECT_EQ(effective(props, "linger.ms"), "0");
  EXPECT_EQ(effective(props, "max.in.flight.requests.per.connection"), "1");
}

TEST(KafkaCommonTest, EveryPropertyPassesThroughAndUserWinsOverDefaults) {
  Config cfg = Config::from_yaml(
      "kafka:\n"
      "  brokers: broker:9093\n"
      "  properties:\n"
      "    security.protocol: SASL_PLAINTEXT\n"
      "    sasl:\n"
      "      mechanism: SCRAM-SHA-256\n"
      "    sasl.username: alice\n"
      "    queued.min.messages: 5000\n"
      "source:\n"
      "  kafka:\n"
      "    properties: {fetch.wait.max.ms: 7}\n",
      {"kafka.properties.client.id=store-fleet-1"});
  auto props = kafka::client_properties(cfg, kafka::ClientRole::kConsumer);
  EXPECT_EQ(effective(props, "security.protocol"), "sasl_plaintext");
  EXPECT_EQ(effective(props, "sasl.mechanisms"), "SCRAM-SHA-256");
  EXPECT_EQ(effective(props, "sasl.username"), "alice");
  EXPECT_EQ(effective(props, "queued.min.messages"), "5000");
  EXPECT_EQ(effective(props, "fetch.wait.max.ms"), "7");
  EXPECT_EQ(effective(props, "client.id"), "store-fleet-1");
  // The producer does not get the source's own section.
  auto producer = kafka::client_properties(cfg, kafka::ClientRole::kProducer);
  EXPECT_EQ(effective(producer, "security.protocol"), "sasl_plaintext");
  for (const auto& p : producer) EXPECT_NE(p.name, "fetch.wait.max.ms");
  cfg.check_unknown();  // every key above was consumed
}

TEST(KafkaCommonTest, InvalidPropertyNamesTheConfigKey) {
  Config cfg = Config::from_yaml("kafka: {properties: {no.such.property: 1}}\n");
  auto props = kafka::client_properties(cfg, kafka::ClientRole::kConsumer);
  try {
    kafka::make_conf(props);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "kafka.properties.no.such.property");
  }
}

TEST(KafkaCommonTest, ConstructorsRejectBadConfig) {
  EXPECT_THROW(KafkaSource(Config::from_yaml("source: {kind: kafka}\n")), ConfigError);
  EXPECT_THROW(KafkaSource(Config::from_yaml("source: {kafka: {topics: [a], mode: both}}\n")),
               ConfigError);
  EXPECT_THROW(KafkaSink(Config::from_yaml("delivery: twice\n")), ConfigError);
  EXPECT_THROW(KafkaSink(Config::from_yaml("sinks: {kafka: {properties: {linger.ms: soon}}}\n")),
               ConfigError);
}

TEST(KafkaCommonTest, Murmur2MatchesLibrdkafkaJavaCompatiblePartitioner) {
  kafka::HandlePtr rk = kafka::make_handle(RD_KAFKA_PRODUCER, kafka::make_conf("127.0.0.1:1", {}));
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), "t", nullptr);
  for (std::string key : {"", "a", "ab", "abc", "abcd", "S0042|SKU-001234", "cpu.load.eu-west"}) {
    for (int32_t n : {1, 3, 8, 17}) {
      int32_t want =
          rd_kafka_msg_partitioner_murmur2(rkt, key.data(), key.size(), n, nullptr, nullptr);
      EXPECT_EQ(kafka::murmur2_partition(key, n), want) << key << " / " << n;
    }
  }
  rd_kafka_topic_destroy(rkt);
}

TEST(KafkaCommonTest, SinkRoutesByStreamAndAlertType) {
  Config cfg = Config::from_yaml(
      "sinks:\n"
      "  kafka:\n"
      "    topics: {alerts: a.all, scores: ''}\n"
      "    routes: {low_stock: a.stock, price: p.special}\n");
  KafkaSink sink(cfg);
  OutputRecord r;
  r.stream = OutputStream::kAlerts;
  r.type = "anomaly";
  EXPECT_EQ(sink.topic_for(r), "a.all");
  r.type = "low_stock";
  EXPECT_EQ(sink.topic_for(r), "a.stock");
  r.stream = OutputStream::kPriceTriggers;
  r.type = "price";
  EXPECT_EQ(sink.topic_for(r), "p.special");
  r.stream = OutputStream::kForecasts;
  r.type = "forecast";
  EXPECT_EQ(sink.topic_for(r), "shelfwatch.forecasts");
  r.stream = OutputStream::kDlq;
  EXPECT_EQ(sink.topic_for(r), "shelfwatch.dlq");
  r.stream = OutputStream::kScores;
  EXPECT_EQ(sink.topic_for(r), "");
}

TEST(KafkaCommonTest, MockBrokerForwarderServesMetadataOnFixedPort) {
  // Find a free port, then ask the broker to listen on it.
  int port = 0;
  {
    auto probe = KafkaMockBroker::start({});
    std::string b = probe->bootstrap();
    port = std::stoi(b.substr(b.rfind(':') + 1)) + 1;  // near an ephemeral, likely free
  }
  std::unique_ptr<KafkaMockBroker> broker;
  for (int attempt = 0; attempt < 20 && !broker; ++attempt, ++port) {
    try {
      broker = KafkaMockBroker::start({port, 1, 5, {"fixed.topic"}});
    } catch (const std::exception&) {
    }
  }
  ASSERT_TRUE(broker);
  EXPECT_EQ(broker->bootstrap(), "127.0.0.1:" + std::to_string(port - 1));
  kafka::HandlePtr rk =
      kafka::make_handle(RD_KAFKA_PRODUCER, kafka::make_conf(broker->bootstrap(), {}));
  Result<int32_t> n = kafka::partition_count(rk.get(), "fixed.topic", 10000);
  ASSERT_TRUE(n.is_ok()) << n.status().message();
  EXPECT_EQ(n.value(), 5);
}

}  // namespace
}  // namespace sw
