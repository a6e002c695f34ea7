// Forecast operator: bucketing and closing by event-time timers, zero-demand buckets,
// censoring, promotions, intermittent models, intervals, drift, the demand view, hourly
// buckets, and checkpoint/restore invariance.

#include "operators/forecast/forecast.h"
#include "tests/support/line_pipeline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <simdjson.h>

#include "state/memory_store.h"
#include "stream/config.h"
#include "stream/json_writer.h"
#include "stream/task.h"
#include "tests/support/fake_context.h"

namespace sw {
namespace {

using testing::FakeContext;
using testing::FakeStateStore;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kHour = 3'600'000;
constexpr int32_t kDay0 = 19'359;  // 2023-01-02, a Monday

int64_t day_ms(int d) {
  return int64_t{kDay0 + d} * kDay;
}

ForecastOptions test_options() {
  ForecastOptions o;
  o.horizon = 14;
  return o;
}

Event promotion(int64_t ts, std::string_view sku, int64_t start, int64_t end, double pct,
                std::string_view store = {}) {
  Event e;
  e.type = EventType::kPromotion;
  e.ts_ms = ts;
  e.sku = sku;
  e.store = store;
  e.promo_id = "P1";
  e.start_ms = start;
  e.end_ms = end;
  e.discount_pct = pct;
  return e;
}

// Parsed view of one forecast record.
struct Parsed {
  std::string store, sku, time, model;
  double actual = 0;
  bool censored = false;
  std::vector<double> mean, lo, hi;
  std::vector<std::string> times;
};

Parsed parse(const std::string& json) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string p(json);
  auto doc = parser.iterate(p);
  Parsed out;
  out.store = std::string(std::string_view(doc["store"]));
  out.sku = std::string(std::string_view(doc["sku"]));
  out.time = std::string(std::string_view(doc["time"]));
  for (auto step : doc["horizon"].get_array()) {
    out.times.emplace_back(std::string_view(step["time"]));
    out.mean.push_back(double(step["mean"]));
    out.lo.push_back(double(step["lo"]));
    out.hi.push_back(double(step["hi"]));
  }
  out.model = std::string(std::string_view(doc["model"]));
  out.actual = double(doc["actual"]);
  out.censored = bool(doc["censored"]);
  return out;
}

// Sends `qty` at noon of day `d` (if > 0) and closes the day.
void sell_day(ForecastOperator& op, FakeContext& ctx, int d, double qty,
              std::string_view store = "S1", std::string_view sku = "A") {
  if (qty > 0) ctx.send(op, testing::sale(day_ms(d) + 12 * kHour, store, sku, qty));
  ctx.advance_watermark(op, day_ms(d + 1));
}

TEST(ForecastOperatorTest, ClosesDailyBucketsIncludingZeroDemandDays) {
  ForecastOperator op(test_options());
  FakeContext ctx;
  ctx.send(op, testing::sale(day_ms(0) + 9 * kHour, "S1", "A", 2));
  ctx.send(op, testing::sale(day_ms(0) + 15 * kHour, "S1", "A", 3));
  ctx.send(op, testing::sale(day_ms(1) + 1 * kHour, "S1", "A", 4));  // next day, still open
  ctx.advance_watermark(op, day_ms(1) - 1);
  EXPECT_TRUE(ctx.of(OutputStream::kForecasts).empty());  // bucket not closed yet
  ctx.advance_watermark(op, day_ms(1));
  auto recs = ctx.of(OutputStream::kForecasts, "forecast");
  ASSERT_EQ(recs.size(), 1u);
  Parsed p = parse(recs[0]->json);
  EXPECT_EQ(p.store, "S1");
  EXPECT_EQ(p.sku, "A");
  EXPECT_EQ(recs[0]->key, "S1|A");
  EXPECT_EQ(p.time, format_time(day_ms(1)));
  EXPECT_EQ(p.actual, 5);
  ASSERT_EQ(p.mean.size(), 14u);
  EXPECT_EQ(p.times[0], format_time(day_ms(1)));
  EXPECT_EQ(p.times[13], format_time(day_ms(14)));
  EXPECT_NEAR(p.mean[0], 5.0, 1e-9);  // first observation: the level is the observation
  // Day 1 (4 units) and day 2 (no sales, in stock: zero demand) close as the watermark moves.
  ctx.advance_watermark(op, day_ms(3));
  recs = ctx.of(OutputStream::kForecasts, "forecast");
  ASSERT_EQ(recs.size(), 2u);  // chain stops after the bucket holding the last event
  EXPECT_EQ(parse(recs[1]->json).actual, 4);
  ctx.send(op, testing::sale(day_ms(3) + 12 * kHour, "S1", "A", 1));
  ctx.advance_watermark(op, day_ms(4));
  recs = ctx.of(OutputStream::kForecasts, "forecast");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(parse(recs[2]->json).actual, 0);  // day 2: zero demand
  EXPECT_EQ(parse(recs[3]->json).actual, 1);
  // Running mean during cold start: (5 + 4 + 0 + 1) / 4 = 2.5 (flat season profiles).
  EXPECT_NEAR(parse(recs[3]->json).mean[0], 2.5, 1e-3);
}

TEST(ForecastOperatorTest, ConstantDemandGivesThatMeanAndCalibratedWidth) {
  ForecastOperator op(test_options());
  FakeContext ctx;
  std::mt19937_64 rng(3);
  std::poisson_distribution<int> pois(20);
  int inside = 0, total = 0;
  std::vector<double> prev_lo, prev_hi;
  for (int d = 0; d < 400; ++d) {
    const int q = pois(rng);
    sell_day(op, ctx, d, q);
    auto recs = ctx.take();
    ASSERT_EQ(recs.size(), 1u);
    Parsed p = parse(recs[0].json);
    if (d >= 100 && !prev_lo.empty()) {
      total++;
      inside += (q >= prev_lo[0] && q <= prev_hi[0]) ? 1 : 0;
    }
    prev_lo = p.lo;
    prev_hi = p.hi;
    if (d == 399) {
      EXPECT_NEAR(p.mean[0], 20, 1.5);
      EXPECT_NEAR(p.mean[13], 20, 1.5);
      EXPECT_EQ(p.model, "damped_trend_seasonal");
    }
  }
  const double coverage = double(inside) / total;
  EXPECT_GE(coverage, 0.85);
  EXPECT_LE(coverage, 0.95);
}

// The long-horizon interval anchor: each weekly origin stores its 91-step forecast; when that
// bucket closes, the out-of-sample standardised residual moves the anchor's quantiles by one
// stochastic-approximation step; steps between 28 and 91 interpolate in log h.
TEST(ForecastOperatorTest, LongHorizonAnchorLearnsOutOfSampleResiduals) {
  ForecastOptions o = test_options();
  o.horizon = 100;
  ForecastOperator op(o);
  FakeContext ctx;
  const KeyId key = ctx.key("S1", "A");
  const double z = forecast::normal_quantile(0.95);
  std::mt19937_64 rng(5);
  std::poisson_distribution<int> pois(20);
  // Bucket index kDay0 + d is a multiple of 7 (a weekly origin) when d % 7 == 3.
  ASSERT_EQ((kDay0 + 3) % 7, 0);
  double q_lo = 0, q_hi = 0;
  uint32_t n = 0;
  std::vector<HorizonPoint> pts;
  for (int d = 0; d < 94; ++d) sell_day(op, ctx, d, pois(rng));
  // Day 94 closes the target of origin day 3 (3 + 91): the first long residual.
  ASSERT_TRUE(op.anchor_quantiles(key, 3, q_lo, q_hi, n));
  EXPECT_EQ(n, 0u);
  sell_day(op, ctx, 94, pois(rng));
  ASSERT_TRUE(op.anchor_quantiles(key, 3, q_lo, q_hi, n));
  EXPECT_EQ(n, 1u);
  for (int d = 95; d < 150; ++d) sell_day(op, ctx, d, pois(rng));
  // Origin day 150: the stored 91-step forecast is the horizon's step 91.
  sell_day(op, ctx, 150, pois(rng));
  ASSERT_TRUE(op.forecast(key, 100, ctx.keys(), pts));
  const double f = pts[90].mean;
  // Interpolation between the 28-step and long anchors in log h (h = 60).
  double lo28 = 0, hi28 = 0, lo91 = 0, hi91 = 0;
  uint32_t n28 = 0;
  ASSERT_TRUE(op.anchor_quantiles(key, 2, lo28, hi28, n28));
  ASSERT_TRUE(op.anchor_quantiles(key, 3, lo91, hi91, n));
  EXPECT_EQ(n, 9u);  // origins on days 3, 10, ..., 59
  const double t = std::log(60 / 28.0) / std::log(91 / 28.0);
  const double hi60 = hi28 + t * (std::max(hi91, hi28) - hi28);
  EXPECT_NEAR(pts[59].hi, pts[59].mean + hi60 * std::sqrt(pts[59].mean + 0.5), 1e-6);
  for (int d = 151; d < 241; ++d) sell_day(op, ctx, d, pois(rng));
  // Day 241 (origin 150 + 91) sells far more than forecast: r above the upper quantile.
  ASSERT_TRUE(op.anchor_quantiles(key, 3, q_lo, q_hi, n));
  const double y = 45;
  sell_day(op, ctx, 241, y);
  const double r = (y - f) / std::sqrt(f + 0.5);
  ASSERT_GT(r, q_hi);
  const double step = std::max(0.5, (q_hi - q_lo) / (2 * z)) * std::max(0.15, 4.0 / (n + 10.0));
  double lo1 = 0, hi1 = 0;
  uint32_t n1 = 0;
  ASSERT_TRUE(op.anchor_quantiles(key, 3, lo1, hi1, n1));
  EXPECT_EQ(n1, n + 1);
  EXPECT_NEAR(hi1, q_hi + step * 0.95, 1e-4);  // tau_hi = 0.95, r >= q_hi
  EXPECT_NEAR(lo1, q_lo + step * 0.05, 1e-4);  // tau_lo = 0.05, r >= q_lo
}

TEST(ForecastOperatorTest, LearnsDayOfWeekProfile) {
  ForecastOperator op(test_options());
  FakeContext ctx;
  // Saturdays (weekday 5) sell 30, other days 10: weekly mean 90/7.
  for (int d = 0; d < 180; ++d) sell_day(op, ctx, d, (d % 7) == 5 ? 30 : 10);
  std::vector<HorizonPoint> pts;
  const KeyId k = ctx.key("S1", "A");
  ASSERT_TRUE(op.forecast(k, 7, ctx.keys(), pts));
  // Next bucket is day 180 (weekday 5 = Saturday).
  EXPECT_NEAR(pts[0].mean, 30, 2.5);
  for (int i = 1; i < 7; ++i) EXPECT_NEAR(pts[i].mean, 10, 1.0) << i;
}

// Month-of-year profiles are pooled per category x store and refined by the key's own history:
// B sells 3x in June while A (10x B's volume, same category and store) is flat; B's June
// forecast then rises well above what the pool alone gives it.
TEST(ForecastOperatorTest, KeyRefinesPooledMonthProfile) {
  auto june_over_may = [](bool own) {
    ForecastOptions o = test_options();
    o.own_months = own;
    ForecastOperator op(o);
    FakeContext ctx;
    const int until = 20'209 - kDay0;  // through 2025-04-30
    for (int d = 0; d < until; ++d) {
      const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{kDay0 + d}}};
      const bool june = static_cast<unsigned>(ymd.month()) == 6;
      ctx.send(op, testing::sale(day_ms(d) + 12 * kHour, "S1", "A", 100));
      ctx.send(op, testing::sale(day_ms(d) + 12 * kHour, "S1", "B", june ? 30 : 10));
      ctx.advance_watermark(op, day_ms(d + 1));
    }
    std::vector<HorizonPoint> pts;
    EXPECT_TRUE(op.forecast(ctx.key("S1", "B"), 61, ctx.keys(), pts));  // May (31 days), then June
    double may = 0, june = 0;
    for (int i = 0; i < 31; ++i) may += pts[i].mean / 31;
    for (int i = 31; i < 61; ++i) june += pts[i].mean / 30;
    return june / may;
  };
  const double pooled = june_over_may(false);
  const double own = june_over_may(true);
  EXPECT_GT(pooled, 1.05);  // the pool sees B's Junes too, diluted by A
  EXPECT_LT(pooled, 1.4);
  EXPECT_GT(own, pooled + 0.2);
  EXPECT_LT(own, 3.0);
}

