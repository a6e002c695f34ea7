#pragma once
// The generator's catalog: the category table (elasticity, price level, lead times, weekly
// and yearly profiles), and the stores and SKUs drawn from it for a seed. build_catalog() is a
// pure function of the options; the simulation (sim/generator.cpp) then mutates the per-day
// fields of Sku (price, promotion, demand multiplier) as days pass. Not thread-safe.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/generator.h"

namespace sw::sim {

struct Category {
  const char* name;
  double elasticity_centre;
  double median_price;
  double lead_time_days;
  double lead_time_sd_days;
  double perishable_share;
  int shelf_life_days;
  double weekly[7];    // Monday..Sunday
  double monthly[12];  // January..December
};

inline constexpr int kCategoryCount = 12;
//! Month-of-year and day-of-week profiles are relative; build_catalog normalises them.
extern const std::array<Category, kCategoryCount> kCategories;
//! Display UTC offsets (minutes) of stores and of unkeyed events' RFC 3339 timestamps.
inline constexpr std::array<int, 8> kDisplayOffsetsMin = {60, 120, -300, 330, -480, 540, 0, -180};

struct Store {
  std::string name;
  double size = 1;
  int open_hour = 8;
  int close_hour = 21;
  int display_offset_min = 0;
  double latency_base_ms = 120;
  std::array<double, 24> hour_cdf{};  // cumulative intra-day profile over opening hours
  int64_t metric_anom_start = -1, metric_anom_end = -1;
  double metric_anom_mult = 1;
};

struct Promo {
  int64_t id = 0;                      // 0 = none
  int64_t start_day = 0, end_day = 0;  // [start, end) in simulation days
  int discount_pct = 0;
};

struct Sku {
  std::string name;
  int category = 0;
  double elasticity = -1;
  double trend_per_year = 0;
  double level = 1;  // relative demand level (long-tailed, mean 1)
  int64_t base_cents = 0;
  int64_t price_cents = 0;  // current chain-wide regular price
  int64_t cost_cents = 0;
  int64_t min_cents = 0, max_cents = 0, map_cents = 0;
  int lead_time_days = 4;
  double lead_time_sd_days = 1;
  double service_level = 0.95;
  int pack_size = 1;
  int moq = 1;
  bool perishable = false;
  int shelf_life_days = 0;
  bool competitor_tracked = false;
  Promo promo;
  // Per-day values.
  double day_mult = 1;  // seasonality x trend x price/promo effect at the chain price
  bool on_promo = false;
  int64_t day_price_cents = 0;  // shelf price today (promo applied)
};

struct Catalog {
  std::vector<Store> stores;
  std::vector<Sku> skus;
  double cat_weekly[kCategoryCount][7];    // normalised to mean 1
  double cat_monthly[kCategoryCount][12];  // normalised to mean 1
};

//! Draws the stores and SKUs of `options` (stores, skus, seed).
void build_catalog(const GeneratorOptions& options, Catalog& catalog);

}  // namespace sw::sim
