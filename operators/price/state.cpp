#include "operators/price/state.h"

#include <cmath>

#include "stream/bytes.h"

namespace sw::price {

namespace {

void put_rls(ByteWriter& w, const Rls& r) {
  for (double v : {r.a, r.b, r.p00, r.p01, r.p11, r.weight, r.sse, r.sxx}) w.put(v);
  w.put(r.count);
}
bool get_rls(ByteReader& rd, Rls& r) {
  for (double* v : {&r.a, &r.b, &r.p00, &r.p01, &r.p11, &r.weight, &r.sse, &r.sxx}) {
    if (!rd.get(*v)) return false;
  }
  return rd.get(r.count);
}
void put_competitors(ByteWriter& w, const std::vector<CompetitorPrice>& c) {
  w.put(static_cast<uint32_t>(c.size()));
  for (const auto& x : c) {
    w.put_string(x.competitor);
    w.put(x.price);
    w.put(x.ts_ms);
  }
}
bool get_competitors(ByteReader& rd, std::vector<CompetitorPrice>& c) {
  uint32_t n = 0;
  if (!rd.get(n) || n > 100000) return false;
  c.resize(n);
  for (auto& x : c) {
    if (!rd.get_string(x.competitor) || !rd.get(x.price) || !rd.get(x.ts_ms)) return false;
  }
  return true;
}

}  // namespace

std::string_view reason_name(int reason) {
  static constexpr std::string_view kNames[] = {"competitor_undercut", "overstock_markdown",
                                                "expiry_markdown", "stockout_risk",
                                                "elasticity_opportunity"};
  return kNames[reason];
}

std::string_view approval_name(int approval) {
  static constexpr std::string_view kNames[] = {"auto", "review", "escalate"};
  return kNames[approval];
}

double expected_units(const Facts& f, double price) {
  if (!(f.price > 0) || !(price > 0)) return f.demand_per_day;
  const double r = std::log(price / f.price);
  return f.demand_per_day * std::exp(f.elasticity.value * r + 0.5 * f.elasticity.var * r * r);
}

double expected_margin(const Facts& f, double price) {
  if (!std::isfinite(f.cost)) return kNaN;
  return (price - f.cost) * expected_units(f, price);
}

namespace {

// Sections of a key record, present when not at their defaults (a key seen on one day has
// only the base: ~40 bytes instead of ~400; checkpoints write every dirty key).
constexpr uint8_t kHasEstimator = 1;  // baseline, reference price, open spell
constexpr uint8_t kHasPrices = 2;     // store price, cost and limits, price change, promotion
constexpr uint8_t kHasRls = 4;
constexpr uint8_t kHasTriggers = 8;
constexpr uint8_t kHasCompetitors = 16;
constexpr uint8_t kHasPending = 32;   // confirmation counts of triggers not open yet
constexpr uint8_t kHasBaseline = 64;  // the forecast baseline of the open day and spell

bool set_or(double v) {
  return v == v;
}

}  // namespace

void encode_key(const KeyState& s, std::string& out) {
  ByteWriter w(out);
  w.put(kRecordVersion);
  uint8_t mask = 0;
  if (set_or(s.log_level) || s.spell_days != 0) mask |= kHasEstimator;
  if (set_or(s.price) || set_or(s.cost) || set_or(s.min_price) || set_or(s.max_price) ||
      set_or(s.map_price) || s.last_change_ms != kNever || s.promo_start_ms != 0 ||
      s.promo_end_ms != 0) {
    mask |= kHasPrices;
  }
  if (s.rls.count != 0) mask |= kHasRls;
  for (const TriggerState& t : s.triggers) {
    if (t.open() || t.clear_count != 0) mask |= kHasTriggers;
  }
  if (!s.competitors.empty()) mask |= kHasCompetitors;
  for (const TriggerState& t : s.triggers) {
    if (t.hold_count != 0) mask |= kHasPending;
  }
  if (set_or(s.day_base) || s.spell_base_days != 0) mask |= kHasBaseline;
  w.put(mask);
  w.put(s.day);
  w.put(s.history_days);
  for (double v : {s.today_units, s.today_revenue, s.last_sale_price}) w.put(v);
  if (mask & kHasEstimator) {
    w.put(s.spell_days);
    for (double v : {s.demand_ewma, s.log_level, s.log_ref_price, s.spell_units, s.spell_log_price,
                     s.spell_first_log_price}) {
      w.put(v);
    }
  }
  if (mask & kHasPrices) {
    for (double v : {s.price, s.cost, s.min_price, s.max_price, s.map_price}) w.put(v);
    w.put(s.last_change_ms);
    w.put(s.promo_start_ms);
    w.put(s.promo_end_ms);
  }
  if (mask & kHasRls) put_rls(w, s.rls);
  if (mask & kHasTriggers) {
    for (const TriggerState& t : s.triggers) {
      w.put(t.since_ms);
      w.put(t.clear_count);
      w.put(t.clear_day);
      w.put(t.approval);
    }
  }
  if (mask & kHasCompetitors) put_competitors(w, s.competitors);
  if (mask & kHasPending) {
    for (const TriggerState& t : s.triggers) {
      w.put(t.hold_count);
      w.put(t.hold_day);
    }
  }
  if (mask & kHasBaseline) {
    for (double v : {s.day_base, s.day_log_ref, s.spell_base, s.spell_log_ref}) w.put(v);
    w.put(s.spell_base_days);
  }
}

bool decode_key(std::string_view in, KeyState& s) {
  ByteReader rd(in);
  uint8_t version = 0, mask = 0;
  if (!rd.get(version) || version != kRecordVersion || !rd.get(mask)) return false;
  if (!rd.get(s.day) || !rd.get(s.history_days)) return false;
  for (double* v : {&s.today_units, &s.today_revenue, &s.last_sale_price}) {
    if (!rd.get(*v)) return false;
  }
  if (mask & kHasEstimator) {
    if (!rd.get(s.spell_days)) return false;
    for (double* v : {&s.demand_ewma, &s.log_level, &s.log_ref_price, &s.spell_units,
                      &s.spell_log_price, &s.spell_first_log_price}) {
      if (!rd.get(*v)) return false;
    }
  }
  if (mask & kHasPrices) {
    for (double* v : {&s.price, &s.cost, &s.min_price, &s.max_price, &s.map_price}) {
      if (!rd.get(*v)) return false;
    }
    if (!rd.get(s.last_change_ms) || !rd.get(s.promo_start_ms) || !rd.get(s.promo_end_ms)) {
      return false;
    }
  }
  if ((mask & kHasRls) && !get_rls(rd, s.rls)) return false;
  if (mask & kHasTriggers) {
    for (TriggerState& t : s.triggers) {
      if (!rd.get(t.since_ms) || !rd.get(t.clear_count) || !rd.get(t.clear_day) ||
          !rd.get(t.approval)) {
        return false;
      }
    }
  }
  if ((mask & kHasCompetitors) && !get_competitors(rd, s.competitors)) return false;
  if (mask & kHasPending) {
    for (TriggerState& t : s.triggers) {
      if (!rd.get(t.hold_count) || !rd.get(t.hold_day)) return false;
    }
  }
  if (mask & kHasBaseline) {
    for (double* v : {&s.day_base, &s.day_log_ref, &s.spell_base, &s.spell_log_ref}) {
      if (!rd.get(*v)) return false;
    }
    if (!rd.get(s.spell_base_days)) return false;
  }
  return rd.empty();
}

void encode_sku(const SkuState& s, std::string& out) {
  ByteWriter w(out);
  w.put(kRecordVersion);
  w.put_string(s.name);
  w.put_string(s.category);
  for (double v : {s.price, s.cost, s.min_price, s.max_price, s.map_price, s.shelf_life_days}) {
    w.put(v);
  }
  w.put(s.perishable);
  w.put(s.last_change_ms);
  w.put(s.promo_start_ms);
  w.put(s.promo_end_ms);
  w.put(s.last_obs_day);
  put_rls(w, s.rls);
  put_competitors(w, s.competitors);
}

bool decode_sku(std::string_view in, SkuState& s) {
  ByteReader rd(in);
  uint8_t version = 0;
  if (!rd.get(version) || version != kRecordVersion) return false;
  if (!rd.get_string(s.name) || !rd.get_string(s.category)) return false;
  for (double* v :
       {&s.price, &s.cost, &s.min_price, &s.max_price, &s.map_price, &s.shelf_life_days}) {
    if (!rd.get(*v)) return false;
  }
  if (!rd.get(s.perishable) || !rd.get(s.last_change_ms) || !rd.get(s.promo_start_ms) ||
      !rd.get(s.promo_end_ms) || !rd.get(s.last_obs_day)) {
    return false;
  }
  return get_rls(rd, s.rls) && get_competitors(rd, s.competitors) && rd.empty();
}

void encode_category(const CategoryState& s, std::string& out) {
  ByteWriter w(out);
  w.put(kRecordVersion);
  w.put_string(s.name);
  w.put(s.last_obs_day);
  put_rls(w, s.rls);
}

bool decode_category(std::string_view in, CategoryState& s) {
  ByteReader rd(in);
  uint8_t version = 0;
  if (!rd.get(version) || version != kRecordVersion) return false;
  return rd.get_string(s.name) && rd.get(s.last_obs_day) && get_rls(rd, s.rls) && rd.empty();
}

}  // namespace sw::price
