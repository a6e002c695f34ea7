// Unit tests of the pure forecast models against hand-computed values.

#include "operators/forecast/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sw::forecast {
namespace {

TEST(ForecastModelTest, DampedTrendUpdateMatchesHandArithmetic) {
  LevelTrend s{10.0f, 1.0f};
  DampedTrendParams p{0.5, 0.2, 0.9};
  damped_trend_update(s, 14.0, p);
  // f = 10 + 0.9*1 = 10.9; e = 3.1; l = 10.9 + 0.5*3.1 = 12.45; b = 0.9 + 0.5*0.2*3.1 = 1.21
  EXPECT_NEAR(s.level, 12.45, 1e-5);
  EXPECT_NEAR(s.trend, 1.21, 1e-5);
  // h = 3: 12.45 + (0.9 + 0.81 + 0.729) * 1.21 = 15.40119
  EXPECT_NEAR(damped_trend_forecast(s, 3, 0.9), 15.40119, 1e-4);
  // gain 0.5 halves alpha: l = 10.9 + 0.25*3.1 = 11.675, b = 0.9 + 0.25*0.2*3.1 = 1.055
  LevelTrend t{10.0f, 1.0f};
  damped_trend_update(t, 14.0, p, 0.5);
  EXPECT_NEAR(t.level, 11.675, 1e-5);
  EXPECT_NEAR(t.trend, 1.055, 1e-5);
}

TEST(ForecastModelTest, SimpleExponentialSmoothingIsTheNoTrendCase) {
  LevelTrend s{20.0f, 0.0f};
  DampedTrendParams p{0.1, 0.0, 1.0};
  for (double y : {30.0, 10.0}) damped_trend_update(s, y, p);
  // 20 + 0.1*10 = 21; 21 + 0.1*(10 - 21) = 19.9
  EXPECT_NEAR(s.level, 19.9, 1e-5);
  EXPECT_EQ(s.trend, 0.0f);
  EXPECT_NEAR(damped_trend_forecast(s, 10, 1.0), 19.9, 1e-5);
}

TEST(ForecastModelTest, DampedSum) {
  EXPECT_DOUBLE_EQ(damped_sum(1.0, 5), 5.0);
  EXPECT_NEAR(damped_sum(0.5, 2), 0.75, 1e-12);
  EXPECT_NEAR(damped_sum(0.9, 3), 2.439, 1e-12);
  EXPECT_EQ(damped_sum(0.9, 0), 0.0);
}

TEST(ForecastModelTest, CrostonSbaMatchesHandArithmetic) {
  CrostonState s;
  const double a = 0.2;
  EXPECT_EQ(croston_sba_forecast(s, a), 0.0);
  for (double y : {0.0, 3.0, 0.0, 0.0, 6.0}) croston_update(s, y, a);
  // first demand (3) after one empty bucket: z = 3, p = 2; then 6 after two empty: q = 3,
  // z = 3 + 0.2*3 = 3.6, p = 2 + 0.2*1 = 2.2; SBA = 0.9 * 3.6 / 2.2
  EXPECT_NEAR(s.size, 3.6, 1e-5);
  EXPECT_NEAR(s.interval, 2.2, 1e-5);
  EXPECT_EQ(s.since, 0);
  EXPECT_NEAR(croston_sba_forecast(s, a), 0.9 * 3.6 / 2.2, 1e-5);
  croston_update(s, 0.0, a);
  EXPECT_EQ(s.since, 1);
  EXPECT_NEAR(croston_sba_forecast(s, a), 0.9 * 3.6 / 2.2, 1e-5);  // unchanged on zeros
}

TEST(ForecastModelTest, TsbMatchesHandArithmetic) {
  TsbState s;
  for (double y : {0.0, 4.0, 0.0, 2.0}) tsb_update(s, y, 0.2, 0.5);
  // p: 0 -> 0 -> 0.2 -> 0.16 -> 0.16 + 0.2*0.84 = 0.328; z: 4 -> 4 + 0.5*(2 - 4) = 3
  EXPECT_NEAR(s.prob, 0.328, 1e-6);
  EXPECT_NEAR(s.size, 3.0, 1e-6);
  EXPECT_NEAR(tsb_forecast(s), 0.984, 1e-5);
  // Obsolescence: a run of zeros decays the forecast geometrically (Croston would not).
  for (int i = 0; i < 10; ++i) tsb_update(s, 0.0, 0.2, 0.5);
  EXPECT_NEAR(tsb_forecast(s), 0.984 * std::pow(0.8, 10), 1e-5);
}

TEST(ForecastModelTest, DemandPatternClassification) {
  DemandPattern s;
  for (double y : {0.0, 2.0, 0.0, 4.0}) pattern_update(s, y, 1.0);
  EXPECT_DOUBLE_EQ(pattern_adi(s), 2.0);
  EXPECT_NEAR(pattern_cv2(s), 1.0 / 9.0, 1e-6);  // mean 3, var 10 - 9 = 1
  EXPECT_TRUE(pattern_intermittent(s));          // ADI 2 > 1.32

  DemandPattern smooth;
  for (int i = 0; i < 10; ++i) pattern_update(smooth, 5.0, 1.0);
  EXPECT_DOUBLE_EQ(pattern_adi(smooth), 1.0);
  EXPECT_NEAR(pattern_cv2(smooth), 0.0, 1e-9);
  EXPECT_FALSE(pattern_intermittent(smooth));

  DemandPattern lumpy;  // every bucket non-zero but sizes 1 and 9: CV^2 = 16 / 25 = 0.64
  for (int i = 0; i < 10; ++i) pattern_update(lumpy, i % 2 ? 9.0 : 1.0, 1.0);
  EXPECT_NEAR(pattern_cv2(lumpy), 0.64, 1e-6);
  EXPECT_TRUE(pattern_intermittent(lumpy));
}

TEST(ForecastModelTest, ProfileRatioShrinksTowardParent) {
  Profile<7, double> p;
  p.add(2, 30, 20);
  EXPECT_NEAR(p.ratio(2, 1.0, 10), 40.0 / 30.0, 1e-12);  // (30 + 10*1) / (20 + 10)
  EXPECT_NEAR(p.ratio(3, 1.2, 10), 1.2, 1e-12);          // no data: the parent
  EXPECT_NEAR(p.ratio(2, 1.0, 0), 1.5, 1e-12);           // no shrinkage: own ratio
  p.decay(0.5);
  EXPECT_NEAR(p.num[2], 15, 1e-12);
  EXPECT_NEAR(p.ratio(2, 1.0, 0), 1.5, 1e-12);  // decay keeps the ratio
  double f[4] = {1, 2, 3, 2};
  normalise_mean_one(f, 4);
  EXPECT_NEAR(f[0], 0.5, 1e-12);
  EXPECT_NEAR(f[2], 1.5, 1e-12);
}

TEST(ForecastModelTest, QuantileIntervals) {
  EXPECT_NEAR(empirical_quantile({5, 1, 4, 2, 3}, 0.9), 4.6, 1e-12);  // pos 3.6 in 1..5
  EXPECT_NEAR(empirical_quantile({5, 1, 4, 2, 3}, 0.5), 3.0, 1e-12);
  EXPECT_NEAR(empirical_quantile({7}, 0.05), 7.0, 1e-12);
  // Stochastic quantile tracking converges to the quantile of a uniform stream.
  float q05 = 0.5f, q95 = 0.5f;
  double x = 0;
  for (int i = 0; i < 200000; ++i) {
    x = std::fmod(x + 0.6180339887, 1.0);
    quantile_update(q05, x, 0.05, 0.002);
    quantile_update(q95, x, 0.95, 0.002);
  }
  EXPECT_NEAR(q05, 0.05, 0.01);
  EXPECT_NEAR(q95, 0.95, 0.01);
  // One step by hand: below the estimate moves it down by step*(1 - tau).
  float q = 1.0f;
  quantile_update(q, 0.0, 0.9, 0.1);
  EXPECT_NEAR(q, 1.0 - 0.1 * 0.1, 1e-6);
  quantile_update(q, 5.0, 0.9, 0.1);
  EXPECT_NEAR(q, 0.99 + 0.09, 1e-6);
}

TEST(ForecastModelTest, NormalQuantile) {
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-9);
  EXPECT_NEAR(normal_quantile(0.90), 1.2816, 1e-4);  // RETAIL.md
  EXPECT_NEAR(normal_quantile(0.95), 1.6449, 1e-4);
  EXPECT_NEAR(normal_quantile(0.99), 2.3263, 1e-4);
  EXPECT_NEAR(normal_quantile(0.01), -2.3263, 1e-4);
}

