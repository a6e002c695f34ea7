#include "sim/catalog.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/demand.h"
#include "sim/rng.h"

namespace sw::sim {

const std::array<Category, kCategoryCount> kCategories = {{
    {"grocery",
     -1.3,
     3.0,
     4,
     1.0,
     0.0,
     0,
     {0.9, 0.88, 0.9, 0.95, 1.12, 1.3, 0.95},
     {0.95, 0.9, 0.97, 1.0, 1.0, 1.0, 1.02, 1.02, 0.98, 1.0, 1.03, 1.15}},
    {"produce",
     -1.1,
     2.2,
     2,
     0.5,
     1.0,
     7,
     {0.92, 0.9, 0.95, 0.95, 1.1, 1.28, 0.9},
     {0.85, 0.85, 0.92, 1.0, 1.08, 1.15, 1.15, 1.12, 1.05, 0.98, 0.92, 0.95}},
    {"dairy",
     -1.0,
     1.8,
     3,
     0.7,
     1.0,
     14,
     {0.95, 0.92, 0.95, 0.97, 1.08, 1.22, 0.91},
     {1.0, 0.98, 1.0, 1.0, 0.98, 0.97, 0.96, 0.96, 1.0, 1.02, 1.03, 1.1}},
    {"bakery",
     -0.9,
     2.5,
     1,
     0.3,
     1.0,
     3,
     {0.95, 0.9, 0.92, 0.95, 1.1, 1.3, 0.88},
     {0.97, 0.95, 0.98, 1.02, 1.0, 0.98, 0.96, 0.96, 1.0, 1.02, 1.04, 1.12}},
    {"beverages",
     -1.8,
     2.8,
     5,
     1.5,
     0.0,
     0,
     {0.88, 0.87, 0.9, 0.98, 1.15, 1.3, 0.92},
     {0.75, 0.75, 0.85, 0.95, 1.1, 1.3, 1.4, 1.35, 1.1, 0.9, 0.8, 0.95}},
    {"frozen",
     -1.4,
     4.5,
     5,
     1.2,
     0.0,
     0,
     {0.95, 0.92, 0.95, 0.97, 1.08, 1.2, 0.93},
     {0.9, 0.9, 0.95, 1.0, 1.08, 1.15, 1.2, 1.15, 1.0, 0.92, 0.9, 0.95}},
    {"snacks",
     -2.0,
     2.4,
     6,
     1.5,
     0.0,
     0,
     {0.88, 0.88, 0.9, 0.97, 1.18, 1.3, 0.89},
     {0.95, 1.05, 0.95, 0.97, 1.0, 1.05, 1.05, 1.03, 0.97, 1.0, 0.98, 1.15}},
    {"household",
     -1.6,
     6.0,
     7,
     2.0,
     0.0,
     0,
     {1.0, 0.95, 0.95, 0.98, 1.05, 1.17, 0.9},
     {1.05, 0.97, 1.1, 1.08, 1.0, 0.95, 0.93, 0.95, 1.0, 1.0, 0.97, 1.0}},
    {"personal_care",
     -1.7,
     5.5,
     7,
     2.0,
     0.0,
     0,
     {1.0, 0.97, 0.97, 1.0, 1.05, 1.12, 0.89},
     {1.0, 0.97, 0.98, 1.0, 1.02, 1.05, 1.05, 1.03, 0.98, 0.97, 0.95, 1.0}},
    {"electronics",
     -2.6,
     45.0,
     10,
     3.0,
     0.0,
     0,
     {0.85, 0.85, 0.88, 0.95, 1.1, 1.4, 0.97},
     {0.8, 0.75, 0.8, 0.8, 0.85, 0.85, 0.85, 0.95, 0.95, 1.0, 1.6, 1.9}},
    {"apparel",
     -2.2,
     25.0,
     12,
     3.5,
     0.0,
     0,
     {0.8, 0.8, 0.85, 0.95, 1.15, 1.45, 1.0},
     {0.7, 0.7, 1.05, 1.2, 1.15, 1.0, 0.9, 0.95, 1.15, 1.1, 1.0, 1.1}},
    {"toys",
     -2.4,
     18.0,
     14,
     4.0,
     0.0,
     0,
     {0.8, 0.78, 0.82, 0.9, 1.1, 1.5, 1.1},
     {0.6, 0.6, 0.7, 0.75, 0.75, 0.8, 0.8, 0.8, 0.85, 1.0, 1.8, 3.0}},
}};

void build_catalog(const GeneratorOptions& options, Catalog& catalog) {
  for (int c = 0; c < kCategoryCount; ++c) {
    double ws = 0, ms = 0;
    for (double w : kCategories[c].weekly) ws += w;
    for (double m : kCategories[c].monthly) ms += m;
    for (int i = 0; i < 7; ++i) catalog.cat_weekly[c][i] = kCategories[c].weekly[i] * 7 / ws;
    for (int i = 0; i < 12; ++i) catalog.cat_monthly[c][i] = kCategories[c].monthly[i] * 12 / ms;
  }
  int store_width = options.stores > 9999 ? 6 : 4;
  int sku_width = options.skus > 999999 ? 8 : 6;
  catalog.stores.resize(static_cast<size_t>(options.stores));
  double size_sum = 0;
  for (int i = 0; i < options.stores; ++i) {
    Store& s = catalog.stores[static_cast<size_t>(i)];
    Rng r(options.seed ^ 0x1111, 1, static_cast<uint64_t>(i));
    char name[32];
    std::snprintf(name, sizeof name, "S%0*d", store_width, i + 1);
    s.name = name;
    s.size = std::exp(0.35 * r.normal());
    size_sum += s.size;
    s.open_hour = static_cast<int>(r.range(7, 9));
    s.close_hour = static_cast<int>(r.range(20, 22));
    s.display_offset_min = kDisplayOffsetsMin[r.below(kDisplayOffsetsMin.size())];
    s.latency_base_ms = r.uniform(80, 200);
    double w[24] = {};
    double total = 0;
    for (int h = s.open_hour; h < s.close_hour; ++h) {
      double x = h + 0.5;
      w[h] = 0.6 + 0.7 * std::exp(-(x - 12.5) * (x - 12.5) / 2.0) +
             1.0 * std::exp(-(x - 17.5) * (x - 17.5) / 3.0);
      total += w[h];
    }
    double acc = 0;
    for (int h = 0; h < 24; ++h) {
      acc += w[h] / total;
      s.hour_cdf[static_cast<size_t>(h)] = acc;
    }
    s.hour_cdf[23] = 1.0;
  }
  for (Store& s : catalog.stores) s.size *= options.stores / size_sum;

  catalog.skus.resize(static_cast<size_t>(options.skus));
  const double level_sigma = 1.3;
  for (int i = 0; i < options.skus; ++i) {
    Sku& k = catalog.skus[static_cast<size_t>(i)];
    Rng r(options.seed ^ 0x2222, 2, static_cast<uint64_t>(i));
    char name[32];
    std::snprintf(name, sizeof name, "SKU-%0*d", sku_width, i + 1);
    k.name = name;
    k.category = static_cast<int>(r.below(kCategoryCount));
    const Category& cat = kCategories[k.category];
    k.elasticity = std::clamp(cat.elasticity_centre + 0.35 * r.normal(), -3.2, -0.4);
    k.trend_per_year = 0.02 + 0.15 * r.normal();
    k.level = std::exp(level_sigma * r.normal() - level_sigma * level_sigma / 2);
    k.base_cents = price_ending_cents(cat.median_price * std::exp(0.5 * r.normal()));
    k.price_cents = k.base_cents;
    k.cost_cents = std::llround(static_cast<double>(k.base_cents) * r.uniform(0.45, 0.75));
    k.min_cents =
        std::max<int64_t>(std::llround(k.cost_cents * 1.05), std::llround(k.base_cents * 0.7));
    k.max_cents = std::llround(k.base_cents * 1.5);
    if (k.category == 9 && r.chance(0.6)) k.map_cents = std::llround(k.base_cents * 0.9);
    k.lead_time_days =
        std::max(1, static_cast<int>(std::lround(cat.lead_time_days * r.uniform(0.6, 1.5))));
    k.lead_time_sd_days = std::round(cat.lead_time_sd_days * r.uniform(0.5, 1.5) * 10) / 10;
    const double levels[] = {0.9, 0.95, 0.95, 0.98};
    k.service_level = levels[r.below(4)];
    const int packs[] = {1, 1, 4, 6, 6, 12, 12, 24};
    k.pack_size = k.category >= 9 ? 1 : packs[r.below(8)];
    k.moq = k.pack_size * static_cast<int>(r.range(1, 2));
    k.perishable = r.chance(cat.perishable_share);
    k.shelf_life_days = k.perishable ? cat.shelf_life_days : 0;
    k.competitor_tracked = r.chance(0.3);
  }
}

}  // namespace sw::sim
