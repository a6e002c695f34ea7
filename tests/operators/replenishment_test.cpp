// The replenishment workflow of the low_stock operator (docs/low_stock.md "Workflow"):
// hand-computed cases for each rule, feedback, bad input, and restore invariance of the new
// state (open orders, lots, learned lead times, budgets, regional table, quiet periods).

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "operators/inventory.h"
#include "operators/low_stock/low_stock.h"
#include "stream/config.h"
#include "stream/decoder.h"
#include "tests/support/fake_context.h"
#include "tests/support/json_field.h"

namespace sw {
namespace {

using testing::FakeContext;
using testing::FakeStateStore;
using testing::inventory;
using testing::item;
using testing::price;
using testing::sale;

constexpr int64_t kDay = 86'400'000;

int64_t at(int day, int hour = 12) {
  return 1'767'225'600'000 + day * kDay + hour * 3'600'000LL;  // 2026-01-01 UTC
}

Config cfg(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> o = {
      "operators.low_stock.service_level=0.95",
      "operators.low_stock.default_lead_time_days=4",
      "operators.low_stock.default_lead_time_sd_days=1",
      "operators.low_stock.review_period_days=7",
      "operators.low_stock.min_history_days=0",
      "operators.low_stock.new_item_days=0",
  };
  o.insert(o.end(), extra.begin(), extra.end());
  return Config::from_yaml("{}", o);
}

using testing::FixedDemandView;

using testing::field;

uint64_t counter(const Operator& op, const std::string& name, const std::string& label) {
  uint64_t v = 0;
  op.probe()->for_each([&](const Probe::Metric& m) {
    if (m.name == name && !m.labels.empty() && m.labels[0].second == label) v = m.counter.value();
  });
  return v;
}

Event order(int64_t ts, std::string_view store, std::string_view sku, double qty,
            std::string_view po, std::string_view supplier, int64_t expected = -1) {
  Event e = inventory(ts, store, sku, InventoryKind::kOrder, qty);
  e.po_id = po;
  e.supplier = supplier;
  e.expected_ms = expected;
  return e;
}

Event receipt(int64_t ts, std::string_view store, std::string_view sku, double qty,
              std::string_view po = {}, int64_t expires = -1) {
  Event e = inventory(ts, store, sku, InventoryKind::kReceipt, qty);
  e.po_id = po;
  e.expires_ms = expires;
  return e;
}

Event feedback(int64_t ts, std::string_view id, FeedbackAction a) {
  Event e;
  e.type = EventType::kFeedback;
  e.ts_ms = ts;
  e.alert_id = id;
  e.action = a;
  return e;
}

// ---------------------------------------------------------------------------------------
// Pure rules.

TEST(ReplenishmentMathTest, OrderQuantityWithPackAndMoq) {
  // S = 129.739, position 55: need 74.739 > MOQ 30 -> 7 packs of 12 = 84.
  EXPECT_DOUBLE_EQ(inventory::order_quantity(129.739, 55, 30, 12), 84);
  // need 20 < MOQ 30 -> 30 -> 3 packs of 12 = 36.
  EXPECT_DOUBLE_EQ(inventory::order_quantity(75, 55, 30, 12), 36);
  // already at S: nothing.
  EXPECT_DOUBLE_EQ(inventory::order_quantity(50, 55, 30, 12), 0);
}

TEST(ReplenishmentMathTest, ApprovalClassesAndBudgets) {
  inventory::ApprovalInput in;
  in.cost_known = true;
  in.order_cost = 400;
  in.auto_max_cost = 500;
  in.store_daily_budget = 5000;
  in.category_daily_budget = 1000;
  const char* why = nullptr;
  EXPECT_EQ(inventory::classify(in, &why), inventory::Approval::kAuto);
  EXPECT_STREQ(why, "within_budget");
  in.store_spent_today = 4700;  // 4700 + 400 > 5000
  EXPECT_EQ(inventory::classify(in, &why), inventory::Approval::kReview);
  EXPECT_STREQ(why, "over_store_budget");
  in.store_spent_today = 0;
  in.category_spent_today = 700;  // 700 + 400 > 1000
  EXPECT_EQ(inventory::classify(in, &why), inventory::Approval::kReview);
  EXPECT_STREQ(why, "over_category_budget");
  in.category_spent_today = 0;
  in.order_cost = 501;  // over the per-order limit
  EXPECT_EQ(inventory::classify(in, &why), inventory::Approval::kReview);
  EXPECT_STREQ(why, "over_order_limit");
  in.order_cost = 400;
  in.new_supplier = true;
  EXPECT_EQ(inventory::classify(in, &why), inventory::Approval::kReview);
  EXPECT_STREQ(why, "new_supplier");
  in.regional_spare = true;  // conflicting signal wins over everything but an anomaly
  EXPECT_EQ(inventory::classify(in, &why), inventory::Approval::kEscalate);
  EXPECT_STREQ(why, "regional_spare");
  in.open_anomaly = true;
  EXPECT_EQ(inventory::classify(in, &why), inventory::Approval::kEscalate);
  EXPECT_STREQ(why, "open_anomaly");
}

TEST(ReplenishmentMathTest, FefoConsumption) {
  std::vector<inventory::Lot> lots;
  inventory::add_lot(lots, at(5), 10);
  inventory::add_lot(lots, at(3), 4);
  inventory::add_lot(lots, at(5), 2);  // same expiry merges
  ASSERT_EQ(lots.size(), 2u);
  EXPECT_EQ(lots[0].expires_ms, at(3));
  EXPECT_DOUBLE_EQ(lots[1].units, 12);
  EXPECT_DOUBLE_EQ(inventory::consume_fefo(lots, 6), 0);  // 4 from day 3, 2 from day 5
  ASSERT_EQ(lots.size(), 1u);
  EXPECT_DOUBLE_EQ(lots[0].units, 10);
  EXPECT_DOUBLE_EQ(inventory::consume_fefo(lots, 13), 3);  // 3 units beyond every lot
  EXPECT_TRUE(lots.empty());
}

TEST(ReplenishmentMathTest, ExpiryProjection) {
  // 10 units expire in 2 days, 10 in 5 days, demand 3/day: the first lot sells 6 (4 spoil),
  // the second sells 15 - 6 = 9 (1 spoils).
  std::vector<inventory::Lot> lots = {{at(2), 10}, {at(5), 10}};
  std::vector<double> unsold;
  inventory::projected_unsold(lots, 3, at(0), unsold);
  ASSERT_EQ(unsold.size(), 2u);
  EXPECT_DOUBLE_EQ(unsold[0], 4);
  EXPECT_DOUBLE_EQ(unsold[1], 1);
  // Already expired: all of it.
  unsold.clear();
  inventory::projected_unsold({{at(0), 7}}, 3, at(1), unsold);
  EXPECT_DOUBLE_EQ(unsold[0], 7);
}

TEST(ReplenishmentMathTest, TransferQuantity) {
  // need = 2·4 + 3 − 5 = 6; surplus = 40 − 2·(4+7) − 3 = 15.
  const double need = inventory::transfer_need(2, 4, 3, 5);
  const double surplus = inventory::transfer_surplus(40, 2, 4, 7, 3);
  EXPECT_DOUBLE_EQ(need, 6);
  EXPECT_DOUBLE_EQ(surplus, 15);
  EXPECT_DOUBLE_EQ(inventory::transfer_quantity(need, surplus, 1, 2), 6);
  EXPECT_DOUBLE_EQ(inventory::transfer_quantity(need, surplus, 4, 2), 4);  // down to a pack
  EXPECT_DOUBLE_EQ(inventory::transfer_quantity(need, surplus, 4, 5), 0);  // below minimum
  EXPECT_DOUBLE_EQ(inventory::transfer_quantity(need, -1, 1, 0), 0);       // donor short
}

TEST(ReplenishmentMathTest, LeadTimeShrinkage) {
  inventory::LeadStats s;
  s.add(6);
  s.add(8);  // n 2, mean 7, variance 2
  double m = 0, sd = 0;
  inventory::shrink_lead_time(s, 4, 1, 3, m, sd);
  EXPECT_DOUBLE_EQ(m, (2 * 7 + 3 * 4) / 5.0);                    // 5.2
  EXPECT_NEAR(sd, std::sqrt((1 * 2.0 + 3 * 1.0) / 4.0), 1e-12);  // 1.118
  inventory::shrink_lead_time(inventory::LeadStats{}, 4, 1, 3, m, sd);
  EXPECT_EQ(m, 4);
  EXPECT_EQ(sd, 1);
}

// ---------------------------------------------------------------------------------------
// The operator.

TEST(ReplenishmentOperatorTest, OneRecommendationPerCrossingWithPackMoqAndBudget) {
  LowStockOperator op(cfg({"operators.low_stock.store_daily_budget=300"}));
  FakeContext ctx;
  FixedDemandView view(10, 2);
  ctx.set_demand_view(&view);
  ItemFields f;
  f.pack_size = 12;
  f.moq = 30;
  f.cost = 2.5;
  f.category = "dairy";
  ctx.send(op, item(at(0, 0), "A", f));
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 100));
  ctx.send(op, sale(at(0, 2), "S1", "A", 45));  // 55 < ROP 57.716
  ctx.send(op, sale(at(0, 3), "S1", "A", 1));   // 54: same crossing, nothing new
  auto recs = ctx.of(OutputStream::kReplenishment);
  ASSERT_EQ(recs.size(), 1u);
  // S = 10·11 + z·sqrt(11·4 + 100·1) = 129.739; max(30, 129.739 − 55) -> 7 packs of 12.
  EXPECT_EQ(field(recs[0]->json, "order_qty"), "84");
  EXPECT_EQ(field(recs[0]->json, "cost"), "210");
  EXPECT_EQ(field(recs[0]->json, "approval"), "\"auto\"");
  EXPECT_EQ(field(recs[0]->json, "reason"), "\"reorder_point\"");
  EXPECT_EQ(field(recs[0]->json, "lead_time_days"), "4");
  EXPECT_EQ(field(recs[0]->json, "expected_arrival"), "\"2026-01-05T02:00:00Z\"");
  EXPECT_EQ(field(recs[0]->json, "reorder_point"), "57.716");  // 40 + z·sqrt(16 + 100)
  // No low_stock alert: crossing the reorder point is the routine workflow (P(D_4 > 54) is
  // about 0.004 with mean 40).
  EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "low_stock").empty());

  ctx.send(op, inventory(at(0, 4), "S1", "A", InventoryKind::kReceipt, 84));  // 138: re-armed
  ctx.send(op, sale(at(0, 5), "S1", "A", 85));                                // 53: crossing 2
  recs = ctx.of(OutputStream::kReplenishment);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_NE(recs[0]->id, recs[1]->id);
  // 129.739 − 53 = 76.739 -> 84 units, 210; 210 + 210 > the store's 300 budget.
  EXPECT_EQ(field(recs[1]->json, "order_qty"), "84");
  EXPECT_EQ(field(recs[1]->json, "approval"), "\"review\"");
  EXPECT_EQ(field(recs[1]->json, "approval_reason"), "\"over_store_budget\"");
  EXPECT_EQ(counter(op, "replenishment_recommendations_total", "auto"), 1u);
  EXPECT_EQ(counter(op, "replenishment_recommendations_total", "review"), 1u);
  EXPECT_EQ(counter(op, "replenishment_order_value_total", "auto"), 210u);
}

