#include "operators/forecast/render.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "stream/event.h"
#include "stream/json_writer.h"

namespace sw::forecast {

namespace {

// Rounds to 3 decimals (readable output; no pow() on the hot path).
double round3(double v) {
  return std::isfinite(v) ? std::round(v * 1000.0) / 1000.0 : v;
}

// A horizon number: round3(v) as append_json_number() writes it. For 0 <= v < 100000 (every
// forecast in practice) that is the shortest decimal of a whole number of thousandths,
// written here from the integer (checked equal to std::to_chars for every thousandth below
// 100000); anything else goes through append_json_number().
void append_round3(std::string& out, double v) {
  v = round3(v);
  if (!(v >= 0 && v < 100000)) {
    append_json_number(out, v);
    return;
  }
  const int64_t k = std::llround(v * 1000.0);
  char buf[24];
  char* p = std::to_chars(buf, buf + sizeof buf, k / 1000).ptr;
  int frac = static_cast<int>(k % 1000);
  if (frac != 0) {
    *p++ = '.';
    *p++ = static_cast<char>('0' + frac / 100);
    frac %= 100;
    if (frac != 0) {
      *p++ = static_cast<char>('0' + frac / 10);
      if (frac % 10 != 0) *p++ = static_cast<char>('0' + frac % 10);
    }
  }
  out.append(buf, p);
}

}  // namespace

void render_forecast(std::string& json, std::string& horizon_json, std::string_view store,
                     std::string_view sku, int64_t end_ms, bool hourly,
                     const std::vector<HorizonPoint>& points, double interval, const KeyState& s,
                     bool compact) {
  json.reserve(json.size() + 96 + points.size() * (compact ? 24 : 80));
  JsonWriter j(json);
  horizon_json.clear();
  if (compact) {
    horizon_json += "{\"start\":\"";
    append_rfc3339(horizon_json, points.empty() ? end_ms : points.front().time_ms);
    horizon_json += hourly ? "\",\"step\":\"1h\"" : "\",\"step\":\"1d\"";
    auto array = [&](const char* name, double HorizonPoint::*field) {
      horizon_json += name;
      for (size_t i = 0; i < points.size(); ++i) {
        if (i > 0) horizon_json += ',';
        append_round3(horizon_json, points[i].*field);
      }
      horizon_json += ']';
    };
    array(",\"mean\":[", &HorizonPoint::mean);
    array(",\"lo\":[", &HorizonPoint::lo);
    array(",\"hi\":[", &HorizonPoint::hi);
    horizon_json += '}';
  } else {
    horizon_json += '[';
  }
  for (size_t i = 0; !compact && i < points.size(); ++i) {
    const HorizonPoint& p = points[i];
    horizon_json += i == 0 ? "{\"time\":\"" : ",{\"time\":\"";
    append_rfc3339(horizon_json, p.time_ms);
    horizon_json += "\",\"mean\":";
    append_round3(horizon_json, p.mean);
    horizon_json += ",\"lo\":";
    append_round3(horizon_json, p.lo);
    horizon_json += ",\"hi\":";
    append_round3(horizon_json, p.hi);
    horizon_json += '}';
  }
  if (!compact) horizon_json += ']';
  j.begin_object()
      .field("store", store)
      .field("sku", sku)
      .key("time")
      .time_value(end_ms)
      .field("bucket", hourly ? "1h" : "1d")
      .key("horizon")
      .raw(horizon_json);
  j.field("interval", interval)
      .field("model", model_name(static_cast<Model>(s.model)))
      .key("accuracy")
      .begin_object()
      .field("mase", round_to(accuracy_mase(s.acc_long), 4))
      .field("wape", round_to(accuracy_wape(s.acc_long), 4))
      .field("bias", round_to(accuracy_bias(s.acc_long), 4))
      .field("n", static_cast<int64_t>(std::lround(s.acc_long.n)))
      .end_object()
      .field("actual", static_cast<double>(s.ring_y[ring_slot(s.open_bucket - 1)]))
      .field("censored", (s.ring_censored & (1u << ring_slot(s.open_bucket - 1))) != 0)
      .stamp()
      .end_object();
}

void render_drift_alert(std::string& json, const DriftAlert& a) {
  char summary[256];
  std::snprintf(summary, sizeof summary,
                a.fire ? "%.*s at %.*s: forecast MASE %.2f over the last ~14 buckets exceeds %.2f; "
                         "model re-fitted from recent history"
                       : "%.*s at %.*s: forecast MASE back to %.2f (threshold %.2f)",
                static_cast<int>(a.sku.size()), a.sku.data(), static_cast<int>(a.store.size()),
                a.store.data(), a.mase, a.threshold);
  JsonWriter j(json);
  j.begin_object()
      .field("id", a.id)
      .field("type", "forecast_drift")
      .field("status", a.fire ? "firing" : "resolved")
      .field("severity", "warning")
      .field("store", a.store)
      .field("sku", a.sku)
      .key("time")
      .time_value(a.time_ms)
      .field("summary", summary)
      .key("details")
      .begin_object()
      .field("mase_short", round_to(a.mase, 4))
      .field("mase_long", round_to(a.mase_long, 4))
      .field("threshold", a.threshold)
      .field("window_buckets", 14);
  if (a.fire) j.field("refit_level", round_to(a.refit_level, 4));
  j.end_object().stamp().end_object();
}

std::string render_describe(const KeyState& s, const std::vector<HorizonPoint>* next) {
  std::string out;
  JsonWriter j(out);
  j.begin_object()
      .field("model", model_name(static_cast<Model>(s.model)))
      .field("level", static_cast<double>(s.lt.level))
      .field("trend", static_cast<double>(s.lt.trend))
      .field("intermittent", pattern_intermittent(s.pattern))
      .field("adi", round_to(pattern_adi(s.pattern), 4))
      .field("cv2", round_to(pattern_cv2(s.pattern), 4))
      .field("buckets_closed", static_cast<int64_t>(s.closes))
      .field("buckets_learned", static_cast<int64_t>(s.learned))
      .field("on_hand", (s.flags & kStockKnown) ? static_cast<double>(s.on_hand) : kUnset)
      .field("drift", (s.flags & kDrift) != 0)
      .key("accuracy")
      .begin_object()
      .field("mase", round_to(accuracy_mase(s.acc_long), 4))
      .field("wape", round_to(accuracy_wape(s.acc_long), 4))
      .field("bias", round_to(accuracy_bias(s.acc_long), 4))
      .end_object();
  if (next != nullptr) {
    j.key("next").begin_array();
    for (const HorizonPoint& p : *next) {
      j.begin_object()
          .key("time")
          .time_value(p.time_ms)
          .field("mean", round_to(p.mean, 3))
          .field("lo", round_to(p.lo, 3))
          .field("hi", round_to(p.hi, 3))
          .end_object();
    }
    j.end_array();
  }
  j.end_object();
  return out;
}

}  // namespace sw::forecast
