#include "operators/anomaly/state.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>

#include "stream/bytes.h"

namespace sw::anomaly {

namespace {

static_assert(std::is_trivially_copyable_v<AnomalySeriesState>);
static_assert(std::is_trivially_copyable_v<AnomalyWeekState>);
static_assert(std::is_trivially_copyable_v<AnomalySilenceState>);
static_assert(sizeof(Series) <= 72, "docs/anomaly.md counts 72 bytes per series in the table");

//! An optional trivially-copyable state after a series record: a presence flag, then its
//! version, size and bytes.
template <typename T>
void put_optional(ByteWriter& w, const std::unique_ptr<T>& state) {
  w.put<uint8_t>(state != nullptr);
  if (!state) return;
  w.put<uint32_t>(T::kVersion);
  w.put<uint32_t>(static_cast<uint32_t>(sizeof(T)));
  w.put(*state);
}

template <typename T>
Status get_optional(ByteReader& r, std::unique_ptr<T>& state, const char* what) {
  uint8_t present = 0;
  if (!r.get(present)) return Status::corruption("undecodable record");
  if (!present) return Status::ok();
  uint32_t version = 0, size = 0;
  state = std::make_unique<T>();
  if (!r.get(version) || !r.get(size)) return Status::corruption("undecodable record");
  if (version != T::kVersion || size != sizeof(T)) {
    return Status::state_version("", what + std::to_string(version),
                                 what + std::to_string(T::kVersion));
  }
  if (!r.get(*state)) return Status::corruption("undecodable record");
  return Status::ok();
}

}  // namespace

std::string_view kind_label(SeriesKind k) {
  using K = SeriesKind;
  switch (k) {
    case K::kMetric:
      return "metric";
    case K::kKeyUnits:
      return "units";
    case K::kKeyRevenue:
      return "revenue";
    case K::kStoreUnits:
      return "store_units";
    case K::kStoreRevenue:
      return "store_revenue";
    case K::kSkuUnits:
      return "sku_units";
    case K::kSkuRevenue:
      return "sku_revenue";
    case K::kStoreEvents:
      return "store_events";
    case K::kDeadLetters:
      return "dead_letters";
    case K::kTypeEvents:
      return "type_events";
  }
  return "metric";
}

//! The packed detector state (DetState): AnomalySeriesState's fields up to recent2_exceed as
//! bytes, since_detect, the weekday slots and up to kSlots hour slots. 352 bytes.
struct PackedSeriesState {
  static constexpr int kSlots = 2;
  static constexpr size_t kHead = offsetof(AnomalySeriesState, recent2_exceed);
  unsigned char head[kHead];  // last_ts_ms .. recent_exceed
  double since_detect;
  float weekday_offset[AnomalySeriesState::kWeekdays];
  uint16_t weekday_visits[AnomalySeriesState::kWeekdays];
  uint8_t hour[kSlots];  // the slots' hours; 0xff: unused
  float hour_offset[kSlots];
  float hour_scale[kSlots];
  uint16_t hour_visits[kSlots];
};

namespace {

static_assert(std::is_trivially_copyable_v<PackedSeriesState>);
static_assert(sizeof(PackedSeriesState) == 352, "docs/anomaly.md: 352 bytes packed");

bool all_zero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

//! A default AnomalySeriesState with zero padding (what unpacking starts from).
const AnomalySeriesState& default_state() {
  alignas(AnomalySeriesState) static unsigned char bytes[sizeof(AnomalySeriesState)] = {};
  static const AnomalySeriesState* d = new (bytes) AnomalySeriesState();
  return *d;
}

//! Packs `s` into `p` if every field left out holds its default; false (p untouched) if not.
bool pack(const AnomalySeriesState& s, PackedSeriesState& p) {
  const AnomalySeriesState& d = default_state();
  if (!all_zero(s.recent2_exceed, sizeof s.recent2_exceed) || !all_zero(s.onset, sizeof s.onset) ||
      s.onset_armed != d.onset_armed) {
    return false;
  }
  uint8_t hours[PackedSeriesState::kSlots];
  int used = 0;
  for (int h = 0; h < AnomalySeriesState::kHours; ++h) {
    if (s.hour_visits[h] == 0 && all_zero(&s.hour_offset[h], sizeof(float)) &&
        all_zero(&s.hour_scale[h], sizeof(float))) {
      continue;
    }
    if (used == PackedSeriesState::kSlots) return false;
    hours[used++] = static_cast<uint8_t>(h);
  }
  std::memcpy(p.head, &s, PackedSeriesState::kHead);
  p.since_detect = s.since_detect;
  std::memcpy(p.weekday_offset, s.weekday_offset, sizeof p.weekday_offset);
  std::memcpy(p.weekday_visits, s.weekday_visits, sizeof p.weekday_visits);
  for (int i = 0; i < PackedSeriesState::kSlots; ++i) {
    const bool on = i < used;
    p.hour[i] = on ? hours[i] : 0xff;
    p.hour_offset[i] = on ? s.hour_offset[hours[i]] : 0.0f;
    p.hour_scale[i] = on ? s.hour_scale[hours[i]] : 0.0f;
    p.hour_visits[i] = on ? s.hour_visits[hours[i]] : 0;
  }
  return true;
}

void unpack(const PackedSeriesState& p, AnomalySeriesState& s) {
  std::memcpy(static_cast<void*>(&s), &default_state(), sizeof s);
  std::memcpy(static_cast<void*>(&s), p.head, PackedSeriesState::kHead);
  s.since_detect = p.since_detect;
  std::memcpy(s.weekday_offset, p.weekday_offset, sizeof p.weekday_offset);
  std::memcpy(s.weekday_visits, p.weekday_visits, sizeof p.weekday_visits);
  for (int i = 0; i < PackedSeriesState::kSlots; ++i) {
    if (p.hour[i] == 0xff) continue;
    s.hour_offset[p.hour[i]] = p.hour_offset[i];
    s.hour_scale[p.hour[i]] = p.hour_scale[i];
    s.hour_visits[p.hour[i]] = p.hour_visits[i];
  }
}

}  // namespace

DetState& DetState::operator=(DetState&& o) noexcept {
  if (this != &o) {
    reset();
    p_ = o.p_;
    o.p_ = 0;
  }
  return *this;
}

void DetState::reset() {
  if (packed()) {
    delete reinterpret_cast<PackedSeriesState*>(p_ & ~uintptr_t{1});
  } else {
    delete reinterpret_cast<AnomalySeriesState*>(p_);
  }
  p_ = 0;
}

void DetState::assign(const AnomalySeriesState& s, bool may_pack) {
  if (may_pack) {
    if (packed()) {
      if (pack(s, *reinterpret_cast<PackedSeriesState*>(p_ & ~uintptr_t{1}))) return;
    } else {
      auto p = std::make_unique<PackedSeriesState>();
      if (pack(s, *p)) {
        reset();
        p_ = reinterpret_cast<uintptr_t>(p.release()) | 1;
        return;
      }
    }
  }
  if (AnomalySeriesState* w = whole()) {
    std::memcpy(static_cast<void*>(w), &s, sizeof s);
    return;
  }
  auto w = std::make_unique<AnomalySeriesState>();
  std::memcpy(static_cast<void*>(w.get()), &s, sizeof s);
  reset();
  p_ = reinterpret_cast<uintptr_t>(w.release());
}

AnomalySeriesState* DetState::whole() {
  return packed() ? nullptr : reinterpret_cast<AnomalySeriesState*>(p_);
}

const AnomalySeriesState* DetState::whole() const {
  return packed() ? nullptr : reinterpret_cast<const AnomalySeriesState*>(p_);
}

const AnomalySeriesState& DetState::get(AnomalySeriesState& scratch) const {
  if (packed()) {
    unpack(*reinterpret_cast<const PackedSeriesState*>(p_ & ~uintptr_t{1}), scratch);
    return scratch;
  }
  if (p_ == 0) {
    std::memcpy(static_cast<void*>(&scratch), &default_state(), sizeof scratch);
    return scratch;
  }
  return *whole();
}

size_t DetState::heap_bytes() const {
  if (p_ == 0) return 0;
  return heap_chunk(packed() ? sizeof(PackedSeriesState) : sizeof(AnomalySeriesState));
}

const Episode& Series::episode() const {
  static const Episode none;
  return life ? *life : none;
}

Series& SeriesTable::push_back(Series&& s) {
  if (size_ % kChunk == 0 && size_ / kChunk == chunks_.size()) {
    chunks_.push_back(std::make_unique<Series[]>(kChunk));
  }
  Series& slot = (*this)[size_++];
  slot = std::move(s);
  return slot;
}

void SeriesTable::clear() {
  chunks_.clear();
  size_ = 0;
}

size_t SeriesTable::table_bytes() const {
  // new[] of a type with a destructor stores the element count before the elements.
  return chunks_.capacity() * sizeof(chunks_[0]) +
         chunks_.size() * heap_chunk(kChunk * sizeof(Series) + sizeof(size_t));
}

std::string series_name(SeriesKind kind, const SeriesIds& ids) {
  std::string name(kind_label(kind));
  name += ':';
  if (metric_like(kind)) {
    name += ids.metric;
  } else {
    name += ids.store;
    if (!ids.sku.empty()) {
      name += '|';
      name += ids.sku;
    }
  }
  return name;
}

std::string encode_series(const Series& s, const SeriesIds& ids, const AnomalySeriesState& det) {
  std::string out;
  ByteWriter w(out);
  w.put<uint32_t>(kFormatVersion);
  w.put<uint32_t>(AnomalySeriesState::kVersion);
  w.put<uint8_t>(static_cast<uint8_t>(s.kind));
  w.put_string(ids.store);
  w.put_string(ids.sku);
  w.put_string(ids.metric);
  w.put(s.store_id);
  w.put<uint8_t>(s.timer_armed);
  w.put(s.bucket_start);
  w.put(s.bucket_sum);
  w.put(s.mean_amount);
  w.put(s.last_event_ms);
  const Episode& e = s.episode();
  w.put(e.episode_start);
  w.put(e.last_episode_start);
  w.put(e.cooldown_until);
  w.put(e.below);
  w.put(e.severity);
  w.put(e.peak_score);
  w.put(e.bump);
  w.put(e.bump_ms);
  w.put(e.dismissed);
  w.put(e.confirmed);
  w.put<uint32_t>(sizeof(AnomalySeriesState));
  out.append(reinterpret_cast<const char*>(&det), sizeof det);
  static const std::unique_ptr<AnomalyWeekState> no_week;
  static const std::unique_ptr<AnomalySilenceState> no_quiet;
  put_optional(w, s.extra ? s.extra->week : no_week);
  put_optional(w, s.extra ? s.extra->quiet : no_quiet);
  return out;
}

Status decode_series(std::string_view v, Series& s, AnomalySeriesState& det, uint32_t& format) {
  ByteReader r(v);
  s.extra = std::make_unique<SeriesExtra>();
  SeriesExtra& x = *s.extra;
  Episode e;
  uint32_t fmt = 0, det_version = 0, det_size = 0;
  uint8_t kind = 0, armed = 0;
  if (!r.get(fmt) || !r.get(det_version)) return Status::corruption("truncated");
  format = fmt;
  // The detector reads its current state version and version 2 (AnomalyDetector::decode_state).
  if (!readable_format(fmt) || (det_version != AnomalySeriesState::kVersion && det_version != 2)) {
    return Status::state_version(
        "", std::to_string(fmt) + "/" + std::to_string(det_version),
        std::to_string(kFormatVersion) + "/" + std::to_string(AnomalySeriesState::kVersion));
  }
  if (!r.get(kind) || kind > static_cast<uint8_t>(SeriesKind::kTypeEvents) ||
      !r.get_string(x.store) || !r.get_string(x.sku) || !r.get_string(x.metric) ||
      !r.get(s.store_id) || !r.get(armed) || !r.get(s.bucket_start) || !r.get(s.bucket_sum) ||
      !r.get(s.mean_amount) || !r.get(s.last_event_ms) || !r.get(e.episode_start) ||
      !r.get(e.last_episode_start) || !r.get(e.cooldown_until) || !r.get(e.below) ||
      !r.get(e.severity) || !r.get(e.peak_score) || !r.get(e.bump) || !r.get(e.bump_ms) ||
      !r.get(e.dismissed) || !r.get(e.confirmed) || !r.get(det_size)) {
    return Status::corruption("undecodable record");
  }
  std::string_view det_bytes;
  if (!r.get_bytes(det_size, det_bytes) ||
      !AnomalyDetector::decode_state(det_version, det_bytes.data(), det_bytes.size(), det)) {
    return Status::corruption("undecodable record");
  }
  const Episode none;
  const bool any_episode =
      e.episode_start != none.episode_start || e.last_episode_start != none.last_episode_start ||
      e.cooldown_until != none.cooldown_until || e.below != 0 || e.severity != 0 ||
      e.peak_score != 0 || e.bump != 0 || e.bump_ms != 0 || e.dismissed != 0 || e.confirmed != 0;
  // Bit-for-bit: a -0.0 peak or bump is kept as well.
  if (any_episode || std::signbit(e.peak_score) || std::signbit(e.bump)) {
    s.life = std::make_unique<Episode>(e);
  }
  // Format 2 records end before the week table, format 3 records before the silence state:
  // the series starts an empty one.
  if (fmt != kFormatVersionNoWeek) SW_RETURN_IF_ERROR(get_optional(r, x.week, "week "));
  if (fmt == kFormatVersion) SW_RETURN_IF_ERROR(get_optional(r, x.quiet, "silence "));
  if (!r.empty()) return Status::corruption("undecodable record");
  s.kind = static_cast<SeriesKind>(kind);
  s.timer_armed = armed != 0;
  return Status::ok();
}

std::string encode_meta(const Meta& m) {
  std::string v;
  ByteWriter w(v);
  w.put<uint32_t>(kFormatVersion);
  w.put(m.max_event_ms);
  w.put(m.dismissed);
  w.put(m.confirmed);
  w.put(m.suppressed);
  w.put(m.unknown_feedback);
  // Promotions in key order, so the bytes do not depend on hash-map iteration order.
  std::vector<const std::pair<const std::string, std::vector<std::pair<int64_t, int64_t>>>*> ps;
  for (const auto& p : m.promos) ps.push_back(&p);
  std::sort(ps.begin(), ps.end(), [](auto* a, auto* b) { return a->first < b->first; });
  w.put<uint32_t>(static_cast<uint32_t>(ps.size()));
  for (auto* p : ps) {
    w.put_string(p->first);
    w.put<uint32_t>(static_cast<uint32_t>(p->second.size()));
    for (const auto& [a, b] : p->second) {
      w.put(a);
      w.put(b);
    }
  }
  return v;
}

Status decode_meta(std::string_view v, Meta& m) {
  ByteReader r(v);
  uint32_t fmt = 0, n = 0;
  if (!r.get(fmt) || !readable_format(fmt) || !r.get(m.max_event_ms) || !r.get(m.dismissed) ||
      !r.get(m.confirmed) || !r.get(m.suppressed) || !r.get(m.unknown_feedback) || !r.get(n)) {
    return Status::corruption("op/anomaly: bad meta record");
  }
  for (uint32_t i = 0; i < n; ++i) {
    std::string key;
    uint32_t count = 0;
    if (!r.get_string(key) || !r.get(count)) {
      return Status::corruption("op/anomaly: bad promotion record");
    }
    auto& list = m.promos[key];
    for (uint32_t j = 0; j < count; ++j) {
      int64_t a = 0, b = 0;
      if (!r.get(a) || !r.get(b)) return Status::corruption("op/anomaly: bad promotion interval");
      list.emplace_back(a, b);
    }
  }
  return Status::ok();
}

}  // namespace sw::anomaly
