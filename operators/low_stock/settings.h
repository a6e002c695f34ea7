#pragma once
// low_stock settings: operators.low_stock.* (docs/low_stock.md).

#include <cstdint>
#include <string>
#include <vector>

namespace sw {

class Config;

struct LowStockSettings {
  double service_level = 0.95;
  double default_lead_time_days = 7;
  double default_lead_time_sd_days = 1;
  double review_period_days = 7;
  double overstock_days = 90;
  double demand_alpha = 0;  // derived from demand_half_life_days unless set
  double low_stock_clear_margin = 0.10;
  double overstock_clear_margin = 0.10;
  int64_t min_history_days = 7;
  double min_demand_per_day = 0.1;
  double stockout_clear_units = 1;

  // Replenishment workflow (docs/low_stock.md "Workflow").
  bool alert_on_reorder_point = false;  // legacy: `low_stock` fires on crossing the ROP
  bool recommendations = true;          // replenishment records on crossing the ROP
  double low_stock_probability = 0.5;   // exception: P(stock-out before next receipt) >= this
  double recommendation_clear_margin = 0.10;
  double auto_max_order_cost = 1000;    // approval: per-order limit of `auto` (0 = none)
  double store_daily_budget = 20000;    // approval: auto spend per store and local day
  double category_daily_budget = 5000;  // ... per store, category and local day
  int64_t new_item_days = 28;           // review while the key has fewer days of history
  double max_interval_cv = 1.0;         // review when sd/mean of lead-time demand is above
  double receipt_tolerance_days = 1;    // receipt_overdue after expected + tolerance
  double lead_time_prior_weight = 3;    // shrinkage of learned lead times (pseudo orders)
  double expiry_min_units = 3;          // expiry fires at this many projected unsold units
  double expiry_horizon_days = 14;      // lots expiring within this many days are assessed
  double expiry_min_cost = 20;          // ... and at least this cost at risk (when known)
  double transfer_min_qty = 2;
  double transfer_lead_days = 1;
  double dismiss_days = 7;     // feedback dismiss suppresses re-firing for this long
  double cooldown_hours = 24;  // low_stock/expiry/transfer/overdue may not re-fire sooner
  // Exceptions only (docs/replenishment.md "Alerts: exceptions only"); not in legacy mode.
  double stockout_min_lost_units = 1;     // stockout alerts: expected lost sales before the
                                          // next receipt at least this many units
  double overstock_min_excess_cost = 50;  // overstock: excess units x unit cost (when known)
  //! regions.<region>: store names per region, in config order (transfers stay inside one).
  std::vector<std::pair<std::string, std::vector<std::string>>> regions;

  //! Reads operators.low_stock.*; throws ConfigError naming the key and the fix.
  static LowStockSettings from_config(const Config& config);
};

}  // namespace sw
