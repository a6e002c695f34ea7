#include "connectors/kafka_source.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "connectors/kafka_common.h"
#include "stream/decoder.h"
#include "stream/partition_merge.h"

namespace sw {

namespace {

constexpr size_t kPadding = 64;  // simdjson::SIMDJSON_PADDING
constexpr int kMetadataTimeoutMs = 10000;
// Ordered merge: messages taken from librdkafka's queue per fetch() call.
constexpr size_t kFetchChunk = 4096;

struct PartitionState {
  bool assigned = false;
  bool eof = false;           // fetcher reported end of partition since the last record
  int64_t position = -1;      // next offset to fetch (lanes hold [handed, position)); -1 unknown
  int64_t handed = -1;        // next offset to hand to the task; -1 = none handed yet
  bool lane_paused = false;   // fetching paused: its merge lane is full
  int64_t end_at_start = -1;  // stop_at_end: high watermark found at start; -1 = unknown
  int64_t last_activity = 0;  // mono ms of the last record (or of the assignment)
};

}  // namespace

struct KafkaSource::Impl {
  std::vector<std::string> topics;
  std::string group_id;
  bool assign_mode = false;
  bool stop_at_end = false;
  int64_t idle_ms = 5000;
  int64_t max_task_idle_ms = 1000;
  int64_t max_future_ms = 24 * 3600 * 1000;
  // A partition whose merge lane holds this many records is paused until the merge drained
  // half of them (a partition far ahead in event time must not fill memory meanwhile).
  size_t lane_cap = 200'000;
  int64_t start_offset = RD_KAFKA_OFFSET_BEGINNING;
  std::vector<kafka::Property> properties;

  kafka::HandlePtr rk;
  kafka::QueuePtr queue;  // destroyed before rk (declared after it)
  bool started = false;
  bool assignment_received = false;
  bool closed = false;
  bool paused = false;
  std::vector<PartitionState> parts;  // indexed by global partition id
  std::vector<int32_t> assigned_ids;  // global ids currently assigned
  //! source_partition_owned{topic,partition}: each partition ever assigned (bounded by the
  //! topics' partition counts); 1 while assigned, 0 once revoked.
  std::map<int32_t, Probe::Gauge*> owned_gauges;
  std::unordered_map<int32_t, int64_t> checkpoint_positions;
  std::vector<rd_kafka_message_t*> msgs;
  std::unique_ptr<char[]> buf;
  size_t buf_cap = 0;
  std::vector<std::pair<const rd_kafka_topic_t*, size_t>> topic_cache;
  uint64_t duplicates = 0;
  uint64_t errors_logged = 0;
  int64_t poll_mono = 0;  // time of the last poll(): idleness needs no finer clock
  // Ordered merge (stream/partition_merge.h): fetched messages wait in per-partition lanes
  // and are handed over by (event time, partition id); event_time() reads their "ts".
  std::unique_ptr<PartitionMerge> merge;
  simdjson::ondemand::parser ts_parser;
  std::vector<char> ts_buf;
  std::vector<rd_kafka_message_t*> chosen;
  Probe::Counter* enforced_counter = nullptr;
  uint64_t enforced_reported = 0;

