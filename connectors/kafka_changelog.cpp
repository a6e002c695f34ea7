#include "connectors/kafka_changelog.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "connectors/kafka_common.h"
#include "stream/bytes.h"
#include "stream/json_writer.h"

namespace sw {

namespace {

constexpr uint32_t kMarkerMagic = 0x31435753;  // "SWC1"
constexpr std::string_view kStateKey = "state";
constexpr std::string_view kMarkerKey = "kcheckpoint";
// Namespaces whose entries the marker carries: the source positions and the outputs'
// high-water marks (file sink lengths, Kafka sink fences), not the sinks' outboxes (the
// outputs themselves).
bool carried_ns(std::string_view ns) {
  return (ns.substr(0, 6) == "source" || ns.substr(0, 4) == "sink") &&
         ns.find("outbox") == std::string_view::npos;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The local record: the id of the last checkpoint the changelog holds completely, and whether
// a commit started after it (the local state may then be ahead of the changelog).
struct LocalRecord {
  uint64_t id = 0;
  bool dirty = false;
};
std::string encode_local(LocalRecord r) {
  std::string v;
  ByteWriter w(v);
  w.put<uint64_t>(r.id);
  w.put<uint8_t>(r.dirty ? 1 : 0);
  return v;
}

struct TopicState {
  std::string ns;  // "" for a changelog topic of this application no marker names
  std::string name;
  int32_t partitions = 0;
  std::vector<int64_t> end;  // next offset after the last acknowledged record
  //! Partitions with an acknowledgement that carried no offset (librdkafka reports a
  //! retried produce that the broker had already appended as delivered, offset unknown):
  //! their end is read back from the broker before the next marker.
  std::vector<int32_t> unknown_end;
};

struct Marker {
  uint64_t id = 0;
  struct Topic {
    std::string ns, name;
    std::vector<int64_t> end;
  };
  std::vector<Topic> topics;
  std::map<std::pair<std::string, std::string>, std::string> carried;
};

std::string encode_marker(const Marker& m) {
  std::string v;
  ByteWriter w(v);
  w.put<uint32_t>(kMarkerMagic);
  w.put<uint64_t>(m.id);
  w.put<uint32_t>(static_cast<uint32_t>(m.topics.size()));
  for (const Marker::Topic& t : m.topics) {
    w.put_string(t.ns);
    w.put_string(t.name);
    w.put<uint32_t>(static_cast<uint32_t>(t.end.size()));
    for (int64_t e : t.end) w.put<int64_t>(e);
  }
  w.put<uint32_t>(static_cast<uint32_t>(m.carried.size()));
  for (const auto& [k, value] : m.carried) {
    w.put_string(k.first);
    w.put_string(k.second);
    w.put_string(value);
  }
  return v;
}

Status decode_marker(std::string_view v, Marker& m) {
  ByteReader r(v);
  uint32_t magic = 0, n = 0;
  auto bad = [] { return Status::corruption("changelog checkpoint marker is truncated"); };
  if (!r.get(magic) || magic != kMarkerMagic) {
    return Status::corruption("changelog checkpoint marker has an unknown format");
  }
  if (!r.get(m.id) || !r.get(n)) return bad();
  for (uint32_t i = 0; i < n; ++i) {
    Marker::Topic t;
    uint32_t parts = 0;
    if (!r.get_string(t.ns) || !r.get_string(t.name) || !r.get(parts)) return bad();
    t.end.resize(parts);
    for (int64_t& e : t.end) {
      if (!r.get(e)) return bad();
    }
    m.topics.push_back(std::move(t));
  }
  if (!r.get(n)) return bad();
  for (uint32_t i = 0; i < n; ++i) {
    std::string ns, key, value;
    if (!r.get_string(ns) || !r.get_string(key) || !r.get_string(value)) return bad();
    m.carried[{ns, key}] = value;
  }
  return Status::ok();
}

// One record read back: value nullopt = tombstone.
using ReadFn = std::function<void(TopicState& t, int32_t partition, int64_t offset,
                                  std::string_view key, const std::string_view* value)>;

}  // namespace

std::string changelog_topic(const std::string& application, std::string_view ns) {
  std::string name = application + "-";
  for (char c : ns) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    name.push_back(ok ? c : '.');
  }
  return name + "-changelog";
}

std::string changelog_marker_topic(const std::string& application) {
  return application + "-changelog-checkpoints";
}

ChangelogOptions changelog_options(const Config& cfg, const std::string& default_application) {
  ChangelogOptions o;
  o.enabled = cfg.get_bool("state.changelog.enabled", false);
  o.application = cfg.get_string("state.changelog.application", default_application);
  o.partitions = static_cast<int>(cfg.get_int("state.changelog.partitions", 1, 1, 1024));
  o.replication = static_cast<int>(cfg.get_int("state.changelog.replication", -1, -1, 32));
  if (o.replication == 0) {
    throw ConfigError("state.changelog.replication", "must be -1 (broker default) or 1..32",
                      "use e.g. 3 on a production cluster");
  }
  o.min_compaction_lag_ms =
      cfg.get_duration_ms("state.changelog.min_compaction_lag", 24LL * 3600 * 1000);
  o.timeout_ms = cfg.get_duration_ms("state.changelog.timeout", 60000);
  if (o.timeout_ms < 1000) {
    throw ConfigError("state.changelog.timeout", "must be at least 1s", "e.g. 60s");
  }
  if (!o.enabled) return o;
  if (!cfg.has("kafka.brokers")) {
    throw ConfigError("state.changelog.enabled", "needs Kafka brokers: kafka.brokers is not set",
                      "set kafka.brokers (the changelog topics live on the Kafka cluster), or "
                      "set state.changelog.enabled: false");
  }
  if (o.application.empty()) {
    throw ConfigError("state.changelog.application", "is empty",
                      "name the application, e.g. shelfwatch-eu (topic prefix)");
  }
  for (kafka::Property& p : kafka::client_properties(cfg, kafka::ClientRole::kProducer)) {
    // The source's and the sink's own properties are theirs, not the changelog's.
    if (p.source_key.rfind("source.", 0) == 0 || p.source_key.rfind("sinks.", 0) == 0) continue;
    o.properties.push_back(std::move(p));
  }
  kafka::check_properties(o.properties);
  return o;
}

struct ChangelogStore::Impl {
  ChangelogOptions opt;
  std::unique_ptr<StateStore> local;
  kafka::HandlePtr producer;
  std::mutex mu;
  std::vector<std::unique_ptr<TopicState>> topics;
  std::unordered_map<std::string, TopicState*> by_ns;
  std::unordered_map<std::string, TopicState*> by_name;
  std::map<std::pair<std::string, std::string>, std::string> carried;
  uint64_t id = 0;  // last checkpoint the changelog holds completely
  bool dirty = false;
  Start start = Start::kLocal;
  std::string start_message;
  std::string marker_topic;
  // Delivery reports (run on the thread that polls/flushes: commit's, under mu).
  Status dr_status = Status::ok();
  std::string value_buf;
  std::string key_buf;
  // Test hook (SHELFWATCH_CHANGELOG_TEST_KILL=<commit>:mid|after): SIGKILL inside the n-th
  // commit of this process, after half of its records were acknowledged, or after its
  // marker and local record.
  uint64_t kill_commit = 0;
  bool kill_mid = false;
  uint64_t commits = 0;

