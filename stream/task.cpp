#include "stream/task.h"

#include <algorithm>

#include "stream/config.h"
#include "stream/json_writer.h"

namespace sw {

namespace {
// The held events (EventOrder) and the time last handed to the operators, beside the task's
// meta record.
constexpr std::string_view kEventOrderNs = "task";
constexpr std::string_view kEventOrderKey = "event_order";
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
  o.event_time_order = c.get_bool("pipeline.event_time_order", true);
  o.max_future_ms = c.get_duration_ms("pipeline.max_future", o.max_future_ms);
  o.max_future_replay_ms = c.get_duration_ms("pipeline.max_future_replay", o.max_future_replay_ms);
  if (o.max_future_ms <= 0) {
    throw ConfigError("pipeline.max_future", "must be > 0", "use e.g. 1d (the default)");
  }
  if (o.max_future_replay_ms <= 0) {
    throw ConfigError("pipeline.max_future_replay", "must be > 0", "use e.g. 30d (the default)");
  }
  o.commit_nice = static_cast<int>(c.get_int("state.commit_nice", 10, 0, 19));
  return o;
}

Task::Task(TaskOptions options, Source& source, std::vector<Sink*> sinks, StateStore& store,
           std::vector<Operator*> operators, const Calendar& calendar)
    : options_(options),
      source_(source),
      store_(store),
      operators_(std::move(operators)),
      calendar_(calendar),
      decoders_(),
      clock_(options.out_of_orderness_ms, counters_),
      dedup_(options.dedup_capacity),
      checkpointer_(store, source, std::move(sinks), counters_, options.exactly_once,
                    options.commit_nice) {
  for (int i = 0; i <= kPipelineDepth; ++i) {
    decoders_.push_back(std::make_unique<Decoder>(options.max_record_bytes));
  }
  for (uint32_t i = 0; i < operators_.size(); ++i) {
    uint32_t mask = operators_[i]->subscriptions();
    for (int t = 0; t < kEventTypeCount; ++t) {
      if (mask & (1u << t)) subscribers_[t].push_back(i);
    }
  }
  pending_.reserve(1024);
  // Input stage: a source that merges its partitions by event time is one ordered stream.
  clock_.follow_stream_time(source.merges_partitions());
}

// ---------------------------------------------------------------------------------------
// Per-record hot path.

void Task::process(const std::vector<RawRecord>& records) {
  constexpr size_t kSlots = kPipelineDepth + 1;
  const size_t n = records.size();
  for (size_t i = 0; i < n + kPipelineDepth; ++i) {
    if (i < n) {
      decode_ahead(records[i], in_flight_[i % kSlots], static_cast<int>(i % kSlots));
      // The records still in flight insert before this one does.
      dedup_.touch_evictions(dedup_.total() + std::min<size_t>(i, kPipelineDepth), 1);
    }
    if (i >= kMapAhead && i - kMapAhead < n) {
      const size_t slot = (i - kMapAhead) % kSlots;
      in_flight_keys_[slot] = prefetch_key(in_flight_[slot]);
    }
    if (i >= kPipelineDepth) {
      const size_t slot = (i - kPipelineDepth) % kSlots;
      apply(in_flight_[slot], in_flight_keys_[slot]);
    }
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
  // Key ids found by prefetch_key, for prefetch_related and apply (three groups in flight).
  std::array<KeyId, 4 * kGroup> ids;
  for (size_t g = 0; g < n + 3 * kGroup; g += kGroup) {
    // Runs `fn` over the group `lag` records behind group g.
    auto stage = [&](size_t lag, auto&& fn) {
      if (g < lag) return;
      for (size_t i = g - lag; i < std::min(n, g - lag + kGroup); ++i) fn(i);
    };
    stage(0, [&](size_t i) { prefetch_slots(records[i]); });
    // Groups g-3 to g-1 insert before group g does (fewer at the batch's start).
    if (g < n) {
      dedup_.touch_evictions(dedup_.total() + std::min(g, 3 * kGroup), std::min(n, g + kGroup) - g);
    }
    stage(kGroup, [&](size_t i) { ids[i % ids.size()] = prefetch_key(records[i]); });
    stage(2 * kGroup, [&](size_t i) { prefetch_related(records[i], ids[i % ids.size()]); });
    stage(3 * kGroup, [&](size_t i) { apply(records[i], ids[i % ids.size()]); });
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
  // Fields the record's type does not set keep what they were: clear the strings, which would
  // otherwise point into an earlier record's decoding (the event order copies them).
  for (std::string_view* v : event_string_fields(d.event)) *v = {};
  d.error = decoders_[decoder]->decode(r.payload, r.readable_after, d.event, r.oversize_bytes);
  d.key_hash = 0;
  if (d.error == DecodeError::kNone && keyed_event(d.event)) {
    d.key_hash = KeyIndex::hash(d.event.store, d.event.sku);
  }
  prefetch_slots(d);
}

void Task::prefetch_slots(const Decoded& d) {
  if (d.error != DecodeError::kNone) return;
  if (d.event.event_id_hash != 0) dedup_.touch(d.event.event_id_hash);
  if (d.key_hash != 0) keys_.touch(d.key_hash);
}

void Task::apply(const Decoded& d, KeyId key) {
  const RawRecord& r = *d.record;
  bump(counters_.read);
  current_origin_ = static_cast<uint32_t>(r.partition);
  current_detail_ = d.detail;
  current_record_ = &r;
  EventClock::PartitionClock& pc = clock_.clock(r.partition);
  pc.next_offset = r.next_offset;
  pc.line = r.line;
  if (d.error != DecodeError::kNone) {
    dead_letter(r, d.error);
    return;
  }
  const Event& e = d.event;
  if (const DecodeError err = check_event_time(pc, e.ts_ms, r.ingest_ms);
      err != DecodeError::kNone) {
    dead_letter(r, err);
    return;
  }
  const int type = static_cast<int>(e.type);
  if (e.event_id_hash != 0 && dedup_.seen_before(e.event_id_hash)) {
    bump(counters_.duplicates[type]);
    return;
  }
  const int64_t watermark = clock_.watermark();
  if (e.type != EventType::kInventory && watermark != INT64_MIN &&
      e.ts_ms < watermark - options_.allowed_lateness_ms) {
    late(r, e);
    return;
  }
  bump(counters_.applied[type]);
  if (options_.event_time_order && e.ts_ms > release_frontier(watermark)) {
    order_.push(e.ts_ms, r, e, d.key_hash);
  } else {
    // Arrival order: the option is off, or the watermark already passed the event (allowed
    // lateness, or an inventory movement, which is never dropped for lateness).
    dispatch(e, d.key_hash, key);
  }
  if (clock_.observe(pc, e.ts_ms) && clock_.advance_watermark(source_)) {
    advance_to(clock_.watermark());
  }
}

void Task::advance_to(int64_t up_to) {
  if (!options_.event_time_order) {
    fire_timers(up_to);
    return;
  }
  const int64_t frontier = release_frontier(up_to);
  release_up_to(frontier);
  fire_timers(frontier);
}

void Task::release_up_to(int64_t frontier) {
  while (!order_.empty() && order_.top().ts_ms <= frontier) {
    size_t n = 0;
    for (; n < kReleaseGroup && !order_.empty() && order_.top().ts_ms <= frontier; ++n) {
      Released& r = released_[n];
      r.slot = order_.take();
      const EventOrder::Held& h = order_.at(r.slot);
      r.event = &h.event;
      r.key_hash = h.key_hash;
      if (r.key_hash != 0) keys_.touch(r.key_hash);
    }
    for (size_t i = 0; i < n; ++i) {
      Released& r = released_[i];
      r.key = r.key_hash != 0 ? keys_.touch_entry(r.key_hash) : kNoKey;
      if (r.key == kNoKey) continue;
      for (uint32_t op : subscribers_[static_cast<int>(r.event->type)]) {
        operators_[op]->prefetch(r.key);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      Released& r = released_[i];
      const EventOrder::Held& h = order_.at(r.slot);
      // Timers due at the event's time fire first: a timer at T closes what ends at T, an
      // event at T belongs to what starts there.
      fire_timers(h.ts_ms);
      applied_time_ = std::max(applied_time_, h.ts_ms);
      current_origin_ = static_cast<uint32_t>(h.partition);
      // The held event's own source position, for what reads current_record() (the audit
      // log's input positions): the record last read is a later one.
      RawRecord held;
      held.payload = h.payload();
      held.readable_after = EventOrder::kPadding;
      held.partition = h.partition;
      held.offset = h.offset;
      held.line = h.line;
      held.ingest_ms = h.ingest_ms;
      current_record_ = &held;
      dispatch(*r.event, r.key_hash, r.key);
      current_record_ = nullptr;
      order_.free(r.slot);
    }
  }
}

DecodeError Task::check_event_time(const EventClock::PartitionClock& pc, int64_t ts_ms,
                                   int64_t ingest_ms) {
  const char* rule = nullptr;
  int64_t reference = 0, limit = 0;
  if (ts_ms >= TaskOptions::kMaxEventMs) {
    rule = "at or after 2100-01-01, outside the plausible range";
  } else if (source_.bounded()) {
    if (pc.max_event_ms == INT64_MIN) return DecodeError::kNone;
    reference = pc.max_event_ms;
    limit = options_.max_future_replay_ms;
    if (ts_ms - reference <= limit) return DecodeError::kNone;
    rule = "ahead of its partition's latest event time by more than pipeline.max_future_replay";
  } else {
    reference = ingest_ms;
    limit = options_.max_future_ms;
    if (ts_ms - reference <= limit) return DecodeError::kNone;
    rule = "ahead of the wall clock by more than pipeline.max_future";
  }
  time_detail_ = "event time " + format_time(ts_ms) + " is " + rule;
  if (limit > 0) {
    time_detail_ += " (" + format_time(reference) + " + " + std::to_string(limit / 1000) + " s)";
  }
  current_detail_ = &time_detail_;
  return DecodeError::kFutureTimestamp;
}

void Task::fire_timers(int64_t up_to) {
  clock_.fire_timers(up_to, [&](const EventClock::Timer& t) {
    applied_time_ = std::max(applied_time_, t.time);
    current_op_ = t.op;
    operators_[t.op]->on_timer(t.key, t.time, t.tag, *this);
  });
}

void Task::set_timer(KeyId key, int64_t time_ms, uint32_t tag) {
  clock_.add_timer(EventClock::Timer{time_ms, current_op_, key, tag});
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
  w.stamp().end_object();
  emit(std::move(o));
  for (uint32_t i = 0; i < operators_.size(); ++i) {
    current_op_ = i;
    operators_[i]->on_dead_letter(clock_.stream_time(), *this);
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
      .time_value(clock_.watermark())
      .field("source", source_.name())
      .field("partition", static_cast<int64_t>(r.partition))
      .field("offset", r.offset)
      .field("line", r.line)
      .field("payload", r.payload)
      .stamp()
      .end_object();
  emit(std::move(o));
}

void Task::dispatch(const Event& e, uint64_t key_hash, KeyId key) {
  if (key == kNoKey && key_hash != 0) {
    bool added;
    key = keys_.find_or_add(key_hash, e.store, e.sku, added);
  }
  for (uint32_t op : subscribers_[static_cast<int>(e.type)]) {
    current_op_ = op;
    operators_[op]->on_event(e, key, *this);
  }
}

void Task::apply_reference(const Event& e) {
  dispatch(e, keyed_event(e) ? KeyIndex::hash(e.store, e.sku) : 0, kNoKey);
}

void Task::end_of_input() {
  release_up_to(INT64_MAX);
  clock_.end_of_time();
  applied_time_ = INT64_MAX;
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
        clock_.track(source_.partitions());
        batch_start = std::chrono::steady_clock::now();
        process_decoded(std::span<const DecodedRecord>(b->decoded.data(), b->records.size()));
        records = b->records.size();
        at_end = b->at_end;
        reader->release();
      }
    } else {
      batch.clear();
      SW_RETURN_IF_ERROR(source_.poll(batch, options_.batch_size, 100));
      clock_.track(source_.partitions());
      batch_start = std::chrono::steady_clock::now();
      process(batch);
      records = batch.size();
      at_end = source_.at_end();
    }
    if (!options_.exactly_once) SW_RETURN_IF_ERROR(checkpointer_.release(pending_));
    if (batch_hook_ && records > 0) {
      batch_hook_(BatchStats{
          records,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count(),
          clock_.stream_time(), clock_.watermark()});
    }
    if (loop_hook_) loop_hook_();
    if (at_end) {
      // A restart after a completed run must not end the operators twice.
      if (clock_.watermark() != INT64_MAX) end_of_input();
      SW_RETURN_IF_ERROR(checkpoint());
      SW_RETURN_IF_ERROR(wait_checkpoint());
      SW_RETURN_IF_ERROR(checkpointer_.close_sinks());
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
  SW_RETURN_IF_ERROR(checkpointer_.close_sinks());
  return Status::ok();
}

Task::~Task() {
  checkpointer_.wait().permit_unchecked();
}

Status Task::wait_checkpoint() {
  return checkpointer_.wait();
}

Status Task::checkpoint() {
  SW_RETURN_IF_ERROR(checkpointer_.wait());
  StateBatch& batch = checkpointer_.next_batch();
  for (Operator* op : operators_) op->snapshot(batch, keys_);
  checkpointer_.snapshot_keys(keys_, batch);  // new keys, in id order
  dedup_.snapshot(batch);
  {
    // The held events: the source positions are past them.
    std::string held;
    ByteWriter w(held);
    w.put(applied_time_);
    order_.encode(w);
    batch.put(kEventOrderNs, kEventOrderKey, held);
  }
  bump(counters_.checkpoints);
  checkpointer_.put_meta(batch, Checkpointer::encode_meta(clock_, seqs_, counters_));
  std::vector<SourcePosition> positions;
  for (const EventClock::PartitionClock& c : clock_.clocks()) {
    if (c.next_offset == EventClock::kNoOffset) continue;
    positions.push_back({c.partition, c.next_offset, c.line});
  }
  source_.snapshot(positions, batch);
  counters_.state_keys.store(keys_.size());
  size_t bytes = keys_.memory_bytes() + dedup_.memory_bytes() + order_.memory_bytes();
  for (Operator* op : operators_) bytes += op->memory_bytes();
  counters_.state_bytes.store(bytes);
  return checkpointer_.commit(pending_, std::move(positions));
}

Status Task::restore() {
  auto meta = checkpointer_.read_meta();
  if (!meta.is_ok()) return meta.status();
  if (meta.value().has_value()) {
    SW_RETURN_IF_ERROR(Checkpointer::decode_meta(*meta.value(), clock_, seqs_, counters_));
    restored_ = true;
  }
  SW_RETURN_IF_ERROR(checkpointer_.restore_keys(keys_));
  SW_RETURN_IF_ERROR(dedup_.restore(store_));
  applied_time_ = clock_.watermark();
  auto held = store_.get(kEventOrderNs, kEventOrderKey);
  if (!held.is_ok()) return held.status();
  if (held.value().has_value()) {
    // Absent in checkpoints of builds that applied events in arrival order: nothing held.
    ByteReader r(*held.value());
    if (!r.get(applied_time_)) return Status::corruption("task checkpoint: event order truncated");
    SW_RETURN_IF_ERROR(order_.decode(r));
  }
  for (uint32_t i = 0; i < operators_.size(); ++i) {
    current_op_ = i;
    SW_RETURN_IF_ERROR(operators_[i]->restore(store_, *this));
  }
  SW_RETURN_IF_ERROR(checkpointer_.recover_sinks());
  std::vector<SourcePosition> positions;
  for (const EventClock::PartitionClock& c : clock_.clocks()) {
    if (c.next_offset != EventClock::kNoOffset) {
      positions.push_back({c.partition, c.next_offset, c.line});
    }
  }
  SW_RETURN_IF_ERROR(source_.restore(store_));
  return source_.seek(positions);
}

}  // namespace sw
