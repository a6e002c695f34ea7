#include "operators/price/price.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <absl/strings/string_view.h>

#include "operators/inventory.h"
#include "stream/bytes.h"
#include "stream/calendar.h"
#include "stream/config.h"

namespace sw {

using price::Approval;
using price::CompetitorPrice;
using price::Estimate;
using price::KeyState;
using price::kNaN;
using price::kNever;
using price::Reason;

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int kMaxGapDays = 28;      // zero-demand days folded in when a key was quiet
constexpr double kDiffuseVar = 100;  // prior variance of the RLS coefficients
constexpr int kMinObservations = 3;  // an estimator with fewer gives no estimate
constexpr int kSpellDays = 7;        // longest price spell folded into one observation

bool positive(double v) {
  return std::isfinite(v) && v > 0;
}

Estimate own(const price::Rls& r) {
  if (r.count < kMinObservations) return {0, 0};
  const double se = r.se_b();
  return {r.b, se * se};
}

// Keeps the coefficient variances at the diffuse prior at most: with forgetting and no price
// variation P grows without bound (estimator wind-up).
void cap(price::Rls& r) {
  if (r.p00 > kDiffuseVar || r.p11 > kDiffuseVar) {
    r.p00 = std::min(r.p00, kDiffuseVar);
    r.p11 = std::min(r.p11, kDiffuseVar);
    r.p01 = std::clamp(r.p01, -std::sqrt(r.p00 * r.p11), std::sqrt(r.p00 * r.p11));
  }
}

price::Rls fresh_rls(double prior_b) {
  return price::Rls::with_prior(0, prior_b, kDiffuseVar, kDiffuseVar);
}

void upsert(std::vector<CompetitorPrice>& v, std::string_view competitor, double p, int64_t ts,
            int64_t max_age_ms) {
  std::erase_if(v, [&](const CompetitorPrice& c) { return c.ts_ms < ts - max_age_ms; });
  for (CompetitorPrice& c : v) {
    if (c.competitor == competitor) {
      if (ts >= c.ts_ms) {
        c.price = p;
        c.ts_ms = ts;
      }
      return;
    }
  }
  v.push_back({std::string(competitor), p, ts});
}

// d E[ln(U + 0.5)] / d ln mu for U ~ Poisson(mu): how much of a change in the expected count
// shows in the log of the observed count (about 0.42 at mu = 0.5, 0.67 at 1, 0.9 at 2, 1 from
// 3 on). A regression of ln(U + 0.5) on ln p estimates b times this slope; scaling x by it
// undoes the attenuation of small counts.
double log_count_slope(double mu) {
  if (!(mu > 0)) return 1;
  if (mu >= 8) return 1;
  auto mean_log = [](double m) {
    double p = std::exp(-m), sum = 0;
    for (int k = 0; k < 60; ++k) {
      sum += p * std::log(k + 0.5);
      p *= m / (k + 1);
    }
    return sum;
  };
  const double h = 1e-3;
  return std::max(0.05, (mean_log(mu * std::exp(h)) - mean_log(mu * std::exp(-h))) / (2 * h));
}

// Sd of the units sold over `days` days: the forecast's daily spread (independent days), at
// least Poisson.
// The demand rate itself is estimated: from n days of counts its variance is about rate / n
// (n = the key's history, capped at 8 weeks), which adds days² · rate / n. A key with a week
// of history then needs a clearer signal than one with two months.
double sales_sd(const price::Facts& f, double days) {
  if (!(days > 0)) return 0;
  const double var_day = std::max(f.demand_sd * f.demand_sd, f.demand_per_day);
  const double n = std::clamp<double>(f.history_days, 1, 56);
  return std::sqrt(var_day * days + days * days * f.demand_per_day / n);
}

}  // namespace

PriceOperator::PriceOperator(const Config& config)
    : PriceOperator(PriceSettings::from_config(config)) {}

PriceOperator::PriceOperator(Settings settings) : settings_(std::move(settings)) {
  for (int r = 0; r < price::kReasonCount; ++r) {
    for (int a = 0; a < price::kApprovalCount; ++a) {
      fired_[static_cast<size_t>(r)][static_cast<size_t>(a)] = &probe_.counter(
          "price_trigger_firings_total",
          "Price trigger episodes opened (status firing), by reason and approval class",
          {{"reason", std::string(price::reason_name(r))},
           {"approval", std::string(price::approval_name(a))}});
    }
  }
}

Status PriceOperator::reconfigure(const Config& config) {
  settings_ = PriceSettings::from_config(config);
  return Status::ok();
}

uint32_t PriceOperator::subscriptions() const {
  uint32_t m = 0;
  for (EventType t :
       {EventType::kSale, EventType::kReturn, EventType::kInventory, EventType::kPrice,
        EventType::kCompetitorPrice, EventType::kItem, EventType::kPromotion}) {
    m |= 1u << static_cast<int>(t);
  }
  return m;
}

std::string PriceOperator::trigger_id(std::string_view reason, std::string_view store,
                                      std::string_view sku, int64_t since_ms) {
  return price::trigger_id(reason, store, sku, since_ms);
}

double PriceOperator::expected_units(const PriceFacts& f, double p) {
  return price::expected_units(f, p);
}

double PriceOperator::best_margin_price(const PriceFacts& f, double lo, double hi) {
  if (!std::isfinite(f.cost) || !(f.price > 0)) return kNaN;
  lo = std::max(lo, f.cost > 0 ? f.cost : 0.01);
  if (!std::isfinite(hi)) hi = std::max(lo, 10 * f.price);
  if (hi < lo) return kNaN;
  const double b = f.elasticity.value;
  auto m = [&](double p) { return price::expected_margin(f, p); };
  // Candidates: the constant-elasticity optimum p* = c·b/(1+b) (b < −1) clipped to the
  // window, the window's ends, and a golden-section search on log price (the variance term
  // of expected_units makes the optimum move off p*).
  double best = kNaN, best_m = -INFINITY;
  auto consider = [&](double p) {
    const double v = m(p);
    if (v > best_m) {
      best = p;
      best_m = v;
    }
  };
  if (b < -1) consider(std::clamp(f.cost * b / (1 + b), lo, hi));
  consider(lo);
  consider(hi);
  double a = std::log(lo), z = std::log(hi);
  const double g = 0.6180339887498949;
  double x1 = z - g * (z - a), x2 = a + g * (z - a);
  double f1 = m(std::exp(x1)), f2 = m(std::exp(x2));
  for (int i = 0; i < 80 && z - a > 1e-10; ++i) {
    if (f1 < f2) {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + g * (z - a);
      f2 = m(std::exp(x2));
    } else {
      z = x2;
      x2 = x1;
      f2 = f1;
      x1 = z - g * (z - a);
      f1 = m(std::exp(x1));
    }
  }
  consider(std::exp(0.5 * (a + z)));
  return best;
}