  // Event time of a message for the merge: its "ts" as the task's decoder reads it (integer
  // epoch milliseconds or RFC 3339), or kNoTime if it is not a JSON object with a valid "ts"
  // (it then follows its predecessor). Reads no other field: the task decodes the record.
  // A time the task will dead-letter as future_timestamp (at or after 2100, or in a live run
  // beyond the wall clock + max_future) is kNoTime too: such a record must not hold its
  // partition's later records back until the stream reaches its time (never, for year 9999).
  int64_t event_time(const rd_kafka_message_t* m) {
    const int64_t ms = raw_event_time(m);
    if (ms == PartitionMerge::kNoTime) return ms;
    if (ms >= kMaxPlausibleEventMs) return PartitionMerge::kNoTime;
    if (!stop_at_end && ms - kafka::wall_ms() > max_future_ms) return PartitionMerge::kNoTime;
    return ms;
  }
  int64_t raw_event_time(const rd_kafka_message_t* m) {
    constexpr int64_t kNoTime = PartitionMerge::kNoTime;
    if (m->len == 0) return kNoTime;
    if (ts_buf.size() < m->len + simdjson::SIMDJSON_PADDING) {
      ts_buf.resize(m->len + simdjson::SIMDJSON_PADDING);
    }
    std::memcpy(ts_buf.data(), m->payload, m->len);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    simdjson::ondemand::value v;
    simdjson::ondemand::json_type type;
    if (ts_parser.iterate(ts_buf.data(), m->len, ts_buf.size()).get(doc) ||
        doc.get_object().get(obj) || obj.find_field_unordered("ts").get(v) || v.type().get(type)) {
      return kNoTime;
    }
    if (type == simdjson::ondemand::json_type::number) {
      int64_t ms;
      if (v.get_int64().get(ms) || ms < 0 || ms > 253402300799999LL) return kNoTime;
      return ms;
    }
    std::string_view text;
    int64_t ms;
    if (type != simdjson::ondemand::json_type::string || v.get_string().get(text) ||
        !parse_rfc3339(text, ms)) {
      return kNoTime;
    }
    return ms;
  }

  PartitionMerge::Feed feed(int32_t g) const {
    const PartitionState& ps = parts[static_cast<size_t>(g)];
    if (!ps.assigned) return PartitionMerge::Feed::kEnded;
    if (stop_at_end) {
      if (ps.end_at_start == 0 || (ps.end_at_start > 0 && ps.position >= ps.end_at_start)) {
        return PartitionMerge::Feed::kEnded;
      }
      return PartitionMerge::Feed::kMore;
    }
    return ps.eof ? PartitionMerge::Feed::kCaughtUp : PartitionMerge::Feed::kMore;
  }

  int topic_index(const char* name) const {
    for (size_t i = 0; i < topics.size(); ++i) {
      if (topics[i] == name) return static_cast<int>(i);
    }
    return -1;
  }
  int topic_index(const rd_kafka_topic_t* rkt) {
    for (const auto& [ptr, idx] : topic_cache) {
      if (ptr == rkt) return static_cast<int>(idx);
    }
    int idx = topic_index(rd_kafka_topic_name(rkt));
    if (idx >= 0) topic_cache.emplace_back(rkt, static_cast<size_t>(idx));
    return idx;
  }
  PartitionState* state(int topic_idx, int32_t partition) {
    if (topic_idx < 0 || partition < 0 || partition >= kafka::kPartitionsPerTopic) return nullptr;
    return &parts[kafka::global_partition(static_cast<size_t>(topic_idx), partition)];
  }

  int64_t resume_offset(int32_t g) const {
    if (parts[g].position >= 0) return parts[g].position;
    auto it = checkpoint_positions.find(g);
    if (it != checkpoint_positions.end()) return it->second;
    return start_offset;
  }

  void rebuild_assigned() {
    assigned_ids.clear();
    for (size_t g = 0; g < parts.size(); ++g) {
      if (parts[g].assigned) assigned_ids.push_back(static_cast<int32_t>(g));
    }
  }

