#pragma once
// The task (DESIGN.md §5): owns a source's partitions and all their keys, and runs one loop —
// poll a batch, decode, dedup, route by key, call operators, advance watermarks and fire
// timers, and at checkpoint time commit state + positions + outputs atomically. The loop and
// the per-record stages live here; the dedup window (stream/dedup_window.h), the event clock
// (stream/event_clock.h: partition clocks, watermark, timers) and the checkpointer
// (stream/checkpointer.h: background commit, sinks, meta record) are units of their own.
//
// Threading: a task runs on one thread. Counters are readable from others.
// Determinism: every decision is per record in input order; batch size, checkpoint timing
// and restarts do not change outputs. With TaskOptions::event_time_order (the default) the
// operators get the accepted events in event-time order (stream/event_order.h) with the
// timers interleaved by time, so their calls do not depend on the input's order within the
// out-of-orderness bound either (DESIGN.md §4).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "stream/calendar.h"
#include "stream/checkpointer.h"
#include "stream/counters.h"
#include "stream/decoder.h"
#include "stream/dedup_window.h"
#include "stream/event_clock.h"
#include "stream/event_order.h"
#include "stream/key_index.h"
#include "stream/operator.h"
#include "stream/read_ahead.h"
#include "stream/sink.h"
#include "stream/source.h"
#include "stream/state_store.h"

namespace sw {

class Config;

struct TaskOptions {
  int64_t checkpoint_interval_ms = 1000;
  size_t batch_size = 1024;
  int64_t out_of_orderness_ms = 5 * 60 * 1000;  // watermark = max event time - this
  int64_t allowed_lateness_ms = 0;              // late = ts < watermark - this
  size_t dedup_capacity = 1'000'000;            // event_id horizon (most recent ids)
  bool exactly_once = true;
  size_t max_record_bytes = 1 << 20;
  //! Event-time sanity (docs/contract.md "Event time"): a live source's event more than
  //! this ahead of the wall clock, or a replay's event more than max_future_replay_ms ahead
  //! of its partition's largest accepted event time, is dead-lettered future_timestamp, and
  //! so is any event at or after kMaxEventMs. It changes no state, watermark or timer.
  int64_t max_future_ms = 24 * 3600 * 1000;
  int64_t max_future_replay_ms = 30LL * 24 * 3600 * 1000;
  static constexpr int64_t kMaxEventMs = kMaxPlausibleEventMs;
  //! Poll and decode on a reader thread while this one applies (sources that allow it).
  bool read_ahead = true;
  //! Applies events in event-time order (stream/event_order.h): an accepted event waits
  //! until the watermark (rounded down to kReleaseStepMs) passes its time, then goes to the
  //! operators by (event time, payload), the timers due interleaved by time. Outputs then do not
  //! depend on how the input was ordered or partitioned within the out-of-orderness bound, at the
  //! cost of holding every event back by that bound. false: events apply in arrival order.
  bool event_time_order = true;
  // Added to the nice value of the background checkpoint commit thread (0 = the task's).
  int commit_nice = 10;

  //! Reads pipeline.* / state.* / delivery keys.
  static TaskOptions from_config(const Config& config);
};

class Task final : public OperatorContext {
 public:
  Task(TaskOptions options, Source& source, std::vector<Sink*> sinks, StateStore& store,
       std::vector<Operator*> operators, const Calendar& calendar);

  //! Restores operators, keys, dedup window, positions, watermark and sinks from the last
  //! checkpoint (a fresh store starts empty). Must be called once before run().
  Status restore();
  //! Runs until the source is at end (then closes every window, checkpoints, returns) or
  //! `stop` becomes true (then checkpoints and returns).
  Status run(const std::atomic<bool>& stop);
  //! Processes one batch of raw records (exposed for tests and benchmarks).
  void process(const std::vector<RawRecord>& records);
  //! Moves the watermark to the end of time: fires every timer, ends operators.
  void end_of_input();
  //! Takes a checkpoint: snapshots state into a batch on this thread, then hands it to a
  //! background committer — so the RocksDB write and the fsyncs overlap with processing.
  //! exactly_once: the committer also lets the sinks stage the interval's outputs into the
  //! batch and releases them after the commit. at_least_once: outputs went out per batch;
  //! this call first waits until the sinks have them acknowledged (Sink::drain()). At most
  //! one commit is in flight: this call first waits for the previous one and returns its
  //! error, if any.
  Status checkpoint();
  //! Called on the task thread after every polled batch (metrics: batch size, processing
  //! seconds, largest event time so far) and once per loop iteration even when idle
  //! (serves queryable-state requests against live operator state).
  struct BatchStats {
    size_t records;
    double seconds;
    int64_t max_event_ms;
    int64_t watermark_ms;
  };
  void set_batch_hook(std::function<void(const BatchStats&)> hook) {
    batch_hook_ = std::move(hook);
  }
  void set_loop_hook(std::function<void()> hook) { loop_hook_ = std::move(hook); }
  //! Waits for the in-flight checkpoint commit; returns its status.
  Status wait_checkpoint();
  ~Task() override;
  //! Applies a reference record loaded at start-up (items file) to the operators, outside
  //! the stream's accounting. Call after restore(), before run().
  void apply_reference(const Event& event);

  const TaskCounters& counters() const { return counters_; }
  TaskCounters& counters() { return counters_; }
  bool restored_from_checkpoint() const { return restored_; }
  OperatorViews& mutable_views() { return views_; }
  const std::vector<Operator*>& operators() const { return operators_; }