uint32_t PriceOperator::sku_index(std::string_view sku) {
  auto it = sku_ids_.find(absl::string_view(sku.data(), sku.size()));
  if (it != sku_ids_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(skus_.size());
  price::SkuState& s = skus_.emplace_back();
  s.name = std::string(sku);
  s.rls = fresh_rls(settings_.prior_elasticity);
  sku_ids_.emplace(s.name, id);
  return id;
}

uint32_t PriceOperator::category_index(const std::string& category) {
  auto it = category_ids_.find(category);
  if (it != category_ids_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(categories_.size());
  price::CategoryState& c = categories_.emplace_back();
  c.name = category;
  c.rls = fresh_rls(settings_.prior_elasticity);
  category_ids_.emplace(category, id);
  return id;
}

int32_t PriceOperator::local_day(KeyId key, int64_t ts_ms, const OperatorContext& ctx) const {
  const KeyIndex& keys = ctx.keys();
  return ctx.calendar().day(keys.store_id(key), keys.store(key), ts_ms).day;
}

KeyState& PriceOperator::touch(KeyId key, std::string_view sku, int64_t ts_ms,
                               const OperatorContext& ctx) {
  if (key >= keys_.size()) keys_.resize(static_cast<size_t>(key) + 1);
  KeyState& s = keys_[key];
  if (s.day == KeyState::kNoDay) {
    s.sku = sku_index(sku);
    s.rls = fresh_rls(settings_.prior_elasticity);
    s.day = local_day(key, ts_ms, ctx);
  }
  return s;
}

void PriceOperator::fill_estimates(const KeyState& s, const KeyIndex& keys, PriceFacts& f) const {
  const price::SkuState& sku = skus_[s.sku];
  f.key_observations = s.rls.count;
  // Category shrunk to the prior, SKU to the category, key to the SKU. The stores of a SKU
  // share its price changes and chain-wide demand shocks, so their observations are not
  // independent: the pooled variances are scaled by a design effect of the store count
  // (full correlation; the conservative end).
  const double deff = std::max<double>(1, std::sqrt(static_cast<double>(keys.store_count())));
  auto pooled = [&](const price::Rls& r) {
    Estimate e = own(r);
    e.var *= deff;
    return e;
  };
  const Estimate prior{settings_.prior_elasticity, settings_.prior_sd * settings_.prior_sd};
  f.category_estimate =
      sku.category_id != UINT32_MAX ? pooled(categories_[sku.category_id].rls) : Estimate{0, 0};
  f.category_combined = price::shrink(f.category_estimate, prior, 0);
  f.sku_estimate = pooled(sku.rls);
  f.sku_combined = price::shrink(f.sku_estimate, f.category_combined, settings_.sku_spread);
  f.key_estimate = own(s.rls);
  f.elasticity = price::shrink(f.key_estimate, f.sku_combined, settings_.key_spread);
}

void PriceOperator::mark_dirty(KeyId key) {
  KeyState& s = keys_[key];
  if (!s.dirty) {
    s.dirty = true;
    dirty_keys_.push_back(key);
  }
}

void PriceOperator::on_event(const Event& e, KeyId key, OperatorContext& ctx) {
  switch (e.type) {
    case EventType::kPrice:
      on_price(e, key, ctx);
      return;
    case EventType::kCompetitorPrice:
      on_competitor(e, key, ctx);
      return;
    case EventType::kItem:
      on_item(e, key, ctx);
      return;
    case EventType::kPromotion:
      on_promotion(e, key, ctx);
      return;
    default:
      break;
  }
  if (key == kNoKey) return;
  KeyState& s = touch(key, e.sku, e.ts_ms, ctx);
  const int32_t day = local_day(key, e.ts_ms, ctx);
  if (day > s.day) {
    roll_to(key, s, day, ctx);
    evaluate(key, e.ts_ms, day, ctx, false);
  }
  if (e.type == EventType::kSale) {
    s.today_units += e.qty;
    s.today_revenue += e.qty * e.price;
    if (e.price > 0) s.last_sale_price = e.price;
  }
  mark_dirty(key);
}

void PriceOperator::observe_day(KeyState& s, int32_t day, double units, double p) {
  if (!positive(p)) return;
  const double lp = std::log(p);
  // Days join a price spell: consecutive days at one price (within 0.5%), at most
  // kSpellDays long. A spell's total units are far less noisy in logs than one day's
  // (ln of small Poisson counts flattens the response toward zero).
  if (s.spell_days > 0 && std::fabs(lp - s.spell_first_log_price) > 0.005) close_spell(s, day - 1);
  if (s.spell_days == 0) s.spell_first_log_price = lp;
  s.spell_units += units;
  s.spell_log_price += lp;
  ++s.spell_days;
  if (s.day_base > 0) {
    s.spell_base += s.day_base;
    s.spell_log_ref += std::isfinite(s.day_log_ref) ? s.day_log_ref : kNaN;
    ++s.spell_base_days;
  }
  if (s.spell_days >= kSpellDays) close_spell(s, day);
}

void PriceOperator::close_spell(KeyState& s, int32_t day) {
  const double days = s.spell_days;
  const double y_raw = std::log((s.spell_units + 0.5) / days);  // log units/day
  const double x_raw = s.spell_log_price / days;                // log of the geometric mean
  const double units = s.spell_units;
  // The forecast's baseline over the spell, when it had one on every day of it.
  const bool forecast_base =
      settings_.forecast_baseline && s.spell_base_days == s.spell_days && s.spell_base > 0;
  const double base_units = s.spell_base;
  const double base_log_ref = s.spell_log_ref / days;
  s.spell_units = 0;
  s.spell_log_price = 0;
  s.spell_days = 0;
  s.spell_base = 0;
  s.spell_log_ref = 0;
  s.spell_base_days = 0;
  const double alpha = 1 - std::pow(1 - settings_.reference_alpha, days);
  if (!std::isfinite(s.log_level)) {
    s.log_level = y_raw;
    s.log_ref_price = x_raw;
    s.demand_ewma = units / days;
    return;
  }
  double x = x_raw - s.log_ref_price;
  double y = y_raw - s.log_level;
  if (forecast_base) {
    // ln q = ln base + b·(ln p − ln ref): the forecast's seasonality, trend and promotions
    // are in `base`, its own price response is not.
    y = std::log((units + 0.5) / (base_units + 0.5));
    if (std::isfinite(base_log_ref)) x = x_raw - base_log_ref;
  }
  // Small counts: ln(U + 0.5) moves by only log_count_slope(mu) per unit of ln mu.
  x *= log_count_slope(forecast_base ? base_units : days * s.demand_ewma);
  // Var(ln U) ≈ 1/E[U]: weight by the spell's expected units, capped so that fast movers'
  // other noise (seasonality, promotions) does not pass for precision.
  const double w = std::clamp(days * s.demand_ewma / 30, 0.01, 1.0);
  // Forgetting follows time: a key's estimator forgets over the spell's days; a pooled
  // (SKU, category) estimator over the days since its newest observation, not per
  // observation (hundreds of keys report the same days).
  const double lambda = std::pow(settings_.lambda, days);
  s.rls.update(x, y, w, lambda);
  cap(s.rls);
  auto pooled_lambda = [&](int32_t& last_day) {
    if (last_day == KeyState::kNoDay || day <= last_day) {
      if (last_day == KeyState::kNoDay) last_day = day;
      return 1.0;
    }
    const double l = std::pow(settings_.lambda, day - last_day);
    last_day = day;
    return l;
  };
  price::SkuState& sku = skus_[s.sku];
  sku.rls.update(x, y, w, pooled_lambda(sku.last_obs_day));
  cap(sku.rls);
  if (!sku.dirty) {
    sku.dirty = true;
    dirty_skus_.push_back(s.sku);
  }
  if (sku.category_id != UINT32_MAX) {
    price::CategoryState& c = categories_[sku.category_id];
    c.rls.update(x, y, w, pooled_lambda(c.last_obs_day));
    cap(c.rls);
    if (!c.dirty) {
      c.dirty = true;
      dirty_categories_.push_back(sku.category_id);
    }
  }
  s.log_level += alpha * (y_raw - s.log_level);
  s.log_ref_price += alpha * (x_raw - s.log_ref_price);
  s.demand_ewma += alpha * (units / days - s.demand_ewma);
}

void PriceOperator::roll_to(KeyId key, KeyState& s, int32_t day, OperatorContext& ctx) {
  const price::SkuState& sku = skus_[s.sku];
  const double shelf = positive(s.price) ? s.price : sku.price;
  double stock = 1;  // unknown stock counts as in stock
  if (const InventoryView* inv = ctx.views().inventory) {
    StockPosition pos;
    if (inv->position(key, pos)) stock = pos.on_hand;
  }
  // Censored days (nothing on the shelf) say nothing about the price response; promotion
  // days are left out too: their display and advertising lift is not a price effect.
  const KeyIndex& keys = ctx.keys();
  auto on_promo = [&](int32_t d) {
    const int64_t noon =
        ctx.calendar().day_start_ms(keys.store_id(key), keys.store(key), d) + 12 * 3'600'000LL;
    auto in = [&](int64_t a, int64_t b) { return b > a && noon >= a && noon < b; };
    return in(s.promo_start_ms, s.promo_end_ms) || in(sku.promo_start_ms, sku.promo_end_ms);
  };
  if (stock > 0) {
    const double p = s.today_units > 0 ? s.today_revenue / s.today_units
                                       : (positive(shelf) ? shelf : s.last_sale_price);
    if (on_promo(s.day)) {
      if (s.spell_days > 0) close_spell(s, s.day - 1);
    } else {
      observe_day(s, s.day, s.today_units, p);
    }
    const double quiet_p = positive(shelf) ? shelf : s.last_sale_price;
    const int gap = std::min(kMaxGapDays, day - s.day - 1);
    for (int i = 0; i < gap; ++i) {
      if (!on_promo(s.day + 1 + i)) observe_day(s, s.day + 1 + i, 0, quiet_p);
    }
  }
  s.history_days += day - s.day;
  s.day = day;
  s.today_units = 0;
  s.today_revenue = 0;
  // The forecast's baseline for the day that opens, asked before any of its sales count.
  s.day_base = kNaN;
  s.day_log_ref = kNaN;
  if (settings_.forecast_baseline && ctx.views().demand != nullptr) {
    DemandBaseline b;
    const int64_t start = ctx.calendar().day_start_ms(keys.store_id(key), keys.store(key), day);
    if (ctx.views().demand->baseline(key, keys, start, 1, b) && b.per_day > 0) {
      s.day_base = b.per_day;
      if (b.reference_price > 0) s.day_log_ref = std::log(b.reference_price);
    }
  }
}

bool PriceOperator::facts(KeyId key, int64_t now_ms, const OperatorContext& ctx,
                          PriceFacts& f) const {
  if (state(key) == nullptr) return false;
  const KeyState& s = keys_[key];
  const price::SkuState& sku = skus_[s.sku];
  f = PriceFacts{};
  f.price = positive(s.price) ? s.price : positive(sku.price) ? sku.price : s.last_sale_price;
  if (!positive(f.price)) f.price = kNaN;
  f.cost = positive(s.cost) ? s.cost : positive(sku.cost) ? sku.cost : kNaN;
  f.category = sku.category;
  f.history_days = s.history_days;
  fill_estimates(s, ctx.keys(), f);
  // Stock.
  const OperatorViews& views = ctx.views();
  if (views.inventory != nullptr && views.inventory->position(key, f.stock)) {
    f.stock_known = true;
  }
  f.lead_time_days =
      f.stock.lead_time_days > 0 ? f.stock.lead_time_days : settings_.default_lead_time_days;
  if (f.stock_known && !std::isfinite(f.cost) && f.stock.unit_cost > 0) f.cost = f.stock.unit_cost;
  // Demand at the current price.
  DemandEstimate d;
  if (views.demand != nullptr &&
      views.demand->demand(key, ctx.keys(), now_ms, 7, f.stock_known ? f.stock.on_hand : 0, d)) {
    f.demand_from_forecast = true;
    f.demand_per_day = std::max(0.0, d.mean_per_day);
    f.demand_sd = d.sd_per_day;
    if (f.stock_known && d.cover_days >= 0) f.days_of_cover = d.cover_days;
  } else {
    f.demand_per_day = std::isfinite(s.demand_ewma) ? std::max(0.0, s.demand_ewma) : 0;
    f.demand_sd = std::sqrt(f.demand_per_day);
  }
  if (f.stock_known) {
    if (!std::isfinite(f.days_of_cover)) {
      f.days_of_cover = f.stock.on_hand <= 0   ? 0
                        : f.demand_per_day > 0 ? f.stock.on_hand / f.demand_per_day
                                               : kNaN;
    }
    DemandEstimate lead;
    if (f.demand_from_forecast &&
        views.demand->demand(key, ctx.keys(), now_ms, std::max(f.lead_time_days, 0.01),
                             f.stock.on_hand, lead)) {
      f.lead_time_demand = lead.total_mean;
      f.lead_time_demand_sd = lead.total_sd;
    } else {
      f.lead_time_demand = f.demand_per_day * f.lead_time_days;
    }
    // At least Poisson spread (a forecast's interval never makes counts less noisy), plus
    // the rate's estimation error (sales_sd).
    f.lead_time_demand_sd = std::max(f.lead_time_demand_sd, sales_sd(f, f.lead_time_days));
  }
  // Perishables: units that will not sell before they expire (FEFO against the demand rate).
  f.perishable = sku.perishable == 1 || (f.stock_known && f.stock.perishable);
  f.shelf_life_days = sku.shelf_life_days;
  if (f.perishable && f.stock_known && f.stock.on_hand > 0) {
    std::vector<StockLot> lots;
    views.inventory->lots(key, lots);
    if (!lots.empty()) {
      f.lots_tracked = true;
      double served_before = 0, cum_units = 0, t_binding = 0;
      for (const StockLot& lot : lots) {
        const double t = std::max(0.0, static_cast<double>(lot.expires_ms - now_ms) / kDayMs);
        const double served = std::clamp(f.demand_per_day * t - served_before, 0.0, lot.units);
        served_before += served;
        f.at_risk_units += lot.units - served;
        if (lot.units - served > 1e-9) t_binding = t;
        cum_units += lot.units;
        if (t > 0) f.expiry_rate_needed = std::max(f.expiry_rate_needed, cum_units / t);
      }
      f.at_risk_sd = sales_sd(f, t_binding);
      f.at_risk_days = t_binding;
    } else if (positive(f.shelf_life_days)) {
      f.at_risk_units = std::max(0.0, f.stock.on_hand - f.demand_per_day * f.shelf_life_days);
      f.expiry_rate_needed = f.stock.on_hand / f.shelf_life_days;
      f.at_risk_sd = sales_sd(f, f.shelf_life_days);
      f.at_risk_days = f.shelf_life_days;
    }
  }
  // Competitors seen recently: the store's own first, then chain-wide.
  f.min_competitor = kNaN;
  for (const auto* list : {&s.competitors, &sku.competitors}) {
    for (const CompetitorPrice& c : *list) {
      if (c.ts_ms < now_ms - settings_.competitor_max_age_ms) continue;
      f.competitors.push_back(&c);
      if (!(c.price >= f.min_competitor)) f.min_competitor = c.price;
    }
  }
  // The market price confirmed by competitor_min_sources competitors: the k-th lowest of
  // their recent prices (a competitor's store-specific price stands for it over its
  // chain-wide one).
  {
    std::vector<double> by_source;
    for (const CompetitorPrice* c : f.competitors) {
      bool seen = false;
      for (const CompetitorPrice* o : f.competitors) {
        if (o == c) break;
        if (o->competitor == c->competitor) seen = true;
      }
      if (!seen) by_source.push_back(c->price);
    }
    f.competitor_sources = static_cast<int>(by_source.size());
    const size_t k = static_cast<size_t>(settings_.competitor_min_sources);
    if (by_source.size() >= k) {
      std::nth_element(by_source.begin(), by_source.begin() + (k - 1), by_source.end());
      f.confirmed_competitor = by_source[k - 1];
    }
  }
  auto in = [&](int64_t a, int64_t b) { return b > a && now_ms >= a && now_ms < b; };
  f.on_promotion = in(s.promo_start_ms, s.promo_end_ms) || in(sku.promo_start_ms, sku.promo_end_ms);
  f.open_anomaly = views.anomalies != nullptr && views.anomalies->open_anomaly(key);
  const int64_t last_change = std::max(s.last_change_ms, sku.last_change_ms);
  f.in_cooldown = last_change != kNever && now_ms - last_change < settings_.cooldown_ms;
  // Guardrails.
  f.limits.current_price = std::isfinite(f.price) ? f.price : 0;
  f.limits.cost = f.cost;
  f.limits.min_margin = settings_.min_margin;
  f.limits.map_price = positive(s.map_price) ? s.map_price : sku.map_price;
  f.limits.min_price = positive(s.min_price) ? s.min_price : sku.min_price;
  f.limits.max_price = positive(s.max_price) ? s.max_price : sku.max_price;
  f.limits.max_step = settings_.max_step;
  const PriceEnding ending = settings_.ending_for(sku.category);
  f.limits.ending_cents = ending.cents;
  f.limits.ending_modulus = ending.modulus;
  return true;
}

PriceOperator::Decision PriceOperator::decide(int reason, const PriceFacts& f, bool open) const {
  Decision d;
  d.target = kNaN;
  const double p = f.price;
  const double b = f.elasticity.value;
  // The price at which expected demand would be `rate` units/day (constant elasticity).
  auto price_for_rate = [&](double rate) {
    if (!(rate > 0) || !(f.demand_per_day > 0)) return kNaN;
    if (b > -0.1) return rate < f.demand_per_day ? 0.0 : INFINITY;  // inelastic: go the limit
    return p * std::pow(rate / f.demand_per_day, 1 / b);
  };
  char buf[160];
  switch (reason) {
    case price::kCompetitorUndercut: {
      // One observed price can be a data error or a competitor's one-week promotion: the
      // undercut counts when competitor_min_sources competitors are below (the k-th lowest).
      if (!std::isfinite(f.confirmed_competitor)) return d;
      const double gap = open ? settings_.competitor_gap / 2 : settings_.competitor_gap;
      d.condition = f.confirmed_competitor < p * (1 - gap);
      d.direction = -1;
      // The smallest change that clears the trigger: back inside the tolerated gap, at the
      // edge where it resolves (half the gap), not all the way down to the competitor.
      d.target = f.confirmed_competitor / (1 - settings_.competitor_gap / 2);
      if (settings_.competitor_min_sources == 1) {
        std::snprintf(buf, sizeof buf, "competitor price %.2f is %.1f%% below ours (%.2f)",
                      f.confirmed_competitor, 100 * (1 - f.confirmed_competitor / p), p);
      } else {
        std::snprintf(buf, sizeof buf,
                      "%d competitors at or below %.2f, %.1f%% below ours (%.2f; lowest %.2f)",
                      settings_.competitor_min_sources, f.confirmed_competitor,
                      100 * (1 - f.confirmed_competitor / p), p, f.min_competitor);
      }
      break;
    }
    case price::kOverstockMarkdown: {
      if (!f.stock_known || !std::isfinite(f.days_of_cover) || !(f.demand_per_day > 0)) return d;
      const double limit =
          open ? 0.9 * settings_.overstock_cover_days : settings_.overstock_cover_days;
      // Opening also needs a surplus over the target cover larger than one order pack: stock
      // that only a pack-sized delivery put on a slow mover is what replenishment leaves, not
      // an overstock a markdown should clear.
      // And the cover must exceed the threshold at the upper end (risk_probability) of the
      // demand rate's estimation error (rate / n from n days of history): a week of a slow
      // mover's sales says little about its rate.
      const double surplus = f.stock.on_hand - settings_.overstock_target_days * f.demand_per_day;
      const double n = std::clamp<double>(f.history_days, 1, 56);
      const double rate_hi =
          f.demand_per_day + inventory::inverse_normal_cdf(settings_.risk_probability) *
                                 std::sqrt(f.demand_per_day / n);
      d.condition = f.days_of_cover > limit && f.stock.on_hand > 0 &&
                    (open || (surplus > std::max(1.0, f.stock.pack_size) &&
                              f.stock.on_hand > settings_.overstock_cover_days * rate_hi));
      d.direction = -1;
      d.target = price_for_rate(f.stock.on_hand / settings_.overstock_target_days);
      std::snprintf(buf, sizeof buf, "%.0f days of cover (threshold %.0f)", f.days_of_cover,
                    settings_.overstock_cover_days);
      break;
    }
    case price::kExpiryMarkdown: {
      if (!f.perishable || !f.stock_known) return d;
      // Opening needs the waste to be likely, not a coin flip of the demand noise: at-risk
      // units above z(risk_probability) sds of the sales before the binding expiry.
      const double limit =
          open ? 0
               : std::max(settings_.expiry_min_units,
                          inventory::inverse_normal_cdf(settings_.risk_probability) * f.at_risk_sd);
      d.condition = f.at_risk_units > limit && f.at_risk_units > 0;
      // And a markdown must be able to help: the deepest one the guardrails allow must sell
      // at least half of the units at risk before they expire. Waste beyond that is a
      // replenishment matter (low_stock's expiry alert), not a price decision.
      if (d.condition && !open) {
        double low = p * (1 - settings_.max_step);
        if (std::isfinite(f.cost)) {
          const price::Proposal deepest = price::propose(0, f.limits);
          if (deepest.has_price) low = deepest.price;
        }
        const double rescued = (price::expected_units(f, low) - f.demand_per_day) * f.at_risk_days;
        d.condition = rescued >= 0.5 * f.at_risk_units;
      }
      d.direction = -1;
      d.target = price_for_rate(f.expiry_rate_needed);
      std::snprintf(buf, sizeof buf, "%.0f units will not sell before they expire (%s)",
                    f.at_risk_units, f.lots_tracked ? "lots" : "shelf life");
      break;
    }
    case price::kStockoutRisk: {
      // Stock = on hand + on order (an open order arrives within the lead time at the latest);
      // with nothing on hand the low_stock operator's stockout alert has the key.
      if (!f.stock_known || !(f.stock.on_hand > 0) || !(f.lead_time_demand > 0)) return d;
      const double available = f.stock.on_hand + std::max(0.0, f.stock.on_order);
      // Opening needs the stock-out to be likely (probability >= risk_probability under the
      // lead-time demand's spread); an open trigger holds while demand exceeds 90% of stock.
      d.condition = open ? f.lead_time_demand > 0.9 * available
                         : f.lead_time_demand - available >
                               inventory::inverse_normal_cdf(settings_.risk_probability) *
                                   f.lead_time_demand_sd;
      d.direction = +1;
      d.target = price_for_rate(available / std::max(f.lead_time_days, 0.01));
      std::snprintf(buf, sizeof buf,
                    "demand over the %.1f-day lead time %.1f exceeds %.0f on hand + %.0f on order",
                    f.lead_time_days, f.lead_time_demand, f.stock.on_hand, f.stock.on_order);
      break;
    }
    case price::kElasticityOpportunity: {
      // Only on evidence: the key's or the SKU's own estimate (not the category or the
      // prior alone) within escalate_se, and a known cost.
      const double se_own =
          std::min(f.key_estimate.var > 0 ? std::sqrt(f.key_estimate.var) : INFINITY,
                   f.sku_estimate.var > 0 ? std::sqrt(f.sku_estimate.var) : INFINITY);
      if (!std::isfinite(f.cost) || !(f.demand_per_day > 0) || se_own > settings_.escalate_se) {
        return d;
      }
      // Target: the constant-elasticity optimum p* = c·b/(1+b) (b < −1); demand that does
      // not fall faster than price rises (b >= −1) points up to the limits.
      d.target = b < -1 ? f.cost * b / (1 + b) : INFINITY;
      d.direction = d.target > p ? 1 : -1;
      const price::Proposal prop = price::propose(d.target, f.limits);
      if (!prop.has_price) return d;
      // Gain at the admissible price, under the estimate's uncertainty.
      const double now_m = price::expected_margin(f, p);
      const double new_m = price::expected_margin(f, prop.price);
      const double gain = (new_m - now_m) / std::max(std::fabs(now_m), 1e-9);
      const double need =
          open ? settings_.opportunity_min_gain / 2 : settings_.opportunity_min_gain;
      d.condition = gain > need && std::fabs(prop.price - p) >= 0.005;
      std::snprintf(buf, sizeof buf,
                    "expected margin/day %.2f at %.2f vs %.2f now (elasticity %.2f)", new_m,
                    prop.price, now_m, b);
      break;
    }
    default:
      return d;
  }
  d.why = buf;
  return d;
}

void PriceOperator::evaluate(KeyId key, int64_t now_ms, int32_t day, OperatorContext& ctx,
                             bool competitor_only) {
  PriceFacts f;
  if (!facts(key, now_ms, ctx, f) || !std::isfinite(f.price)) return;
  KeyState& s = keys_[key];
  std::array<Decision, price::kReasonCount> ds;
  bool lower = false, raise = false;
  for (int r = 0; r < price::kReasonCount; ++r) {
    const size_t i = static_cast<size_t>(r);
    if (competitor_only && r != price::kCompetitorUndercut) {
      // Other reasons keep their last verdict: count the open ones as still holding.
      if (s.triggers[i].open()) {
        ds[i] = decide(r, f, true);
      }
    } else {
      ds[i] = decide(r, f, s.triggers[i].open());
    }
    if (ds[i].condition) (ds[i].direction < 0 ? lower : raise) = true;
  }
  for (int r = 0; r < price::kReasonCount; ++r) {
    const size_t i = static_cast<size_t>(r);
    if (competitor_only && r != price::kCompetitorUndercut) continue;
    price::TriggerState& t = s.triggers[i];
    const Decision& d = ds[i];
    if (t.open()) {
      if (d.condition) {
        if (t.clear_count != 0) {
          t.clear_count = 0;
          mark_dirty(key);
        }
      } else if (t.clear_day != day || t.clear_count == 0) {
        ++t.clear_count;
        t.clear_day = day;
        mark_dirty(key);
        if (t.clear_count >= settings_.resolve_after_days) {
          emit(key, r, "resolved", t.approval, t.since_ms, now_ms, nullptr, nullptr, nullptr,
               "condition cleared", nullptr, ctx);
          t = price::TriggerState{};
        }
      }
      continue;
    }
    // Not open: the condition must hold on confirm_days daily evaluations in a row (a
    // one-day blip — a forecast swing, a stock count — is not worth a price change, which
    // itself takes a day to carry out).
    if (!d.condition || f.in_cooldown) {
      if (t.hold_count != 0) {
        t.hold_count = 0;
        mark_dirty(key);
      }
      continue;
    }
    if (t.hold_count == 0 || t.hold_day != day) {
      t.hold_count = static_cast<uint8_t>(std::min(255, t.hold_count + 1));
      t.hold_day = day;
      mark_dirty(key);
    }
    if (t.hold_count < settings_.confirm_days) continue;
    // Open a trigger: propose a price and classify it.
    price::Proposal p;
    std::string_view note;
    const bool margin_known = std::isfinite(f.cost);
    if (margin_known) {
      p = price::propose(d.target, f.limits);
    } else {
      p.target = d.target;
      note =
          "unit cost unknown: no margin floor, so no price is proposed (send cost on an item "
          "or price record)";
    }
    if (margin_known && !p.has_price) note = "guardrails conflict";
    std::vector<std::string_view> why;
    int approval = price::kAuto;
    if (!p.conflict.empty()) why.push_back("guardrail conflict");
    if (f.open_anomaly) why.push_back("open anomaly on the key");
    if (lower && raise) why.push_back("conflicting signals: some reasons lower, others raise");
    if (r == price::kStockoutRisk && f.on_promotion) {
      why.push_back("stock-out risk during a promotion: consider ending the promotion");
    }
    const double se = std::sqrt(std::max(0.0, f.elasticity.var));
    const double z90 = 1.6448536269514722;
    if (r == price::kElasticityOpportunity &&
        (se > settings_.escalate_se ||
         (f.elasticity.value - z90 * se < -1 && f.elasticity.value + z90 * se > -1))) {
      why.push_back("low confidence: the elasticity interval spans -1");
    }
    if (!why.empty()) {
      approval = price::kEscalate;
    } else {
      if (!p.has_price) why.push_back("no proposed price");
      if (p.has_price && std::fabs(p.price / f.price - 1) > settings_.auto_max_change + 1e-12) {
        why.push_back("change above the auto-approval limit");
      }
      // Clipped by a limit: the proposal falls short of what the condition needs, so a
      // person decides what else to do (clearance, a supplier call, a promotion).
      if (p.has_price && p.bound_by != 0) why.push_back("held back by a guardrail");
      if (f.history_days < settings_.new_item_days) why.push_back("new item: little history");
      // Confidence in the estimate the proposal is computed from. An opportunity's whole
      // value is the elasticity: it needs a narrow one. Markdowns and stock-out raises size
      // the price from it: they need the direction of the demand response to be certain (the
      // 90% interval below zero: a markdown sells more, a raise sells less). A competitor
      // undercut's target is the market price, confirmed by competitor_min_sources
      // competitors; the elasticity is only its evidence.
      const bool thin = r == price::kElasticityOpportunity ? se > settings_.auto_max_se
                        : r == price::kCompetitorUndercut  ? false
                                                           : f.elasticity.value + z90 * se >= 0;
      if (thin) why.push_back("thin data: wide elasticity interval");
      approval = why.empty() ? price::kAuto : price::kReview;
      if (why.empty()) why.push_back("small change inside every limit, confident estimate");
    }
    t.since_ms = now_ms;
    t.hold_count = 0;
    t.approval = static_cast<uint8_t>(approval);
    t.clear_count = 0;
    t.clear_day = day;
    mark_dirty(key);
    emit(key, r, "firing", approval, now_ms, now_ms, &f, &d, &p, note, &why, ctx);
    fired_[i][static_cast<size_t>(approval)]->add();
  }
}

void PriceOperator::emit(KeyId key, int reason, std::string_view status, int approval,
                         int64_t since_ms, int64_t ts_ms, const PriceFacts* f, const Decision* d,
                         const price::Proposal* p, std::string_view note,
                         const std::vector<std::string_view>* approval_why,
                         OperatorContext& ctx) const {
  const KeyIndex& keys = ctx.keys();
  const std::string_view store = keys.store(key), sku = keys.sku(key);
  const std::string_view reason_s = price::reason_name(reason);
  OutputRecord rec;
  rec.stream = OutputStream::kPriceTriggers;
  rec.key = keys.key_string(key);
  rec.id = trigger_id(reason_s, store, sku, since_ms);
  rec.type = "price";
  rec.time_ms = ts_ms;
  price::Trigger t;
  t.id = rec.id;
  t.status = status;
  t.severity = status == "resolved"           ? "info"
               : approval == price::kEscalate ? "critical"
               : approval == price::kReview   ? "warning"
                                              : "info";
  t.reason = reason_s;
  t.approval = price::approval_name(approval);
  t.store = store;
  t.sku = sku;
  t.ts_ms = ts_ms;
  t.since_ms = since_ms;
  t.facts = f;
  t.proposal = p;
  if (d != nullptr) {
    t.direction = d->direction;
    t.why = d->why;
  }
  t.note = note;
  t.approval_why = approval_why;
  price::render_trigger(rec.json, t);
  ctx.emit(std::move(rec));
}

void PriceOperator::resolve_all(KeyId key, int64_t ts_ms, std::string_view why,
                                OperatorContext& ctx) {
  if (key >= keys_.size()) return;
  KeyState& s = keys_[key];
  for (int r = 0; r < price::kReasonCount; ++r) {
    price::TriggerState& t = s.triggers[static_cast<size_t>(r)];
    if (!t.open()) continue;
    emit(key, r, "resolved", t.approval, t.since_ms, ts_ms, nullptr, nullptr, nullptr, why, nullptr,
         ctx);
    t = price::TriggerState{};
    mark_dirty(key);
  }
}

void PriceOperator::on_price(const Event& e, KeyId key, OperatorContext& ctx) {
  if (!positive(e.price)) return;  // the decoder dead-letters these; never reaches estimators
  if (key != kNoKey) {
    KeyState& s = touch(key, e.sku, e.ts_ms, ctx);
    s.price = e.price;
    if (positive(e.cost)) s.cost = e.cost;
    s.last_change_ms = std::max(s.last_change_ms, e.ts_ms);
    mark_dirty(key);
    resolve_all(key, e.ts_ms, "price_applied", ctx);
    return;
  }
  const uint32_t si = sku_index(e.sku);
  price::SkuState& sku = skus_[si];
  sku.price = e.price;
  if (positive(e.cost)) sku.cost = e.cost;
  sku.last_change_ms = std::max(sku.last_change_ms, e.ts_ms);
  if (!sku.dirty) {
    sku.dirty = true;
    dirty_skus_.push_back(si);
  }
  // A chain-wide price replaces store prices (DESIGN.md §4: fanned out to the sku's stores).
  const uint32_t kid = ctx.keys().find_sku(e.sku);
  if (kid == UINT32_MAX) return;
  for (KeyId k : ctx.keys().keys_of_sku(kid)) {
    if (state(k) == nullptr) continue;
    if (std::isfinite(keys_[k].price)) {
      keys_[k].price = kNaN;
      mark_dirty(k);
    }
    resolve_all(k, e.ts_ms, "price_applied", ctx);
  }
}

void PriceOperator::on_competitor(const Event& e, KeyId key, OperatorContext& ctx) {
  if (!positive(e.price)) return;
  if (key != kNoKey) {
    KeyState& s = touch(key, e.sku, e.ts_ms, ctx);
    const int32_t day = local_day(key, e.ts_ms, ctx);
    upsert(s.competitors, e.competitor, e.price, e.ts_ms, settings_.competitor_max_age_ms);
    mark_dirty(key);
    evaluate(key, e.ts_ms, day, ctx, true);
    return;
  }
  const uint32_t si = sku_index(e.sku);
  upsert(skus_[si].competitors, e.competitor, e.price, e.ts_ms, settings_.competitor_max_age_ms);
  if (!skus_[si].dirty) {
    skus_[si].dirty = true;
    dirty_skus_.push_back(si);
  }
  const uint32_t kid = ctx.keys().find_sku(e.sku);
  if (kid == UINT32_MAX) return;
  for (KeyId k : ctx.keys().keys_of_sku(kid)) {
    if (state(k) == nullptr) continue;
    evaluate(k, e.ts_ms, local_day(k, e.ts_ms, ctx), ctx, true);
  }
}

void PriceOperator::on_item(const Event& e, KeyId key, OperatorContext& ctx) {
  const ItemFields& it = e.item;
  if (key != kNoKey) {
    KeyState& s = touch(key, e.sku, e.ts_ms, ctx);
    if (positive(it.cost)) s.cost = it.cost;
    if (positive(it.min_price)) s.min_price = it.min_price;
    if (positive(it.max_price)) s.max_price = it.max_price;
    if (positive(it.map_price)) s.map_price = it.map_price;
    mark_dirty(key);
    return;
  }
  const uint32_t si = sku_index(e.sku);
  if (!it.category.empty() && it.category != skus_[si].category) {
    const uint32_t ci = category_index(std::string(it.category));
    skus_[si].category = std::string(it.category);
    skus_[si].category_id = ci;
  }
  price::SkuState& s = skus_[si];
  if (positive(it.cost)) s.cost = it.cost;
  if (positive(it.min_price)) s.min_price = it.min_price;
  if (positive(it.max_price)) s.max_price = it.max_price;
  if (positive(it.map_price)) s.map_price = it.map_price;
  if (positive(it.shelf_life_days)) s.shelf_life_days = it.shelf_life_days;
  if (it.perishable >= 0) s.perishable = it.perishable;
  if (!s.dirty) {
    s.dirty = true;
    dirty_skus_.push_back(si);
  }
}

void PriceOperator::on_promotion(const Event& e, KeyId key, OperatorContext& ctx) {
  if (key != kNoKey) {
    KeyState& s = touch(key, e.sku, e.ts_ms, ctx);
    s.promo_start_ms = e.start_ms;
    s.promo_end_ms = e.end_ms;
    mark_dirty(key);
    return;
  }
  const uint32_t si = sku_index(e.sku);
  skus_[si].promo_start_ms = e.start_ms;
  skus_[si].promo_end_ms = e.end_ms;
  if (!skus_[si].dirty) {
    skus_[si].dirty = true;
    dirty_skus_.push_back(si);
  }
}

void PriceOperator::snapshot(StateBatch& batch, const KeyIndex&) {
  std::string v;
  for (uint32_t ci : dirty_categories_) {
    v.clear();
    price::encode_category(categories_[ci], v);
    batch.put(price::kCategoryNs, categories_[ci].name, v);
    categories_[ci].dirty = false;
  }
  for (uint32_t si : dirty_skus_) {
    v.clear();
    price::encode_sku(skus_[si], v);
    batch.put(price::kSkuNs, skus_[si].name, v);
    skus_[si].dirty = false;
  }
  // Keys are stored in blocks of kKeysPerBlock consecutive ids (one RocksDB entry each: a
  // checkpoint's cost is dominated by its entry count); a dirty key rewrites its block.
  // Block value: per present key, u8 offset in the block, u32 length, the key record.
  std::sort(dirty_keys_.begin(), dirty_keys_.end());
  uint32_t last_block = UINT32_MAX;
  for (KeyId k : dirty_keys_) {
    keys_[k].dirty = false;
    const uint32_t block = k / price::kKeysPerBlock;
    if (block == last_block) continue;
    last_block = block;
    v.clear();
    const KeyId first = block * price::kKeysPerBlock;
    const KeyId end =
        std::min<KeyId>(first + price::kKeysPerBlock, static_cast<KeyId>(keys_.size()));
    for (KeyId id = first; id < end; ++id) {
      if (state(id) == nullptr) continue;
      v.push_back(static_cast<char>(id - first));
      const size_t at = v.size();
      v.append(4, '\0');
      price::encode_key(keys_[id], v);
      const uint32_t len = static_cast<uint32_t>(v.size() - at - 4);
      std::memcpy(v.data() + at, &len, 4);
    }
    batch.put(price::kKeyNs, be32_key(block), v);
  }
  dirty_categories_.clear();
  dirty_skus_.clear();
  dirty_keys_.clear();
}

Status PriceOperator::restore(const StateStore& store, OperatorContext& ctx) {
  keys_.clear();
  skus_.clear();
  categories_.clear();
  sku_ids_.clear();
  category_ids_.clear();
  dirty_keys_.clear();
  dirty_skus_.clear();
  dirty_categories_.clear();
  Status bad = Status::ok();
  SW_RETURN_IF_ERROR(
      store.scan_prefix(price::kCategoryNs, "", [&](std::string_view k, std::string_view v) {
        price::CategoryState c;
        if (!price::decode_category(v, c)) {
          bad = Status::corruption("op/price/categories: bad record for '" + std::string(k) + "'");
          return false;
        }
        category_ids_.emplace(c.name, static_cast<uint32_t>(categories_.size()));
        categories_.push_back(std::move(c));
        return true;
      }));
  SW_RETURN_IF_ERROR(bad);
  SW_RETURN_IF_ERROR(
      store.scan_prefix(price::kSkuNs, "", [&](std::string_view k, std::string_view v) {
        price::SkuState s;
        if (!price::decode_sku(v, s)) {
          bad = Status::corruption("op/price/skus: bad record for '" + std::string(k) + "'");
          return false;
        }
        if (!s.category.empty()) s.category_id = category_index(s.category);
        sku_ids_.emplace(s.name, static_cast<uint32_t>(skus_.size()));
        skus_.push_back(std::move(s));
        return true;
      }));
  SW_RETURN_IF_ERROR(bad);
  const KeyIndex& keys = ctx.keys();
  SW_RETURN_IF_ERROR(
      store.scan_prefix(price::kKeyNs, "", [&](std::string_view k, std::string_view v) {
        const uint32_t block = from_be32(k);
        if (k.size() != 4) {
          bad = Status::corruption("op/price/keys: bad block key");
          return false;
        }
        for (size_t pos = 0; pos < v.size();) {
          uint32_t len = 0;
          if (v.size() - pos < 5) {
            bad = Status::corruption("op/price/keys: truncated block " + std::to_string(block));
            return false;
          }
          const KeyId id = block * price::kKeysPerBlock + static_cast<uint8_t>(v[pos]);
          std::memcpy(&len, v.data() + pos + 1, 4);
          pos += 5;
          if (id >= keys.size() || len > v.size() - pos) {
            bad = Status::corruption("op/price/keys: bad record for key id " + std::to_string(id));
            return false;
          }
          if (id >= keys_.size()) keys_.resize(static_cast<size_t>(id) + 1);
          KeyState& s = keys_[id];
          if (!price::decode_key(v.substr(pos, len), s)) {
            bad = Status::corruption("op/price/keys: bad record for key " + keys.key_string(id));
            return false;
          }
          pos += len;
          s.sku = sku_index(keys.sku(id));
          // A record without estimator updates carries no RLS state: the fresh prior.
          if (s.rls.count == 0) s.rls = fresh_rls(settings_.prior_elasticity);
        }
        return true;
      }));
  SW_RETURN_IF_ERROR(bad);
  // Skus created above for keys whose sku had no record are new: not dirty (nothing to
  // persist until they change).
  for (auto& s : skus_) s.dirty = false;
  dirty_skus_.clear();
  return Status::ok();
}

size_t PriceOperator::memory_bytes() const {
  size_t b = keys_.capacity() * sizeof(KeyState) + skus_.capacity() * sizeof(price::SkuState) +
             categories_.capacity() * sizeof(price::CategoryState);
  for (const KeyState& s : keys_) b += s.competitors.capacity() * sizeof(CompetitorPrice);
  for (const auto& s : skus_)
    b += s.competitors.capacity() * sizeof(CompetitorPrice) + s.name.size();
  return b;
}

std::string PriceOperator::describe(KeyId key, const KeyIndex& keys) const {
  if (state(key) == nullptr) return "{}";
  // describe() has no context: report the estimates without views.
  const KeyState& s = keys_[key];
  const price::SkuState& sku = skus_[s.sku];
  PriceFacts f;
  f.price = positive(s.price) ? s.price : positive(sku.price) ? sku.price : s.last_sale_price;
  f.cost = positive(s.cost) ? s.cost : sku.cost;
  f.category = sku.category;
  fill_estimates(s, keys, f);
  f.demand_per_day = std::isfinite(s.demand_ewma) ? s.demand_ewma : 0;
  return price::render_describe(s, &f, keys.store(key), keys.sku(key));
}

}  // namespace sw