  // Marks the listed partitions assigned and sets each one's start offset.
  void on_assign(rd_kafka_topic_partition_list_t* list) {
    int64_t now = kafka::mono_ms();
    for (int i = 0; i < list->cnt; ++i) {
      rd_kafka_topic_partition_t& tp = list->elems[i];
      int idx = topic_index(tp.topic);
      PartitionState* ps = state(idx, tp.partition);
      if (!ps) continue;
      int32_t g = kafka::global_partition(static_cast<size_t>(idx), tp.partition);
      tp.offset = resume_offset(g);
      ps->assigned = true;
      ps->eof = false;
      ps->last_activity = now;
    }
    rebuild_assigned();
    assignment_received = true;
  }
  void on_revoke(const rd_kafka_topic_partition_list_t* list) {
    for (int i = 0; i < list->cnt; ++i) {
      int idx = topic_index(list->elems[i].topic);
      PartitionState* ps = state(idx, list->elems[i].partition);
      if (!ps) continue;
      ps->assigned = false;
      // Records fetched but not handed to the task are dropped: a re-assignment resumes
      // after the last handed one.
      merge->drop(kafka::global_partition(static_cast<size_t>(idx), list->elems[i].partition),
                  [](void* m) { rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(m)); });
      ps->position = ps->handed;
      ps->lane_paused = false;
    }
    rebuild_assigned();
  }

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* list, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->on_assign(list);
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, list)) {
          std::fprintf(stderr, "kafka source: incremental assign failed: %s\n",
                       rd_kafka_error_string(e));
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(rk, list);
      }
    } else {
      self->on_revoke(list);
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, list)) {
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(rk, nullptr);
      }
    }
  }

  void start() {
    started = true;
    kafka::ConfPtr conf = kafka::make_conf(properties);
    char err[512];
    if (rd_kafka_conf_set(conf.get(), "group.id", group_id.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      throw ConfigError("source.kafka.group_id", err, "use a valid consumer group name");
    }
    rd_kafka_conf_set_opaque(conf.get(), this);
    if (!assign_mode) rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::rebalance_cb);
    rk = kafka::make_handle(RD_KAFKA_CONSUMER, std::move(conf));
    rd_kafka_poll_set_consumer(rk.get());
    queue.reset(rd_kafka_queue_get_consumer(rk.get()));
    if (!queue) throw std::runtime_error("kafka source: no consumer queue (group.id unset?)");

    // Partition counts are needed for assign mode and for stop_at_end's end offsets.
    if (assign_mode || stop_at_end) {
      kafka::PartitionListPtr all(rd_kafka_topic_partition_list_new(64));
      for (size_t t = 0; t < topics.size(); ++t) {
        Result<int32_t> count = kafka::partition_count(rk.get(), topics[t], kMetadataTimeoutMs);
        if (!count.is_ok()) {
          throw std::runtime_error("kafka source: " + count.status().message());
        }
        if (count.value() > kafka::kPartitionsPerTopic) {
          throw ConfigError("source.kafka.topics",
                            "topic " + topics[t] + " has more than 1024 partitions",
                            "shelfwatch supports up to 1024 partitions per input topic");
        }
        for (int32_t p = 0; p < count.value(); ++p) {
          if (stop_at_end) {
            int64_t lo = 0, hi = 0;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk.get(), topics[t].c_str(), p,
                                                                     &lo, &hi, kMetadataTimeoutMs);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
              throw std::runtime_error("kafka source: end offset of " + topics[t] + "/" +
                                       std::to_string(p) + ": " + rd_kafka_err2str(e));
            }
            parts[kafka::global_partition(t, p)].end_at_start = hi;
          }
          rd_kafka_topic_partition_list_add(all.get(), topics[t].c_str(), p);
        }
      }
      if (assign_mode) {
        on_assign(all.get());
        rd_kafka_resp_err_t e = rd_kafka_assign(rk.get(), all.get());
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
          throw std::runtime_error(std::string("kafka source: assign: ") + rd_kafka_err2str(e));
        }
      }
    }
    if (!assign_mode) {
      kafka::PartitionListPtr subs(
          rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
      for (const auto& t : topics) {
        rd_kafka_topic_partition_list_add(subs.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
      }
      rd_kafka_resp_err_t e = rd_kafka_subscribe(rk.get(), subs.get());
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error(std::string("kafka source: subscribe: ") + rd_kafka_err2str(e));
      }
    }
  }

  void ensure_buffer(size_t need) {
    if (need <= buf_cap) return;
    size_t cap = std::max(need, buf_cap * 2);
    buf.reset(new char[cap]);
    buf_cap = cap;
  }

  // Returns an error only for fatal consumer errors; transient ones are retried by librdkafka.
  Status handle_error(const rd_kafka_message_t* m) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      PartitionState* ps = m->rkt ? state(topic_index(m->rkt), m->partition) : nullptr;
      if (ps && ps->assigned) {
        ps->eof = true;
        ps->position = std::max(ps->position, m->offset);
      }
      return Status::ok();
    }
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
      char reason[512];
      rd_kafka_fatal_error(rk.get(), reason, sizeof(reason));
      return Status::io(std::string("kafka source: fatal consumer error: ") + reason);
    }
    if (errors_logged < 20) {
      ++errors_logged;
      std::fprintf(stderr, "kafka source: %s%s%s (retrying)\n", rd_kafka_err2str(m->err),
                   m->len ? ": " : "",
                   m->len ? std::string(static_cast<const char*>(m->payload), m->len).c_str() : "");
    }
    return Status::ok();
  }

  // Pauses or resumes fetching one partition for the merge's lane cap. A resumed partition
  // fetches again from `position` (what librdkafka purged on pause is fetched anew).
  void set_lane_paused(int32_t g, bool pause) {
    PartitionState& ps = parts[static_cast<size_t>(g)];
    if (ps.lane_paused == pause) return;
    ps.lane_paused = pause;
    if (paused) return;  // pause()/resume() for a sink outage cover every partition
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(
        list.get(), topics[static_cast<size_t>(g / kafka::kPartitionsPerTopic)].c_str(),
        g % kafka::kPartitionsPerTopic);
    if (pause) {
      rd_kafka_pause_partitions(rk.get(), list.get());
      return;
    }
    rd_kafka_resume_partitions(rk.get(), list.get());
    tp->offset = resume_offset(g);
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk.get(), list.get(), 5000)) {
      rd_kafka_error_destroy(e);
    }
  }

  // Moves what librdkafka has ready into the merge's lanes, waiting up to `timeout_ms` for
  // the first message. Returns an error only for fatal consumer errors.
  Status fetch(int timeout_ms) {
    if (msgs.size() < kFetchChunk) msgs.resize(kFetchChunk);
    ssize_t n = rd_kafka_consume_batch_queue(queue.get(), 0, msgs.data(), kFetchChunk);
    if (n == 0 && timeout_ms > 0) {
      // Block for the first message only, then take whatever else is ready: low latency.
      rd_kafka_message_t* first = rd_kafka_consume_queue(queue.get(), timeout_ms);
      if (first) {
        msgs[0] = first;
        ssize_t more =
            rd_kafka_consume_batch_queue(queue.get(), 0, msgs.data() + 1, kFetchChunk - 1);
        n = 1 + std::max<ssize_t>(more, 0);
      }
    }
    if (n < 0) {
      return Status::io(std::string("kafka source: consume: ") +
                        rd_kafka_err2str(rd_kafka_last_error()));
    }
    const int64_t now_mono = kafka::mono_ms();
    Status first_error;
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[static_cast<size_t>(i)];
      if (m->err) {
        Status st = handle_error(m);
        if (!st.is_ok() && first_error.is_ok()) first_error = st;
        rd_kafka_message_destroy(m);
        continue;
      }
      int idx = topic_index(m->rkt);
      PartitionState* ps = state(idx, m->partition);
      if (!ps || !ps->assigned || (ps->position >= 0 && m->offset < ps->position)) {
        if (ps && ps->assigned) ++duplicates;  // already fetched: never twice
        rd_kafka_message_destroy(m);
        continue;
      }
      // stop_at_end: this run consumes exactly the offsets below the end found at start.
      if (stop_at_end && ps->end_at_start >= 0 && m->offset >= ps->end_at_start) {
        rd_kafka_message_destroy(m);
        continue;
      }
      const int32_t g = kafka::global_partition(static_cast<size_t>(idx), m->partition);
      merge->push(g, event_time(m), m);
      ps->position = m->offset + 1;
      ps->eof = false;
      ps->last_activity = now_mono;
      if (merge->buffered(g) >= lane_cap) set_lane_paused(g, true);
    }
    return first_error;
  }
};

