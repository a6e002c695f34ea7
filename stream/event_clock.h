#pragma once
// The event clock of a task (DESIGN.md §5): per-partition clocks (largest event time, next
// offset and line to resume from), the watermark and the operators' event-time timers.
//
// Watermark = min over the partitions that are not idle of their largest event time, minus
// the out-of-orderness bound; it only moves forward. A partition that has delivered no event
// yet holds it back (its first events may be older than everything seen so far); an idle one
// (Source::partition_idle) does not. For a source that merges its partitions in event-time
// order (Source::merges_partitions) the applied sequence is one stream: the watermark is its
// largest event time minus the bound, exactly as for a single partition, so it is a function
// of the merged sequence alone (and equals the file pipeline's on the same sequence). Timers fire
// in (time, operator, key, tag) order once the watermark reaches their time; a registration
// repeated before it fires fires once.
//
// Ownership: owned by its Task. Threading: task thread only; the watermark and largest event
// time are mirrored into TaskCounters for other threads. Checkpoints: encode()/decode() write
// and read the clock's part of the task's meta record (timers are not persisted: operators
// register them again from their restored state). Failures: decode() returns corruption on a
// truncated record; nothing else fails.

#include <algorithm>
#include <cstdint>
#include <queue>
#include <span>
#include <vector>

#include "stream/bytes.h"
#include "stream/counters.h"
#include "stream/key_index.h"
#include "stream/source.h"
#include "stream/status.h"

namespace sw {

class EventClock {
 public:
  static constexpr int64_t kNoOffset = -1;  // the partition has delivered no record yet
  struct PartitionClock {
    int32_t partition;
    int64_t max_event_ms;  // INT64_MIN: no event yet
    int64_t next_offset;   // kNoOffset: not checkpointed as a position
    int64_t line;
  };
  //! Timers due at the same time fire by operator, then key id: key ids follow the order
  //! in which keys first appeared in the applied sequence, which the event-time order of
  //! the task (stream/event_order.h) makes a function of the input's events, not of their
  //! arrival order (the same on every run, replay, restore and partitioning).
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

  EventClock(int64_t out_of_orderness_ms, TaskCounters& counters)
      : out_of_orderness_ms_(out_of_orderness_ms), counters_(counters) {}

  //! Watermark from the stream time of a merged source (see above) instead of the minimum
  //! over partitions.
  void follow_stream_time(bool on) { follow_stream_time_ = on; }
  int64_t watermark() const { return watermark_; }
  //! Largest event time over all partitions (INT64_MIN before the first event).
  int64_t stream_time() const { return stream_time_; }
  const std::vector<PartitionClock>& clocks() const { return clocks_; }

  //! The clock of `partition`, created (no event, no offset) on first use.
  PartitionClock& clock(int32_t partition) {
    if (last_ < clocks_.size() && clocks_[last_].partition == partition) return clocks_[last_];
    return find_or_add(partition);
  }
  //! Gives every partition the source reads a clock, once per change of its partition set.
  void track(std::span<const int32_t> partitions);
  //! Records an applied event's time on its partition's clock; true if the partition's
  //! largest event time grew (then call advance_watermark).
  bool observe(PartitionClock& pc, int64_t ts_ms) {
    if (ts_ms <= pc.max_event_ms) return false;
    pc.max_event_ms = ts_ms;
    if (ts_ms > stream_time_) {
      stream_time_ = ts_ms;
      counters_.max_event_ms.store(ts_ms, std::memory_order_relaxed);
    }
    return true;
  }
  //! Recomputes the watermark over the partitions `source` does not report idle; true if it
  //! moved forward (then fire the timers up to watermark()).
  bool advance_watermark(const Source& source);
  //! Moves the watermark to the end of time.
  void end_of_time() {
    watermark_ = INT64_MAX;
    counters_.watermark_ms.store(INT64_MAX, std::memory_order_relaxed);
  }

  void add_timer(const Timer& t) { timers_.push(t); }
  //! Pops every timer due at `up_to` in firing order and calls fn(timer); timers that fn
  //! registers and that are due fire in the same call.
  template <class Fn>
  void fire_timers(int64_t up_to, Fn&& fn) {
    Timer last{INT64_MIN, 0, 0, 0};
    while (!timers_.empty() && timers_.top().time <= up_to) {
      const Timer t = timers_.top();
      timers_.pop();
      if (t == last) continue;  // duplicate registration
      last = t;
      fn(t);
    }
  }
  size_t pending_timers() const { return timers_.size(); }

  //! Watermark, stream time and partition clocks (the task meta record's layout).
  void encode(ByteWriter& w) const;
  [[nodiscard]] Status decode(ByteReader& r);

 private:
  PartitionClock& find_or_add(int32_t partition);

  int64_t out_of_orderness_ms_;
  TaskCounters& counters_;
  bool follow_stream_time_ = false;
  std::vector<PartitionClock> clocks_;  // by partition
  std::vector<int32_t> tracked_partitions_;
  size_t last_ = 0;
  int64_t watermark_ = INT64_MIN;
  int64_t stream_time_ = INT64_MIN;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
};

}  // namespace sw