TEST(ReplenishmentOperatorTest, AnOpenAnomalyOnTheKeyEscalatesTheRecommendation) {
  // Same numbers as above without a budget: the first crossing would be `auto` (cost 210).
  LowStockOperator op(cfg());
  FakeContext ctx;
  FixedDemandView view(10, 2);
  ctx.set_demand_view(&view);
  testing::OpenAnomalies anomalies;
  ctx.set_anomaly_view(&anomalies);
  ItemFields f;
  f.pack_size = 12;
  f.moq = 30;
  f.cost = 2.5;
  ctx.send(op, item(at(0, 0), "A", f));
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 100));
  ctx.send(op, inventory(at(0, 1), "S2", "A", InventoryKind::kSnapshot, 100));
  anomalies.open[ctx.key("S1", "A")] = true;  // S1's sales look anomalous; S2's do not
  ctx.send(op, sale(at(0, 2), "S1", "A", 45));
  ctx.send(op, sale(at(0, 2), "S2", "A", 45));
  auto recs = ctx.of(OutputStream::kReplenishment);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(field(recs[0]->json, "store"), "\"S1\"");
  EXPECT_EQ(field(recs[0]->json, "approval"), "\"escalate\"");
  EXPECT_EQ(field(recs[0]->json, "approval_reason"), "\"open_anomaly\"");
  EXPECT_EQ(field(recs[0]->json, "order_qty"), "84");  // the quantity is still proposed
  EXPECT_EQ(field(recs[1]->json, "store"), "\"S2\"");
  EXPECT_EQ(field(recs[1]->json, "approval"), "\"auto\"");
  EXPECT_EQ(counter(op, "replenishment_recommendations_total", "escalate"), 1u);
  EXPECT_EQ(counter(op, "replenishment_recommendations_total", "auto"), 1u);
}

