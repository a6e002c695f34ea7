#include "operators/registry.h"

#include "operators/anomaly/anomaly.h"
#include "operators/forecast/forecast.h"
#include "operators/low_stock/low_stock.h"

namespace sw {

OperatorSet make_operators(const Config& config) {
  OperatorSet set;
  // Order matters: forecast runs first so low_stock reads a current demand view.
  if (config.get_bool("operators.forecast.enabled", true)) {
    auto forecast = std::make_unique<ForecastOperator>(ForecastOptions::from_config(config));
    set.views.demand = forecast->demand_view();
    set.owned.push_back(std::move(forecast));
  } else {
    config.mark_read("operators.forecast");
  }
  if (config.get_bool("operators.low_stock.enabled", true)) {
    set.owned.push_back(std::make_unique<LowStockOperator>(config));
  } else {
    config.mark_read("operators.low_stock");
  }
  if (config.get_bool("operators.anomaly.enabled", true)) {
    set.owned.push_back(std::make_unique<AnomalyOperator>(config));
  } else {
    config.mark_read("operators.anomaly");
  }
  for (const std::string& name : config.children("operators")) {
    if (name != "low_stock" && name != "forecast" && name != "anomaly") {
      throw ConfigError("operators." + name, "unknown operator",
                        "available operators: forecast, low_stock, anomaly");
    }
  }
  return set;
}

}  // namespace sw
