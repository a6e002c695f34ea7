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

#include "operators/forecast_model.h"
#include "stream/operator.h"

namespace sw {

class Config;

struct ForecastOptions {
  bool hourly = false;              // operators.forecast.bucket: 1d (default) | 1h
  int horizon = 28;                 // operators.forecast.horizon: buckets ahead, 1..400
  double interval = 0.9;            // operators.forecast.interval: central interval probability
  bool emit = true;                 // operators.forecast.emit: every_close (default) | none
  double censor_fraction = 0.25;    // operators.forecast.censor_fraction
  double alpha = 0.01;              // operators.forecast.alpha: level gain per bucket
  double beta = 0.02;               // operators.forecast.beta: trend gain (relative to alpha)
  double phi = 0.97;                // operators.forecast.phi: trend damping per bucket
  double intermittent_alpha = 0.1;  // operators.forecast.intermittent_alpha: Croston/TSB gain
  double profile_shrink = 2000;     // operators.forecast.profile_shrink: pseudo-units of the pool
  double drift_mase = 1.5;          // operators.forecast.drift_mase: short-window MASE threshold
  bool own_months = true;           // operators.forecast.own_months: per-key month refinement
  bool own_hours = true;            // operators.forecast.own_hours: per-key hour refinement (1h)

  //! Reads operators.forecast.*; throws ConfigError on bad values.
  static ForecastOptions from_config(const Config& config);
};

//! One step of a forecast horizon.
struct HorizonPoint {
  int64_t time_ms = 0;  // start of the bucket
  double mean = 0;
  double lo = 0;
  double hi = 0;
};

class ForecastOperator final : public Operator, public DemandView {
 public:
  static constexpr int kRing = 28;    // recent buckets kept per key (re-fit, residuals)
  static constexpr int kPending = 4;  // open buckets per key (out-of-order tolerance)
  // Long-horizon interval anchor: every kLongEvery-th close (bucket index multiple of
  // kLongEvery) stores the full forecast for the bucket kLongAnchor ahead; when that bucket
  // closes, its out-of-sample standardised residual updates the anchor's quantiles.
  static constexpr int kLongAnchor = 91;
  static constexpr int kLongEvery = 7;
  static constexpr int kLongSlots = kLongAnchor / kLongEvery;  // 13
  static constexpr std::string_view kNamespace = "op/forecast";

  enum class Model : uint8_t { kSmoothing = 0, kCrostonSba = 1, kTsb = 2 };
  static std::string_view model_name(Model m);

  explicit ForecastOperator(ForecastOptions options = {});

  std::string_view name() const override { return "forecast"; }
  uint32_t subscriptions() const override;
  void on_event(const Event& event, KeyId key, OperatorContext& ctx) override;
  void on_timer(KeyId key, int64_t time_ms, uint32_t tag, OperatorContext& ctx) override;
  void snapshot(StateBatch& batch) override;
  Status restore(const StateStore& store, OperatorContext& ctx) override;
  size_t memory_bytes() const override;
  std::string describe(KeyId key) const override;
  //! Overall MASE and WAPE gauges, set once both are known.
  const Probe* probe() const override { return &probe_; }
  void update_probe() override {
    double mase = forecast::accuracy_mase(overall_), wape = forecast::accuracy_wape(overall_);
    if (std::isfinite(mase) && std::isfinite(wape)) mase_gauge_.set(mase), wape_gauge_.set(wape);
  }

  //! The demand view low_stock reads (DESIGN.md §5); valid for the operator's lifetime.
  const DemandView* demand_view() const { return this; }
  bool demand(KeyId key, int64_t from_ms, double days, double on_hand,
              DemandEstimate& out) const override;

  //! Forecast of the `steps` buckets after the key's last closed bucket (time_ms filled when
  //! a calendar has been seen). False if the key has no closed bucket yet.
  bool forecast(KeyId key, int steps, std::vector<HorizonPoint>& out) const;
  //! Index (local day, or local day * 24 + hour) of the key's last closed bucket.
  bool last_closed_bucket(KeyId key, int32_t& bucket) const;
  //! Name of the model currently chosen for the key.
  std::string_view key_model(KeyId key) const;
  //! Rolling accuracy over all keys (one-step-ahead forecasts, uncensored buckets).
  const forecast::AccuracySums& overall_accuracy() const { return overall_; }
  //! Standardised residual quantiles of the key's interval anchor `j` (0..3: horizons 1, 7, 28,
  //! kLongAnchor) and, for the long anchor, how many out-of-sample residuals it has learned.
  bool anchor_quantiles(KeyId key, int j, double& q_lo, double& q_hi, uint32_t& samples) const;
  //! Per-key rolling accuracy (long window).
  bool key_accuracy(KeyId key, forecast::AccuracySums& out) const;
  const ForecastOptions& options() const { return options_; }
  size_t keys() const { return states_.size(); }
  //! Sales that arrived for an already-closed bucket (not counted as demand).
  uint64_t late_sales() const { return late_sales_; }
  uint64_t censored_buckets() const { return censored_buckets_; }
  //! Sales attributed to a later bucket than their own because two buckets beyond the open
  //! window had sales at once (sparse keys whose earlier buckets had not closed yet).
  uint64_t spilled_sales() const { return spilled_sales_; }

