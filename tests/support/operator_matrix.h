#pragma once
// The operators the invariance suite (tests/stream/operator_invariance_test.cpp) runs, one
// place for the list: a new operator is covered by adding its name here (later: derived from
// the operator table), and operator_config() enables it alone.

#include <string>
#include <vector>

#include "stream/config.h"

namespace sw::testing {

//! Names as in operators.<name> of the configuration.
inline std::vector<std::string> invariance_operators() {
  return {"forecast", "low_stock", "anomaly", "price"};
}

//! A configuration with only `name` enabled (every operator's other settings at defaults).
inline Config operator_config(const std::string& name) {
  std::string yaml = "operators:\n";
  for (const std::string& op : invariance_operators()) {
    yaml += "  " + op + ": {enabled: " + (op == name ? "true" : "false") + "}\n";
  }
  return Config::from_yaml(yaml);
}

}  // namespace sw::testing
