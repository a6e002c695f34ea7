#pragma once
// low_stock output rendering (operators/low_stock/low_stock.h): the `low_stock`, `stockout`
// and `overstock` alerts (envelope: DESIGN.md §3, details: docs/low_stock.md) and describe().

#include <cstdint>
#include <string>
#include <string_view>

#include "operators/low_stock/settings.h"
#include "operators/low_stock/state.h"

namespace sw::low_stock {

//! Stable alert id: hex of a 64-bit hash of (type, store, sku, episode start time).
std::string alert_id(std::string_view type, std::string_view store, std::string_view sku,
                     int64_t since_ms);

//! One alert of a key: what it says and the figures behind it.
struct Alert {
  std::string_view id, type, status, severity;
  std::string_view store, sku;
  int64_t ts_ms = 0;
  int64_t since_ms = 0;
  const KeyState* state = nullptr;
  const Plan* plan = nullptr;
  double order_up_to = 0;
  double order_qty = 0;
  double stockout_probability = 0;
};
//! Appends the alert's JSON (summary and details) to `json`.
void render_alert(std::string& json, const Alert& a, const LowStockSettings& settings);

//! describe(): the key's state, plan and open alerts.
std::string render_describe(const KeyState& s, const Plan& p, std::string_view store,
                            std::string_view sku, double order_up_to, double order_qty);

}  // namespace sw::low_stock
