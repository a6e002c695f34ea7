#include "operators/forecast/forecast.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "stream/calendar.h"
#include "stream/civil_time.h"

namespace sw {

using forecast::floor_div;
using forecast::floor_mod;
using forecast::kDrift;
using forecast::kInit;
using forecast::kPrior;
using forecast::kStarted;
using forecast::kStockKnown;
using forecast::kTimerSet;
using forecast::ring_slot;

namespace {

using forecast::AccuracySums;

constexpr int64_t kHourMs = 3'600'000;
constexpr int kAnchors[3] = {1, 7, 28};
// Smallest quantile step at the long anchor, in units of its interval half-width over z.
constexpr double kLongStepFloor = 0.15;
// Regression priors for the category regressors: log-uplift per unit discount fraction (20 %
// off -> x1.35) and own-price elasticity, each worth kRegressionPrior weighted units.
constexpr double kPromoPrior = 1.5;
constexpr double kElasticityPrior = -1.0;
constexpr double kRegressionPrior = 20;
constexpr double kPromoGain = 0.25;  // level gain multiplier on promoted buckets
// Pseudo-units with which a category's chain-wide profile is shrunk toward flat (1.0).
constexpr double kTopShrink = 20;
constexpr double kTopShrinkMonth = 200;

// absl's heterogeneous lookup takes absl::string_view (a distinct type in Debian's build).
absl::string_view av(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

double residual_scale(double mean) {
  return std::sqrt(std::max(mean, 0.0) + 0.5);
}

void decay_sums(AccuracySums& s, double d) {
  s.abs_err = static_cast<float>(s.abs_err * d);
  s.err = static_cast<float>(s.err * d);
  s.actual = static_cast<float>(s.actual * d);
  s.naive_abs = static_cast<float>(s.naive_abs * d);
  s.n = static_cast<float>(s.n * d);
  s.n_naive = static_cast<float>(s.n_naive * d);
}

// A key's own seasonal profile (slot ratios as decayed sums of observation / expected):
// every slot decays by `keep`, then `slot` adds one observation.
template <size_t N>
void own_profile_add(float (&num)[N], float (&den)[N], double keep, int slot, double observed,
                     double expected) {
  for (size_t i = 0; i < N; ++i) {
    num[i] = static_cast<float>(num[i] * keep);
    den[i] = static_cast<float>(den[i] * keep);
  }
  num[slot] += static_cast<float>(observed);
  den[slot] += static_cast<float>(expected);
}

}  // namespace

ForecastOperator::ForecastOperator(ForecastOptions options) : options_(options) {
  params_.alpha = options_.alpha;
  params_.beta = options_.beta;
  params_.phi = options_.phi;
  z_ = forecast::normal_quantile(0.5 + options_.interval / 2);
  category_id("");  // category 0: unknown
  // Weight tables up to the longest horizon demand() and emitted forecasts ask for; a longer
  // forecast() falls back to the same expressions.
  const int max_h = std::max(options_.horizon, options_.hourly ? 400 * 24 : 400) + 1;
  const double span = std::log(kLongAnchor / 28.0);
  t_short_.assign(29, 0.0);
  for (int h = 2; h <= 28; ++h) {
    t_short_[h] = h <= 7 ? std::log(h) / std::log(7.0) : std::log(h / 7.0) / std::log(4.0);
  }
  t_long_.assign(kLongAnchor + 1, 0.0);
  for (int h = 29; h <= kLongAnchor; ++h) t_long_[h] = std::log(h / 28.0) / span;
  e_extrapolated_.assign(static_cast<size_t>(max_h), 0.0);
  e_long_.assign(static_cast<size_t>(max_h), 0.0);
  for (int h = 1; h < max_h; ++h) {
    e_extrapolated_[h] = std::log(h / 28.0) / std::log(4.0);
    if (h > kLongAnchor) e_long_[h] = std::log(h / double(kLongAnchor)) / span;
  }
}

Status ForecastOperator::reconfigure(const Config& config) {
  ForecastOptions next = ForecastOptions::from_config(config);
  const std::string key = options_.restart_key(next);
  if (!key.empty()) {
    return Status::invalid(key + " cannot change while running; restart to apply");
  }
  // emit: on_change compares with the horizon mean last written; records written under
  // another mode did not update it, so switching to on_change starts afresh (the next
  // close writes one record per key), as a start with emit: on_change does.
  if (next.emit == ForecastEmit::kOnChange && options_.emit != ForecastEmit::kOnChange) {
    for (size_t k = 0; k < emitted_.size(); ++k) {
      if (emitted_[k].mean < 0) continue;
      emitted_[k] = EmittedMean{};
      mark_dirty(static_cast<KeyId>(k));
    }
  }
  options_ = next;
  ++version_;  // cached demand() steps were computed under the old options
  return Status::ok();
}

uint32_t ForecastOperator::subscriptions() const {
  auto bit = [](EventType t) { return 1u << static_cast<int>(t); };
  return bit(EventType::kSale) | bit(EventType::kReturn) | bit(EventType::kInventory) |
         bit(EventType::kPrice) | bit(EventType::kItem) | bit(EventType::kPromotion);
}

uint16_t ForecastOperator::category_id(std::string_view name) {
  auto it = g_.category_ids.find(av(name));
  if (it != g_.category_ids.end()) return it->second;
  SW_CHECK(g_.categories.size() < 65535, "too many forecast categories");
  const auto id = static_cast<uint16_t>(g_.categories.size());
  g_.category_ids.emplace(std::string(name), id);
  g_.category_names.emplace_back(name);
  g_.categories.emplace_back();
  globals_dirty_ = true;
  return id;
}

uint32_t ForecastOperator::group_for(uint16_t category, uint32_t store_id) {
  const uint64_t gk = (static_cast<uint64_t>(category) << 32) | store_id;
  auto it = group_ids_.find(gk);
  if (it != group_ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(groups_.size());
  group_ids_.emplace(gk, id);
  groups_.emplace_back();
  group_keys_.push_back(gk);
  mark_group_dirty(id);
  return id;
}

void ForecastOperator::mark_group_dirty(uint32_t group) {
  if (group >= group_dirty_.size()) group_dirty_.resize(groups_.size(), 0);
  if (!group_dirty_[group]) {
    group_dirty_[group] = 1;
    dirty_groups_.push_back(group);
  }
}

void ForecastOperator::mark_dirty(KeyId key) {
  if (key >= dirty_flag_.size()) dirty_flag_.resize(states_.size(), 0);
  uint8_t& f = dirty_flag_[key];
  if (!(f & (kDirtyAll | kDirtyHot))) dirty_.push_back(key);
  f = static_cast<uint8_t>((f & ~kDirtyHot) | kDirtyAll);
}

void ForecastOperator::mark_hot(KeyId key) {
  if (key >= dirty_flag_.size()) dirty_flag_.resize(states_.size(), 0);
  uint8_t& f = dirty_flag_[key];
  if (f & (kDirtyAll | kDirtyHot)) return;
  f |= kDirtyHot;
  dirty_.push_back(key);
}

void ForecastOperator::init_key(KeyId key, KeyState& s, OperatorContext& ctx) {
  const KeyIndex& keys = ctx.keys();
  auto it = sku_category_.find(av(keys.sku(key)));
  s.category = it == sku_category_.end() ? 0 : it->second;
  s.group = group_for(s.category, keys.store_id(key));
  for (int j = 0; j < 4; ++j) {
    s.q_lo[j] = static_cast<float>(-z_);
    s.q_hi[j] = static_cast<float>(z_);
  }
  std::fill(std::begin(s.long_f), std::end(s.long_f), -1.0f);
  s.flags |= kInit;
}

ForecastOperator::KeyState& ForecastOperator::state_for(KeyId key, OperatorContext& ctx) {
  if (key >= states_.size()) {
    states_.resize(static_cast<size_t>(key) + 1);
    dirty_flag_.resize(states_.size(), 0);
  }
  KeyState& s = states_[key];
  if (!(s.flags & kInit)) {
    init_key(key, s, ctx);
    mark_dirty(key);
  } else {
    mark_hot(key);  // the event paths change only the hot prefix (forecast::kHotBytes)
  }
  return s;
}

int64_t ForecastOperator::day_start(uint32_t store_id, std::string_view store, int32_t day) const {
  if (store_id >= day_starts_.size()) day_starts_.resize(static_cast<size_t>(store_id) + 1);
  DayStarts& c = day_starts_[store_id];
  const int32_t idx = day - c.first_day;
  if (c.starts.empty() || idx < 0 || idx >= static_cast<int32_t>(c.starts.size())) {
    // Grow the range to cover `day` with room on both sides (a stream moves forward; a
    // horizon reaches up to 400 days ahead): the days already known are kept.
    const int32_t ahead = options_.hourly ? options_.horizon / 24 + 16
                                          : std::max(options_.horizon, int{kLongAnchor}) + 16;
    int32_t first = day - 2, last = day + ahead;  // [first, last)
    if (!c.starts.empty()) {
      first = std::min(first, c.first_day);
      last = std::max(last, c.first_day + static_cast<int32_t>(c.starts.size()));
    }
    std::vector<int64_t> starts(static_cast<size_t>(last - first));
    for (int32_t d = first; d < last; ++d) {
      const int32_t old = d - c.first_day;
      starts[static_cast<size_t>(d - first)] =
          !c.starts.empty() && old >= 0 && old < static_cast<int32_t>(c.starts.size())
              ? c.starts[static_cast<size_t>(old)]
              : calendar_->day_start_ms(store_id, store, d);
    }
    c.first_day = first;
    c.starts = std::move(starts);
    return c.starts[static_cast<size_t>(day - first)];
  }
  return c.starts[idx];
}

int ForecastOperator::month_index(int32_t day) const {
  const int32_t idx = day - month_first_day_;
  if (idx >= 0 && idx < static_cast<int32_t>(month_of_day_.size())) return month_of_day_[idx];
  int32_t first = day - 32, last = day + 800;  // [first, last): the horizons reach 400 days
  if (!month_of_day_.empty()) {
    first = std::min(first, month_first_day_);
    last = std::max(last, month_first_day_ + static_cast<int32_t>(month_of_day_.size()));
  }
  month_of_day_.resize(static_cast<size_t>(last - first));
  for (int32_t d = first; d < last; ++d) {
    month_of_day_[static_cast<size_t>(d - first)] = static_cast<int8_t>(civil::month_of(d) - 1);
  }
  month_first_day_ = first;
  return month_of_day_[static_cast<size_t>(day - first)];
}

int32_t ForecastOperator::bucket_of(uint32_t store_id, std::string_view store,
                                    int64_t ts_ms) const {
  const LocalDay& d = calendar_->day(store_id, store, ts_ms);
  if (!options_.hourly) return d.day;
  const int64_t h = std::min<int64_t>(23, (ts_ms - d.start_ms) / kHourMs);
  return d.day * 24 + static_cast<int32_t>(h);
}

int64_t ForecastOperator::bucket_start(uint32_t store_id, std::string_view store,
                                       int32_t bucket) const {
  if (!options_.hourly) return day_start(store_id, store, bucket);
  const int32_t day = floor_div(bucket, 24);
  return day_start(store_id, store, day) + (bucket - day * 24) * kHourMs;
}

int64_t ForecastOperator::bucket_end(uint32_t store_id, std::string_view store,
                                     int32_t bucket) const {
  if (!options_.hourly) return day_start(store_id, store, bucket + 1);
  const int32_t day = floor_div(bucket, 24);
  const int hour = bucket - day * 24;
  if (hour == 23) return day_start(store_id, store, day + 1);
  return std::min(day_start(store_id, store, day) + (hour + 1) * kHourMs,
                  day_start(store_id, store, day + 1));
}

void ForecastOperator::add_oos(KeyState& s, int64_t from_ms, int64_t to_ms, KeyId key,
                               const KeyIndex& keys) {
  if (to_ms <= from_ms) return;
  const uint32_t sid = keys.store_id(key);
  const std::string_view store = keys.store(key);
  for (int i = 0; i < kPending; ++i) {
    const int64_t bs = bucket_start(sid, store, s.open_bucket + i);
    const int64_t be = bucket_end(sid, store, s.open_bucket + i);
    const int64_t overlap = std::min(to_ms, be) - std::max(from_ms, bs);
    if (overlap > 0) s.pend_oos_s[i] += static_cast<float>(overlap / 1000.0);
    if (be >= to_ms) break;
  }
}

void ForecastOperator::set_stock(KeyState& s, double on_hand, int64_t ts_ms, KeyId key,
                                 OperatorContext& ctx) {
  bool was_out = s.oos_since_ms >= 0;
  if (!(s.flags & kStockKnown)) {
    s.flags |= kStockKnown;
    was_out = false;
    s.oos_since_ms = -1;
  }
  s.on_hand = static_cast<float>(on_hand);
  const bool out = on_hand <= 0;
  if (out && !was_out) {
    s.oos_since_ms = ts_ms;
  } else if (!out && was_out) {
    // The previous completed spell goes into the open window; this one is kept whole, so
    // buckets beyond the window that have not closed yet still see it.
    add_oos(s, s.oos_last_from, s.oos_last_to, key, ctx.keys());
    s.oos_last_from = s.oos_since_ms;
    s.oos_last_to = ts_ms;
    s.oos_since_ms = -1;
  }
}

void ForecastOperator::ensure_timer(KeyId key, KeyState& s, OperatorContext& ctx) {
  if (s.flags & kTimerSet) return;
  const KeyIndex& keys = ctx.keys();
  ctx.set_timer(key, bucket_end(keys.store_id(key), keys.store(key), s.open_bucket), 0);
  s.flags |= kTimerSet;
}

void ForecastOperator::on_event(const Event& ev, KeyId key, OperatorContext& ctx) {
  calendar_ = &ctx.calendar();
  ++version_;
  if (ev.ts_ms > g_.max_event_ms) {
    g_.max_event_ms = ev.ts_ms;
    globals_dirty_ = true;
  }
  const KeyIndex& keys = ctx.keys();
  switch (ev.type) {
    case EventType::kItem: {
      if (ev.item.category.empty()) return;
      const uint16_t cat = category_id(ev.item.category);
      auto it = sku_category_.find(av(ev.sku));
      if (it != sku_category_.end() && it->second == cat) return;
      sku_category_[std::string(ev.sku)] = cat;
      dirty_skus_.emplace_back(ev.sku);
      const uint32_t sku_id = keys.find_sku(ev.sku);
      if (sku_id == UINT32_MAX) return;
      for (KeyId k : keys.keys_of_sku(sku_id)) {
        if (k >= states_.size() || !(states_[k].flags & kInit)) continue;
        KeyState& s = states_[k];
        s.category = cat;
        s.group = group_for(cat, keys.store_id(k));
        mark_dirty(k);
      }
      return;
    }
    case EventType::kPromotion: {
      auto& list = g_.promos[std::string(ev.sku)];
      const int64_t wm = ctx.watermark();
      std::erase_if(list, [wm](const Promo& p) { return p.end_ms < wm - 7 * 24 * kHourMs; });
      list.push_back(Promo{std::string(ev.store), ev.start_ms, ev.end_ms,
                           std::clamp(ev.discount_pct / 100.0, 0.0, 1.0)});
      auto cit = sku_category_.find(av(ev.sku));
      CategoryState& c = g_.categories[cit == sku_category_.end() ? 0 : cit->second];
      const double lead = std::max(0.0, static_cast<double>(ev.start_ms - ev.ts_ms) / 86'400'000);
      c.lead_days = c.lead_n == 0 ? lead : c.lead_days + 0.1 * (lead - c.lead_days);
      c.lead_n += 1;
      globals_dirty_ = true;
      return;
    }
    case EventType::kPrice: {
      if (!(ev.price > 0)) return;
      auto apply = [&](KeyId k) {
        KeyState& s = state_for(k, ctx);
        s.price = static_cast<float>(ev.price);
        if (s.ref_price <= 0) s.ref_price = s.price;
      };
      if (key != kNoKey) {
        apply(key);
      } else {
        const uint32_t sku_id = keys.find_sku(ev.sku);
        if (sku_id == UINT32_MAX) return;
        for (KeyId k : keys.keys_of_sku(sku_id)) apply(k);
      }
      return;
    }
    case EventType::kSale:
    case EventType::kReturn:
    case EventType::kInventory:
      break;
    default:
      return;
  }
  if (key == kNoKey) return;
  KeyState& s = state_for(key, ctx);
  const uint32_t sid = keys.store_id(key);
  const std::string_view store = keys.store(key);
  const int32_t b = bucket_of(sid, store, ev.ts_ms);
  if (!(s.flags & kStarted)) {
    s.open_bucket = b;
    s.flags |= kStarted;
  }
  switch (ev.type) {
    case EventType::kSale: {
      const int32_t idx = b - s.open_bucket;
      if (idx < 0) {
        ++g_.late_sales;
        globals_dirty_ = true;
      } else if (idx < kPending) {
        s.pend_qty[idx] += static_cast<float>(ev.qty);
      } else {
        if (s.far_bucket != INT32_MIN && s.far_bucket != b) {
          ++g_.spilled_sales;
          globals_dirty_ = true;
        }
        s.far_bucket = std::max(s.far_bucket, b);
        s.far_qty += static_cast<float>(ev.qty);
      }
      if (s.flags & kStockKnown) set_stock(s, s.on_hand - ev.qty, ev.ts_ms, key, ctx);
      break;
    }
    case EventType::kReturn:
      if (ev.restock && (s.flags & kStockKnown)) {
        set_stock(s, s.on_hand + ev.qty, ev.ts_ms, key, ctx);
      }
      break;
    case EventType::kInventory: {
      if (ev.inventory_kind == InventoryKind::kOrder) break;  // an order moves no stock
      double v = s.on_hand;
      switch (ev.inventory_kind) {
        case InventoryKind::kSnapshot:
          v = ev.qty;
          break;
        case InventoryKind::kReceipt:
        case InventoryKind::kTransferIn:
          v += ev.qty;
          break;
        case InventoryKind::kTransferOut:
          v -= ev.qty;
          break;
        case InventoryKind::kAdjustment:
          v += ev.qty;
          break;
        case InventoryKind::kOrder:
          break;
      }
      if (!(s.flags & kStockKnown) && ev.inventory_kind != InventoryKind::kSnapshot) {
        v = ev.inventory_kind == InventoryKind::kTransferOut ? 0 : std::max(0.0, ev.qty);
      }
      set_stock(s, v, ev.ts_ms, key, ctx);
      break;
    }
    default:
      break;
  }
  ensure_timer(key, s, ctx);
}

void ForecastOperator::on_timer(KeyId key, int64_t time_ms, uint32_t /*tag*/,
                                OperatorContext& ctx) {
  calendar_ = &ctx.calendar();
  ++version_;
  if (key >= states_.size()) return;
  KeyState& s = states_[key];
  if (!(s.flags & kStarted)) return;
  s.flags &= static_cast<uint8_t>(~kTimerSet);
  mark_dirty(key);
  const KeyIndex& keys = ctx.keys();
  if (bucket_end(keys.store_id(key), keys.store(key), s.open_bucket) > time_ms) {
    ensure_timer(key, s, ctx);  // a stale timer (should not happen): wait for the real end
    return;
  }
  close_bucket(key, s, ctx);
  // Chain the next bucket's timer while the input has reached it; at end of input the chain
  // stops after the bucket holding the last event (so the timer queue drains).
  if (bucket_start(keys.store_id(key), keys.store(key), s.open_bucket) <= g_.max_event_ms) {
    ensure_timer(key, s, ctx);
  }
}

void ForecastOperator::decay_pools(PoolProfile& p, int32_t day) {
  if (p.last_day == INT32_MIN) {
    p.last_day = day;
    return;
  }
  const int32_t gap = day - p.last_day;
  if (gap <= 0) return;
  p.dow.decay(std::pow(1 - 1.0 / 364, gap));
  p.moy.decay(std::pow(1 - 1.0 / 730, gap));
  p.hod.decay(std::pow(1 - 1.0 / 91, gap));
  const double lv = std::pow(1 - 1.0 / 28, gap);
  p.level_sum *= lv;
  p.level_n *= lv;
  p.last_day = day;
}

void ForecastOperator::seasons(KeyId key, const KeyState& s, Seasons& out) const {
  const double k = options_.profile_shrink;
  const PoolProfile& cat = g_.categories[s.category].pool;
  const PoolProfile& grp = groups_[s.group];
  double c[24];
  for (int w = 0; w < 7; ++w) c[w] = cat.dow.ratio(w, 1.0, kTopShrink);
  forecast::normalise_mean_one(c, 7);
  for (int w = 0; w < 7; ++w) out.dow[w] = grp.dow.ratio(w, c[w], k);
  forecast::normalise_mean_one(out.dow, 7);
  for (int w = 0; w < 7; ++w) {
    const double d = s.dow_den[w] + k;
    if (d > 0) out.dow[w] = (s.dow_num[w] + k * out.dow[w]) / d;
  }
  forecast::normalise_mean_one(out.dow, 7);
  for (int m = 0; m < 12; ++m) c[m] = cat.moy.ratio(m, 1.0, kTopShrinkMonth);
  forecast::normalise_mean_one(c, 12);
  for (int m = 0; m < 12; ++m) out.moy[m] = grp.moy.ratio(m, c[m], k);
  forecast::normalise_mean_one(out.moy, 12);
  if (options_.own_months) {
    for (int m = 0; m < 12; ++m) {
      const double d = s.moy_den[m] + k;
      if (d > 0) out.moy[m] = (s.moy_num[m] + k * out.moy[m]) / d;
    }
    forecast::normalise_mean_one(out.moy, 12);
  }
  if (options_.hourly) {
    for (int h = 0; h < 24; ++h) c[h] = cat.hod.ratio(h, 1.0, kTopShrink);
    forecast::normalise_mean_one(c, 24);
    for (int h = 0; h < 24; ++h) out.hod[h] = grp.hod.ratio(h, c[h], k);
    forecast::normalise_mean_one(out.hod, 24);
    if (options_.own_hours && key < own_hours_.size()) {
      const OwnHours& own = own_hours_[key];
      for (int h = 0; h < 24; ++h) {
        const double d = own.den[h] + k;
        if (d > 0) out.hod[h] = (own.num[h] + k * out.hod[h]) / d;
      }
      forecast::normalise_mean_one(out.hod, 24);
    }
  } else {
    std::fill(std::begin(out.hod), std::end(out.hod), 1.0);
  }
}

double ForecastOperator::season_factor(const Seasons& se, int32_t bucket) const {
  if (!options_.hourly) return se.dow[civil::weekday(bucket)] * se.moy[month_index(bucket)];
  const int32_t day = floor_div(bucket, 24);
  return se.dow[civil::weekday(day)] * se.moy[month_index(day)] * se.hod[bucket - day * 24];
}

double ForecastOperator::promo_discount(std::string_view store, std::string_view sku,
                                        int64_t start_ms, int64_t end_ms) const {
  if (g_.promos.empty()) return 0;
  auto it = g_.promos.find(av(sku));
  if (it == g_.promos.end()) return 0;
  double d = 0;
  for (const Promo& p : it->second) {
    if (!p.store.empty() && p.store != store) continue;
    if (p.start_ms < end_ms && p.end_ms > start_ms) d = std::max(d, p.discount);
  }
  return d;
}

double ForecastOperator::uplift(const KeyState& s, double discount) const {
  const CategoryState& c = g_.categories[s.category];
  if (discount > 0) {
    const double theta =
        (c.promo_xr + kRegressionPrior * kPromoPrior) / (c.promo_xx + kRegressionPrior);
    return std::exp(std::clamp(theta, 0.0, 8.0) * discount);
  }
  if (s.price > 0 && s.ref_price > 0) {
    const double x = std::clamp(std::log(static_cast<double>(s.price) / s.ref_price), -1.0, 1.0);
    if (std::fabs(x) < 0.005) return 1.0;
    const double e =
        (c.price_xr + kRegressionPrior * kElasticityPrior) / (c.price_xx + kRegressionPrior);
    return std::exp(std::clamp(e, -6.0, 1.0) * x);
  }
  return 1.0;
}

double ForecastOperator::unannounced_promo_factor(const KeyState& s, double& lead_buckets) const {
  const CategoryState& c = g_.categories[s.category];
  lead_buckets = c.lead_days * (options_.hourly ? 24 : 1);
  if (c.promoted < 1 || c.observed <= 0) return 1.0;
  const double share = c.promoted / c.observed;
  return 1 + share * (uplift(s, c.discount_sum / c.promoted) - 1);
}

double ForecastOperator::base_forecast(const KeyState& s, int h) const {
  if (s.learned == 0) {
    const PoolProfile& g = groups_[s.group];
    if (g.level_n > 0) return g.level_sum / g.level_n;
    const PoolProfile& c = g_.categories[s.category].pool;
    return c.level_n > 0 ? c.level_sum / c.level_n : 0.0;
  }
  switch (static_cast<Model>(s.model)) {
    case Model::kCrostonSba:
      return forecast::croston_sba_forecast(s.croston, options_.intermittent_alpha);
    case Model::kTsb:
      return forecast::tsb_forecast(s.tsb);
    case Model::kSmoothing:
      break;
  }
  return std::max(0.0, forecast::damped_trend_forecast(s.lt, h, options_.phi));
}

void ForecastOperator::extrapolated_quantiles(const KeyState& s, int h, double& q_lo,
                                              double& q_hi) const {
  // The growth of the interval from 7 to 28 buckets, continued in log h (at least the
  // local-level variance growth 1 + (h - 1) alpha^2, at most 2x).
  const double a2 = options_.alpha * options_.alpha;
  const double level_growth = std::sqrt((1 + (h - 1) * a2) / (1 + 27 * a2));
  const double w7 = s.q_hi[1] - s.q_lo[1], w28 = s.q_hi[2] - s.q_lo[2];
  double g = level_growth;
  if (w7 > 0 && w28 > w7) {
    const double e = h < static_cast<int>(e_extrapolated_.size())
                         ? e_extrapolated_[static_cast<size_t>(h)]
                         : std::log(h / 28.0) / std::log(4.0);
    g = std::max(g, std::pow(w28 / w7, e));
  }
  g = std::min(g, 2.0);
  q_lo = s.q_lo[2] * g;
  q_hi = s.q_hi[2] * g;
}

void ForecastOperator::interval_quantiles(const KeyState& s, int h, double& q_lo,
                                          double& q_hi) const {
  if (h <= 1) {
    q_lo = s.q_lo[0];
    q_hi = s.q_hi[0];
    return;
  }
  if (h <= 28) {
    const int j = h <= 7 ? 0 : 1;
    const double t = t_short_[static_cast<size_t>(h)];
    q_lo = s.q_lo[j] + t * (s.q_lo[j + 1] - s.q_lo[j]);
    q_hi = s.q_hi[j] + t * (s.q_hi[j + 1] - s.q_hi[j]);
    return;
  }
  if (s.long_n == 0) {
    extrapolated_quantiles(s, h, q_lo, q_hi);
    return;
  }
  // Between 28 and the long anchor: interpolated in log h between the two anchors' quantiles
  // (never narrower than at 28); beyond it, the 28 -> long anchor widening continued in log h
  // (at most 2x the anchor's width).
  const double lo28 = s.q_lo[2], hi28 = s.q_hi[2];
  const double lo_l = std::min<double>(s.q_lo[3], lo28), hi_l = std::max<double>(s.q_hi[3], hi28);
  const double span = std::log(kLongAnchor / 28.0);
  if (h <= kLongAnchor) {
    const double t = t_long_[static_cast<size_t>(h)];
    q_lo = lo28 + t * (lo_l - lo28);
    q_hi = hi28 + t * (hi_l - hi28);
    return;
  }
  const double w28 = hi28 - lo28, wl = hi_l - lo_l;
  double g = 1;
  if (w28 > 0 && wl > w28) {
    const double e = h < static_cast<int>(e_long_.size())
                         ? e_long_[static_cast<size_t>(h)]
                         : std::log(h / double(kLongAnchor)) / span;
    g = std::pow(wl / w28, e);
  }
  g = std::min(g, 2.0);
  q_lo = lo_l * g;
  q_hi = hi_l * g;
}

void ForecastOperator::refit(KeyId key, KeyState& s, int32_t closed_bucket) {
  Seasons se;
  seasons(key, s, se);
  double sum = 0, n = 0, nz = 0, nz_sum = 0;
  const int depth = static_cast<int>(std::min<uint32_t>(s.closes, 14));
  for (int i = 0; i < depth; ++i) {
    const int32_t b = closed_bucket - i;
    const int slot = ring_slot(b);
    if (s.ring_censored & (1u << slot)) continue;
    const double yd = s.ring_y[slot] / std::max(1e-6, season_factor(se, b));
    sum += yd;
    n += 1;
    if (yd > 0) {
      nz += 1;
      nz_sum += yd;
    }
  }
  if (n == 0) return;
  s.lt.level = static_cast<float>(sum / n);
  s.lt.trend = 0;
  if (nz > 0) {
    s.croston.size = static_cast<float>(nz_sum / nz);
    s.croston.interval = static_cast<float>(n / nz);
    s.tsb.size = s.croston.size;
    s.tsb.seen = 1;
  }
  s.tsb.prob = static_cast<float>(nz / n);
  std::fill(std::begin(s.mse), std::end(s.mse), 0.0f);
}

void ForecastOperator::close_bucket(KeyId key, KeyState& s, OperatorContext& ctx) {
  const KeyIndex& keys = ctx.keys();
  const uint32_t sid = keys.store_id(key);
  const std::string_view store = keys.store(key);
  const std::string_view sku = keys.sku(key);
  const int32_t b = s.open_bucket;
  const int64_t start = bucket_start(sid, store, b);
  const int64_t end = bucket_end(sid, store, b);

  // Out-of-stock time up to the bucket end; a spell that continues accrues to later buckets.
  if (s.flags & kStockKnown) {
    auto overlap = [&](int64_t from, int64_t to) {
      const int64_t o = std::min(to, end) - std::max(from, start);
      if (o > 0) s.pend_oos_s[0] += static_cast<float>(o / 1000.0);
    };
    overlap(s.oos_last_from, s.oos_last_to);
    if (s.oos_since_ms >= 0) overlap(s.oos_since_ms, end);
  }
  const bool censored =
      s.pend_oos_s[0] * 1000.0 > options_.censor_fraction * static_cast<double>(end - start);
  const double y = s.pend_qty[0];
  for (int i = 0; i + 1 < kPending; ++i) {
    s.pend_qty[i] = s.pend_qty[i + 1];
    s.pend_oos_s[i] = s.pend_oos_s[i + 1];
  }
  s.pend_qty[kPending - 1] = 0;
  s.pend_oos_s[kPending - 1] = 0;
  s.open_bucket = b + 1;
  if (s.far_bucket != INT32_MIN && s.far_bucket < s.open_bucket + kPending) {
    s.pend_qty[s.far_bucket - s.open_bucket] += s.far_qty;
    s.far_bucket = INT32_MIN;
    s.far_qty = 0;
  }

  const int32_t day = options_.hourly ? floor_div(b, 24) : b;
  const double per_day = options_.hourly ? 24.0 : 1.0;
  PoolProfile& grp = groups_[s.group];
  CategoryState& cat = g_.categories[s.category];
  decay_pools(grp, day);
  if (cat.pool.last_day != INT32_MIN && day > cat.pool.last_day) {
    const double d = std::pow(1 - 1.0 / 365, day - cat.pool.last_day);
    cat.promoted *= d;
    cat.observed *= d;
    cat.discount_sum *= d;
  }
  decay_pools(cat.pool, day);
  mark_group_dirty(s.group);
  if (g_.overall_day != day) {
    if (g_.overall_day != INT32_MIN)
      decay_sums(g_.overall, std::pow(1 - 1.0 / 28, day - g_.overall_day));
    g_.overall_day = day;
  }
  globals_dirty_ = true;

  Seasons se;
  seasons(key, s, se);
  const int w = civil::weekday(day);
  const int m = civil::month_of(day) - 1;
  const int hr = options_.hourly ? b - day * 24 : 0;
  const double sf = std::max(1e-6, season_factor(se, b));
  const double discount = promo_discount(store, sku, start, end);
  const double reg = uplift(s, discount);
  const double expect_unit = sf * reg;

  // Accuracy of the forecasts made at earlier closes for this bucket.
  if (!censored && s.closes >= 1 && s.learned >= 1) {
    const double f1 = s.ring_base[ring_slot(b - 1)] * expect_unit;
    forecast::accuracy_add(s.acc_long, f1, y, 1 - 1.0 / 56);
    forecast::accuracy_add(s.acc_short, f1, y, 1 - 1.0 / 14);
    forecast::accuracy_add(g_.overall, f1, y, 1.0);
    const int m_season = options_.hourly ? 24 : 7;
    if (s.closes >= static_cast<uint32_t>(m_season)) {
      const int slot = ring_slot(b - m_season);
      if (!(s.ring_censored & (1u << slot))) {
        const double naive = std::fabs(y - s.ring_y[slot]);
        forecast::accuracy_add_naive(s.acc_long, naive, 1 - 1.0 / 56);
        forecast::accuracy_add_naive(s.acc_short, naive, 1 - 1.0 / 14);
        forecast::accuracy_add_naive(g_.overall, naive, 1.0);
      }
    }
    const double tau_lo = 0.5 - options_.interval / 2;
    const double tau_hi = 0.5 + options_.interval / 2;
    const double step = std::max(0.03, 4.0 / (s.learned + 10.0));
    for (int j = 0; j < 3; ++j) {
      if (s.closes < static_cast<uint32_t>(kAnchors[j])) break;
      const double f = s.ring_base[ring_slot(b - kAnchors[j])] * expect_unit;
      const double r = (y - f) / residual_scale(f);
      forecast::quantile_update(s.q_lo[j], r, tau_lo, step);
      forecast::quantile_update(s.q_hi[j], r, tau_hi, step);
      if (s.q_hi[j] < s.q_lo[j]) std::swap(s.q_hi[j], s.q_lo[j]);
    }
  }
  // Long anchor: the forecast this bucket got kLongAnchor buckets ago (a weekly origin), with
  // the profiles, level, trend and regressors of that time, against what happened. Its
  // residuals carry what the short anchors cannot see: seasonal-profile error of months not
  // yet learned, level and trend drift over a season, promotions announced after the origin.
  const int32_t origin = b - kLongAnchor;
  if (floor_mod(origin, kLongEvery) == 0) {
    const int slot = floor_mod(floor_div(origin, kLongEvery), kLongSlots);
    const double f = s.long_f[slot];
    s.long_f[slot] = -1.0f;
    if (f >= 0 && !censored) {
      if (s.long_n == 0) {
        double lo = 0, hi = 0;
        extrapolated_quantiles(s, kLongAnchor, lo, hi);
        s.q_lo[3] = static_cast<float>(lo);
        s.q_hi[3] = static_cast<float>(hi);
      }
      const double r = (y - f) / residual_scale(f);
      const double width = std::max(0.5, (s.q_hi[3] - s.q_lo[3]) / (2 * z_));
      const double step = width * std::max(kLongStepFloor, 4.0 / (s.long_n + 10.0));
      forecast::quantile_update(s.q_lo[3], r, 0.5 - options_.interval / 2, step);
      forecast::quantile_update(s.q_hi[3], r, 0.5 + options_.interval / 2, step);
      if (s.q_hi[3] < s.q_lo[3]) std::swap(s.q_hi[3], s.q_lo[3]);
      if (s.long_n < UINT16_MAX) ++s.long_n;
    }
  }

  if (censored) {
    ++g_.censored_buckets;
  } else {
    const double yd = y / expect_unit;
    const double base_prev = s.learned == 0 ? base_forecast(s, 1) : 0;
    // One-step errors of each candidate model (their states are still pre-update).
    if (s.learned >= 1) {
      const double f[3] = {
          std::max(0.0, forecast::damped_trend_forecast(s.lt, 1, options_.phi)) * expect_unit,
          forecast::croston_sba_forecast(s.croston, options_.intermittent_alpha) * expect_unit,
          forecast::tsb_forecast(s.tsb) * expect_unit};
      const double g = std::max(1.0 / 28, 1.0 / s.learned);
      for (int i = 0; i < 3; ++i) {
        const double e2 = (f[i] - y) * (f[i] - y);
        s.mse[i] = static_cast<float>(s.mse[i] + g * (e2 - s.mse[i]));
      }
    }
    const double level_pre =
        s.learned == 0 ? (base_prev > 0 ? base_prev : yd)
                       : std::max(0.0, forecast::damped_trend_forecast(s.lt, 1, options_.phi));
    const double annual_pre = s.learned == 0 ? level_pre : s.annual;

    // Pooled and own seasonal profiles (need a meaningful level first).
    if (s.learned >= 7 && level_pre > 0) {
      const double obs_dow = y / (se.moy[m] * se.hod[hr] * reg);
      grp.dow.add(w, obs_dow, level_pre);
      cat.pool.dow.add(w, obs_dow, level_pre);
      const double kd = 1 - 1.0 / (364 * per_day);
      for (int i = 0; i < 7; ++i) {
        s.dow_num[i] = static_cast<float>(s.dow_num[i] * kd);
        s.dow_den[i] = static_cast<float>(s.dow_den[i] * kd);
      }
      s.dow_num[w] += static_cast<float>(obs_dow);
      s.dow_den[w] += static_cast<float>(level_pre);
      if (options_.hourly) {
        const double obs_hod = y / (se.dow[w] * se.moy[m] * reg);
        grp.hod.add(hr, obs_hod, level_pre);
        cat.pool.hod.add(hr, obs_hod, level_pre);
        if (options_.own_hours) {
          if (key >= own_hours_.size()) own_hours_.resize(states_.size());
          OwnHours& own = own_hours_[key];
          own_profile_add(own.num, own.den, 1 - 1.0 / (91 * 24),  // ~3 months, like the pools
                          hr, obs_hod, level_pre);
        }
      }
    }
    if (s.learned >= 28 && annual_pre > 0) {
      const double obs_moy = y / (se.dow[w] * se.hod[hr] * reg);
      grp.moy.add(m, obs_moy, annual_pre);
      cat.pool.moy.add(m, obs_moy, annual_pre);
      own_profile_add(s.moy_num, s.moy_den,
                      std::pow(1 - 1.0 / 730, 1.0 / per_day),  // ~2 years, like the pools
                      m, obs_moy, annual_pre);
    }
    // Category regressors: log demand relative to the unpromoted baseline.
    const double baseline = level_pre * sf;
    if (s.learned >= 14) {
      cat.observed += 1;
      if (discount > 0) {
        cat.promoted += 1;
        cat.discount_sum += discount;
      }
    }
    if (s.learned >= 14 && baseline > 0) {
      const double r = std::log((y + 0.5) / (baseline + 0.5));
      const double wgt = std::min(baseline, 100.0);
      if (discount > 0) {
        cat.promo_xr += wgt * discount * r;
        cat.promo_xx += wgt * discount * discount;
      } else if (s.price > 0 && s.ref_price > 0) {
        const double x =
            std::clamp(std::log(static_cast<double>(s.price) / s.ref_price), -1.0, 1.0);
        if (std::fabs(x) >= 0.005) {
          cat.price_xr += wgt * x * r;
          cat.price_xx += wgt * x * x;
        }
      }
    }

    // Level / trend: cold start blends the prior as one observation, then a running mean
    // until the gain reaches alpha; promoted buckets move the level only a little.
    if (s.learned == 0) {
      s.lt.level = static_cast<float>(level_pre);
      s.lt.trend = 0;
      s.annual = static_cast<float>(level_pre);
      if (base_prev > 0) s.flags |= kPrior;
    }
    const double a = std::max(options_.alpha, 1.0 / (s.learned + ((s.flags & kPrior) ? 2.0 : 1.0)));
    forecast::DampedTrendParams p = params_;
    p.alpha = a;
    p.beta = s.learned >= 28 ? params_.beta * options_.alpha / a : 0.0;
    // Gain weighted by the bucket's expected share (y/s has variance ~ 1/s for count data,
    // and a slot with a near-zero seasonal factor carries no information about the level).
    const double share = std::min(expect_unit, 1.0 / a);
    forecast::damped_trend_update(s.lt, yd, p, (discount > 0 ? kPromoGain : 1.0) * share);
    if (s.lt.level < 0) s.lt.level = 0;
    const double aa = std::max(1.0 / (365 * per_day), 1.0 / (s.learned + 2.0));
    s.annual = static_cast<float>(s.annual + std::min(1.0, aa * expect_unit) * (yd - s.annual));
    const double ia = std::max(options_.intermittent_alpha, 1.0 / (s.learned + 2.0));
    forecast::croston_update(s.croston, yd, ia);
    forecast::tsb_update(s.tsb, yd, ia, ia);
    forecast::pattern_update(s.pattern, y, 1 - 1.0 / 112);
    ++s.learned;
    if (s.learned >= 28) {
      grp.level_sum += s.lt.level;
      grp.level_n += 1;
      cat.pool.level_sum += s.lt.level;
      cat.pool.level_n += 1;
    }

    // Model choice from rolling one-step errors, biased toward the pattern's natural family.
    if (s.learned >= 14) {
      Model choice;
      if (!forecast::pattern_intermittent(s.pattern)) {
        choice = Model::kSmoothing;
        const double other = std::min(s.mse[1], s.mse[2]);
        if (other < 0.8 * s.mse[0])
          choice = s.mse[1] <= s.mse[2] ? Model::kCrostonSba : Model::kTsb;
      } else {
        choice = s.mse[1] <= s.mse[2] ? Model::kCrostonSba : Model::kTsb;
        if (s.mse[0] < 0.8 * std::min(s.mse[1], s.mse[2])) choice = Model::kSmoothing;
      }
      s.model = static_cast<uint8_t>(choice);
    }
    if (discount == 0 && s.price > 0) {
      const double ar = 1.0 / (56 * per_day);
      s.ref_price = static_cast<float>(s.ref_price + ar * (s.price - s.ref_price));
    }
  }

  const int slot = ring_slot(b);
  s.ring_y[slot] = static_cast<float>(y);
  if (censored) {
    s.ring_censored |= 1u << slot;
  } else {
    s.ring_censored &= ~(1u << slot);
  }
  ++s.closes;
  closes_counter_.add();
  check_drift(key, s, b, end, ctx);
  s.ring_base[slot] = static_cast<float>(base_forecast(s, 1));
  if (floor_mod(b, kLongEvery) == 0 && s.learned > 0) {
    Seasons now;
    seasons(key, s, now);
    s.long_f[floor_mod(floor_div(b, kLongEvery), kLongSlots)] =
        static_cast<float>(step_mean(key, ctx.keys(), s, now, kLongAnchor));
  }
  if (options_.emit != ForecastEmit::kNone) emit_forecast(key, s, b, end, ctx);
}

void ForecastOperator::check_drift(KeyId key, KeyState& s, int32_t bucket, int64_t time_ms,
                                   OperatorContext& ctx) {
  const double mase = forecast::accuracy_mase(s.acc_short);
  const bool firing = s.flags & kDrift;
  const double threshold = options_.drift_mase;
  bool fire = false, resolve = false;
  if (!firing) {
    fire = s.learned >= 56 && s.acc_short.n >= 10 && s.acc_short.n_naive >= 10 && mase > threshold;
  } else {
    resolve = s.acc_short.n >= 7 && mase <= 0.8 * threshold;
  }
  if (!fire && !resolve) return;
  const KeyIndex& keys = ctx.keys();
  const std::string_view store = keys.store(key);
  const std::string_view sku = keys.sku(key);
  const double mase_long = forecast::accuracy_mase(s.acc_long);
  const int32_t fired_at = fire ? bucket : s.drift_bucket;
  double refit_level = -1;
  if (fire) {
    refit(key, s, bucket);
    refit_level = s.lt.level;
    s.flags |= kDrift;
    s.drift_bucket = bucket;
    s.acc_short.abs_err = s.acc_short.err = s.acc_short.actual = s.acc_short.n = 0;
  } else {
    s.flags &= static_cast<uint8_t>(~kDrift);
    s.drift_bucket = -1;
  }
  OutputRecord rec;
  rec.stream = OutputStream::kAlerts;
  rec.key = keys.key_string(key);
  rec.id = "forecast_drift|" + rec.key + "|" + std::to_string(fired_at);
  rec.type = "forecast_drift";
  rec.time_ms = time_ms;
  forecast::DriftAlert alert;
  alert.id = rec.id;
  alert.fire = fire;
  alert.store = store;
  alert.sku = sku;
  alert.time_ms = time_ms;
  alert.mase = mase;
  alert.mase_long = mase_long;
  alert.threshold = threshold;
  alert.refit_level = refit_level;
  forecast::render_drift_alert(rec.json, alert);
  ctx.emit(std::move(rec));
}

double ForecastOperator::step_mean(KeyId key, const KeyIndex& keys, const KeyState& s,
                                   const Seasons& se, int i) const {
  const int32_t b = s.open_bucket + i - 1;
  const double price_reg = uplift(s, 0);
  double reg = price_reg;
  if (calendar_ != nullptr && !g_.promos.empty()) {
    const uint32_t sid = keys.store_id(key);
    const std::string_view store = keys.store(key);
    const double d = promo_discount(store, keys.sku(key), bucket_start(sid, store, b),
                                    bucket_end(sid, store, b));
    if (d > 0) reg = uplift(s, d);
  }
  double lead_buckets = 0;
  const double surprise = unannounced_promo_factor(s, lead_buckets);
  if (reg == price_reg && i - 1 >= lead_buckets) reg = price_reg * surprise;
  const bool smoothing = s.learned > 0 && static_cast<Model>(s.model) == Model::kSmoothing;
  const double base =
      smoothing ? std::max(0.0, s.lt.level + forecast::damped_sum(options_.phi, i) * s.lt.trend)
                : base_forecast(s, 1);
  return std::max(0.0, base * season_factor(se, b) * reg);
}

void ForecastOperator::begin_horizon(KeyId key, const KeyState& s, const KeyIndex* keys,
                                     HorizonRun& r) const {
  r = HorizonRun{};
  r.s = &s;
  seasons(key, s, r.se);
  r.timed = keys != nullptr && calendar_ != nullptr;
  std::string_view sku;
  if (keys != nullptr) {
    r.sid = keys->store_id(key);
    r.store = keys->store(key);
    sku = keys->sku(key);
  }
  if (keys != nullptr && !g_.promos.empty()) {
    auto it = g_.promos.find(av(sku));
    if (it != g_.promos.end()) r.promos = &it->second;
  }
  r.price_reg = uplift(s, 0);
  r.surprise = unannounced_promo_factor(s, r.lead_buckets);
  r.smoothing = s.learned > 0 && static_cast<Model>(s.model) == Model::kSmoothing;
  r.flat_base = r.smoothing ? 0.0 : base_forecast(s, 1);
}

void ForecastOperator::next_step(HorizonRun& r, int need, HorizonPoint& p) const {
  const KeyState& s = *r.s;
  const int i = ++r.i;
  double base = r.flat_base;
  if (r.smoothing) {
    r.phi_pow *= options_.phi;
    r.damped += r.phi_pow;
    base = std::max(0.0, s.lt.level + r.damped * s.lt.trend);
  }
  if (need == 0) return;
  const int32_t b = s.open_bucket + i - 1;
  const bool promos = r.promos != nullptr && r.timed;
  if ((need & kStepTime) || promos) p.time_ms = r.timed ? bucket_start(r.sid, r.store, b) : 0;
  double reg = r.price_reg;
  if (promos) {
    const int64_t be = bucket_end(r.sid, r.store, b);
    double d = 0;
    for (const Promo& pr : *r.promos) {
      if (!pr.store.empty() && pr.store != r.store) continue;
      if (pr.start_ms < be && pr.end_ms > p.time_ms) d = std::max(d, pr.discount);
    }
    if (d > 0) reg = uplift(s, d);
  }
  // Beyond the usual announcement lead, promotions not announced yet are expected at the
  // category's rate (a promoted bucket already announced carries its own uplift).
  if (reg == r.price_reg && i - 1 >= r.lead_buckets) reg = r.price_reg * r.surprise;
  p.mean = std::max(0.0, base * season_factor(r.se, b) * reg);
  if (need & kStepInterval) step_bounds(s, i, p);
}

void ForecastOperator::step_bounds(const KeyState& s, int i, HorizonPoint& p) const {
  double ql = 0, qh = 0;
  interval_quantiles(s, i, ql, qh);
  const double mean = p.mean;
  const double sc = residual_scale(mean);
  p.lo = std::max(0.0, mean + ql * sc);
  p.hi = std::max(p.lo, mean + qh * sc);
}

const HorizonPoint& ForecastOperator::demand_step(KeyId key, const KeyState& s,
                                                  const KeyIndex& keys, int i, bool bounds) const {
  DemandCache& c = demand_cache_;
  if (c.key != key || c.version != version_ || c.keys != &keys) {
    c.key = key;
    c.version = version_;
    c.keys = &keys;
    begin_horizon(key, s, &keys, c.run);
    c.points.clear();
    c.bounded.clear();
  }
  while (static_cast<int>(c.points.size()) <= i) {
    next_step(c.run, kStepMean, c.points.emplace_back());
    c.bounded.push_back(0);
  }
  HorizonPoint& p = c.points[static_cast<size_t>(i)];
  if (bounds && !c.bounded[static_cast<size_t>(i)]) {
    step_bounds(s, i + 1, p);
    c.bounded[static_cast<size_t>(i)] = 1;
  }
  return p;
}

void ForecastOperator::horizon(KeyId key, const KeyState& s, int steps, const KeyIndex* keys,
                               std::vector<HorizonPoint>& out) const {
  out.resize(static_cast<size_t>(std::max(steps, 0)));
  HorizonRun r;
  begin_horizon(key, s, keys, r);
  for (HorizonPoint& p : out) next_step(r, kStepTime | kStepMean | kStepInterval, p);
}

void ForecastOperator::emit_forecast(KeyId key, const KeyState& s, int32_t /*bucket*/,
                                     int64_t end_ms, OperatorContext& ctx) {
  const KeyIndex& keys = ctx.keys();
  horizon(key, s, options_.horizon, &keys, scratch_);
  if (options_.emit == ForecastEmit::kOnChange) {
    // The horizon's mean demand per bucket against the one last written for the key: a
    // record only when it moved by more than emit_threshold of it (the first always).
    double sum = 0;
    for (const HorizonPoint& p : scratch_) sum += p.mean;
    const float m = static_cast<float>(scratch_.empty() ? 0.0 : sum / scratch_.size());
    if (key >= emitted_.size()) emitted_.resize(states_.size());
    float& last = emitted_[key].mean;
    if (last >= 0 && !(std::fabs(m - last) > options_.emit_threshold * last)) return;
    last = m;
  }
  OutputRecord rec;
  rec.stream = OutputStream::kForecasts;
  rec.key = keys.key_string(key);
  rec.type = "forecast";
  rec.time_ms = end_ms;
  forecast::render_forecast(rec.json, horizon_json_, keys.store(key), keys.sku(key), end_ms,
                            options_.hourly, scratch_, options_.interval, s,
                            options_.compact_horizon);
  ctx.emit(std::move(rec));
}

bool ForecastOperator::forecast(KeyId key, int steps, const KeyIndex& keys,
                                std::vector<HorizonPoint>& out) const {
  if (key >= states_.size() || states_[key].closes == 0) return false;
  horizon(key, states_[key], steps, &keys, out);
  return true;
}

bool ForecastOperator::last_closed_bucket(KeyId key, int32_t& bucket) const {
  if (key >= states_.size() || states_[key].closes == 0) return false;
  bucket = states_[key].open_bucket - 1;
  return true;
}

std::string_view ForecastOperator::key_model(KeyId key) const {
  if (key >= states_.size()) return "none";
  return model_name(static_cast<Model>(states_[key].model));
}

bool ForecastOperator::anchor_quantiles(KeyId key, int j, double& q_lo, double& q_hi,
                                        uint32_t& samples) const {
  if (key >= states_.size() || j < 0 || j > 3) return false;
  const KeyState& s = states_[key];
  q_lo = s.q_lo[j];
  q_hi = s.q_hi[j];
  samples = j == 3 ? s.long_n : s.learned;
  return true;
}

bool ForecastOperator::key_accuracy(KeyId key, AccuracySums& out) const {
  if (key >= states_.size()) return false;
  out = states_[key].acc_long;
  return true;
}

bool ForecastOperator::demand(KeyId key, const KeyIndex& keys, int64_t from_ms, double days,
                              double on_hand, DemandEstimate& out) const {
  if (key >= states_.size() || calendar_ == nullptr || !(days > 0)) {
    return false;
  }
  const KeyState& s = states_[key];
  if (s.closes == 0) return false;
  const double per_day = options_.hourly ? 24.0 : 1.0;
  const int32_t first = bucket_of(keys.store_id(key), keys.store(key), from_ms);
  const int offset = std::max(0, first - s.open_bucket);
  const double want = days * per_day;
  const int n = static_cast<int>(std::ceil(want));
  const int max_steps = static_cast<int>(400 * per_day);
  const int total = std::min(max_steps, offset + std::max(n, static_cast<int>(366 * per_day)));
  // The horizon step by step, as far as the answer needs it (bounds only for the `days`
  // asked, means until the stock is covered), kept for the next question about the same key
  // while the operator's state has not changed (low_stock and price ask up to three times
  // per event).
  double mean = 0, var = 0, cum = 0;
  double cover = -1;
  for (int i = offset; i < total; ++i) {
    const int k = i - offset;
    const HorizonPoint& p = demand_step(key, s, keys, i, k < n);
    if (k < n) {
      const double wgt = std::min(1.0, want - k);
      const double sd = (p.hi - p.lo) / (2 * z_);
      mean += wgt * p.mean;
      var += wgt * sd * sd;
    }
    if (cover < 0) {
      if (on_hand <= 0) {
        cover = 0;
      } else if (cum + p.mean >= on_hand) {
        cover = (k + (p.mean > 0 ? (on_hand - cum) / p.mean : 0)) / per_day;
      }
    }
    cum += p.mean;
    if (k >= n && cover >= 0) break;
  }
  out.total_mean = mean;
  out.total_sd = std::sqrt(var);
  out.mean_per_day = mean / days;
  out.sd_per_day = std::sqrt(var / days);
  out.cover_days = cover;
  return true;
}

bool ForecastOperator::baseline(KeyId key, const KeyIndex& keys, int64_t from_ms, double days,
                                DemandBaseline& out) const {
  DemandEstimate d;
  if (!demand(key, keys, from_ms, days, 0, d)) return false;
  const KeyState& s = states_[key];
  const double factor = uplift(s, 0);  // (price / ref_price)^elasticity, 1 without a price
  out.per_day = factor > 0 ? d.mean_per_day / factor : d.mean_per_day;
  out.reference_price = s.price > 0 && s.ref_price > 0 ? s.ref_price : 0;
  return true;
}

void ForecastOperator::snapshot(StateBatch& batch, const KeyIndex& /*keys*/) {
  std::string value;
  char key[5];
  auto record_key = [&key](char kind, KeyId k) {
    key[0] = kind;
    for (int i = 0; i < 4; ++i) key[1 + i] = static_cast<char>((k >> (24 - 8 * i)) & 0xff);
    return std::string_view(key, 5);
  };
  for (KeyId k : dirty_) {
    uint8_t& f = dirty_flag_[k];
    if (!(f & kDirtyAll)) {
      // Only the hot prefix changed since the key's last 'k' record.
      value.clear();
      value.push_back(static_cast<char>(forecast::kStateVersion));
      value.append(reinterpret_cast<const char*>(&states_[k]), forecast::kHotBytes);
      batch.put(kNamespace, record_key('q', k), value);
      f = kHasHot;
      continue;
    }
    forecast::encode_record(value, states_[k]);
    batch.put(kNamespace, record_key('k', k), value);
    if (f & kHasHot) batch.remove(kNamespace, record_key('q', k));  // 'k' has it all
    if (k < own_hours_.size()) {
      forecast::encode_record(value, own_hours_[k]);
      batch.put(kNamespace, record_key('h', k), value);
    }
    if (k < emitted_.size()) {
      forecast::encode_record(value, emitted_[k]);
      batch.put(kNamespace, record_key('e', k), value);
    }
    f = 0;
  }
  dirty_.clear();
  for (uint32_t g : dirty_groups_) {
    forecast::encode_pool(value, group_keys_[g], groups_[g]);
    batch.put(kNamespace, forecast::record_key('p', g), value);
    group_dirty_[g] = 0;
  }
  dirty_groups_.clear();
  for (const std::string& sku : dirty_skus_) {
    auto it = sku_category_.find(av(sku));
    if (it == sku_category_.end()) continue;
    forecast::encode_record(value, it->second);
    batch.put(kNamespace, "s" + sku, value);
  }
  dirty_skus_.clear();
  if (globals_dirty_) {
    batch.put(kNamespace, "g", forecast::encode_globals(g_));
    globals_dirty_ = false;
  }
}

Status ForecastOperator::restore(const StateStore& store, OperatorContext& ctx) {
  calendar_ = &ctx.calendar();
  ++version_;
  states_.clear();
  dirty_.clear();
  dirty_flag_.clear();
  auto g = store.get(kNamespace, "g");
  if (!g.is_ok()) return g.status();
  if (g.value().has_value()) {
    SW_RETURN_IF_ERROR(forecast::decode_globals(*g.value(), g_));
    if (g_.categories.empty()) category_id("");
  }
  groups_.clear();
  group_keys_.clear();
  group_ids_.clear();
  SW_RETURN_IF_ERROR(forecast::restore_pools(store, groups_, group_keys_));
  for (uint32_t i = 0; i < groups_.size(); ++i) {
    if (group_keys_[i] == UINT64_MAX) return Status::corruption("op/forecast: pool missing");
    group_ids_.emplace(group_keys_[i], i);
  }
  own_hours_.clear();
  SW_RETURN_IF_ERROR(forecast::restore_records(store, 'h', own_hours_, "hour profile record"));
  emitted_.clear();
  SW_RETURN_IF_ERROR(forecast::restore_records(store, 'e', emitted_, "emitted mean record"));
  sku_category_.clear();
  SW_RETURN_IF_ERROR(forecast::restore_sku_categories(store, sku_category_));
  SW_RETURN_IF_ERROR(forecast::restore_records(store, 'k', states_, "key state record"));
  dirty_flag_.assign(states_.size(), 0);
  SW_RETURN_IF_ERROR(
      forecast::restore_hot(store, states_, [this](uint32_t id) { dirty_flag_[id] = kHasHot; }));
  group_dirty_.assign(groups_.size(), 0);
  dirty_groups_.clear();
  dirty_skus_.clear();
  globals_dirty_ = false;
  const KeyIndex& keys = ctx.keys();
  for (KeyId k = 0; k < states_.size(); ++k) {
    KeyState& s = states_[k];
    if ((s.flags & kStarted) && (s.flags & kTimerSet)) {
      if (k >= keys.size() || s.group >= groups_.size() || s.category >= g_.categories.size()) {
        return Status::corruption("op/forecast: key state refers to unknown key/group");
      }
      ctx.set_timer(k, bucket_end(keys.store_id(k), keys.store(k), s.open_bucket), 0);
    }
  }
  return Status::ok();
}

size_t ForecastOperator::memory_bytes() const {
  size_t b = states_.capacity() * sizeof(KeyState) + own_hours_.capacity() * sizeof(OwnHours) +
             emitted_.capacity() * sizeof(EmittedMean) + dirty_.capacity() * sizeof(KeyId) +
             dirty_flag_.capacity() + groups_.capacity() * sizeof(PoolProfile) +
             g_.categories.capacity() * sizeof(CategoryState) +
             group_ids_.capacity() * (sizeof(uint64_t) + sizeof(uint32_t) + 1) +
             sku_category_.capacity() * (sizeof(std::string) + sizeof(uint16_t) + 1);
  for (const auto& [sku, list] : g_.promos) b += sku.size() + list.capacity() * sizeof(Promo);
  return b;
}

void ForecastOperator::update_probe() {
  const double mase = forecast::accuracy_mase(g_.overall);
  const double wape = forecast::accuracy_wape(g_.overall);
  if (!std::isfinite(mase) || !std::isfinite(wape)) return;
  mase_gauge_.set(mase);
  wape_gauge_.set(wape);
}

std::string ForecastOperator::describe(KeyId key, const KeyIndex& keys) const {
  if (key >= states_.size() || !(states_[key].flags & kStarted)) return "{}";
  const KeyState& s = states_[key];
  if (calendar_ == nullptr) return forecast::render_describe(s, nullptr);
  horizon(key, s, std::min(options_.horizon, 7), &keys, scratch_);
  return forecast::render_describe(s, &scratch_);
}

}  // namespace sw
