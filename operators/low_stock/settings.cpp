#include "operators/low_stock/settings.h"

#include <cmath>
#include <string>

#include "stream/config.h"

namespace sw {

LowStockSettings LowStockSettings::from_config(const Config& config) {
  const std::string p = "operators.low_stock.";
  LowStockSettings s;
  s.service_level = config.get_double(p + "service_level", 0.95, 0.5, 0.9999);
  s.default_lead_time_days = config.get_double(p + "default_lead_time_days", 7, 0, 365);
  s.default_lead_time_sd_days = config.get_double(p + "default_lead_time_sd_days", 1, 0, 365);
  s.review_period_days = config.get_double(p + "review_period_days", 7, 0, 365);
  s.overstock_days = config.get_double(p + "overstock_days", 90, 1, 3650);
  double half_life = config.get_double(p + "demand_half_life_days", 14, 0.5, 3650);
  s.demand_alpha = 1 - std::pow(0.5, 1 / half_life);
  if (config.has(p + "demand_alpha")) {
    s.demand_alpha = config.get_double(p + "demand_alpha", s.demand_alpha, 0.001, 1);
  }
  s.low_stock_clear_margin = config.get_double(p + "low_stock_clear_margin", 0.10, 0, 10);
  s.overstock_clear_margin = config.get_double(p + "overstock_clear_margin", 0.10, 0, 0.99);
  s.min_history_days = config.get_int(p + "min_history_days", 7, 0, 3650);
  s.min_demand_per_day = config.get_double(p + "min_demand_per_day", 0.1, 0, 1e9);
  s.stockout_clear_units = config.get_double(p + "stockout_clear_units", 1, 0, 1e9);
  return s;
}

}  // namespace sw
