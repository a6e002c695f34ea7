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

#include "stream/huge_pages.h"
#include "stream/operator.h"

namespace sw {

class Config;

//! Pure replenishment formulas (RETAIL.md), exposed for tests and other operators.
namespace inventory {
//! Standard normal quantile Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation plus one
//! Halley refinement step; absolute error below 1e-12 in practice).
double inverse_normal_cdf(double p);
//! Φ(x).
double normal_cdf(double x);
//! SS = z · sqrt(L·σ_d² + d²·σ_L²).
double safety_stock(double z, double d, double sd, double lead, double lead_sd);
//! ROP = d·L + SS.
double reorder_point(double z, double d, double sd, double lead, double lead_sd);
//! S = d·(L+R) + z · sqrt((L+R)·σ_d² + d²·σ_L²).
double order_up_to(double z, double d, double sd, double lead, double lead_sd, double review);
//! max(MOQ, S − position) rounded up to a multiple of `pack` (pack <= 0 means 1); 0 when the
//! position already reaches S.
double order_quantity(double order_up_to_level, double position, double moq, double pack);
//! P(D_L > on_hand) for lead-time demand with mean `mean` and variance `var`: Poisson when
//! the mean is below 10 units (slow movers), normal otherwise.
double stockout_probability(double on_hand, double mean, double var);
}  // namespace inventory

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
  void snapshot(StateBatch& batch) override;
  Status restore(const StateStore& store, OperatorContext& ctx) override;
  size_t memory_bytes() const override;
  std::string describe(KeyId key) const override;

  //! Namespaces in the state store. Per-key state is a base plus a delta log: the base holds
  //! every key in blocks of kKeysPerBlock consecutive ids (key = 4-byte big-endian first
  //! KeyId); each checkpoint appends its dirty keys to the log in chunks of kLogChunkKeys
  //! (key = 8-byte big-endian checkpoint number + 4-byte chunk number); once the log holds as
  //! many records as there are keys, a checkpoint rewrites the base and drops the log in the
  //! same batch. So a checkpoint of a million dirty keys is ~16 k RocksDB entries instead of
  //! a million tiny ones (flush sorts and indexes entries: per-entry cost dominated), and
  //! each dirty key costs at most two records' bytes, amortised.
  static constexpr std::string_view kStateNs = "op/low_stock";
  static constexpr std::string_view kStateLogNs = "op/low_stock/log";
  static constexpr uint32_t kKeysPerBlock = 32;
  static constexpr uint32_t kLogChunkKeys = 64;
  static constexpr std::string_view kItemNs = "op/low_stock/items";
  static constexpr std::string_view kOverrideNs = "op/low_stock/item_overrides";

  struct Settings {
    double service_level = 0.95;
    double default_lead_time_days = 7;
    double default_lead_time_sd_days = 1;
    double review_period_days = 7;
    double overstock_days = 90;
    double demand_alpha = 0;  // derived from demand_half_life_days unless set
    double low_stock_clear_margin = 0.10;
    double overstock_clear_margin = 0.10;
    int64_t min_history_days = 7;
    double min_demand_per_day = 0.1;
    double stockout_clear_units = 1;
  };
  const Settings& settings() const { return settings_; }

  //! Per-key hot state. Kept compact (see static_assert in the .cpp): floats where a
  //! relative precision of 1e-7 is plenty, doubles for stock counts.
  struct KeyState {
    double on_hand = 0;
    int64_t low_since_ms = 0;        // event time that opened the low_stock episode
    int64_t stockout_since_ms = 0;   // ... the stockout episode
    int64_t overstock_since_ms = 0;  // ... the overstock episode
    int64_t last_event_ms = 0;
    float on_order = 0;
    float demand_mean = 0;  // EWMA of completed local days' demand
    float demand_var = 0;   // EW variance of the same
    float today_qty = 0;    // demand of the current (open) local day
    int32_t day = kNoDay;   // current local day number (store calendar), kNoDay before any event
    uint16_t history_days = 0;  // completed local days since the key's first event (saturates)
    uint8_t flags = 0;
    uint8_t low_severity = 0;  // 0 none, 1 warning, 2 critical (open low_stock episode)
    static constexpr int32_t kNoDay = std::numeric_limits<int32_t>::min();
  };
  static_assert(sizeof(KeyState) == 64, "one cache line per key (prefetch touches one line)");

  //! Effective parameters and derived figures of one key at one instant.
  struct Plan {
    double on_hand = 0, on_order = 0, position = 0;
    double demand = 0, demand_sd = 0;
    double lead = 0, lead_sd = 0, review = 0, service_level = 0, z = 0;
    double pack = 1, moq = 0, cost = std::numeric_limits<double>::quiet_NaN();
    double lead_demand_mean = 0, lead_demand_var = 0;  // demand over the lead time
    double safety_stock = 0, reorder_point = 0;
    double cover_days = std::numeric_limits<double>::infinity();
    bool from_view = false;
    bool enough_history = false;
    bool inventory_known = false;  // an inventory record has been seen
  };

  //! Computes the plan for `key` as of `now_ms` (uses the demand view when present).
  Plan plan(KeyId key, int64_t now_ms, const OperatorContext* ctx) const;
  //! State of `key` (nullptr if never seen). For tests and inspection.
  const KeyState* state(KeyId key) const {
    return key < states_.size() && states_[key].day != KeyState::kNoDay ? &states_[key] : nullptr;
  }

  //! Fixed-size record of one key's persisted state (layouts 1 and 2, no version byte): read
  //! when restoring older checkpoints; public so tests can write those layouts.
  static void encode_state(const KeyState& s, char* out);
  static void decode_state(const char* in, KeyState& s);
  static constexpr size_t kStateRecordBytes = 64;
  //! Stable alert id: hex of a 64-bit hash of (type, store, sku, episode start time).
  static std::string alert_id(std::string_view type, std::string_view store, std::string_view sku,
                              int64_t since_ms);

 private:
  // Item reference data; NaN = not given (falls back to the sku record, then to the config).
  struct ItemParams {
    float lead_time_days = std::numeric_limits<float>::quiet_NaN();
    float lead_time_sd_days = std::numeric_limits<float>::quiet_NaN();
    float service_level = std::numeric_limits<float>::quiet_NaN();
    float z = std::numeric_limits<float>::quiet_NaN();  // Φ⁻¹(service_level) when set
    float pack_size = std::numeric_limits<float>::quiet_NaN();
    float moq = std::numeric_limits<float>::quiet_NaN();
    float cost = std::numeric_limits<float>::quiet_NaN();
    bool present = false;
    bool dirty = false;
    std::string category;
    std::string sku;  // sku name (sku-wide records), for persistence
  };

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
  void adopt_pending(uint32_t sku_id);
  //! Compact record of one key's persisted state (layout 3): a u16 mask of the fields whose
  //! bits are not all zero, then those fields. At a million keys with most alert fields
  //! unset this is ~40% smaller than the fixed record, and every checkpoint byte is paid
  //! again in the WAL, the memtable, the flush and compaction.
  static size_t encode_compact(const KeyState& s, char* out);
  //! Reads one compact record at `pos` of `v`; false if it is truncated.
  static bool decode_compact(std::string_view v, size_t& pos, KeyState& s);
  static constexpr size_t kCompactMaxBytes = 2 + kStateRecordBytes;
  static std::string encode_item(const ItemParams& p);
  static bool decode_item(std::string_view v, ItemParams& p);

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
  const KeyIndex* keys_ = nullptr;  // the task's index, remembered for describe()/snapshot()
};

}  // namespace sw