  //! Per-key hot state (trivially copyable: snapshots copy it byte for byte).
  struct KeyState {
    int32_t open_bucket = 0;  // oldest open bucket index
    uint32_t group = 0;       // index into groups_ (category x store)
    uint16_t category = 0;
    uint8_t flags = 0;  // kStarted, kStockKnown, kTimerSet, kDrift
    uint8_t model = 0;  // Model
    float pend_qty[kPending] = {};
    float pend_oos_s[kPending] = {};
    int64_t oos_since_ms = -1;  // start of the current out-of-stock spell, -1 in stock
    int64_t oos_last_from = 0;  // the last completed spell, not yet added to pend_oos_s
    int64_t oos_last_to = 0;
    int32_t far_bucket = INT32_MIN;  // one bucket beyond the open window (sparse keys)
    float far_qty = 0;
    float on_hand = 0;
    float price = 0;      // current own price (0 unknown)
    float ref_price = 0;  // slow average of the own price (regular price)
    float annual = 0;     // slow (yearly) level, for learning month-of-year profiles
    forecast::LevelTrend lt;
    forecast::CrostonState croston;
    forecast::TsbState tsb;
    forecast::DemandPattern pattern;
    float mse[3] = {};      // rolling squared one-step error per Model
    float dow_num[7] = {};  // own day-of-week profile (ratio of sums)
    float dow_den[7] = {};
    float moy_num[12] = {};  // own month-of-year profile (ratio of sums, against `annual`)
    float moy_den[12] = {};
    float q_lo[4] = {};  // standardised residual quantiles at horizon anchors 1, 7, 28, 91
    float q_hi[4] = {};
    float long_f[kLongSlots] = {};  // forecast for origin + kLongAnchor per weekly origin (<0 none)
    uint16_t long_n = 0;            // out-of-sample residuals learned at the long anchor
    float ring_y[kRing] = {};       // demand of the last kRing closed buckets
    float ring_base[kRing] = {};    // deseasonalised one-step base forecast made at each close
    uint32_t ring_censored = 0;     // bit per ring slot
    uint32_t closes = 0;            // buckets closed
    uint32_t learned = 0;           // uncensored buckets learned from
    forecast::AccuracySums acc_long;
    forecast::AccuracySums acc_short;
    int32_t drift_bucket = -1;  // bucket at which the open drift alert fired
  };
  enum Flag : uint8_t {
    kStarted = 1,
    kStockKnown = 2,
    kTimerSet = 4,
    kDrift = 8,
    kInit = 16,
    kPrior = 32
  };

 private:
  struct PoolProfile {
    forecast::Profile<7, double> dow;
    forecast::Profile<12, double> moy;
    forecast::Profile<24, double> hod;
    double level_sum = 0;  // discounted sum of established keys' levels (cold-start prior)
    double level_n = 0;
    int32_t last_day = INT32_MIN;
  };
  struct CategoryState {
    PoolProfile pool;
    double promo_xr = 0, promo_xx = 0;  // weighted regression of log-uplift on discount
    double price_xr = 0, price_xx = 0;  // weighted regression of log-ratio on log price ratio
    // Promotion frequency (discounted key-bucket counts) and announcement lead, for the
    // expected effect of promotions not announced yet at far horizons.
    double promoted = 0, observed = 0, discount_sum = 0;
    double lead_days = 0, lead_n = 0;
  };
  struct Promo {
    std::string store;  // empty = all stores
    int64_t start_ms = 0, end_ms = 0;
    double discount = 0;  // fraction 0..1
  };
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
  double step_mean(KeyId key, const KeyState& s, const Seasons& se, int i) const;
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
  void mark_dirty(KeyId key);
  void mark_group_dirty(uint32_t group);
  std::string encode_globals() const;
  Status decode_globals(std::string_view bytes);

  ForecastOptions options_;
  forecast::DampedTrendParams params_;
  double z_ = 1.6449;
  std::vector<KeyState> states_;
  // Own hour-of-day profile per key (ratio of sums), kept only with hourly buckets.
  struct OwnHours {
    float num[24] = {};
    float den[24] = {};
  };
  std::vector<OwnHours> own_hours_;
  std::vector<CategoryState> categories_;
  std::vector<std::string> category_names_;
  absl::flat_hash_map<std::string, uint16_t> category_ids_;
  absl::flat_hash_map<std::string, uint16_t> sku_category_;
  std::vector<PoolProfile> groups_;
  std::vector<uint64_t> group_keys_;                   // (category << 32 | store_id) per group
  absl::flat_hash_map<uint64_t, uint32_t> group_ids_;  // (category << 32 | store_id) -> group
  absl::flat_hash_map<std::string, std::vector<Promo>> promos_;  // by sku
  forecast::AccuracySums overall_;
  int32_t overall_day_ = INT32_MIN;
  int64_t max_event_ms_ = INT64_MIN;
  uint64_t late_sales_ = 0;
  uint64_t censored_buckets_ = 0;
  uint64_t spilled_sales_ = 0;
  std::vector<KeyId> dirty_;
  std::vector<uint8_t> dirty_flag_;
  std::vector<uint32_t> dirty_groups_;
  std::vector<uint8_t> group_dirty_;
  std::vector<std::string> dirty_skus_;
  bool globals_dirty_ = false;
  // Derived caches (not persisted).
  const Calendar* calendar_ = nullptr;
  const KeyIndex* keys_ = nullptr;
  struct DayStarts {
    int32_t first_day = 0;
    std::vector<int64_t> starts;
  };
  mutable std::vector<DayStarts> day_starts_;
  mutable std::vector<HorizonPoint> scratch_;
  std::string horizon_json_;
  Probe probe_;
  Probe::Gauge& mase_gauge_ = probe_.gauge(
      "forecast_mase_ratio", "Overall forecast MASE against seasonal naive (1 = as good).");
  Probe::Gauge& wape_gauge_ = probe_.gauge(
      "forecast_wape_ratio", "Overall forecast weighted absolute percentage error (0..1+).");
};

}  // namespace sw