  std::shared_ptr<Probe> probe_holder;
  Probe& probe;
  Probe::Gauge* restore_records;
  Probe::Gauge* restore_bytes;
  Probe::Gauge* restore_seconds;
  Probe::Gauge* restoring;
  Probe::Gauge* lag_records;
  Probe::Gauge* checkpoint_id;
  Probe::Counter* published_records;
  Probe::Counter* published_bytes;
  Probe::Counter* republished_records;

  explicit Impl(std::shared_ptr<Probe> p = nullptr)
      : probe_holder(p ? std::move(p) : std::make_shared<Probe>()), probe(*probe_holder) {
    restore_records = &probe.gauge("changelog_restore_records",
                                   "Changelog records applied by the last restore at start-up.");
    restore_bytes = &probe.gauge("changelog_restore_bytes",
                                 "Key and value bytes applied by the last changelog restore.");
    restore_seconds =
        &probe.gauge("changelog_restore_seconds", "Duration of the last changelog restore.");
    restoring =
        &probe.gauge("changelog_restoring", "1 while the state restores from the changelog.");
    lag_records = &probe.gauge(
        "changelog_lag_records",
        "Records of the local state not yet in a complete changelog checkpoint (in flight).");
    checkpoint_id =
        &probe.gauge("changelog_checkpoint", "Id of the last complete changelog checkpoint.");
    published_records =
        &probe.counter("changelog_records_total", "Records produced to the changelog topics.");
    published_bytes = &probe.counter("changelog_bytes_total",
                                     "Key and value bytes produced to the changelog topics.");
    republished_records = &probe.counter(
        "changelog_republished_records_total",
        "Records produced at start-up to bring the changelog level with the local state.");
    restore_records->set(0);
    restore_bytes->set(0);
    restore_seconds->set(0);
    restoring->set(0);
    lag_records->set(0);
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (self->dr_status.is_ok()) {
        self->dr_status = Status::unavailable(std::string("changelog: a record to ") +
                                              rd_kafka_topic_name(m->rkt) +
                                              " was not acknowledged: " + rd_kafka_err2str(m->err));
      }
      return;
    }
    auto* t = static_cast<TopicState*>(m->_private);
    if (t != nullptr && m->partition >= 0 && static_cast<size_t>(m->partition) < t->end.size()) {
      if (m->offset >= 0) {
        t->end[m->partition] = std::max(t->end[m->partition], m->offset + 1);
      } else {
        t->unknown_end.push_back(m->partition);
      }
    }
  }

  kafka::ConfPtr conf(bool consumer) const {
    std::vector<kafka::Property> props;
    for (const auto& [name, value] : kafka::default_properties(
             consumer ? kafka::ClientRole::kConsumer : kafka::ClientRole::kProducer)) {
      props.push_back({name, value, ""});
    }
    for (const kafka::Property& p : opt.properties) {
      if (p.source_key.empty()) continue;  // the other role's defaults
      props.push_back(p);
    }
    if (consumer) {
      props.push_back({"group.id", opt.application + "-changelog-restore", ""});
      props.push_back({"enable.partition.eof", "true", ""});
      props.push_back({"auto.offset.reset", "earliest", ""});
    } else {
      props.push_back({"linger.ms", "5", ""});
    }
    // Topics are created through the admin API (compacted), never by a metadata lookup with
    // the broker's defaults (a broker with auto.create.topics.enable would make them
    // cleanup.policy=delete).
    props.push_back({"allow.auto.create.topics", "false", ""});
    return kafka::make_conf(props);
  }

