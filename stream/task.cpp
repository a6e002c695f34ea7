#include "stream/task.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "stream/bytes.h"
#include "stream/config.h"
#include "stream/json_writer.h"

namespace sw {

namespace {
constexpr std::string_view kTaskNs = "task";
constexpr std::string_view kKeysNs = "keys";  // one key per entry (read for restore only)
// New keys of a checkpoint in chunks: key = be32 first id, value = per key the u32 length
// and bytes of the store, then of the sku. One entry per chunk instead of one per key.
constexpr std::string_view kKeyChunksNs = "key_chunks";
constexpr size_t kKeysPerChunk = 65536;
constexpr std::string_view kDedupNs = "dedup";
constexpr uint8_t kMetaVersion = 2;

}  // namespace

TaskOptions TaskOptions::from_config(const Config& c) {
  TaskOptions o;
  o.checkpoint_interval_ms = c.get_int("state.checkpoint_interval_ms", 1000, 1, 3'600'000);
  o.batch_size = static_cast<size_t>(c.get_int("pipeline.batch_size", 1024, 1, 1 << 20));
  o.out_of_orderness_ms = c.get_duration_ms("pipeline.out_of_orderness", 5 * 60 * 1000);
  o.allowed_lateness_ms = c.get_duration_ms("pipeline.allowed_lateness", 0);
  o.dedup_capacity =
      static_cast<size_t>(c.get_int("pipeline.dedup_capacity", 1'000'000, 0, 100'000'000));
  o.max_record_bytes =
      static_cast<size_t>(c.get_int("pipeline.max_record_bytes", 1 << 20, 256, 64 << 20));
  o.exactly_once =
      c.get_enum("delivery", "exactly_once", {"exactly_once", "at_least_once"}) == "exactly_once";
  o.read_ahead = c.get_bool("pipeline.read_ahead", true);
  o.commit_nice = static_cast<int>(c.get_int("state.commit_nice", 10, 0, 19));
  return o;
}

Task::Task(TaskOptions options, Source& source, std::vector<Sink*> sinks, StateStore& store,
           std::vector<Operator*> operators, const Calendar& calendar)
    : options_(options),
      source_(source),
      sinks_(std::move(sinks)),
      store_(store),
      operators_(std::move(operators)),
      calendar_(calendar),
      decoders_() {
  for (int i = 0; i <= kPipelineDepth; ++i) {
    decoders_.push_back(std::make_unique<Decoder>(options.max_record_bytes));
  }
  for (uint32_t i = 0; i < operators_.size(); ++i) {
    uint32_t mask = operators_[i]->subscriptions();
    for (int t = 0; t < kEventTypeCount; ++t) {
      if (mask & (1u << t)) subscribers_[t].push_back(i);
    }
  }
  dedup_ring_.assign(options_.dedup_capacity, 0);
  dedup_set_ = HashSlots<NoValue>(options_.dedup_capacity);
  pending_.reserve(1024);
}

// ---------------------------------------------------------------------------------------
// Per-record hot path.

Task::PartitionClock& Task::clock(int32_t partition) {
  if (last_clock_ < clocks_.size() && clocks_[last_clock_].partition == partition) {
    return clocks_[last_clock_];
  }
  for (size_t i = 0; i < clocks_.size(); ++i) {
    if (clocks_[i].partition == partition) {
      last_clock_ = i;
      return clocks_[i];
    }
  }
  clocks_.push_back({partition, INT64_MIN, kNoOffset, 0});
  std::sort(clocks_.begin(), clocks_.end(), [](const PartitionClock& a, const PartitionClock& b) {
    return a.partition < b.partition;
  });
  return clock(partition);
}

bool Task::seen_before(uint64_t h) {
  if (options_.dedup_capacity == 0) return false;
  if (dedup_set_.contains(h)) return true;
  remember(h);
  return false;
}

void Task::remember(uint64_t h) {
  // The slot of the id this insertion evicts was warmed by the stages (touch_evictions).
  size_t slot = dedup_total_ % options_.dedup_capacity;
  if (dedup_total_ >= options_.dedup_capacity) dedup_set_.erase(dedup_ring_[slot]);
  dedup_ring_[slot] = h;
  dedup_set_.insert(h);
  ++dedup_total_;
}

void Task::process(const std::vector<RawRecord>& records) {
  constexpr size_t kSlots = kPipelineDepth + 1;
  const size_t n = records.size();
  for (size_t i = 0; i < n + kPipelineDepth; ++i) {
    if (i < n) {
      decode_ahead(records[i], in_flight_[i % kSlots], static_cast<int>(i % kSlots));
      // The records still in flight insert before this one does.
      touch_evictions(dedup_total_ + std::min<size_t>(i, kPipelineDepth), 1);
    }
    if (i >= kMapAhead && i - kMapAhead < n) prefetch_key(in_flight_[(i - kMapAhead) % kSlots]);
    if (i >= kPipelineDepth) apply(in_flight_[(i - kPipelineDepth) % kSlots]);
  }
}

void Task::process_decoded(std::span<const DecodedRecord> records) {
  // No decoding between the stages here, so the stages run by groups of kGroup records: a
  // group's cache-warming loads are issued back to back, so their page walks and misses
  // overlap in the core instead of each one stalling a record's work (README, Measured, has
  // the comparisons with interleaved stages and with prefetches). Group g warms its map and dedup
  // slots (and the dedup slots its insertions will evict) while group g-1 looks its keys
  // up (warming key entries and operator state), group g-2 warms what those lead to (sku
  // names and per-sku data) and group g-3 is applied.
  const size_t n = records.size();
  // Key ids found by prefetch_key for the two groups between it and prefetch_related.
  std::array<KeyId, 2 * kGroup> ids;
  for (size_t g = 0; g < n + 3 * kGroup; g += kGroup) {
    // Runs `fn` over the group `lag` records behind group g.
    auto stage = [&](size_t lag, auto&& fn) {
      if (g < lag) return;
      for (size_t i = g - lag; i < std::min(n, g - lag + kGroup); ++i) fn(i);
    };
    stage(0, [&](size_t i) { prefetch_slots(records[i]); });
    // Groups g-3 to g-1 insert before group g does (fewer at the batch's start).
    if (g < n) touch_evictions(dedup_total_ + std::min(g, 3 * kGroup), std::min(n, g + kGroup) - g);
    stage(kGroup, [&](size_t i) { ids[i % ids.size()] = prefetch_key(records[i]); });
    stage(2 * kGroup, [&](size_t i) { prefetch_related(records[i], ids[i % ids.size()]); });
    stage(3 * kGroup, [&](size_t i) { apply(records[i]); });
  }
}

void Task::touch_evictions(uint64_t first, size_t count) {
  // Insertion number k (k >= capacity) evicts the id inserted at k - capacity.
  const uint64_t cap = options_.dedup_capacity;
  if (cap == 0) return;
  for (uint64_t k = std::max(first, cap); k < first + count; ++k) {
    if (k - cap >= dedup_total_) break;  // not inserted yet
    dedup_set_.touch_for_erase(dedup_ring_[k % cap]);
  }
}

KeyId Task::prefetch_key(const Decoded& d) {
  // Its map slot is in cache by now: find its id and prefetch the key's entry and every
  // subscribed operator's state for it.
  if (d.error != DecodeError::kNone || d.key_hash == 0) return kNoKey;
  KeyId id = keys_.touch_entry(d.key_hash);
  if (id == kNoKey) return kNoKey;
  for (uint32_t op : subscribers_[static_cast<int>(d.event.type)]) operators_[op]->prefetch(id);
  return id;
}

void Task::prefetch_related(const Decoded& d, KeyId id) {
  if (id == kNoKey) return;
  keys_.touch_names(id);
  for (uint32_t op : subscribers_[static_cast<int>(d.event.type)]) {
    operators_[op]->prefetch_related(id, keys_);
  }
}

void Task::decode_ahead(const RawRecord& r, Decoded& d, int decoder) {
  d.record = &r;
  d.detail = &decoders_[decoder]->detail();
  d.error = decoders_[decoder]->decode(r.payload, r.readable_after, d.event, r.oversize_bytes);
  d.key_hash = 0;
  if (d.error == DecodeError::kNone && keyed_event(d.event)) {
    d.key_hash = KeyIndex::hash(d.event.store, d.event.sku);
  }
  prefetch_slots(d);
}

void Task::prefetch_slots(const Decoded& d) {
  if (d.error != DecodeError::kNone) return;
  if (d.event.event_id_hash != 0 && options_.dedup_capacity > 0) {
    dedup_set_.touch(d.event.event_id_hash);
  }
  if (d.key_hash != 0) keys_.touch(d.key_hash);
}

void Task::apply(const Decoded& d) {
  const RawRecord& r = *d.record;
  bump(counters_.read);
  current_origin_ = static_cast<uint32_t>(r.partition);
  current_detail_ = d.detail;
  PartitionClock& pc = clock(r.partition);
  pc.next_offset = r.next_offset;
  pc.line = r.line;
  if (d.error != DecodeError::kNone) {
    dead_letter(r, d.error);
    return;
  }
  const Event& e = d.event;
  const int type = static_cast<int>(e.type);
  if (e.event_id_hash != 0 && seen_before(e.event_id_hash)) {
    bump(counters_.duplicates[type]);
    return;
  }
  if (e.type != EventType::kInventory && watermark_ != INT64_MIN &&
      e.ts_ms < watermark_ - options_.allowed_lateness_ms) {
    late(r, e);
    return;
  }
  dispatch(e, d.key_hash);
  bump(counters_.applied[type]);

  if (e.ts_ms > pc.max_event_ms) {
    pc.max_event_ms = e.ts_ms;
    if (e.ts_ms > stream_time_) {
      stream_time_ = e.ts_ms;
      counters_.max_event_ms.store(e.ts_ms, std::memory_order_relaxed);
    }
    advance_watermark();
  }
}

void Task::track_partitions() {
  std::span<const int32_t> now = source_.partitions();
  if (std::equal(now.begin(), now.end(), tracked_partitions_.begin(), tracked_partitions_.end())) {
    return;
  }
  tracked_partitions_.assign(now.begin(), now.end());
  for (int32_t p : now) clock(p);
}

void Task::advance_watermark() {
  int64_t low = INT64_MAX;
  for (const PartitionClock& c : clocks_) {
    if (source_.partition_idle(c.partition)) continue;
    // A partition that has not delivered an event yet holds the watermark back (its first
    // events may be older than everything seen so far).
    if (c.max_event_ms == INT64_MIN) return;
    low = std::min(low, c.max_event_ms);
  }
  if (low == INT64_MAX) return;
  int64_t wm = low - options_.out_of_orderness_ms;
  if (wm <= watermark_) return;
  watermark_ = wm;
  counters_.watermark_ms.store(wm, std::memory_order_relaxed);
  fire_timers(wm);
}

void Task::fire_timers(int64_t up_to) {
  Timer last{INT64_MIN, 0, 0, 0};
  while (!timers_.empty() && timers_.top().time <= up_to) {
    Timer t = timers_.top();
    timers_.pop();
    if (t == last) continue;  // duplicate registration
    last = t;
    current_op_ = t.op;
    operators_[t.op]->on_timer(t.key, t.time, t.tag, *this);
  }
}

void Task::set_timer(KeyId key, int64_t time_ms, uint32_t tag) {
  timers_.push(Timer{time_ms, current_op_, key, tag});
}

void Task::emit(OutputRecord&& record) {
  record.origin = current_origin_;
  uint64_t* seq = nullptr;
  for (auto& [origin, s] : seqs_) {
    if (origin == current_origin_) seq = &s;
  }
  if (seq == nullptr) {
    seqs_.emplace_back(current_origin_, 0);
    seq = &seqs_.back().second;
  }
  record.seq = ++*seq;
  bump(counters_.outputs[static_cast<int>(record.stream)]);
  pending_.push_back(std::move(record));
}

void Task::dead_letter(const RawRecord& r, DecodeError err) {
  bump(counters_.dead_lettered[static_cast<int>(err)]);
  OutputRecord o;
  o.stream = OutputStream::kDlq;
  o.type = "dlq";
  o.time_ms = r.ingest_ms;
  o.key = source_.name() + ":" + std::to_string(r.partition);
  JsonWriter w(o.json);
  w.begin_object()
      .field("error", decode_error_code(err))
      .field("detail", *current_detail_)
      .field("source", source_.name())
      .field("partition", static_cast<int64_t>(r.partition))
      .field("offset", r.offset)
      .field("line", r.line)
      .key("ingest_time")
      .time_value(r.ingest_ms)
      .field("payload",
             err == DecodeError::kTooLarge ? r.payload.substr(0, kOversizePrefixBytes) : r.payload);
  if (err == DecodeError::kTooLarge) {
    // The payload is a prefix; `bytes` is the record's true length.
    w.field("bytes",
            r.oversize_bytes > 0 ? r.oversize_bytes : static_cast<int64_t>(r.payload.size()));
  }
  w.field("schema_version", 1).end_object();
  emit(std::move(o));
  for (uint32_t i = 0; i < operators_.size(); ++i) {
    current_op_ = i;
    operators_[i]->on_dead_letter(stream_time_, *this);
  }
}

void Task::late(const RawRecord& r, const Event& e) {
  bump(counters_.late[static_cast<int>(e.type)]);
  OutputRecord o;
  o.stream = OutputStream::kLate;
  o.type = "late";
  o.time_ms = e.ts_ms;
  o.key = std::string(e.store) + "|" + std::string(e.sku);
  JsonWriter w(o.json);
  w.begin_object()
      .field("reason", "late")
      .field("type", event_type_name(e.type))
      .key("time")
      .time_value(e.ts_ms)
      .key("watermark")
      .time_value(watermark_)
      .field("source", source_.name())
      .field("partition", static_cast<int64_t>(r.partition))
      .field("offset", r.offset)
      .field("line", r.line)
      .field("payload", r.payload)
      .field("schema_version", 1)
      .end_object();
  emit(std::move(o));
}

void Task::dispatch(const Event& e, uint64_t key_hash) {
  KeyId key = kNoKey;
  if (key_hash != 0) {
    bool added;
    key = keys_.find_or_add(key_hash, e.store, e.sku, added);
  }
  for (uint32_t op : subscribers_[static_cast<int>(e.type)]) {
    current_op_ = op;
    operators_[op]->on_event(e, key, *this);
  }
}

void Task::apply_reference(const Event& e) {
  dispatch(e, keyed_event(e) ? KeyIndex::hash(e.store, e.sku) : 0);
}

void Task::end_of_input() {
  watermark_ = INT64_MAX;
  counters_.watermark_ms.store(INT64_MAX, std::memory_order_relaxed);
  fire_timers(INT64_MAX);
  for (uint32_t i = 0; i < operators_.size(); ++i) {
    current_op_ = i;
    operators_[i]->on_end_of_input(*this);
  }
}

// ---------------------------------------------------------------------------------------
// Loop and checkpoints (cold path).

Status Task::run(const std::atomic<bool>& stop) {
  if (!options_.read_ahead || !source_.allows_read_ahead()) return run_loop(stop, nullptr);
  ReadAhead reader(source_, options_.batch_size, options_.max_record_bytes);
  reader.start();
  Status s = run_loop(stop, &reader);
  reader.stop();
  return s;
}

Status Task::run_loop(const std::atomic<bool>& stop, ReadAhead* reader) {
  std::vector<RawRecord> batch;
  batch.reserve(options_.batch_size);
  auto last_checkpoint = std::chrono::steady_clock::now();
  while (!stop.load(std::memory_order_relaxed)) {
    size_t records = 0;
    bool at_end = false;
    auto batch_start = std::chrono::steady_clock::now();
    if (reader != nullptr) {
      if (ReadAhead::Batch* b = reader->next(100)) {
        SW_RETURN_IF_ERROR(b->status);
        track_partitions();
        batch_start = std::chrono::steady_clock::now();
        process_decoded(std::span<const DecodedRecord>(b->decoded.data(), b->records.size()));
        records = b->records.size();
        at_end = b->at_end;
        reader->release();
      }
    } else {
      batch.clear();
      SW_RETURN_IF_ERROR(source_.poll(batch, options_.batch_size, 100));
      track_partitions();
      batch_start = std::chrono::steady_clock::now();
      process(batch);
      records = batch.size();
      at_end = source_.at_end();
    }
    if (!options_.exactly_once) SW_RETURN_IF_ERROR(release_pending());
    if (batch_hook_ && records > 0) {
      batch_hook_(BatchStats{
          records,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count(),
          stream_time_, watermark_});
    }
    if (loop_hook_) loop_hook_();
    if (at_end) {
      // A restart after a completed run must not end the operators twice.
      if (watermark_ != INT64_MAX) end_of_input();
      SW_RETURN_IF_ERROR(checkpoint());
      SW_RETURN_IF_ERROR(wait_checkpoint());
      for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->close());
      return Status::ok();
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_checkpoint >= std::chrono::milliseconds(options_.checkpoint_interval_ms)) {
      SW_RETURN_IF_ERROR(checkpoint());
      last_checkpoint = now;
    }
  }
  SW_RETURN_IF_ERROR(checkpoint());
  SW_RETURN_IF_ERROR(wait_checkpoint());
  for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->close());
  return Status::ok();
}

