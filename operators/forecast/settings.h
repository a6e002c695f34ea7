#pragma once
// Forecast operator settings: operators.forecast.* (docs/forecast.md).

#include <cstdint>
#include <string>

namespace sw {

class Config;

//! operators.forecast.emit: which bucket closes write a forecast record.
enum class ForecastEmit : uint8_t {
  kEveryClose,  // every_close (default): one record per key per closed bucket
  kOnChange,    // on_change: when the horizon's mean moved by more than emit_threshold
  kNone,        // none: no forecast records (the demand view and drift alerts stay)
};

struct ForecastOptions {
  bool hourly = false;    // operators.forecast.bucket: 1d (default) | 1h
  int horizon = 28;       // operators.forecast.horizon: buckets ahead, 1..400
  double interval = 0.9;  // operators.forecast.interval: central interval probability
  ForecastEmit emit = ForecastEmit::kEveryClose;  // operators.forecast.emit
  double emit_threshold = 0.1;    // operators.forecast.emit_threshold: relative change (on_change)
  bool compact_horizon = false;   // operators.forecast.horizon_encoding: objects | compact
  double censor_fraction = 0.25;  // operators.forecast.censor_fraction
  double alpha = 0.01;            // operators.forecast.alpha: level gain per bucket
  double beta = 0.02;             // operators.forecast.beta: trend gain (relative to alpha)
  double phi = 0.97;              // operators.forecast.phi: trend damping per bucket
  double intermittent_alpha = 0.1;  // operators.forecast.intermittent_alpha: Croston/TSB gain
  double profile_shrink = 2000;     // operators.forecast.profile_shrink: pseudo-units of the pool
  double drift_mase = 1.5;          // operators.forecast.drift_mase: short-window MASE threshold
  bool own_months = true;           // operators.forecast.own_months: per-key month refinement
  bool own_hours = true;            // operators.forecast.own_hours: per-key hour refinement (1h)

  //! Reads operators.forecast.*; throws ConfigError on bad values.
  static ForecastOptions from_config(const Config& config);
  //! Hot reload: the first operators.forecast.* key whose value differs between these
  //! options and `next` and that shapes model state or its derived tables (everything but
  //! emit, emit_threshold, horizon_encoding and drift_mase), or "" when none does.
  std::string restart_key(const ForecastOptions& next) const;
};

}  // namespace sw