  Status connect() {
    kafka::ConfPtr c = conf(false);
    rd_kafka_conf_set_opaque(c.get(), this);
    rd_kafka_conf_set_dr_msg_cb(c.get(), &Impl::on_delivery);
    try {
      producer = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(c));
    } catch (const std::exception& e) {
      return Status::unavailable(std::string("changelog producer: ") + e.what());
    }
    marker_topic = changelog_marker_topic(opt.application);
    return Status::ok();
  }

  // Creates the topic compacted when it is missing (the admin API; a broker without it, such
  // as the development broker, creates it on first use with its default partition count).
  Status create_topic(const std::string& name, int partitions) {
    char err[256];
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(name.c_str(), partitions, opt.replication, err, sizeof err);
    if (nt == nullptr) return Status::invalid("changelog topic " + name + ": " + err);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    std::string lag = std::to_string(opt.min_compaction_lag_ms);
    rd_kafka_NewTopic_set_config(nt, "min.compaction.lag.ms", lag.c_str());
    kafka::QueuePtr q(rd_kafka_queue_new(producer.get()));
    rd_kafka_AdminOptions_t* ao =
        rd_kafka_AdminOptions_new(producer.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(
        ao, static_cast<int>(std::min<int64_t>(opt.timeout_ms, 30000)), err, sizeof err);
    rd_kafka_CreateTopics(producer.get(), &nt, 1, ao, q.get());
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q.get(), static_cast<int>(opt.timeout_ms));
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    if (ev == nullptr) return Status::ok();  // creation unknown: metadata decides below
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    if (res != nullptr) {
      size_t n = 0;
      const rd_kafka_topic_result_t** r = rd_kafka_CreateTopics_result_topics(res, &n);
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          std::fprintf(stderr,
                       "shelfwatch: changelog topic %s not created by the admin API (%s); "
                       "the broker's auto-creation applies (check cleanup.policy=compact)\n",
                       name.c_str(), rd_kafka_err2str(e));
        }
      }
    }
    rd_kafka_event_destroy(ev);
    return Status::ok();
  }

  Result<int64_t> high_watermark(const std::string& topic, int32_t p, int64_t* low = nullptr) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(producer.get(), topic.c_str(), p, &lo,
                                                             &hi, static_cast<int>(opt.timeout_ms));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::unavailable("changelog: end offset of " + topic + "/" + std::to_string(p) +
                                 ": " + rd_kafka_err2str(e));
    }
    if (low != nullptr) *low = lo;
    return hi;
  }

  // The topic state of `name` (created when `create`), with its current end offsets.
  Result<TopicState*> topic(const std::string& ns, const std::string& name, bool create) {
    if (auto it = by_name.find(name); it != by_name.end()) {
      TopicState* t = it->second;
      if (!ns.empty() && t->ns.empty()) {
        t->ns = ns;
        by_ns[ns] = t;
      } else if (!ns.empty() && t->ns != ns) {
        return Status::invalid("state namespaces '" + t->ns + "' and '" + ns +
                               "' map to the same changelog topic " + name);
      }
      return t;
    }
    auto count = kafka::partition_count(producer.get(), name, static_cast<int>(opt.timeout_ms));
    if (!count.is_ok() && create) {
      SW_RETURN_IF_ERROR(create_topic(name, opt.partitions));
      // A new topic's metadata can take a moment to reach every broker.
      for (int attempt = 0; attempt < 50; ++attempt) {
        count = kafka::partition_count(producer.get(), name, static_cast<int>(opt.timeout_ms));
        if (count.is_ok()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    if (!count.is_ok()) return Status::unavailable("changelog: " + count.status().message());
    auto t = std::make_unique<TopicState>();
    t->ns = ns;
    t->name = name;
    t->partitions = count.value();
    t->end.assign(static_cast<size_t>(t->partitions), 0);
    for (int32_t p = 0; p < t->partitions; ++p) {
      auto hi = high_watermark(name, p);
      if (!hi.is_ok()) return hi.status();
      t->end[p] = hi.value();
    }
    TopicState* raw = t.get();
    topics.push_back(std::move(t));
    by_name[name] = raw;
    if (!ns.empty()) by_ns[ns] = raw;
    return raw;
  }

  Result<TopicState*> topic_of_ns(std::string_view ns) {
    if (auto it = by_ns.find(std::string(ns)); it != by_ns.end()) return it->second;
    return topic(std::string(ns), changelog_topic(opt.application, ns), true);
  }

  // Partition: murmur2 of the record key over the topic's partitions (`partition` < 0), so a
  // key always lands on the same partition and its versions stay in order.
  Status produce(TopicState& t, std::string_view key, const std::string_view* value,
                 int32_t partition = -1) {
    key_buf.assign("k");
    key_buf.append(key);
    const int32_t p = partition >= 0      ? partition
                      : t.partitions == 1 ? 0
                                          : kafka::murmur2_partition(key_buf, t.partitions);
    const void* payload = nullptr;
    size_t len = 0;
    if (value != nullptr) {
      value_buf.assign("v");
      value_buf.append(*value);
      payload = value_buf.data();
      len = value_buf.size();
    }
    for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(t.name.c_str()), RD_KAFKA_V_PARTITION(p),
          RD_KAFKA_V_KEY(key_buf.data(), key_buf.size()),
          RD_KAFKA_V_VALUE(const_cast<void*>(payload), len),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&t), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer.get(), 10);
        continue;
      }
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Status::unavailable("changelog: producing to " + t.name + ": " +
                                   rd_kafka_err2str(e));
      }
      break;
    }
    published_records->add();
    published_bytes->add(key.size() + (value ? value->size() : 0));
    rd_kafka_poll(producer.get(), 0);
    return Status::ok();
  }

  Status flush() {
    rd_kafka_resp_err_t e = rd_kafka_flush(producer.get(), static_cast<int>(opt.timeout_ms));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::unavailable(std::string("changelog: records not acknowledged within ") +
                                 std::to_string(opt.timeout_ms) + " ms (" + rd_kafka_err2str(e) +
                                 ")");
    }
    Status s = dr_status;
    dr_status = Status::ok();
    return s;
  }

  Status write_local(LocalRecord r) {
    StateBatch b;
    b.put(kLocalNs, kStateKey, encode_local(r));
    return local->commit(b);
  }

  // The marker of checkpoint `next_id` over every topic's acknowledged end, then the local
  // record "clean next_id".
  Status publish_marker(uint64_t next_id) {
    SW_RETURN_IF_ERROR(flush());
    for (const auto& t : topics) {
      for (int32_t p : t->unknown_end) {
        auto hi = high_watermark(t->name, p);  // acknowledged, so at or below the end now
        if (!hi.is_ok()) return hi.status();
        t->end[p] = std::max(t->end[p], hi.value());
      }
      t->unknown_end.clear();
    }
    Marker m;
    m.id = next_id;
    for (const auto& t : topics) {
      if (t->ns.empty()) continue;
      m.topics.push_back({t->ns, t->name, t->end});
    }
    m.carried = carried;
    auto mt = topic("", marker_topic, true);
    if (!mt.is_ok()) return mt.status();
    std::string v = encode_marker(m);
    std::string_view view(v);
    // The marker topic's record key is fixed; its own end offsets are not tracked.
    SW_RETURN_IF_ERROR(produce(*mt.value(), kMarkerKey.substr(1), &view, 0));
    SW_RETURN_IF_ERROR(flush());
    SW_RETURN_IF_ERROR(write_local({next_id, false}));
    id = next_id;
    dirty = false;
    checkpoint_id->set(static_cast<double>(id));
    lag_records->set(0);
    return Status::ok();
  }

  // The last marker, nullopt when the marker topic is absent or empty.
  Result<std::optional<Marker>> read_marker() {
    auto count =
        kafka::partition_count(producer.get(), marker_topic, static_cast<int>(opt.timeout_ms));
    if (!count.is_ok()) return std::optional<Marker>();
    int64_t lo = 0;
    auto hi = high_watermark(marker_topic, 0, &lo);
    if (!hi.is_ok()) return hi.status();
    if (hi.value() <= lo) return std::optional<Marker>();
    std::optional<Marker> last;
    Status bad = Status::ok();
    TopicState mt;
    mt.name = marker_topic;
    mt.partitions = 1;
    mt.end = {hi.value()};
    // Compaction keeps the last record; reading from hi - 1 normally finds it at once.
    for (int64_t from : {hi.value() - 1, lo}) {
      std::vector<std::pair<int32_t, int64_t>> parts = {{0, from}};
      Status s = read({{&mt, parts}}, [&](TopicState&, int32_t, int64_t, std::string_view,
                                          const std::string_view* value) {
        if (value == nullptr) return;
        Marker m;
        Status d = decode_marker(*value, m);
        if (!d.is_ok()) {
          bad = d;
          return;
        }
        last = std::move(m);
      });
      SW_RETURN_IF_ERROR(s);
      SW_RETURN_IF_ERROR(bad);
      if (last) break;
    }
    return last;
  }

  // Reads each listed partition from its start offset to its end (t.end[p], fixed by the
  // caller) and calls fn per record (key and value without their one-byte prefixes).
  Status read(
      const std::vector<std::pair<TopicState*, std::vector<std::pair<int32_t, int64_t>>>>& what,
      const ReadFn& fn) {
    kafka::HandlePtr consumer;
    try {
      consumer = kafka::make_handle(RD_KAFKA_CONSUMER, conf(true));
    } catch (const std::exception& e) {
      return Status::unavailable(std::string("changelog consumer: ") + e.what());
    }
    rd_kafka_poll_set_consumer(consumer.get());
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(4));
    std::map<std::pair<std::string, int32_t>, std::pair<int64_t, int64_t>> pending;  // pos, end
    std::map<std::string, TopicState*> states;
    for (const auto& [t, parts] : what) {
      states[t->name] = t;
      for (const auto& [p, from] : parts) {
        int64_t end = t->end[p];
        if (from >= end) continue;
        rd_kafka_topic_partition_list_add(list.get(), t->name.c_str(), p)->offset = from;
        pending[{t->name, p}] = {from, end};
      }
    }
    if (pending.empty()) return Status::ok();
    rd_kafka_resp_err_t e = rd_kafka_assign(consumer.get(), list.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::unavailable(std::string("changelog: assign: ") + rd_kafka_err2str(e));
    }
    auto last_progress = std::chrono::steady_clock::now();
    Status status = Status::ok();
    while (!pending.empty()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
      if (m == nullptr) {
        if (seconds_since(last_progress) * 1000 > static_cast<double>(opt.timeout_ms)) {
          status = Status::unavailable("changelog: reading " + pending.begin()->first.first +
                                       " made no progress for " + std::to_string(opt.timeout_ms) +
                                       " ms");
          break;
        }
        continue;
      }
      last_progress = std::chrono::steady_clock::now();
      std::string name = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
      auto it = pending.find({name, m->partition});
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (it != pending.end() && m->offset >= it->second.second) pending.erase(it);
        rd_kafka_message_destroy(m);
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status =
            Status::unavailable("changelog: reading " + name + ": " + rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        break;
      }
      if (it != pending.end() && m->offset < it->second.second) {
        std::string_view key(static_cast<const char*>(m->key), m->key_len);
        if (!key.empty()) key.remove_prefix(1);
        if (m->payload == nullptr) {
          fn(*states[name], m->partition, m->offset, key, nullptr);
        } else {
          std::string_view value(static_cast<const char*>(m->payload), m->len);
          value.remove_prefix(std::min<size_t>(1, value.size()));
          fn(*states[name], m->partition, m->offset, key, &value);
        }
        if (m->offset + 1 >= it->second.second) pending.erase(it);
      } else if (it != pending.end()) {
        pending.erase(it);
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer.get());
    return status;
  }

  // Every changelog topic of this application the cluster has (namespace topics).
  Result<std::vector<std::string>> list_topics() {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(producer.get(), 1, nullptr, &md, static_cast<int>(opt.timeout_ms));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::unavailable(std::string("changelog: cluster metadata: ") +
                                 rd_kafka_err2str(e));
    }
    std::vector<std::string> out;
    const std::string prefix = opt.application + "-";
    const std::string suffix = "-changelog";
    for (int i = 0; i < md->topic_cnt; ++i) {
      std::string name = md->topics[i].topic;
      if (name.size() > prefix.size() + suffix.size() && name.rfind(prefix, 0) == 0 &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.push_back(name);
      }
    }
    rd_kafka_metadata_destroy(md);
    std::sort(out.begin(), out.end());
    return out;
  }

  Status open();
  Status restore(const Marker& m, bool wipe);
  Status republish(const std::optional<Marker>& m);
  Status publish(const StateBatch& batch);
};