TEST(ReplenishmentOperatorTest, WideIntervalReviewsOnlyWhenTheForecastSetsTheQuantity) {
  LowStockOperator op(cfg());
  FakeContext ctx;
  // Lead-time demand: mean 0.25·4 = 1, sd sqrt(4·0.25 + 0.0625·1) = 1.031: cv > 1.
  FixedDemandView view(0.25, 0.5);
  ctx.set_demand_view(&view);
  ItemFields packed;
  packed.pack_size = 6;
  packed.moq = 6;
  packed.cost = 1;
  ItemFields single;
  single.pack_size = 1;
  single.moq = 1;
  single.cost = 1;
  ctx.send(op, item(at(0, 0), "P", packed));
  ctx.send(op, item(at(0, 0), "U", single));
  // Position 2 < ROP 1 + 1.645·1.031 = 2.696; S = 2.75 + 1.645·sqrt(2.75 + 0.0625) = 5.509.
  ctx.send(op, inventory(at(0, 1), "S1", "P", InventoryKind::kSnapshot, 2));
  ctx.send(op, inventory(at(0, 1), "S1", "U", InventoryKind::kSnapshot, 2));
  auto recs = ctx.of(OutputStream::kReplenishment);
  ASSERT_EQ(recs.size(), 2u);
  // P: need 3.5, but one pack of 6 is the least it can order: the interval changes nothing.
  EXPECT_EQ(field(recs[0]->json, "order_qty"), "6");
  EXPECT_EQ(field(recs[0]->json, "approval"), "\"auto\"");
  // U: 4 units, a quantity the forecast chose: review.
  EXPECT_EQ(field(recs[1]->json, "order_qty"), "4");
  EXPECT_EQ(field(recs[1]->json, "approval"), "\"review\"");
  EXPECT_EQ(field(recs[1]->json, "approval_reason"), "\"wide_interval\"");
}

TEST(ReplenishmentOperatorTest, LowStockFiresOnlyForAProjectedStockoutBeforeTheNextReceipt) {
  LowStockOperator op(cfg());
  FakeContext ctx;
  FixedDemandView view(10, 2);
  ctx.set_demand_view(&view);
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 100));
  ctx.send(op, sale(at(0, 2), "S1", "A", 50));  // 50: P(D_4 > 50) = 1 − Φ(10/√116) = 0.18
  EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "low_stock").empty());
  ctx.send(op, sale(at(0, 3), "S1", "A", 10));  // 40: P = 0.5, cover 4 d = 4 d: warning
  ctx.send(op, sale(at(0, 4), "S1", "A", 5));   // 35: cover 3.5 < 4 d: critical, same id
  auto low = ctx.of(OutputStream::kAlerts, "low_stock");
  ASSERT_EQ(low.size(), 2u);
  EXPECT_EQ(field(low[0]->json, "severity"), "\"warning\"");
  EXPECT_EQ(field(low[0]->json, "stockout_probability"), "0.5");
  EXPECT_EQ(field(low[1]->json, "severity"), "\"critical\"");
  EXPECT_EQ(low[0]->id, low[1]->id);
  EXPECT_EQ(field(low[1]->json, "next_receipt_days"), "4");
  EXPECT_EQ(field(low[1]->json, "next_receipt_source"), "\"lead_time\"");
  // An order due in one day: P(D_1 > 35) ~ 0 -> resolved (below half the level).
  ctx.send(op, order(at(0, 5), "S1", "A", 60, "PO1", "ACME", at(1, 5)));
  ctx.send(op, sale(at(0, 6), "S1", "A", 1));
  low = ctx.of(OutputStream::kAlerts, "low_stock");
  ASSERT_EQ(low.size(), 3u);
  EXPECT_EQ(field(low[2]->json, "status"), "\"resolved\"");
  EXPECT_EQ(low[0]->id, low[2]->id);
}

TEST(ReplenishmentOperatorTest, ReceiptOverdueTimingExposureAndLearnedLeadTime) {
  LowStockOperator op(cfg({"operators.low_stock.receipt_tolerance_days=1"}));
  FakeContext ctx;
  FixedDemandView view(5, 1);
  ctx.set_demand_view(&view);
  ItemFields f;
  f.supplier = "ACME";
  ctx.send(op, item(at(0, 0), "A", f));
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 50));
  ctx.send(op, order(at(0, 12), "S1", "A", 20, "PO1", "ACME", at(3, 12)));
  const KeyId k = ctx.key("S1", "A");
  EXPECT_FLOAT_EQ(op.state(k)->on_order, 20);
  ctx.advance_watermark(op, at(4, 12) - 1);  // expected + tolerance not reached
  EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "receipt_overdue").empty());
  ctx.advance_watermark(op, at(4, 12));
  auto od = ctx.of(OutputStream::kAlerts, "receipt_overdue");
  ASSERT_EQ(od.size(), 1u);
  EXPECT_EQ(field(od[0]->json, "status"), "\"firing\"");
  EXPECT_EQ(field(od[0]->json, "days_late"), "1");
  EXPECT_EQ(field(od[0]->json, "open_qty"), "20");
  EXPECT_EQ(field(od[0]->json, "supplier"), "\"ACME\"");
  // Exposure over a lead time of 4 d: 5·4 = 20 < 50 on hand: nothing short.
  EXPECT_EQ(field(od[0]->json, "units_short"), "0");
  EXPECT_EQ(field(od[0]->json, "severity"), "\"warning\"");

  // A receipt for an unknown po: on hand grows, no order closes, counted.
  ctx.send(op, receipt(at(5, 5), "S1", "A", 3, "PO-NOPE"));
  EXPECT_DOUBLE_EQ(op.state(k)->on_hand, 53);
  EXPECT_EQ(op.flow(k)->orders.size(), 1u);
  EXPECT_EQ(counter(op, "inventory_fallbacks_total", "unknown_po_id"), 1u);

  ctx.send(op, receipt(at(5, 6), "S1", "A", 20, "PO1"));
  od = ctx.of(OutputStream::kAlerts, "receipt_overdue");
  ASSERT_EQ(od.size(), 2u);
  EXPECT_EQ(field(od[1]->json, "status"), "\"resolved\"");
  EXPECT_EQ(od[0]->id, od[1]->id);
  EXPECT_FLOAT_EQ(op.state(k)->on_order, 0);
  // Observed 4.75 d. SKU level: (4.75 + 3·4) / 4 = 4.1875, sd sqrt(3·1/3) = 1; supplier
  // level shrinks toward that: (4.75 + 3·4.1875) / 4 = 4.328125.
  double m = 0, sd = 0;
  op.lead_time(k, ctx.keys(), m, sd);
  EXPECT_DOUBLE_EQ(m, 4.328125);
  EXPECT_DOUBLE_EQ(sd, 1);
  EXPECT_NE(op.describe(k, ctx.keys()).find("\"lead_time_source\":\"learned\""), std::string::npos);
}

