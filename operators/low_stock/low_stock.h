#pragma once
// low_stock: on-hand accounting, demand rate, replenishment math and inventory alerts
// (`low_stock`, `stockout`, `overstock`) per (store, sku). Config keys, formulas, alert
// lifecycle and the persisted layout are documented in docs/low_stock.md.
//
// Lifecycle: constructed from the config (throws ConfigError for bad keys); then called by one
// task thread: on_event() per routed event, snapshot() at checkpoints, restore() at start.
// Hot path: on_event() for sales/returns/inventory touches one KeyState and allocates nothing
// once the key exists; only alert rendering allocates.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "operators/inventory.h"
#include "operators/low_stock/render.h"
#include "operators/low_stock/settings.h"
#include "operators/low_stock/state.h"
#include "stream/huge_pages.h"
#include "stream/operator.h"

namespace sw {

class Config;

class LowStockOperator : public Operator {
 public:
  //! Reads operators.low_stock.*; throws ConfigError naming the key and the fix.
  explicit LowStockOperator(const Config& config);

  std::string_view name() const override { return "low_stock"; }
  uint32_t subscriptions() const override;
  void on_event(const Event& event, KeyId key, OperatorContext& ctx) override;
  void prefetch(KeyId key) const override {
    // A state is one cache line: the vector is 2 MiB-aligned and sizeof(KeyState) == 64.
    if (key < states_.size()) huge_pages::touch(&states_[key]);
  }
  void prefetch_related(KeyId key, const KeyIndex& keys) const override {
    // evaluate() reads the sku's item record (~1 MB table of all skus).
    const uint32_t sku = keys.sku_id(key);
    if (sku < sku_items_.size()) huge_pages::touch(&sku_items_[sku].present);
  }
  void snapshot(StateBatch& batch, const KeyIndex& keys) override;
  Status restore(const StateStore& store, OperatorContext& ctx) override;
  size_t memory_bytes() const override;
  std::string describe(KeyId key, const KeyIndex& keys) const override;

  static constexpr std::string_view kStateNs = low_stock::kStateNs;
  static constexpr std::string_view kStateLogNs = low_stock::kStateLogNs;
  static constexpr uint32_t kKeysPerBlock = low_stock::kKeysPerBlock;
  static constexpr uint32_t kLogChunkKeys = low_stock::kLogChunkKeys;
  static constexpr std::string_view kItemNs = low_stock::kItemNs;
  static constexpr std::string_view kOverrideNs = low_stock::kOverrideNs;

  using Settings = LowStockSettings;
  using KeyState = low_stock::KeyState;
  using Plan = low_stock::Plan;
  const Settings& settings() const { return settings_; }

  //! Computes the plan for `key` (of `keys`, the task's index) as of `now_ms`, from the
  //! demand view when given and it has a model for the key, else from the key's own EWMA.
  Plan plan(KeyId key, int64_t now_ms, const KeyIndex& keys,
            const DemandView* view = nullptr) const;
  //! State of `key` (nullptr if never seen). For tests and inspection.
  const KeyState* state(KeyId key) const {
    return key < states_.size() && states_[key].day != KeyState::kNoDay ? &states_[key] : nullptr;
  }

  //! The fixed-size record codec (layouts 1 and 2), for tests that write older layouts.
  static void encode_state(const KeyState& s, char* out) { low_stock::encode_state(s, out); }
  static void decode_state(const char* in, KeyState& s) { low_stock::decode_state(in, s); }
  static constexpr size_t kStateRecordBytes = low_stock::kStateRecordBytes;
  //! Stable alert id: hex of a 64-bit hash of (type, store, sku, episode start time).
  static std::string alert_id(std::string_view type, std::string_view store, std::string_view sku,
                              int64_t since_ms) {
    return low_stock::alert_id(type, store, sku, since_ms);
  }

 private:
  using ItemParams = low_stock::ItemParams;

  KeyState& touch(KeyId key, const OperatorContext& ctx);
  void mark_dirty(KeyId key, KeyState& s);
  void snapshot_base(StateBatch& batch);
  void snapshot_log(StateBatch& batch);
  void roll_to(KeyState& s, int32_t day);
  void fold_day(KeyState& s, double qty, bool censored);
  void apply_item(ItemParams& p, const Event& e);
  ItemParams* sku_item(uint32_t sku_id);
  const ItemParams* sku_item(uint32_t sku_id) const;
  const ItemParams* override_item(KeyId key) const;
  void evaluate(KeyId key, KeyState& s, int64_t ts_ms, OperatorContext& ctx);
  void emit_alert(KeyId key, const KeyState& s, const Plan& p, std::string_view type,
                  std::string_view status, std::string_view severity, int64_t since_ms,
                  int64_t ts_ms, OperatorContext& ctx) const;
  void handle_item(const Event& e, KeyId key, OperatorContext& ctx);
  ItemParams* item_for_update(const Event& e, KeyId key, OperatorContext& ctx);
  void adopt_pending(uint32_t sku_id, const KeyIndex& keys);

  Settings settings_;
  double default_z_ = 0;
  HugePageVector<KeyState> states_;
  std::vector<KeyId> dirty_;
  uint64_t log_checkpoint_ = 0;        // number of the next log entry group
  uint64_t log_records_ = 0;           // records in the log since the base
  bool rewrite_base_ = false;          // restored from the per-key layout: migrate it
  std::vector<ItemParams> sku_items_;  // indexed by interned sku id
  std::vector<uint32_t> dirty_skus_;
  absl::flat_hash_map<std::string, ItemParams> pending_items_;  // skus not yet in the index
  bool pending_dirty_ = false;
  absl::flat_hash_map<KeyId, ItemParams> overrides_;  // store-specific records
  std::vector<KeyId> dirty_overrides_;
};

}  // namespace sw
