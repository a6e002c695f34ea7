#pragma once
// The operators the invariance suite (tests/stream/operator_invariance_test.cpp) runs: every
// entry of the operator table (operators/registry.cpp), so a new operator is covered by its
// table entry alone; operator_config() enables it alone.

#include <string>
#include <vector>

#include "operators/registry.h"
#include "stream/config.h"

namespace sw::testing {

//! Names as in operators.<name> of the configuration, in table order.
inline std::vector<std::string> invariance_operators() {
  std::vector<std::string> out;
  for (const OperatorEntry& e : operator_table()) out.emplace_back(e.name);
  return out;
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
