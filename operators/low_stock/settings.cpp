#include "operators/low_stock/settings.h"

#include <cmath>
#include <set>
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
  s.alert_on_reorder_point = config.get_bool(p + "alert_on_reorder_point", false);
  s.recommendations = config.get_bool(p + "recommendations", true);
  s.low_stock_probability = config.get_double(p + "low_stock_probability", 0.5, 0.01, 1);
  s.recommendation_clear_margin = config.get_double(p + "recommendation_clear_margin", 0.10, 0, 10);
  s.auto_max_order_cost = config.get_double(p + "auto_max_order_cost", 1000, 0, 1e12);
  s.store_daily_budget = config.get_double(p + "store_daily_budget", 20000, 0, 1e12);
  s.category_daily_budget = config.get_double(p + "category_daily_budget", 5000, 0, 1e12);
  s.new_item_days = config.get_int(p + "new_item_days", 28, 0, 3650);
  s.max_interval_cv = config.get_double(p + "max_interval_cv", 1.0, 0.01, 100);
  s.receipt_tolerance_days = config.get_double(p + "receipt_tolerance_days", 1, 0, 365);
  s.lead_time_prior_weight = config.get_double(p + "lead_time_prior_weight", 3, 0, 1000);
  s.expiry_min_units = config.get_double(p + "expiry_min_units", 3, 0.001, 1e9);
  s.expiry_horizon_days = config.get_double(p + "expiry_horizon_days", 14, 0.1, 3650);
  s.expiry_min_cost = config.get_double(p + "expiry_min_cost", 20, 0, 1e12);
  s.transfer_min_qty = config.get_double(p + "transfer_min_qty", 2, 0, 1e9);
  s.transfer_lead_days = config.get_double(p + "transfer_lead_days", 1, 0, 365);
  s.dismiss_days = config.get_double(p + "dismiss_days", 7, 0, 3650);
  s.cooldown_hours = config.get_double(p + "cooldown_hours", 24, 0, 8760);
  s.stockout_min_lost_units = config.get_double(p + "stockout_min_lost_units", 1, 0, 1e9);
  s.overstock_min_excess_cost = config.get_double(p + "overstock_min_excess_cost", 50, 0, 1e12);
  std::set<std::string> seen;
  for (const std::string& region : config.children("regions")) {
    const std::string key = "regions." + region;
    std::vector<std::string> stores = config.get_list(key);
    if (stores.empty()) {
      throw ConfigError(key, "region lists no stores", "give a list of store ids");
    }
    for (const std::string& st : stores) {
      if (!seen.insert(st).second) {
        throw ConfigError(key, "store '" + st + "' is in more than one region",
                          "list each store in one region only");
      }
    }
    s.regions.emplace_back(region, std::move(stores));
  }
  return s;
}

}  // namespace sw