// Hour-of-day profiles likewise: B sells 3x at 18:00 while A (10x B's volume) is flat over
// its opening hours; B's own history lifts its 18:00 forecast above what the pool gives it.
TEST(ForecastOperatorTest, KeyRefinesPooledHourProfile) {
  auto evening_peak = [](bool own) {
    ForecastOptions o = test_options();
    o.hourly = true;
    o.alpha = 0.002;
    o.own_hours = own;
    ForecastOperator op(o);
    FakeContext ctx;
    for (int d = 0; d < 60; ++d) {
      for (int h = 8; h < 20; ++h) {
        ctx.send(op, testing::sale(day_ms(d) + h * kHour + 60'000, "S1", "A", 50));
        ctx.send(op, testing::sale(day_ms(d) + h * kHour + 60'000, "S1", "B", h == 18 ? 15 : 5));
        ctx.advance_watermark(op, day_ms(d) + (h + 1) * kHour);
      }
    }
    std::vector<HorizonPoint> pts;
    // The last event was day 59, 19:00: the open bucket is day 59, 20:00.
    EXPECT_TRUE(op.forecast(ctx.key("S1", "B"), 24, ctx.keys(), pts));
    EXPECT_EQ(pts[0].time_ms, day_ms(59) + 20 * kHour);
    // Day 60, 18:00 over the mean of 17:00 and 19:00 (the neighbours cancel the trend).
    return pts[22].mean / ((pts[21].mean + pts[23].mean) / 2);
  };
  const double pooled = evening_peak(false);
  const double own = evening_peak(true);
  EXPECT_GT(pooled, 1.05);  // the pool sees B's evenings too, diluted by A
  EXPECT_GT(own, pooled + 0.08);
  EXPECT_LT(own, 3.0);
}

TEST(ForecastOperatorTest, OutOfStockBucketsAreCensored) {
  ForecastOptions o = test_options();
  ForecastOperator op(o), control(o);
  FakeContext ctx, cctx;
  ctx.send(op, testing::inventory(day_ms(0), "S1", "A", InventoryKind::kSnapshot, 1000));
  for (int d = 0; d < 60; ++d) {
    sell_day(op, ctx, d, 10);
    sell_day(control, cctx, d, 10);
  }
  // Stock-out: the shelf is empty for 15 days (no sales), then restocked.
  ctx.send(op, testing::inventory(day_ms(60), "S1", "A", InventoryKind::kSnapshot, 0));
  for (int d = 60; d < 75; ++d) {
    sell_day(op, ctx, d, 0);
    sell_day(control, cctx, d, 0);
  }
  ctx.send(op, testing::inventory(day_ms(75), "S1", "A", InventoryKind::kReceipt, 500));
  sell_day(op, ctx, 75, 10);
  sell_day(control, cctx, 75, 10);
  EXPECT_EQ(op.censored_buckets(), 15u);
  EXPECT_EQ(control.censored_buckets(), 0u);
  std::vector<HorizonPoint> a, b;
  ASSERT_TRUE(op.forecast(ctx.key("S1", "A"), 1, ctx.keys(), a));
  ASSERT_TRUE(control.forecast(cctx.key("S1", "A"), 1, cctx.keys(), b));
  EXPECT_NEAR(a[0].mean, 10, 0.5);  // the empty shelf did not teach "demand fell"
  EXPECT_LT(b[0].mean, 9.0);        // without stock information it did
  auto recs = ctx.of(OutputStream::kForecasts);
  EXPECT_TRUE(parse(recs[65]->json).censored);
  EXPECT_FALSE(parse(recs[75]->json).censored);
}

TEST(ForecastOperatorTest, PartlyOutOfStockDayIsCensoredOnlyAboveThreshold) {
  ForecastOptions o = test_options();
  o.censor_fraction = 0.25;
  ForecastOperator op(o);
  FakeContext ctx;
  ctx.send(op, testing::inventory(day_ms(0), "S1", "A", InventoryKind::kSnapshot, 12));
  // Day 0: sells out at 20:00 (4 h out of stock = 1/6 of the day): not censored.
  ctx.send(op, testing::sale(day_ms(0) + 20 * kHour, "S1", "A", 12));
  ctx.send(op, testing::inventory(day_ms(1), "S1", "A", InventoryKind::kReceipt, 12));
  ctx.advance_watermark(op, day_ms(1));
  // Day 1: sells out at 06:00 (18 h out): censored.
  ctx.send(op, testing::sale(day_ms(1) + 6 * kHour, "S1", "A", 12));
  ctx.send(op, testing::inventory(day_ms(2), "S1", "A", InventoryKind::kReceipt, 12));
  ctx.advance_watermark(op, day_ms(2));
  EXPECT_EQ(op.censored_buckets(), 1u);
  auto recs = ctx.of(OutputStream::kForecasts);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_FALSE(parse(recs[0]->json).censored);
  EXPECT_TRUE(parse(recs[1]->json).censored);
}

TEST(ForecastOperatorTest, PromotionIsNotReadAsTrendAndUpliftIsLearned) {
  ForecastOptions o = test_options();
  ForecastOperator op(o), control(o);
  FakeContext ctx, cctx;
  // Ten skus of one category in one store, 20 units a day; a 50 % promotion doubles sales
  // for a week (days 60-66) on every sku.
  std::vector<std::string> skus;
  for (int i = 0; i < 10; ++i) skus.push_back("SKU" + std::to_string(i));
  ItemFields f;
  f.category = "snacks";
  for (const auto& s : skus) {
    ctx.send(op, testing::item(day_ms(0), s, f));
    cctx.send(control, testing::item(day_ms(0), s, f));
    ctx.send(op, promotion(day_ms(0), s, day_ms(60), day_ms(67), 50));
  }
  auto day = [&](ForecastOperator& o2, FakeContext& c, int d) {
    for (const auto& s : skus) {
      const double q = (d >= 60 && d < 67) ? 40 : 20;
      c.send(o2, testing::sale(day_ms(d) + 12 * kHour, "S1", s, q));
    }
    c.advance_watermark(o2, day_ms(d + 1));
  };
  for (int d = 0; d < 67; ++d) {
    day(op, ctx, d);
    day(control, cctx, d);
  }
  std::vector<HorizonPoint> a, b;
  ASSERT_TRUE(op.forecast(ctx.key("S1", "SKU0"), 1, ctx.keys(), a));
  ASSERT_TRUE(control.forecast(cctx.key("S1", "SKU0"), 1, cctx.keys(), b));
  EXPECT_NEAR(a[0].mean, 20, 1.0);        // with the promotion known, the level barely moved
  EXPECT_GT(b[0].mean, a[0].mean + 1.0);  // without it, the promoted week raised the level
  // A scheduled promotion lifts the forecast on its days by the learned uplift (~2x).
  ctx.send(op, promotion(day_ms(67), "SKU0", day_ms(70), day_ms(72), 50));
  ASSERT_TRUE(op.forecast(ctx.key("S1", "SKU0"), 7, ctx.keys(), a));
  EXPECT_NEAR(a[0].mean, 20, 1.0);
  EXPECT_GT(a[3].mean / a[0].mean, 1.6);  // day 70
  EXPECT_LT(a[3].mean / a[0].mean, 2.4);
  EXPECT_NEAR(a[5].mean, a[0].mean, 1.0);  // day 72: promotion over
}

TEST(ForecastOperatorTest, NewKeyStartsFromItsCategoryStorePrior) {
  ForecastOperator op(test_options());
  FakeContext ctx;
  ItemFields f;
  f.category = "bakery";
  for (const char* sku : {"B1", "B2", "B3", "NEW"}) ctx.send(op, testing::item(0, sku, f));
  for (int d = 0; d < 60; ++d) {
    for (const char* sku : {"B1", "B2", "B3"}) {
      ctx.send(op, testing::sale(day_ms(d) + 12 * kHour, "S1", sku, 20));
    }
    ctx.advance_watermark(op, day_ms(d + 1));
  }
  // The new key's first day sells 10: its first forecast blends the prior (20) with it.
  ctx.send(op, testing::sale(day_ms(60) + 12 * kHour, "S1", "NEW", 10));
  for (const char* sku : {"B1", "B2", "B3"}) {
    ctx.send(op, testing::sale(day_ms(60) + 12 * kHour, "S1", sku, 20));
  }
  ctx.take();
  ctx.advance_watermark(op, day_ms(61));
  std::vector<HorizonPoint> pts;
  ASSERT_TRUE(op.forecast(ctx.key("S1", "NEW"), 1, ctx.keys(), pts));
  EXPECT_NEAR(pts[0].mean, 15, 0.5);
  // A key of another category in another store has no prior: its first day is its level.
  ctx.send(op, testing::sale(day_ms(61) + 12 * kHour, "S2", "OTHER", 10));
  ctx.advance_watermark(op, day_ms(62));
  ASSERT_TRUE(op.forecast(ctx.key("S2", "OTHER"), 1, ctx.keys(), pts));
  EXPECT_NEAR(pts[0].mean, 10, 1e-6);
}

TEST(ForecastOperatorTest, FarHorizonExpectsPromotionsNotYetAnnounced) {
  ForecastOperator op(test_options());
  FakeContext ctx;
  ItemFields f;
  f.category = "snacks";
  std::vector<std::string> skus;
  // Appended rather than "P" + std::to_string(i): GCC 12 at -O3 reports a -Wrestrict false
  // positive inside that operator+ (GCC bug 105329).
  for (int i = 0; i < 5; ++i) skus.push_back(std::string("P").append(std::to_string(i)));
  for (const auto& s : skus) ctx.send(op, testing::item(0, s, f));
  // Every 10 days a 3-day 50 % promotion, announced 2 days ahead, doubles sales (20 -> 40).
  for (int d = 0; d < 124; ++d) {
    if (d % 10 == 8) {
      for (const auto& s : skus) {
        ctx.send(op, promotion(day_ms(d), s, day_ms(d + 2), day_ms(d + 5), 50));
      }
    }
    const bool promo = d % 10 <= 2 && d >= 10;
    for (const auto& s : skus) {
      ctx.send(op, testing::sale(day_ms(d) + 12 * kHour, "S1", s, promo ? 40 : 20));
    }
    ctx.advance_watermark(op, day_ms(d + 1));
  }
  std::vector<HorizonPoint> pts;
  ASSERT_TRUE(op.forecast(ctx.key("S1", "P0"), 10, ctx.keys(), pts));
  // Day 124: inside the announcement lead, nothing announced: the unpromoted baseline.
  EXPECT_NEAR(pts[0].mean, 20, 1.5);
  // Day 129: beyond the lead, 30 % of buckets are promoted with ~2x uplift: ~1.3x expected.
  EXPECT_GT(pts[5].mean / pts[0].mean, 1.15);
  EXPECT_LT(pts[5].mean / pts[0].mean, 1.45);
}

TEST(ForecastOperatorTest, SlowMoverUsesIntermittentModel) {
  ForecastOperator op(test_options());
  FakeContext ctx;
  for (int d = 0; d < 200; ++d) sell_day(op, ctx, d, d % 5 == 0 ? 2 : 0);
  const KeyId k = ctx.key("S1", "A");
  const std::string model(op.key_model(k));
  EXPECT_TRUE(model == "croston_sba" || model == "tsb") << model;
  std::vector<HorizonPoint> pts;
  ASSERT_TRUE(op.forecast(k, 7, ctx.keys(), pts));
  double sum = 0;
  for (const auto& p : pts) sum += p.mean;
  EXPECT_NEAR(sum / 7, 0.4, 0.12);  // 2 units every 5 days
}

TEST(ForecastOperatorTest, DriftFiresRefitsAndResolves) {
  ForecastOptions o = test_options();
  // Slow intermittent models too, so that no candidate model absorbs the shift by itself
  // (with the default gain TSB adapts within days and is chosen instead: no drift).
  o.intermittent_alpha = 0.01;
  ForecastOperator op(o);
  FakeContext ctx;
  std::mt19937_64 rng(5);
  std::poisson_distribution<int> low(10), high(40);
  for (int d = 0; d < 120; ++d) sell_day(op, ctx, d, low(rng));
  EXPECT_TRUE(ctx.of(OutputStream::kAlerts).empty());
  int fired_day = -1;
  for (int d = 120; d < 200; ++d) {
    sell_day(op, ctx, d, high(rng));
    if (fired_day < 0 && !ctx.of(OutputStream::kAlerts).empty()) fired_day = d;
  }
  auto alerts = ctx.of(OutputStream::kAlerts, "forecast_drift");
  ASSERT_GE(alerts.size(), 2u);
  EXPECT_LE(fired_day, 140);  // detection delay ~ the 14-bucket short window
  EXPECT_NE(alerts[0]->json.find("\"status\":\"firing\""), std::string::npos);
  EXPECT_NE(alerts[1]->json.find("\"status\":\"resolved\""), std::string::npos);
  EXPECT_EQ(alerts[0]->id, alerts[1]->id);
  std::vector<HorizonPoint> pts;
  ASSERT_TRUE(op.forecast(ctx.key("S1", "A"), 1, ctx.keys(), pts));
  EXPECT_NEAR(pts[0].mean, 40, 4);  // re-fitted to the new level
}

TEST(ForecastOperatorTest, DemandViewSumsTheForecastOverTheLeadTime) {
  ForecastOperator op(test_options());
  FakeContext ctx;
  for (int d = 0; d < 60; ++d) sell_day(op, ctx, d, 10);
  const DemandView* view = op.demand_view();
  DemandEstimate est;
  const KeyId k = ctx.key("S1", "A");
  ASSERT_TRUE(view->demand(k, ctx.keys(), day_ms(60), 7, 35, est));
  EXPECT_NEAR(est.total_mean, 70, 1.0);
  EXPECT_NEAR(est.mean_per_day, 10, 0.15);
  EXPECT_NEAR(est.cover_days, 3.5, 0.1);
  EXPECT_GT(est.total_sd, 0);
  ASSERT_TRUE(view->demand(k, ctx.keys(), day_ms(60), 2.5, 0, est));
  EXPECT_NEAR(est.total_mean, 25, 0.5);
  EXPECT_EQ(est.cover_days, 0);
  EXPECT_FALSE(view->demand(ctx.key("S1", "B"), ctx.keys(), day_ms(60), 7, 1, est));
}

TEST(ForecastOperatorTest, HourlyBucketsLearnIntraDayProfile) {
  ForecastOptions o = test_options();
  o.hourly = true;
  o.horizon = 24;
  ForecastOperator op(o);
  FakeContext ctx;
  for (int d = 0; d < 40; ++d) {
    ctx.send(op, testing::sale(day_ms(d) + 10 * kHour + 60'000, "S1", "A", 24));
    ctx.advance_watermark(op, day_ms(d + 1));
  }
  // Buckets close up to the one holding the last event (day 39, 10:00): event time cannot
  // pass what the input has not reached.
  auto recs = ctx.of(OutputStream::kForecasts);
  EXPECT_EQ(recs.size(), 39u * 24 + 1);
  std::vector<HorizonPoint> pts;
  ASSERT_TRUE(op.forecast(ctx.key("S1", "A"), 24, ctx.keys(), pts));
  EXPECT_EQ(pts[23].time_ms, day_ms(40) + 10 * kHour);
  EXPECT_GT(pts[23].mean, 5 * pts[16].mean);
  EXPECT_GT(pts[23].mean, 8);
}

// Drives a deterministic multi-key history from day `from` to `to` (exclusive).
void history(ForecastOperator& op, FakeContext& ctx, int from, int to) {
  for (int d = from; d < to; ++d) {
    for (int k = 0; k < 3; ++k) {
      std::mt19937_64 rng(static_cast<uint64_t>(d * 7 + k));
      std::poisson_distribution<int> pois(5.0 + 10 * k + (d % 7 == 5 ? 6 : 0));
      const int q = pois(rng);
      static const char* kSkus[] = {"A", "B", "C"};
      if (q > 0) ctx.send(op, testing::sale(day_ms(d) + 11 * kHour, "S1", kSkus[k], q));
      if (d == 30 && k == 1) {
        ctx.send(
            op, testing::inventory(day_ms(d) + 12 * kHour, "S1", "B", InventoryKind::kSnapshot, 0));
      }
      if (d == 33 && k == 1) {
        ctx.send(op, testing::inventory(day_ms(d), "S1", "B", InventoryKind::kReceipt, 100));
      }
    }
    if (d == 10) ctx.send(op, promotion(day_ms(d), "C", day_ms(40), day_ms(45), 30));
    // The watermark trails the events (as in the task): day d - 1 closes at day d, 11:00.
    ctx.advance_watermark(op, day_ms(d) + 11 * kHour + 1);
  }
}

// An incremental checkpoint (dirty keys only) of `op` (fed through `ctx`) committed to `store`.
void checkpoint(ForecastOperator& op, const FakeContext& ctx, FakeStateStore& store) {
  StateBatch b;
  op.snapshot(b, ctx.keys());
  const Status st = store.commit(b);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
}

// The restarted operator: keys re-created as the task's key index would, then restored at
// watermark `at`.
void restore_into(ForecastOperator& op, FakeContext& ctx, FakeStateStore& store, int64_t at) {
  for (const char* sku : {"A", "B", "C"}) ctx.key("S1", sku);
  ctx.set_watermark(at);
  const Status rs = op.restore(store, ctx);
  ASSERT_TRUE(rs.is_ok()) << rs.to_string();
}

TEST(ForecastOperatorTest, RestoreGivesByteIdenticalOutputs) {
  ForecastOptions o = test_options();
  o.horizon = 120;  // beyond the long interval anchor, which has samples at the restart
  ForecastOperator straight(o);
  FakeContext sctx;
  ItemFields f;
  f.category = "dairy";
  sctx.send(straight, testing::item(0, "A", f));
  history(straight, sctx, 0, 140);
  const auto expected = sctx.take();

  FakeStateStore store;
  std::vector<OutputRecord> got;
  {
    ForecastOperator first(o);
    FakeContext c1;
    c1.send(first, testing::item(0, "A", f));
    history(first, c1, 0, 20);
    ASSERT_NO_FATAL_FAILURE(checkpoint(first, c1, store));
    history(first, c1, 20, 112);
    ASSERT_NO_FATAL_FAILURE(checkpoint(first, c1, store));
    got = c1.take();
    double lo = 0, hi = 0;
    uint32_t n = 0;
    ASSERT_TRUE(first.anchor_quantiles(c1.key("S1", "A"), 3, lo, hi, n));
    EXPECT_GT(n, 0u);
  }
  ForecastOperator second(o);
  FakeContext c2;
  ASSERT_NO_FATAL_FAILURE(restore_into(second, c2, store, day_ms(111) + 11 * kHour + 1));
  EXPECT_EQ(c2.timers.size(), 3u);  // one bucket-close timer per key, re-registered
  history(second, c2, 112, 140);
  for (auto& r : c2.take()) got.push_back(std::move(r));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, expected[i].key) << i;
    EXPECT_EQ(got[i].json, expected[i].json) << i;
  }
  EXPECT_GT(second.censored_buckets(), 0u);
}

// Hourly buckets keep the per-key hour-of-day profile in its own records: restored too.
TEST(ForecastOperatorTest, HourlyRestoreGivesByteIdenticalOutputs) {
  ForecastOptions o = test_options();
  o.hourly = true;
  o.alpha = 0.002;
  ForecastOperator straight(o);
  FakeContext sctx;
  history(straight, sctx, 0, 30);
  const auto expected = sctx.take();

  FakeStateStore store;
  std::vector<OutputRecord> got;
  {
    ForecastOperator first(o);
    FakeContext c1;
    history(first, c1, 0, 9);
    ASSERT_NO_FATAL_FAILURE(checkpoint(first, c1, store));
    history(first, c1, 9, 17);
    ASSERT_NO_FATAL_FAILURE(checkpoint(first, c1, store));
    got = c1.take();
  }
  ForecastOperator second(o);
  FakeContext c2;
  ASSERT_NO_FATAL_FAILURE(restore_into(second, c2, store, day_ms(16) + 11 * kHour + 1));
  history(second, c2, 17, 30);
  for (auto& r : c2.take()) got.push_back(std::move(r));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].json, expected[i].json) << i;
  }
}

// Between bucket closes only the hot prefix of a key's state changes: a checkpoint then writes
// the small 'q' record instead of the whole key state, restore lays it over the 'k' record, and
// the next whole-state write deletes it.
TEST(ForecastOperatorTest, HotOnlyCheckpointsRestoreByteIdentically) {
  const ForecastOptions o = test_options();
  auto day20 = [](ForecastOperator& op, FakeContext& ctx) {
    ctx.send(op, testing::sale(day_ms(20) + 11 * kHour, "S1", "A", 5));
    ctx.send(op, testing::sale(day_ms(20) + 11 * kHour, "S1", "B", 7));
    ctx.send(op,
             testing::inventory(day_ms(20) + 11 * kHour, "S1", "C", InventoryKind::kSnapshot, 3));
  };
  auto rest = [](ForecastOperator& op, FakeContext& ctx) {
    ctx.advance_watermark(op, day_ms(20) + 11 * kHour + 1);
    history(op, ctx, 21, 40);
  };
  auto count = [](const FakeStateStore& store, std::string_view prefix) {
    size_t n = 0;
    EXPECT_TRUE(store
                    .scan_prefix(ForecastOperator::kNamespace, prefix,
                                 [&](std::string_view, std::string_view) { return ++n > 0; })
                    .is_ok());
    return n;
  };
  ForecastOperator straight(o);
  FakeContext sctx;
  history(straight, sctx, 0, 20);
  day20(straight, sctx);
  rest(straight, sctx);
  const auto expected = sctx.take();

  FakeStateStore store;
  std::vector<OutputRecord> got;
  {
    ForecastOperator first(o);
    FakeContext c1;
    history(first, c1, 0, 20);
    ASSERT_NO_FATAL_FAILURE(checkpoint(first, c1, store));
    EXPECT_EQ(count(store, "q"), 0u);
    day20(first, c1);
    StateBatch b;
    first.snapshot(b, c1.keys());
    // One hot record per key, no whole key state ('k', 'h', 'e').
    size_t hot = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      const StateBatch::OpView op = b.op(i);
      EXPECT_TRUE(op.key != "g" ? op.key[0] == 'q' : true) << op.key;
      if (op.key[0] != 'q') continue;
      ++hot;
      EXPECT_EQ(op.value.size(), 1 + forecast::kHotBytes) << i;
    }
    EXPECT_EQ(hot, 3u);
    ASSERT_TRUE(store.commit(b).is_ok());
    EXPECT_EQ(count(store, "q"), 3u);
    got = c1.take();
  }
  ForecastOperator second(o);
  FakeContext c2;
  ASSERT_NO_FATAL_FAILURE(restore_into(second, c2, store, day_ms(20) + 11 * kHour));
  rest(second, c2);
  ASSERT_NO_FATAL_FAILURE(checkpoint(second, c2, store));
  EXPECT_EQ(count(store, "q"), 0u);  // the closes wrote whole states and deleted them
  for (auto& r : c2.take()) got.push_back(std::move(r));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, expected[i].key) << i;
    EXPECT_EQ(got[i].json, expected[i].json) << i;
  }
  // A hot record of a key without state is rejected.
  FakeStateStore bad;
  StateBatch bb;
  bb.put(ForecastOperator::kNamespace, forecast::record_key('q', 7),
         std::string(1 + forecast::kHotBytes, static_cast<char>(forecast::kStateVersion)));
  ASSERT_TRUE(bad.commit(bb).is_ok());
  ForecastOperator third(o);
  FakeContext c3;
  EXPECT_FALSE(third.restore(bad, c3).is_ok());
}

