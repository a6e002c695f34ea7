#include "connectors/kafka_common.h"

#include <chrono>
#include <stdexcept>

namespace sw::kafka {

namespace {

// Walks the flattened config keys under `key` and turns them back into dotted librdkafka
// property names: {security: {protocol: SASL_SSL}} and {security.protocol: SASL_SSL} both give
// "security.protocol". A YAML list becomes a comma-separated value.
void add_section(const Config& cfg, const std::string& key, const std::string& name,
                 std::vector<Property>& out) {
  for (const std::string& child : cfg.children(key)) {
    std::string child_key = key + "." + child;
    std::string child_name = name.empty() ? child : name + "." + child;
    if (!cfg.children(child_key).empty()) {
      add_section(cfg, child_key, child_name, out);
      continue;
    }
    std::vector<std::string> values = cfg.get_list(child_key);
    std::string joined;
    for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
    out.push_back({child_name, joined, child_key});
  }
}

void add_section(const Config& cfg, const std::string& key, std::vector<Property>& out) {
  cfg.mark_read(key);
  add_section(cfg, key, "", out);
}

}  // namespace

Properties default_properties(ClientRole role) {
  if (role == ClientRole::kConsumer) {
    return {
        {"client.id", "shelfwatch"},
        {"queued.min.messages", "10000000"},
        {"queued.max.messages.kbytes", "2000000"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
    };
  }
  return {
      {"client.id", "shelfwatch"},
      {"enable.idempotence", "true"},
      {"enable.gapless.guarantee", "true"},
      // One request in flight per broker: with more, a batch that failed and was retried
      // could be reported delivered after a later batch was accepted (measured against the
      // mock cluster: one lost record in the produce-error + outage e2e test).
      {"max.in.flight.requests.per.connection", "1"},
      {"linger.ms", "0"},
  };
}

std::vector<Property> client_properties(const Config& cfg, ClientRole role) {
  std::vector<Property> out;
  for (auto& [name, value] : default_properties(role)) out.push_back({name, value, ""});
  std::vector<std::string> brokers = cfg.get_list("kafka.brokers");
  std::string joined;
  for (const auto& b : brokers) joined += (joined.empty() ? "" : ",") + b;
  if (joined.empty()) joined = "127.0.0.1:9092";
  out.push_back({"bootstrap.servers", joined, "kafka.brokers"});
  add_section(cfg, "kafka.properties", out);
  add_section(cfg,
              role == ClientRole::kConsumer ? "source.kafka.properties" : "sinks.kafka.properties",
              out);
  return out;
}

ConfPtr make_conf(const std::vector<Property>& props) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const Property& p : props) {
    if (rd_kafka_conf_set(conf.get(), p.name.c_str(), p.value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      throw ConfigError(p.source_key.empty() ? p.name : p.source_key, err,
                        "see librdkafka's CONFIGURATION.md for valid property names and values");
    }
  }
  return conf;
}

void check_properties(const std::vector<Property>& props) {
  make_conf(props);
}

ConfPtr make_conf(const std::string& brokers, const Properties& extra) {
  std::vector<Property> props{{"bootstrap.servers", brokers, ""}};
  for (const auto& [name, value] : extra) props.push_back({name, value, ""});
  return make_conf(props);
}

std::string conf_get(const rd_kafka_conf_t* conf, const char* name) {
  char buf[1024];
  size_t size = sizeof(buf);
  if (rd_kafka_conf_get(conf, name, buf, &size) != RD_KAFKA_CONF_OK) return "";
  return std::string(buf);
}

HandlePtr make_handle(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (!rk) throw std::runtime_error(std::string("cannot create Kafka client: ") + err);
  conf.release();  // owned by rk now
  return HandlePtr(rk);
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int32_t murmur2_partition(std::string_view key, int32_t partition_count) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const uint32_t len = static_cast<uint32_t>(key.size());
  uint32_t h = 0x9747b28c ^ len;
  const uint32_t len4 = len / 4;
  for (uint32_t i = 0; i < len4; ++i) {
    uint32_t k = data[i * 4] | (data[i * 4 + 1] << 8) | (data[i * 4 + 2] << 16) |
                 (static_cast<uint32_t>(data[i * 4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint32_t tail = len & ~3u;
  switch (len % 4) {
    case 3:
      h ^= static_cast<uint32_t>(data[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(data[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= data[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>((h & 0x7fffffff) % static_cast<uint32_t>(partition_count));
}

Result<int32_t> partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (!rkt) return Status::io("cannot create topic handle for " + topic);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable("metadata for topic " + topic + ": " + rd_kafka_err2str(err));
  }
  int32_t count = -1;
  std::string problem;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic != md->topics[i].topic) continue;
    if (md->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      problem = rd_kafka_err2str(md->topics[i].err);
    } else {
      count = md->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  if (count <= 0) {
    return Status::not_found("topic " + topic + " has no partitions" +
                             (problem.empty() ? "" : " (" + problem + ")"));
  }
  return count;
}

}  // namespace sw::kafka

namespace sw {

std::string librdkafka_version() {
  return rd_kafka_version_str();
}

}  // namespace sw
