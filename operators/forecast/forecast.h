#pragma once
// Forecast operator (DESIGN.md §6, issue #4): incremental demand forecasts per (store, sku).
//
// Demand is aggregated into event-time buckets of the store's local calendar
// (`operators.forecast.bucket`: 1d or 1h). Each bucket is closed by an event-time timer at its
// end; a bucket with no sales while in stock is zero demand. The operator tracks on-hand from
// inventory/sale/return events (like low_stock) and treats a bucket that was out of stock for
// more than `censor_fraction` of its length as censored: it is not used to update the models.
//
// Model per key: demand = base x season x regressors, where
//   season     = own day-of-week profile (shrunk toward the category x store pool, itself shrunk
//                toward the category chain-wide pool) x month-of-year pool x hour-of-day pool
//                (1h buckets);
//   regressors = exp(theta_cat * discount) x (price / reference price)^elasticity_cat, both
//                learned per category from the stream;
//   base       = damped-trend exponential smoothing of deseasonalised demand, or Croston-SBA /
//                TSB for intermittent series, chosen per key from rolling one-step errors.
// Intervals come from per-key online quantiles of standardised residuals at horizon anchors
// 1, 7 and 28 buckets. Rolling MASE/WAPE/bias per key and overall; a key whose short-window
// MASE exceeds `drift_mase` raises `forecast_drift` and is re-fitted from its ring of recent
// buckets. Output per key per closed bucket to OutputStream::kForecasts (DESIGN.md §3).
//
// Threading: one task thread. Determinism: outputs depend only on the call sequence.

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "operators/forecast/model.h"
#include "operators/forecast/render.h"
#include "operators/forecast/settings.h"
#include "operators/forecast/state.h"
#include "stream/operator.h"

namespace sw {

class ForecastOperator final : public Operator, public DemandView {
 public:
  static constexpr int kRing = forecast::kRing;
  static constexpr int kPending = forecast::kPending;
  static constexpr int kLongAnchor = forecast::kLongAnchor;
  static constexpr int kLongEvery = forecast::kLongEvery;
  static constexpr int kLongSlots = forecast::kLongSlots;
  static constexpr std::string_view kNamespace = forecast::kNamespace;

  using Model = forecast::Model;
  using KeyState = forecast::KeyState;
  static std::string_view model_name(Model m) { return forecast::model_name(m); }

  explicit ForecastOperator(ForecastOptions options = {});

  std::string_view name() const override { return "forecast"; }
  uint32_t subscriptions() const override;
  void on_event(const Event& event, KeyId key, OperatorContext& ctx) override;
  void on_timer(KeyId key, int64_t time_ms, uint32_t tag, OperatorContext& ctx) override;
  void snapshot(StateBatch& batch, const KeyIndex& keys) override;
  Status restore(const StateStore& store, OperatorContext& ctx) override;
  size_t memory_bytes() const override;
  std::string describe(KeyId key, const KeyIndex& keys) const override;
  //! Overall MASE and WAPE gauges, set once both are known.
  const Probe* probe() const override { return &probe_; }
  void update_probe() override;
  //! Hot reload: emit, emit_threshold, horizon_encoding and drift_mase apply from the next
  //! bucket close; a key that shapes model state (ForecastOptions::restart_key) is refused by
  //! name. Bumps version_ so no cached demand() step outlives the change.
  Status reconfigure(const Config& config) override;

  //! The demand view low_stock reads (DESIGN.md §5); valid for the operator's lifetime.
  const DemandView* demand_view() const { return this; }
  bool demand(KeyId key, const KeyIndex& keys, int64_t from_ms, double days, double on_hand,
              DemandEstimate& out) const override;
  //! demand() without the category own-price factor (price operator's baseline).
  bool baseline(KeyId key, const KeyIndex& keys, int64_t from_ms, double days,
                DemandBaseline& out) const override;

