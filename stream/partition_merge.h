#pragma once
// Event-time ordered merge of a task's input partitions (DESIGN.md §4, Determinism), as
// Kafka Streams' partition group does it: fetched records wait in one lane per partition,
// and the next record handed to the task is the lane head with the smallest (event time,
// partition id). A partition whose lane is empty but which may still have records
// (Feed::kMore: not fetched yet, or lagging) is waited for up to `max_idle_ms` of processing
// time before the merge goes on without it (an "enforced" step, counted); a partition that
// is caught up (live: at its end right now) or ended (bounded run: everything of this run was
// fetched) is not waited for. With a bounded source every partition is waited for until it
// ends (max_idle_ms = kWaitForever), so the merged sequence is a function of the partitions'
// contents alone: the same on every run and replay, whatever the fetch interleaving.
//
// A record without an event time (kNoTime: the Kafka source found no valid "ts") takes the
// place right after its predecessor in its partition (it wins as soon as it heads its lane),
// so where a dead letter lands in the merged sequence is deterministic too, and needs no
// state across restarts: the merge's only state is its lanes, and a restart resumes the same
// sequence from the checkpointed positions.
//
// Records are opaque handles (the Kafka source keeps librdkafka messages in the lanes: no
// copy). Threading: one thread (the source's polling thread); enforced() may be read from any.

#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <span>
#include <vector>

namespace sw {

class PartitionMerge {
 public:
  enum class Feed : uint8_t {
    kMore,      // records may be on their way (not fetched yet, lagging): waited for
    kCaughtUp,  // live: the partition is at its end right now; not waited for
    kEnded,     // bounded run: every record of this run was fetched; never waited for
  };
  static constexpr int64_t kWaitForever = std::numeric_limits<int64_t>::max();
  static constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

  explicit PartitionMerge(int64_t max_idle_ms) : max_idle_ms_(max_idle_ms) {}

  //! Appends a fetched record of `partition` (records of one partition in offset order) with
  //! its event time (kNoTime if it has none).
  void push(int32_t partition, int64_t time_ms, void* handle);

  //! Chooses the next record among the lanes of `partitions` (ascending ids); `feed(p)` says
  //! where an empty lane's partition stands. Returns nullptr when the merge must wait (a
  //! kMore partition is empty and its wait has not expired) or nothing is buffered.
  template <class FeedFn>
  void* next(std::span<const int32_t> partitions, FeedFn&& feed, int64_t now_ms);

  //! Milliseconds until the earliest running wait expires (kWaitForever if none); a poller
  //! blocks at most this long for new records before calling next() again.
  int64_t wake_in(int64_t now_ms) const;
  //! Removes every buffered record of `partition` (revoked), calling fn(handle) on each.
  template <class Fn>
  void drop(int32_t partition, Fn&& fn);
  //! Removes every buffered record.
  template <class Fn>
  void clear(Fn&& fn);

  size_t buffered() const { return buffered_; }
  size_t buffered(int32_t partition) const;
  //! Steps that went on without a kMore partition after its wait expired (once per wait).
  uint64_t enforced() const { return enforced_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    int64_t time_ms;
    void* handle;
  };
  struct Lane {
    std::deque<Entry> records;
    int64_t waiting_since = -1;  // processing time the empty kMore lane was first seen; -1 none
    bool counted = false;        // this wait's enforced step was counted
  };
  Lane* lane(int32_t partition);
  Lane& lane_or_add(int32_t partition);

  int64_t max_idle_ms_;
  std::vector<int32_t> lane_of_;  // partition id -> index in lanes_, -1 = none
  std::deque<Lane> lanes_;        // stable addresses
  size_t buffered_ = 0;
  std::atomic<uint64_t> enforced_{0};
};

template <class FeedFn>
void* PartitionMerge::next(std::span<const int32_t> partitions, FeedFn&& feed, int64_t now_ms) {
  Lane* best = nullptr;
  int64_t best_time = 0;
  bool waiting = false;
  for (int32_t p : partitions) {
    Lane* l = lane(p);
    if (l != nullptr && !l->records.empty()) {
      l->waiting_since = -1;
      l->counted = false;
      const int64_t t = l->records.front().time_ms;
      // Strict <: on equal times the lower partition id (visited first) wins.
      if (best == nullptr || t < best_time) {
        best = l;
        best_time = t;
      }
      continue;
    }
    if (feed(p) != Feed::kMore) {
      if (l != nullptr) {
        l->waiting_since = -1;
        l->counted = false;
      }
      continue;
    }
    Lane& w = l != nullptr ? *l : lane_or_add(p);
    if (w.waiting_since < 0) w.waiting_since = now_ms;
    if (max_idle_ms_ == kWaitForever || now_ms - w.waiting_since < max_idle_ms_) waiting = true;
  }
  if (best == nullptr) return nullptr;
  // A record without an event time follows its predecessor at once, waits or not.
  if (waiting && best_time != kNoTime) return nullptr;
  if (best_time != kNoTime) {
    for (int32_t p : partitions) {
      Lane* l = lane(p);
      if (l != nullptr && l->records.empty() && l->waiting_since >= 0 && !l->counted) {
        l->counted = true;
        enforced_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  void* h = best->records.front().handle;
  best->records.pop_front();
  --buffered_;
  return h;
}

template <class Fn>
void PartitionMerge::drop(int32_t partition, Fn&& fn) {
  Lane* l = lane(partition);
  if (l == nullptr) return;
  for (const Entry& e : l->records) fn(e.handle);
  buffered_ -= l->records.size();
  l->records.clear();
  l->waiting_since = -1;
  l->counted = false;
}

template <class Fn>
void PartitionMerge::clear(Fn&& fn) {
  for (size_t i = 0; i < lane_of_.size(); ++i) {
    if (lane_of_[i] >= 0) drop(static_cast<int32_t>(i), fn);
  }
}

}  // namespace sw