KafkaSourceOptions kafka_source_options(const Config& cfg) {
  KafkaSourceOptions o;
  o.topics = cfg.get_list("source.kafka.topics");
  o.group_id = cfg.get_string("source.kafka.group_id", "shelfwatch");
  o.assign_mode =
      cfg.get_enum("source.kafka.mode", "subscribe", {"subscribe", "assign"}) == "assign";
  o.stop_at_end = cfg.get_bool("source.kafka.stop_at_end", false);
  o.idle_ms = cfg.get_duration_ms("source.kafka.idle_ms", 5000);
  o.max_task_idle_ms = cfg.get_duration_ms("source.kafka.max_task_idle", 1000);
  o.start_from =
      cfg.get_enum("source.kafka.start_from", "earliest", {"earliest", "latest", "committed"});
  o.properties = kafka::client_properties(cfg, kafka::ClientRole::kConsumer);
  // Checked after every key was read (Config::read_unused reads this section on a file source).
  if (o.topics.empty()) {
    throw ConfigError("source.kafka.topics", "is required for source.kind: kafka",
                      "list the input topics, e.g. [shelfwatch.events]");
  }
  // Every property and the group id are checked now, at start-up, not at the first poll.
  std::vector<kafka::Property> checked = o.properties;
  checked.push_back({"group.id", o.group_id, "source.kafka.group_id"});
  kafka::check_properties(checked);
  return o;
}

