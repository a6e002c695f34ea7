#include "connectors/kafka_sink.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "connectors/kafka_common.h"
#include "stream/json_writer.h"

namespace sw {

namespace {

constexpr int kMetadataTimeoutMs = 5000;
constexpr int64_t kRecoverTimeoutMs = 120000;
constexpr const char* kNextIdKey = "next_outbox_id";

std::string be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

uint64_t from_be64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

template <typename T>
void put_int(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}
void put_str(std::string& out, std::string_view s) {
  put_int<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  template <typename T>
  T get_int() {
    T v{};
    if (in.size() < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return v;
  }
  std::string get_str() {
    uint32_t n = get_int<uint32_t>();
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

bool parse_i64(std::string_view s, int64_t& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// A record staged for production (copied out of the task's span).
struct Pending {
  uint64_t outbox_id = 0;  // 0: not in the outbox (at_least_once)
  uint32_t topic = 0;
  int32_t partition = -1;
  uint8_t stream = 0;
  uint32_t origin = 0;
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string key, id, type, json;
};

constexpr uint8_t kOutboxVersion = 1;

std::string encode_outbox(const Pending& p, const std::string& topic) {
  std::string out;
  out.reserve(64 + p.key.size() + p.id.size() + p.type.size() + p.json.size() + topic.size());
  put_int<uint8_t>(out, kOutboxVersion);
  put_int<uint8_t>(out, p.stream);
  put_int<uint32_t>(out, p.origin);
  put_int<uint64_t>(out, p.seq);
  put_int<int64_t>(out, p.time_ms);
  put_str(out, topic);
  put_str(out, p.key);
  put_str(out, p.id);
  put_str(out, p.type);
  put_str(out, p.json);
  return out;
}

bool decode_outbox(std::string_view in, Pending& p, std::string& topic) {
  Reader r{in};
  if (r.get_int<uint8_t>() != kOutboxVersion) return false;
  p.stream = r.get_int<uint8_t>();
  p.origin = r.get_int<uint32_t>();
  p.seq = r.get_int<uint64_t>();
  p.time_ms = r.get_int<int64_t>();
  topic = r.get_str();
  p.key = r.get_str();
  p.id = r.get_str();
  p.type = r.get_str();
  p.json = r.get_str();
  return r.ok && r.in.empty();
}

bool header_u64(rd_kafka_headers_t* hdrs, const char* name, uint64_t& out) {
  const void* val = nullptr;
  size_t size = 0;
  if (!hdrs || rd_kafka_header_get_last(hdrs, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      !val) {
    return false;
  }
  const char* s = static_cast<const char*>(val);
  auto r = std::from_chars(s, s + size, out);
  return r.ec == std::errc() && r.ptr == s + size;
}

}  // namespace

struct KafkaSink::Impl {
  struct TopicInfo {
    std::string name;
    rd_kafka_topic_t* rkt = nullptr;
    int32_t partitions = -1;
    std::vector<int64_t> fence;  // per partition: read back from here on recovery; -1 unknown
    std::vector<bool> fence_dirty;
  };

  bool exactly_once = true;
  std::string ce_source;
  std::vector<kafka::Property> producer_props;
  std::vector<kafka::Property> readback_props;
  std::vector<TopicInfo> topics;
  std::unordered_map<std::string, uint32_t> topic_index;
  int32_t stream_topic[kOutputStreamCount];
  std::unordered_map<std::string, uint32_t> routes;  // alert/trigger type -> topic index
  std::string empty;

  kafka::HandlePtr rk;
  uint64_t next_outbox_id = 1;
  std::vector<Pending> staged;
  std::vector<Pending> inflight;
  size_t outstanding = 0;
  size_t failed = 0;
  std::string first_error;
  std::vector<uint64_t> delivered_ids;  // outbox entries to delete in the next prepare()
  Status sticky;
  Stats stats;

  ~Impl() {
    for (TopicInfo& t : topics) {
      if (t.rkt) rd_kafka_topic_destroy(t.rkt);
    }
  }

  uint32_t intern_topic(const std::string& name) {
    auto it = topic_index.find(name);
    if (it != topic_index.end()) return it->second;
    uint32_t idx = static_cast<uint32_t>(topics.size());
    topics.push_back(TopicInfo{name, nullptr, -1, {}, {}});
    topic_index.emplace(name, idx);
    return idx;
  }

  int32_t route(const OutputRecord& r) const {
    if (r.stream == OutputStream::kAlerts || r.stream == OutputStream::kPriceTriggers) {
      auto it = routes.find(r.type);
      if (it != routes.end()) return static_cast<int32_t>(it->second);
    }
    return stream_topic[static_cast<int>(r.stream)];
  }

  // Message opaque: index + 1 into `inflight` (exactly_once and recovery), or 0 for records
  // released without waiting (at_least_once), which only need counting.
  static void dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* s = static_cast<Impl*>(opaque);
    if (s->outstanding > 0) --s->outstanding;
    if (m->err) {
      ++s->failed;
      if (s->first_error.empty()) s->first_error = rd_kafka_err2str(m->err);
      return;
    }
    if (!m->_private) {
      ++s->stats.delivered;
      return;
    }
    size_t i = reinterpret_cast<uintptr_t>(m->_private) - 1;
    if (i >= s->inflight.size()) return;
    const Pending& p = s->inflight[i];
    TopicInfo& t = s->topics[p.topic];
    if (m->partition >= 0 && static_cast<size_t>(m->partition) < t.fence.size() &&
        m->offset + 1 > t.fence[m->partition]) {
      t.fence[m->partition] = m->offset + 1;
      t.fence_dirty[m->partition] = true;
    }
    if (p.outbox_id) s->delivered_ids.push_back(p.outbox_id);
    ++s->stats.delivered;
  }

  // librdkafka's default logger, minus the start-up warning that enable.gapless.guarantee
  // is experimental (set on purpose, documented in docs/kafka.md).
  static void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    if (std::strcmp(fac, "CONFWARN") == 0 && std::strstr(buf, "enable.gapless.guarantee")) return;
    std::fprintf(stderr, "%%%d|%s|%s| %s\n", level, fac, rk ? rd_kafka_name(rk) : "", buf);
  }

  Status connect() {
    if (rk) return Status::ok();
    try {
      kafka::ConfPtr conf = kafka::make_conf(producer_props);
      rd_kafka_conf_set_opaque(conf.get(), this);
      rd_kafka_conf_set_log_cb(conf.get(), &Impl::log_cb);
      rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::dr_cb);
      rk = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(conf));
    } catch (const std::exception& e) {
      return Status::unavailable(std::string("kafka sink: ") + e.what());
    }
    return Status::ok();
  }

  // Topic handle and partition count (retries metadata until message.timeout-like deadline).
  Status ensure_topic(TopicInfo& t) {
    SW_RETURN_IF_ERROR(connect());
    if (!t.rkt) {
      t.rkt = rd_kafka_topic_new(rk.get(), t.name.c_str(), nullptr);
      if (!t.rkt) return Status::io("kafka sink: cannot create topic handle " + t.name);
    }
    if (t.partitions > 0) return Status::ok();
    const int64_t deadline = kafka::mono_ms() + kRecoverTimeoutMs;
    while (true) {
      Result<int32_t> n = kafka::partition_count(rk.get(), t.name, kMetadataTimeoutMs);
      if (n.is_ok()) {
        t.partitions = n.value();
        break;
      }
      if (kafka::mono_ms() > deadline) return n.status();
      rd_kafka_poll(rk.get(), 200);
    }
    if (t.fence.size() < static_cast<size_t>(t.partitions)) {
      t.fence.resize(t.partitions, -1);
      t.fence_dirty.resize(t.partitions, false);
    }
    return Status::ok();
  }

  // exactly_once: before the first outbox entry for a topic is committed, every partition of
  // it gets a fence offset (its current end), so recovery never reads records of older runs.
  Status ensure_fence_base(TopicInfo& t, StateBatch& batch) {
    SW_RETURN_IF_ERROR(ensure_topic(t));
    for (int32_t p = 0; p < t.partitions; ++p) {
      if (t.fence[p] >= 0) continue;
      int64_t lo = 0, hi = 0;
      rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk.get(), t.name.c_str(), p, &lo,
                                                               &hi, kMetadataTimeoutMs);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Status::unavailable("kafka sink: end offset of " + t.name + "/" + std::to_string(p) +
                                   ": " + rd_kafka_err2str(e));
      }
      t.fence[p] = hi;
      t.fence_dirty[p] = false;
      batch.put(kFenceNamespace, t.name + ":" + std::to_string(p), std::to_string(hi));
    }
    return Status::ok();
  }