  //! Forecast of the `steps` buckets after the key's last closed bucket (time_ms filled when
  //! a calendar has been seen). False if the key has no closed bucket yet.
  bool forecast(KeyId key, int steps, const KeyIndex& keys, std::vector<HorizonPoint>& out) const;
  //! Index (local day, or local day * 24 + hour) of the key's last closed bucket.
  bool last_closed_bucket(KeyId key, int32_t& bucket) const;
  //! Name of the model currently chosen for the key.
  std::string_view key_model(KeyId key) const;
  //! Rolling accuracy over all keys (one-step-ahead forecasts, uncensored buckets).
  const forecast::AccuracySums& overall_accuracy() const { return g_.overall; }
  //! Standardised residual quantiles of the key's interval anchor `j` (0..3: horizons 1, 7, 28,
  //! kLongAnchor) and, for the long anchor, how many out-of-sample residuals it has learned.
  bool anchor_quantiles(KeyId key, int j, double& q_lo, double& q_hi, uint32_t& samples) const;
  //! Per-key rolling accuracy (long window).
  bool key_accuracy(KeyId key, forecast::AccuracySums& out) const;
  const ForecastOptions& options() const { return options_; }
  size_t keys() const { return states_.size(); }
  //! Sales that arrived for an already-closed bucket (not counted as demand).
  uint64_t late_sales() const { return g_.late_sales; }
  uint64_t censored_buckets() const { return g_.censored_buckets; }
  //! Sales attributed to a later bucket than their own because two buckets beyond the open
  //! window had sales at once (sparse keys whose earlier buckets had not closed yet).
  uint64_t spilled_sales() const { return g_.spilled_sales; }

 private:
  using PoolProfile = forecast::PoolProfile;
  using CategoryState = forecast::CategoryState;
  using Promo = forecast::Promo;
  using OwnHours = forecast::OwnHours;
  // Season/regressor context of one bucket for one key.
  struct Seasons {
    double dow[7];
    double moy[12];
    double hod[24];
  };

  KeyState& state_for(KeyId key, OperatorContext& ctx);
  void init_key(KeyId key, KeyState& s, OperatorContext& ctx);
  uint32_t group_for(uint16_t category, uint32_t store_id);
  uint16_t category_id(std::string_view name);
  int32_t bucket_of(uint32_t store_id, std::string_view store, int64_t ts_ms) const;
  int64_t bucket_start(uint32_t store_id, std::string_view store, int32_t bucket) const;
  int64_t bucket_end(uint32_t store_id, std::string_view store, int32_t bucket) const;
  int64_t day_start(uint32_t store_id, std::string_view store, int32_t day) const;
  void set_stock(KeyState& s, double on_hand, int64_t ts_ms, KeyId key, OperatorContext& ctx);
  void add_oos(KeyState& s, int64_t from_ms, int64_t to_ms, KeyId key, const KeyIndex& keys);
  void ensure_timer(KeyId key, KeyState& s, OperatorContext& ctx);
  void close_bucket(KeyId key, KeyState& s, OperatorContext& ctx);
  void decay_pools(PoolProfile& p, int32_t day);
  void seasons(KeyId key, const KeyState& s, Seasons& out) const;
  double season_factor(const Seasons& se, int32_t bucket) const;
  double promo_discount(std::string_view store, std::string_view sku, int64_t start_ms,
                        int64_t end_ms) const;
  double uplift(const KeyState& s, double discount) const;
  //! Expected multiplier of promotions not yet announced (1 + share x (mean uplift - 1)) and
  //! the typical announcement lead in buckets.
  double unannounced_promo_factor(const KeyState& s, double& lead_buckets) const;
  double base_forecast(const KeyState& s, int h) const;
  //! Mean forecast of step `i` (1 = the open bucket) as horizon() computes it.
  double step_mean(KeyId key, const KeyIndex& keys, const KeyState& s, const Seasons& se,
                   int i) const;
  //! Long-anchor quantiles before the key has its own out-of-sample residuals there: the
  //! 7 -> 28 widening continued in log h.
  void extrapolated_quantiles(const KeyState& s, int h, double& q_lo, double& q_hi) const;
  void interval_quantiles(const KeyState& s, int h, double& q_lo, double& q_hi) const;
  void refit(KeyId key, KeyState& s, int32_t closed_bucket);
  void check_drift(KeyId key, KeyState& s, int32_t bucket, int64_t time_ms, OperatorContext& ctx);
  void emit_forecast(KeyId key, const KeyState& s, int32_t bucket, int64_t end_ms,
                     OperatorContext& ctx);
  void horizon(KeyId key, const KeyState& s, int steps, const KeyIndex* keys,
               std::vector<HorizonPoint>& out) const;
  // One key's horizon computed step by step (horizon() and demand()): what every step shares
  // is worked out once in begin_horizon(), next_step() computes only what it is asked for.
  struct HorizonRun {
    const KeyState* s = nullptr;
    Seasons se;
    bool timed = false;
    uint32_t sid = 0;
    std::string_view store;
    const std::vector<Promo>* promos = nullptr;
    double price_reg = 1, surprise = 1, lead_buckets = 0, flat_base = 0;
    bool smoothing = false;
    double phi_pow = 1, damped = 0;
    int i = 0;  // steps taken
  };
  static constexpr int kStepTime = 1, kStepMean = 2, kStepInterval = 4;
  void begin_horizon(KeyId key, const KeyState& s, const KeyIndex* keys, HorizonRun& r) const;
  //! Step r.i + 1 of the horizon: `need` (kStep* bits) says which fields of `p` to fill;
  //! the trend's damping advances on every step, so steps must not be skipped.
  void next_step(HorizonRun& r, int need, HorizonPoint& p) const;
  //! lo/hi of step `i` (1-based) from its mean.
  void step_bounds(const KeyState& s, int i, HorizonPoint& p) const;
  //! Step `i` (0-based) of the key's horizon from the demand cache (computed on first use).
  const HorizonPoint& demand_step(KeyId key, const KeyState& s, const KeyIndex& keys, int i,
                                  bool bounds) const;
  //! Month index 0..11 of a local day number (a table over the days seen, no civil math).
  int month_index(int32_t day) const;
  //! The key's whole state changed (written as 'k', with its 'h' and 'e' records).
  void mark_dirty(KeyId key);
  //! Only its first forecast::kHotBytes changed (written as 'q' unless mark_dirty()).
  void mark_hot(KeyId key);
  void mark_group_dirty(uint32_t group);

