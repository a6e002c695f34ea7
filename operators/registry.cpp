#include "operators/registry.h"

#include "operators/low_stock.h"

namespace sw {

OperatorSet make_operators(const Config& config) {
  OperatorSet set;
  if (config.get_bool("operators.low_stock.enabled", true)) {
    set.owned.push_back(std::make_unique<LowStockOperator>(config));
  }
  for (const std::string& name : config.children("operators")) {
    if (name != "low_stock") {
      throw ConfigError("operators." + name, "unknown operator",
                        "available operators: low_stock");
    }
  }
  return set;
}

}  // namespace sw