Status Task::release_pending() {
  if (pending_.empty()) return Status::ok();
  // Sinks that stage durable entries (outboxes) get them committed before release; the state
  // itself is checkpointed on the interval as usual.
  for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->prepare(pending_, eager_));
  if (!eager_.empty()) {
    SW_RETURN_IF_ERROR(wait_checkpoint());  // one store commit at a time
    SW_RETURN_IF_ERROR(store_.commit(eager_));
  }
  for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->committed());
  pending_.clear();
  eager_.clear();
  return Status::ok();
}

std::string Task::encode_meta() const {
  std::string out;
  ByteWriter w(out);
  w.put<uint8_t>(kMetaVersion);
  w.put<int64_t>(watermark_);
  w.put<int64_t>(stream_time_);
  w.put<uint32_t>(static_cast<uint32_t>(clocks_.size()));
  for (const PartitionClock& c : clocks_) {
    w.put(c.partition);
    w.put(c.max_event_ms);
    w.put(c.next_offset);
    w.put(c.line);
  }
  w.put<uint32_t>(static_cast<uint32_t>(seqs_.size()));
  for (const auto& [origin, seq] : seqs_) {
    w.put(origin);
    w.put(seq);
  }
  // Counters, so accounting covers the whole run across restarts.
  w.put<uint64_t>(counters_.read.load());
  for (const auto* arr : {&counters_.applied, &counters_.duplicates, &counters_.late}) {
    for (const auto& c : *arr) w.put<uint64_t>(c.load());
  }
  for (const auto& c : counters_.dead_lettered) w.put<uint64_t>(c.load());
  for (const auto& c : counters_.outputs) w.put<uint64_t>(c.load());
  w.put<uint64_t>(counters_.checkpoints.load());
  return out;
}

