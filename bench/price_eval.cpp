// price_eval: accuracy of the price operator's elasticity estimates on the generator's stream,
// against the true elasticities of its --truth records (issue 14's evaluation).
//
// Generates S stores x I SKUs x D days (sim/generator.h) with a chosen rate of chain-wide
// price changes, replays it through the price operator alone (its demand fallback: no
// forecast view), and at the end of weeks 4 and 12 (and D) reports, against the truth:
//   - median absolute error of the SKU estimate (key data shrunk into SKU into category) vs
//     the SKU's true elasticity, of the (store, SKU) estimate vs the same, and of the
//     category estimate vs the category's centre;
//   - the share of true SKU elasticities inside the stated 90% interval;
//   - price triggers fired so far by reason and approval.
// Output: a table on stderr, one JSON line per checkpoint on stdout.
//
// usage: price_eval [--stores N] [--skus N] [--days N] [--seed N] [--price-change-rate R]
//                   [--inventory-view 0|1]  (1: on hand tracked from the events, as low_stock's
//                   view will; stock-out days are then left out of the estimate)

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bench/replay_context.h"
#include "operators/forecast/forecast.h"
#include "operators/price/price.h"
#include "sim/generator.h"
#include "stream/config.h"
#include "stream/decoder.h"

namespace {

double arg(int argc, char** argv, const char* name, double def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atof(argv[i + 1]);
  }
  return def;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Value of "key":<number> or "key":"<string>" in a flat JSON line.
std::string json_field(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  size_t p = line.find(k);
  if (p == std::string::npos) return "";
  p += k.size();
  if (line[p] == '"') return line.substr(p + 1, line.find('"', p + 1) - p - 1);
  size_t e = line.find_first_of(",}", p);
  return line.substr(p, e - p);
}

// On hand per key from inventory, sale and return events: what the inventory view (published
// by low_stock) gives the price operator in a full pipeline, so stock-out days are censored.
class OnHand final : public sw::InventoryView {
 public:
  bool position(sw::KeyId key, sw::StockPosition& out) const override {
    if (key >= known_.size() || !known_[key]) return false;
    out = sw::StockPosition{};
    out.on_hand = std::max(0.0, on_hand_[key]);
    return true;
  }
  void lots(sw::KeyId, std::vector<sw::StockLot>&) const override {}
  void apply(const sw::Event& e, sw::KeyId key) {
    if (key == sw::kNoKey) return;
    if (key >= on_hand_.size()) {
      on_hand_.resize(key + 1, 0);
      known_.resize(key + 1, false);
    }
    double& h = on_hand_[key];
    switch (e.type) {
      case sw::EventType::kSale:
        h -= e.qty;
        break;
      case sw::EventType::kReturn:
        if (e.restock) h += e.qty;
        break;
      case sw::EventType::kInventory:
        known_[key] = true;
        switch (e.inventory_kind) {
          case sw::InventoryKind::kSnapshot:
            h = e.qty;
            break;
          case sw::InventoryKind::kTransferOut:
            h -= e.qty;
            break;
          default:
            h += e.qty;
        }
        break;
      default:
        break;
    }
  }

 private:
  std::vector<double> on_hand_;
  std::vector<bool> known_;
};

}  // namespace

