#include "operators/anomaly/anomaly.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "stream/bytes.h"
#include "stream/calendar.h"
#include "stream/civil_time.h"
#include "stream/config.h"
#include "stream/decoder.h"
#include "stream/json_writer.h"

namespace sw {

using anomaly::kind_label;
using anomaly::kMetaKey;

namespace {

constexpr int64_t kMsPerHour = 3600LL * 1000;
constexpr int64_t kMsPerDay = 24 * kMsPerHour;
constexpr int kMaxGapFill = 48;  // zero buckets filled between two events of a lazy series

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

AnomalyOperator::AnomalyOperator(Settings settings)
    : settings_(std::move(settings)),
      metric_det_(settings_.metric_detector),
      count_det_(settings_.count_detector),
      revenue_det_(settings_.revenue_detector) {
  type_series_.fill(UINT32_MAX);
}

AnomalyOperator::AnomalyOperator(const Config& config)
    : AnomalyOperator(AnomalySettings::from_config(config)) {}

Status AnomalyOperator::reconfigure(const Config& config) {
  AnomalySettings next = AnomalySettings::from_config(config);
  const std::string key = settings_.restart_key(next);
  if (!key.empty()) {
    return Status::invalid(key + " cannot change while running; restart to apply");
  }
  // Detectors keep no per-series state (that is in Series::det): rebuilt with the new
  // refractory, every other constant kept as it is (restart_key found them equal).
  AnomalyDetectorConfig metric = settings_.metric_detector;
  AnomalyDetectorConfig count = settings_.count_detector;
  AnomalyDetectorConfig revenue = settings_.revenue_detector;
  metric.refractory = next.metric_detector.refractory;
  count.refractory = next.count_detector.refractory;
  revenue.refractory = next.revenue_detector.refractory;
  settings_ = std::move(next);
  settings_.metric_detector = metric;
  settings_.count_detector = count;
  settings_.revenue_detector = revenue;
  metric_det_ = AnomalyDetector(metric);
  count_det_ = AnomalyDetector(count);
  revenue_det_ = AnomalyDetector(revenue);
  return Status::ok();
}

uint32_t AnomalyOperator::subscriptions() const {
  auto bit = [](EventType t) { return 1u << static_cast<int>(t); };
  uint32_t all = 0;
  for (int t = 0; t < kEventTypeCount; ++t) all |= bit(static_cast<EventType>(t));
  return all;  // every type: each one's volume is watched
}

const AnomalyDetector& AnomalyOperator::detector_for(SeriesKind kind) const {
  switch (kind) {
    case SeriesKind::kMetric:
      return metric_det_;
    case SeriesKind::kKeyRevenue:
    case SeriesKind::kStoreRevenue:
    case SeriesKind::kSkuRevenue:
      return revenue_det_;
    default:
      return count_det_;
  }
}

bool AnomalyOperator::wants_week(SeriesKind k) const {
  // Not the chain-wide SKU series: one per SKU (100 k in a large catalogue, 1.3 KB each), and
  // a sum over stores whose weekday hours differ has little hour-of-week shape of its own.
  if (k == SeriesKind::kSkuUnits || k == SeriesKind::kSkuRevenue) return false;
  return detector_for(k).config().week_slots && (!bucketed(k) || bucket_of(k) < kMsPerDay);
}

bool AnomalyOperator::wants_quiet(SeriesKind k) const {
  return wants_week(k) && detector_for(k).config().count_series;
}

void AnomalyOperator::fit_optional_states(Series& s) const {
  anomaly::fit_optional(s.week, wants_week(s.kind));
  anomaly::fit_optional(s.quiet, wants_quiet(s.kind));
}

void AnomalyOperator::mark_dirty(uint32_t idx) {
  Series& s = series_[idx];
  if (!s.dirty) {
    s.dirty = true;
    dirty_.push_back(idx);
  }
}

uint32_t AnomalyOperator::series_for(SeriesKind kind, std::string_view store, std::string_view sku,
                                     std::string_view metric, uint32_t store_id) {
  std::string name(kind_label(kind));
  name += ':';
  if (metric_like(kind)) {
    name += metric;
  } else {
    name += store;
    if (!sku.empty()) {
      name += '|';
      name += sku;
    }
  }
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  uint32_t idx = static_cast<uint32_t>(series_.size());
  Series s;
  s.name = name;
  s.kind = kind;
  s.store = store;
  s.sku = sku;
  s.metric = metric;
  s.store_id = store_id;
  fit_optional_states(s);
  series_.push_back(std::move(s));
  by_name_.emplace(std::move(name), idx);
  mark_dirty(idx);
  return idx;
}

void AnomalyOperator::slot_of(const Series& s, int64_t ts_ms, const OperatorContext& ctx, int& hour,
                              int& weekday) const {
  if (s.store_id != UINT32_MAX) {
    const LocalDay& d = ctx.calendar().day(s.store_id, s.store, ts_ms);
    hour = static_cast<int>((ts_ms - d.start_ms) / kMsPerHour);
    hour = std::clamp(hour, 0, 23);
    weekday = d.weekday;
    return;
  }
  const int64_t day = civil::day_of_ms(ts_ms);
  hour = static_cast<int>((ts_ms - day * kMsPerDay) / kMsPerHour);
  weekday = civil::weekday(day);
}

double AnomalyOperator::current_bump(const Series& s, int64_t now_ms) const {
  if (s.bump <= 0) return 0;
  double dt = static_cast<double>(std::max<int64_t>(0, now_ms - s.bump_ms));
  return s.bump * std::exp2(-dt / static_cast<double>(settings_.dismiss_half_life_ms));
}

double AnomalyOperator::dismiss_bump(std::string_view series_name, int64_t now_ms) const {
  auto it = by_name_.find(std::string(series_name));
  return it == by_name_.end() ? -1 : current_bump(series_[it->second], now_ms);
}

bool AnomalyOperator::suppressed_at(const Series& s, int64_t ts_ms) const {
  for (const SuppressWindow& w : settings_.suppress) {
    if (ts_ms < w.start_ms || ts_ms >= w.end_ms) continue;
    if (!w.store.empty() && w.store != s.store) continue;
    if (!w.sku.empty() && w.sku != s.sku) continue;
    if (!w.series.empty() && w.series != s.metric && w.series != s.name) continue;
    return true;
  }
  return false;
}

bool AnomalyOperator::in_promotion(const Series& s, int64_t ts_ms) const {
  if (meta_.promos.empty()) return false;
  if (s.sku.empty() && s.store.empty()) return false;
  auto active = [&](const std::string& k) {
    auto it = meta_.promos.find(k);
    if (it == meta_.promos.end()) return false;
    for (const auto& [a, b] : it->second) {
      if (ts_ms >= a && ts_ms < b) return true;
    }
    return false;
  };
  if (!s.sku.empty()) {
    if (active("|" + s.sku)) return true;  // chain-wide promotion
    if (!s.store.empty() && active(s.store + "|" + s.sku)) return true;
    return false;
  }
  // Store-level series: any promotion in that store.
  for (const auto& [k, v] : meta_.promos) {
    if (k.size() > s.store.size() && k.compare(0, s.store.size(), s.store) == 0 &&
        k[s.store.size()] == '|' && active(k)) {
      return true;
    }
  }
  return false;
}

void AnomalyOperator::on_event(const Event& e, KeyId key, OperatorContext& ctx) {
  if (e.type != EventType::kFeedback && e.type != EventType::kPromotion) {
    if (e.ts_ms > meta_.max_event_ms) {
      meta_.max_event_ms = e.ts_ms;
      meta_dirty_ = true;
    }
  }
  // Volume per event type (a feed that goes quiet while the rest of the stream moves on).
  {
    uint32_t& ts = type_series_[static_cast<int>(e.type)];
    if (ts == UINT32_MAX) {
      ts = series_for(SeriesKind::kTypeEvents, {}, {},
                      "events." + std::string(event_type_name(e.type)), UINT32_MAX);
    }
    add_to_bucket(ts, e.ts_ms, 1.0, ctx);
  }
  switch (e.type) {
    case EventType::kMetric: {
      auto it = metric_ids_.find(absl::string_view(e.series.data(), e.series.size()));
      uint32_t idx;
      if (it != metric_ids_.end()) {
        idx = it->second;
      } else {
        idx = series_for(SeriesKind::kMetric, {}, {}, e.series, UINT32_MAX);
        metric_ids_.emplace(std::string(e.series), idx);
      }
      series_[idx].last_event_ms = e.ts_ms;
      observe(idx, e.ts_ms, e.value, ctx);
      return;
    }
    case EventType::kFeedback: {
      auto it = alert_ids_.find(std::string(e.alert_id));
      if (it == alert_ids_.end()) {
        ++meta_.unknown_feedback;
        meta_dirty_ = true;
        return;
      }
      Series& s = series_[it->second];
      if (e.action == FeedbackAction::kDismiss) {
        int64_t now = std::max(e.ts_ms, s.bump_ms);
        s.bump = std::min(settings_.dismiss_max, current_bump(s, now) + settings_.dismiss_step);
        s.bump_ms = now;
        ++s.dismissed;
        ++meta_.dismissed;
      } else if (e.action == FeedbackAction::kConfirm) {
        ++s.confirmed;
        ++meta_.confirmed;
      }
      meta_dirty_ = true;
      mark_dirty(it->second);
      return;
    }
    case EventType::kPromotion: {
      std::string k = std::string(e.store) + "|" + std::string(e.sku);
      auto& v = meta_.promos[k];
      std::pair<int64_t, int64_t> iv{e.start_ms, e.end_ms};
      if (std::find(v.begin(), v.end(), iv) == v.end()) v.push_back(iv);
      // Forget promotions that ended long ago (bounded state).
      int64_t horizon =
          meta_.max_event_ms == INT64_MIN ? INT64_MIN : meta_.max_event_ms - 30 * kMsPerDay;
      std::erase_if(v, [&](const auto& p) { return p.second < horizon; });
      meta_dirty_ = true;
      return;
    }
    default:
      break;
  }
  if (e.type != EventType::kSale && e.type != EventType::kReturn &&
      e.type != EventType::kInventory) {
    return;  // prices, competitor prices, items: volume only
  }
  if (e.store.empty() || key == kNoKey) return;
  const KeyIndex& keys = ctx.keys();
  const uint32_t store_id = keys.store_id(key);
  // Event volume per store, every keyed type.
  if (store_id >= store_series_.size()) {
    store_series_.resize(store_id + 1, {UINT32_MAX, UINT32_MAX, UINT32_MAX});
  }
  std::array<uint32_t, 3>& st = store_series_[store_id];
  if (st[0] == UINT32_MAX) {
    st[0] = series_for(SeriesKind::kStoreEvents, e.store, {}, {}, store_id);
    st[1] = series_for(SeriesKind::kStoreUnits, e.store, {}, {}, store_id);
    st[2] = series_for(SeriesKind::kStoreRevenue, e.store, {}, {}, store_id);
  }
  const std::array<uint32_t, 3> store_ids = st;
  add_to_bucket(store_ids[0], e.ts_ms, 1.0, ctx);
  if (e.type != EventType::kSale) return;
  const double units = e.qty;
  const double revenue = e.qty * e.price;
  if (settings_.watch_store_sku) {
    if (key >= key_series_.size()) key_series_.resize(key + 1, UINT32_MAX);
    if (key_series_[key] == UINT32_MAX) {
      uint32_t u = series_for(SeriesKind::kKeyUnits, e.store, e.sku, {}, store_id);
      uint32_t r = series_for(SeriesKind::kKeyRevenue, e.store, e.sku, {}, store_id);
      SW_CHECK(r == u + 1, "key series must be adjacent");
      key_series_[key] = u;
    }
    add_to_bucket(key_series_[key], e.ts_ms, units, ctx);
    add_to_bucket(key_series_[key] + 1, e.ts_ms, revenue, ctx);
  }
  add_to_bucket(store_ids[1], e.ts_ms, units, ctx);
  add_to_bucket(store_ids[2], e.ts_ms, revenue, ctx);
  const uint32_t sku_id = keys.sku_id(key);
  if (sku_id >= sku_series_.size()) sku_series_.resize(sku_id + 1, {UINT32_MAX, UINT32_MAX});
  if (sku_series_[sku_id][0] == UINT32_MAX) {
    uint32_t u = series_for(SeriesKind::kSkuUnits, {}, e.sku, {}, UINT32_MAX);
    uint32_t r = series_for(SeriesKind::kSkuRevenue, {}, e.sku, {}, UINT32_MAX);
    sku_series_[sku_id] = {u, r};
  }
  const std::array<uint32_t, 2> sku_ids = sku_series_[sku_id];
  add_to_bucket(sku_ids[0], e.ts_ms, units, ctx);
  add_to_bucket(sku_ids[1], e.ts_ms, revenue, ctx);
}

void AnomalyOperator::on_dead_letter(int64_t ts_ms, OperatorContext& ctx) {
  if (ts_ms == INT64_MIN) return;  // nothing seen yet: no time to attribute it to
  if (ts_ms > meta_.max_event_ms) {
    meta_.max_event_ms = ts_ms;
    meta_dirty_ = true;
  }
  uint32_t idx = series_for(SeriesKind::kDeadLetters, {}, {}, "dlq", UINT32_MAX);
  add_to_bucket(idx, ts_ms, 1.0, ctx);
}

void AnomalyOperator::add_to_bucket(uint32_t idx, int64_t ts_ms, double amount,
                                    OperatorContext& ctx) {
  Series& s = series_[idx];
  const int64_t b = bucket_of(s.kind);
  const int64_t start = floor_div(ts_ms, b) * b;
  if (s.bucket_start == INT64_MIN) {
    s.bucket_start = start;
  } else if (start > s.bucket_start) {
    close_buckets_before(idx, start, ctx);
  }
  // An event for an already-closed bucket (late but within lateness) joins the open one.
  Series& t = series_[idx];
  t.bucket_sum += amount;
  if (amount > 0) {
    t.mean_amount = t.mean_amount <= 0 ? amount : t.mean_amount + 0.02 * (amount - t.mean_amount);
  }
  t.last_event_ms = std::max(t.last_event_ms, ts_ms);
  mark_dirty(idx);
  if (timer_driven(t.kind) && !t.timer_armed) arm_timer(idx, ctx);
}

void AnomalyOperator::arm_timer(uint32_t idx, OperatorContext& ctx) {
  Series& s = series_[idx];
  s.timer_armed = true;
  ctx.set_timer(idx, s.bucket_start + bucket_of(s.kind) + settings_.silence_grace_ms, kTagBucket);
}

void AnomalyOperator::close_buckets_before(uint32_t idx, int64_t bucket_start,
                                           OperatorContext& ctx) {
  const int64_t b = bucket_of(series_[idx].kind);
  int filled = 0;
  while (series_[idx].bucket_start != INT64_MIN && series_[idx].bucket_start < bucket_start) {
    Series& s = series_[idx];
    const int64_t closed = s.bucket_start;
    const double sum = s.bucket_sum;
    s.bucket_sum = 0;
    s.bucket_start = closed + b;
    // Long gaps: after kMaxGapFill zero buckets jump ahead (the detector weighs the gap).
    if (++filled > kMaxGapFill && s.bucket_start < bucket_start) s.bucket_start = bucket_start;
    observe(idx, closed, sum, ctx);
  }
}

void AnomalyOperator::on_timer(KeyId key, int64_t time_ms, uint32_t tag, OperatorContext& ctx) {
  if (tag != kTagBucket || key >= series_.size()) return;
  Series& s = series_[key];
  s.timer_armed = false;
  mark_dirty(key);
  const int64_t b = bucket_of(s.kind);
  const int64_t due_end = time_ms - settings_.silence_grace_ms;  // end of the bucket to close
  // Judge silence only while the rest of the stream has moved past the bucket.
  if (meta_.max_event_ms == INT64_MIN || due_end > meta_.max_event_ms)
    return;  // parked until next event
  close_buckets_before(key, floor_div(due_end, b) * b, ctx);
  arm_timer(key, ctx);
}

void AnomalyOperator::on_end_of_input(OperatorContext& ctx) {
  // Close every bucket the stream has fully passed (lazy series have no later event to do
  // it). The bucket holding the newest event stays open: a partial bucket would read as a
  // drop at the end of every replay, and a later run continuing the input completes it.
  if (meta_.max_event_ms == INT64_MIN) return;
  for (uint32_t i = 0; i < series_.size(); ++i) {
    Series& s = series_[i];
    if (!bucketed(s.kind) || s.bucket_start == INT64_MIN) continue;
    const int64_t b = bucket_of(s.kind);
    close_buckets_before(i, floor_div(meta_.max_event_ms, b) * b, ctx);
  }
}

void AnomalyOperator::observe(uint32_t idx, int64_t ts_ms, double value, OperatorContext& ctx) {
  Series& s = series_[idx];
  int hour = 0, weekday = 0;
  slot_of(s, ts_ms, ctx, hour, weekday);
  // Quasi-Poisson dispersion of bucketed counts: the mean amount of one event (1 for event
  // counts, units per sale, revenue per sale).
  const double dispersion = bucketed(s.kind) && s.mean_amount > 0 ? s.mean_amount : 1.0;
  last_obs_ = detector_for(s.kind).update(s.det, s.week.get(), ts_ms, value, hour, weekday,
                                          dispersion, s.quiet.get());
  observations_.add();
  mark_dirty(idx);
  if (settings_.emit_scores) emit_score(s, ts_ms, value, last_obs_, ctx);
  lifecycle(idx, ts_ms, last_obs_, hour, ctx);
}

void AnomalyOperator::lifecycle(uint32_t idx, int64_t ts_ms, const AnomalyObservation& o, int hour,
                                OperatorContext& ctx) {
  Series& s = series_[idx];
  double adjust = current_bump(s, ts_ms);
  // A promotion explains more sales, not fewer: a promoted item that stops selling (an empty
  // shelf, a missing display) is judged by the ordinary thresholds.
  if (o.z > 0 && in_promotion(s, ts_ms)) adjust += settings_.promo_margin;
  if (settings_.tighten_from_hour >= 0) {
    int a = settings_.tighten_from_hour, b = settings_.tighten_to_hour;
    bool in = a <= b ? (hour >= a && hour < b) : (hour >= a || hour < b);
    if (in) adjust -= settings_.tighten_margin;
  }
  auto thr = [&](double t) { return std::clamp(t + adjust, 0.0, 0.999); };
  const double t_warn = thr(settings_.warning), t_crit = thr(settings_.critical),
               t_emer = thr(settings_.emergency);
  auto severity_of = [&](double score) -> uint8_t {
    return !o.scored ? 0 : score >= t_emer ? 3 : score >= t_crit ? 2 : score >= t_warn ? 1 : 0;
  };
  // The lifecycle reads the undamped score: the detector's refractory damping shapes the
  // scores output (one peak per episode), while alerts have their own hysteresis and
  // cool-down and must see an episode grow from warning to critical and then clear.
  const uint8_t sev = severity_of(o.raw);
  if (s.episode_start == INT64_MIN) {
    if (sev == 0 || ts_ms < s.cooldown_until) return;
    if (suppressed_at(s, ts_ms)) {
      ++meta_.suppressed;
      meta_dirty_ = true;
      return;
    }
    s.episode_start = ts_ms;
    s.last_episode_start = ts_ms;
    s.severity = sev;
    s.peak_score = o.raw;
    s.below = 0;
    alert_ids_[alert_id(s.name, ts_ms)] = idx;
    emit_alert(s, "firing", ts_ms, o, sev == 3 ? t_emer : sev == 2 ? t_crit : t_warn, ctx);
    return;
  }
  // Open episode: escalate upward only, resolve after `resolve_after` calm observations.
  s.peak_score = std::max(s.peak_score, o.raw);
  const uint8_t grown = std::max(sev, severity_of(o.raw));
  if (grown > s.severity && !suppressed_at(s, ts_ms)) {
    s.severity = grown;
    emit_alert(s, "firing", ts_ms, o, grown == 3 ? t_emer : grown == 2 ? t_crit : t_warn, ctx);
  }
  if (o.raw < std::max(0.0, settings_.clear + adjust)) {
    if (++s.below >= settings_.resolve_after) {
      emit_alert(s, "resolved", ts_ms, o, t_warn, ctx);
      s.episode_start = INT64_MIN;
      s.severity = 0;
      s.below = 0;
      s.cooldown_until = ts_ms + settings_.cooldown_ms;
    }
  } else {
    s.below = 0;
  }
}

void AnomalyOperator::emit_alert(const Series& s, std::string_view status, int64_t ts_ms,
                                 const AnomalyObservation& o, double threshold,
                                 OperatorContext& ctx) const {
  OutputRecord r;
  r.stream = OutputStream::kAlerts;
  r.type = "anomaly";
  r.time_ms = ts_ms;
  r.id = alert_id(s.name, s.episode_start);
  const bool series_keyed = metric_like(s.kind);
  if (series_keyed) {
    r.key = s.metric;
  } else {
    r.key = s.store;
    r.key += '|';
    r.key += s.sku;
  }
  anomaly::render_alert(r.json, r.id, s, status, ts_ms, o, threshold,
                        bucketed(s.kind) ? bucket_of(s.kind) : -1);
  ctx.emit(std::move(r));
}

void AnomalyOperator::emit_score(const Series& s, int64_t ts_ms, double value,
                                 const AnomalyObservation& o, OperatorContext& ctx) const {
  OutputRecord r;
  r.stream = OutputStream::kScores;
  r.type = "score";
  r.time_ms = ts_ms;
  const bool series_keyed = metric_like(s.kind);
  r.key = series_keyed ? s.metric : s.store + "|" + s.sku;
  anomaly::render_score(r.json, s, ts_ms, value, o);
  ctx.emit(std::move(r));
}

void AnomalyOperator::snapshot(StateBatch& batch, const KeyIndex& /*keys*/) {
  for (uint32_t idx : dirty_) {
    Series& s = series_[idx];
    s.dirty = false;
    batch.put(kStateNs, be32_key(idx), anomaly::encode_series(s));
  }
  dirty_.clear();
  if (!meta_dirty_) return;
  meta_dirty_ = false;
  batch.put(kStateNs, kMetaKey, anomaly::encode_meta(meta_));
}

Status AnomalyOperator::restore(const StateStore& store, OperatorContext& ctx) {
  series_.clear();
  by_name_.clear();
  metric_ids_.clear();
  store_series_.clear();
  sku_series_.clear();
  type_series_.fill(UINT32_MAX);
  key_series_.clear();
  alert_ids_.clear();
  meta_.promos.clear();
  dirty_.clear();
  Status bad = Status::ok();
  Status st = store.scan_prefix(kStateNs, {}, [&](std::string_view k, std::string_view v) {
    if (k == kMetaKey) {
      bad = anomaly::decode_meta(v, meta_);
      return bad.is_ok();
    }
    uint32_t idx = from_be32(k);
    if (k.size() != 4 || idx != series_.size()) {
      bad = Status::corruption("op/anomaly: series ids not dense at " + std::to_string(idx));
      return false;
    }
    Series s;
    uint32_t format = 0;
    if (Status d = anomaly::decode_series(v, s, format); !d.is_ok()) {
      bad = Status::corruption("op/anomaly series " + std::to_string(idx) + ": " + d.message());
      return false;
    }
    // Formats 2 and 3 kept every family's hour and weekday offsets absolute; a proportional
    // family now keeps them as fractions of the slow level.
    if (format < kFormatVersion && detector_for(s.kind).config().weekday_scales_hours) {
      const double level = s.det.slow_level;
      for (float& o : s.det.hour_offset) o = level > 0 ? static_cast<float>(o / level) : 0.0f;
      for (float& o : s.det.weekday_offset) o = level > 0 ? static_cast<float>(o / level) : 0.0f;
    }
    series_.push_back(std::move(s));
    return true;
  });
  SW_RETURN_IF_ERROR(st);
  SW_RETURN_IF_ERROR(bad);
  const KeyIndex& keys = ctx.keys();
  for (uint32_t i = 0; i < series_.size(); ++i) {
    Series& s = series_[i];
    std::string name(kind_label(s.kind));
    name += ':';
    if (metric_like(s.kind)) {
      name += s.metric;
    } else {
      name += s.store;
      if (!s.sku.empty()) name += "|" + s.sku;
    }
    s.name = name;
    fit_optional_states(s);
    by_name_.emplace(name, i);
    if (s.last_episode_start != INT64_MIN) alert_ids_[alert_id(s.name, s.last_episode_start)] = i;
    if (s.kind == SeriesKind::kMetric) metric_ids_.emplace(s.metric, i);
    if (s.kind == SeriesKind::kKeyUnits) {
      KeyId key = keys.find(s.store, s.sku);
      if (key != kNoKey) {
        if (key >= key_series_.size()) key_series_.resize(key + 1, UINT32_MAX);
        key_series_[key] = i;
      }
    }
    if (s.timer_armed) {
      ctx.set_timer(i, s.bucket_start + bucket_of(s.kind) + settings_.silence_grace_ms, kTagBucket);
    }
  }
  return Status::ok();
}

size_t AnomalyOperator::memory_bytes() const {
  size_t b = series_.capacity() * sizeof(Series) + key_series_.capacity() * sizeof(uint32_t) +
             by_name_.capacity() * (sizeof(std::string) + 8) + dirty_.capacity() * 4;
  for (const Series& s : series_) {
    b += s.name.capacity() + s.store.capacity() + s.sku.capacity() + s.metric.capacity();
    if (s.week) b += sizeof(AnomalyWeekState);
    if (s.quiet) b += sizeof(AnomalySilenceState);
  }
  return b;
}

bool AnomalyOperator::open_anomaly(KeyId key) const {
  if (key >= key_series_.size() || key_series_[key] == UINT32_MAX) return false;
  const uint32_t u = key_series_[key];
  return series_[u].episode_start != INT64_MIN || series_[u + 1].episode_start != INT64_MIN;
}

std::string AnomalyOperator::describe(KeyId key, const KeyIndex& /*keys*/) const {
  if (key >= key_series_.size() || key_series_[key] == UINT32_MAX) return "{}";
  return anomaly::render_describe(series_[key_series_[key]], series_[key_series_[key] + 1]);
}

}  // namespace sw
