#pragma once
// price: own-price elasticity per (store, SKU), SKU and category (operators/price/
// elasticity.h), and price triggers (DESIGN.md §3) with the reasons competitor_undercut,
// overstock_markdown, expiry_markdown, stockout_risk and elasticity_opportunity; each
// proposes a price inside the guardrails (operators/price/guardrails.h) and carries an
// approval class (auto, review, escalate) and its evidence. Config keys, formulas, lifecycle
// and persisted layout: docs/price.md.
//
// Reads the views demand (forecast: expected units at the current price), inventory (stock
// position and lots; without it the stock-driven reasons stay silent) and anomalies (an open
// anomaly on the key escalates). Each may be absent.
//
// Lifecycle: constructed from the config (throws ConfigError for bad keys); then called by one
// task thread. A key is evaluated when its local day rolls (its first event of a later day)
// and when a competitor price for it arrives. Hot path: a sale touches one KeyState and
// allocates nothing; day rolls and trigger rendering allocate.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "operators/price/elasticity.h"
#include "operators/price/guardrails.h"
#include "operators/price/render.h"
#include "operators/price/settings.h"
#include "operators/price/state.h"
#include "stream/operator.h"

namespace sw {

class Config;

using PriceFacts = price::Facts;

class PriceOperator : public Operator {
 public:
  using Settings = PriceSettings;
  //! Reads operators.price.*; throws ConfigError naming the key and the fix.
  explicit PriceOperator(const Config& config);
  explicit PriceOperator(Settings settings);

  std::string_view name() const override { return "price"; }
  uint32_t subscriptions() const override;
  void on_event(const Event& event, KeyId key, OperatorContext& ctx) override;
  void snapshot(StateBatch& batch, const KeyIndex& keys) override;
  Status restore(const StateStore& store, OperatorContext& ctx) override;
  size_t memory_bytes() const override;
  std::string describe(KeyId key, const KeyIndex& keys) const override;
  const Probe* probe() const override { return &probe_; }

  //! Hot reload: every operators.price.* key applies to the next evaluation.
  Status reconfigure(const Config& config) override;
  const Settings& settings() const { return settings_; }
  //! State of `key` (nullptr if never seen).
  const price::KeyState* state(KeyId key) const {
    return key < keys_.size() && keys_[key].day != price::KeyState::kNoDay ? &keys_[key] : nullptr;
  }
  //! The key's current figures as of `now_ms` (simulate, tests); false if the key is unknown.
  bool facts(KeyId key, int64_t now_ms, const OperatorContext& ctx, PriceFacts& out) const;
  //! Expected units/day at `price` given the facts: d0 · E[(price/p0)^b] with b normal.
  static double expected_units(const PriceFacts& f, double price);
  //! The price that maximises expected margin per day within [lo, hi] (hi may be +inf).
  static double best_margin_price(const PriceFacts& f, double lo, double hi);
  //! Stable trigger id: hex of a 64-bit hash of (reason, store, sku, episode start).
  static std::string trigger_id(std::string_view reason, std::string_view store,
                                std::string_view sku, int64_t since_ms);

 private:
  struct Decision {
    bool condition = false;
    int direction = 0;  // -1 lower, +1 raise
    double target = 0;  // unconstrained target price (NaN: none)
    std::string why;    // one line for the summary
  };

  price::KeyState& touch(KeyId key, std::string_view sku, int64_t ts_ms,
                         const OperatorContext& ctx);
  void fill_estimates(const price::KeyState& s, const KeyIndex& keys, PriceFacts& f) const;
  uint32_t sku_index(std::string_view sku);
  uint32_t category_index(const std::string& category);
  void mark_dirty(KeyId key);
  void roll_to(KeyId key, price::KeyState& s, int32_t day, OperatorContext& ctx);
  void observe_day(price::KeyState& s, int32_t day, double units, double price);
  void close_spell(price::KeyState& s, int32_t day);
  void evaluate(KeyId key, int64_t now_ms, int32_t day, OperatorContext& ctx, bool competitor_only);
  Decision decide(int reason, const PriceFacts& f, bool currently_open) const;
  void resolve_all(KeyId key, int64_t ts_ms, std::string_view why, OperatorContext& ctx);
  void emit(KeyId key, int reason, std::string_view status, int approval, int64_t since_ms,
            int64_t ts_ms, const PriceFacts* f, const Decision* d, const price::Proposal* p,
            std::string_view note, const std::vector<std::string_view>* approval_why,
            OperatorContext& ctx) const;
  void on_price(const Event& e, KeyId key, OperatorContext& ctx);
  void on_competitor(const Event& e, KeyId key, OperatorContext& ctx);
  void on_item(const Event& e, KeyId key, OperatorContext& ctx);
  void on_promotion(const Event& e, KeyId key, OperatorContext& ctx);
  int32_t local_day(KeyId key, int64_t ts_ms, const OperatorContext& ctx) const;

  Settings settings_;
  std::vector<price::KeyState> keys_;
  std::vector<price::SkuState> skus_;
  std::vector<price::CategoryState> categories_;
  absl::flat_hash_map<std::string, uint32_t> sku_ids_, category_ids_;
  std::vector<KeyId> dirty_keys_;
  std::vector<uint32_t> dirty_skus_, dirty_categories_;
  Probe probe_;
  std::array<std::array<Probe::Counter*, price::kApprovalCount>, price::kReasonCount> fired_{};
};

}  // namespace sw