Status Task::decode_meta(std::string_view v) {
  ByteReader r(v);
  uint8_t version;
  uint32_t n;
  auto bad = [] { return Status::corruption("task checkpoint metadata is truncated"); };
  if (!r.get(version) || version != kMetaVersion)
    return Status::corruption("unknown task metadata version");
  if (!r.get(watermark_) || !r.get(stream_time_) || !r.get(n)) return bad();
  clocks_.clear();
  for (uint32_t i = 0; i < n; ++i) {
    PartitionClock c{};
    if (!r.get(c.partition) || !r.get(c.max_event_ms) || !r.get(c.next_offset) || !r.get(c.line)) {
      return bad();
    }
    clocks_.push_back(c);
  }
  if (!r.get(n)) return bad();
  seqs_.clear();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t origin;
    uint64_t seq;
    if (!r.get(origin) || !r.get(seq)) return bad();
    seqs_.emplace_back(origin, seq);
  }
  uint64_t v64;
  if (!r.get(v64)) return bad();
  counters_.read.store(v64);
  for (auto* arr : {&counters_.applied, &counters_.duplicates, &counters_.late}) {
    for (auto& c : *arr) {
      if (!r.get(v64)) return bad();
      c.store(v64);
    }
  }
  for (auto& c : counters_.dead_lettered) {
    if (!r.get(v64)) return bad();
    c.store(v64);
  }
  for (auto& c : counters_.outputs) {
    if (!r.get(v64)) return bad();
    c.store(v64);
  }
  if (!r.get(v64)) return bad();
  counters_.checkpoints.store(v64);
  counters_.watermark_ms.store(watermark_);
  counters_.max_event_ms.store(stream_time_);
  return Status::ok();
}

