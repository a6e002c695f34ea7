#pragma once
// Development/test Kafka broker: librdkafka's in-process mock cluster (rdkafka_mock.h) on
// loopback. It speaks the real Kafka protocol over TCP, keeps data in memory only (about 5 MB
// per partition; older data is dropped) and is meant for development, tests and benchmarks,
// never production. `shelfwatch broker` runs one; tests embed one.
//
// librdkafka 2.0.2's mock brokers listen on ephemeral ports. When a fixed port is asked for,
// a small TCP forwarder listens on 127.0.0.1:<port> and relays each connection to broker 1;
// clients bootstrap through it and then connect to the brokers' advertised addresses
// (127.0.0.1:<ephemeral>) as usual.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stream/status.h"

namespace sw {

class KafkaMockBroker {
 public:
  struct Options {
    int port = 0;  // 0: no forwarder, bootstrap() is the mock's own address list
    int brokers = 1;
    int partitions = 4;  // for `topics` and for topics auto-created by clients
    std::vector<std::string> topics;
  };
  //! Kafka protocol API keys for fault injection.
  static constexpr int16_t kApiProduce = 0;
  static constexpr int16_t kApiFetch = 1;

  //! Starts the cluster and creates the topics; throws std::runtime_error on failure.
  static std::unique_ptr<KafkaMockBroker> start(const Options& options);
  ~KafkaMockBroker();
  KafkaMockBroker(const KafkaMockBroker&) = delete;
  KafkaMockBroker& operator=(const KafkaMockBroker&) = delete;

  //! "127.0.0.1:<port>" (forwarder) or the mock's own bootstrap list.
  const std::string& bootstrap() const { return bootstrap_; }
  [[nodiscard]] Status create_topic(const std::string& topic, int partitions);
  //! Disconnects the broker and refuses connections until set_broker_up().
  [[nodiscard]] Status set_broker_down(int32_t broker_id);
  [[nodiscard]] Status set_broker_up(int32_t broker_id);
  //! Delays every response of the broker by `rtt_ms` (0 = none): a slow network or broker.
  [[nodiscard]] Status set_broker_rtt(int32_t broker_id, int rtt_ms);
  //! The next `errors.size()` requests of `api_key` fail with these Kafka error codes.
  void push_request_errors(int16_t api_key, const std::vector<int>& errors);

 private:
  KafkaMockBroker() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

}  // namespace sw