// Reads the local record and the last marker, registers the marker's topics with their
// namespaces, and decides: local, restore or republish (the table in docs/changelog.md).
Status ChangelogStore::Impl::open() {
  SW_RETURN_IF_ERROR(connect());
  if (const char* k = std::getenv("SHELFWATCH_CHANGELOG_TEST_KILL")) {
    std::string spec(k);
    size_t colon = spec.find(':');
    kill_commit = std::strtoull(spec.c_str(), nullptr, 10);
    kill_mid = colon != std::string::npos && spec.substr(colon + 1) == "mid";
  }
  auto rec = local->get(kLocalNs, kStateKey);
  if (!rec.is_ok()) return rec.status();
  std::optional<LocalRecord> lr;
  if (rec.value()) {
    ByteReader r(*rec.value());
    LocalRecord x;
    uint8_t d = 0;
    if (!r.get(x.id) || !r.get(d)) return Status::corruption("changelog local record truncated");
    x.dirty = d != 0;
    lr = x;
  }
  auto marker = read_marker();
  if (!marker.is_ok()) return marker.status();
  const std::optional<Marker>& m = marker.value();
  if (m) {
    carried = m->carried;
    for (const Marker::Topic& mt : m->topics) {
      auto t = topic(mt.ns, mt.name, false);
      if (!t.is_ok()) return t.status();
      if (t.value()->partitions != static_cast<int32_t>(mt.end.size())) {
        return Status::invalid(
            "changelog topic " + mt.name + " has " + std::to_string(t.value()->partitions) +
            " partitions but its checkpoint was written with " + std::to_string(mt.end.size()) +
            "; a changelog topic's partition count must not change");
      }
    }
    checkpoint_id->set(static_cast<double>(m->id));
  }
  const bool local_clean_equal = lr && m && !lr->dirty && lr->id == m->id;
  if (local_clean_equal) {
    id = m->id;
    start = Start::kLocal;
    start_message = "state: local, changelog checkpoint " + std::to_string(id);
    return Status::ok();
  }
  if (m && (!lr || (!lr->dirty && lr->id < m->id))) {
    // A local state without a record (written with the changelog off) is replaced as well.
    return restore(*m, true);
  }
  return republish(m);
}