Task::~Task() {
  wait_checkpoint().permit_unchecked();
}

Status Task::wait_checkpoint() {
  if (!committer_.joinable()) return Status::ok();
  committer_.join();
  if (!committer_status_.is_ok()) {
    bump(counters_.checkpoint_failures);
    return committer_status_;
  }
  source_.on_checkpoint(committing_positions_);
  return Status::ok();
}

void Task::start_committer(bool with_sinks) {
  committer_status_ = Status::ok();
  committer_ = std::thread([this, with_sinks] {
    if (options_.commit_nice > 0) {
      // This thread only (Linux nice is per thread; it starts at its creator's): the commit
      // yields the cores to the task and reader threads and runs in their gaps; the task
      // waits for it at the next checkpoint at the latest. Advisory: a failure changes nothing.
      const id_t self = static_cast<id_t>(syscall(SYS_gettid));
      errno = 0;
      const int base = getpriority(PRIO_PROCESS, self);
      if (errno == 0) {
        (void)setpriority(PRIO_PROCESS, self, std::min(19, base + options_.commit_nice));
      }
    }
    committer_status_ = commit_job(committing_records_, committing_batch_, with_sinks);
  });
}

Status Task::commit_job(std::vector<OutputRecord>& records, StateBatch& batch, bool with_sinks) {
  auto start = std::chrono::steady_clock::now();
  if (with_sinks) {
    for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->prepare(records, batch));
  }
  SW_RETURN_IF_ERROR(store_.commit(batch));
  if (with_sinks) {
    for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->committed());
  }
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  counters_.checkpoint_duration_us_last.store(static_cast<uint64_t>(us));
  bump(counters_.checkpoint_duration_us_total, static_cast<uint64_t>(us));
  counters_.checkpoint_bytes_last.store(batch.bytes());
  records.clear();
  batch.clear();
  return Status::ok();
}