  // OperatorContext
  void emit(OutputRecord&& record) override;
  void set_timer(KeyId key, int64_t time_ms, uint32_t tag) override;
  //! With event_time_order: the time of the latest event or timer handed to the operators
  //! (a function of the ordered sequence); otherwise the input watermark.
  int64_t watermark() const override {
    return options_.event_time_order ? applied_time_ : clock_.watermark();
  }
  const KeyIndex& keys() const override { return keys_; }
  const Calendar& calendar() const override { return calendar_; }
  const OperatorViews& views() const override { return views_; }
  const RawRecord* current_record() const override { return current_record_; }

 private:
  // Records flow through three stages, so the cache misses of million-key tables overlap
  // with decoding other records: decode (prefetches the record's key-index and dedup
  // slots), kMapAhead records later look its key up (prefetches the key's entry and the
  // operators' state for it), kStateAhead records later apply it. Each in-flight record
  // has its own decoder (string views stay valid).
  static constexpr int kMapAhead = 4;
  static constexpr int kStateAhead = 4;
  static constexpr int kPipelineDepth = kMapAhead + kStateAhead;
  static constexpr size_t kGroup = 32;  // records per stage group (process_decoded)
  using Decoded = DecodedRecord;
  void decode_ahead(const RawRecord& r, Decoded& d, int decoder);
  //! The same pipeline minus decoding, for batches decoded by the read-ahead thread.
  void process_decoded(std::span<const DecodedRecord> records);
  // The warming stages load table slots into cache (huge_pages::touch), not prefetch.
  void prefetch_slots(const Decoded& d);  // dedup and key-index slots
  //! The key's entry and operator state; returns the key's id (kNoKey if none yet), which
  //! apply() then uses: one key lookup per record.
  KeyId prefetch_key(const Decoded& d);
  //! The key's names and operators' related data, for the id prefetch_key returned.
  void prefetch_related(const Decoded& d, KeyId id);
  //! Applies a record; `key` is prefetch_key's answer for it (kNoKey: look it up or add it).
  //! Event-time sanity (TaskOptions::max_future_ms); kNone or kFutureTimestamp, with the
  //! detail in time_detail_.
  DecodeError check_event_time(const EventClock::PartitionClock& pc, int64_t ts_ms,
                               int64_t ingest_ms);
  void apply(const Decoded& d, KeyId key);
  Status run_loop(const std::atomic<bool>& stop, ReadAhead* reader);
  void dead_letter(const RawRecord& r, DecodeError e);
  void late(const RawRecord& r, const Event& e);
  //! Routes an event to its key (key_hash 0 = not keyed; `key` kNoKey = not looked up yet)
  //! and the operators subscribed to its type.
  void dispatch(const Event& event, uint64_t key_hash, KeyId key);
  void fire_timers(int64_t up_to);
  //! The input watermark reached `up_to`: with event_time_order, applies the held events up
  //! to its release frontier in order, with the timers due before each, then fires the
  //! timers up to the frontier; otherwise fires the timers up to `up_to`.
  void advance_to(int64_t up_to);
  //! Where the held events are released up to for an input watermark: the watermark rounded
  //! down to kReleaseStepMs, so they leave in groups whose key lookups and operator state
  //! loads overlap (the operators' call sequence is the same for any step).
  static int64_t release_frontier(int64_t watermark) {
    if (watermark == INT64_MIN || watermark == INT64_MAX) return watermark;
    return watermark - ((watermark % kReleaseStepMs) + kReleaseStepMs) % kReleaseStepMs;
  }
  //! Applies the held events up to `frontier` (all of them: INT64_MAX), by groups of
  //! kReleaseGroup: warm key slots, look keys up and warm operator state, then apply
  //! each after the timers due at or before its time.
  void release_up_to(int64_t frontier);
  static constexpr int64_t kReleaseStepMs = 1000;
  static constexpr size_t kReleaseGroup = 16;

  TaskOptions options_;
  Source& source_;
  StateStore& store_;
  std::vector<Operator*> operators_;
  std::array<std::vector<uint32_t>, kEventTypeCount> subscribers_;
  const Calendar& calendar_;
  OperatorViews views_;
  std::vector<std::unique_ptr<Decoder>> decoders_;
  std::array<Decoded, kPipelineDepth + 1> in_flight_;
  std::array<KeyId, kPipelineDepth + 1> in_flight_keys_;  // prefetch_key's answers (process)
  const std::string* current_detail_ = nullptr;
  const RawRecord* current_record_ = nullptr;  // the record apply() is applying
  std::string time_detail_;  // check_event_time()'s detail for the dead-letter record
  KeyIndex keys_;
  TaskCounters counters_;
  EventClock clock_;
  uint32_t current_op_ = 0;
  DedupWindow dedup_;
  EventOrder order_;
  struct Released {
    uint32_t slot;
    uint64_t key_hash;
    KeyId key;
    const Event* event;  // the held slot's, valid until order_.free(slot)
  };
  std::array<Released, kReleaseGroup> released_;
  int64_t applied_time_ = INT64_MIN;  // watermark() with event_time_order

  // Outputs since the last checkpoint, and per-origin sequence numbers.
  std::vector<OutputRecord> pending_;
  OutputSeqs seqs_;
  uint32_t current_origin_ = 0;
  bool restored_ = false;

  std::function<void(const BatchStats&)> batch_hook_;
  std::function<void()> loop_hook_;
  // Declared last: destroyed first, so the in-flight commit finishes while the rest lives.
  Checkpointer checkpointer_;
};

}  // namespace sw
