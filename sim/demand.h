#pragma once
// The generator's demand and inventory model: transaction sizes, shelf prices, the (s, S)
// replenishment policy per (store, SKU) and its state through a simulated day. The per-day
// simulation that draws demand from it is sim/generator.cpp; the price response is
// price_demand_multiplier() (sim/generator.h). Pure functions and plain state, no threads.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim/catalog.h"
#include "sim/format.h"
#include "sim/rng.h"

namespace sw::sim {

inline constexpr double kMeanTxnQty = 1.25;  // P(1)=0.8, P(2)=0.15, P(3)=0.05
inline constexpr double kPromoDisplayUplift = 1.25;

inline int txn_qty(Rng& r) {
  double u = r.uniform();
  return u < 0.8 ? 1 : (u < 0.95 ? 2 : 3);
}

inline int64_t price_ending_cents(double price) {
  // Round to the nearest 10 cents, then end in 9 ("3.49"), at least 0.49.
  int64_t tens = std::llround(price * 10.0);
  return std::max<int64_t>(49, tens * 10 - 1);
}

inline double z_for_service_level(double sl) {
  if (sl >= 0.99) return 2.3263;
  if (sl >= 0.98) return 2.0537;
  if (sl >= 0.95) return 1.6449;
  return 1.2816;
}

//! Time of a store sale in ms after midnight, drawn from the store's opening-hour profile.
inline int sample_time(const Store& s, Rng& r) {
  double u = r.uniform();
  int h = s.open_hour;
  while (h < 23 && s.hour_cdf[static_cast<size_t>(h)] <= u) ++h;
  return static_cast<int>(h * kHourMs + static_cast<int64_t>(r.below(kHourMs)));
}

struct Pending {
  int32_t day = 0;
  int32_t t = 0;  // ms in day
  int32_t qty = 0;
  uint8_t kind = 0;        // 0 receipt, 1 transfer_in, 2 lost order written off (no event)
  int32_t order_day = -1;  // sim day of the purchase order (its po_id), -1 none
};

struct KeyState {
  float base_txn = 0;  // mean transactions per day at base price, before seasonality
  int32_t on_hand = 0;
  int32_t on_order = 0;
  int32_t reorder_point = 0;               // s
  int32_t order_up_to = 0;                 // S
  int32_t price_override_cents = 0;        // store-specific price, 0 = none
  int64_t anom_start = -1, anom_end = -1;  // epoch ms
  float anom_mult = 1;
  int64_t stockout_start = -1;  // epoch ms of the open stock-out, -1 = in stock
  int32_t stockout_lost = 0;
  uint8_t n_pending = 0;
  std::array<Pending, 4> pending{};
};

//! One KeyState per (store, sku), store-major: demand level, reorder point and order-up-to
//! level (a quarter of the keys get a too-small reorder point and stock out), opening stock.
void init_key_states(const GeneratorOptions& options, const Catalog& catalog,
                     std::vector<KeyState>& keys);

}  // namespace sw::sim
