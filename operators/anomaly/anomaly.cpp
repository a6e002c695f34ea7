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
  const bool week = wants_week(s.kind), quiet = wants_quiet(s.kind);
  if (!s.extra) {
    if (!week && !quiet) return;
    s.extra = std::make_unique<anomaly::SeriesExtra>();
  }
  anomaly::fit_optional(s.extra->week, week);
  anomaly::fit_optional(s.extra->quiet, quiet);
  if (s.key != kNoKey && !week && !quiet) s.extra.reset();  // named by its key
}

anomaly::SeriesIds AnomalyOperator::ids_of(const Series& s, const KeyIndex& keys) const {
  if (s.key != kNoKey) return {keys.store(s.key), keys.sku(s.key), {}};
  if (!s.extra) return {};
  return {s.extra->store, s.extra->sku, s.extra->metric};
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
  std::string name = anomaly::series_name(kind, {store, sku, metric});
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  uint32_t idx = series_.size();
  Series s;
  s.kind = kind;
  s.extra = std::make_unique<anomaly::SeriesExtra>();
  s.extra->store = store;
  s.extra->sku = sku;
  s.extra->metric = metric;
  s.store_id = store_id;
  s.det.assign(AnomalySeriesState{}, packable(kind));
  fit_optional_states(s);
  series_.push_back(std::move(s));
  by_name_.emplace(std::move(name), idx);
  mark_dirty(idx);
  return idx;
}

uint32_t AnomalyOperator::key_series_for(KeyId key, uint32_t store_id) {
  if (orphans_ > 0) {
    // Restored under names its key did not have then: adopt them.
    const KeyIndex& keys = *keys_;
    auto it = by_name_.find(
        anomaly::series_name(SeriesKind::kKeyUnits, {keys.store(key), keys.sku(key), {}}));
    if (it != by_name_.end() && it->second + 1 < series_.size() &&
        series_[it->second + 1].kind == SeriesKind::kKeyRevenue) {
      --orphans_;
      series_[it->second].key = key;
      series_[it->second + 1].key = key;
      return it->second;
    }
  }
  const uint32_t units = series_.size();
  for (SeriesKind kind : {SeriesKind::kKeyUnits, SeriesKind::kKeyRevenue}) {
    Series s;
    s.kind = kind;
    s.key = key;
    s.store_id = store_id;
    s.det.assign(AnomalySeriesState{}, packable(kind));
    fit_optional_states(s);
    const uint32_t idx = series_.size();
    series_.push_back(std::move(s));
    mark_dirty(idx);
  }
  return units;
}

