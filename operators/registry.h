#pragma once
// The operator table: the one place that knows every operator. Registering an operator is one
// entry in registry.cpp: its name, a factory that reads operators.<name>.* (pure: no I/O),
// the views it publishes and reads, the output streams and alert types it emits. Everything
// else that lists operators is derived from the table: the unknown-operator hint, the
// delivery sink's alert-type labels (cli/pipeline.cpp), the invariance tests. Entries are in
// construction order: an operator that publishes a view comes before those that read it
// (forecast before low_stock), so readers see a view current for the event.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stream/config.h"
#include "stream/operator.h"
#include "stream/output.h"

namespace sw {

struct OperatorEntry {
  std::string_view name;  // also the config section operators.<name>
  //! Reads operators.<name>.* (ConfigError on bad values) and builds the operator; publishes
  //! the operator's views into `views`.
  std::unique_ptr<Operator> (*make)(const Config& config, OperatorViews& views);
  std::vector<std::string_view> publishes;    // view names ("demand": OperatorViews::demand)
  std::vector<std::string_view> reads;        // views it reads when present
  std::vector<OutputStream> streams;          // output streams it emits
  std::vector<std::string_view> alert_types;  // `type` of its records on the alerts stream
  bool enabled_by_default = true;
};

//! Every operator, in construction order.
std::span<const OperatorEntry> operator_table();
//! The entry named `name`, or null.
const OperatorEntry* find_operator(std::string_view name);
//! Every alert type of every entry, in table order ("low_stock", "stockout", ...).
std::vector<std::string> operator_alert_types();
//! "available operators: forecast, low_stock, anomaly" (the unknown-operator hint).
std::string available_operators_hint();

struct OperatorSet {
  std::vector<std::unique_ptr<Operator>> owned;
  OperatorViews views;
  std::vector<Operator*> pointers() const {
    std::vector<Operator*> out;
    for (const auto& o : owned) out.push_back(o.get());
    return out;
  }
};

//! Reads operators.<name>.enabled and each enabled operator's keys, in table order; an
//! operators.<name> section for a name not in the table is a ConfigError listing the table.
OperatorSet make_operators(const Config& config);
//! Builds exactly the named operators (in table order, whatever `enabled` says) and marks
//! the other operators' sections read: tools that run one operator (backtest, score-csv).
OperatorSet make_operators(const Config& config, const std::vector<std::string_view>& only);

}  // namespace sw
