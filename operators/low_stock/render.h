#pragma once
// low_stock output rendering (operators/low_stock/low_stock.h): the `low_stock`, `stockout`
// and `overstock` alerts (envelope: DESIGN.md §3, details: docs/low_stock.md) and describe().

#include <cstdint>
#include <string>
#include <string_view>

#include "operators/low_stock/settings.h"
#include "operators/low_stock/state.h"
#include "stream/json_writer.h"

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
  double next_receipt_days = -1;              // low_stock exceptions: days to the earliest receipt
  const char* next_receipt_source = nullptr;  // "open_order", "on_order", "lead_time"
};
//! Appends the alert's JSON (summary and details) to `json`.
void render_alert(std::string& json, const Alert& a, const LowStockSettings& settings);

//! Appends "3", "2.5" or "unlimited" (one decimal at most): numbers in summaries.
void append_number(std::string& out, double v);
//! `v` rounded to `digits` decimals (0..6).
double round_digits(double v, int digits);

//! The alert envelope (DESIGN.md §3) around `details`, which writes the members of the
//! details object.
struct Envelope {
  std::string_view id, type, status, severity, store, sku, summary;
  int64_t ts_ms = 0;
};
template <typename Details>
void render_envelope(std::string& json, const Envelope& e, Details&& details) {
  JsonWriter w(json);
  w.begin_object();
  w.field("id", e.id).field("type", e.type).field("status", e.status).field("severity", e.severity);
  w.field("store", e.store).field("sku", e.sku);
  w.key("time").time_value(e.ts_ms);
  w.field("summary", e.summary);
  w.key("details").begin_object();
  details(w);
  w.end_object();
  w.stamp();
  w.end_object();
}

//! describe(): the key's state, plan and open alerts.
std::string render_describe(const KeyState& s, const Plan& p, std::string_view store,
                            std::string_view sku, double order_up_to, double order_qty);

}  // namespace sw::low_stock