TEST(ReplenishmentOperatorTest, OrderWithoutExpectedUsesOrderTimePlusLeadTime) {
  LowStockOperator op(cfg());
  FakeContext ctx;
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 50));
  ctx.send(op, order(at(0, 12), "S1", "A", 20, {}, {}));
  const auto* f = op.flow(ctx.key("S1", "A"));
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->orders.size(), 1u);
  EXPECT_EQ(f->orders[0].expected_ms, at(4, 12));  // default lead time 4 d
  EXPECT_EQ(f->orders[0].po_id, "@" + std::to_string(at(0, 12)));
  // A receipt without po_id closes the oldest open order.
  ctx.send(op, receipt(at(3, 12), "S1", "A", 20));
  EXPECT_TRUE(op.flow(ctx.key("S1", "A")) == nullptr ||
              op.flow(ctx.key("S1", "A"))->orders.empty());
}

TEST(ReplenishmentOperatorTest, LotsFefoAndExpiryLifecycle) {
  // 3 units x cost 2 = 6 >= expiry_min_cost 5 (the default 20 would hold it back).
  LowStockOperator op(
      cfg({"operators.low_stock.expiry_min_units=2.5", "operators.low_stock.expiry_min_cost=5"}));
  FakeContext ctx;
  FixedDemandView view(3, 1);
  ctx.set_demand_view(&view);
  ctx.send(op, price(at(0, 0), "A", 4, 2));  // cost 2
  ctx.send(op, receipt(at(0, 12), "S1", "A", 8, {}, at(2, 12)));
  EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "expiry").empty());  // 8 − 6 = 2 < 2.5
  ctx.send(op, receipt(at(0, 12) + 1, "S1", "A", 10, {}, at(5, 12)));
  auto ex = ctx.of(OutputStream::kAlerts, "expiry");
  ASSERT_EQ(ex.size(), 1u);  // 2 + (10 − (15 − 6)) = 3 units, cost 6
  EXPECT_EQ(field(ex[0]->json, "units_at_risk"), "3");
  EXPECT_EQ(field(ex[0]->json, "cost_at_risk"), "6");
  EXPECT_EQ(field(ex[0]->json, "days_left"), "2");
  ctx.send(op, sale(at(0, 13), "S1", "A", 4));  // FEFO: the first lot keeps 4
  const KeyId k = ctx.key("S1", "A");
  std::vector<StockLot> lots;
  op.inventory_view()->lots(k, lots);
  ASSERT_EQ(lots.size(), 2u);
  EXPECT_DOUBLE_EQ(lots[0].units, 4);
  EXPECT_DOUBLE_EQ(lots[1].units, 10);
  ex = ctx.of(OutputStream::kAlerts, "expiry");
  ASSERT_EQ(ex.size(), 2u);  // both lots now sell out before expiry
  EXPECT_EQ(field(ex[1]->json, "status"), "\"resolved\"");
  EXPECT_EQ(ex[0]->id, ex[1]->id);
  StockPosition pos;
  ASSERT_TRUE(op.inventory_view()->position(k, pos));
  EXPECT_DOUBLE_EQ(pos.on_hand, 14);
  EXPECT_DOUBLE_EQ(pos.unit_cost, 2);
  EXPECT_TRUE(pos.perishable);
  // A write-off adjustment takes the first-expiring units too.
  ctx.send(op, inventory(at(0, 14), "S1", "A", InventoryKind::kAdjustment, -5));
  lots.clear();
  op.inventory_view()->lots(k, lots);
  ASSERT_EQ(lots.size(), 1u);
  EXPECT_DOUBLE_EQ(lots[0].units, 9);
}

TEST(ReplenishmentOperatorTest, ExpiredOnReceiptAddsStockButNoLot) {
  LowStockOperator op(cfg());
  FakeContext ctx;
  ctx.send(op, receipt(at(3), "S1", "A", 5, {}, at(2)));
  const KeyId k = ctx.key("S1", "A");
  EXPECT_DOUBLE_EQ(op.state(k)->on_hand, 5);
  EXPECT_EQ(op.flow(k), nullptr);
  EXPECT_EQ(counter(op, "inventory_fallbacks_total", "expired_on_receipt"), 1u);
}

// The transfer tests' settings: a 4 ± 1 day lead time, no history or new-item wait, transfers
// of 2 units or more, and the given regions.
Config transfer_config(const char* regions_yaml) {
  return Config::from_yaml(
      regions_yaml,
      {"operators.low_stock.default_lead_time_days=4",
       "operators.low_stock.default_lead_time_sd_days=1", "operators.low_stock.min_history_days=0",
       "operators.low_stock.new_item_days=0", "operators.low_stock.transfer_min_qty=2"});
}

TEST(ReplenishmentOperatorTest, TransferWithinARegionOnly) {
  Config c = transfer_config("regions: {north: [S1, S2], south: [S3]}\n");
  LowStockOperator op(c);
  FakeContext ctx;
  FixedDemandView view(2, 1);
  ctx.set_demand_view(&view);
  ctx.send(op, price(at(0, 0), "A", 4, 2));
  ctx.send(op, inventory(at(0, 1), "S2", "A", InventoryKind::kSnapshot, 60));
  // SS = z·sqrt(1·4 + 4·1) = 4.652; S2 spares 60 − 2·11 − 4.652 = 33.3 -> 33.
  ctx.send(op, inventory(at(0, 2), "S1", "A", InventoryKind::kSnapshot, 5));
  ctx.send(op, inventory(at(0, 3), "S3", "A", InventoryKind::kSnapshot, 5));
  auto tr = ctx.of(OutputStream::kAlerts, "transfer");
  ASSERT_EQ(tr.size(), 1u);  // S3 is alone in its region
  // S1: cover 2.5 d < 4 d to a receipt; need 2·4 + 4.652 − 5 = 7.65 -> 7 units.
  EXPECT_EQ(field(tr[0]->json, "from_store"), "\"S2\"");
  EXPECT_EQ(field(tr[0]->json, "to_store"), "\"S1\"");
  EXPECT_EQ(field(tr[0]->json, "qty"), "7");
  EXPECT_EQ(field(tr[0]->json, "donor_surplus"), "33");
  EXPECT_EQ(field(tr[0]->json, "region"), "\"north\"");
  // The recommendation of S1 escalates: the transfer to it is proposed first (the same event
  // evaluates the transfer before the recommendation).
  auto recs = ctx.of(OutputStream::kReplenishment);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]->key, "S1|A");
  EXPECT_EQ(field(recs[0]->json, "approval"), "\"escalate\"");
  EXPECT_EQ(field(recs[0]->json, "approval_reason"), "\"regional_spare\"");
  EXPECT_EQ(field(recs[0]->json, "transfer_from"), "\"S2\"");
  EXPECT_EQ(recs[1]->key, "S3|A");
  EXPECT_EQ(field(recs[1]->json, "approval"), "\"auto\"");  // S3: nobody to ask
  ctx.send(op, inventory(at(0, 20), "S1", "A", InventoryKind::kTransferIn, 7));  // 12: 6 d
  tr = ctx.of(OutputStream::kAlerts, "transfer");
  ASSERT_EQ(tr.size(), 2u);
  EXPECT_EQ(field(tr[1]->json, "status"), "\"resolved\"");
  EXPECT_EQ(tr[0]->id, tr[1]->id);
}