  // `opaque`: see dr_cb.
  Status produce_one(Pending& p, uintptr_t opaque) {
    TopicInfo& t = topics[p.topic];
    SW_RETURN_IF_ERROR(ensure_topic(t));
    p.partition = kafka::murmur2_partition(p.key, t.partitions);
    std::string origin = std::to_string(p.origin);
    std::string seq = std::to_string(p.seq);
    std::string ce_id = p.id.empty() ? origin + ":" + seq : p.id;
    std::string ce_type = "com.shelfwatch." + p.type;
    std::string ce_time = format_time(p.time_ms);
    while (true) {
      rd_kafka_headers_t* h = rd_kafka_headers_new(8);
      rd_kafka_header_add(h, "ce_specversion", -1, "1.0", 3);
      rd_kafka_header_add(h, "ce_id", -1, ce_id.data(), ce_id.size());
      rd_kafka_header_add(h, "ce_type", -1, ce_type.data(), ce_type.size());
      rd_kafka_header_add(h, "ce_source", -1, ce_source.data(), ce_source.size());
      rd_kafka_header_add(h, "ce_time", -1, ce_time.data(), ce_time.size());
      rd_kafka_header_add(h, "content-type", -1, "application/json", 16);
      rd_kafka_header_add(h, "sw_origin", -1, origin.data(), origin.size());
      rd_kafka_header_add(h, "sw_seq", -1, seq.data(), seq.size());
      rd_kafka_resp_err_t err =
          rd_kafka_producev(rk.get(), RD_KAFKA_V_RKT(t.rkt), RD_KAFKA_V_PARTITION(p.partition),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_VALUE(const_cast<char*>(p.json.data()), p.json.size()),
                            RD_KAFKA_V_KEY(p.key.data(), p.key.size()), RD_KAFKA_V_HEADERS(h),
                            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(opaque)), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::ok();
      rd_kafka_headers_destroy(h);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return Status::io("kafka sink: produce to " + t.name + ": " + rd_kafka_err2str(err));
      }
      rd_kafka_poll(rk.get(), 50);
    }
  }

  // Produces `inflight` in order and waits for every delivery report.
  Status produce_and_wait() {
    if (inflight.empty()) return Status::ok();
    SW_RETURN_IF_ERROR(connect());
    outstanding = 0;
    failed = 0;
    first_error.clear();
    for (size_t i = 0; i < inflight.size(); ++i) {
      Status st = produce_one(inflight[i], i + 1);
      if (!st.is_ok()) {
        // Records after a failed one are not sent; wait for those already queued, then stop.
        rd_kafka_flush(rk.get(), 30000);
        sticky = st;
        inflight.clear();
        return st;
      }
      ++outstanding;
    }
    Status st = drain();
    inflight.clear();
    return st;
  }

  // Records delivery failures reported so far as the sticky error.
  Status check_failed() {
    if (sticky.is_ok() && failed > 0) {
      sticky = Status::io("kafka sink: " + std::to_string(failed) +
                          " records not delivered: " + first_error);
    }
    return sticky;
  }

  // at_least_once: hands `staged` to librdkafka in order and returns without waiting for
  // delivery reports (drain() waits); serves the reports that already arrived.
  Status release_now() {
    SW_RETURN_IF_ERROR(connect());
    for (Pending& p : staged) {
      Status st = produce_one(p, 0);
      if (!st.is_ok()) {
        sticky = st;
        break;
      }
      ++outstanding;
    }
    staged.clear();
    rd_kafka_poll(rk.get(), 0);
    return check_failed();
  }

  // Waits for the delivery report of every record released so far.
  Status drain() {
    char reason[512];
    while (rk && outstanding > 0 && sticky.is_ok()) {
      rd_kafka_flush(rk.get(), 100);
      if (rd_kafka_fatal_error(rk.get(), reason, sizeof(reason)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        sticky = Status::io(std::string("kafka sink: fatal producer error: ") + reason);
      }
    }
    return check_failed();
  }

  Status read_back(const std::vector<std::pair<uint32_t, int32_t>>& partitions,
                   std::map<std::tuple<uint32_t, int32_t, uint32_t>, uint64_t>& max_seq);
};

