#pragma once
// Forecast operator settings: operators.forecast.* (docs/forecast.md).

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

}  // namespace sw