TEST(ReplenishmentOperatorTest, TransferOnlyWhenItPreventsTheStockoutSpareAloneDoesNotEscalate) {
  Config c = transfer_config("regions: {north: [S1, S2]}\n");
  LowStockOperator op(c);
  FakeContext ctx;
  FixedDemandView view(2, 1);
  ctx.set_demand_view(&view);
  ctx.send(op, price(at(0, 0), "A", 4, 2));
  // S2 spares 29 − 2·11 − 4.652 = 2.35 -> 2 units.
  ctx.send(op, inventory(at(0, 1), "S2", "A", InventoryKind::kSnapshot, 29));
  // S1: 5 on hand, 2.5 d of cover before a receipt in 4 d: 2·4 − 5 = 3 units short. A
  // transfer of 2 would not prevent the stock-out: none is proposed.
  ctx.send(op, inventory(at(0, 2), "S1", "A", InventoryKind::kSnapshot, 5));
  EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "transfer").empty());
  // Its recommendation (S = 22 + z·sqrt(11 + 4) = 28.37 -> 24 units, cost 48) is routine:
  // the spare units are shown but hold nothing up, as no transfer is proposed.
  auto recs = ctx.of(OutputStream::kReplenishment);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(field(recs[0]->json, "order_qty"), "24");
  EXPECT_EQ(field(recs[0]->json, "approval"), "\"auto\"");
  EXPECT_EQ(field(recs[0]->json, "transfer_from"), "\"S2\"");
  EXPECT_EQ(field(recs[0]->json, "transfer_spare_units"), "2");
  EXPECT_EQ(field(recs[0]->json, "transfer_proposed"), "false");
  // S2 is counted up to 60 (spare 33): S1 (4 on hand, 4 short, need 8.65) gets 8 units.
  ctx.send(op, inventory(at(0, 3), "S2", "A", InventoryKind::kSnapshot, 60));
  ctx.send(op, sale(at(0, 4), "S1", "A", 1));
  auto tr = ctx.of(OutputStream::kAlerts, "transfer");
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(field(tr[0]->json, "qty"), "8");
  EXPECT_EQ(field(tr[0]->json, "from_store"), "\"S2\"");
}

TEST(ReplenishmentOperatorTest, StockoutAlertsOnlyForExceptions) {
  {
    // Already told: low_stock projected it. The episode is silent: no firing, no resolved.
    LowStockOperator op(cfg());
    FakeContext ctx;
    FixedDemandView view(10, 2);
    ctx.set_demand_view(&view);
    ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 35));  // P = 0.68
    ASSERT_EQ(ctx.of(OutputStream::kAlerts, "low_stock").size(), 1u);
    ctx.send(op, sale(at(0, 2), "S1", "A", 35));
    EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "stockout").empty());
    const KeyId k = ctx.key("S1", "A");
    EXPECT_NE(op.describe(k, ctx.keys()).find("\"stockout_silent\":true"), std::string::npos);
    ctx.send(op, inventory(at(0, 3), "S1", "A", InventoryKind::kReceipt, 50));
    EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "stockout").empty());
    EXPECT_NE(op.describe(k, ctx.keys()).find("\"stockout_silent\":false"), std::string::npos);
  }
  {
    // A slow mover (0.2/day): an order placed now brings it in 4 d, 0.8 units of sales lost.
    // With recommendations on (replenishment in motion) that is no alert; without them nobody
    // orders, so it is.
    for (bool recommend : {true, false}) {
      SCOPED_TRACE(recommend);
      LowStockOperator op(cfg(
          {std::string("operators.low_stock.recommendations=") + (recommend ? "true" : "false")}));
      FakeContext ctx;
      FixedDemandView view(0.2, 0.4);
      ctx.set_demand_view(&view);
      ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 1));
      ctx.send(op, sale(at(0, 2), "S1", "A", 1));
      EXPECT_EQ(ctx.of(OutputStream::kAlerts, "stockout").size(), recommend ? 0u : 1u);
    }
  }
  {
    // An order in transit: silent while its likely arrival (order time + 4 d) is 3 h away
    // (2/day · 0.125 d = 0.25 units); once that time has passed, the promised date (a day
    // later: 1.9 units) is what is left, and the stock-out becomes an alert then.
    LowStockOperator op(cfg());
    FakeContext ctx;
    FixedDemandView view(2, 1);
    ctx.set_demand_view(&view);
    ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 10));
    ctx.send(op, order(at(0, 2), "S1", "A", 20, "PO1", "ACME", at(5, 2)));
    ctx.send(op, sale(at(3, 23), "S1", "A", 10));
    EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "stockout").empty());
    EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "low_stock").empty());  // out: stockout's case
    ctx.send(op, inventory(at(4, 3), "S1", "A", InventoryKind::kSnapshot, 0));
    auto so = ctx.of(OutputStream::kAlerts, "stockout");
    ASSERT_EQ(so.size(), 1u);
    EXPECT_EQ(so[0]->time_ms, at(4, 3));
    EXPECT_EQ(field(so[0]->json, "since"), "\"2026-01-05T03:00:00Z\"");
    ctx.send(op, receipt(at(4, 10), "S1", "A", 20, "PO1"));
    so = ctx.of(OutputStream::kAlerts, "stockout");
    ASSERT_EQ(so.size(), 2u);
    EXPECT_EQ(field(so[1]->json, "status"), "\"resolved\"");
    EXPECT_EQ(so[0]->id, so[1]->id);
  }
  {
    // Repeats: within cooldown_hours of the last episode's end a new stock-out is silent.
    LowStockOperator op(cfg({"operators.low_stock.cooldown_hours=24"}));
    FakeContext ctx;
    FixedDemandView view(10, 2);
    ctx.set_demand_view(&view);
    ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 0));  // fires
    ctx.send(op, inventory(at(0, 2), "S1", "A", InventoryKind::kReceipt, 50));  // resolves
    ctx.send(op, sale(at(0, 5), "S1", "A", 50));                                // quiet
    ctx.send(op, inventory(at(1, 0), "S1", "A", InventoryKind::kReceipt, 50));  // silent end
    ctx.send(op, sale(at(2, 0), "S1", "A", 50));                                // fires
    auto so = ctx.of(OutputStream::kAlerts, "stockout");
    ASSERT_EQ(so.size(), 3u);
    EXPECT_EQ(field(so[1]->json, "status"), "\"resolved\"");
    EXPECT_EQ(so[2]->time_ms, at(2, 0));
    uint64_t suppressed = 0;
    op.probe()->for_each([&](const Probe::Metric& m) {
      if (m.name == "inventory_alerts_suppressed_total") suppressed = m.counter.value();
    });
    EXPECT_EQ(suppressed, 1u);
  }
  {
    // An open receipt_overdue names the late order behind the stock-out: silent.
    LowStockOperator op(cfg());
    FakeContext ctx;
    FixedDemandView view(1, 1);
    ctx.set_demand_view(&view);
    ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 30));
    ctx.send(op, order(at(0, 2), "S1", "A", 20, "PO1", "ACME", at(1, 2)));
    ctx.advance_watermark(op, at(2, 3));
    ASSERT_EQ(ctx.of(OutputStream::kAlerts, "receipt_overdue").size(), 1u);
    ctx.send(op, sale(at(2, 4), "S1", "A", 30));
    EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "stockout").empty());
  }
}