KafkaSinkOptions kafka_sink_options(const Config& cfg) {
  KafkaSinkOptions o;
  o.exactly_once =
      cfg.get_enum("delivery", "exactly_once", {"exactly_once", "at_least_once"}) == "exactly_once";
  o.ce_source = cfg.get_string("sinks.kafka.ce_source", "shelfwatch");
  for (int i = 0; i < kOutputStreamCount; ++i) {
    std::string stream(output_stream_name(static_cast<OutputStream>(i)));
    o.stream_topics[i] = cfg.get_string("sinks.kafka.topics." + stream, "shelfwatch." + stream);
  }
  for (const std::string& type : cfg.children("sinks.kafka.routes")) {
    o.routes.emplace_back(type, cfg.require_string("sinks.kafka.routes." + type,
                                                   "map an alert type to a topic name"));
  }
  o.producer_properties = kafka::client_properties(cfg, kafka::ClientRole::kProducer);
  kafka::check_properties(o.producer_properties);  // every property now, at start-up
  return o;
}

KafkaSink::KafkaSink(const Config& cfg) : KafkaSink(kafka_sink_options(cfg)) {}

KafkaSink::KafkaSink(KafkaSinkOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.exactly_once = options.exactly_once;
  s.ce_source = std::move(options.ce_source);
  for (int i = 0; i < kOutputStreamCount; ++i) {
    const std::string& topic = options.stream_topics[i];
    s.stream_topic[i] = topic.empty() ? -1 : static_cast<int32_t>(s.intern_topic(topic));
  }
  for (const auto& [type, topic] : options.routes) s.routes[type] = s.intern_topic(topic);
  s.producer_props = std::move(options.producer_properties);
  for (auto& [name, value] : kafka::default_properties(kafka::ClientRole::kConsumer)) {
    s.readback_props.push_back({name, value, ""});
  }
  for (const kafka::Property& p : s.producer_props) {
    if (!p.source_key.empty()) s.readback_props.push_back(p);
  }
  s.readback_props.push_back({"group.id", "shelfwatch.sink.recover", ""});
}

