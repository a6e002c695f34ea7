#pragma once
// Monte Carlo price what-if (`shelfwatch simulate`, docs/price.md "simulate"): expected units,
// revenue, margin and stock-out probability over N days at a price against the current
// price. Each run draws an elasticity from the estimate's normal distribution, then each day
// a demand multiplier from a gamma distribution whose spread makes the daily variance match
// the forecast's, and Poisson units; stock (on hand, plus on order arriving after the lead
// time) caps sales when known. Both scenarios share every random draw (common random
// numbers), so their difference is sharper than either figure. Deterministic for a seed.

#include <cstdint>

namespace sw::cli {

struct WhatIfInputs {
  double current_price = 0;
  double price = 0;           // the what-if price
  double cost = 0;            // NaN: unknown (margins are NaN)
  double demand_per_day = 0;  // expected units/day at the current price
  double demand_sd = 0;       // sd of daily demand (<= sqrt(mean): pure Poisson)
  double elasticity = 0;
  double elasticity_var = 0;
  bool stock_known = false;  // false: no stock limit
  double on_hand = 0;
  double on_order = 0;
  double lead_time_days = 0;  // on_order arrives at the start of this day
  int days = 28;
  int runs = 2000;
  uint64_t seed = 1;
};

//! Mean over runs and the 5th/95th percentiles (a 90% interval).
struct Figure {
  double mean = 0, lo = 0, hi = 0;
};

struct WhatIfScenario {
  double price = 0;
  Figure units, revenue, margin;
  double stockout_probability = 0;  // share of runs with a day whose demand exceeded stock
};

struct WhatIfResult {
  WhatIfScenario current, proposed;
};

//! Runs the simulation; inputs are assumed valid (price > 0, days >= 1, runs >= 1).
WhatIfResult simulate_what_if(const WhatIfInputs& in);

}  // namespace sw::cli