// --- Through the real task loop: same outputs across batch sizes, checkpoints and crashes.

using LinesSource = testing::LineSource;
using LinesSink = testing::CollectSink;

std::vector<std::string> history_lines() {
  std::vector<std::string> lines;
  lines.push_back(R"({"type":"item","ts":0,"sku":"A","category":"dairy"})");
  lines.push_back(R"({"type":"inventory","ts":)" + std::to_string(day_ms(0)) +
                  R"(,"store":"S1","sku":"B","kind":"snapshot","qty":400})");
  lines.push_back(R"({"type":"promotion","ts":)" + std::to_string(day_ms(0)) +
                  R"(,"sku":"C","promo_id":"P","start":)" + std::to_string(day_ms(30)) +
                  R"(,"end":)" + std::to_string(day_ms(37)) + R"(,"discount_pct":25})");
  for (int d = 0; d < 110; ++d) {  // past the first long-anchor residuals (day ~94)
    for (int k = 0; k < 3; ++k) {
      std::mt19937_64 rng(static_cast<uint64_t>(d * 7 + k));
      std::poisson_distribution<int> pois(4.0 + 6 * k);
      for (int t = 0; t < 3; ++t) {
        const int q = pois(rng) / 3;
        if (q == 0) continue;
        static const char* kSkus[] = {"A", "B", "C"};
        lines.push_back(R"({"type":"sale","ts":)" +
                        std::to_string(day_ms(d) + (8 + 4 * t + k) * kHour) +
                        R"(,"store":"S1","sku":")" + kSkus[k] + R"(","qty":)" + std::to_string(q) +
                        R"(,"unit_price":2.5})");
      }
    }
  }
  return lines;
}

