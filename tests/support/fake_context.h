#pragma once
// A reusable fake OperatorContext for operator unit tests: records emitted outputs and
// registered timers, owns a KeyIndex, a Calendar and the operator views, and lets the test
// set the watermark and fire due timers in the engine's order (time, key, tag).
// Also: small builders for decoded events. String fields of the built events are views of the
// arguments, so pass literals or strings that outlive the call to on_event().

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "state/memory_store.h"
#include "stream/calendar.h"
#include "stream/event.h"
#include "stream/key_index.h"
#include "stream/operator.h"
#include "stream/output.h"
#include "stream/state_store.h"

namespace sw::testing {

//! A demand view with fixed figures, as the forecast operator would publish: mean and
//! standard deviation per day, totals over `days` as for independent days.
class FixedDemandView : public DemandView {
 public:
  FixedDemandView(double mean, double sd) : mean_(mean), sd_(sd) {}
  bool demand(KeyId, const KeyIndex&, int64_t, double days, double,
              DemandEstimate& out) const override {
    out.mean_per_day = mean_;
    out.sd_per_day = sd_;
    out.total_mean = mean_ * days;
    out.total_sd = sd_ * std::sqrt(days);
    out.cover_days = -1;
    return true;
  }

 private:
  double mean_, sd_;
};

//! AnomalyView whose open anomalies are the keys a test puts in `open`.
class OpenAnomalies final : public AnomalyView {
 public:
  bool open_anomaly(KeyId key) const override { return open.count(key) != 0; }
  std::map<KeyId, bool> open;
};

class FakeContext : public OperatorContext {
 public:
  struct Timer {
    KeyId key;
    int64_t time_ms;
    uint32_t tag;
    bool operator==(const Timer&) const = default;
  };

  FakeContext() = default;
  explicit FakeContext(Calendar calendar) : calendar_(std::move(calendar)) {}

  // OperatorContext
  void emit(OutputRecord&& record) override { outputs.push_back(std::move(record)); }
  void set_timer(KeyId key, int64_t time_ms, uint32_t tag) override {
    Timer t{key, time_ms, tag};
    if (std::find(timers.begin(), timers.end(), t) == timers.end()) timers.push_back(t);
  }
  int64_t watermark() const override { return watermark_; }
  const KeyIndex& keys() const override { return keys_; }
  const Calendar& calendar() const override { return calendar_; }
  const OperatorViews& views() const override { return views_; }

  // Test controls
  KeyIndex& mutable_keys() { return keys_; }
  void set_calendar(Calendar c) { calendar_ = std::move(c); }
  void set_demand_view(const DemandView* v) { views_.demand = v; }
  void set_anomaly_view(const AnomalyView* v) { views_.anomalies = v; }
  void set_watermark(int64_t wm) { watermark_ = wm; }

  //! The (store, sku) key, added on first use (as the task's router does).
  KeyId key(std::string_view store, std::string_view sku) {
    bool added = false;
    return keys_.find_or_add(KeyIndex::hash(store, sku), store, sku, added);
  }
  //! Interns a sku without creating a key (as a chain-wide record of a known sku would).
  uint32_t sku(std::string_view sku) { return keys_.intern_sku(sku); }

  //! Routes like the task: only subscribed types; keyed events get their KeyId, sku-wide
  //! ones kNoKey.
  void send(Operator& op, const Event& e) {
    if (!(op.subscriptions() & (1u << static_cast<int>(e.type)))) return;
    KeyId k = kNoKey;
    bool keyed = e.type == EventType::kSale || e.type == EventType::kReturn ||
                 e.type == EventType::kInventory || !e.store.empty();
    if (keyed && e.type != EventType::kMetric && e.type != EventType::kFeedback) {
      k = key(e.store, e.sku);
    }
    op.on_event(e, k, *this);
  }

  //! Raises the watermark to `wm` and fires due timers in (time, key, tag) order, including
  //! timers registered by the callbacks themselves.
  void advance_watermark(Operator& op, int64_t wm) {
    watermark_ = std::max(watermark_, wm);
    for (;;) {
      auto due = std::min_element(timers.begin(), timers.end(), [](const Timer& a, const Timer& b) {
        return std::tie(a.time_ms, a.key, a.tag) < std::tie(b.time_ms, b.key, b.tag);
      });
      if (due == timers.end() || due->time_ms > watermark_) break;
      Timer t = *due;
      timers.erase(due);
      op.on_timer(t.key, t.time_ms, t.tag, *this);
    }
  }

  //! Outputs emitted so far, and clears them.
  std::vector<OutputRecord> take() { return std::exchange(outputs, {}); }
  //! Outputs of one stream and (optionally) one type.
  std::vector<const OutputRecord*> of(OutputStream s, std::string_view type = {}) const {
    std::vector<const OutputRecord*> out;
    for (const auto& r : outputs) {
      if (r.stream == s && (type.empty() || r.type == type)) out.push_back(&r);
    }
    return out;
  }

  std::vector<OutputRecord> outputs;
  std::vector<Timer> timers;

 private:
  KeyIndex keys_;
  Calendar calendar_;
  OperatorViews views_;
  int64_t watermark_ = std::numeric_limits<int64_t>::min();
};

//! Operator tests use the project's in-memory store (state/memory_store.h).
using FakeStateStore = MemoryStateStore;

//! Event builders (times in epoch ms).
inline Event sale(int64_t ts, std::string_view store, std::string_view sku, double qty,
                  double unit_price = 1.0) {
  Event e;
  e.type = EventType::kSale;
  e.ts_ms = ts;
  e.store = store;
  e.sku = sku;
  e.qty = qty;
  e.price = unit_price;
  return e;
}

inline Event return_event(int64_t ts, std::string_view store, std::string_view sku, double qty,
                          bool restock = true) {
  Event e;
  e.type = EventType::kReturn;
  e.ts_ms = ts;
  e.store = store;
  e.sku = sku;
  e.qty = qty;
  e.restock = restock;
  return e;
}

inline Event inventory(int64_t ts, std::string_view store, std::string_view sku, InventoryKind kind,
                       double qty, double on_order = kUnset) {
  Event e;
  e.type = EventType::kInventory;
  e.ts_ms = ts;
  e.store = store;
  e.sku = sku;
  e.inventory_kind = kind;
  e.qty = qty;
  e.on_order = on_order;
  return e;
}

inline Event item(int64_t ts, std::string_view sku, const ItemFields& fields,
                  std::string_view store = {}) {
  Event e;
  e.type = EventType::kItem;
  e.ts_ms = ts;
  e.sku = sku;
  e.store = store;
  e.item = fields;
  return e;
}

inline Event price(int64_t ts, std::string_view sku, double p, double cost = kUnset,
                   std::string_view store = {}) {
  Event e;
  e.type = EventType::kPrice;
  e.ts_ms = ts;
  e.sku = sku;
  e.store = store;
  e.price = p;
  e.cost = cost;
  return e;
}

}  // namespace sw::testing