KafkaSource::KafkaSource(const Config& cfg) : KafkaSource(kafka_source_options(cfg)) {}

KafkaSource::KafkaSource(KafkaSourceOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.topics = std::move(options.topics);
  s.group_id = std::move(options.group_id);
  s.assign_mode = options.assign_mode;
  s.stop_at_end = options.stop_at_end;
  s.idle_ms = options.idle_ms;
  s.max_task_idle_ms = options.max_task_idle_ms;
  s.max_future_ms = options.max_future_ms;
  s.lane_cap = std::max<size_t>(2, options.merge_lane_cap);
  s.merge = std::make_unique<PartitionMerge>(s.stop_at_end ? PartitionMerge::kWaitForever
                                                           : s.max_task_idle_ms);
  s.enforced_counter = &probe_.counter(
      "source_merge_enforced_total",
      "Times the ordered merge of input partitions went on without a lagging partition after "
      "waiting source.kafka.max_task_idle (a live run may then differ from a replay).");
  const std::string& start = options.start_from;
  s.start_offset = start == "earliest" ? RD_KAFKA_OFFSET_BEGINNING
                   : start == "latest" ? RD_KAFKA_OFFSET_END
                                       : RD_KAFKA_OFFSET_STORED;
  s.properties = std::move(options.properties);
  s.parts.resize(s.topics.size() * kafka::kPartitionsPerTopic);
}

void KafkaSource::update_probe() {
  const uint64_t enforced = impl_->merge->enforced();
  impl_->enforced_counter->add(enforced - impl_->enforced_reported);
  impl_->enforced_reported = enforced;
  Impl& s = *impl_;
  for (int32_t g : s.assigned_ids) {
    Probe::Gauge*& gauge = s.owned_gauges[g];
    if (gauge != nullptr) continue;
    gauge = &probe_.gauge(
        "source_partition_owned",
        "1 while this instance owns (is assigned) the input partition, 0 once revoked.",
        {{"topic", s.topics[static_cast<size_t>(g / kafka::kPartitionsPerTopic)]},
         {"partition", std::to_string(g % kafka::kPartitionsPerTopic)}});
  }
  for (auto& [g, gauge] : s.owned_gauges)
    gauge->set(s.parts[static_cast<size_t>(g)].assigned ? 1 : 0);
  for (const PartitionLag& l : consumer_lag()) {
    probe_
        .gauge("consumer_lag_messages", "Kafka consumer lag per partition (librdkafka statistics).",
               {{"topic", l.topic}, {"partition", std::to_string(l.partition)}})
        .set(static_cast<double>(l.lag));
  }
}

KafkaSource::~KafkaSource() {
  close();
  impl_->merge->clear(
      [](void* m) { rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(m)); });
}

void KafkaSource::close() {
  Impl& s = *impl_;
  if (!s.rk || s.closed) return;
  s.closed = true;
  rd_kafka_consumer_close(s.rk.get());
}

