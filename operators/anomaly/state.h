#pragma once
// anomaly operator state (operators/anomaly/anomaly.h): one Series per watched series (its
// lifecycle, open bucket and detector state) and the series record codec. Records in
// namespace "op/anomaly" (docs/anomaly.md): be32 series id -> encode_series(); the meta
// record (kMetaKey) holds the counters and promotions.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "operators/anomaly_detector.h"
#include "stream/status.h"

namespace sw::anomaly {

inline constexpr std::string_view kStateNs = "op/anomaly";
inline constexpr uint32_t kFormatVersion = 4;         // 4: + silence state
inline constexpr uint32_t kFormatVersionNoQuiet = 3;  // still read: no silence state
inline constexpr uint32_t kFormatVersionNoWeek = 2;   // still read: no week slots
inline constexpr bool readable_format(uint32_t f) {
  return f == kFormatVersion || f == kFormatVersionNoQuiet || f == kFormatVersionNoWeek;
}
//! Key of the meta record (sorts after every be32 series id).
inline const std::string kMetaKey = std::string("\xff", 1) + "meta";

enum class SeriesKind : uint8_t {
  kMetric,
  kKeyUnits,
  kKeyRevenue,
  kStoreUnits,
  kStoreRevenue,
  kSkuUnits,
  kSkuRevenue,
  kStoreEvents,
  kDeadLetters,
  kTypeEvents,  // events of one input type (a feed going quiet)
};

//! Series rendered with `series` (not store/sku) in alerts and scores.
constexpr bool metric_like(SeriesKind k) {
  return k == SeriesKind::kMetric || k == SeriesKind::kDeadLetters || k == SeriesKind::kTypeEvents;
}

//! Label of a kind: the prefix of its series names and the `signal` of its outputs.
std::string_view kind_label(SeriesKind k);

struct Series {
  std::string name;  // unique: "metric:<s>", "units:<store>|<sku>", "store_units:<store>", ...
  std::string store, sku, metric;
  SeriesKind kind = SeriesKind::kMetric;
  uint32_t store_id = UINT32_MAX;  // interned store id for the calendar (UINT32_MAX: UTC)
  bool timer_armed = false;
  bool dirty = false;
  int64_t bucket_start = INT64_MIN;  // open bucket (bucketed series)
  double bucket_sum = 0;
  double mean_amount = 0;  // EWMA of one event's amount (units or revenue per sale)
  int64_t last_event_ms = INT64_MIN;
  // Lifecycle.
  int64_t episode_start = INT64_MIN;  // open episode, INT64_MIN = none
  int64_t last_episode_start = INT64_MIN;
  int64_t cooldown_until = INT64_MIN;
  int32_t below = 0;
  uint8_t severity = 0;  // 0 none, 1 warning, 2 critical, 3 emergency
  double peak_score = 0;
  double bump = 0;  // dismissal threshold bump at bump_ms
  int64_t bump_ms = 0;
  uint32_t dismissed = 0, confirmed = 0;
  AnomalySeriesState det;
  std::unique_ptr<AnomalyWeekState> week;      // hour-of-week slots (wants_week), else null
  std::unique_ptr<AnomalySilenceState> quiet;  // count series with a week table, else null
};

//! Keeps an optional state if `wanted` (an empty one if there was none), drops it otherwise.
template <typename T>
void fit_optional(std::unique_ptr<T>& state, bool wanted) {
  if (!wanted) {
    state.reset();
  } else if (!state) {
    state = std::make_unique<T>();
  }
}

//! Operator-wide state: the meta record (kMetaKey).
struct Meta {
  int64_t max_event_ms = INT64_MIN;
  uint64_t dismissed = 0, confirmed = 0, suppressed = 0, unknown_feedback = 0;
  // Promotions: "store|sku" (store empty = chain-wide) -> [start, end) intervals.
  absl::flat_hash_map<std::string, std::vector<std::pair<int64_t, int64_t>>> promos;
};
//! The meta record (format kFormatVersion; promotions in key order, so the bytes do not
//! depend on hash-map iteration order).
std::string encode_meta(const Meta& m);
//! Reads a meta record of any readable format into `m` (promotions added to m.promos).
Status decode_meta(std::string_view v, Meta& m);

//! The series record (format kFormatVersion). `name` and `dirty` are not persisted.
std::string encode_series(const Series& s);
//! Corruption naming the fix (replay into an empty state.dir) for another state version.
//! `format`: the record's format version (older ones may need their detector state moved).
Status decode_series(std::string_view v, Series& s, uint32_t& format);

}  // namespace sw::anomaly
