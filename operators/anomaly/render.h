#pragma once
// anomaly operator output rendering (operators/anomaly/anomaly.h): the `anomaly` alert
// (envelope: DESIGN.md §3, details: docs/anomaly.md), score records and describe().

#include <cstdint>
#include <string>
#include <string_view>

#include "operators/anomaly/state.h"

namespace sw::anomaly {

//! Stable alert id: "an-" + hex of a 64-bit FNV-1a hash of (series name, episode start).
std::string alert_id(std::string_view series_name, int64_t episode_start_ms);

//! Appends the alert JSON of series `s` (its open or just-closed episode) to `json`;
//! `bucket_ms` < 0 for series without buckets.
void render_alert(std::string& json, std::string_view id, const Series& s, const SeriesIds& ids,
                  std::string_view status, int64_t ts_ms, const AnomalyObservation& o,
                  double threshold, int64_t bucket_ms);
//! Appends one score record (OutputStream::kScores) to `json`.
void render_score(std::string& json, const Series& s, const SeriesIds& ids, int64_t ts_ms,
                  double value, const AnomalyObservation& o);
//! describe() of a (store, sku) key: its units and revenue series (detector states and names).
std::string render_describe(const Series& units, const AnomalySeriesState& units_det,
                            std::string_view units_name, const Series& revenue,
                            const AnomalySeriesState& revenue_det, std::string_view revenue_name);

}  // namespace sw::anomaly