TEST(ReplenishmentOperatorTest, NextReceiptIsTheLikelyArrivalNotTheLatestPromise) {
  LowStockOperator op(cfg());
  FakeContext ctx;
  FixedDemandView view(10, 2);
  ctx.set_demand_view(&view);
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 100));
  // Promised in 10 d; orders come in a lead time (4 d).
  ctx.send(op, order(at(0, 1), "S1", "A", 60, "PO1", "ACME", at(10, 1)));
  ctx.send(op, sale(at(0, 2), "S1", "A", 40));  // 60: P(D_3.96 > 60) ~ 0.03 (10 d: ~1)
  EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "low_stock").empty());
  ctx.send(op, sale(at(0, 3), "S1", "A", 35));  // 25: cover 2.5 d < 3.917 d
  auto low = ctx.of(OutputStream::kAlerts, "low_stock");
  ASSERT_EQ(low.size(), 1u);
  EXPECT_EQ(field(low[0]->json, "severity"), "\"critical\"");
  EXPECT_EQ(field(low[0]->json, "next_receipt_days"), "3.917");
  EXPECT_EQ(field(low[0]->json, "next_receipt_source"), "\"open_order\"");
}

TEST(ReplenishmentOperatorTest, UntrackedUnitsOnOrderArriveBeforeTrackedOrders) {
  LowStockOperator op(cfg());
  FakeContext ctx;
  // 10 units on order from before the stream, then a tracked order of 12.
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 50, 10));
  ctx.send(op, order(at(0, 2), "S1", "A", 12, "PO1", "ACME", at(4, 2)));
  const KeyId k = ctx.key("S1", "A");
  EXPECT_FLOAT_EQ(op.state(k)->on_order, 22);
  // A receipt of 10 that names no order: the untracked units; PO1 stays open, nothing learned.
  ctx.send(op, receipt(at(0, 10), "S1", "A", 10));
  EXPECT_FLOAT_EQ(op.state(k)->on_order, 12);
  ASSERT_NE(op.flow(k), nullptr);
  ASSERT_EQ(op.flow(k)->orders.size(), 1u);
  EXPECT_DOUBLE_EQ(op.flow(k)->orders[0].open, 12);
  EXPECT_NE(op.describe(k, ctx.keys()).find("\"lead_time_observations\":0"), std::string::npos);
  // The next 12 fill PO1 (3.5 d after it was placed).
  ctx.send(op, receipt(at(3, 14), "S1", "A", 12));
  EXPECT_TRUE(op.flow(k) == nullptr || op.flow(k)->orders.empty());
  EXPECT_NE(op.describe(k, ctx.keys()).find("\"lead_time_observations\":1"), std::string::npos);
}

TEST(ReplenishmentOperatorTest, DismissSuppressesRefiringAckIsRecorded) {
  LowStockOperator op(cfg({"operators.low_stock.dismiss_days=7"}));
  FakeContext ctx;
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 50));
  ctx.send(op, order(at(0, 2), "S1", "A", 20, "PO1", "ACME", at(1, 2)));
  ctx.advance_watermark(op, at(2, 2));
  auto od = ctx.of(OutputStream::kAlerts, "receipt_overdue");
  ASSERT_EQ(od.size(), 1u);
  const std::string id = od[0]->id;
  ctx.send(op, feedback(at(2, 3), id, FeedbackAction::kAck));
  ctx.send(op, feedback(at(2, 4), id, FeedbackAction::kDismiss));
  ctx.send(op, feedback(at(2, 5), "not-an-inventory-alert", FeedbackAction::kDismiss));
  EXPECT_EQ(counter(op, "inventory_feedback_total", "ack"), 1u);
  EXPECT_EQ(counter(op, "inventory_feedback_total", "dismiss"), 1u);
  EXPECT_EQ(counter(op, "inventory_feedback_total", "unknown_alert"), 1u);
  const KeyId k = ctx.key("S1", "A");
  EXPECT_NE(op.describe(k, ctx.keys()).find("\"acked\":[\"receipt_overdue\"]"), std::string::npos);
  // The open episode runs its course; a new late order within 7 days of the dismiss is quiet.
  ctx.send(op, receipt(at(3, 0), "S1", "A", 20, "PO1"));
  ctx.send(op, order(at(3, 1), "S1", "A", 20, "PO2", "ACME", at(4, 1)));
  ctx.advance_watermark(op, at(6, 0));
  od = ctx.of(OutputStream::kAlerts, "receipt_overdue");
  ASSERT_EQ(od.size(), 2u);  // the first firing and its resolution only
  EXPECT_GE(counter(op, "inventory_alerts_suppressed_total", ""), 0u);
  // After the quiet period the next event fires it.
  ctx.send(op, sale(at(10, 0), "S1", "A", 1));
  od = ctx.of(OutputStream::kAlerts, "receipt_overdue");
  ASSERT_EQ(od.size(), 3u);
  EXPECT_EQ(field(od[2]->json, "po_id"), "\"PO2\"");
}

