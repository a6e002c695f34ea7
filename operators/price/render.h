#pragma once
// price output rendering (operators/price/price.h): price triggers in the alert envelope
// (DESIGN.md §3: type "price", top-level reason and approval; details: docs/price.md) and
// describe().

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "operators/price/guardrails.h"
#include "operators/price/state.h"

namespace sw::price {

//! Stable trigger id: hex of a 64-bit hash of ("price", reason, store, sku, episode start).
std::string trigger_id(std::string_view reason, std::string_view store, std::string_view sku,
                       int64_t since_ms);

struct Trigger {
  std::string_view id, status, severity, reason, approval, store, sku;
  int64_t ts_ms = 0, since_ms = 0;
  const Facts* facts = nullptr;        // firing records
  const Proposal* proposal = nullptr;  // firing records; null: no proposal (see note)
  int direction = 0;                   // -1 lower, +1 raise
  std::string_view why;                // the reason's evidence in one line
  std::string_view note;               // why there is no proposal / what resolved it
  const std::vector<std::string_view>* approval_why = nullptr;
};
//! Appends the trigger's JSON object to `json`.
void render_trigger(std::string& json, const Trigger& t);

//! describe(): prices, elasticity estimates and open triggers of a key.
std::string render_describe(const KeyState& s, const Facts* f, std::string_view store,
                            std::string_view sku);

}  // namespace sw::price
