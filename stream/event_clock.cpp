#include "stream/event_clock.h"

namespace sw {

EventClock::PartitionClock& EventClock::find_or_add(int32_t partition) {
  for (size_t i = 0; i < clocks_.size(); ++i) {
    if (clocks_[i].partition == partition) {
      last_ = i;
      return clocks_[i];
    }
  }
  clocks_.push_back({partition, INT64_MIN, kNoOffset, 0});
  std::sort(clocks_.begin(), clocks_.end(), [](const PartitionClock& a, const PartitionClock& b) {
    return a.partition < b.partition;
  });
  return clock(partition);
}

void EventClock::track(std::span<const int32_t> now) {
  if (std::equal(now.begin(), now.end(), tracked_partitions_.begin(), tracked_partitions_.end())) {
    return;
  }
  tracked_partitions_.assign(now.begin(), now.end());
  for (int32_t p : now) clock(p);
}

bool EventClock::advance_watermark(const Source& source) {
  int64_t low = follow_stream_time_ ? stream_time_ : INT64_MAX;
  for (const PartitionClock& c : follow_stream_time_ ? std::span<const PartitionClock>()
                                                     : std::span<const PartitionClock>(clocks_)) {
    if (source.partition_idle(c.partition)) continue;
    // A partition that has not delivered an event yet holds the watermark back (its first
    // events may be older than everything seen so far).
    if (c.max_event_ms == INT64_MIN) return false;
    low = std::min(low, c.max_event_ms);
  }
  if (low == INT64_MAX || low == INT64_MIN) return false;
  const int64_t wm = low - out_of_orderness_ms_;
  if (wm <= watermark_) return false;
  watermark_ = wm;
  counters_.watermark_ms.store(wm, std::memory_order_relaxed);
  return true;
}

void EventClock::encode(ByteWriter& w) const {
  w.put<int64_t>(watermark_);
  w.put<int64_t>(stream_time_);
  w.put<uint32_t>(static_cast<uint32_t>(clocks_.size()));
  for (const PartitionClock& c : clocks_) {
    w.put(c.partition);
    w.put(c.max_event_ms);
    w.put(c.next_offset);
    w.put(c.line);
  }
}

Status EventClock::decode(ByteReader& r) {
  auto bad = [] { return Status::corruption("task checkpoint metadata is truncated"); };
  uint32_t n;
  if (!r.get(watermark_) || !r.get(stream_time_) || !r.get(n)) return bad();
  clocks_.clear();
  for (uint32_t i = 0; i < n; ++i) {
    PartitionClock c{};
    if (!r.get(c.partition) || !r.get(c.max_event_ms) || !r.get(c.next_offset) || !r.get(c.line)) {
      return bad();
    }
    clocks_.push_back(c);
  }
  counters_.watermark_ms.store(watermark_);
  counters_.max_event_ms.store(stream_time_);
  return Status::ok();
}

}  // namespace sw
