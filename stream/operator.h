#pragma once
// The operator interface (STYLE.md §3). An operator is pure logic: it receives decoded events
// and event-time timer callbacks for keys, keeps its own per-key state, and emits outputs
// through the context. It does no I/O, owns no threads, and knows nothing of Kafka or
// RocksDB: persistence goes through snapshot()/restore() with opaque bytes.
//
// Threading: one task calls one operator instance from one thread.
// Determinism: given the same call sequence, an operator must emit the same outputs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stream/event.h"
#include "stream/key_index.h"
#include "stream/output.h"
#include "stream/probe.h"
#include "stream/state_store.h"
#include "stream/status.h"

namespace sw {

class Calendar;
class Config;
struct RawRecord;

//! Demand estimate published by the forecast operator (or low_stock's own EWMA fallback).
struct DemandEstimate {
  double mean_per_day = 0;  // mean demand per day over the next `days`
  double sd_per_day = 0;    // standard deviation of daily demand
  double total_mean = 0;    // expected demand over `days`
  double total_sd = 0;      // standard deviation of the total over `days`
  double cover_days = -1;   // days until cumulative expected demand reaches `on_hand` (-1: n/a)
};

//! Demand without the forecast's own-price response (the price operator's regression
//! baseline: seasonality, trend and announced promotions controlled for, price not).
struct DemandBaseline {
  double per_day = 0;          // expected units per day at `reference_price`
  double reference_price = 0;  // the price the forecast's price response is relative to (0: none)
};

//! Views operators publish for others (DESIGN.md §5). A view is read-only and may be absent.
class DemandView {
 public:
  virtual ~DemandView() = default;
  //! Expected demand for `key` (of `keys`, the task's index) over the next `days` days from
  //! `from_ms`; false if no model.
  virtual bool demand(KeyId key, const KeyIndex& keys, int64_t from_ms, double days, double on_hand,
                      DemandEstimate& out) const = 0;
  //! As demand(), at the reference price: the mean divided by the model's own-price factor.
  //! False if no model or no such split (the default).
  virtual bool baseline(KeyId /*key*/, const KeyIndex& /*keys*/, int64_t /*from_ms*/,
                        double /*days*/, DemandBaseline& /*out*/) const {
    return false;
  }
};

//! Stock position of a (store, sku) key.
struct StockPosition {
  double on_hand = 0;   // units on hand (>= 0)
  double on_order = 0;  // units ordered and not yet received
  double lead_time_days = 0;
  double lead_time_sd_days = 0;
  double unit_cost = -1;  // -1: unknown
  double pack_size = 1;
  bool perishable = false;
};

//! A received lot of a perishable key: `units` left that expire at `expires_ms`.
struct StockLot {
  int64_t expires_ms = 0;
  double units = 0;
};

//! Published by the operator that keeps stock (low_stock): positions and perishable lots.
class InventoryView {
 public:
  virtual ~InventoryView() = default;
  //! False if the key has no stock record yet.
  virtual bool position(KeyId key, StockPosition& out) const = 0;
  //! Appends the key's lots with units left, first-expiring first; appends nothing when the
  //! key's lots are not tracked.
  virtual void lots(KeyId key, std::vector<StockLot>& out) const = 0;
};

//! Published by the anomaly operator: whether an anomaly alert is firing on a key's own
//! sales series (approval classes escalate on it).
class AnomalyView {
 public:
  virtual ~AnomalyView() = default;
  virtual bool open_anomaly(KeyId key) const = 0;
};

//! Views operators publish for others; each may be absent (null) when its publisher is off.
struct OperatorViews {
  const DemandView* demand = nullptr;        // forecast
  const InventoryView* inventory = nullptr;  // low_stock
  const AnomalyView* anomalies = nullptr;    // anomaly
};

//! What an operator sees of the task. Implemented by the task; fakes in tests.
class OperatorContext {
 public:
  virtual ~OperatorContext() = default;
  virtual void emit(OutputRecord&& record) = 0;
  //! Registers an event-time timer; it fires once the watermark reaches `time_ms`. Timers
  //! fire in (time, operator, key, tag) order. Duplicate registrations fire once.
  virtual void set_timer(KeyId key, int64_t time_ms, uint32_t tag) = 0;
  virtual int64_t watermark() const = 0;
  virtual const KeyIndex& keys() const = 0;
  virtual const Calendar& calendar() const = 0;
  virtual const OperatorViews& views() const = 0;
  //! The input record being applied (its source position), or null outside of one: the
  //! audit log notes it per key (stream/audit_log.h). Valid during the call only.
  virtual const RawRecord* current_record() const { return nullptr; }
};

class Operator {
 public:
  virtual ~Operator() = default;
  virtual std::string_view name() const = 0;
  //! Bit mask of (1 << EventType) the operator wants.
  virtual uint32_t subscriptions() const = 0;
  //! `key` is the (store, sku) key for keyed events, kNoKey for others (metric, feedback,
  //! sku-wide price/item records: the operator fans out itself through ctx.keys()).
  virtual void on_event(const Event& event, KeyId key, OperatorContext& ctx) = 0;
  //! Hint: `key`'s state will be needed soon (the task works in stages); bring it into
  //! cache (huge_pages::touch). Must not change state.
  virtual void prefetch(KeyId /*key*/) const {}
  //! Hint, a stage after prefetch(): bring into cache what `key`'s state leads to (per-sku
  //! reference data, say); `keys` has the key's entry in cache by now. Must not change state.
  virtual void prefetch_related(KeyId /*key*/, const KeyIndex& /*keys*/) const {}
  virtual void on_timer(KeyId /*key*/, int64_t /*time_ms*/, uint32_t /*tag*/,
                        OperatorContext& /*ctx*/) {}
  //! A record was dead-lettered; `stream_time_ms` is the highest event time seen so far
  //! (the anomaly operator watches the error rate).
  virtual void on_dead_letter(int64_t /*stream_time_ms*/, OperatorContext& /*ctx*/) {}
  //! Called when end of input moved the watermark to the end of time, after all timers fired.
  virtual void on_end_of_input(OperatorContext& /*ctx*/) {}
  //! Writes the state changed since the last snapshot into `batch` under namespace
  //! "op/<name>" and clears the dirty set. `keys` is the task's key index (names of KeyIds).
  virtual void snapshot(StateBatch& batch, const KeyIndex& keys) = 0;
  //! Rebuilds state from the last checkpoint and re-registers its timers.
  virtual Status restore(const StateStore& store, OperatorContext& ctx) = 0;
  //! Bytes of hot state held in memory.
  virtual size_t memory_bytes() const = 0;
  //! Live per-key state as JSON (inspect, queryable state); "{}" if none. `keys` is the
  //! task's key index (names of KeyIds).
  virtual std::string describe(KeyId /*key*/, const KeyIndex& /*keys*/) const { return "{}"; }
  //! Monitoring values (stream/probe.h), rendered by connectors/metrics; null = none.
  virtual const Probe* probe() const { return nullptr; }
  //! Refreshes gauges derived from state; called on the task thread between batches when
  //! metrics are served. Must not change state or outputs.
  virtual void update_probe() {}
  //! Hot reload (SIGHUP, POST /admin/reload): adopts changed operators.<name>.* settings on
  //! the task thread between batches, keeping all state. `config` was fully checked already.
  //! Applies everything or nothing; an operator whose settings shape its state refuses with
  //! Status::invalid naming the key. Default: no setting can change live.
  virtual Status reconfigure(const Config& /*config*/) {
    return Status::invalid("operators." + std::string(name()) +
                           ".* cannot change while running; restart to apply");
  }
};

}  // namespace sw