Status KafkaSource::seek(const std::vector<SourcePosition>& positions) {
  Impl& s = *impl_;
  for (const SourcePosition& p : positions) {
    if (p.partition < 0 || static_cast<size_t>(p.partition) >= s.parts.size()) continue;
    s.checkpoint_positions[p.partition] = p.next_offset;
  }
  return Status::ok();
}

Status KafkaSource::poll(std::vector<RawRecord>& out, size_t max, int timeout_ms) {
  Impl& s = *impl_;
  if (s.closed) return Status::invalid("kafka source: poll after close");
  if (!s.started) {
    try {
      s.start();
    } catch (const std::exception& e) {
      return Status::unavailable(e.what());
    }
  }
  if (max == 0) return Status::ok();
  const int64_t deadline = kafka::mono_ms() + timeout_ms;
  SW_RETURN_IF_ERROR(s.fetch(0));
  auto feed = [&s](int32_t g) { return s.feed(g); };
  s.chosen.clear();
  for (;;) {
    const int64_t now = kafka::mono_ms();
    while (s.chosen.size() < max) {
      void* m = s.merge->next(s.assigned_ids, feed, now);
      if (m == nullptr) break;
      s.chosen.push_back(static_cast<rd_kafka_message_t*>(m));
    }
    if (!s.chosen.empty() || at_end() || now >= deadline) break;
    // Nothing to hand over yet: wait for records, at most until a lagging partition's wait
    // expires or the poll's time is up.
    const int64_t wait = std::min(deadline - now, s.merge->wake_in(now));
    SW_RETURN_IF_ERROR(s.fetch(static_cast<int>(std::max<int64_t>(wait, 1))));
  }

  size_t total = kPadding;
  for (const rd_kafka_message_t* m : s.chosen) total += m->len;
  s.ensure_buffer(total);
  std::memset(s.buf.get() + total - kPadding, 0, kPadding);
  const int64_t now_wall = kafka::wall_ms();
  s.poll_mono = kafka::mono_ms();
  size_t used = 0;
  for (rd_kafka_message_t* m : s.chosen) {
    int idx = s.topic_index(m->rkt);
    PartitionState* ps = s.state(idx, m->partition);
    char* dst = s.buf.get() + used;
    if (m->len) std::memcpy(dst, m->payload, m->len);
    RawRecord r;
    r.payload = std::string_view(dst, m->len);
    used += m->len;
    r.readable_after = total - used;
    r.partition = kafka::global_partition(static_cast<size_t>(idx), m->partition);
    r.offset = m->offset;
    r.next_offset = m->offset + 1;
    r.line = 0;
    r.ingest_ms = now_wall;
    out.push_back(r);
    ps->handed = m->offset + 1;
    if (ps->lane_paused && s.merge->buffered(r.partition) <= s.lane_cap / 2) {
      s.set_lane_paused(r.partition, false);
    }
    rd_kafka_message_destroy(m);
  }
  s.chosen.clear();
  return Status::ok();
}

bool KafkaSource::bounded() const {
  return impl_->stop_at_end;
}

bool KafkaSource::at_end() const {
  const Impl& s = *impl_;
  if (!s.stop_at_end || !s.assignment_received || s.merge->buffered() > 0) return false;
  for (int32_t g : s.assigned_ids) {
    if (s.feed(g) != PartitionMerge::Feed::kEnded) return false;
  }
  return true;
}

std::string KafkaSource::name() const {
  std::string n;
  for (const auto& t : impl_->topics) n += (n.empty() ? "" : ",") + t;
  return n;
}

bool KafkaSource::partition_idle(int32_t partition) const {
  const Impl& s = *impl_;
  if (partition < 0 || static_cast<size_t>(partition) >= s.parts.size()) return true;
  const PartitionState& ps = s.parts[partition];
  if (!ps.assigned) return true;
  // stop_at_end: a partition that was empty at start has nothing to give this run. (One that
  // reached its end offset is not idle by that alone: records polled are not yet processed,
  // and the watermark must not depend on where batches end.)
  if (s.stop_at_end && ps.end_at_start == 0) return true;
  // Called per partition whenever the watermark may move: uses the last poll's clock.
  return ps.eof && s.poll_mono - ps.last_activity >= s.idle_ms;
}