Status ChangelogStore::Impl::restore(const Marker& m, bool wipe) {
  auto started = std::chrono::steady_clock::now();
  restoring->set(1);
  restore_records->set(0);
  restore_bytes->set(0);
  restore_seconds->set(0);
  StateBatch b;
  if (wipe) {
    // The local state is older than the changelog: replaced, not merged.
    std::set<std::string> namespaces;
    SW_RETURN_IF_ERROR(
        local->scan_all([&](std::string_view ns, std::string_view, std::string_view) {
          namespaces.emplace(ns);
          return true;
        }));
    for (const std::string& ns : namespaces) {
      if (ns != kLocalNs) b.remove_prefix(ns);
    }
  }
  // The marker's end offsets per partition; the topics' ends are now their high watermarks.
  std::unordered_map<std::string, std::vector<int64_t>> marker_end;
  for (const Marker::Topic& t : m.topics) marker_end[t.name] = t.end;
  std::vector<std::pair<TopicState*, std::vector<std::pair<int32_t, int64_t>>>> what;
  for (const auto& t : topics) {
    std::vector<std::pair<int32_t, int64_t>> parts;
    for (int32_t p = 0; p < t->partitions; ++p) {
      int64_t lo = 0;
      auto hi = high_watermark(t->name, p, &lo);
      if (!hi.is_ok()) return hi.status();
      t->end[p] = hi.value();
      // Read at least to the marker's end: a high watermark can lag the acknowledged end
      // (seen on the development broker right after a commit), and stopping there would
      // restore a key from an older record than the marker's checkpoint holds.
      if (auto me = marker_end.find(t->name);
          me != marker_end.end() && static_cast<size_t>(p) < me->second.size()) {
        t->end[p] = std::max(t->end[p], me->second[p]);
      }
      // Compaction never moves a partition's log start; retention or DeleteRecords do, and
      // then the records before it are gone: the state cannot be rebuilt.
      if (lo > 0) {
        return Status::corruption(
            "changelog topic " + t->name + " partition " + std::to_string(p) +
            " starts at offset " + std::to_string(lo) +
            ": earlier records were deleted (retention instead of cleanup.policy=compact, "
            "DeleteRecords, or the development broker's ~5 MB per partition), so the state "
            "cannot be restored from it; create the changelog topics compacted, with more "
            "partitions");
      }
      parts.push_back({p, lo});
    }
    what.push_back({t.get(), parts});
  }
  // Topics of this application no marker names hold only incomplete checkpoints.
  auto listed = list_topics();
  if (!listed.is_ok()) return listed.status();
  for (const std::string& name : listed.value()) {
    if (by_name.count(name)) continue;
    auto t = topic("", name, false);
    if (!t.is_ok()) return t.status();
    std::vector<std::pair<int32_t, int64_t>> parts;
    for (int32_t p = 0; p < t.value()->partitions; ++p) parts.push_back({p, 0});
    what.push_back({t.value(), parts});
  }
  uint64_t records = 0, bytes = 0;
  Status apply_status = Status::ok();
  std::unordered_set<std::string> tail_seen;
  std::vector<std::pair<TopicState*, std::string>> tail;
  SW_RETURN_IF_ERROR(read(what, [&](TopicState& t, int32_t p, int64_t offset, std::string_view key,
                                    const std::string_view* value) {
    auto me = marker_end.find(t.name);
    const bool complete = me != marker_end.end() && offset < me->second[p];
    if (!complete) {
      std::string id_key = t.name + '\0' + std::string(key);
      if (tail_seen.insert(id_key).second) tail.push_back({&t, std::string(key)});
      return;
    }
    if (!apply_status.is_ok()) return;
    if (value != nullptr) {
      b.put(t.ns, key, *value);
      bytes += key.size() + value->size();
    } else {
      b.remove(t.ns, key);
      bytes += key.size();
    }
    ++records;
    if (b.size() >= 100000 || b.bytes() >= (64u << 20)) {
      apply_status = local->commit(b);
      b.clear();
    }
    if (records % 1024 == 0) {  // progress, live on /metrics and /readyz while restoring
      restore_records->set(static_cast<double>(records));
      restore_bytes->set(static_cast<double>(bytes));
      restore_seconds->set(seconds_since(started));
    }
  }));
  SW_RETURN_IF_ERROR(apply_status);
  restore_records->set(static_cast<double>(records));
  restore_bytes->set(static_cast<double>(bytes));
  restore_seconds->set(seconds_since(started));
  // Test hook (SHELFWATCH_CHANGELOG_TEST_RESTORE_PAUSE_MS=<ms>): the restore pauses after
  // reading the changelog, before applying its last batch, so that a test can watch /readyz
  // and /metrics during a restore of a small state (tests/e2e/kafka_changelog_e2e.sh).
  if (const char* pause = std::getenv("SHELFWATCH_CHANGELOG_TEST_RESTORE_PAUSE_MS")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::strtoll(pause, nullptr, 10)));
  }
  SW_RETURN_IF_ERROR(local->commit(b));
  // The restored positions and output high-water marks are the marker's.
  for (const auto& [k, value] : m.carried) {
    auto got = local->get(k.first, k.second);
    if (!got.is_ok()) return got.status();
    if (!got.value() || *got.value() != value) {
      return Status::corruption(
          "changelog restore: '" + k.first + "/" + k.second +
          "' does not match the checkpoint marker (the changelog lost records: a topic "
          "deleted, retention instead of compaction, or the development broker's 5 MB per "
          "partition exceeded; raise state.changelog.partitions)");
    }
  }
  // The incomplete checkpoint's keys: their latest changelog values are not the restored
  // ones, and compaction may drop the restored ones in their favour. Republished now,
  // before the next marker.
  for (auto& [t, key] : tail) {
    if (t->ns.empty()) {
      SW_RETURN_IF_ERROR(produce(*t, key, nullptr));
      continue;
    }
    auto v = local->get(t->ns, key);
    if (!v.is_ok()) return v.status();
    if (v.value()) {
      std::string_view view(*v.value());
      SW_RETURN_IF_ERROR(produce(*t, key, &view));
    } else {
      SW_RETURN_IF_ERROR(produce(*t, key, nullptr));
    }
    republished_records->add();
  }
  SW_RETURN_IF_ERROR(publish_marker(m.id + 1));
  const double secs = seconds_since(started);
  restore_records->set(static_cast<double>(records));
  restore_bytes->set(static_cast<double>(bytes));
  restore_seconds->set(secs);
  restoring->set(0);
  start = Start::kRestored;
  char line[256];
  std::snprintf(line, sizeof line,
                "state: restored from the changelog (checkpoint %llu): %llu records, %.1f MB "
                "in %.2f s; %zu keys of an incomplete checkpoint republished",
                static_cast<unsigned long long>(m.id), static_cast<unsigned long long>(records),
                static_cast<double>(bytes) / 1e6, secs, tail.size());
  start_message = line;
  return Status::ok();
}

