// forecast_eval: accuracy of the forecast operator on synthetic multi-year daily retail data
// with known true demand (the proxy for issue #4's "real multi-year daily retail data").
//
// Data: S stores x I items x Y years of daily sales from 2013-01-01, Poisson noise around
//   mean = item level x store level x day-of-week profile x month-of-year profile x growth,
// where each of C categories perturbs the chain's day-of-week and month profiles a little.
// The operator learns online from the sale events alone (no access to the truth).
//
// Reports, at a fixed origin (end of the history, horizon H, default 90 days) and at rolling
// 7-day horizons over the last year: sMAPE, WAPE, MASE, bias and interval coverage for
// shelfwatch, weekly seasonal naive, yearly naive and the true mean (the noise floor).
// Output: a table on stderr, one JSON line on stdout.
//
// usage: forecast_eval [--stores N] [--items N] [--years N] [--categories N] [--seed N]
//                      [--horizon H] [--set operators.forecast.KEY=VALUE ...]

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/replay_context.h"
#include "operators/forecast/forecast.h"
#include "stream/civil_time.h"
#include "stream/config.h"

namespace {

using sw::forecast::smape_term;

struct Metric {
  double smape = 0, abs_err = 0, err = 0, actual = 0, scaled = 0, covered = 0, n = 0;
  double width = 0, fsum = 0;  // sum(hi - lo), sum(forecast) where an interval is given
  void add(double f, double a, double scale, double lo = NAN, double hi = NAN) {
    smape += smape_term(f, a);
    abs_err += std::fabs(f - a);
    err += f - a;
    actual += a;
    scaled += scale > 0 ? std::fabs(f - a) / scale : 0;
    if (lo == lo) {
      covered += (a >= lo && a <= hi) ? 1 : 0;
      width += hi - lo;
      fsum += f;
    }
    n += 1;
  }
  double s() const { return smape / n; }
  double wape() const { return abs_err / actual; }
  double bias() const { return err / actual; }
  double mase() const { return scaled / n; }
  double cov() const { return covered / n; }
  //! Mean interval width relative to the mean forecast.
  double wid() const { return width / fsum; }
};

int64_t arg_int(int argc, char** argv, const char* name, int64_t def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return std::atoll(argv[i + 1]);
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const int stores = static_cast<int>(arg_int(argc, argv, "--stores", 10));
  const int items = static_cast<int>(arg_int(argc, argv, "--items", 50));
  const int years = static_cast<int>(arg_int(argc, argv, "--years", 5));
  const int cats = static_cast<int>(arg_int(argc, argv, "--categories", 5));
  const uint64_t seed = static_cast<uint64_t>(arg_int(argc, argv, "--seed", 42));
  const int horizon = static_cast<int>(arg_int(argc, argv, "--horizon", 90));
  std::vector<std::string> overrides;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--set") overrides.emplace_back(argv[i + 1]);
  }
  sw::Config config = sw::Config::from_yaml("{}", overrides);
  sw::ForecastOptions opts = sw::ForecastOptions::from_config(config);
  opts.emit = sw::ForecastEmit::kNone;

