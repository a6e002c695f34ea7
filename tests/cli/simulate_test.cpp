// The Monte Carlo what-if behind `shelfwatch simulate` (cli/simulate.h): against the closed
// form of constant elasticity with Poisson demand and no stock limit, deterministic for a
// seed, and stock-outs when stock caps sales.

#include "cli/simulate.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sw::cli {
namespace {

WhatIfInputs base() {
  WhatIfInputs in;
  in.current_price = 5.0;
  in.price = 4.5;
  in.cost = 3.0;
  in.demand_per_day = 10;
  in.demand_sd = std::sqrt(10.0);  // pure Poisson
  in.elasticity = -2.0;
  in.elasticity_var = 0.04;
  in.days = 28;
  in.runs = 20000;
  in.seed = 11;
  return in;
}

TEST(SimulateTest, ExpectedUnitsMatchTheClosedFormWithin2Percent) {
  for (double price : {4.5, 5.0, 5.75}) {
    WhatIfInputs in = base();
    in.price = price;
    const WhatIfResult r = simulate_what_if(in);
    // E[units] = N · d0 · E[(P/p0)^b], b ~ N(−2, 0.04): N · d0 · exp(b·r + var·r²/2).
    const double x = std::log(price / in.current_price);
    const double want = in.days * in.demand_per_day * std::exp(-2.0 * x + 0.5 * 0.04 * x * x);
    EXPECT_NEAR(r.proposed.units.mean, want, 0.02 * want) << price;
    EXPECT_NEAR(r.current.units.mean, in.days * in.demand_per_day,
                0.02 * in.days * in.demand_per_day);
    EXPECT_NEAR(r.proposed.revenue.mean, price * r.proposed.units.mean, 1e-6 * want * price);
    EXPECT_NEAR(r.proposed.margin.mean, (price - 3.0) * r.proposed.units.mean, 1e-6 * want);
    EXPECT_LT(r.proposed.units.lo, r.proposed.units.mean);
    EXPECT_GT(r.proposed.units.hi, r.proposed.units.mean);
    EXPECT_EQ(r.proposed.stockout_probability, 0);  // no stock limit
  }
}

TEST(SimulateTest, ForecastSpreadWidensTheIntervalNotTheMean) {
  WhatIfInputs in = base();
  in.elasticity_var = 0;
  const WhatIfResult poisson = simulate_what_if(in);
  in.demand_sd = 6;  // over-dispersed: gamma-Poisson
  const WhatIfResult wide = simulate_what_if(in);
  EXPECT_NEAR(wide.proposed.units.mean, poisson.proposed.units.mean,
              0.02 * poisson.proposed.units.mean);
  EXPECT_GT(wide.proposed.units.hi - wide.proposed.units.lo,
            1.5 * (poisson.proposed.units.hi - poisson.proposed.units.lo));
}

TEST(SimulateTest, DeterministicForASeed) {
  WhatIfInputs in = base();
  in.runs = 500;
  const WhatIfResult a = simulate_what_if(in), b = simulate_what_if(in);
  EXPECT_EQ(a.proposed.units.mean, b.proposed.units.mean);
  EXPECT_EQ(a.proposed.units.hi, b.proposed.units.hi);
  in.seed = 12;
  EXPECT_NE(simulate_what_if(in).proposed.units.mean, a.proposed.units.mean);
}

TEST(SimulateTest, StockCapsSalesAndReceiptsArrive) {
  WhatIfInputs in = base();
  in.runs = 2000;
  in.stock_known = true;
  in.on_hand = 100;  // 10/day: ~10 days of cover at the current price
  in.on_order = 0;
  const WhatIfResult r = simulate_what_if(in);
  EXPECT_LE(r.current.units.hi, 100);
  EXPECT_GT(r.current.stockout_probability, 0.99);
  in.on_order = 1000;
  in.lead_time_days = 5;
  const WhatIfResult with_order = simulate_what_if(in);
  EXPECT_LT(with_order.current.stockout_probability, 0.05);
  // Raising the price lowers the stock-out risk.
  in.on_order = 0;
  in.on_hand = 270;
  in.price = 6.0;
  const WhatIfResult up = simulate_what_if(in);
  EXPECT_LT(up.proposed.stockout_probability, up.current.stockout_probability);
}

TEST(SimulateTest, UnknownCostGivesNoMargin) {
  WhatIfInputs in = base();
  in.runs = 100;
  in.cost = NAN;
  EXPECT_TRUE(std::isnan(simulate_what_if(in).proposed.margin.mean));
}

}  // namespace
}  // namespace sw::cli
