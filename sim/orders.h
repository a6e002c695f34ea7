#pragma once
// The generator's purchase orders, perishable lots and regions (docs/generator.md "Orders,
// lots and regions"): who supplies a SKU, what happens to an order (on time, late, never),
// which region a store belongs to, and the first-expiring-first lots of a perishable key.
// Pure functions and plain state; the day-by-day hooks are in sim/generator.cpp. Draws come
// from their own random streams, so turning these features on or off does not change any
// other draw of the simulation.

#include <cstdint>
#include <string>
#include <vector>

#include "sim/catalog.h"
#include "sim/event_writer.h"
#include "sim/rng.h"

namespace sw::sim {

//! "SUP-DAI-2": two or three suppliers per category, a function of the sku index.
std::string supplier_name(const Sku& sku, uint32_t sku_index);
//! Region index of store `store` (0-based, `region_size` consecutive stores per region).
inline int region_of(uint32_t store, int region_size) {
  return region_size > 0 ? static_cast<int>(store) / region_size : -1;
}
//! "R1", "R2", ...
std::string region_name(int region);

enum class OrderFate : uint8_t { kOnTime, kLate, kLost };
struct OrderPlan {
  int expected_days = 0;  // promised lead time: the sku's lead time + ceil(its sd)
  int arrival_days = 0;   // actual lead time (kLost: when the buyer gives up)
  OrderFate fate = OrderFate::kOnTime;
};
//! The fate of an order placed today for `sku` (late_rate, lost_rate from the options).
OrderPlan plan_order(const Sku& sku, double late_rate, double lost_rate, Rng& r);
const char* fate_name(OrderFate f);

//! Rec layout of the order fields: an `order` (sub 5) has b = qty, c = the order's sim day
//! (its po_id is "PO-<key>-<day>"), d = expected day; a receipt of an order (sub 1, flags 1)
//! has c = on_order | (order day << 20), d = expiry day or -1.
inline constexpr int kOrderDayShift = 20;
//! Writes the fields after `qty` of an order or of a receipt that names its order.
char* write_order_fields(char* p, const Rec& rec, const EventContext& ctx);

//! A perishable lot in the simulation: `units` that expire at the start of `expires_day`
//! (days since 1970-01-01).
struct SimLot {
  int32_t expires_day;
  int32_t units;
};
//! Adds a lot, keeping `lots` ordered by expiry.
void add_sim_lot(std::vector<SimLot>& lots, int32_t expires_day, int32_t units);
//! Takes `units` first-expiring-first (untracked units are not in any lot).
void take_sim_lots(std::vector<SimLot>& lots, int32_t units);
//! Removes the lots expired by `day` and returns their units.
int32_t expire_sim_lots(std::vector<SimLot>& lots, int32_t day, int32_t& first_expiry);

}  // namespace sw::sim