Status ChangelogStore::Impl::republish(const std::optional<Marker>& m) {
  // Every key the changelog holds, live or not, by topic.
  std::vector<std::pair<TopicState*, std::vector<std::pair<int32_t, int64_t>>>> what;
  auto listed = list_topics();
  if (!listed.is_ok()) return listed.status();
  for (const std::string& name : listed.value()) {
    auto t = topic("", name, false);
    if (!t.is_ok()) return t.status();
    std::vector<std::pair<int32_t, int64_t>> parts;
    for (int32_t p = 0; p < t.value()->partitions; ++p) parts.push_back({p, 0});
    what.push_back({t.value(), parts});
  }
  std::unordered_map<std::string, std::pair<TopicState*, bool>> live;  // name\0key
  SW_RETURN_IF_ERROR(read(what, [&](TopicState& t, int32_t, int64_t, std::string_view key,
                                    const std::string_view* value) {
    live[t.name + '\0' + std::string(key)] = {&t, value != nullptr};
  }));
  uint64_t n = 0;
  Status s = Status::ok();
  carried.clear();
  SW_RETURN_IF_ERROR(
      local->scan_all([&](std::string_view ns, std::string_view key, std::string_view value) {
        if (ns == kLocalNs) return true;
        auto t = topic_of_ns(ns);
        if (!t.is_ok()) {
          s = t.status();
          return false;
        }
        if (carried_ns(ns)) carried[{std::string(ns), std::string(key)}] = std::string(value);
        live.erase(t.value()->name + '\0' + std::string(key));
        s = produce(*t.value(), key, &value);
        ++n;
        return s.is_ok();
      }));
  SW_RETURN_IF_ERROR(s);
  for (const auto& [k, v] : live) {
    if (!v.second) continue;
    SW_RETURN_IF_ERROR(produce(*v.first, std::string_view(k).substr(k.find('\0') + 1), nullptr));
    ++n;
  }
  republished_records->add(n);
  const uint64_t next = m ? m->id + 1 : 1;
  SW_RETURN_IF_ERROR(publish_marker(next));
  start = Start::kRepublished;
  start_message = "state: local; the changelog did not hold it completely, " + std::to_string(n) +
                  " records republished (checkpoint " + std::to_string(next) + ")";
  return Status::ok();
}

