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

void render_alert(std::string& json, std::string_view id, const Series& s, std::string_view status,
                  int64_t ts_ms, const AnomalyObservation& o, double threshold, int64_t bucket_ms) {
  const bool series_keyed = metric_like(s.kind);
  const std::string_view signal = kind_label(s.kind);
  const bool drop = o.z < 0;
  std::string summary;
  {
    char buf[96];
    std::snprintf(buf, sizeof buf, ": %s, expected %.4g, score %.3f", drop ? "drop" : "spike",
                  o.expected, o.score);
    summary = std::string(signal) + " " +
              (series_keyed ? s.metric
                            : (s.store.empty() ? s.sku : s.store) +
                                  (s.sku.empty() || s.store.empty() ? "" : " " + s.sku)) +
              buf;
    if (status == "resolved") summary = "resolved: " + summary;
  }
  JsonWriter w(json);
  w.begin_object()
      .field("id", id)
      .field("type", "anomaly")
      .field("status", status)
      .field("severity", kSeverity[std::max<int>(s.severity, 1)]);
  if (series_keyed) {
    w.field("series", s.kind == SeriesKind::kDeadLetters ? std::string("dead_letters") : s.metric);
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
      .field("peak_score", round_to(s.peak_score, 4))
      .field("threshold", round_to(threshold, 4))
      .key("episode_start")
      .time_value(s.episode_start);
  if (bucket_ms >= 0) w.field("bucket_ms", bucket_ms);
  w.field("dismissed", static_cast<int64_t>(s.dismissed))
      .field("confirmed", static_cast<int64_t>(s.confirmed));
  w.end_object().stamp().end_object();
}

void render_score(std::string& json, const Series& s, int64_t ts_ms, double value,
                  const AnomalyObservation& o) {
  const bool series_keyed = metric_like(s.kind);
  JsonWriter w(json);
  w.begin_object();
  if (series_keyed) {
    w.field("series", s.kind == SeriesKind::kDeadLetters ? std::string("dead_letters") : s.metric);
  } else {
    if (!s.store.empty()) w.field("store", s.store);
    if (!s.sku.empty()) w.field("sku", s.sku);
  }
  w.field("signal", kind_label(s.kind))
      .key("time")
      .time_value(ts_ms)
      .field("value", value)
      .field("expected", o.expected)
      .field("score", o.score)
      .end_object();
}

std::string render_describe(const Series& units, const Series& revenue) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  for (const Series* series : {&units, &revenue}) {
    const Series& s = *series;
    w.key(kind_label(s.kind)).begin_object();
    w.field("observations", static_cast<int64_t>(s.det.n))
        .field("level", s.det.local_level)
        .field("scale", s.det.scale)
        .field("open_bucket_sum", s.bucket_sum)
        .field("firing", s.episode_start != INT64_MIN)
        .field("dismissed", static_cast<int64_t>(s.dismissed))
        .field("confirmed", static_cast<int64_t>(s.confirmed));
    if (s.episode_start != INT64_MIN) w.field("alert_id", alert_id(s.name, s.episode_start));
    w.end_object();
  }
  w.end_object();
  return out;
}

}  // namespace sw::anomaly