std::vector<std::string> run_task(const std::vector<std::string>& lines, size_t batch,
                                  std::vector<size_t> crash_at, int checkpoint_every) {
  MemoryStateStore store;
  LinesSink sink;
  Calendar calendar;
  TaskOptions o;
  o.batch_size = batch;
  o.out_of_orderness_ms = 300000;
  crash_at.push_back(lines.size());
  std::vector<std::string> result;
  for (size_t stop : crash_at) {
    LinesSource src(lines);
    ForecastOptions fo = test_options();
    fo.horizon = 100;  // intervals beyond 28 steps use the long anchor's restored state
    ForecastOperator op(fo);
    Task task(o, src, {&sink}, store, {&op}, calendar);
    EXPECT_TRUE(task.restore().is_ok());
    src.stop_after(stop);
    std::vector<RawRecord> recs;
    int n = 0;
    for (;;) {
      recs.clear();
      EXPECT_TRUE(src.poll(recs, batch, 0).is_ok());
      if (recs.empty()) break;
      task.process(recs);
      if (++n % checkpoint_every == 0) {
        EXPECT_TRUE(task.checkpoint().is_ok());
      }
    }
    if (src.at_end()) {
      task.end_of_input();
      EXPECT_TRUE(task.checkpoint().is_ok());
      EXPECT_TRUE(task.wait_checkpoint().is_ok());
      result = sink.lines;
    }
  }
  return result;
}

