#pragma once
// Helpers for Kafka connector tests: a plain librdkafka producer/consumer talking to an
// in-process mock cluster over TCP, independent of the code under test.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/kafka_common.h"
#include "connectors/kafka_mock_broker.h"

namespace sw::testing {

struct Produced {
  int32_t partition;
  std::string key, value;
};

inline void produce(const std::string& bootstrap, const std::string& topic,
                    const std::vector<Produced>& records) {
  kafka::HandlePtr rk =
      kafka::make_handle(RD_KAFKA_PRODUCER, kafka::make_conf(bootstrap, {{"linger.ms", "5"}}));
  for (const Produced& r : records) {
    rd_kafka_resp_err_t e;
    do {
      e = rd_kafka_producev(
          rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk.get(), 10);
    } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  }
  ASSERT_EQ(rd_kafka_flush(rk.get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

struct Consumed {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key, value;
  std::map<std::string, std::string> headers;
};

//! Reads every record of `topic` (all partitions, up to the current end offsets).
inline std::vector<Consumed> consume_all(const std::string& bootstrap, const std::string& topic) {
  std::vector<Consumed> out;
  kafka::HandlePtr rk = kafka::make_handle(
      RD_KAFKA_CONSUMER, kafka::make_conf(bootstrap, {{"group.id", "test-reader"},
                                                      {"enable.partition.eof", "true"},
                                                      {"enable.auto.commit", "false"}}));
  Result<int32_t> n = kafka::partition_count(rk.get(), topic, 10000);
  if (!n.is_ok()) return out;
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(n.value()));
  std::map<int32_t, int64_t> ends;
  for (int32_t p = 0; p < n.value(); ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &lo, &hi, 10000);
    if (hi > lo) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = lo;
      ends[p] = hi;
    }
  }
  if (ends.empty()) return out;
  rd_kafka_assign(rk.get(), list.get());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ends.empty() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (!m) continue;
    int64_t next = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ? m->offset : m->offset + 1;
    if (!m->err) {
      Consumed c;
      c.partition = m->partition;
      c.offset = m->offset;
      if (m->key) c.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) c.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* h = nullptr;
      if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(h, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          c.headers[name] = std::string(static_cast<const char*>(val), size);
        }
      }
      out.push_back(std::move(c));
    }
    auto it = ends.find(m->partition);
    if (!m->err || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (it != ends.end() && next >= it->second) ends.erase(it);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
  return out;
}

inline std::string unique_name(const std::string& prefix) {
  return prefix + "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

}  // namespace sw::testing
