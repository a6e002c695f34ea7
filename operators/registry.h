#pragma once
// The one place that knows every operator: builds the enabled ones from config, in a fixed
// order (forecast first, so its view is current when low_stock reads it), and wires views.

#include <memory>
#include <vector>

#include "stream/config.h"
#include "stream/operator.h"

namespace sw {

struct OperatorSet {
  std::vector<std::unique_ptr<Operator>> owned;
  OperatorViews views;
  std::vector<Operator*> pointers() const {
    std::vector<Operator*> out;
    for (const auto& o : owned) out.push_back(o.get());
    return out;
  }
};

//! Reads operators.<name>.enabled and each operator's keys; throws ConfigError.
OperatorSet make_operators(const Config& config);

}  // namespace sw
