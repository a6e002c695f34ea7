#include "operators/price/render.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "stream/json_writer.h"

namespace sw::price {

namespace {

constexpr double kZ90 = 1.6448536269514722;

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

double r2(double v) {
  return round_to(v, 2);
}
double r4(double v) {
  return round_to(v, 4);
}

void money_or_null(JsonWriter& w, std::string_view k, double v) {
  w.key(k);
  if (std::isfinite(v)) {
    w.value(r2(v));
  } else {
    w.null();
  }
}

void append_money(std::string& out, double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  out += b;
}

void expected(JsonWriter& w, std::string_view k, const Facts& f, double price) {
  w.key(k).begin_object();
  w.field("price", r2(price));
  const double units = expected_units(f, price);
  w.field("units_per_day", r4(units));
  w.field("revenue_per_day", r2(units * price));
  money_or_null(w, "margin_per_day", expected_margin(f, price));
  w.end_object();
}

void estimate(JsonWriter& w, std::string_view k, const Estimate& e) {
  w.key(k);
  if (!(e.var > 0)) {
    w.null();
    return;
  }
  w.begin_object().field("estimate", r4(e.value)).field("se", r4(std::sqrt(e.var))).end_object();
}

}  // namespace

std::string trigger_id(std::string_view reason, std::string_view store, std::string_view sku,
                       int64_t since_ms) {
  uint64_t h = 0xcbf29ce484222325ull;
  const std::string_view sep("\x1f", 1);
  for (std::string_view part : {std::string_view("price"), reason, store, sku}) {
    h = fnv1a(h, part);
    h = fnv1a(h, sep);
  }
  char t[24];
  auto r = std::to_chars(t, t + sizeof t, since_ms);
  h = fnv1a(h, std::string_view(t, static_cast<size_t>(r.ptr - t)));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "pt-" + std::string(16, '0');
  for (int i = 18; i >= 3; --i, h >>= 4) id[static_cast<size_t>(i)] = kHex[h & 0xf];
  return id;
}

void render_trigger(std::string& json, const Trigger& t) {
  JsonWriter w(json);
  w.begin_object();
  w.field("id", t.id).field("type", "price").field("status", t.status);
  w.field("severity", t.severity).field("store", t.store).field("sku", t.sku);
  w.key("time").time_value(t.ts_ms);
  w.field("reason", t.reason).field("approval", t.approval);
  std::string summary(t.sku);
  summary += " at ";
  summary += t.store;
  summary += ": ";
  const Facts* f = t.facts;
  if (t.status == "resolved" || f == nullptr) {
    summary += t.reason;
    summary += " cleared";
    if (!t.note.empty()) {
      summary += " (";
      summary += t.note;
      summary += ")";
    }
  } else {
    summary += t.why;
    if (t.proposal != nullptr && t.proposal->has_price) {
      summary += "; propose ";
      append_money(summary, t.proposal->price);
      summary += " (now ";
      append_money(summary, f->price);
      summary += ")";
    } else if (!t.note.empty()) {
      summary += "; no proposal: ";
      summary += t.note;
    }
  }
  w.field("summary", summary);
  w.key("details").begin_object();
  w.key("episode_start").time_value(t.since_ms);
  if (f == nullptr) {
    if (!t.note.empty()) w.field("resolved_by", t.note);
  } else {
    const Proposal* p = t.proposal;
    const bool has = p != nullptr && p->has_price;
    money_or_null(w, "current_price", f->price);
    money_or_null(w, "proposed_price", has ? p->price : NAN);
    w.key("change_pct");
    if (has && f->price > 0) {
      w.value(round_to(100 * (p->price / f->price - 1), 2));
    } else {
      w.null();
    }
    w.field("direction", t.direction < 0 ? "lower" : "raise");
    money_or_null(w, "target_price", p != nullptr ? p->target : NAN);
    money_or_null(w, "cost", f->cost);
    w.key("bound_by").begin_array();
    if (p != nullptr) {
      for (uint32_t i = 0; i < kGuardrailCount; ++i) {
        if (p->bound_by & (1u << i)) w.value(guardrail_name(1u << i));
      }
    }
    w.end_array();
    if (p != nullptr && !p->conflict.empty()) w.field("conflict", p->conflict);
    if (!has && !t.note.empty()) w.field("no_proposal_reason", t.note);
    w.key("guardrails").begin_object();
    money_or_null(w, "min_margin_price",
                  std::isfinite(f->cost) ? f->cost * (1 + f->limits.min_margin) : NAN);
    money_or_null(w, "map_price", f->limits.map_price > 0 ? f->limits.map_price : NAN);
    money_or_null(w, "min_price", f->limits.min_price > 0 ? f->limits.min_price : NAN);
    money_or_null(w, "max_price", f->limits.max_price > 0 ? f->limits.max_price : NAN);
    w.field("max_step_pct", round_to(100 * f->limits.max_step, 2));
    w.key("price_ending");
    if (f->limits.ending_cents >= 0) {
      w.value(ending_name(f->limits));
    } else {
      w.null();
    }
    w.end_object();
    const double se = std::sqrt(std::max(0.0, f->elasticity.var));
    w.field("elasticity", r4(f->elasticity.value));
    w.field("elasticity_se", r4(se));
    w.key("elasticity_interval").begin_array();
    w.value(r4(f->elasticity.value - kZ90 * se)).value(r4(f->elasticity.value + kZ90 * se));
    w.end_array();
    w.field("interval", 0.9);
    w.key("elasticity_sources").begin_object();
    estimate(w, "key", f->key_estimate);
    estimate(w, "sku", f->sku_combined);
    estimate(w, "category", f->category_combined);
    w.field("key_observations", static_cast<uint64_t>(f->key_observations));
    w.end_object();
    w.key("competitor_prices").begin_array();
    for (const CompetitorPrice* c : f->competitors) {
      w.begin_object().field("competitor", c->competitor).field("price", r2(c->price));
      w.key("time").time_value(c->ts_ms);
      w.end_object();
    }
    w.end_array();
    w.key("days_of_cover");
    if (std::isfinite(f->days_of_cover)) {
      w.value(round_to(f->days_of_cover, 1));
    } else {
      w.null();
    }
    w.key("on_hand");
    if (f->stock_known) {
      w.value(f->stock.on_hand);
    } else {
      w.null();
    }
    if (f->perishable) {
      w.field("at_risk_units", round_to(f->at_risk_units, 1));
      w.field("lots_tracked", f->lots_tracked);
    }
    if (f->stock_known) {
      w.field("lead_time_days", round_to(f->lead_time_days, 2));
      w.field("lead_time_demand", round_to(f->lead_time_demand, 2));
    }
    w.key("forecast").begin_object();
    w.field("source", f->demand_from_forecast ? "forecast" : "own_ewma");
    w.field("mean_per_day", r4(f->demand_per_day));
    w.field("sd_per_day", r4(f->demand_sd));
    w.end_object();
    w.field("on_promotion", f->on_promotion);
    w.field("open_anomaly", f->open_anomaly);
    w.field("history_days", static_cast<int64_t>(f->history_days));
    expected(w, "expected_current", *f, f->price);
    if (has) expected(w, "expected_proposed", *f, p->price);
    w.key("approval_reasons").begin_array();
    if (t.approval_why != nullptr) {
      for (std::string_view a : *t.approval_why) w.value(a);
    }
    w.end_array();
  }
  w.end_object();
  w.stamp();
  w.end_object();
}

std::string render_describe(const KeyState& s, const Facts* f, std::string_view store,
                            std::string_view sku) {
  std::string json;
  JsonWriter w(json);
  w.begin_object();
  w.field("store", store).field("sku", sku);
  w.field("history_days", static_cast<int64_t>(s.history_days));
  if (f != nullptr) {
    money_or_null(w, "price", f->price);
    money_or_null(w, "cost", f->cost);
    const double se = std::sqrt(std::max(0.0, f->elasticity.var));
    w.key("elasticity").begin_object();
    w.field("estimate", r4(f->elasticity.value)).field("se", r4(se));
    w.key("interval90").begin_array();
    w.value(r4(f->elasticity.value - kZ90 * se)).value(r4(f->elasticity.value + kZ90 * se));
    w.end_array();
    estimate(w, "key", f->key_estimate);
    estimate(w, "sku", f->sku_combined);
    estimate(w, "category", f->category_combined);
    w.field("key_observations", static_cast<uint64_t>(f->key_observations));
    w.field("category_name", f->category);
    w.end_object();
    w.key("forecast").begin_object();
    w.field("source", f->demand_from_forecast ? "forecast" : "own_ewma");
    w.field("mean_per_day", r4(f->demand_per_day));
    w.end_object();
  }
  w.key("open_triggers").begin_array();
  for (int r = 0; r < kReasonCount; ++r) {
    const TriggerState& t = s.triggers[static_cast<size_t>(r)];
    if (!t.open()) continue;
    w.begin_object().field("reason", reason_name(r));
    w.field("id", trigger_id(reason_name(r), store, sku, t.since_ms));
    w.key("since").time_value(t.since_ms);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return json;
}

}  // namespace sw::price
