// `shelfwatch simulate`: a Monte Carlo price what-if for one (store, sku) from the checkpointed
// state (cli/simulate.h): the price operator's elasticity and evidence, the forecast's demand
// and the inventory view's stock, restored offline like `inspect`.

#include <cmath>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/pipeline.h"
#include "cli/simulate.h"
#include "operators/price/price.h"
#include "stream/json_writer.h"

namespace sw::cli {

namespace {

// What the price operator's facts() reads of a task, offline.
class OfflineContext final : public OperatorContext {
 public:
  OfflineContext(const KeyIndex& keys, const Calendar& calendar, const OperatorViews& views)
      : keys_(keys), calendar_(calendar), views_(views) {}
  void emit(OutputRecord&&) override {}
  void set_timer(KeyId, int64_t, uint32_t) override {}
  int64_t watermark() const override { return INT64_MIN; }
  const KeyIndex& keys() const override { return keys_; }
  const Calendar& calendar() const override { return calendar_; }
  const OperatorViews& views() const override { return views_; }

 private:
  const KeyIndex& keys_;
  const Calendar& calendar_;
  const OperatorViews& views_;
};

const char* const kHelp =
    "usage: shelfwatch simulate --config FILE --state DIR --store S --sku K --price P\n"
    "                           [--days N] [--runs R] [--seed N] [--json]\n\n"
    "Monte Carlo what-if from the last checkpoint in DIR: expected units, revenue, margin and\n"
    "stock-out probability over N days (default 28) at price P against the current price,\n"
    "each with a 90% interval, over R runs (default 2000). Each run draws the elasticity\n"
    "from its estimate and standard error, daily demand around the forecast with its\n"
    "spread, and sells from current stock plus the open order after the lead time.\n"
    "Deterministic for a seed (default 1). Needs the price operator's state (enabled by\n"
    "default).\n\n"
    "example:\n"
    "  shelfwatch simulate --config examples/demo.yaml --state demo/state \\\n"
    "      --store S0001 --sku SKU-000001 --price 3.49 --days 14\n";

bool parse_number(const std::string& s, double& out) {
  try {
    size_t used = 0;
    out = std::stod(s, &used);
    return used == s.size() && std::isfinite(out);
  } catch (const std::exception&) {
    return false;
  }
}

void figure(JsonWriter& w, std::string_view k, const Figure& f, int digits) {
  w.key(k).begin_object();
  w.field("mean", round_to(f.mean, digits))
      .field("lo", round_to(f.lo, digits))
      .field("hi", round_to(f.hi, digits));
  w.end_object();
}

void scenario(JsonWriter& w, std::string_view k, const WhatIfScenario& s) {
  w.key(k).begin_object();
  w.field("price", round_to(s.price, 2));
  figure(w, "units", s.units, 2);
  figure(w, "revenue", s.revenue, 2);
  if (std::isfinite(s.margin.mean)) {
    figure(w, "margin", s.margin, 2);
  } else {
    w.key("margin").null();
  }
  w.field("stockout_probability", round_to(s.stockout_probability, 4));
  w.end_object();
}

int fail(const std::string& m) {
  std::fprintf(stderr, "shelfwatch simulate: %s\n", m.c_str());
  return 2;
}

}  // namespace

int simulate_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::string config_path, dir, store_name, sku, price_s, days_s = "28", runs_s = "2000",
                                                          seed_s = "1";
  if (!value_of(args, "--config", config_path) || !value_of(args, "--state", dir) ||
      !value_of(args, "--store", store_name) || !value_of(args, "--sku", sku) ||
      !value_of(args, "--price", price_s)) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  value_of(args, "--days", days_s);
  value_of(args, "--runs", runs_s);
  value_of(args, "--seed", seed_s);
  const bool json = std::find(args.begin(), args.end(), "--json") != args.end();
  double price = 0, days = 0, runs = 0, seed = 0;
  if (!parse_number(price_s, price) || !(price > 0)) {
    return fail("--price must be a positive number, got '" + price_s + "'");
  }
  if (!parse_number(days_s, days) || days < 1 || days > 365 || days != std::floor(days)) {
    return fail("--days must be a whole number of days from 1 to 365, got '" + days_s + "'");
  }
  if (!parse_number(runs_s, runs) || runs < 1 || runs > 1e6 || runs != std::floor(runs)) {
    return fail("--runs must be a whole number from 1 to 1000000, got '" + runs_s + "'");
  }
  if (!parse_number(seed_s, seed) || seed < 0 || seed != std::floor(seed)) {
    return fail("--seed must be a non-negative whole number, got '" + seed_s + "'");
  }
  Config config = Config::from_file(config_path);
  RestoredCheckpoint checkpoint;
  Status s = restore_checkpoint(config, dir, checkpoint);
  Pipeline& p = checkpoint.pipeline;
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch simulate: %s\n", s.to_string().c_str());
    return 1;
  }
  Task& task = *p.task;
  const PriceOperator* op = nullptr;
  for (Operator* o : p.options.operators.pointers()) {
    if (auto* po = dynamic_cast<const PriceOperator*>(o)) op = po;
  }
  if (op == nullptr) {
    return fail("the price operator is disabled in " + config_path +
                " (operators.price.enabled): nothing to simulate from");
  }
  const KeyId key = task.keys().find(store_name, sku);
  if (key == kNoKey || op->state(key) == nullptr) {
    std::fprintf(stderr, "shelfwatch simulate: no price state for store '%s' sku '%s' in %s\n",
                 store_name.c_str(), sku.c_str(), dir.c_str());
    return 1;
  }
  // "Now" is the key's open local day (noon): the checkpoint's watermark may be the end of
  // time after a finished file run.
  const price::KeyState& ks = *op->state(key);
  const int64_t now =
      p.options.calendar->day_start_ms(task.keys().store_id(key), store_name, ks.day) +
      12 * 3'600'000LL;
  OfflineContext ctx(task.keys(), *p.options.calendar, p.options.operators.views);
  PriceFacts f;
  if (!op->facts(key, now, ctx, f) || !std::isfinite(f.price)) {
    return fail("no current price known for store '" + store_name + "' sku '" + sku + "'");
  }
  WhatIfInputs in;
  in.current_price = f.price;
  in.price = price;
  in.cost = f.cost;
  in.demand_per_day = f.demand_per_day;
  in.demand_sd = f.demand_sd;
  in.elasticity = f.elasticity.value;
  in.elasticity_var = f.elasticity.var;
  in.stock_known = f.stock_known;
  in.on_hand = f.stock.on_hand;
  in.on_order = f.stock.on_order;
  in.lead_time_days = f.lead_time_days;
  in.days = static_cast<int>(days);
  in.runs = static_cast<int>(runs);
  in.seed = static_cast<uint64_t>(seed);
  const WhatIfResult r = simulate_what_if(in);
  if (json) {
    std::string out;
    JsonWriter w(out);
    w.begin_object().field("store", store_name).field("sku", sku);
    w.key("as_of").time_value(now);
    w.field("days", static_cast<int64_t>(in.days)).field("runs", static_cast<int64_t>(in.runs));
    w.field("seed", in.seed).field("interval", 0.9);
    w.key("inputs").begin_object();
    w.field("current_price", round_to(f.price, 2));
    w.key("cost");
    if (std::isfinite(f.cost)) {
      w.value(round_to(f.cost, 4));
    } else {
      w.null();
    }
    w.field("elasticity", round_to(f.elasticity.value, 4));
    w.field("elasticity_se", round_to(std::sqrt(std::max(0.0, f.elasticity.var)), 4));
    w.field("demand_per_day", round_to(f.demand_per_day, 4));
    w.field("demand_sd", round_to(f.demand_sd, 4));
    w.field("demand_source", f.demand_from_forecast ? "forecast" : "own_ewma");
    w.key("on_hand");
    if (f.stock_known) {
      w.value(f.stock.on_hand);
    } else {
      w.null();
    }
    w.field("on_order", f.stock_known ? f.stock.on_order : 0.0);
    w.field("lead_time_days", round_to(f.lead_time_days, 2));
    w.end_object();
    scenario(w, "current", r.current);
    scenario(w, "proposed", r.proposed);
    w.end_object();
    std::printf("%s\n", out.c_str());
    return 0;
  }
  std::printf("%s at %s: %d days, %d runs, seed %llu (90%% intervals)\n", sku.c_str(),
              store_name.c_str(), in.days, in.runs, static_cast<unsigned long long>(in.seed));
  std::printf("elasticity %.2f (se %.2f), demand %.2f/day at %.2f (%s), stock %s\n\n",
              f.elasticity.value, std::sqrt(std::max(0.0, f.elasticity.var)), f.demand_per_day,
              f.price, f.demand_from_forecast ? "forecast" : "own estimate",
              f.stock_known
                  ? (std::to_string(static_cast<long long>(f.stock.on_hand)) + " on hand").c_str()
                  : "unknown (no limit)");
  std::printf("%-10s %8s %24s %26s %26s %10s\n", "scenario", "price", "units", "revenue", "margin",
              "P(stockout)");
  for (const WhatIfScenario* sc : {&r.current, &r.proposed}) {
    char u[64], rv[64], m[64];
    std::snprintf(u, sizeof u, "%.1f [%.0f, %.0f]", sc->units.mean, sc->units.lo, sc->units.hi);
    std::snprintf(rv, sizeof rv, "%.2f [%.2f, %.2f]", sc->revenue.mean, sc->revenue.lo,
                  sc->revenue.hi);
    if (std::isfinite(sc->margin.mean)) {
      std::snprintf(m, sizeof m, "%.2f [%.2f, %.2f]", sc->margin.mean, sc->margin.lo,
                    sc->margin.hi);
    } else {
      std::snprintf(m, sizeof m, "n/a (cost unknown)");
    }
    std::printf("%-10s %8.2f %24s %26s %26s %10.3f\n", sc == &r.current ? "current" : "what-if",
                sc->price, u, rv, m, sc->stockout_probability);
  }
  return 0;
}

}  // namespace sw::cli
