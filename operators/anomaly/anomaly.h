#pragma once
// anomaly: sales-velocity, data-volume, error-rate and metric anomalies (DESIGN.md §6) with
// severities, promotion and time-of-day threshold adjustments, suppression windows, an alert
// lifecycle (firing -> resolved, stable ids, hysteresis, cool-down) and feedback. The math
// per series lives in AnomalyDetector (operators/anomaly_detector.h); this class decides
// which series exist, feeds them and turns scores into alerts. Config keys, series and
// persisted layout: docs/anomaly.md.
//
// Series watched (one AnomalySeriesState each, packed losslessly for the (store, sku) series:
// anomaly::DetState, docs/anomaly.md "Memory per series"; metric series and the sales family's
// hourly store, type and dead-letter series also an AnomalyWeekState, the latter an
// AnomalySilenceState too):
//   units and revenue per (store, sku), per store and per sku chain-wide, in event-time
//   buckets; events per store (sale, return, inventory) and per input type per bucket; dead
//   letters per bucket; every raw `metric` series, one observation per event (any cadence).
// Buckets of per-store, per-type and dead-letter series are closed by event-time timers, so
// a store or feed that goes quiet still yields (zero) observations and a volume-drop alert;
// key and sku buckets close lazily on the key's next event (gaps fill with zeros) and at end
// of input (only buckets the stream has fully passed). A timer whose bucket lies beyond the
// newest event time seen anywhere is parked until the series sees an event again: silence
// is judged only against a stream that moves on.
//
// Threading: one task thread. Hot path: on_event() for a sale touches up to 8 series states
// and allocates nothing once they exist; only alert and score rendering allocate (and a
// series's first alert or feedback: its anomaly::Episode).

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "operators/anomaly/render.h"
#include "operators/anomaly/settings.h"
#include "operators/anomaly/state.h"
#include "operators/anomaly_detector.h"
#include "stream/operator.h"
#include "stream/probe.h"

namespace sw {

class Config;

class AnomalyOperator : public Operator, public AnomalyView {
 public:
  using SeriesKind = anomaly::SeriesKind;
  using SuppressWindow = AnomalySuppressWindow;
  using Settings = AnomalySettings;

  //! Reads operators.anomaly.*; throws ConfigError naming the key and the fix.
  explicit AnomalyOperator(const Config& config);
  explicit AnomalyOperator(Settings settings);

  std::string_view name() const override { return "anomaly"; }
  uint32_t subscriptions() const override;
  void on_event(const Event& event, KeyId key, OperatorContext& ctx) override;
  void on_timer(KeyId key, int64_t time_ms, uint32_t tag, OperatorContext& ctx) override;
  //! Counts one dead-lettered record at `ts_ms` (stream time) into the error-rate series.
  void on_dead_letter(int64_t ts_ms, OperatorContext& ctx) override;
  void on_end_of_input(OperatorContext& ctx) override;
  void snapshot(StateBatch& batch, const KeyIndex& keys) override;
  Status restore(const StateStore& store, OperatorContext& ctx) override;
  size_t memory_bytes() const override;
  std::string describe(KeyId key, const KeyIndex& keys) const override;
  //! AnomalyView: an alert is firing on the key's own units or revenue series.
  bool open_anomaly(KeyId key) const override;
  //! anomaly_observations_total: observations scored (all series).
  const Probe* probe() const override { return &probe_; }
  const AnomalyView* anomaly_view() const { return this; }
  //! Hot reload: thresholds, resolve_after, cooldown, promo_margin, tighten.*, feedback.*,
  //! suppress, emit_scores and the refractory of both detector families apply from the next
  //! observation; a key that shapes state (AnomalySettings::restart_key) is refused by name.
  Status reconfigure(const Config& config) override;

  static constexpr std::string_view kStateNs = anomaly::kStateNs;
  static constexpr uint32_t kFormatVersion = anomaly::kFormatVersion;
  static constexpr uint32_t kFormatVersionNoQuiet = anomaly::kFormatVersionNoQuiet;
  static constexpr uint32_t kFormatVersionNoWeek = anomaly::kFormatVersionNoWeek;
  static constexpr uint32_t kTagBucket = 1;

  //! Stable alert id: "an-" + hex of a 64-bit FNV-1a hash of (series name, episode start).
  static std::string alert_id(std::string_view series_name, int64_t episode_start_ms) {
    return anomaly::alert_id(series_name, episode_start_ms);
  }
  //! The sales family's detector settings (bucketed counts and revenue) derived from the
  //! metric family's, before operators.anomaly.sales_detector.* overrides.
  static AnomalyDetectorConfig sales_defaults(const AnomalyDetectorConfig& metric) {
    return AnomalySettings::sales_defaults(metric);
  }
  //! Observation of the last series updated (score-csv reads it after each metric event).
  const AnomalyObservation& last_observation() const { return last_obs_; }
  size_t series_count() const { return series_.size(); }
  uint64_t dismissed() const { return meta_.dismissed; }
  uint64_t confirmed() const { return meta_.confirmed; }
  uint64_t suppressed() const { return meta_.suppressed; }
  const Settings& settings() const { return settings_; }
  //! Current threshold bump of a series from dismissals (tests, describe); -1 if unknown.
  double dismiss_bump(std::string_view series_name, int64_t now_ms) const;