Status ChangelogStore::Impl::publish(const StateBatch& batch) {
  ++commits;
  if (!dirty) {
    SW_RETURN_IF_ERROR(write_local({id, true}));
    dirty = true;
  }
  // A remove_prefix becomes tombstones of the keys the namespace holds before the batch and
  // of those the batch put before it, except keys the batch writes again after it.
  std::vector<std::vector<std::string>> cleared(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    StateBatch::OpView op = batch.op(i);
    if (op.kind != StateBatch::OpKind::kRemovePrefix) continue;
    std::unordered_set<std::string_view> later;
    for (size_t j = i + 1; j < batch.size(); ++j) {
      StateBatch::OpView o = batch.op(j);
      if (o.ns == op.ns && o.kind != StateBatch::OpKind::kRemovePrefix) later.insert(o.key);
    }
    std::unordered_set<std::string> seen;
    auto add = [&](std::string_view key) {
      if (!later.count(key) && seen.emplace(key).second) cleared[i].emplace_back(key);
    };
    SW_RETURN_IF_ERROR(local->scan_prefix(op.ns, "", [&](std::string_view key, std::string_view) {
      add(key);
      return true;
    }));
    for (size_t j = 0; j < i; ++j) {
      StateBatch::OpView o = batch.op(j);
      if (o.ns == op.ns && o.kind == StateBatch::OpKind::kPut) add(o.key);
    }
  }
  SW_RETURN_IF_ERROR(local->commit(batch));
  lag_records->set(static_cast<double>(batch.size()));
  const size_t half = batch.size() / 2;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (kill_commit == commits && kill_mid && i == half) {
      (void)flush();
      std::fprintf(stderr, "shelfwatch: SHELFWATCH_CHANGELOG_TEST_KILL: killed mid-checkpoint\n");
      ::raise(SIGKILL);
    }
    StateBatch::OpView op = batch.op(i);
    if (op.ns == kLocalNs) continue;
    auto t = topic_of_ns(op.ns);
    if (!t.is_ok()) return t.status();
    switch (op.kind) {
      case StateBatch::OpKind::kPut:
        if (carried_ns(op.ns)) carried[{std::string(op.ns), std::string(op.key)}] = op.value;
        SW_RETURN_IF_ERROR(produce(*t.value(), op.key, &op.value));
        break;
      case StateBatch::OpKind::kRemove:
        if (carried_ns(op.ns)) carried.erase({std::string(op.ns), std::string(op.key)});
        SW_RETURN_IF_ERROR(produce(*t.value(), op.key, nullptr));
        break;
      case StateBatch::OpKind::kRemovePrefix:
        for (const std::string& key : cleared[i]) {
          if (carried_ns(op.ns)) carried.erase({std::string(op.ns), key});
          SW_RETURN_IF_ERROR(produce(*t.value(), key, nullptr));
        }
        break;
    }
  }
  SW_RETURN_IF_ERROR(publish_marker(id + 1));
  if (kill_commit == commits && !kill_mid) {
    std::fprintf(stderr, "shelfwatch: SHELFWATCH_CHANGELOG_TEST_KILL: killed after a checkpoint\n");
    ::raise(SIGKILL);
  }
  return Status::ok();
}

