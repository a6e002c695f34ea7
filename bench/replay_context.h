#pragma once
// A minimal in-process OperatorContext for the forecast benchmark and evaluation programs:
// owns the key index and calendar, fires event-time timers in (time, key, tag) order as the
// caller raises the watermark (including timers registered from timer callbacks), and hands
// emitted records to a callback. One operator, one thread; no dedup of identical timers
// (the forecast operator never registers one twice).

#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <tuple>
#include <utility>
#include <vector>

#include "stream/calendar.h"
#include "stream/key_index.h"
#include "stream/operator.h"

namespace sw::bench {

class ReplayContext final : public OperatorContext {
 public:
  using Sink = std::function<void(OutputRecord&&)>;
  explicit ReplayContext(Sink sink = {}) : sink_(std::move(sink)) {}

  void emit(OutputRecord&& record) override {
    ++emitted_;
    if (sink_) sink_(std::move(record));
  }
  void set_timer(KeyId key, int64_t time_ms, uint32_t tag) override {
    timers_.push(Timer{time_ms, key, tag});
  }
  int64_t watermark() const override { return watermark_; }
  const KeyIndex& keys() const override { return keys_; }
  const Calendar& calendar() const override { return calendar_; }
  const OperatorViews& views() const override { return views_; }

  KeyIndex& mutable_keys() { return keys_; }
  OperatorViews& mutable_views() { return views_; }
  KeyId key(std::string_view store, std::string_view sku) {
    bool added = false;
    return keys_.find_or_add(KeyIndex::hash(store, sku), store, sku, added);
  }
  //! Raises the watermark and fires every due timer in order.
  void advance(Operator& op, int64_t wm) {
    if (wm > watermark_) watermark_ = wm;
    while (!timers_.empty() && timers_.top().time <= watermark_) {
      Timer t = timers_.top();
      timers_.pop();
      op.on_timer(t.key, t.time, t.tag, *this);
    }
  }
  uint64_t emitted() const { return emitted_; }
  size_t pending_timers() const { return timers_.size(); }

 private:
  struct Timer {
    int64_t time;
    KeyId key;
    uint32_t tag;
    bool operator>(const Timer& o) const {
      return std::tie(time, key, tag) > std::tie(o.time, o.key, o.tag);
    }
  };
  Sink sink_;
  KeyIndex keys_;
  Calendar calendar_;
  OperatorViews views_;
  int64_t watermark_ = std::numeric_limits<int64_t>::min();
  uint64_t emitted_ = 0;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
};

}  // namespace sw::bench