Status Task::checkpoint() {
  SW_RETURN_IF_ERROR(wait_checkpoint());
  StateBatch& batch = committing_batch_;
  batch.clear();
  for (Operator* op : operators_) op->snapshot(batch);
  // New keys, in id order.
  std::string v;
  for (size_t first = keys_persisted_; first < keys_.size(); first += kKeysPerChunk) {
    v.clear();
    ByteWriter w(v);
    const size_t end = std::min(first + kKeysPerChunk, keys_.size());
    for (size_t id = first; id < end; ++id) {
      w.put_string(keys_.store(static_cast<KeyId>(id)));
      w.put_string(keys_.sku(static_cast<KeyId>(id)));
    }
    batch.put(kKeyChunksNs, be32_key(static_cast<uint32_t>(first)), v);
  }
  keys_persisted_ = keys_.size();
  // Dedup ids inserted since the last checkpoint, as one chunk; drop fully evicted chunks.
  if (dedup_total_ > dedup_persisted_ && options_.dedup_capacity > 0) {
    uint64_t first = dedup_persisted_;
    if (dedup_total_ - dedup_persisted_ > options_.dedup_capacity) {
      first = dedup_total_ - options_.dedup_capacity;  // older ids already left the ring
    }
    v.clear();
    for (uint64_t i = first; i < dedup_total_; ++i) {
      uint64_t h = dedup_ring_[i % options_.dedup_capacity];
      v.append(reinterpret_cast<const char*>(&h), sizeof h);
    }
    batch.put(kDedupNs, be64_key(first), v);
    dedup_chunks_.emplace_back(first, dedup_total_);
    dedup_persisted_ = dedup_total_;
    uint64_t horizon =
        dedup_total_ > options_.dedup_capacity ? dedup_total_ - options_.dedup_capacity : 0;
    while (!dedup_chunks_.empty() && dedup_chunks_.front().second <= horizon) {
      batch.remove(kDedupNs, be64_key(dedup_chunks_.front().first));
      dedup_chunks_.erase(dedup_chunks_.begin());
    }
  }
  bump(counters_.checkpoints);
  batch.put(kTaskNs, "meta", encode_meta());
  committing_positions_.clear();
  for (const PartitionClock& c : clocks_) {
    if (c.next_offset == kNoOffset) continue;
    committing_positions_.push_back({c.partition, c.next_offset, c.line});
  }
  source_.snapshot(committing_positions_, batch);
  counters_.state_keys.store(keys_.size());
  size_t bytes = keys_.memory_bytes() + dedup_ring_.capacity() * 8 +
                 dedup_set_.capacity() * dedup_set_.slot_bytes();
  for (Operator* op : operators_) bytes += op->memory_bytes();
  counters_.state_bytes.store(bytes);
  if (options_.exactly_once) {
    committing_records_.swap(pending_);
    pending_.clear();
    start_committer(true);
    return Status::ok();
  }
  // at_least_once: outputs were already released per batch, without waiting for their
  // acknowledgements; all of them must be acknowledged before positions past them commit.
  // Sinks are called on this thread only (run() calls them per batch); the store commit and
  // its fsync run in the background as in exactly_once.
  committing_records_.clear();
  Status released = release_pending();  // outputs of end_of_input() or of bare process()
  if (!released.is_ok()) {
    bump(counters_.checkpoint_failures);
    return released;
  }
  for (Sink* s : sinks_) {
    Status st = s->drain();
    if (st.is_ok()) st = s->prepare({}, batch);
    if (!st.is_ok()) {
      bump(counters_.checkpoint_failures);
      return st;
    }
  }
  start_committer(false);
  return Status::ok();
}

