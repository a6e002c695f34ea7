#pragma once
// The per-SKU regional stock view behind transfer proposals (docs/low_stock.md
// "Transfers"): each (store, sku) key publishes the units it can spare, keyed by
// (region, sku); a receiver asks for the best donor of its sku in its region.
//
// This is the repartition seam. Keyed state stays partitioned like the input (by store|sku):
// a key only ever writes its own surplus here and reads the (region, sku) table. With a file
// source there is one task, so InProcessRegionalStock is the whole repartition step: a table
// in the task's memory, updated in event order (deterministic), rebuilt at restore from the
// surpluses persisted in each key's flow record. A Kafka implementation (issue 17, not built)
// would instead: (1) produce each publish() as a record keyed by "region|sku" to a compacted
// repartition topic (`shelfwatch.repartition.regional-stock`, partitions = input partitions),
// carrying (store, key, surplus, event time, origin partition + sequence, as every output
// does for exactly-once); (2) have the task owning that repartition partition keep the
// (region, sku) table as keyed state in its own checkpoint and changelog; (3) answer
// best_donor() from the receiver's side by a second hop (a request record keyed by
// "region|sku", the answer keyed back by "store|sku"), or by having the table owner emit the
// transfer proposal itself; and (4) order table updates by event time across partitions as
// the task does for input, so the proposals stay a function of the input alone.
//
// Threading: one task thread, like the operator that owns it.

#include <cstdint>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "stream/key_index.h"
#include "stream/state_store.h"
#include "stream/status.h"

namespace sw::low_stock {

struct Donor {
  KeyId key = kNoKey;
  uint32_t store_id = 0;
  double surplus = 0;
};

class RegionalStockView {
 public:
  virtual ~RegionalStockView() = default;
  //! Key `key` (store `store_id`) of `sku_id` in `region` can spare `surplus` units (<= 0:
  //! none, the entry is dropped).
  virtual void publish(uint32_t region, uint32_t sku_id, KeyId key, uint32_t store_id,
                       double surplus) = 0;
  //! The key of the region and sku with the most spare units (ties: lowest store id), other
  //! than `receiver`; false if none.
  virtual bool best_donor(uint32_t region, uint32_t sku_id, KeyId receiver, Donor& out) const = 0;
  //! Writes the entries changed since the last snapshot (the repartition step's own state).
  virtual void snapshot(StateBatch& batch, const KeyIndex& keys) = 0;
  //! Replaces the table with the checkpointed one.
  virtual Status restore(const StateStore& store, const KeyIndex& keys) = 0;
  virtual size_t memory_bytes() const = 0;
};

class InProcessRegionalStock : public RegionalStockView {
 public:
  void publish(uint32_t region, uint32_t sku_id, KeyId key, uint32_t store_id,
               double surplus) override;
  bool best_donor(uint32_t region, uint32_t sku_id, KeyId receiver, Donor& out) const override;
  void snapshot(StateBatch& batch, const KeyIndex& keys) override;
  Status restore(const StateStore& store, const KeyIndex& keys) override;
  size_t memory_bytes() const override;

 private:
  static uint64_t slot(uint32_t region, uint32_t sku_id) {
    return (static_cast<uint64_t>(region) << 32) | sku_id;
  }
  absl::flat_hash_map<uint64_t, std::vector<Donor>> table_;
  std::vector<uint64_t> dirty_;  // slots changed since the last snapshot (may repeat)
};

}  // namespace sw::low_stock
