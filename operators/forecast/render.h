#pragma once
// Forecast operator output rendering (operators/forecast/forecast.h): the forecast record
// (OutputStream::kForecasts, DESIGN.md §3), the `forecast_drift` alert and describe().

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "operators/forecast/state.h"

namespace sw {

//! One step of a forecast horizon.
struct HorizonPoint {
  int64_t time_ms = 0;  // start of the bucket
  double mean = 0;
  double lo = 0;
  double hi = 0;
};

namespace forecast {

//! Appends the forecast record of a closed bucket to `json`; `horizon_scratch` is reused
//! between calls (the horizon array is rendered on the fast number/time path). `compact`
//! (horizon_encoding: compact): the horizon as {"start", "step", "mean": [..], "lo": [..],
//! "hi": [..]} instead of one {"time", "mean", "lo", "hi"} object per step.
void render_forecast(std::string& json, std::string& horizon_scratch, std::string_view store,
                     std::string_view sku, int64_t end_ms, bool hourly,
                     const std::vector<HorizonPoint>& points, double interval, const KeyState& s,
                     bool compact = false);

//! A `forecast_drift` alert (firing or resolved).
struct DriftAlert {
  std::string_view id;
  bool fire = false;
  std::string_view store, sku;
  int64_t time_ms = 0;
  double mase = 0, mase_long = 0, threshold = 0;
  double refit_level = -1;  // firing only
};
void render_drift_alert(std::string& json, const DriftAlert& a);

//! describe(): the key's model state, accuracy and (when timed) its next buckets.
std::string render_describe(const KeyState& s, const std::vector<HorizonPoint>* next);

}  // namespace forecast
}  // namespace sw