KafkaSink::~KafkaSink() = default;

void KafkaSink::reroute(const KafkaSinkOptions& options) {
  Impl& s = *impl_;
  // Topics no longer routed to stay interned: their fences still describe what was sent.
  s.ce_source = options.ce_source;
  for (int i = 0; i < kOutputStreamCount; ++i) {
    const std::string& topic = options.stream_topics[i];
    s.stream_topic[i] = topic.empty() ? -1 : static_cast<int32_t>(s.intern_topic(topic));
  }
  s.routes.clear();
  for (const auto& [type, topic] : options.routes) s.routes[type] = s.intern_topic(topic);
}

const std::string& KafkaSink::topic_for(const OutputRecord& r) const {
  int32_t t = impl_->route(r);
  return t < 0 ? impl_->empty : impl_->topics[t].name;
}

KafkaSink::Stats KafkaSink::stats() const {
  return impl_->stats;
}

Status KafkaSink::prepare(std::span<const OutputRecord> records, StateBatch& batch) {
  Impl& s = *impl_;
  if (!s.sticky.is_ok()) return s.sticky;
  for (uint64_t id : s.delivered_ids) batch.remove(kOutboxNamespace, be64(id));
  s.delivered_ids.clear();
  if (s.exactly_once) {
    for (Impl::TopicInfo& t : s.topics) {
      for (size_t p = 0; p < t.fence.size(); ++p) {
        if (!t.fence_dirty[p]) continue;
        batch.put(kFenceNamespace, t.name + ":" + std::to_string(p), std::to_string(t.fence[p]));
        t.fence_dirty[p] = false;
      }
    }
  }
  bool added = false;
  for (const OutputRecord& r : records) {
    int32_t t = s.route(r);
    if (t < 0) {
      ++s.stats.dropped;
      continue;
    }
    Pending p;
    p.topic = static_cast<uint32_t>(t);
    p.stream = static_cast<uint8_t>(r.stream);
    p.origin = r.origin;
    p.seq = r.seq;
    p.time_ms = r.time_ms;
    p.key = r.key;
    p.id = r.id;
    p.type = r.type;
    p.json = r.json;
    if (s.exactly_once) {
      SW_RETURN_IF_ERROR(s.ensure_fence_base(s.topics[t], batch));
      p.outbox_id = s.next_outbox_id++;
      batch.put(kOutboxNamespace, be64(p.outbox_id), encode_outbox(p, s.topics[t].name));
      added = true;
    }
    s.staged.push_back(std::move(p));
  }
  if (added) batch.put(kMetaNamespace, kNextIdKey, std::to_string(s.next_outbox_id));
  return Status::ok();
}