void AnomalyOperator::slot_of(const Series& s, int64_t ts_ms, const OperatorContext& ctx, int& hour,
                              int& weekday) const {
  if (s.store_id != UINT32_MAX) {
    const LocalDay& d = ctx.calendar().day(s.store_id, ids_of(s, ctx.keys()).store, ts_ms);
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
  const anomaly::Episode& e = s.episode();
  if (e.bump <= 0) return 0;
  double dt = static_cast<double>(std::max<int64_t>(0, now_ms - e.bump_ms));
  return e.bump * std::exp2(-dt / static_cast<double>(settings_.dismiss_half_life_ms));
}

double AnomalyOperator::dismiss_bump(std::string_view series_name, int64_t now_ms) const {
  auto it = by_name_.find(std::string(series_name));
  if (it != by_name_.end()) return current_bump(series_[it->second], now_ms);
  if (keys_ == nullptr) return -1;
  for (uint32_t u : key_series_) {  // (store, sku) series: named by their key
    if (u == UINT32_MAX) continue;
    for (uint32_t i : {u, u + 1}) {
      if (name_of(series_[i], *keys_) == series_name) return current_bump(series_[i], now_ms);
    }
  }
  return -1;
}

bool AnomalyOperator::suppressed_at(const Series& s, int64_t ts_ms, const KeyIndex& keys) const {
  for (const SuppressWindow& w : settings_.suppress) {
    if (ts_ms < w.start_ms || ts_ms >= w.end_ms) continue;
    const anomaly::SeriesIds ids = ids_of(s, keys);
    if (!w.store.empty() && w.store != ids.store) continue;
    if (!w.sku.empty() && w.sku != ids.sku) continue;
    if (!w.series.empty() && w.series != ids.metric &&
        w.series != anomaly::series_name(s.kind, ids)) {
      continue;
    }
    return true;
  }
  return false;
}

bool AnomalyOperator::in_promotion(const Series& series, int64_t ts_ms,
                                   const KeyIndex& keys) const {
  if (meta_.promos.empty()) return false;
  const anomaly::SeriesIds ids = ids_of(series, keys);
  struct {
    std::string store, sku;
  } s{std::string(ids.store), std::string(ids.sku)};
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
  keys_ = &ctx.keys();
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
        const int64_t now = std::max(e.ts_ms, s.episode().bump_ms);
        const double bump =
            std::min(settings_.dismiss_max, current_bump(s, now) + settings_.dismiss_step);
        anomaly::Episode& ep = s.episode_mut();
        ep.bump = bump;
        ep.bump_ms = now;
        ++ep.dismissed;
        ++meta_.dismissed;
      } else if (e.action == FeedbackAction::kConfirm) {
        ++s.episode_mut().confirmed;
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
    if (key_series_[key] == UINT32_MAX) key_series_[key] = key_series_for(key, store_id);
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
  // A packed state is updated in a scratch copy and packed again (whole if it no longer
  // packs losslessly, e.g. a third hour slot).
  AnomalySeriesState scratch;
  AnomalySeriesState* st = s.det.whole();
  if (st == nullptr) {
    s.det.get(scratch);
    st = &scratch;
  }
  last_obs_ = detector_for(s.kind).update(*st, s.week(), ts_ms, value, hour, weekday, dispersion,
                                          s.quiet());
  if (st == &scratch) s.det.assign(scratch, packable(s.kind));
  observations_.add();
  mark_dirty(idx);
  if (settings_.emit_scores) emit_score(s, ts_ms, value, last_obs_, ctx);
  lifecycle(idx, ts_ms, last_obs_, hour, ctx);
}

void AnomalyOperator::lifecycle(uint32_t idx, int64_t ts_ms, const AnomalyObservation& o, int hour,
                                OperatorContext& ctx) {
  Series& s = series_[idx];
  const KeyIndex& keys = ctx.keys();
  double adjust = current_bump(s, ts_ms);
  // A promotion explains more sales, not fewer: a promoted item that stops selling (an empty
  // shelf, a missing display) is judged by the ordinary thresholds.
  if (o.z > 0 && in_promotion(s, ts_ms, keys)) adjust += settings_.promo_margin;
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
  if (s.episode().episode_start == INT64_MIN) {
    if (sev == 0 || ts_ms < s.episode().cooldown_until) return;
    if (suppressed_at(s, ts_ms, keys)) {
      ++meta_.suppressed;
      meta_dirty_ = true;
      return;
    }
    anomaly::Episode& e = s.episode_mut();
    e.episode_start = ts_ms;
    e.last_episode_start = ts_ms;
    e.severity = sev;
    e.peak_score = o.raw;
    e.below = 0;
    const anomaly::SeriesIds ids = ids_of(s, keys);
    const std::string id = alert_id(anomaly::series_name(s.kind, ids), ts_ms);
    alert_ids_[id] = idx;
    emit_alert(s, ids, id, "firing", ts_ms, o, sev == 3 ? t_emer : sev == 2 ? t_crit : t_warn, ctx);
    return;
  }
  // Open episode: escalate upward only, resolve after `resolve_after` calm observations.
  anomaly::Episode& e = s.episode_mut();
  e.peak_score = std::max(e.peak_score, o.raw);
  const uint8_t grown = std::max(sev, severity_of(o.raw));
  const bool escalate = grown > e.severity && !suppressed_at(s, ts_ms, keys);
  const bool resolve =
      o.raw < std::max(0.0, settings_.clear + adjust) && e.below + 1 >= settings_.resolve_after;
  if (escalate || resolve) {
    const anomaly::SeriesIds ids = ids_of(s, keys);
    const std::string id = alert_id(anomaly::series_name(s.kind, ids), e.episode_start);
    if (escalate) {
      e.severity = grown;
      emit_alert(s, ids, id, "firing", ts_ms, o,
                 grown == 3   ? t_emer
                 : grown == 2 ? t_crit
                              : t_warn,
                 ctx);
    }
    if (resolve) emit_alert(s, ids, id, "resolved", ts_ms, o, t_warn, ctx);
  }
  if (o.raw < std::max(0.0, settings_.clear + adjust)) {
    if (++e.below >= settings_.resolve_after) {
      e.episode_start = INT64_MIN;
      e.severity = 0;
      e.below = 0;
      e.cooldown_until = ts_ms + settings_.cooldown_ms;
    }
  } else {
    e.below = 0;
  }
}

void AnomalyOperator::emit_alert(const Series& s, const anomaly::SeriesIds& ids,
                                 std::string_view id, std::string_view status, int64_t ts_ms,
                                 const AnomalyObservation& o, double threshold,
                                 OperatorContext& ctx) const {
  OutputRecord r;
  r.stream = OutputStream::kAlerts;
  r.type = "anomaly";
  r.time_ms = ts_ms;
  r.id = id;
  const bool series_keyed = metric_like(s.kind);
  if (series_keyed) {
    r.key = ids.metric;
  } else {
    r.key = ids.store;
    r.key += '|';
    r.key += ids.sku;
  }
  anomaly::render_alert(r.json, r.id, s, ids, status, ts_ms, o, threshold,
                        bucketed(s.kind) ? bucket_of(s.kind) : -1);
  ctx.emit(std::move(r));
}

void AnomalyOperator::emit_score(const Series& s, int64_t ts_ms, double value,
                                 const AnomalyObservation& o, OperatorContext& ctx) const {
  OutputRecord r;
  r.stream = OutputStream::kScores;
  r.type = "score";
  r.time_ms = ts_ms;
  const anomaly::SeriesIds ids = ids_of(s, ctx.keys());
  if (metric_like(s.kind)) {
    r.key = ids.metric;
  } else {
    r.key = ids.store;
    r.key += '|';
    r.key += ids.sku;
  }
  anomaly::render_score(r.json, s, ids, ts_ms, value, o);
  ctx.emit(std::move(r));
}

void AnomalyOperator::snapshot(StateBatch& batch, const KeyIndex& keys) {
  AnomalySeriesState scratch;
  for (uint32_t idx : dirty_) {
    Series& s = series_[idx];
    s.dirty = false;
    batch.put(kStateNs, be32_key(idx),
              anomaly::encode_series(s, ids_of(s, keys), s.det.get(scratch)));
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
  orphans_ = 0;
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
    AnomalySeriesState det;
    uint32_t format = 0;
    if (Status d = anomaly::decode_series(v, s, det, format); !d.is_ok()) {
      bad = Status::corruption("op/anomaly series " + std::to_string(idx) + ": " + d.message());
      return false;
    }
    // Formats 2 and 3 kept every family's hour and weekday offsets absolute; a proportional
    // family now keeps them as fractions of the slow level.
    if (format < kFormatVersion && detector_for(s.kind).config().weekday_scales_hours) {
      const double level = det.slow_level;
      for (float& o : det.hour_offset) o = level > 0 ? static_cast<float>(o / level) : 0.0f;
      for (float& o : det.weekday_offset) o = level > 0 ? static_cast<float>(o / level) : 0.0f;
    }
    s.det.assign(det, packable(s.kind));
    series_.push_back(std::move(s));
    return true;
  });
  SW_RETURN_IF_ERROR(st);
  SW_RETURN_IF_ERROR(bad);
  const KeyIndex& keys = ctx.keys();
  keys_ = &keys;
  for (uint32_t i = 0; i < series_.size(); ++i) {
    Series& s = series_[i];
    // A (store, sku) series whose key the KeyIndex knows is named by it (its units series
    // first, the revenue one next); any other keeps its names and a by_name_ entry.
    if (s.kind == SeriesKind::kKeyUnits && i + 1 < series_.size() &&
        series_[i + 1].kind == SeriesKind::kKeyRevenue && s.extra && series_[i + 1].extra &&
        s.extra->store == series_[i + 1].extra->store &&
        s.extra->sku == series_[i + 1].extra->sku) {
      const KeyId key = keys.find(s.extra->store, s.extra->sku);
      if (key != kNoKey) {
        if (key >= key_series_.size()) key_series_.resize(key + 1, UINT32_MAX);
        key_series_[key] = i;
        s.key = key;
        series_[i + 1].key = key;
      } else {
        ++orphans_;  // adopted by key_series_for when the key comes back
      }
    }
    const std::string name = name_of(s, keys);
    fit_optional_states(s);
    if (s.key == kNoKey) by_name_.emplace(name, i);
    if (s.episode().last_episode_start != INT64_MIN) {
      alert_ids_[alert_id(name, s.episode().last_episode_start)] = i;
    }
    if (s.kind == SeriesKind::kMetric) metric_ids_.emplace(s.extra->metric, i);
    if (s.timer_armed) {
      ctx.set_timer(i, s.bucket_start + bucket_of(s.kind) + settings_.silence_grace_ms, kTagBucket);
    }
  }
  return Status::ok();
}