 private:
  using Series = anomaly::Series;

  //! The series of (kind, names), created if new (not the (store, sku) series).
  uint32_t series_for(SeriesKind kind, std::string_view store, std::string_view sku,
                      std::string_view metric, uint32_t store_id);
  //! Creates the units and revenue series of `key` (adjacent ids); returns the units one.
  uint32_t key_series_for(KeyId key, uint32_t store_id);
  //! The series' names: its own, or its key's in `keys`.
  anomaly::SeriesIds ids_of(const Series& s, const KeyIndex& keys) const;
  std::string name_of(const Series& s, const KeyIndex& keys) const {
    return anomaly::series_name(s.kind, ids_of(s, keys));
  }
  //! (store, sku) series keep their detector state packed where that is lossless.
  static bool packable(SeriesKind k) {
    return k == SeriesKind::kKeyUnits || k == SeriesKind::kKeyRevenue;
  }
  void add_to_bucket(uint32_t idx, int64_t ts_ms, double amount, OperatorContext& ctx);
  void close_buckets_before(uint32_t idx, int64_t bucket_start, OperatorContext& ctx);
  void observe(uint32_t idx, int64_t ts_ms, double value, OperatorContext& ctx);
  void lifecycle(uint32_t idx, int64_t ts_ms, const AnomalyObservation& o, int hour,
                 OperatorContext& ctx);
  void emit_alert(const Series& s, const anomaly::SeriesIds& ids, std::string_view id,
                  std::string_view status, int64_t ts_ms, const AnomalyObservation& o,
                  double threshold, OperatorContext& ctx) const;
  void emit_score(const Series& s, int64_t ts_ms, double value, const AnomalyObservation& o,
                  OperatorContext& ctx) const;
  const AnomalyDetector& detector_for(SeriesKind kind) const;
  bool suppressed_at(const Series& s, int64_t ts_ms, const KeyIndex& keys) const;
  bool in_promotion(const Series& s, int64_t ts_ms, const KeyIndex& keys) const;
  double current_bump(const Series& s, int64_t now_ms) const;
  void slot_of(const Series& s, int64_t ts_ms, const OperatorContext& ctx, int& hour,
               int& weekday) const;
  bool bucketed(SeriesKind k) const { return k != SeriesKind::kMetric; }
  //! Series that carry hour-of-week slots: their family's `week_slots`, and an observation
  //! cadence under a day (a daily bucket has one slot per weekday already).
  bool wants_week(SeriesKind k) const;
  //! Count series with a week table also judge runs of empty buckets (AnomalySilenceState).
  bool wants_quiet(SeriesKind k) const;
  //! Gives a series the optional states its kind wants under this configuration (empty ones
  //! where it had none: new, or restored from an older format) and drops the others.
  void fit_optional_states(Series& s) const;
  static bool metric_like(SeriesKind k) { return anomaly::metric_like(k); }
  bool timer_driven(SeriesKind k) const {
    return k == SeriesKind::kStoreUnits || k == SeriesKind::kStoreRevenue ||
           k == SeriesKind::kStoreEvents || k == SeriesKind::kDeadLetters ||
           k == SeriesKind::kTypeEvents;
  }
  int64_t bucket_of(SeriesKind k) const {
    return (k == SeriesKind::kKeyUnits || k == SeriesKind::kKeyRevenue) ? settings_.key_bucket_ms
                                                                        : settings_.bucket_ms;
  }
  void mark_dirty(uint32_t idx);
  void arm_timer(uint32_t idx, OperatorContext& ctx);

  Settings settings_;
  AnomalyDetector metric_det_, count_det_, revenue_det_;
  anomaly::SeriesTable series_;
  // Series by name, except the (store, sku) ones named by their KeyId (key_series_).
  absl::flat_hash_map<std::string, uint32_t> by_name_;
  const KeyIndex* keys_ = nullptr;  // the task's (dismiss_bump names (store, sku) series)
  uint32_t orphans_ = 0;  // restored (store, sku) series pairs whose key the KeyIndex lacked
  std::vector<uint32_t> key_series_;  // KeyId -> units series (revenue = +1); UINT32_MAX none
  // Lookup caches (no allocation per event); rebuilt lazily after restore.
  absl::flat_hash_map<std::string, uint32_t> metric_ids_;  // raw series name -> series
  std::vector<std::array<uint32_t, 3>> store_series_;      // store id -> events, units, revenue
  std::vector<std::array<uint32_t, 2>> sku_series_;        // sku id -> units, revenue
  std::array<uint32_t, kEventTypeCount> type_series_;      // event type -> volume series
  absl::flat_hash_map<std::string, uint32_t> alert_ids_;   // last episode id -> series
  std::vector<uint32_t> dirty_;
  bool meta_dirty_ = false;
  anomaly::Meta meta_;  // counters and promotions (the meta record)
  AnomalyObservation last_obs_;
  Probe probe_;
  Probe::Counter& observations_ = probe_.counter(
      "anomaly_observations_total", "Anomaly observations scored (bucket closes and metrics).");
};

}  // namespace sw
