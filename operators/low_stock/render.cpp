#include "operators/low_stock/render.h"

#include <charconv>
#include <cmath>
#include <type_traits>

#include "operators/low_stock/workflow.h"
#include "stream/json_writer.h"

namespace sw::low_stock {

namespace {

constexpr int64_t kDayMs = 86'400'000;

// Appends "3", "2.5" or "unlimited": readable numbers for summaries (one decimal at most).
void append_num(std::string& out, double v) {
  if (std::isinf(v)) {
    out += "unlimited";
    return;
  }
  double r = std::round(v * 10) / 10;
  if (r == 0) r = 0;  // no "-0"
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, r, std::chars_format::fixed, 1);
  char* end = res.ptr;
  if (end - buf >= 2 && end[-1] == '0' && end[-2] == '.') end -= 2;
  out.append(buf, end);
}

// Appends pieces: strings as they are, numbers through append_num().
void append_all(std::string&) {}
template <typename T, typename... Rest>
void append_all(std::string& out, const T& first, const Rest&... rest) {
  if constexpr (std::is_arithmetic_v<T>) {
    append_num(out, static_cast<double>(first));
  } else {
    out += first;
  }
  append_all(out, rest...);
}

// Like round_to(), without pow(): evidence values are rendered on every alert.
double rounded(double v, int digits) {
  static constexpr double kScale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  if (!std::isfinite(v)) return v;
  return std::round(v * kScale[digits]) / kScale[digits];
}

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

void append_number(std::string& out, double v) {
  append_num(out, v);
}

double round_digits(double v, int digits) {
  return rounded(v, digits);
}

std::string alert_id(std::string_view type, std::string_view store, std::string_view sku,
                     int64_t since_ms) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv1a(h, type);
  h = fnv1a(h, std::string_view("\x1f", 1));
  h = fnv1a(h, store);
  h = fnv1a(h, std::string_view("\x1f", 1));
  h = fnv1a(h, sku);
  h = fnv1a(h, std::string_view("\x1f", 1));
  char t[24];
  auto r = std::to_chars(t, t + sizeof t, since_ms);
  h = fnv1a(h, std::string_view(t, static_cast<size_t>(r.ptr - t)));
  // Final avalanche (splitmix64) so that nearby times give unrelated ids.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) id[static_cast<size_t>(i)] = kHex[h & 0xf];
  return id;
}

void render_alert(std::string& json, const Alert& a, const LowStockSettings& settings) {
  const Plan& p = *a.plan;
  const KeyState& s = *a.state;
  const std::string_view type = a.type, store = a.store, sku = a.sku;
  const double up_to = a.order_up_to, order_qty = a.order_qty;
  const int64_t ts_ms = a.ts_ms, since_ms = a.since_ms;
  const bool resolved = a.status == "resolved";

  std::string summary;
  summary.reserve(160);
  append_all(summary, sku, " at ", store, ": ");
  if (type == "low_stock" && a.next_receipt_days >= 0) {
    if (!resolved) {
      append_all(summary, p.on_hand, " units left, ", p.cover_days,
                 " days of cover, next receipt in ", a.next_receipt_days, " d (",
                 a.next_receipt_source, "); stock-out probability before it ",
                 std::round(a.stockout_probability * 100), "%, suggest ordering ", order_qty);
    } else {
      append_all(summary, "stock-out risk before the next receipt cleared (",
                 std::round(a.stockout_probability * 100), "%)");
    }
  } else if (type == "low_stock") {
    if (!resolved) {
      append_all(summary, p.on_hand, " units left, ", p.cover_days, " days of cover, lead time ",
                 p.lead, " d; position ", p.position, " below reorder point ", p.reorder_point,
                 ", suggest ordering ", order_qty);
    } else {
      append_all(summary, "low stock resolved, position ", p.position, " above ",
                 p.reorder_point * (1 + settings.low_stock_clear_margin), " (reorder point ",
                 p.reorder_point, " + margin)");
    }
  } else if (type == "stockout") {
    if (!resolved) {
      append_all(summary, "out of stock (on hand ", p.on_hand, "), demand ", p.demand,
                 "/day, suggest ordering ", order_qty);
    } else {
      append_all(summary, "back in stock, ", p.on_hand, " units on hand");
    }
  } else {
    if (!resolved) {
      append_all(summary, p.on_hand, " units, ", p.cover_days, " days of cover (limit ",
                 settings.overstock_days, " d)");
    } else {
      append_all(summary, "overstock resolved, ", p.cover_days, " days of cover");
    }
  }

  JsonWriter w(json);
  w.begin_object();
  w.field("id", a.id).field("type", type).field("status", a.status).field("severity", a.severity);
  w.field("store", store).field("sku", sku);
  w.key("time").time_value(ts_ms);
  w.field("summary", summary);
  w.key("details").begin_object();
  w.field("on_hand", rounded(p.on_hand, 3));
  w.field("on_order", rounded(p.on_order, 3));
  w.field("inventory_position", rounded(p.position, 3));
  w.field("days_of_cover", rounded(p.cover_days, 2));
  w.field("reorder_point", rounded(p.reorder_point, 3));
  w.field("safety_stock", rounded(p.safety_stock, 3));
  w.field("order_up_to", rounded(up_to, 3));
  w.field("suggested_order_qty", rounded(order_qty, 3));
  if (!std::isnan(p.cost)) w.field("suggested_order_cost", rounded(order_qty * p.cost, 2));
  w.field("demand_per_day", rounded(p.demand, 4));
  w.field("demand_sd", rounded(p.demand_sd, 4));
  w.field("demand_source", p.from_view ? "forecast" : "ewma");
  w.field("history_days", static_cast<int64_t>(s.history_days));
  w.field("lead_time_days", rounded(p.lead, 3));
  w.field("lead_time_sd_days", rounded(p.lead_sd, 3));
  w.field("review_period_days", rounded(p.review, 3));
  w.field("service_level", rounded(p.service_level, 4));
  w.field("pack_size", rounded(p.pack, 3));
  w.field("moq", rounded(p.moq, 3));
  w.key("projected_stockout");
  if (p.on_hand <= 0) {
    w.time_value(ts_ms);
  } else if (std::isfinite(p.cover_days)) {
    w.time_value(ts_ms + static_cast<int64_t>(std::llround(p.cover_days * kDayMs)));
  } else {
    w.null();
  }
  w.field("stockout_probability", rounded(a.stockout_probability, 4));
  if (type == "low_stock" && a.next_receipt_days >= 0) {
    w.field("next_receipt_days", rounded(a.next_receipt_days, 3));
    w.field("next_receipt_source", a.next_receipt_source);
  } else if (type == "low_stock") {
    w.field("clear_above", rounded(p.reorder_point * (1 + settings.low_stock_clear_margin), 3));
  } else if (type == "overstock") {
    w.field("overstock_days", settings.overstock_days);
    w.field("excess_units",
            rounded(std::max(0.0, p.on_hand - p.demand * settings.overstock_days), 3));
  }
  w.key("since").time_value(since_ms);
  w.end_object();
  w.stamp();
  w.end_object();
}

