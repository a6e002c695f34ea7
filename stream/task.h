#pragma once
// The task (DESIGN.md §5): owns a source's partitions and all their keys, and runs one loop —
// poll a batch, decode, dedup, route by key, call operators, advance watermarks and fire
// timers, and at checkpoint time commit state + positions + outputs atomically.
//
// Threading: a task runs on one thread. Counters are readable from others.
// Determinism: every decision is per record in input order; batch size, checkpoint timing
// and restarts do not change outputs.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "stream/calendar.h"
#include "stream/counters.h"
#include "stream/decoder.h"
#include "stream/hash_slots.h"
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
  //! Poll and decode on a reader thread while this one applies (sources that allow it).
  bool read_ahead = true;
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
  int64_t watermark() const override { return watermark_; }
  const KeyIndex& keys() const override { return keys_; }
  const Calendar& calendar() const override { return calendar_; }
  const OperatorViews& views() const override { return views_; }

 private:
  struct Timer {
    int64_t time;
    uint32_t op;
    KeyId key;
    uint32_t tag;
    bool operator>(const Timer& o) const {
      if (time != o.time) return time > o.time;
      if (op != o.op) return op > o.op;
      if (key != o.key) return key > o.key;
      return tag > o.tag;
    }
    bool operator==(const Timer& o) const = default;
  };
  static constexpr int64_t kNoOffset = -1;  // the partition has delivered no record yet
  struct PartitionClock {
    int32_t partition;
    int64_t max_event_ms;  // INT64_MIN: no event yet
    int64_t next_offset;   // kNoOffset: not checkpointed as a position
    int64_t line;
  };

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
  //! The key's entry and operator state; returns the key's id (kNoKey if none yet).
  KeyId prefetch_key(const Decoded& d);
  //! The key's names and operators' related data, for the id prefetch_key returned.
  void prefetch_related(const Decoded& d, KeyId id);
  //! Warms the dedup slots of the ids that insertions first..first+count-1 will evict.
  void touch_evictions(uint64_t first, size_t count);
  void apply(const Decoded& d);
  Status run_loop(const std::atomic<bool>& stop, ReadAhead* reader);
  void dead_letter(const RawRecord& r, DecodeError e);
  void late(const RawRecord& r, const Event& e);
  bool seen_before(uint64_t event_id_hash);
  //! Adds an id to the dedup horizon (live processing and checkpoint restore alike).
  void remember(uint64_t event_id_hash);
  //! Routes an event to its key (0 = not keyed) and the operators subscribed to its type.
  void dispatch(const Event& event, uint64_t key_hash);
  PartitionClock& clock(int32_t partition);
  //! Gives every partition the source reads a clock, once per change of its partition set.
  void track_partitions();
  void advance_watermark();
  void fire_timers(int64_t up_to);
  std::string encode_meta() const;
  //! Runs commit_job on committer_, a thread at state.commit_nice.
  void start_committer(bool with_sinks);
  //! Background part of a checkpoint: commits `batch`; with_sinks (exactly_once) lets the
  //! sinks stage `records` into it first and release them after the commit.
  Status commit_job(std::vector<OutputRecord>& records, StateBatch& batch, bool with_sinks);
  Status decode_meta(std::string_view v);
  //! at_least_once: hands the outputs emitted so far to the sinks now.
  Status release_pending();

  TaskOptions options_;
  Source& source_;
  std::vector<Sink*> sinks_;
  StateStore& store_;
  std::vector<Operator*> operators_;
  std::array<std::vector<uint32_t>, kEventTypeCount> subscribers_;
  const Calendar& calendar_;
  OperatorViews views_;
  std::vector<std::unique_ptr<Decoder>> decoders_;
  std::array<Decoded, kPipelineDepth + 1> in_flight_;
  const std::string* current_detail_ = nullptr;
  KeyIndex keys_;
  size_t keys_persisted_ = 0;
  TaskCounters counters_;

  // Event time.
  std::vector<PartitionClock> clocks_;
  std::vector<int32_t> tracked_partitions_;
  size_t last_clock_ = 0;
  int64_t watermark_ = INT64_MIN;
  int64_t stream_time_ = INT64_MIN;  // max event time over all partitions
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  uint32_t current_op_ = 0;

  // Dedup horizon: ring of the most recent event_id hashes + set.
  HugePageVector<uint64_t> dedup_ring_;
  HashSlots<NoValue> dedup_set_;
  uint64_t dedup_total_ = 0;                                 // ids ever inserted
  uint64_t dedup_persisted_ = 0;                             // ids written to checkpoints
  std::vector<std::pair<uint64_t, uint64_t>> dedup_chunks_;  // (first id no, end id no)

  // Outputs since the last checkpoint, and per-origin sequence numbers.
  std::vector<OutputRecord> pending_;
  StateBatch eager_;  // at_least_once: sink entries committed before a release
  std::vector<std::pair<uint32_t, uint64_t>> seqs_;
  uint32_t current_origin_ = 0;
  bool restored_ = false;

  std::function<void(const BatchStats&)> batch_hook_;
  std::function<void()> loop_hook_;
  // Background commit of the last checkpoint (exactly_once mode).
  std::thread committer_;
  Status committer_status_;
  std::vector<OutputRecord> committing_records_;
  StateBatch committing_batch_;
  std::vector<SourcePosition> committing_positions_;
};

}  // namespace sw
