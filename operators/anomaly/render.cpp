#include "operators/anomaly/render.h"

#include <algorithm>
#include <cstdio>

#include "stream/json_writer.h"

namespace sw::anomaly {

namespace {
const char* const kSeverity[] = {"info", "warning", "critical", "emergency"};
}  // namespace

std::string alert_id(std::string_view series_name, int64_t episode_start_ms) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ULL;
    }
  };
  mix("anomaly", 7);
  mix(series_name.data(), series_name.size());
  uint64_t t = static_cast<uint64_t>(episode_start_ms);
  unsigned char tb[8];
  for (int i = 0; i < 8; ++i) tb[i] = static_cast<unsigned char>(t >> (8 * i));
  mix(tb, 8);
  static const char* hex = "0123456789abcdef";
  std::string id = "an-";
  for (int i = 15; i >= 0; --i) id += hex[(h >> (4 * i)) & 0xf];
  return id;
}

void render_alert(std::string& json, std::string_view id, const Series& series, const SeriesIds& s,
                  std::string_view status, int64_t ts_ms, const AnomalyObservation& o,
                  double threshold, int64_t bucket_ms) {
  const Episode& e = series.episode();
  const SeriesKind kind = series.kind;
  const bool series_keyed = metric_like(kind);
  const std::string_view signal = kind_label(kind);
  const bool drop = o.z < 0;
  std::string summary;
  {
    char buf[96];
    std::snprintf(buf, sizeof buf, ": %s, expected %.4g, score %.3f", drop ? "drop" : "spike",
                  o.expected, o.score);
    summary =
        std::string(signal) + " " +
        (series_keyed ? std::string(s.metric)
                      : std::string(s.store.empty() ? s.sku : s.store) +
                            (s.sku.empty() || s.store.empty() ? "" : " " + std::string(s.sku))) +
        buf;
    if (status == "resolved") summary = "resolved: " + summary;
  }
  JsonWriter w(json);
  w.begin_object()
      .field("id", id)
      .field("type", "anomaly")
      .field("status", status)
      .field("severity", kSeverity[std::max<int>(e.severity, 1)]);
  if (series_keyed) {
    w.field("series",
            kind == SeriesKind::kDeadLetters ? std::string_view("dead_letters") : s.metric);
  } else {
    if (!s.store.empty()) w.field("store", s.store);
    if (!s.sku.empty()) w.field("sku", s.sku);
  }
  w.key("time").time_value(ts_ms).field("summary", summary);
  w.key("details").begin_object();
  w.field("signal", signal)
      .field("direction", drop ? "drop" : "spike")
      .field("value", round_to(o.value, 4))
      .field("expected", round_to(o.expected, 4))
      .field("z", round_to(o.z, 3))
      .field("score", round_to(o.score, 4))
      .field("peak_score", round_to(e.peak_score, 4))
      .field("threshold", round_to(threshold, 4))
      .key("episode_start")
      .time_value(e.episode_start);
  if (bucket_ms >= 0) w.field("bucket_ms", bucket_ms);
  w.field("dismissed", static_cast<int64_t>(e.dismissed))
      .field("confirmed", static_cast<int64_t>(e.confirmed));
  w.end_object().stamp().end_object();
}

void render_score(std::string& json, const Series& series, const SeriesIds& s, int64_t ts_ms,
                  double value, const AnomalyObservation& o) {
  const SeriesKind kind = series.kind;
  const bool series_keyed = metric_like(kind);
  JsonWriter w(json);
  w.begin_object();
  if (series_keyed) {
    w.field("series",
            kind == SeriesKind::kDeadLetters ? std::string_view("dead_letters") : s.metric);
  } else {
    if (!s.store.empty()) w.field("store", s.store);
    if (!s.sku.empty()) w.field("sku", s.sku);
  }
  w.field("signal", kind_label(kind))
      .key("time")
      .time_value(ts_ms)
      .field("value", value)
      .field("expected", o.expected)
      .field("score", o.score)
      .end_object();
}

std::string render_describe(const Series& units, const AnomalySeriesState& units_det,
                            std::string_view units_name, const Series& revenue,
                            const AnomalySeriesState& revenue_det, std::string_view revenue_name) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  const struct {
    const Series& s;
    const AnomalySeriesState& det;
    std::string_view name;
  } both[] = {{units, units_det, units_name}, {revenue, revenue_det, revenue_name}};
  for (const auto& [s, det, name] : both) {
    const Episode& e = s.episode();
    w.key(kind_label(s.kind)).begin_object();
    w.field("observations", static_cast<int64_t>(det.n))
        .field("level", det.local_level)
        .field("scale", det.scale)
        .field("open_bucket_sum", s.bucket_sum)
        .field("firing", e.episode_start != INT64_MIN)
        .field("dismissed", static_cast<int64_t>(e.dismissed))
        .field("confirmed", static_cast<int64_t>(e.confirmed));
    if (e.episode_start != INT64_MIN) w.field("alert_id", alert_id(name, e.episode_start));
    w.end_object();
  }
  w.end_object();
  return out;
}

}  // namespace sw::anomaly
