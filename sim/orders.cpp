#include "sim/orders.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/format.h"

namespace sw::sim {

std::string supplier_name(const Sku& sku, uint32_t sku_index) {
  const char* cat = kCategories[static_cast<size_t>(sku.category)].name;
  char buf[32];
  const int n = 1 + static_cast<int>(mix64(sku_index ^ 0x59u) % 3);
  std::snprintf(buf, sizeof buf, "SUP-%c%c%c-%d", cat[0] - 32, cat[1] - 32, cat[2] - 32, n);
  return buf;
}

std::string region_name(int region) {
  return "R" + std::to_string(region + 1);
}

OrderPlan plan_order(const Sku& sku, double late_rate, double lost_rate, Rng& r) {
  OrderPlan p;
  p.expected_days = sku.lead_time_days + static_cast<int>(std::ceil(sku.lead_time_sd_days));
  const int normal = std::max(
      1, static_cast<int>(std::lround(sku.lead_time_days + sku.lead_time_sd_days * r.normal())));
  const double u = r.uniform();
  if (u < lost_rate) {
    p.fate = OrderFate::kLost;
    p.arrival_days = p.expected_days + 10;  // the buyer writes it off then
  } else if (u < lost_rate + late_rate) {
    p.fate = OrderFate::kLate;
    p.arrival_days = p.expected_days + 2 + static_cast<int>(r.below(6));  // 2..7 days late
  } else {
    p.arrival_days = std::min(normal, p.expected_days);
  }
  return p;
}

char* write_order_fields(char* p, const Rec& rec, const EventContext& ctx) {
  const auto n_skus = static_cast<uint32_t>(ctx.catalog.skus.size());
  const uint32_t ki = rec.a % n_skus;
  int32_t order_day = rec.c;
  if (rec.sub != 5) {
    order_day = rec.c >> kOrderDayShift;
    p = put(p, ",\"on_order\":");
    p = put_i64(p, rec.c & ((1 << kOrderDayShift) - 1));
    if (rec.d >= 0) {
      p = put(p, ",\"expires\":\"");
      p = put_date(p, rec.d);
      *p++ = '"';
    }
  }
  p = put(p, ",\"po_id\":\"PO-");
  p = put_u64(p, rec.a);
  *p++ = '-';
  p = put_i64(p, order_day);
  *p++ = '"';
  if (rec.sub == 5) {
    p = put(p, ",\"supplier\":\"");
    p = put(p, supplier_name(ctx.catalog.skus[ki], ki));
    p = put(p, "\",\"expected\":\"");
    p = put_rfc3339(p, static_cast<int64_t>(rec.d) * kDayMs + 12 * kHourMs, 0);
    *p++ = '"';
  }
  return p;
}

const char* fate_name(OrderFate f) {
  switch (f) {
    case OrderFate::kOnTime:
      return "on_time";
    case OrderFate::kLate:
      return "late";
    case OrderFate::kLost:
      return "lost";
  }
  return "on_time";
}

void add_sim_lot(std::vector<SimLot>& lots, int32_t expires_day, int32_t units) {
  if (units <= 0) return;
  auto it = std::lower_bound(lots.begin(), lots.end(), expires_day,
                             [](const SimLot& l, int32_t d) { return l.expires_day < d; });
  if (it != lots.end() && it->expires_day == expires_day) {
    it->units += units;
  } else {
    lots.insert(it, SimLot{expires_day, units});
  }
}

void take_sim_lots(std::vector<SimLot>& lots, int32_t units) {
  size_t used = 0;
  for (; used < lots.size() && units > 0; ++used) {
    if (lots[used].units > units) {
      lots[used].units -= units;
      units = 0;
      break;
    }
    units -= lots[used].units;
  }
  lots.erase(lots.begin(), lots.begin() + static_cast<std::ptrdiff_t>(used));
}

int32_t expire_sim_lots(std::vector<SimLot>& lots, int32_t day, int32_t& first_expiry) {
  int32_t units = 0;
  size_t n = 0;
  first_expiry = -1;
  for (; n < lots.size() && lots[n].expires_day <= day; ++n) {
    if (first_expiry < 0) first_expiry = lots[n].expires_day;
    units += lots[n].units;
  }
  lots.erase(lots.begin(), lots.begin() + static_cast<std::ptrdiff_t>(n));
  return units;
}

}  // namespace sw::sim
