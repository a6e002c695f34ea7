#pragma once
// Price guardrails (DESIGN.md §6, docs/price.md): a proposed price never goes below
// cost × (1 + minimum margin), below MAP or the item's minimum price, above the item's
// maximum price, more than the largest step per day away from the current price, and it
// ends in the category's price ending (.99, or .x9: any price whose last cent digit is 9). Prices
// are whole cents. When the limits leave no admissible price (MAP above the maximum price, a floor
// more than one step above the current price, no .99 price in the window), there is no proposal and
// `conflict` names the limits that collide. Pure functions; the cool-down is checked by the
// operator.

#include <cstdint>
#include <string>
#include <string_view>

namespace sw::price {

//! Bits of Proposal::bound_by and Window::lo_by / hi_by.
enum Guardrail : uint32_t {
  kMinMargin = 1,    // cost × (1 + min_margin)
  kMap = 2,          // minimum advertised price
  kMinPrice = 4,     // item min_price
  kMaxPrice = 8,     // item max_price
  kMaxStep = 16,     // largest step per day
  kPriceEnding = 32  // the category's price ending
};
inline constexpr uint32_t kGuardrailCount = 6;
//! "min_margin", "map", "min_price", "max_price", "max_step", "price_ending".
std::string_view guardrail_name(uint32_t bit);

//! The limits of one key at one instant; NaN (or <= 0 for the prices) = not set.
struct Limits {
  double current_price = 0;  // > 0
  double cost = 0;           // unit cost; NaN = unknown (no margin floor)
  double min_margin = 0;     // fraction, e.g. 0.05
  double map_price = 0;
  double min_price = 0;
  double max_price = 0;
  double max_step = 0;       // fraction of the current price per change, e.g. 0.10; <= 0 = none
  int ending_cents = -1;     // prices end so that cents % ending_modulus == ending_cents;
  int ending_modulus = 100;  // 100: ".99" (last two digits), 10: ".x9" (last digit)
};                           // ending_cents < 0: any whole cent
//! ".99", ".x9", or "none" for a limits' price ending.
std::string ending_name(const Limits& limits);

//! The admissible interval before price endings, and which limits define its ends.
struct Window {
  double lo = 0, hi = 0;
  uint32_t lo_by = 0, hi_by = 0;
  std::string conflict;  // non-empty: no admissible price
};
Window window(const Limits& limits);

struct Proposal {
  bool has_price = false;
  double price = 0;       // whole cents, inside every limit
  double target = 0;      // the unconstrained target the caller asked for
  uint32_t bound_by = 0;  // limits that clipped the target
  std::string conflict;   // why there is no price
};
//! The admissible price nearest to `target` (after clipping to the window, the nearest
//! price with the ending inside it), never on the other side of the current price than the
//! target (that is a conflict: the ending leaves no move in the wanted direction).
Proposal propose(double target, const Limits& limits);

//! True if `price` satisfies every limit (within 1e-9), the ending included.
bool admissible(double price, const Limits& limits);

}  // namespace sw::price