std::string render_describe(const KeyState& state, const Plan& p, std::string_view store,
                            std::string_view sku, double up_to, double order_qty) {
  const KeyState* s = &state;
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("store", store).field("sku", sku);
  w.field("inventory_known", (s->flags & kInventoryKnown) != 0);
  // Float-held fields are rounded so that describe() shows 2.8, not 2.799999952316284.
  w.field("on_hand", rounded(p.on_hand, 4)).field("on_order", rounded(p.on_order, 4));
  w.field("inventory_position", rounded(p.position, 4));
  w.field("demand_per_day", rounded(p.demand, 4));
  w.field("demand_sd", rounded(p.demand_sd, 4));
  w.field("demand_today", rounded(s->today_qty, 4));
  w.field("local_day", static_cast<int64_t>(s->day));
  w.field("history_days", static_cast<int64_t>(s->history_days));
  w.field("lead_time_days", rounded(p.lead, 4));
  w.field("lead_time_sd_days", rounded(p.lead_sd, 4));
  w.field("service_level", rounded(p.service_level, 4));
  w.field("pack_size", rounded(p.pack, 4)).field("moq", rounded(p.moq, 4));
  w.field("safety_stock", rounded(p.safety_stock, 4));
  w.field("reorder_point", rounded(p.reorder_point, 4));
  w.field("order_up_to", rounded(up_to, 4));
  w.field("suggested_order_qty", order_qty);
  w.field("days_of_cover", rounded(p.cover_days, 4));
  w.key("last_event").time_value(s->last_event_ms);
  w.key("open_alerts").begin_array();
  auto open = [&](std::string_view type, std::string_view severity, int64_t since) {
    w.begin_object();
    w.field("type", type).field("id", alert_id(type, store, sku, since));
    w.field("severity", severity);
    w.key("since").time_value(since);
    w.end_object();
  };
  if ((s->low_severity & kSeverityMask) != 0) {
    open("low_stock", (s->low_severity & kSeverityMask) == 2 ? "critical" : "warning",
         s->low_since_ms);
  }
  // A silent stockout episode (not an exception when it began) is no alert.
  if ((s->flags & kStockoutOpen) && !(s->low_severity & kStockoutSilent)) {
    open("stockout", "critical", s->stockout_since_ms);
  }
  if (s->flags & kOverstockOpen) open("overstock", "info", s->overstock_since_ms);
  w.end_array();
  w.end_object();
  return out;
}

}  // namespace sw::low_stock
