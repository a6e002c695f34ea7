// sw::inventory (operators/inventory.h) against hand-computed cases (RETAIL.md "Inventory").
#include "operators/inventory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace sw {
namespace {

constexpr double kZ95 = 1.6448536269514722;  // Φ⁻¹(0.95)

TEST(InventoryTest, ServiceLevelQuantiles) {
  EXPECT_NEAR(inventory::inverse_normal_cdf(0.5), 0.0, 1e-12);
  EXPECT_NEAR(inventory::inverse_normal_cdf(0.90), 1.2815515655446004, 1e-12);
  EXPECT_NEAR(inventory::inverse_normal_cdf(0.95), kZ95, 1e-12);
  EXPECT_NEAR(inventory::inverse_normal_cdf(0.99), 2.3263478740408408, 1e-12);
  EXPECT_NEAR(inventory::inverse_normal_cdf(0.01), -2.3263478740408408, 1e-12);
  EXPECT_NEAR(inventory::normal_cdf(0), 0.5, 1e-15);
  EXPECT_NEAR(inventory::normal_cdf(kZ95), 0.95, 1e-12);
  EXPECT_EQ(inventory::inverse_normal_cdf(1.0), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(inventory::inverse_normal_cdf(1.5)));
}

TEST(InventoryTest, LeadTimeDemandSafetyStockAndReorderPoint) {
  // d = 10/day, σ_d = 3, L = 4 d, σ_L = 1 d: mean 40, variance 4·9 + 100·1 = 136.
  EXPECT_DOUBLE_EQ(inventory::lead_time_demand_mean(10, 4), 40);
  EXPECT_DOUBLE_EQ(inventory::lead_time_demand_variance(10, 3, 4, 1), 136);
  // SS = 1.6449 · sqrt(136) = 19.1821; ROP = 40 + SS.
  EXPECT_NEAR(inventory::safety_stock(kZ95, 10, 3, 4, 1), 19.182124745631704, 1e-9);
  EXPECT_NEAR(inventory::reorder_point(kZ95, 10, 3, 4, 1), 59.182124745631704, 1e-9);
  // No variability: no safety stock.
  EXPECT_DOUBLE_EQ(inventory::safety_stock(kZ95, 10, 0, 4, 0), 0);
  EXPECT_DOUBLE_EQ(inventory::reorder_point(kZ95, 10, 0, 4, 0), 40);
}

TEST(InventoryTest, OrderUpToLevel) {
  // R = 7: S = 10·11 + 1.6449 · sqrt(11·9 + 100·1) = 110 + 1.6449 · sqrt(199) = 133.2035.
  EXPECT_NEAR(inventory::order_up_to(kZ95, 10, 3, 4, 1, 7), 133.20351584060026, 1e-9);
  EXPECT_DOUBLE_EQ(inventory::order_up_to(kZ95, 10, 0, 4, 0, 7), 110);
}

TEST(InventoryTest, OrderQuantityHonoursMoqAndPack) {
  // Need 100 - 30 = 70, packs of 12: 6 packs = 72.
  EXPECT_DOUBLE_EQ(inventory::order_quantity(100, 30, 0, 12), 72);
  // MOQ 100 above the need: 100, rounded up to 9 packs = 108.
  EXPECT_DOUBLE_EQ(inventory::order_quantity(100, 30, 100, 12), 108);
  // No pack size (<= 0 means 1): the need itself, rounded up to a unit.
  EXPECT_DOUBLE_EQ(inventory::order_quantity(100, 30.5, 0, 0), 70);
  // Position at or above S: nothing, whatever the MOQ.
  EXPECT_DOUBLE_EQ(inventory::order_quantity(100, 100, 50, 12), 0);
  EXPECT_DOUBLE_EQ(inventory::order_quantity(100, 130, 50, 12), 0);
  // Float noise does not buy another pack: 24.0000000001 is two packs of 12.
  EXPECT_DOUBLE_EQ(inventory::order_quantity(54.0000000001, 30, 0, 12), 24);
}

TEST(InventoryTest, DaysOfCover) {
  EXPECT_DOUBLE_EQ(inventory::days_of_cover(50, 4), 12.5);
  EXPECT_DOUBLE_EQ(inventory::days_of_cover(0, 4), 0);
  EXPECT_DOUBLE_EQ(inventory::days_of_cover(-3, 4), 0);
  EXPECT_EQ(inventory::days_of_cover(50, 0), std::numeric_limits<double>::infinity());
}

TEST(InventoryTest, StockoutProbability) {
  // Slow mover (lead-time mean 2 < 10): Poisson, P(X > 3) = 1 - e^-2 (1 + 2 + 2 + 4/3).
  EXPECT_NEAR(inventory::stockout_probability(3, 2, 2), 0.14287653950145296, 1e-12);
  // A fractional on-hand counts whole units: P(X > 3.7) = P(X > 3).
  EXPECT_NEAR(inventory::stockout_probability(3.7, 2, 2), 0.14287653950145296, 1e-12);
  // Fast mover: normal, mean 100, sd 10, on hand 110: 1 - Φ(1) = 0.158655.
  EXPECT_NEAR(inventory::stockout_probability(110, 100, 100), 0.15865525393145707, 1e-9);
  EXPECT_NEAR(inventory::stockout_probability(100, 100, 100), 0.5, 1e-12);
  // Edges: already short, no demand, no variance.
  EXPECT_EQ(inventory::stockout_probability(-1, 5, 5), 1);
  EXPECT_EQ(inventory::stockout_probability(10, 0, 0), 0);
  EXPECT_EQ(inventory::stockout_probability(90, 100, 0), 1);
  EXPECT_EQ(inventory::stockout_probability(110, 100, 0), 0);
}

}  // namespace
}  // namespace sw