TEST(ReplenishmentOperatorTest, DismissQuietsStockoutAndOverstockOfTheKey) {
  LowStockOperator op(
      cfg({"operators.low_stock.dismiss_days=7", "operators.low_stock.overstock_days=30"}));
  FakeContext ctx;
  FixedDemandView view(1, 1);
  ctx.set_demand_view(&view);
  ctx.send(op, inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 0));   // stockout
  ctx.send(op, inventory(at(0, 1), "S1", "B", InventoryKind::kSnapshot, 40));  // overstock
  auto so = ctx.of(OutputStream::kAlerts, "stockout");
  auto ov = ctx.of(OutputStream::kAlerts, "overstock");
  ASSERT_EQ(so.size(), 1u);
  ASSERT_EQ(ov.size(), 1u);
  ctx.send(op, feedback(at(0, 2), so[0]->id, FeedbackAction::kDismiss));
  ctx.send(op, feedback(at(0, 2), ov[0]->id, FeedbackAction::kDismiss));
  EXPECT_EQ(counter(op, "inventory_feedback_total", "dismiss"), 2u);
  // Both episodes run their course and end; new ones within 7 days are held back.
  ctx.send(op, inventory(at(1, 0), "S1", "A", InventoryKind::kReceipt, 10));
  ctx.send(op, inventory(at(1, 0), "S1", "B", InventoryKind::kSnapshot, 20));
  ctx.send(op, sale(at(2, 0), "S1", "A", 10));
  ctx.send(op, inventory(at(2, 0), "S1", "B", InventoryKind::kSnapshot, 40));
  EXPECT_EQ(ctx.of(OutputStream::kAlerts, "stockout").size(), 2u);   // firing, resolved
  EXPECT_EQ(ctx.of(OutputStream::kAlerts, "overstock").size(), 2u);  // firing, resolved
  // After the quiet period they fire again.
  ctx.send(op, inventory(at(8, 0), "S1", "A", InventoryKind::kSnapshot, 0));
  ctx.send(op, inventory(at(8, 0), "S1", "B", InventoryKind::kSnapshot, 41));
  EXPECT_EQ(ctx.of(OutputStream::kAlerts, "stockout").size(), 3u);
  EXPECT_EQ(ctx.of(OutputStream::kAlerts, "overstock").size(), 3u);
}

TEST(ReplenishmentOperatorTest, BadSettingsAreConfigErrorsNamingTheKey) {
  for (const char* bad :
       {"operators.low_stock.low_stock_probability=0", "operators.low_stock.auto_max_order_cost=-1",
        "operators.low_stock.expiry_min_units=0",
        "operators.low_stock.receipt_tolerance_days=400"}) {
    SCOPED_TRACE(bad);
    try {
      LowStockOperator op(cfg({bad}));
      ADD_FAILURE() << "accepted";
    } catch (const ConfigError& e) {
      std::string key(bad);
      EXPECT_EQ(e.key(), key.substr(0, key.find('=')));
    }
  }
  try {
    LowStockOperator op(Config::from_yaml("regions: {a: [S1], b: [S1]}\n"));
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "regions.b");
  }
}

TEST(ReplenishmentDecoderTest, OrderFieldsAndBadInput) {
  Decoder d;
  Event e;
  auto decode = [&](std::string s) {
    s.append(64, ' ');
    return d.decode(std::string_view(s.data(), s.size() - 64), s.size(), e);
  };
  ASSERT_EQ(decode(R"({"type":"inventory","ts":"2026-01-01T00:00:00Z","store":"S1","sku":"A",)"
                   R"("kind":"order","qty":24,"po_id":"PO7","supplier":"ACME",)"
                   R"("expected":"2026-01-05"})"),
            DecodeError::kNone);
  EXPECT_EQ(e.qty, 24);
  EXPECT_EQ(e.inventory_kind, InventoryKind::kOrder);
  EXPECT_EQ(e.po_id, "PO7");
  EXPECT_EQ(e.supplier, "ACME");
  EXPECT_EQ(e.expected_ms, at(4, 0));
  EXPECT_EQ(decode(R"({"type":"inventory","ts":"2026-01-01T00:00:00Z","store":"S1","sku":"A",)"
                   R"("kind":"order"})"),
            DecodeError::kMissingField);
  EXPECT_EQ(decode(R"({"type":"inventory","ts":"2026-01-05T00:00:00Z","store":"S1","sku":"A",)"
                   R"("kind":"order","qty":3,"expected":"2026-01-01"})"),
            DecodeError::kOutOfRange);
  // An order of no units, or of a negative quantity, is out of range (docs/replenishment.md).
  EXPECT_EQ(decode(R"({"type":"inventory","ts":"2026-01-01T00:00:00Z","store":"S1","sku":"A",)"
                   R"("kind":"order","qty":0})"),
            DecodeError::kOutOfRange);
  EXPECT_EQ(decode(R"({"type":"inventory","ts":"2026-01-01T00:00:00Z","store":"S1","sku":"A",)"
                   R"("kind":"order","qty":-4})"),
            DecodeError::kOutOfRange);
  EXPECT_EQ(decode(R"({"type":"inventory","ts":"2026-01-01T00:00:00Z","store":"S1","sku":"A",)"
                   R"("kind":"order","qty":4,"expected":"next week"})"),
            DecodeError::kBadTimestamp);
  ASSERT_EQ(decode(R"({"type":"inventory","ts":"2026-01-01T00:00:00Z","store":"S1","sku":"A",)"
                   R"("kind":"receipt","qty":3,"po_id":"PO7"})"),
            DecodeError::kNone);
  EXPECT_EQ(e.inventory_kind, InventoryKind::kReceipt);
  EXPECT_EQ(e.qty, 3);
  EXPECT_EQ(e.po_id, "PO7");
}

// ---------------------------------------------------------------------------------------
// Restore invariance of the workflow state.

std::vector<Event> workflow_script() {
  std::vector<Event> ev;
  ItemFields f;
  f.supplier = "ACME";
  f.cost = 2;
  f.category = "fresh";
  ev.push_back(item(at(0, 0), "A", f));
  for (const char* st : {"S1", "S2", "S3"}) {
    ev.push_back(inventory(at(0, 1), st, "A", InventoryKind::kSnapshot, st[1] == '2' ? 80 : 12));
  }
  ev.push_back(order(at(0, 3), "S1", "A", 30, "PO1", "ACME", at(2, 3)));
  ev.push_back(receipt(at(0, 4), "S3", "A", 10, {}, at(3, 0)));
  for (int d = 0; d < 12; ++d) {
    for (const char* st : {"S1", "S2", "S3"}) {
      ev.push_back(sale(at(d, 10), st, "A", 2 + d % 3));
      ev.push_back(sale(at(d, 15), st, "A", 1));
    }
    if (d == 4) ev.push_back(receipt(at(d, 6), "S1", "A", 30, "PO1"));
    if (d == 5) ev.push_back(order(at(d, 7), "S2", "A", 12, "PO2", "ACME", at(d + 1, 7)));
    if (d == 6) ev.push_back(receipt(at(d, 5), "S3", "A", 15, {}, at(d + 2, 0)));
    if (d == 9) ev.push_back(receipt(at(d, 5), "S2", "A", 12, "PO2"));
  }
  return ev;
}