  // Chain profiles (shaped like a typical store-item sales history), perturbed per category.
  const double dow_chain[7] = {0.81, 0.94, 0.95, 1.00, 1.06, 1.12, 1.17};  // Mon..Sun
  const double moy_chain[12] = {0.72, 0.80, 0.98, 1.08, 1.18, 1.24,
                                1.32, 1.14, 1.04, 0.96, 0.93, 0.70};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0, 1);
  std::vector<std::array<double, 7>> dow(cats);
  std::vector<std::array<double, 12>> moy(cats);
  for (int c = 0; c < cats; ++c) {
    for (int w = 0; w < 7; ++w) dow[c][w] = dow_chain[w] * (1 + 0.06 * (u01(rng) - 0.5));
    for (int m = 0; m < 12; ++m) moy[c][m] = moy_chain[m] * (1 + 0.10 * (u01(rng) - 0.5));
  }
  std::vector<double> item_level(items), store_level(stores);
  for (double& v : item_level) v = 15 + 55 * u01(rng);
  for (double& v : store_level) v = 0.6 + 0.8 * u01(rng);

  const int32_t day0 = 15706;  // 2013-01-01
  const int train_days = years * 365 + years / 4 + (years >= 4 ? 0 : 0);
  const int total_days = train_days + std::max(horizon, 7);
  const int nkeys = stores * items;
  auto weekday = [](int32_t d) { return sw::civil::weekday(d); };
  auto month = [](int32_t day) { return sw::civil::month_of(day) - 1; };
  std::vector<float> truth(static_cast<size_t>(nkeys) * total_days);
  std::vector<uint16_t> sales(truth.size());
  for (int d = 0; d < total_days; ++d) {
    const double t = d / 365.25;
    const double growth = 1 + 0.10 * t - 0.008 * t * t;
    for (int k = 0; k < nkeys; ++k) {
      const int s = k / items, i = k % items, c = i % cats;
      const double lam = item_level[i] * store_level[s] * dow[c][weekday(day0 + d)] *
                         moy[c][month(day0 + d)] * growth;
      truth[static_cast<size_t>(k) * total_days + d] = static_cast<float>(lam);
      std::poisson_distribution<int> pois(lam);
      sales[static_cast<size_t>(k) * total_days + d] = static_cast<uint16_t>(pois(rng));
    }
  }
  auto Y = [&](int k, int d) { return sales[static_cast<size_t>(k) * total_days + d]; };
  auto T = [&](int k, int d) { return truth[static_cast<size_t>(k) * total_days + d]; };

  sw::ForecastOperator op(opts);
  sw::bench::ReplayContext ctx;
  std::vector<std::string> store_names(stores), sku_names(items), cat_names(cats);
  // Appended rather than "S" + std::to_string(...): GCC 12 at -O3 reports a -Wrestrict false
  // positive inside that operator+ (GCC bug 105329).
  for (int s = 0; s < stores; ++s) store_names[s].append("S").append(std::to_string(s + 1));
  for (int i = 0; i < items; ++i) sku_names[i].append("SKU-").append(std::to_string(i + 1));
  for (int c = 0; c < cats; ++c) cat_names[c].append("cat").append(std::to_string(c));
  std::vector<sw::KeyId> key_ids(nkeys);
  for (int k = 0; k < nkeys; ++k) {
    key_ids[k] = ctx.key(store_names[k / items], sku_names[k % items]);
  }
  for (int i = 0; i < items; ++i) {
    sw::Event e;
    e.type = sw::EventType::kItem;
    e.ts_ms = int64_t{day0} * 86'400'000;
    e.sku = sku_names[i];
    e.item.category = cat_names[i % cats];
    op.on_event(e, sw::kNoKey, ctx);
  }
  // In-sample seasonal-naive scale per key (MASE denominators), over the training history.
  std::vector<double> scale(nkeys, 0);
  for (int k = 0; k < nkeys; ++k) {
    double sum = 0;
    for (int d = 7; d < train_days; ++d) sum += std::fabs(double(Y(k, d)) - Y(k, d - 7));
    scale[k] = sum / (train_days - 7);
  }

  Metric roll_ours, roll_naive, roll_true;
  const int roll_from = train_days - 365;
  std::vector<sw::HorizonPoint> pts;
  const auto t0 = std::chrono::steady_clock::now();
  sw::Event e;
  e.type = sw::EventType::kSale;
  for (int d = 0; d < train_days; ++d) {
    const int64_t day_ms = int64_t{day0 + d} * 86'400'000;
    for (int k = 0; k < nkeys; ++k) {
      const int q = Y(k, d);
      if (q == 0) continue;
      e.ts_ms = day_ms + 12 * 3'600'000;
      e.store = store_names[k / items];
      e.sku = sku_names[k % items];
      e.qty = q;
      e.price = 1.0;
      op.on_event(e, key_ids[k], ctx);
    }
    ctx.advance(op, day_ms + 86'400'000);
    if (d >= roll_from && d + 7 < train_days) {
      for (int k = 0; k < nkeys; ++k) {
        if (!op.forecast(key_ids[k], 7, ctx.keys(), pts)) continue;
        for (int h = 1; h <= 7; ++h) {
          const double a = Y(k, d + h);
          roll_ours.add(pts[h - 1].mean, a, scale[k], pts[h - 1].lo, pts[h - 1].hi);
          roll_naive.add(Y(k, d + h - 7), a, scale[k]);
          roll_true.add(T(k, d + h), a, scale[k]);
        }
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Fixed origin: forecasts made at the close of the last training day.
  Metric ours, naive7, naive364, truem;
  std::vector<Metric> by_month(4);
  const int L = train_days - 1;
  int models[3] = {0, 0, 0};
  for (int k = 0; k < nkeys; ++k) {
    if (!op.forecast(key_ids[k], horizon, ctx.keys(), pts)) continue;
    const std::string_view m = op.key_model(key_ids[k]);
    models[m == "croston_sba" ? 1 : m == "tsb" ? 2 : 0]++;
    for (int h = 1; h <= horizon; ++h) {
      const int d = L + h;
      const double a = Y(k, d);
      ours.add(pts[h - 1].mean, a, scale[k], pts[h - 1].lo, pts[h - 1].hi);
      by_month[std::min(3, (h - 1) / 30)].add(pts[h - 1].mean, a, scale[k]);
      naive7.add(Y(k, d - 7 * ((h + 6) / 7)), a, scale[k]);
      naive364.add(Y(k, d - 364), a, scale[k]);
      truem.add(T(k, d), a, scale[k]);
    }
  }
  std::fprintf(stderr,
               "synthetic: %d stores x %d items x %d days (%d categories), seed %llu; "
               "replay %.2f s (%.0f bucket closes/s)\n",
               stores, items, train_days, cats, static_cast<unsigned long long>(seed), secs,
               double(nkeys) * train_days / secs);
  std::fprintf(stderr, "fixed origin, horizon %d days:\n", horizon);
  std::fprintf(stderr, "  %-22s %8s %8s %8s %8s %8s %8s\n", "model", "sMAPE", "WAPE", "MASE",
               "bias", "cover", "width");
  auto row = [](const char* name, const Metric& m, bool cov) {
    std::fprintf(stderr, "  %-22s %8.3f %8.4f %8.4f %8.4f %8s %8s\n", name, m.s(), m.wape(),
                 m.mase(), m.bias(), cov ? std::to_string(m.cov()).substr(0, 6).c_str() : "-",
                 cov ? std::to_string(m.wid()).substr(0, 6).c_str() : "-");
  };
  row("shelfwatch", ours, true);
  row("seasonal naive (7)", naive7, false);
  row("yearly naive (364)", naive364, false);
  row("true mean (floor)", truem, false);
  for (int i = 0; i < 4 && i * 30 < horizon; ++i) {
    std::fprintf(stderr, "  shelfwatch days %3d-%3d sMAPE %.3f\n", i * 30 + 1,
                 std::min(horizon, i * 30 + 30), by_month[i].s());
  }
  std::fprintf(stderr, "rolling 7-day horizons over the last year:\n");
  row("shelfwatch", roll_ours, true);
  row("seasonal naive (7)", roll_naive, false);
  row("true mean (floor)", roll_true, false);
  std::fprintf(stderr, "models chosen: smoothing %d, croston_sba %d, tsb %d\n", models[0],
               models[1], models[2]);
  std::printf(
      "{\"eval\":\"forecast_synthetic\",\"stores\":%d,\"items\":%d,\"days\":%d,\"horizon\":%d,"
      "\"smape\":{\"shelfwatch\":%.4f,\"seasonal_naive\":%.4f,\"yearly_naive\":%.4f,"
      "\"true_mean\":%.4f},\"mase\":{\"shelfwatch\":%.4f,\"seasonal_naive\":%.4f,"
      "\"true_mean\":%.4f},\"wape\":{\"shelfwatch\":%.4f,\"true_mean\":%.4f},"
      "\"coverage\":%.4f,\"width\":%.4f,\"rolling7\":{\"smape\":%.4f,\"seasonal_naive\":%.4f,"
      "\"true_mean\":%.4f,\"coverage\":%.4f,\"width\":%.4f}}\n",
      stores, items, train_days, horizon, ours.s(), naive7.s(), naive364.s(), truem.s(),
      ours.mase(), naive7.mase(), truem.mase(), ours.wape(), truem.wape(), ours.cov(), ours.wid(),
      roll_ours.s(), roll_naive.s(), roll_true.s(), roll_ours.cov(), roll_ours.wid());
  return 0;
}
