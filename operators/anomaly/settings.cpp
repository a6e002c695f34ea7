#include "operators/anomaly/settings.h"

#include "stream/config.h"
#include "stream/decoder.h"

namespace sw {

namespace {

// The metric family keeps two settings (docs/anomaly.md, "Fewer knobs"): week_slots (whether
// hour-of-week slots may be learned) and refractory (how long after an episode the same
// series stays quiet); every other constant of the detector holds for unseen series or is
// flagged in the docs as fitted. The sales family's detector keeps its full surface.
AnomalyDetectorConfig read_metric_detector(const Config& c, const std::string& prefix,
                                           AnomalyDetectorConfig d) {
  d.refractory = c.get_double(prefix + "refractory", d.refractory, 0, 1e6);
  d.week_slots = c.get_bool(prefix + "week_slots", d.week_slots);
  return d;
}

AnomalyDetectorConfig read_detector(const Config& c, const std::string& prefix,
                                    AnomalyDetectorConfig d) {
  d.local_half_life = c.get_double(prefix + "local_half_life", d.local_half_life, 0.5, 1e6);
  d.slow_half_life = c.get_double(prefix + "slow_half_life", d.slow_half_life, 1, 1e7);
  d.scale_half_life = c.get_double(prefix + "scale_half_life", d.scale_half_life, 1, 1e7);
  d.slot_half_life = c.get_double(prefix + "slot_half_life", d.slot_half_life, 0.5, 1e4);
  d.clip_z = c.get_double(prefix + "clip_z", d.clip_z, 1, 20);
  d.level_clip_z = c.get_double(prefix + "level_clip_z", d.level_clip_z, 1, 20);
  d.slot_prior = c.get_double(prefix + "slot_prior", d.slot_prior, 0, 1000);
  d.warmup = static_cast<int>(c.get_int(prefix + "warmup", d.warmup, 2, 100000));
  d.refractory = c.get_double(prefix + "refractory", d.refractory, 0, 1e6);
  d.tail_exponent = c.get_double(prefix + "tail_exponent", d.tail_exponent, 0.5, 50);
  d.tail_reach = c.get_double(prefix + "tail_reach", d.tail_reach, 1, 1e9);
  d.min_var_spread = c.get_double(prefix + "min_var_spread", d.min_var_spread, 1e-4, 100);
  d.window_all_signals = c.get_bool(prefix + "window_all_signals", d.window_all_signals);
  d.window_half_life = c.get_double(prefix + "window_half_life", d.window_half_life, 1, 1e5);
  d.window2_half_life = c.get_double(prefix + "window2_half_life", d.window2_half_life, 0, 1e5);
  d.week_slots = c.get_bool(prefix + "week_slots", d.week_slots);
  d.week_prior = c.get_double(prefix + "week_prior", d.week_prior, 0, 1000);
  d.week_gain = c.get_double(prefix + "week_gain", d.week_gain, 0.01, 100);
  d.weekday_scales_hours = c.get_bool(prefix + "weekday_scales_hours", d.weekday_scales_hours);
  return d;
}

int64_t parse_time(const std::string& key, const YAML::Node& n) {
  std::string v = n.as<std::string>("");
  int64_t ms = 0;
  if (v.empty() || !parse_rfc3339(v, ms)) {
    throw ConfigError(key, "not a timestamp: '" + v + "'",
                      "use RFC 3339 (2026-11-25T02:00:00Z) or epoch milliseconds");
  }
  return ms;
}

}  // namespace

AnomalySettings AnomalySettings::from_config(const Config& c) {
  AnomalySettings s;
  const std::string p = "operators.anomaly.";
  s.bucket_ms = c.get_duration_ms(p + "bucket", s.bucket_ms);
  s.key_bucket_ms = c.get_duration_ms(p + "key_bucket", s.key_bucket_ms);
  if (s.bucket_ms < 1000 || s.key_bucket_ms < 1000) {
    throw ConfigError(p + "bucket", "bucket shorter than 1s", "use e.g. 1h (key_bucket: 1d)");
  }
  s.watch_store_sku = c.get_bool(p + "watch_store_sku", s.watch_store_sku);
  s.warning = c.get_double(p + "thresholds.warning", s.warning, 0, 1);
  s.critical = c.get_double(p + "thresholds.critical", s.critical, 0, 1);
  s.emergency = c.get_double(p + "thresholds.emergency", s.emergency, 0, 1);
  if (!(s.warning <= s.critical && s.critical <= s.emergency)) {
    throw ConfigError(p + "thresholds", "thresholds must satisfy warning <= critical <= emergency",
                      "e.g. warning 0.6, critical 0.8, emergency 0.95");
  }
  s.clear = c.get_double(p + "thresholds.clear", s.clear, 0, s.warning);
  s.resolve_after = static_cast<int>(c.get_int(p + "resolve_after", s.resolve_after, 1, 10000));
  s.cooldown_ms = c.get_duration_ms(p + "cooldown", s.cooldown_ms);
  s.promo_margin = c.get_double(p + "promo_margin", s.promo_margin, 0, 1);
  s.tighten_from_hour = static_cast<int>(c.get_int(p + "tighten.from_hour", -1, -1, 23));
  s.tighten_to_hour = static_cast<int>(c.get_int(p + "tighten.to_hour", -1, -1, 24));
  s.tighten_margin = c.get_double(p + "tighten.margin", 0.0, 0, 1);
  s.dismiss_step = c.get_double(p + "feedback.dismiss_step", s.dismiss_step, 0, 1);
  s.dismiss_max = c.get_double(p + "feedback.dismiss_max", s.dismiss_max, 0, 1);
  s.dismiss_half_life_ms = c.get_duration_ms(p + "feedback.half_life", s.dismiss_half_life_ms);
  s.silence_grace_ms = c.get_duration_ms(p + "silence_grace", s.silence_grace_ms);
  s.emit_scores = c.get_bool(p + "emit_scores", false);
  if (c.has(p + "suppress")) {
    YAML::Node list = c.node(p + "suppress");
    if (!list.IsSequence()) {
      throw ConfigError(p + "suppress", "not a list",
                        "a list of {start, end, store?, sku?, series?} windows");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node& n = list[i];
      std::string key = p + "suppress[" + std::to_string(i) + "]";
      AnomalySuppressWindow w;
      w.start_ms = parse_time(key + ".start", n["start"]);
      w.end_ms = parse_time(key + ".end", n["end"]);
      if (w.end_ms <= w.start_ms) throw ConfigError(key, "end <= start", "swap start and end");
      w.store = n["store"].as<std::string>("");
      w.sku = n["sku"].as<std::string>("");
      w.series = n["series"].as<std::string>("");
      s.suppress.push_back(std::move(w));
    }
  }
  s.metric_detector = read_metric_detector(c, p + "detector.", s.metric_detector);
  s.count_detector = read_detector(c, p + "sales_detector.", sales_defaults(s.metric_detector));
  s.revenue_detector = s.count_detector;
  return s;
}

std::string AnomalySettings::restart_key(const AnomalySettings& next) const {
  const std::string p = "operators.anomaly.";
  if (bucket_ms != next.bucket_ms) return p + "bucket";
  if (key_bucket_ms != next.key_bucket_ms) return p + "key_bucket";
  if (watch_store_sku != next.watch_store_sku) return p + "watch_store_sku";
  // Armed bucket timers carry the grace they were set with.
  if (silence_grace_ms != next.silence_grace_ms) return p + "silence_grace";
  if (metric_detector.week_slots != next.metric_detector.week_slots)
    return p + "detector.week_slots";
  // The sales family's model constants (every key read_detector reads but refractory, which
  // only damps the scores output).
  const AnomalyDetectorConfig& a = count_detector;
  const AnomalyDetectorConfig& b = next.count_detector;
  const std::string d = p + "sales_detector.";
  struct Real {
    const char* key;
    double AnomalyDetectorConfig::*field;
  };
  static constexpr Real kReals[] = {
      {"local_half_life", &AnomalyDetectorConfig::local_half_life},
      {"slow_half_life", &AnomalyDetectorConfig::slow_half_life},
      {"scale_half_life", &AnomalyDetectorConfig::scale_half_life},
      {"slot_half_life", &AnomalyDetectorConfig::slot_half_life},
      {"clip_z", &AnomalyDetectorConfig::clip_z},
      {"level_clip_z", &AnomalyDetectorConfig::level_clip_z},
      {"slot_prior", &AnomalyDetectorConfig::slot_prior},
      {"tail_exponent", &AnomalyDetectorConfig::tail_exponent},
      {"tail_reach", &AnomalyDetectorConfig::tail_reach},
      {"min_var_spread", &AnomalyDetectorConfig::min_var_spread},
      {"window_half_life", &AnomalyDetectorConfig::window_half_life},
      {"window2_half_life", &AnomalyDetectorConfig::window2_half_life},
      {"week_prior", &AnomalyDetectorConfig::week_prior},
      {"week_gain", &AnomalyDetectorConfig::week_gain},
  };
  for (const Real& r : kReals) {
    if (a.*r.field != b.*r.field) return d + r.key;
  }
  if (a.warmup != b.warmup) return d + "warmup";
  if (a.window_all_signals != b.window_all_signals) return d + "window_all_signals";
  if (a.week_slots != b.week_slots) return d + "week_slots";
  if (a.weekday_scales_hours != b.weekday_scales_hours) return d + "weekday_scales_hours";
  return "";
}

AnomalyDetectorConfig AnomalySettings::sales_defaults(const AnomalyDetectorConfig& metric) {
  AnomalyDetectorConfig counts = metric;
  counts.count_series = true;
  counts.calibrate = false;  // count series are judged by their quasi-Poisson tail instead
  // Bucketed sales series: hourly or daily observations, so fewer observations per day.
  counts.local_half_life = 24;
  counts.slow_half_life = 24 * 7;
  counts.scale_half_life = 48;
  counts.refractory = 24;    // a day of hourly buckets
  counts.tail_exponent = 6;  // light tails: one bucket far off the baseline is news
  counts.tail_reach = 2;
  counts.window_all_signals = false;  // no echo of one odd bucket in the window test
  // One window of ~23 buckets (about a day of hourly ones): the metric family's pair was
  // chosen on minute-cadence metrics; sales scores stay as they were.
  counts.window_half_life = 8;
  counts.window2_half_life = 0;
  counts.min_var_spread = 0.25;  // steady counts: one odd bucket is not a variance change
  counts.level_clip_z = 3;       // the metric family's tighter level clip was chosen on NAB
  counts.warmup = 24;
  // Hour-of-week slots for the sub-daily store, type and dead-letter series: opening hours
  // that differ by weekday, and the hours a feed is empty as a rule (silence evidence).
  counts.week_slots = true;
  // Retail traffic is proportional: a busier Saturday is busier at noon, not at 3 am.
  counts.weekday_scales_hours = true;
  return counts;
}

}  // namespace sw