Status KafkaSink::committed() {
  Impl& s = *impl_;
  if (!s.sticky.is_ok()) return s.sticky;
  if (s.staged.empty()) {
    if (s.rk) rd_kafka_poll(s.rk.get(), 0);
    return Status::ok();
  }
  if (!s.exactly_once) return s.release_now();
  s.inflight.swap(s.staged);
  s.staged.clear();
  return s.produce_and_wait();
}

Status KafkaSink::drain() {
  Impl& s = *impl_;
  if (!s.sticky.is_ok()) return s.sticky;
  return s.drain();
}

Status KafkaSink::Impl::read_back(
    const std::vector<std::pair<uint32_t, int32_t>>& partitions,
    std::map<std::tuple<uint32_t, int32_t, uint32_t>, uint64_t>& max_seq) {
  kafka::HandlePtr consumer;
  try {
    consumer = kafka::make_handle(RD_KAFKA_CONSUMER, kafka::make_conf(readback_props));
  } catch (const std::exception& e) {
    return Status::unavailable(std::string("kafka sink recovery: ") + e.what());
  }
  kafka::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  std::map<std::pair<std::string, int32_t>, std::pair<uint32_t, int64_t>> target;  // -> topic, end
  for (auto [ti, p] : partitions) {
    TopicInfo& t = topics[ti];
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(consumer.get(), t.name.c_str(), p, &lo,
                                                             &hi, kMetadataTimeoutMs * 4);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::unavailable("kafka sink recovery: end offset of " + t.name + "/" +
                                 std::to_string(p) + ": " + rd_kafka_err2str(e));
    }
    int64_t from = lo;
    if (static_cast<size_t>(p) < t.fence.size() && t.fence[p] >= 0) {
      from = std::max(lo, t.fence[p]);
    } else {
      std::fprintf(stderr,
                   "kafka sink recovery: no fence offset for %s/%d, reading it from the start\n",
                   t.name.c_str(), p);
    }
    if (from >= hi) continue;
    rd_kafka_topic_partition_list_add(list.get(), t.name.c_str(), p)->offset = from;
    target[{t.name, p}] = {ti, hi};
  }
  if (target.empty()) return Status::ok();
  rd_kafka_resp_err_t e = rd_kafka_assign(consumer.get(), list.get());
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable(std::string("kafka sink recovery: assign: ") + rd_kafka_err2str(e));
  }
  size_t remaining = target.size();
  const int64_t deadline = kafka::mono_ms() + kRecoverTimeoutMs;
  while (remaining > 0) {
    if (kafka::mono_ms() > deadline) {
      rd_kafka_consumer_close(consumer.get());
      return Status::unavailable("kafka sink recovery: timed out reading back output partitions");
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
    if (!m) continue;
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(m);
      continue;
    }
    auto it = m->rkt ? target.find({rd_kafka_topic_name(m->rkt), m->partition}) : target.end();
    if (it != target.end()) {
      int64_t next = m->err ? m->offset : m->offset + 1;
      if (!m->err) {
        rd_kafka_headers_t* hdrs = nullptr;
        uint64_t origin = 0, seq = 0;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            header_u64(hdrs, "sw_origin", origin) && header_u64(hdrs, "sw_seq", seq)) {
          auto key = std::make_tuple(it->second.first, m->partition, static_cast<uint32_t>(origin));
          auto [pos, inserted] = max_seq.emplace(key, seq);
          if (!inserted) pos->second = std::max(pos->second, seq);
        }
      }
      if (next >= it->second.second) {
        target.erase(it);
        --remaining;
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  return Status::ok();
}

Status KafkaSink::recover(const StateStore& store) {
  Impl& s = *impl_;
  Result<std::optional<std::string>> next = store.get(kMetaNamespace, kNextIdKey);
  SW_RETURN_IF_ERROR(next.status());
  if (next.value()) {
    int64_t v = 0;
    if (parse_i64(*next.value(), v) && v > 0) {
      s.next_outbox_id = std::max<uint64_t>(s.next_outbox_id, static_cast<uint64_t>(v));
    }
  }
  Status bad;
  SW_RETURN_IF_ERROR(
      store.scan_prefix(kFenceNamespace, "", [&](std::string_view key, std::string_view value) {
        size_t colon = key.rfind(':');
        int64_t part = 0, off = 0;
        if (colon == std::string_view::npos || !parse_i64(key.substr(colon + 1), part) ||
            !parse_i64(value, off) || part < 0) {
          bad = Status::corruption("kafka sink: bad fence entry " + std::string(key));
          return false;
        }
        Impl::TopicInfo& t = s.topics[s.intern_topic(std::string(key.substr(0, colon)))];
        if (t.fence.size() <= static_cast<size_t>(part)) {
          t.fence.resize(part + 1, -1);
          t.fence_dirty.resize(part + 1, false);
        }
        t.fence[part] = off;
        return true;
      }));
  SW_RETURN_IF_ERROR(bad);
  std::vector<Pending> outbox;
  SW_RETURN_IF_ERROR(
      store.scan_prefix(kOutboxNamespace, "", [&](std::string_view key, std::string_view value) {
        Pending p;
        std::string topic;
        if (key.size() != 8 || !decode_outbox(value, p, topic)) {
          bad = Status::corruption("kafka sink: undecodable outbox entry");
          return false;
        }
        p.outbox_id = from_be64(key);
        p.topic = s.intern_topic(topic);
        outbox.push_back(std::move(p));
        return true;
      }));
  SW_RETURN_IF_ERROR(bad);
  if (outbox.empty()) return Status::ok();
  s.next_outbox_id = std::max(s.next_outbox_id, outbox.back().outbox_id + 1);

  // Which output partitions the outbox entries go to, then what is already there.
  std::vector<std::pair<uint32_t, int32_t>> partitions;
  for (Pending& p : outbox) {
    SW_RETURN_IF_ERROR(s.ensure_topic(s.topics[p.topic]));
    p.partition = kafka::murmur2_partition(p.key, s.topics[p.topic].partitions);
    partitions.emplace_back(p.topic, p.partition);
  }
  std::sort(partitions.begin(), partitions.end());
  partitions.erase(std::unique(partitions.begin(), partitions.end()), partitions.end());
  std::map<std::tuple<uint32_t, int32_t, uint32_t>, uint64_t> max_seq;
  SW_RETURN_IF_ERROR(s.read_back(partitions, max_seq));

  for (Pending& p : outbox) {
    auto it = max_seq.find({p.topic, p.partition, p.origin});
    if (it != max_seq.end() && p.seq <= it->second) {
      ++s.stats.fenced;
      s.delivered_ids.push_back(p.outbox_id);
    } else {
      ++s.stats.resent;
      s.inflight.push_back(std::move(p));
    }
  }
  return s.produce_and_wait();
}

Status KafkaSink::close() {
  Impl& s = *impl_;
  if (!s.rk) return s.sticky;
  // exactly_once: staged records whose checkpoint did not commit must not be sent.
  if (!s.exactly_once && s.sticky.is_ok()) {
    if (!s.staged.empty()) SW_RETURN_IF_ERROR(s.release_now());
    SW_RETURN_IF_ERROR(s.drain());
  }
  if (rd_kafka_flush(s.rk.get(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::io("kafka sink: records still in flight at close");
  }
  return s.sticky;
}

std::unique_ptr<Sink> make_kafka_sink(const Config& cfg) {
  return std::make_unique<KafkaSink>(cfg);
}

}  // namespace sw
