#pragma once
// anomaly operator settings: operators.anomaly.* (docs/anomaly.md).

#include <cstdint>
#include <string>
#include <vector>

#include "operators/anomaly_detector.h"

namespace sw {

class Config;

struct AnomalySuppressWindow {
  int64_t start_ms = 0, end_ms = 0;
  std::string store, sku, series;  // empty = any
};

struct AnomalySettings {
  int64_t bucket_ms = 3600 * 1000;           // store, sku, events, dead-letter buckets
  int64_t key_bucket_ms = 24 * 3600 * 1000;  // (store, sku) buckets
  bool watch_store_sku = true;
  double warning = 0.6, critical = 0.8, emergency = 0.95;
  double clear = 0.4;                 // score below which an episode counts toward resolving
  int resolve_after = 3;              // consecutive observations below `clear`
  int64_t cooldown_ms = 3600 * 1000;  // after a resolve, no new firing for the series
  double promo_margin = 0.1;          // added to thresholds during a promotion on the store/sku
  int tighten_from_hour = -1;         // local hours [from, to) with thresholds lowered
  int tighten_to_hour = -1;
  double tighten_margin = 0.0;
  double dismiss_step = 0.05, dismiss_max = 0.2;
  int64_t dismiss_half_life_ms = 7LL * 24 * 3600 * 1000;
  int64_t silence_grace_ms = 5 * 60 * 1000;
  bool emit_scores = false;
  std::vector<AnomalySuppressWindow> suppress;
  AnomalyDetectorConfig metric_detector;
  AnomalyDetectorConfig count_detector;  // units, events, dead letters
  AnomalyDetectorConfig revenue_detector;

  //! Reads operators.anomaly.*; throws ConfigError naming the key and the fix.
  static AnomalySettings from_config(const Config& config);
  //! The sales family's detector settings (bucketed counts and revenue) derived from the
  //! metric family's, before operators.anomaly.sales_detector.* overrides.
  static AnomalyDetectorConfig sales_defaults(const AnomalyDetectorConfig& metric);
  //! Hot reload: the first operators.anomaly.* key whose value differs between these
  //! settings and `next` and that shapes the operator's state (bucket lengths, which series
  //! exist, armed timers, the detectors' model constants), or "" when every difference can
  //! change live (thresholds, resolve_after, cooldown, margins, tighten, feedback, suppress,
  //! emit_scores and the two families' refractory). docs/operations.md "Hot reload" lists both.
  std::string restart_key(const AnomalySettings& next) const;
};

}  // namespace sw