void run(LowStockOperator& op, FakeContext& ctx, const std::vector<Event>& ev, size_t from,
         size_t to) {
  for (size_t i = from; i < to; ++i) {
    ctx.send(op, ev[i]);
    ctx.advance_watermark(op, ev[i].ts_ms);
  }
}

TEST(ReplenishmentRestoreTest, SnapshotRestoreGivesIdenticalSubsequentOutputs) {
  const std::string yaml = "regions: {north: [S1, S2, S3]}\n";
  const std::vector<std::string> o = {"operators.low_stock.min_history_days=2",
                                      "operators.low_stock.expiry_min_units=1",
                                      "operators.low_stock.expiry_min_cost=0"};
  const std::vector<Event> ev = workflow_script();
  FixedDemandView view(2.5, 1);
  for (size_t cut : {size_t{3}, size_t{6}, ev.size() / 3, ev.size() / 2, ev.size() - 5}) {
    SCOPED_TRACE(cut);
    LowStockOperator ref(Config::from_yaml(yaml, o));
    FakeContext ref_ctx;
    ref_ctx.set_demand_view(&view);
    run(ref, ref_ctx, ev, 0, cut);
    ref_ctx.take();
    run(ref, ref_ctx, ev, cut, ev.size());
    const std::vector<OutputRecord> want = ref_ctx.take();

    FakeStateStore store;
    std::vector<std::pair<std::string, std::string>> key_order;
    int64_t wm = 0;
    {
      LowStockOperator op(Config::from_yaml(yaml, o));
      FakeContext ctx;
      ctx.set_demand_view(&view);
      run(op, ctx, ev, 0, cut / 2);
      StateBatch b1;
      op.snapshot(b1, ctx.keys());
      ASSERT_TRUE(store.commit(b1).is_ok());
      run(op, ctx, ev, cut / 2, cut);
      StateBatch b2;
      op.snapshot(b2, ctx.keys());
      ASSERT_TRUE(store.commit(b2).is_ok());
      for (KeyId k = 0; k < ctx.keys().size(); ++k) {
        key_order.emplace_back(ctx.keys().store(k), ctx.keys().sku(k));
      }
      wm = ctx.watermark();
    }
    LowStockOperator restored(Config::from_yaml(yaml, o));
    FakeContext ctx;
    ctx.set_demand_view(&view);
    for (const auto& [st, sku] : key_order) ctx.key(st, sku);
    ASSERT_TRUE(restored.restore(store, ctx).is_ok());
    ctx.set_watermark(wm);
    run(restored, ctx, ev, cut, ev.size());
    const std::vector<OutputRecord> got = ctx.take();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].id, want[i].id);
      EXPECT_EQ(got[i].json, want[i].json);
    }
  }
}

TEST(ReplenishmentRestoreTest, SilentStockoutEpisodeSurvivesRestore) {
  // The likely-arrival case of StockoutAlertsOnlyForExceptions, cut while the stock-out is
  // silent: the restored operator keeps it silent, turns it into an alert at the same event
  // with the same id, and resolves it the same way.
  const std::vector<Event> ev = {
      inventory(at(0, 1), "S1", "A", InventoryKind::kSnapshot, 10),
      order(at(0, 2), "S1", "A", 20, "PO1", "ACME", at(5, 2)),
      sale(at(3, 23), "S1", "A", 10),  // silent: likely arrival 3 h away
      sale(at(4, 1), "S1", "A", 1),    // still silent (1 h away)
      inventory(at(4, 3), "S1", "A", InventoryKind::kSnapshot, 0),  // alert
      receipt(at(4, 10), "S1", "A", 20, "PO1"),                     // resolved
  };
  FixedDemandView view(2, 1);
  LowStockOperator ref(cfg());
  FakeContext ref_ctx;
  ref_ctx.set_demand_view(&view);
  run(ref, ref_ctx, ev, 0, 3);
  ref_ctx.take();
  run(ref, ref_ctx, ev, 3, ev.size());
  const std::vector<OutputRecord> want = ref_ctx.take();
  size_t stockouts = 0;
  for (const auto& r : want) stockouts += r.type == "stockout";
  ASSERT_EQ(stockouts, 2u);

  FakeStateStore store;
  int64_t wm = 0;
  {
    LowStockOperator op(cfg());
    FakeContext ctx;
    ctx.set_demand_view(&view);
    run(op, ctx, ev, 0, 3);
    EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "stockout").empty());
    StateBatch b;
    op.snapshot(b, ctx.keys());
    ASSERT_TRUE(store.commit(b).is_ok());
    wm = ctx.watermark();
  }
  LowStockOperator restored(cfg());
  FakeContext ctx;
  ctx.set_demand_view(&view);
  ctx.key("S1", "A");
  ASSERT_TRUE(restored.restore(store, ctx).is_ok());
  ctx.set_watermark(wm);
  EXPECT_NE(restored.describe(ctx.key("S1", "A"), ctx.keys()).find("\"stockout_silent\":true"),
            std::string::npos);
  run(restored, ctx, ev, 3, ev.size());
  const std::vector<OutputRecord> got = ctx.take();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id);
    EXPECT_EQ(got[i].json, want[i].json);
  }
}

TEST(ReplenishmentRestoreTest, ScriptExercisesEveryWorkflowOutput) {
  LowStockOperator op(Config::from_yaml(
      "regions: {north: [S1, S2, S3]}\n",
      {"operators.low_stock.min_history_days=2", "operators.low_stock.expiry_min_units=1",
       "operators.low_stock.expiry_min_cost=0"}));
  FakeContext ctx;
  FixedDemandView view(2.5, 1);
  ctx.set_demand_view(&view);
  const std::vector<Event> ev = workflow_script();
  run(op, ctx, ev, 0, ev.size());
  EXPECT_FALSE(ctx.of(OutputStream::kReplenishment).empty());
  EXPECT_FALSE(ctx.of(OutputStream::kAlerts, "receipt_overdue").empty());
  EXPECT_FALSE(ctx.of(OutputStream::kAlerts, "expiry").empty());
  EXPECT_FALSE(ctx.of(OutputStream::kAlerts, "transfer").empty());
}

}  // namespace
}  // namespace sw