TEST(ForecastOperatorTest, TaskReplayIsInvariantToBatchesCheckpointsAndCrashes) {
  const std::vector<std::string> lines = history_lines();
  const auto reference = run_task(lines, 1, {}, 1000000);
  ASSERT_GT(reference.size(), 300u);  // ~110 closed days x 3 keys
  EXPECT_EQ(run_task(lines, 64, {}, 3), reference);
  EXPECT_EQ(run_task(lines, 7, {200, 555, 1000}, 2), reference);
  EXPECT_EQ(run_task(lines, 33, {lines.size() / 2}, 1), reference);
}

TEST(ForecastOperatorTest, RestoreRejectsCorruptState) {
  FakeStateStore store;
  StateBatch b;
  b.put(ForecastOperator::kNamespace, "g", "junk");
  ASSERT_TRUE(store.commit(b).is_ok());
  ForecastOperator op(test_options());
  FakeContext ctx;
  EXPECT_FALSE(op.restore(store, ctx).is_ok());
}

TEST(ForecastOperatorTest, ConfigKeys) {
  Config c = Config::from_yaml(
      "operators:\n  forecast:\n    bucket: 1h\n    horizon: 120\n    interval: 0.8\n"
      "    emit: none\n    own_months: false\n    own_hours: false\n");
  ForecastOptions o = ForecastOptions::from_config(c);
  EXPECT_FALSE(o.own_months);
  EXPECT_FALSE(o.own_hours);
  EXPECT_TRUE(ForecastOptions{}.own_months);
  EXPECT_TRUE(o.hourly);
  EXPECT_EQ(o.horizon, 120);
  EXPECT_DOUBLE_EQ(o.interval, 0.8);
  EXPECT_EQ(o.emit, ForecastEmit::kNone);
  EXPECT_THROW(
      ForecastOptions::from_config(Config::from_yaml("operators:\n  forecast:\n    bucket: 2d\n")),
      ConfigError);
}

