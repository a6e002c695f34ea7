#pragma once
// low_stock settings: operators.low_stock.* (docs/low_stock.md).

#include <cstdint>

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

  //! Reads operators.low_stock.*; throws ConfigError naming the key and the fix.
  static LowStockSettings from_config(const Config& config);
};

}  // namespace sw