Status Task::restore() {
  auto meta = store_.get(kTaskNs, "meta");
  if (!meta.is_ok()) return meta.status();
  if (meta.value().has_value()) {
    SW_RETURN_IF_ERROR(decode_meta(*meta.value()));
    restored_ = true;
  }
  // Keys in id order: ids are identical to the uninterrupted run.
  Status scan_err = Status::ok();
  auto restore_key = [&](std::string_view store, std::string_view sku) {
    bool added;
    keys_.find_or_add(KeyIndex::hash(store, sku), store, sku, added);
    if (!added) scan_err = Status::corruption("key index checkpoint repeats a key");
    return added;
  };
  SW_RETURN_IF_ERROR(store_.scan_prefix(kKeysNs, "", [&](std::string_view k, std::string_view v) {
    uint32_t id = from_be32(k);
    size_t sep = v.find('\x1f');
    if (id != keys_.size() || sep == std::string_view::npos) {
      scan_err = Status::corruption("key index checkpoint is not dense");
      return false;
    }
    return restore_key(v.substr(0, sep), v.substr(sep + 1));
  }));
  SW_RETURN_IF_ERROR(scan_err);
  SW_RETURN_IF_ERROR(
      store_.scan_prefix(kKeyChunksNs, "", [&](std::string_view k, std::string_view v) {
        if (k.size() != 4 || from_be32(k) != keys_.size()) {
          scan_err = Status::corruption("key index checkpoint is not dense");
          return false;
        }
        ByteReader r(v);
        std::string store, sku;
        while (!r.empty()) {
          if (!r.get_string(store) || !r.get_string(sku)) {
            scan_err = Status::corruption("key index checkpoint chunk is truncated");
            return false;
          }
          if (!restore_key(store, sku)) return false;
        }
        return true;
      }));
  SW_RETURN_IF_ERROR(scan_err);
  keys_persisted_ = keys_.size();
  // Dedup chunks in insertion order.
  dedup_total_ = 0;
  dedup_set_.clear();
  SW_RETURN_IF_ERROR(store_.scan_prefix(kDedupNs, "", [&](std::string_view k, std::string_view v) {
    uint64_t first = from_be64(k);
    uint64_t n = v.size() / sizeof(uint64_t);
    if (dedup_total_ < first) dedup_total_ = first;  // ids before `first` were evicted
    for (uint64_t i = 0; i < n && options_.dedup_capacity > 0; ++i) {
      uint64_t h;
      std::memcpy(&h, v.data() + i * sizeof h, sizeof h);
      remember(h);
    }
    dedup_chunks_.emplace_back(first, first + n);
    return true;
  }));
  dedup_persisted_ = dedup_total_;
  for (uint32_t i = 0; i < operators_.size(); ++i) {
    current_op_ = i;
    SW_RETURN_IF_ERROR(operators_[i]->restore(store_, *this));
  }
  for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->recover(store_));
  std::vector<SourcePosition> positions;
  for (const PartitionClock& c : clocks_) {
    if (c.next_offset != kNoOffset) positions.push_back({c.partition, c.next_offset, c.line});
  }
  SW_RETURN_IF_ERROR(source_.restore(store_));
  return source_.seek(positions);
}

}  // namespace sw