namespace {

//! Heap bytes of a string beyond the object (none while it fits the short-string buffer).
size_t string_heap(const std::string& s) {
  return s.capacity() > 15 ? anomaly::heap_chunk(s.capacity() + 1) : 0;
}

//! Bytes of an absl flat_hash_map: its slots and control bytes, plus the keys' heap bytes.
template <typename V>
size_t map_bytes(const absl::flat_hash_map<std::string, V>& m) {
  size_t b = m.capacity() * (sizeof(std::pair<const std::string, V>) + 1);
  for (const auto& [k, v] : m) b += string_heap(k);
  return b;
}

}  // namespace

size_t AnomalyOperator::memory_bytes() const {
  // What is allocated, as malloc chunks: the series table, each series' detector state,
  // names, optional states and episode, the lookup maps and vectors.
  using anomaly::heap_chunk;
  size_t b = series_.table_bytes() + key_series_.capacity() * sizeof(uint32_t) +
             dirty_.capacity() * sizeof(uint32_t) + map_bytes(by_name_) + map_bytes(metric_ids_) +
             map_bytes(alert_ids_) + store_series_.capacity() * sizeof(store_series_[0]) +
             sku_series_.capacity() * sizeof(sku_series_[0]);
  for (uint32_t i = 0; i < series_.size(); ++i) {
    const Series& s = series_[i];
    b += s.det.heap_bytes();
    if (s.life) b += heap_chunk(sizeof(anomaly::Episode));
    if (!s.extra) continue;
    b += heap_chunk(sizeof(anomaly::SeriesExtra)) + string_heap(s.extra->store) +
         string_heap(s.extra->sku) + string_heap(s.extra->metric);
    if (s.extra->week) b += heap_chunk(sizeof(AnomalyWeekState));
    if (s.extra->quiet) b += heap_chunk(sizeof(AnomalySilenceState));
  }
  return b;
}

bool AnomalyOperator::open_anomaly(KeyId key) const {
  if (key >= key_series_.size() || key_series_[key] == UINT32_MAX) return false;
  const uint32_t u = key_series_[key];
  return series_[u].episode().episode_start != INT64_MIN ||
         series_[u + 1].episode().episode_start != INT64_MIN;
}

std::string AnomalyOperator::describe(KeyId key, const KeyIndex& keys) const {
  if (key >= key_series_.size() || key_series_[key] == UINT32_MAX) return "{}";
  const Series& u = series_[key_series_[key]];
  const Series& r = series_[key_series_[key] + 1];
  AnomalySeriesState su, sr;
  return anomaly::render_describe(u, u.det.get(su), name_of(u, keys), r, r.det.get(sr),
                                  name_of(r, keys));
}

}  // namespace sw
