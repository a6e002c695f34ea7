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
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <functional>

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include "operators/inventory.h"
#include "operators/low_stock/regional.h"
#include "operators/low_stock/render.h"
#include "operators/low_stock/settings.h"
#include "operators/low_stock/state.h"
#include "operators/low_stock/workflow.h"
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
  void on_timer(KeyId key, int64_t time_ms, uint32_t tag, OperatorContext& ctx) override;
  void snapshot(StateBatch& batch, const KeyIndex& keys) override;
  Status restore(const StateStore& store, OperatorContext& ctx) override;
  size_t memory_bytes() const override;
  std::string describe(KeyId key, const KeyIndex& keys) const override;
  const Probe* probe() const override { return &probe_; }
  void update_probe() override;
  //! Hot reload: every operators.low_stock.* key applies to the next evaluation; `regions`
  //! shape state (transfers) and are refused when changed.
  Status reconfigure(const Config& config) override;

  //! Stock positions and lots for other operators (OperatorViews::inventory).
  const InventoryView* inventory_view() const { return &view_; }
  //! The key's workflow record (orders, lots, open workflow episodes), or null.
  const low_stock::Flow* flow(KeyId key) const {
    auto it = flows_.find(key);
    return it == flows_.end() ? nullptr : &it->second;
  }
  //! Lead time used for `key` (learned per supplier and sku with shrinkage, else reference).
  void lead_time(KeyId key, const KeyIndex& keys, double& mean, double& sd) const;
  //! Replaces the regional view (tests; a Kafka repartition implementation later).
  void set_regional_view(std::unique_ptr<low_stock::RegionalStockView> v) {
    regional_ = std::move(v);
  }
  static constexpr uint32_t kOverdueTimerTag = 1;

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
  using Flow = low_stock::Flow;

  class View : public InventoryView {
   public:
    explicit View(const LowStockOperator& op) : op_(op) {}
    bool position(KeyId key, StockPosition& out) const override;
    void lots(KeyId key, std::vector<StockLot>& out) const override;

   private:
    const LowStockOperator& op_;
  };

  // Workflow (replenish.cpp).
  Flow& flow_for(KeyId key, KeyState& s);
  void drop_flow_if_empty(KeyId key, KeyState& s, int64_t now_ms);
  void mark_flow_dirty(KeyId key, Flow& f);
  void apply_order(const Event& e, KeyId key, KeyState& s, OperatorContext& ctx);
  void apply_receipt(const Event& e, KeyId key, KeyState& s, OperatorContext& ctx);
  std::string overdue_id(const KeyIndex& keys, KeyId key, const low_stock::OpenOrder& o) const;
  std::string_view supplier_of(KeyId key, uint32_t sku_id) const;
  void resolve_overdue(KeyId key, low_stock::OpenOrder& o, int64_t ts, OperatorContext& ctx);
  void apply_lots(const Event& e, KeyId key, KeyState& s, double on_hand_before);
  void handle_feedback(const Event& e);
  void learned_lead(KeyId key, uint32_t sku_id, double& mean, double& sd) const;
  uint32_t supplier_id(std::string_view name, bool add);
  int32_t region_of(KeyId key, const KeyIndex& keys);
  double next_receipt_days(KeyId key, const KeyState& s, const Plan& p, int64_t ts,
                           const char** source) const;
  void evaluate_legacy_low_stock(KeyId key, KeyState& s, const Plan& p, int64_t ts,
                                 OperatorContext& ctx);
  //! Whether a stock-out of `key` (on hand <= 0 now) is an exception worth an alert.
  bool stockout_exception(KeyId key, const KeyState& s, const Plan& p, int64_t ts);
  void evaluate_low_stock_exception(KeyId key, KeyState& s, const Plan& p, int64_t ts,
                                    OperatorContext& ctx);
  void evaluate_workflow(KeyId key, KeyState& s, const Plan& p, int64_t ts, OperatorContext& ctx);
  void maybe_recommend(KeyId key, KeyState& s, const Plan& p, int64_t ts, OperatorContext& ctx);
  void check_overdue(KeyId key, KeyState& s, const Plan& p, int64_t ts, OperatorContext& ctx);
  void check_expiry(KeyId key, KeyState& s, const Plan& p, int64_t ts, OperatorContext& ctx);
  void check_transfer(KeyId key, KeyState& s, const Plan& p, int64_t ts, OperatorContext& ctx);
  bool quiet(KeyId key, const KeyState& s, uint8_t kind, int64_t ts) const;
  void start_quiet(KeyId key, KeyState& s, uint8_t kind, int64_t until_ms);
  //! A transfer to `key` is proposed (open transfer episode).
  bool transfer_open(KeyId key) const;
  void index_alert(const std::string& id, KeyId key, uint8_t kind);
  void emit_workflow_alert(KeyId key, uint8_t kind, std::string_view id, std::string_view status,
                           std::string_view severity, int64_t ts, std::string summary,
                           const std::function<void(JsonWriter&)>& details, OperatorContext& ctx);
  void snapshot_workflow(StateBatch& batch, const KeyIndex& keys);
  Status restore_workflow(const StateStore& store, OperatorContext& ctx);

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

  // Workflow state (docs/low_stock.md "Workflow").
  const KeyIndex* keys_ = nullptr;  // the task's key index (for the inventory view)
  View view_{*this};
  absl::flat_hash_map<KeyId, Flow> flows_;
  std::vector<KeyId> dirty_flows_;              // flows changed or dropped since the last snapshot
  std::vector<inventory::LeadStats> sku_lead_;  // by sku id
  std::vector<uint32_t> dirty_sku_lead_;
  std::vector<std::string> suppliers_;  // by supplier id
  absl::flat_hash_map<std::string, uint32_t> supplier_ids_;
  absl::flat_hash_map<uint64_t, inventory::LeadStats> supplier_lead_;  // supplier<<32 | sku
  std::vector<uint64_t> dirty_supplier_lead_;
  // Node map: a recommendation holds references to two entries while inserting them.
  absl::node_hash_map<std::string, low_stock::Budget> budgets_;           // store \x1f category
  absl::flat_hash_map<std::string, std::pair<KeyId, uint8_t>> open_ids_;  // firing alerts
  std::unique_ptr<low_stock::RegionalStockView> regional_;
  absl::flat_hash_map<std::string, uint32_t> region_of_store_;
  std::vector<int32_t> store_region_;      // by store id: region, -1 none, -2 not looked up
  std::vector<double> unsold_;             // scratch
  std::vector<uint32_t> supplier_filled_;  // by supplier id: filled orders, all skus
  Probe probe_;
  struct StoreGauges {
    Probe::Gauge *stockouts, *units_at_risk, *expiry_units, *expiry_cost;
  };
  std::vector<StoreGauges> store_gauges_;                                 // by store id
  std::vector<std::pair<Probe::Gauge*, Probe::Gauge*>> supplier_gauges_;  // by supplier id
  std::vector<std::pair<Probe::Gauge*, Probe::Gauge*>> region_gauges_;    // by region
  struct Counters {
    Probe::Counter* recommendations[3];
    Probe::Counter* recommendation_value[3];
    Probe::Counter* feedback_ack;
    Probe::Counter* feedback_dismiss;
    Probe::Counter* feedback_unknown;
    Probe::Counter* bad_unknown_po;
    Probe::Counter* bad_expired_lot;
    Probe::Counter* orders_opened;
    Probe::Counter* orders_closed;
    Probe::Counter* transfers;
    Probe::Counter* suppressed;
  } counters_{};
};

}  // namespace sw