int main(int argc, char** argv) {
  sw::GeneratorOptions g;
  g.stores = static_cast<int>(arg(argc, argv, "--stores", 20));
  g.skus = static_cast<int>(arg(argc, argv, "--skus", 200));
  g.days = static_cast<int>(arg(argc, argv, "--days", 84));
  g.seed = static_cast<uint64_t>(arg(argc, argv, "--seed", 7));
  g.price_change_rate = arg(argc, argv, "--price-change-rate", 1.0 / 45);
  g.metric_interval_min = 0;
  g.truth_demand = false;
  std::string events, truth;
  sw::ChunkWriter ew = [&](std::string_view c) {
    events.append(c);
    return sw::Status::ok();
  };
  sw::ChunkWriter tw = [&](std::string_view c) {
    truth.append(c);
    return sw::Status::ok();
  };
  sw::GeneratorStats stats;
  if (!sw::generate_stream(g, ew, &tw, stats).is_ok()) return 1;

  std::map<std::string, double> sku_truth, cat_truth;
  std::map<std::string, std::string> sku_cat;
  for (size_t pos = 0; pos < truth.size();) {
    size_t e = truth.find('\n', pos);
    std::string line = truth.substr(pos, e - pos);
    pos = e + 1;
    const std::string rec = json_field(line, "record");
    if (rec == "sku") {
      sku_truth[json_field(line, "sku")] = std::atof(json_field(line, "elasticity").c_str());
      sku_cat[json_field(line, "sku")] = json_field(line, "category");
    } else if (rec == "category") {
      cat_truth[json_field(line, "category")] =
          std::atof(json_field(line, "elasticity_centre").c_str());
    }
  }

  std::map<std::pair<std::string, std::string>, uint64_t> fired;
  sw::bench::ReplayContext ctx([&](sw::OutputRecord&& r) {
    if (r.stream == sw::OutputStream::kPriceTriggers && json_field(r.json, "status") == "firing") {
      ++fired[{json_field(r.json, "reason"), json_field(r.json, "approval")}];
    }
  });
  // --forecast 1: the forecast operator runs too and publishes its demand view (as in the
  // default pipeline); --baseline own|forecast picks the price regression's baseline.
  const bool with_forecast = arg(argc, argv, "--forecast", 1) != 0;
  std::string baseline = "own";
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--baseline") == 0) baseline = argv[i + 1];
  }
  sw::PriceOperator op(sw::Config::from_yaml("{operators: {price: {baseline: " + baseline + "}}}"));
  sw::ForecastOperator forecast(sw::ForecastOptions::from_config(sw::Config::from_yaml("{}")));
  if (with_forecast) ctx.mutable_views().demand = forecast.demand_view();
  OnHand stock;
  const bool with_stock = arg(argc, argv, "--inventory-view", 1) != 0;
  if (with_stock) ctx.mutable_views().inventory = &stock;
  std::fprintf(stderr, "price_eval: forecast view %s, baseline %s, inventory view %s\n",
               with_forecast ? "on" : "off", baseline.c_str(), with_stock ? "on" : "off");
  const uint32_t subs = op.subscriptions();
  sw::Decoder decoder;
  sw::Event ev;
  int64_t start_day = 0;
  sw::parse_civil_date(g.start_date, start_day);
  const int64_t t0 = start_day * 86'400'000LL;
  std::vector<int> checkpoints = {28, 84, g.days};
  std::sort(checkpoints.begin(), checkpoints.end());
  checkpoints.erase(std::unique(checkpoints.begin(), checkpoints.end()), checkpoints.end());
  size_t next_cp = 0;

  auto report = [&](int day) {
    const int64_t now = t0 + static_cast<int64_t>(day) * 86'400'000LL;
    std::vector<double> sku_err, key_err, cat_err, sku_bias, own_bias;
    size_t sku_in = 0, key_in = 0;
    std::map<std::string, bool> sku_done;
    std::map<std::string, sw::price::Estimate> cat_est;
    const sw::KeyIndex& keys = ctx.keys();
    for (sw::KeyId k = 0; k < keys.size(); ++k) {
      sw::PriceFacts f;
      if (!op.facts(k, now, ctx, f)) continue;
      const std::string sku(keys.sku(k));
      auto t = sku_truth.find(sku);
      if (t == sku_truth.end()) continue;
      const double se_k = std::sqrt(f.elasticity.var);
      key_err.push_back(std::fabs(f.elasticity.value - t->second));
      if (std::fabs(f.elasticity.value - t->second) <= 1.6448536 * se_k) ++key_in;
      if (!sku_done[sku]) {
        sku_done[sku] = true;
        const double se = std::sqrt(f.sku_combined.var);
        sku_err.push_back(std::fabs(f.sku_combined.value - t->second));
        sku_bias.push_back(f.sku_combined.value - t->second);
        if (f.sku_estimate.var > 0) own_bias.push_back(f.sku_estimate.value - t->second);
        if (std::fabs(f.sku_combined.value - t->second) <= 1.6448536 * se) ++sku_in;
        cat_est[f.category] = f.category_combined;
        if (std::getenv("PRICE_EVAL_VERBOSE") && sku_done.size() < 4) {
          std::fprintf(
              stderr, "    sku %s: own %.2f se %.3f; category own %.2f se %.3f; key obs %u\n",
              sku.c_str(), f.sku_estimate.value, std::sqrt(f.sku_estimate.var),
              f.category_estimate.value, std::sqrt(f.category_estimate.var), f.key_observations);
        }
      }
    }
    for (const auto& [c, e] : cat_est) {
      auto t = cat_truth.find(c);
      if (t != cat_truth.end()) cat_err.push_back(std::fabs(e.value - t->second));
      if (t != cat_truth.end() && std::getenv("PRICE_EVAL_VERBOSE")) {
        std::fprintf(stderr, "    category %-14s true %.2f estimate %.2f se %.2f\n", c.c_str(),
                     t->second, e.value, std::sqrt(e.var));
      }
    }
    // Reference: the prior alone (what the estimates start from).
    std::vector<double> prior_err;
    for (const auto& [s, b] : sku_truth) prior_err.push_back(std::fabs(-1.5 - b));
    std::fprintf(stderr,
                 "day %3d: median |error| SKU %.3f (prior alone %.3f), store-SKU %.3f, "
                 "category %.3f; true SKU elasticity inside 90%% interval: SKU %.1f%%, "
                 "store-SKU %.1f%%; median signed error (estimate - true) SKU %+.3f (SKU's own "
                 "data alone %+.3f)\n",
                 day, median(sku_err), median(prior_err), median(key_err), median(cat_err),
                 100.0 * static_cast<double>(sku_in) / std::max<size_t>(1, sku_err.size()),
                 100.0 * static_cast<double>(key_in) / std::max<size_t>(1, key_err.size()),
                 median(sku_bias), median(own_bias));
    std::printf(
        "{\"day\":%d,\"price_change_rate\":%.4f,\"skus\":%zu,\"keys\":%zu,"
        "\"mae_median_sku\":%.4f,\"mae_median_prior\":%.4f,\"mae_median_key\":%.4f,"
        "\"mae_median_category\":%.4f,\"coverage90_sku\":%.4f,\"coverage90_key\":%.4f,"
        "\"triggers\":{",
        day, g.price_change_rate, sku_err.size(), key_err.size(), median(sku_err),
        median(prior_err), median(key_err), median(cat_err),
        static_cast<double>(sku_in) / std::max<size_t>(1, sku_err.size()),
        static_cast<double>(key_in) / std::max<size_t>(1, key_err.size()));
    bool first = true;
    for (const auto& [ra, n] : fired) {
      std::printf("%s\"%s/%s\":%llu", first ? "" : ",", ra.first.c_str(), ra.second.c_str(),
                  static_cast<unsigned long long>(n));
      std::fprintf(stderr, "    %-24s %-9s %llu\n", ra.first.c_str(), ra.second.c_str(),
                   static_cast<unsigned long long>(n));
      first = false;
    }
    std::printf("}}\n");
    std::fflush(stdout);
  };

  for (size_t pos = 0; pos < events.size();) {
    size_t e = events.find('\n', pos);
    if (e == std::string::npos) e = events.size();
    const std::string_view line(events.data() + pos, e - pos);
    pos = e + 1;
    if (decoder.decode(line, 0, ev) != sw::DecodeError::kNone) continue;
    while (next_cp < checkpoints.size() &&
           ev.ts_ms >= t0 + static_cast<int64_t>(checkpoints[next_cp]) * 86'400'000LL) {
      report(checkpoints[next_cp++]);
    }
    sw::KeyId key = sw::kNoKey;
    if (sw::keyed_event(ev)) key = ctx.key(ev.store, ev.sku);
    if (with_forecast) {
      ctx.advance(forecast, ev.ts_ms - 5 * 60'000);  // the demo's out_of_orderness
      if (forecast.subscriptions() & (1u << static_cast<int>(ev.type))) {
        forecast.on_event(ev, key, ctx);
      }
    }
    stock.apply(ev, key);  // low_stock is ahead of price in the operator table
    if (!(subs & (1u << static_cast<int>(ev.type)))) continue;
    op.on_event(ev, key, ctx);
  }
  while (next_cp < checkpoints.size()) report(checkpoints[next_cp++]);
  return 0;
}
