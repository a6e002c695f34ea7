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

//! The detector state of a series, kept packed where that loses nothing. The sales family's
//! daily (store, sku) series use one or two of the 24 hour slots (the local hour of the
//! bucket start: two where the store's zone has daylight saving) and neither the
//! calibration (count series) nor the second recent window (sales family: off), so 440 of
//! AnomalySeriesState's 680 bytes stay at their defaults: the packed form keeps the rest
//! (PackedSeriesState, 360 bytes). Lossless: a state is packed only if unpacking gives back
//! every field bit for bit, and otherwise kept whole (a heap AnomalySeriesState), so the
//! detector sees the identical state either way and outputs cannot change. One pointer.
struct PackedSeriesState;
class DetState {
 public:
  DetState() = default;
  DetState(DetState&& o) noexcept : p_(o.p_) { o.p_ = 0; }
  DetState& operator=(DetState&& o) noexcept;
  DetState(const DetState&) = delete;
  DetState& operator=(const DetState&) = delete;
  ~DetState() { reset(); }

  //! Stores `s`: packed if `may_pack` and packing is lossless, else whole.
  void assign(const AnomalySeriesState& s, bool may_pack);
  //! The whole state if kept whole, else null (read the packed one with `get`).
  AnomalySeriesState* whole();
  const AnomalySeriesState* whole() const;
  //! The state: the whole one, or `scratch` filled from the packed one.
  const AnomalySeriesState& get(AnomalySeriesState& scratch) const;
  bool packed() const { return (p_ & 1) != 0; }
  bool empty() const { return p_ == 0; }
  //! Heap bytes (malloc chunks) of the state.
  size_t heap_bytes() const;

 private:
  void reset();
  uintptr_t p_ = 0;  // AnomalySeriesState*, or PackedSeriesState* | 1; 0 = none yet
};

//! glibc malloc chunk of an `n`-byte request (8-byte header, 16-byte granules, 32 minimum):
//! what memory_bytes() counts per heap allocation.
constexpr size_t heap_chunk(size_t n) {
  return n + 8 <= 32 ? 32 : (n + 8 + 15) & ~size_t{15};
}

//! The series' names (store, sku, metric): only series whose names are not a KeyIndex key
//! carry them (a (store, sku) series reads its names from the KeyIndex by its KeyId), with
//! the optional detector states (store, type and dead-letter series only).
struct SeriesExtra {
  std::string store, sku, metric;
  std::unique_ptr<AnomalyWeekState> week;      // hour-of-week slots (wants_week), else null
  std::unique_ptr<AnomalySilenceState> quiet;  // count series with a week table, else null
};

//! A series' alert lifecycle and feedback: allocated on its first alert or feedback (most
//! series never have one).
struct Episode {
  int64_t episode_start = INT64_MIN;  // open episode, INT64_MIN = none
  int64_t last_episode_start = INT64_MIN;
  int64_t cooldown_until = INT64_MIN;
  double peak_score = 0;
  double bump = 0;  // dismissal threshold bump at bump_ms
  int64_t bump_ms = 0;
  int32_t below = 0;
  uint8_t severity = 0;  // 0 none, 1 warning, 2 critical, 3 emergency
  uint32_t dismissed = 0, confirmed = 0;
};

//! Names of a series, resolved (from its SeriesExtra or the KeyIndex).
struct SeriesIds {
  std::string_view store, sku, metric;
};

//! One watched series: 80 bytes in the operator's table, plus its detector state (360 bytes
//! packed, 680 whole) and, where present, its SeriesExtra and Episode.
struct Series {
  SeriesKind kind = SeriesKind::kMetric;
  bool timer_armed = false;
  bool dirty = false;
  uint32_t store_id = UINT32_MAX;    // interned store id for the calendar (UINT32_MAX: UTC)
  uint32_t key = UINT32_MAX;         // KeyId of a (store, sku) series named by the KeyIndex
  int64_t bucket_start = INT64_MIN;  // open bucket (bucketed series)
  double bucket_sum = 0;
  double mean_amount = 0;  // EWMA of one event's amount (units or revenue per sale)
  int64_t last_event_ms = INT64_MIN;
  std::unique_ptr<Episode> life;       // null: never alerted, no feedback
  std::unique_ptr<SeriesExtra> extra;  // null: a (store, sku) series named by `key`
  DetState det;

  const Episode& episode() const;
  Episode& episode_mut() {
    if (!life) life = std::make_unique<Episode>();
    return *life;
  }
  AnomalyWeekState* week() const { return extra ? extra->week.get() : nullptr; }
  AnomalySilenceState* quiet() const { return extra ? extra->quiet.get() : nullptr; }
};

//! The series' name: "metric:<s>", "units:<store>|<sku>", "store_units:<store>", ...
std::string series_name(SeriesKind kind, const SeriesIds& ids);

//! Keeps an optional state if `wanted` (an empty one if there was none), drops it otherwise.
template <typename T>
void fit_optional(std::unique_ptr<T>& state, bool wanted) {
  if (!wanted) {
    state.reset();
  } else if (!state) {
    state = std::make_unique<T>();
  }
}

//! The series table: fixed chunks of series, so growth neither copies the series nor leaves
//! half a vector's capacity unused (a vector of 200 k series doubles to 262 k).
class SeriesTable {
 public:
  static constexpr uint32_t kChunk = 1024;
  uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Series& operator[](uint32_t i) { return chunks_[i / kChunk][i % kChunk]; }
  const Series& operator[](uint32_t i) const { return chunks_[i / kChunk][i % kChunk]; }
  Series& push_back(Series&& s);
  void clear();
  //! Bytes of the chunks and their index.
  size_t table_bytes() const;

 private:
  std::vector<std::unique_ptr<Series[]>> chunks_;
  uint32_t size_ = 0;
};

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

//! The series record (format kFormatVersion) of `s` named `ids` with detector state `det`.
//! `dirty` is not persisted.
std::string encode_series(const Series& s, const SeriesIds& ids, const AnomalySeriesState& det);
//! Reads a series record into `s` (its names and optional states into a new s.extra) and its
//! detector state into `det` (the caller stores it in s.det). Corruption naming the fix
//! (replay into an empty state.dir) for another state version. `format`: the record's format
//! version (older ones may need their detector state moved).
Status decode_series(std::string_view v, Series& s, AnomalySeriesState& det, uint32_t& format);

}  // namespace sw::anomaly