// The emission settings: defaults, each value, and bad values failing with the key's name.
TEST(ForecastOperatorTest, EmitConfigKeys) {
  const ForecastOptions d = ForecastOptions::from_config(Config::from_yaml("{}"));
  EXPECT_EQ(d.emit, ForecastEmit::kEveryClose);
  EXPECT_DOUBLE_EQ(d.emit_threshold, 0.1);
  EXPECT_FALSE(d.compact_horizon);
  const ForecastOptions o = ForecastOptions::from_config(
      Config::from_yaml("operators:\n  forecast:\n    emit: on_change\n    emit_threshold: 0.25\n"
                        "    horizon_encoding: compact\n"));
  EXPECT_EQ(o.emit, ForecastEmit::kOnChange);
  EXPECT_DOUBLE_EQ(o.emit_threshold, 0.25);
  EXPECT_TRUE(o.compact_horizon);
  auto error_of = [](const std::string& yaml) -> std::string {
    try {
      ForecastOptions::from_config(Config::from_yaml(yaml));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(
      error_of("operators:\n  forecast:\n    emit: sometimes\n").find("operators.forecast.emit"),
      std::string::npos);
  EXPECT_NE(error_of("operators:\n  forecast:\n    emit_threshold: -1\n")
                .find("operators.forecast.emit_threshold"),
            std::string::npos);
  EXPECT_NE(error_of("operators:\n  forecast:\n    horizon_encoding: arrays\n")
                .find("operators.forecast.horizon_encoding"),
            std::string::npos);
}

// Forecast records of the multi-key history under `o`.
std::vector<OutputRecord> forecast_records(const ForecastOptions& o, int days = 60) {
  ForecastOperator op(o);
  FakeContext ctx;
  history(op, ctx, 0, days);
  std::vector<OutputRecord> out;
  for (auto& r : ctx.take()) {
    if (r.stream == OutputStream::kForecasts) out.push_back(std::move(r));
  }
  return out;
}

double horizon_mean(const Parsed& p) {
  double sum = 0;
  for (double m : p.mean) sum += m;
  return sum / static_cast<double>(p.mean.size());
}

TEST(ForecastOperatorTest, EmitNoneWritesNoForecastsButKeepsTheDemandView) {
  ForecastOptions o = test_options();
  o.emit = ForecastEmit::kNone;
  ForecastOperator op(o);
  FakeContext ctx;
  history(op, ctx, 0, 40);
  EXPECT_TRUE(ctx.of(OutputStream::kForecasts).empty());
  EXPECT_GT(op.keys(), 0u);
  DemandEstimate est;
  EXPECT_TRUE(op.demand(ctx.key("S1", "A"), ctx.keys(), day_ms(40), 7, 10, est));
  EXPECT_GT(est.total_mean, 0);
  // Same model state as with every_close: the demand view answers the same.
  ForecastOperator every(test_options());
  FakeContext c2;
  history(every, c2, 0, 40);
  DemandEstimate e2;
  ASSERT_TRUE(every.demand(c2.key("S1", "A"), c2.keys(), day_ms(40), 7, 10, e2));
  EXPECT_EQ(est.total_mean, e2.total_mean);
  EXPECT_EQ(est.total_sd, e2.total_sd);
}

TEST(ForecastOperatorTest, EmitOnChangeWritesOnlyWhenTheHorizonMeanMoves) {
  const auto every = forecast_records(test_options());
  ForecastOptions o = test_options();
  o.emit = ForecastEmit::kOnChange;
  o.emit_threshold = 0.05;
  const auto changed = forecast_records(o);
  ASSERT_FALSE(changed.empty());
  EXPECT_LT(changed.size(), every.size());
  // Each on_change record is the every_close record of the same key and bucket, and it is
  // written exactly when the horizon mean moved by more than 5 % from the key's last one.
  std::map<std::string, double> last;
  size_t j = 0;
  for (const OutputRecord& r : every) {
    const double m = horizon_mean(parse(r.json));
    auto it = last.find(r.key);
    // The operator compares in float; keep clear of the boundary in this check.
    const bool moved = it == last.end() || std::fabs(m - it->second) > 0.05 * it->second;
    if (!moved) continue;
    if (it != last.end() && std::fabs(std::fabs(m - it->second) - 0.05 * it->second) < 1e-3) {
      continue;
    }
    ASSERT_LT(j, changed.size());
    EXPECT_EQ(changed[j].key, r.key);
    EXPECT_EQ(changed[j].json, r.json);
    last[r.key] = m;
    ++j;
  }
  EXPECT_EQ(j, changed.size());
  // A huge threshold: only each key's first record.
  o.emit_threshold = 100;
  const auto first_only = forecast_records(o);
  EXPECT_EQ(first_only.size(), 3u);
}

TEST(ForecastOperatorTest, EmitOnChangeRestoresTheLastWrittenMean) {
  ForecastOptions o = test_options();
  o.emit = ForecastEmit::kOnChange;
  o.emit_threshold = 0.05;
  ForecastOperator straight(o);
  FakeContext sctx;
  history(straight, sctx, 0, 60);
  const auto expected = sctx.take();
  FakeStateStore store;
  std::vector<OutputRecord> got;
  {
    ForecastOperator first(o);
    FakeContext c1;
    history(first, c1, 0, 30);
    ASSERT_NO_FATAL_FAILURE(checkpoint(first, c1, store));
    got = c1.take();
  }
  ForecastOperator second(o);
  FakeContext c2;
  ASSERT_NO_FATAL_FAILURE(restore_into(second, c2, store, day_ms(29) + 11 * kHour + 1));
  history(second, c2, 30, 60);
  for (auto& r : c2.take()) got.push_back(std::move(r));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].json, expected[i].json) << i;
}