TEST(ForecastModelTest, AccuracyDefinitions) {
  AccuracySums s;
  const double f[] = {10, 10, 10}, a[] = {8, 12, 10};
  for (int i = 0; i < 3; ++i) accuracy_add(s, f[i], a[i], 1.0);
  accuracy_add_naive(s, 2, 1.0);
  accuracy_add_naive(s, 4, 1.0);
  EXPECT_NEAR(accuracy_wape(s), 4.0 / 30.0, 1e-6);
  EXPECT_NEAR(accuracy_bias(s), 0.0, 1e-6);
  EXPECT_NEAR(accuracy_mase(s), (4.0 / 3.0) / 3.0, 1e-6);
  AccuracySums over;
  accuracy_add(over, 12, 10, 1.0);
  EXPECT_NEAR(accuracy_bias(over), 0.2, 1e-6);
  EXPECT_TRUE(std::isnan(accuracy_mase(over)));  // no naive differences yet
  // Discounting: the older pair weighs half.
  AccuracySums d;
  accuracy_add(d, 0, 10, 0.5);
  accuracy_add(d, 0, 20, 0.5);
  EXPECT_NEAR(d.actual, 25.0, 1e-6);
  EXPECT_NEAR(d.n, 1.5, 1e-6);
}

TEST(ForecastModelTest, SmapeTerm) {
  EXPECT_EQ(smape_term(0, 0), 0.0);
  EXPECT_NEAR(smape_term(10, 5), 200.0 * 5 / 15, 1e-12);
  EXPECT_NEAR(smape_term(0, 3), 200.0, 1e-12);
}

}  // namespace
}  // namespace sw::forecast
