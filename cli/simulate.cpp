#include "cli/simulate.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "sim/rng.h"

namespace sw::cli {

namespace {

// Marsaglia-Tsang gamma(shape, 1) (shape < 1 via the u^(1/shape) boost).
double gamma(sim::Rng& r, double shape) {
  if (shape < 1) return gamma(r, shape + 1) * std::pow(1.0 - r.uniform(), 1 / shape);
  const double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
  for (;;) {
    double x, v;
    do {
      x = r.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = 1.0 - r.uniform();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

Figure summarise(std::vector<double>& v) {
  Figure f;
  double sum = 0;
  for (double x : v) sum += x;
  f.mean = sum / static_cast<double>(v.size());
  std::sort(v.begin(), v.end());
  auto q = [&](double p) {
    const double pos = p * static_cast<double>(v.size() - 1);
    const size_t i = static_cast<size_t>(pos);
    const double frac = pos - static_cast<double>(i);
    return i + 1 < v.size() ? v[i] * (1 - frac) + v[i + 1] * frac : v[i];
  };
  f.lo = q(0.05);
  f.hi = q(0.95);
  return f;
}

}  // namespace

WhatIfResult simulate_what_if(const WhatIfInputs& in) {
  const size_t runs = static_cast<size_t>(std::max(1, in.runs));
  const double d0 = std::max(0.0, in.demand_per_day);
  // Gamma shape k so that Var(Poisson(d0·ε)) = d0 + d0²/k equals the forecast's variance.
  const double extra = in.demand_sd * in.demand_sd - d0;
  const double shape = (d0 > 0 && extra > 1e-9 * d0) ? d0 * d0 / extra : 0;  // 0: no gamma
  const double sd_b = std::sqrt(std::max(0.0, in.elasticity_var));
  const double r = std::log(in.price / in.current_price);
  const int arrival_day = static_cast<int>(std::ceil(std::max(0.0, in.lead_time_days)));

  struct Acc {
    std::vector<double> units, revenue, margin;
    size_t stockouts = 0;
  } acc[2];
  for (auto& a : acc) {
    a.units.reserve(runs);
    a.revenue.reserve(runs);
    a.margin.reserve(runs);
  }
  const double prices[2] = {in.current_price, in.price};
  for (size_t run = 0; run < runs; ++run) {
    sim::Rng rng(in.seed, run, 0);
    const double b = in.elasticity + sd_b * rng.normal();
    const double mult[2] = {1.0, std::exp(b * r)};
    double stock[2] = {in.on_hand, in.on_hand};
    double units[2] = {0, 0};
    bool out[2] = {false, false};
    for (int day = 0; day < in.days; ++day) {
      const double eps = shape > 0 ? gamma(rng, shape) / shape : 1.0;
      // One uniform stream per day shared by both scenarios: Poisson draws by inversion of
      // the same uniforms keep the scenarios coupled.
      sim::Rng day_rng(in.seed ^ 0x5bd1e995u, run, static_cast<uint64_t>(day) + 1);
      for (int s = 0; s < 2; ++s) {
        sim::Rng dr = day_rng;
        double demand = static_cast<double>(dr.poisson(d0 * eps * mult[s]));
        if (in.stock_known) {
          if (day == arrival_day) stock[s] += in.on_order;
          if (demand > stock[s]) {
            out[s] = true;
            demand = std::max(0.0, stock[s]);
          }
          stock[s] -= demand;
        }
        units[s] += demand;
      }
    }
    for (int s = 0; s < 2; ++s) {
      acc[s].units.push_back(units[s]);
      acc[s].revenue.push_back(units[s] * prices[s]);
      acc[s].margin.push_back(std::isfinite(in.cost) ? units[s] * (prices[s] - in.cost) : NAN);
      if (out[s]) ++acc[s].stockouts;
    }
  }
  WhatIfResult res;
  WhatIfScenario* sc[2] = {&res.current, &res.proposed};
  for (int s = 0; s < 2; ++s) {
    sc[s]->price = prices[s];
    sc[s]->units = summarise(acc[s].units);
    sc[s]->revenue = summarise(acc[s].revenue);
    if (std::isfinite(in.cost)) {
      sc[s]->margin = summarise(acc[s].margin);
    } else {
      sc[s]->margin = {NAN, NAN, NAN};
    }
    sc[s]->stockout_probability = static_cast<double>(acc[s].stockouts) / static_cast<double>(runs);
  }
  return res;
}

}  // namespace sw::cli