  ForecastOptions options_;
  forecast::DampedTrendParams params_;
  double z_ = 1.6449;
  std::vector<KeyState> states_;
  // Own hour-of-day profile per key, kept only with hourly buckets.
  std::vector<OwnHours> own_hours_;
  // Horizon mean of the key's last forecast record, kept only with emit: on_change.
  using EmittedMean = forecast::EmittedMean;
  std::vector<EmittedMean> emitted_;
  forecast::Globals g_;  // categories, promotions, counters (the 'g' record)
  absl::flat_hash_map<std::string, uint16_t> sku_category_;
  std::vector<PoolProfile> groups_;
  std::vector<uint64_t> group_keys_;                   // (category << 32 | store_id) per group
  absl::flat_hash_map<uint64_t, uint32_t> group_ids_;  // (category << 32 | store_id) -> group
  std::vector<KeyId> dirty_;
  std::vector<uint8_t> dirty_flag_;  // kDirtyAll | kDirtyHot | kHasHot per key
  static constexpr uint8_t kDirtyAll = 1, kDirtyHot = 2;
  static constexpr uint8_t kHasHot = 4;  // a 'q' record is in the store (or in the batch)
  std::vector<uint32_t> dirty_groups_;
  std::vector<uint8_t> group_dirty_;
  std::vector<std::string> dirty_skus_;
  bool globals_dirty_ = false;
  // Derived caches (not persisted).
  const Calendar* calendar_ = nullptr;
  // UTC start of each local day per store, over a range that only grows (the days the stream
  // and its horizons reach), so a horizon step is one array read, not a time-zone lookup.
  struct DayStarts {
    int32_t first_day = 0;
    std::vector<int64_t> starts;
  };
  mutable std::vector<DayStarts> day_starts_;
  mutable int32_t month_first_day_ = 0;
  mutable std::vector<int8_t> month_of_day_;  // month index 0..11 from month_first_day_
  // Interval interpolation weights by horizon step h, the same expressions
  // interval_quantiles() and extrapolated_quantiles() evaluated per key per step:
  // h <= 28: log-h weight between the short anchors; 28 < h <= kLongAnchor: log-h weight
  // between 28 and the long anchor; beyond: exponents of the widening continued in log h.
  std::vector<double> t_short_, t_long_, e_extrapolated_, e_long_;
  mutable std::vector<HorizonPoint> scratch_;
  // Bumped on every call that may change state (on_event, on_timer, restore): the demand
  // cache is valid while it is unchanged.
  uint64_t version_ = 0;
  struct DemandCache {
    KeyId key = kNoKey;
    uint64_t version = UINT64_MAX;
    const KeyIndex* keys = nullptr;
    HorizonRun run;
    std::vector<HorizonPoint> points;  // means of the steps taken
    std::vector<uint8_t> bounded;      // lo/hi filled too
  };
  mutable DemandCache demand_cache_;
  std::string horizon_json_;
  Probe probe_;
  Probe::Gauge& mase_gauge_ = probe_.gauge(
      "forecast_mase_ratio", "Overall forecast MASE against seasonal naive (1 = as good).");
  Probe::Gauge& wape_gauge_ = probe_.gauge(
      "forecast_wape_ratio", "Overall forecast weighted absolute percentage error (0..1+).");
  Probe::Counter& closes_counter_ =
      probe_.counter("forecast_bucket_closes_total", "Forecast buckets closed (all keys).");
};

}  // namespace sw