TEST(ForecastOperatorTest, CompactHorizonCarriesTheSameNumbers) {
  const auto objects = forecast_records(test_options(), 20);
  ForecastOptions o = test_options();
  o.compact_horizon = true;
  const auto compact = forecast_records(o, 20);
  ASSERT_EQ(compact.size(), objects.size());
  ASSERT_FALSE(compact.empty());
  for (size_t i = 0; i < compact.size(); ++i) {
    const Parsed want = parse(objects[i].json);
    simdjson::ondemand::parser parser;
    simdjson::padded_string p(compact[i].json);
    auto doc = parser.iterate(p);
    EXPECT_EQ(std::string_view(doc["time"]), want.time);
    auto h = doc["horizon"];
    EXPECT_EQ(std::string_view(h["start"]), want.times[0]);
    EXPECT_EQ(std::string_view(h["step"]), "1d");
    std::vector<double> mean, lo, hi;
    for (double v : h["mean"].get_array()) mean.push_back(v);
    for (double v : h["lo"].get_array()) lo.push_back(v);
    for (double v : h["hi"].get_array()) hi.push_back(v);
    EXPECT_EQ(mean, want.mean) << i;
    EXPECT_EQ(lo, want.lo) << i;
    EXPECT_EQ(hi, want.hi) << i;
    EXPECT_EQ(mean.size(), 14u);
    EXPECT_EQ(std::string_view(doc["model"]), want.model);
    EXPECT_EQ(double(doc["actual"]), want.actual);
    // Everything outside the horizon is the same text.
    const std::string& a = objects[i].json;
    const std::string& b = compact[i].json;
    EXPECT_EQ(a.substr(0, a.find("\"horizon\"")), b.substr(0, b.find("\"horizon\"")));
    EXPECT_EQ(a.substr(a.find("\"interval\"")), b.substr(b.find("\"interval\"")));
    EXPECT_LT(b.size(), a.size());
  }
  // Hourly buckets step by one hour.
  o.hourly = true;
  o.horizon = 3;
  ForecastOperator op(o);
  FakeContext ctx;
  ctx.send(op, testing::sale(day_ms(0) + 9 * kHour, "S1", "A", 2));
  ctx.advance_watermark(op, day_ms(0) + 10 * kHour);
  auto recs = ctx.of(OutputStream::kForecasts, "forecast");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_NE(recs[0]->json.find("\"horizon\":{\"start\":\"" + format_time(day_ms(0) + 10 * kHour) +
                               "\",\"step\":\"1h\",\"mean\":["),
            std::string::npos)
      << recs[0]->json;
}

