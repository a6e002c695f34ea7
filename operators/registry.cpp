#include "operators/registry.h"

#include <algorithm>

#include "operators/anomaly/anomaly.h"
#include "operators/forecast/forecast.h"
#include "operators/low_stock/low_stock.h"
#include "operators/price/price.h"

namespace sw {

namespace {

const std::vector<OperatorEntry>& table() {
  static const std::vector<OperatorEntry> kTable = {
      {"forecast",
       [](const Config& c, OperatorViews& v) -> std::unique_ptr<Operator> {
         auto op = std::make_unique<ForecastOperator>(ForecastOptions::from_config(c));
         v.demand = op->demand_view();
         return op;
       },
       {"demand"},
       {},
       {OutputStream::kForecasts, OutputStream::kAlerts},
       {"forecast_drift"}},
      {"low_stock",
       [](const Config& c, OperatorViews& v) -> std::unique_ptr<Operator> {
         auto op = std::make_unique<LowStockOperator>(c);
         v.inventory = op->inventory_view();
         return op;
       },
       {"inventory"},
       // Also reads OperatorViews::anomalies when present (approval escalates on an open
       // anomaly); not listed while the anomaly entry comes after this one in the table.
       {"demand"},
       {OutputStream::kAlerts, OutputStream::kReplenishment},
       {"low_stock", "stockout", "overstock", "expiry", "transfer", "receipt_overdue"}},
      {"anomaly",
       [](const Config& c, OperatorViews& v) -> std::unique_ptr<Operator> {
         auto op = std::make_unique<AnomalyOperator>(c);
         v.anomalies = op->anomaly_view();
         return op;
       },
       {"anomalies"},
       {},
       {OutputStream::kAlerts, OutputStream::kScores},
       {"anomaly"}},
      {"price",
       [](const Config& c, OperatorViews&) -> std::unique_ptr<Operator> {
         return std::make_unique<PriceOperator>(c);
       },
       {},
       {"demand", "inventory", "anomalies"},
       {OutputStream::kPriceTriggers},
       {}},
  };
  return kTable;
}

void reject_unknown(const Config& config) {
  for (const std::string& name : config.children("operators")) {
    if (find_operator(name) == nullptr) {
      throw ConfigError("operators." + name, "unknown operator", available_operators_hint());
    }
  }
}

}  // namespace

std::span<const OperatorEntry> operator_table() {
  return table();
}

const OperatorEntry* find_operator(std::string_view name) {
  for (const OperatorEntry& e : table()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::vector<std::string> operator_alert_types() {
  std::vector<std::string> out;
  for (const OperatorEntry& e : table()) {
    for (std::string_view t : e.alert_types) {
      if (std::find(out.begin(), out.end(), t) == out.end()) out.emplace_back(t);
    }
  }
  return out;
}

std::string available_operators_hint() {
  std::string out = "available operators: ";
  for (const OperatorEntry& e : table()) {
    if (&e != &table().front()) out += ", ";
    out += e.name;
  }
  return out;
}

OperatorSet make_operators(const Config& config) {
  OperatorSet set;
  for (const OperatorEntry& e : table()) {
    const std::string section = "operators." + std::string(e.name);
    if (config.get_bool(section + ".enabled", e.enabled_by_default)) {
      set.owned.push_back(e.make(config, set.views));
    } else {
      // Read with the same factory, so a known key is "unused" and a typo is still unknown.
      config.read_unused(section + ".enabled=false", [&] {
        OperatorViews scratch;
        (void)e.make(config, scratch);
      });
    }
  }
  config.mark_read("regions");  // DESIGN.md §3a; read by low_stock when it is enabled
  reject_unknown(config);
  return set;
}

OperatorSet make_operators(const Config& config, const std::vector<std::string_view>& only) {
  OperatorSet set;
  for (const OperatorEntry& e : table()) {
    if (std::find(only.begin(), only.end(), e.name) != only.end()) {
      set.owned.push_back(e.make(config, set.views));
    }
  }
  config.mark_read("operators");
  return set;
}

}  // namespace sw