std::span<const int32_t> KafkaSource::partitions() const {
  return impl_->assigned_ids;
}

void KafkaSource::on_checkpoint(const std::vector<SourcePosition>& positions) {
  Impl& s = *impl_;
  if (!s.rk || s.closed) return;
  kafka::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
  for (const SourcePosition& p : positions) {
    if (p.partition < 0 || static_cast<size_t>(p.partition) >= s.parts.size()) continue;
    if (!s.parts[p.partition].assigned) continue;
    rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(
        list.get(), s.topics[p.partition / kafka::kPartitionsPerTopic].c_str(),
        p.partition % kafka::kPartitionsPerTopic);
    tp->offset = p.next_offset;
  }
  if (list->cnt == 0) return;
  // Lag tools only: failures are harmless (the checkpoint is the source of truth).
  rd_kafka_commit(s.rk.get(), list.get(), 1);
}

std::string KafkaSource::topic_of(int32_t partition) const {
  size_t t = static_cast<size_t>(partition / kafka::kPartitionsPerTopic);
  return partition >= 0 && t < impl_->topics.size() ? impl_->topics[t] : std::string();
}

int32_t KafkaSource::kafka_partition_of(int32_t partition) const {
  return partition % kafka::kPartitionsPerTopic;
}

std::vector<KafkaSource::PartitionLag> KafkaSource::consumer_lag() const {
  const Impl& s = *impl_;
  std::vector<PartitionLag> out;
  if (!s.rk) return out;
  for (int32_t id : s.assigned_ids) {
    const PartitionState& p = s.parts[static_cast<size_t>(id)];
    int64_t low = -1, high = -1;
    const std::string topic = topic_of(id);
    if (rd_kafka_get_watermark_offsets(s.rk.get(), topic.c_str(), kafka_partition_of(id), &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0 || p.position < 0) {
      continue;
    }
    // Records fetched into the merge's lanes but not handed to the task are still lag.
    const int64_t next = p.handed >= 0 ? p.handed : p.position;
    out.push_back({topic, kafka_partition_of(id), std::max<int64_t>(0, high - next)});
  }
  return out;
}

void KafkaSource::pause() {
  Impl& s = *impl_;
  if (!s.rk || s.paused) return;
  kafka::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(s.assigned_ids.size())));
  for (int32_t g : s.assigned_ids) {
    rd_kafka_topic_partition_list_add(list.get(), topic_of(g).c_str(), kafka_partition_of(g));
  }
  rd_kafka_pause_partitions(s.rk.get(), list.get());
  s.paused = true;
}

void KafkaSource::resume() {
  Impl& s = *impl_;
  if (!s.rk || !s.paused) return;
  kafka::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(s.assigned_ids.size())));
  for (int32_t g : s.assigned_ids) {
    if (s.parts[static_cast<size_t>(g)].lane_paused) continue;  // its merge lane is full
    rd_kafka_topic_partition_t* tp =
        rd_kafka_topic_partition_list_add(list.get(), topic_of(g).c_str(), kafka_partition_of(g));
    // Re-seek to what was fetched, so a librdkafka-internal resume position can neither
    // skip nor repeat records (duplicates would also be filtered in poll()).
    tp->offset = s.resume_offset(g);
  }
  rd_kafka_resume_partitions(s.rk.get(), list.get());
  if (rd_kafka_error_t* e = rd_kafka_seek_partitions(s.rk.get(), list.get(), 5000)) {
    rd_kafka_error_destroy(e);
  }
  s.paused = false;
}

uint64_t KafkaSource::duplicates_skipped() const {
  return impl_->duplicates;
}

std::unique_ptr<Source> make_kafka_source(const Config& cfg) {
  return std::make_unique<KafkaSource>(cfg);
}

}  // namespace sw