// Hot reload (docs/operations.md "Hot reload"): emit, emit_threshold, horizon_encoding and
// drift_mase change live; keys that shape model state are refused by name.
Config forecast_config(const std::string& extra = "") {
  return Config::from_yaml("operators: {forecast: {horizon: 14" + extra + "}}");
}

TEST(ForecastOperatorTest, ReconfigureEmitAppliesFromTheNextCloseAndKeepsState) {
  ForecastOperator straight(ForecastOptions::from_config(forecast_config()));
  FakeContext sctx;
  history(straight, sctx, 0, 40);
  sctx.take();
  history(straight, sctx, 40, 60);
  const std::vector<OutputRecord> expected = sctx.take();
  ASSERT_FALSE(expected.empty());

  ForecastOperator op(ForecastOptions::from_config(forecast_config()));
  FakeContext ctx;
  history(op, ctx, 0, 30);
  ASSERT_FALSE(ctx.take().empty());
  DemandEstimate d0, d1;
  const KeyId a = ctx.key("S1", "A");
  ASSERT_TRUE(op.demand(a, ctx.keys(), day_ms(30), 7, 10, d0));  // fills the demand cache
  ASSERT_TRUE(op.reconfigure(forecast_config(", emit: none")).is_ok());
  EXPECT_EQ(op.options().emit, ForecastEmit::kNone);
  ASSERT_TRUE(op.demand(a, ctx.keys(), day_ms(30), 7, 10, d1));
  EXPECT_EQ(d0.total_mean, d1.total_mean);
  EXPECT_EQ(d0.total_sd, d1.total_sd);
  history(op, ctx, 30, 40);
  EXPECT_TRUE(ctx.of(OutputStream::kForecasts).empty());  // the next closes wrote none
  ctx.take();
  // Back to every_close: the model state went on learning, so records equal the straight run's.
  ASSERT_TRUE(op.reconfigure(forecast_config()).is_ok());
  history(op, ctx, 40, 60);
  const std::vector<OutputRecord> got = ctx.take();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].json, expected[i].json) << i;
}

TEST(ForecastOperatorTest, ReconfigureToOnChangeStartsFromTheNextRecord) {
  ForecastOperator op(ForecastOptions::from_config(forecast_config(", emit: on_change")));
  FakeContext ctx;
  history(op, ctx, 0, 20);
  ASSERT_TRUE(op.reconfigure(forecast_config()).is_ok());
  history(op, ctx, 20, 30);
  ctx.take();
  // Back to on_change with a huge threshold: one record per key (its means were reset, as the
  // every_close records did not update them), then none.
  ASSERT_TRUE(op.reconfigure(forecast_config(", emit: on_change, emit_threshold: 100")).is_ok());
  history(op, ctx, 30, 40);
  EXPECT_EQ(ctx.of(OutputStream::kForecasts).size(), 3u);
}

TEST(ForecastOperatorTest, ReconfigureDriftThresholdAppliesToTheNextCheck) {
  const std::string slow = ", intermittent_alpha: 0.01";  // as DriftFiresRefitsAndResolves
  ForecastOperator op(ForecastOptions::from_config(forecast_config(slow)));
  FakeContext ctx;
  std::mt19937_64 rng(5);
  std::poisson_distribution<int> low(10), high(40);
  for (int d = 0; d < 120; ++d) sell_day(op, ctx, d, low(rng));
  // The same shift that fires at the default 1.5 stays quiet at a threshold of 100.
  ASSERT_TRUE(op.reconfigure(forecast_config(slow + ", drift_mase: 100")).is_ok());
  EXPECT_EQ(op.options().drift_mase, 100);
  for (int d = 120; d < 200; ++d) sell_day(op, ctx, d, high(rng));
  EXPECT_TRUE(ctx.of(OutputStream::kAlerts, "forecast_drift").empty());
}

TEST(ForecastOperatorTest, ReconfigureRefusesModelKeysByNameAndKeepsOptions) {
  ForecastOperator op(ForecastOptions::from_config(Config::from_yaml("{}")));
  FakeContext ctx;
  history(op, ctx, 0, 20);
  for (const char* key : {"bucket: 1h", "horizon: 14", "interval: 0.8", "alpha: 0.05", "beta: 0.1",
                          "phi: 0.9", "censor_fraction: 0.5", "intermittent_alpha: 0.2",
                          "profile_shrink: 10", "own_months: false", "own_hours: false"}) {
    const std::string k(key);
    Status s = op.reconfigure(Config::from_yaml("operators: {forecast: {" + k + ", emit: none}}"));
    ASSERT_FALSE(s.is_ok()) << key;
    EXPECT_NE(s.message().find("operators.forecast." + k.substr(0, k.find(':'))), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("restart to apply"), std::string::npos);
    EXPECT_EQ(op.options().emit, ForecastEmit::kEveryClose);  // nothing applied
    EXPECT_EQ(op.options().horizon, 28);
  }
  ASSERT_TRUE(
      op.reconfigure(Config::from_yaml("operators: {forecast: {horizon_encoding: compact}}"))
          .is_ok());
  EXPECT_TRUE(op.options().compact_horizon);
}

}  // namespace
}  // namespace sw
