#include "operators/anomaly/state.h"

#include <algorithm>
#include <type_traits>

#include "stream/bytes.h"

namespace sw::anomaly {

namespace {

static_assert(std::is_trivially_copyable_v<AnomalySeriesState>);
static_assert(std::is_trivially_copyable_v<AnomalyWeekState>);
static_assert(std::is_trivially_copyable_v<AnomalySilenceState>);

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

std::string encode_series(const Series& s) {
  std::string out;
  ByteWriter w(out);
  w.put<uint32_t>(kFormatVersion);
  w.put<uint32_t>(AnomalySeriesState::kVersion);
  w.put<uint8_t>(static_cast<uint8_t>(s.kind));
  w.put_string(s.store);
  w.put_string(s.sku);
  w.put_string(s.metric);
  w.put(s.store_id);
  w.put<uint8_t>(s.timer_armed);
  w.put(s.bucket_start);
  w.put(s.bucket_sum);
  w.put(s.mean_amount);
  w.put(s.last_event_ms);
  w.put(s.episode_start);
  w.put(s.last_episode_start);
  w.put(s.cooldown_until);
  w.put(s.below);
  w.put(s.severity);
  w.put(s.peak_score);
  w.put(s.bump);
  w.put(s.bump_ms);
  w.put(s.dismissed);
  w.put(s.confirmed);
  w.put<uint32_t>(sizeof(AnomalySeriesState));
  out.append(reinterpret_cast<const char*>(&s.det), sizeof s.det);
  put_optional(w, s.week);
  put_optional(w, s.quiet);
  return out;
}

Status decode_series(std::string_view v, Series& s, uint32_t& format) {
  ByteReader r(v);
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
      !r.get_string(s.store) || !r.get_string(s.sku) || !r.get_string(s.metric) ||
      !r.get(s.store_id) || !r.get(armed) || !r.get(s.bucket_start) || !r.get(s.bucket_sum) ||
      !r.get(s.mean_amount) || !r.get(s.last_event_ms) || !r.get(s.episode_start) ||
      !r.get(s.last_episode_start) || !r.get(s.cooldown_until) || !r.get(s.below) ||
      !r.get(s.severity) || !r.get(s.peak_score) || !r.get(s.bump) || !r.get(s.bump_ms) ||
      !r.get(s.dismissed) || !r.get(s.confirmed) || !r.get(det_size)) {
    return Status::corruption("undecodable record");
  }
  std::string_view det_bytes;
  if (!r.get_bytes(det_size, det_bytes) ||
      !AnomalyDetector::decode_state(det_version, det_bytes.data(), det_bytes.size(), s.det)) {
    return Status::corruption("undecodable record");
  }
  // Format 2 records end before the week table, format 3 records before the silence state:
  // the series starts an empty one.
  if (fmt != kFormatVersionNoWeek) SW_RETURN_IF_ERROR(get_optional(r, s.week, "week "));
  if (fmt == kFormatVersion) SW_RETURN_IF_ERROR(get_optional(r, s.quiet, "silence "));
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