ChangelogStore::ChangelogStore() : impl_(std::make_unique<Impl>()) {}

ChangelogStore::~ChangelogStore() {
  if (impl_->producer) rd_kafka_flush(impl_->producer.get(), 5000);
}

Result<std::unique_ptr<ChangelogStore>> ChangelogStore::open(ChangelogOptions options,
                                                             std::unique_ptr<StateStore> local) {
  std::unique_ptr<ChangelogStore> s(new ChangelogStore());
  if (options.probe) s->impl_ = std::make_unique<Impl>(options.probe);
  s->impl_->opt = std::move(options);
  s->impl_->local = std::move(local);
  Status st = s->impl_->open();
  if (!st.is_ok()) return st;
  return s;
}

Result<std::optional<std::string>> ChangelogStore::get(std::string_view ns,
                                                       std::string_view key) const {
  return impl_->local->get(ns, key);
}

Status ChangelogStore::scan_prefix(
    std::string_view ns, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return impl_->local->scan_prefix(ns, prefix, fn);
}

Status ChangelogStore::scan_all(
    const std::function<bool(std::string_view, std::string_view, std::string_view)>& fn) const {
  return impl_->local->scan_all([&](std::string_view ns, std::string_view k, std::string_view v) {
    return ns == kLocalNs ? true : fn(ns, k, v);
  });
}

Status ChangelogStore::commit(const StateBatch& batch) {
  std::lock_guard lk(impl_->mu);
  return impl_->publish(batch);
}

StateStore& ChangelogStore::local() const {
  return *impl_->local;
}

ChangelogStore::Start ChangelogStore::start() const {
  return impl_->start;
}

const std::string& ChangelogStore::start_message() const {
  return impl_->start_message;
}

Probe* ChangelogStore::probe() {
  return &impl_->probe;
}

Result<std::string> ChangelogStore::describe(const ChangelogOptions& options,
                                             const StateStore* local) {
  Impl impl;
  impl.opt = options;
  SW_RETURN_IF_ERROR(impl.connect());
  auto marker = impl.read_marker();
  if (!marker.is_ok()) return marker.status();
  std::string out;
  JsonWriter w(out);
  w.begin_object().field("application", options.application);
  w.field("marker_topic", impl.marker_topic);
  if (local != nullptr) {
    auto rec = local->get(kLocalNs, kStateKey);
    if (!rec.is_ok()) return rec.status();
    w.key("local_checkpoint");
    LocalRecord x;
    uint8_t d = 0;
    if (rec.value()) {
      ByteReader r(*rec.value());
      if (!r.get(x.id) || !r.get(d)) return Status::corruption("changelog local record truncated");
      w.begin_object().field("id", x.id).field("dirty", d != 0).end_object();
    } else {
      w.null();
    }
  }
  w.key("last_complete_checkpoint");
  if (!marker.value()) {
    w.null();
    w.end_object();
    return out;
  }
  const Marker& m = *marker.value();
  w.value(m.id);
  int64_t total_lag = 0;
  w.key("topics").begin_array();
  for (const Marker::Topic& t : m.topics) {
    int64_t records = 0, lag = 0;
    for (size_t p = 0; p < t.end.size(); ++p) {
      int64_t lo = 0;
      auto hi = impl.high_watermark(t.name, static_cast<int32_t>(p), &lo);
      if (!hi.is_ok()) return hi.status();
      records += t.end[p] - lo;
      lag += hi.value() - t.end[p];
    }
    total_lag += lag;
    w.begin_object()
        .field("topic", t.name)
        .field("namespace", t.ns)
        .field("partitions", static_cast<int64_t>(t.end.size()))
        .field("records", records)
        .field("after_checkpoint", lag)
        .end_object();
  }
  w.end_array();
  // Records past the last marker: an incomplete checkpoint (republished at the next start).
  w.field("lag_records", total_lag);
  w.key("output_high_water_marks").begin_object();
  for (const auto& [k, value] : m.carried) {
    if (k.first == "sink/file" && value.size() == sizeof(int64_t)) {
      int64_t len = 0;
      std::memcpy(&len, value.data(), sizeof len);
      w.field(k.second + ".jsonl", len);
    }
  }
  w.end_object().end_object();
  return out;
}

}  // namespace sw
