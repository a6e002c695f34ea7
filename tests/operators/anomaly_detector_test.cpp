// AnomalyDetector on hand-built series: spikes, dips, level shifts, seasonal patterns with an
// off-season value, irregular sampling, score range and state round trips.

#include "operators/anomaly_detector.h"

#include "operators/anomaly/anomaly.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace sw {
namespace {

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;
// 2026-11-23T00:00:00Z, a Monday.
constexpr int64_t kMonday = 1795392000000;

//! Deterministic noise in [-1, 1] (LCG), so every run sees the same series.
class Noise {
 public:
  explicit Noise(uint64_t seed) : state_(seed) {}
  double next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state_ >> 11) / static_cast<double>(1ULL << 53) * 2.0 - 1.0;
  }

 private:
  uint64_t state_;
};

//! Light-tailed configuration, as the operator uses for sales series: a spike far beyond
//! anything seen scores high even when smaller surprises happened before.
AnomalyDetectorConfig light_tails() {
  AnomalyDetectorConfig c;
  c.tail_exponent = 6;
  c.tail_reach = 2;
  return c;
}

struct Feed {
  Feed() = default;
  explicit Feed(const AnomalyDetectorConfig& c) : det(c) {}
  AnomalyDetector det;
  AnomalySeriesState st;
  AnomalyWeekState* week = nullptr;      // hour-of-week slots, if the test gives the series some
  AnomalySilenceState* quiet = nullptr;  // and the silence state of a count series
  int64_t t = kMonday;
  int64_t step = 5 * kMinute;
  AnomalyObservation push(double v) {
    int64_t day = t / (24 * kHour);
    int hour = static_cast<int>((t - day * 24 * kHour) / kHour);
    int weekday = static_cast<int>((day + 3) % 7);
    AnomalyObservation o = det.update(st, week, t, v, hour, weekday, 1.0, quiet);
    t += step;
    return o;
  }
};

double max_score(const std::vector<AnomalyObservation>& v, size_t from, size_t to) {
  double m = 0;
  for (size_t i = from; i < to && i < v.size(); ++i) m = std::max(m, v[i].score);
  return m;
}

TEST(AnomalyDetectorTest, ScoreOfZIsMonotoneAndBounded) {
  EXPECT_DOUBLE_EQ(AnomalyDetector::score_of_z(0), 0.0);
  double prev = -1;
  for (double z = 0; z < 200; z += 0.5) {
    double s = AnomalyDetector::score_of_z(z);
    EXPECT_GE(s, prev);
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
    prev = s;
  }
  // z = 3: two-sided p = 0.0026998, -log10 p = 2.5687, score = 2.5687 / (2.5687 + 6.24).
  EXPECT_NEAR(AnomalyDetector::score_of_z(3), 0.29161, 1e-4);
  EXPECT_NEAR(AnomalyDetector::score_of_z(-3), 0.29161, 1e-4);
  // z = 5: p = 5.733e-7, -log10 p = 6.2416: score ~0.5.
  EXPECT_NEAR(AnomalyDetector::score_of_z(5), 0.50006, 1e-4);
}

TEST(AnomalyDetectorTest, WarmUpScoresZeroThenStaysInRange) {
  Feed f;
  Noise n(1);
  for (int i = 0; i < 2000; ++i) {
    AnomalyObservation o = f.push(100 + 3 * n.next() + (i == 1500 ? 1e6 : 0));
    if (i < f.det.config().warmup) {
      EXPECT_FALSE(o.scored);
      EXPECT_EQ(o.score, 0.0);
    }
    EXPECT_GE(o.score, 0.0);
    EXPECT_LE(o.score, 1.0);
  }
}

TEST(AnomalyDetectorTest, SpikeScoresHighAndBaselineIgnoresIt) {
  Feed f(light_tails());
  Noise n(2);
  std::vector<AnomalyObservation> obs;
  for (int i = 0; i < 1200; ++i) obs.push_back(f.push(100 + n.next() + (i == 1000 ? 25 : 0)));
  EXPECT_GE(obs[1000].score, 0.6);
  EXPECT_GT(obs[1000].z, 8);
  EXPECT_NEAR(obs[1000].expected, 100, 1.0);
  // Quiet before the spike (after warm-up), and the baseline is not dragged by it.
  EXPECT_LT(max_score(obs, 300, 1000), obs[1000].score);
  EXPECT_NEAR(obs[1001].expected, 100, 1.0);
}

TEST(AnomalyDetectorTest, DipScoresHighWithNegativeZ) {
  Feed f(light_tails());
  Noise n(3);
  std::vector<AnomalyObservation> obs;
  for (int i = 0; i < 1200; ++i) obs.push_back(f.push(100 + n.next() - (i == 1000 ? 25 : 0)));
  EXPECT_GE(obs[1000].score, 0.6);
  EXPECT_LT(obs[1000].z, -8);
}

TEST(AnomalyDetectorTest, HeavyTailDefaultStillRanksSpikeFirst) {
  // The default (metric) configuration extrapolates tails as a power law, so one spike is
  // scored more modestly, but it is still the clear maximum of the series.
  Feed f;
  Noise n(2);
  std::vector<AnomalyObservation> obs;
  for (int i = 0; i < 1200; ++i) obs.push_back(f.push(100 + n.next() + (i == 1000 ? 25 : 0)));
  EXPECT_GE(obs[1000].score, 0.4);
  EXPECT_LT(max_score(obs, 300, 1000), obs[1000].score - 0.1);
}

TEST(AnomalyDetectorTest, LevelShiftIsDetectedThenAdoptedAsTheNewNormal) {
  Feed f;
  Noise n(4);
  std::vector<AnomalyObservation> obs;
  for (int i = 0; i < 2000; ++i) obs.push_back(f.push((i < 1000 ? 100 : 130) + n.next()));
  EXPECT_GE(max_score(obs, 1000, 1010), 0.6);
  // Adapted: the expectation follows the new level and scores calm down.
  EXPECT_NEAR(obs[1300].expected, 130, 2.0);
  EXPECT_LT(max_score(obs, 1800, 2000), 0.5);
}

TEST(AnomalyDetectorTest, SeasonalPatternIsLearnedAndOffSeasonValueFlagged) {
  // Hourly series: 100 at night, 160 from 9:00 to 17:00, with small noise; six weeks.
  Feed f(light_tails());
  f.step = kHour;
  Noise n(5);
  auto pattern = [](int64_t t) {
    int hour = static_cast<int>((t % (24 * kHour)) / kHour);
    return hour >= 9 && hour < 17 ? 160.0 : 100.0;
  };
  for (int i = 0; i < 24 * 42; ++i) f.push(pattern(f.t) + 2 * n.next());
  // f.t is now Monday 00:00 of week 7. Walk to 03:00 and probe 160 (a daytime value).
  for (int h = 0; h < 3; ++h) f.push(pattern(f.t) + 2 * n.next());
  AnomalySeriesState before = f.st;
  AnomalyObservation night = f.push(160);
  EXPECT_NEAR(night.expected, 100, 10) << night.z << " " << night.raw;
  EXPECT_GE(night.score, 0.6) << night.z << " " << night.raw;
  // The same value at 10:00 is normal.
  f.st = before;
  f.t += 7 * kHour - kHour;  // to 10:00 (push advanced t by one step)
  AnomalyObservation day = f.push(160);
  EXPECT_NEAR(day.expected, 160, 10);
  EXPECT_LT(day.score, 0.3);
}

TEST(AnomalyDetectorTest, StrongDailyProfileIsTrustedWithinDaysAndADimmedDayIsFlagged) {
  // 5-minute series: 20 at night, 80 from 9:00 to 18:00, noise +-2. The hour profile stands far
  // out of its estimation noise, so after ten days it is used in full (not shrunk by visit
  // count, which would still hold it at 10 / 14 and leave the fast level to chase the rest)
  // and a day whose daytime level is 50 instead of 80 is flagged within its first hour.
  Feed f;
  Noise n(11);
  auto pattern = [](int64_t t) {
    int hour = static_cast<int>((t % (24 * kHour)) / kHour);
    return hour >= 9 && hour < 18 ? 80.0 : 20.0;
  };
  for (int i = 0; i < 10 * 288 + 9 * 12; ++i) f.push(pattern(f.t) + 2 * n.next());
  // Thursday 09:00 of the second week.
  AnomalySeriesState before = f.st;
  int64_t t9 = f.t;
  AnomalyObservation normal = f.push(80 + 2 * n.next());
  EXPECT_NEAR(normal.expected, 80, 6);
  EXPECT_LT(normal.score, 0.3);
  f.st = before;
  f.t = t9;
  std::vector<AnomalyObservation> dim;
  for (int i = 0; i < 12; ++i) dim.push_back(f.push(50 + 2 * n.next()));
  EXPECT_GE(max_score(dim, 0, dim.size()), 0.6);
}

TEST(AnomalyDetectorTest, NoiseIsNotTakenForADailyProfile) {
  // White noise for four weeks: hour offsets are estimation noise and get almost no weight.
  Feed f;
  Noise n(12);
  for (int i = 0; i < 28 * 288; ++i) f.push(100 + 5 * n.next());
  for (int h = 0; h < 24; ++h) {
    EXPECT_NEAR(f.det.expected(f.st, h, 0), f.st.local_level, 0.5) << h;
  }
}

//! Half-hourly demand whose daily shape depends on the day (a taxi or store-traffic series):
//! weekdays have a morning and an evening peak, weekends a flat late-rising day with busy
//! nights. Multiplicative noise of about 5 %.
double weekly_shape(int64_t t) {
  const int64_t day = t / (24 * kHour);
  const int hour = static_cast<int>((t - day * 24 * kHour) / kHour);
  const bool weekend = (day + 3) % 7 >= 5;
  if (weekend) return hour < 4 ? 900 : hour < 10 ? 300 : 1000;
  if (hour < 6) return 200;
  if (hour < 10) return hour >= 7 ? 1600 : 800;
  return hour >= 17 && hour < 20 ? 1800 : 1000;
}

TEST(AnomalyDetectorTest, WeekdayShapeIsLearnedAndAWeekdayHolidayIsFlagged) {
  // Hour + weekday offsets alone cannot tell a Saturday morning from a Monday morning; the
  // hour-of-week slots can. Six weeks to learn, then a Wednesday shaped like a Sunday (a
  // public holiday) must be flagged, and ordinary weeks and Wednesdays must not be.
  auto run = [](bool with_week, bool holiday, double* max_normal_week) {
    Feed f;
    AnomalyWeekState week;
    if (with_week) f.week = &week;
    f.step = 30 * kMinute;
    Noise n(21);
    double max_normal = 0;
    for (int i = 0; i < 48 * 7 * 6; ++i) {
      AnomalyObservation o = f.push(weekly_shape(f.t) * (1 + 0.05 * n.next()));
      if (i >= 48 * 7 * 4) max_normal = std::max(max_normal, o.score);  // weeks 5 and 6
    }
    *max_normal_week = max_normal;
    // Week 7: Monday and Tuesday as usual, then Wednesday.
    for (int i = 0; i < 48 * 2; ++i) f.push(weekly_shape(f.t) * (1 + 0.05 * n.next()));
    std::vector<AnomalyObservation> wed;
    for (int i = 0; i < 48; ++i) {
      const double v = holiday ? weekly_shape(f.t - 3 * 24 * kHour) : weekly_shape(f.t);
      wed.push_back(f.push(v * (1 + 0.05 * n.next())));
    }
    return max_score(wed, 0, wed.size());
  };
  double normal_with = 0, normal_without = 0, unused = 0;
  const double holiday_with = run(true, true, &normal_with);
  const double holiday_without = run(false, true, &normal_without);
  const double plain_wednesday = run(true, false, &unused);
  // Deterministic series: 0.602 with the slots, 0.143 without (the factorized model expects a
  // weekday there, and the weekday surprise at that hour is what it sees every weekend).
  EXPECT_GE(holiday_with, 0.6) << holiday_without;
  EXPECT_LT(holiday_without, 0.4) << "without hour-of-week slots";
  EXPECT_LT(plain_wednesday, 0.4);
  EXPECT_LT(normal_with, 0.4) << "ordinary weeks 5-6 with hour-of-week slots";
  EXPECT_LT(normal_without, 0.4) << "ordinary weeks 5-6 without hour-of-week slots";
}

TEST(AnomalyDetectorTest, WeekSlotsStayUnusedWithoutAWeeklyShape) {
  // A daily profile that is the same every day, plus noise, for four weeks: the hour-of-week
  // slots hold only estimation noise and the expected values are the factorized model's.
  Feed f;
  AnomalyWeekState week;
  f.week = &week;
  Noise n(22);
  auto daily = [](int64_t t) {
    int hour = static_cast<int>((t % (24 * kHour)) / kHour);
    return hour >= 9 && hour < 18 ? 80.0 : 20.0;
  };
  for (int i = 0; i < 28 * 288; ++i) f.push(daily(f.t) + 4 * n.next());
  for (int d = 0; d < 7; ++d) {
    for (int h = 0; h < 24; ++h) {
      EXPECT_NEAR(f.det.expected(f.st, &week, h, d), f.det.expected(f.st, h, d), 1.0)
          << d << " " << h;
    }
  }
}

TEST(AnomalyDetectorTest, LongerWindowAddsEvidenceForASustainedModerateChange) {
  // The noise grows by half at observation 1500 and stays: each point is at most a moderate
  // surprise; their sustained rate is what the longer recent window sees.
  AnomalyDetectorConfig one_window;
  one_window.window2_half_life = 0;
  auto peak_raw = [](const AnomalyDetectorConfig& c, size_t from, size_t to) {
    Feed f(c);
    Noise n(5);
    double m = 0;
    for (size_t i = 0; i < 1800; ++i) {
      AnomalyObservation o = f.push(100 + n.next() * (i >= 1500 ? 1.5 : 1.0));
      if (i >= from && i < to) m = std::max(m, o.raw);
    }
    return m;
  };
  const AnomalyDetectorConfig two_windows;
  EXPECT_GE(peak_raw(two_windows, 1500, 1800), peak_raw(one_window, 1500, 1800) + 0.025);
  EXPECT_GE(peak_raw(two_windows, 1500, 1800), 0.7);
  // Before the change the longer window adds (almost) nothing.
  EXPECT_NEAR(peak_raw(two_windows, 300, 1500), peak_raw(one_window, 300, 1500), 0.02);
  EXPECT_LT(peak_raw(two_windows, 300, 1500), 0.5);
}

TEST(AnomalyDetectorTest, SustainedRegimeChangeIsOneEpisodeInTheScores) {
  // Noise grows eightfold at observation 1000 and stays: the undamped score stays high while
  // the scale adapts (hundreds of observations), the damped score peaks once; the refractory
  // clock does not run out in the middle of the episode.
  Feed f;
  Noise n(13);
  int detections = 0, raw_high = 0;
  for (int i = 0; i < 2000; ++i) {
    AnomalyObservation o = f.push(100 + (i < 1000 ? 1.0 : 8.0) * n.next());
    if (i < 1000) continue;
    if (o.score >= f.det.config().detect_score) ++detections;
    if (o.raw >= f.det.config().detect_score) ++raw_high;
  }
  EXPECT_GT(raw_high, f.det.config().refractory);
  EXPECT_EQ(detections, 1);
}

TEST(AnomalyDetectorTest, IrregularSamplingStillDetectsSpike) {
  Feed f(light_tails());
  Noise n(6);
  Noise gaps(7);
  std::vector<AnomalyObservation> obs;
  for (int i = 0; i < 1500; ++i) {
    f.step = static_cast<int64_t>((5.5 + 4.5 * gaps.next()) * kMinute);  // 1..10 minutes
    obs.push_back(f.push(50 + n.next() + (i == 1200 ? 20 : 0)));
  }
  EXPECT_GE(obs[1200].score, 0.6);
  EXPECT_LT(max_score(obs, 300, 1200), obs[1200].score);
}

TEST(AnomalyDetectorTest, RecurringSpikesStopBeingNews) {
  // A spike every 50 observations: the first ones are surprising, later ones are the pattern.
  Feed f;
  Noise n(8);
  std::vector<AnomalyObservation> obs;
  for (int i = 0; i < 4000; ++i)
    obs.push_back(f.push(10 + 0.5 * n.next() + (i % 50 == 49 ? 30 : 0)));
  double first = obs[49].raw;
  EXPECT_GE(first, 0.6);
  // By the tenth occurrence the spike is the series' own pattern: its tail rate is ~1/50.
  for (int i = 499; i < 4000; i += 50)
    EXPECT_LT(obs[i].raw, 0.4) << i << " z=" << obs[i].z << " exp=" << obs[i].expected;
  EXPECT_LT(obs[3999].raw, first - 0.3);
}

TEST(AnomalyDetectorTest, QuasiPoissonDispersionTamesLumpyCounts) {
  // A slow mover: one 4-unit purchase every ~8 days. A further 4-unit day is one purchase,
  // not a 4-unit surprise, once the detector knows purchases come in fours.
  AnomalyDetectorConfig c = light_tails();
  c.count_series = true;
  c.window_half_life = 8;  // the operator's sales family: one window
  c.window2_half_life = 0;
  auto run = [&](double dispersion) {
    AnomalyDetector det(c);
    AnomalySeriesState st;
    int64_t t = kMonday;
    for (int d = 0; d < 200; ++d, t += 24 * kHour) {
      det.update(st, t, d % 8 == 3 ? 4.0 : 0.0, 0, d % 7, dispersion);
    }
    return det.update(st, t, 4.0, 0, 200 % 7, dispersion);  // a day off the cycle
  };
  AnomalyObservation lumpy = run(4.0);
  AnomalyObservation single = run(1.0);
  EXPECT_LT(lumpy.score, 0.6);
  EXPECT_GT(single.z, lumpy.z);
  EXPECT_GT(single.score, lumpy.score);
}

//! Poisson draw from deterministic noise (Knuth; small means).
int poisson(Noise& n, double mean) {
  const double limit = std::exp(-mean);
  double p = 1;
  int k = 0;
  for (;;) {
    p *= 0.5 * (n.next() + 1.0);
    if (p <= limit) return k;
    ++k;
  }
}

//! Units sold on one day: Poisson purchases of 1, 2 or 3 units (80 / 15 / 5 %).
int basket_day(Noise& n, double mean_units) {
  int units = 0;
  for (int k = poisson(n, mean_units / 1.25); k > 0; --k) {
    const double u = 0.5 * (n.next() + 1.0);
    units += u < 0.8 ? 1 : u < 0.95 ? 2 : 3;
  }
  return units;
}

TEST(AnomalyDetectorTest, SalesFamilyJudgesSmallCountsByTheirOwnSkewedTail) {
  // Daily units of one (store, sku) under the sales family's settings, baskets of 1-3 units.
  // A slow mover (0.3 a day) selling 5 is a one-in-several-thousand day, as a quasi-Poisson
  // law with the series' own spread says, not the 7-sigma a normal law makes of it: no alert.
  // A fast mover (6 a day) selling 50 is an alert.
  const AnomalyDetectorConfig c = AnomalyOperator::sales_defaults(AnomalyDetectorConfig{});
  auto run = [&](double mean, double last, uint64_t seed) {
    AnomalyDetector det(c);
    AnomalySeriesState st;
    Noise n(seed);
    int64_t t = kMonday;
    double max_normal = 0;
    for (int d = 0; d < 120; ++d, t += 24 * kHour) {
      AnomalyObservation o = det.update(st, t, basket_day(n, mean), 0, d % 7, 1.25);
      if (d >= 30) max_normal = std::max(max_normal, o.raw);
    }
    AnomalyObservation o = det.update(st, t, last, 0, 120 % 7, 1.25);
    EXPECT_LT(max_normal, 0.5) << "mean " << mean << " seed " << seed;
    return o.raw;
  };
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    EXPECT_LT(run(0.3, 5, seed), 0.5) << seed;
    EXPECT_GE(run(6.0, 50, seed), 0.6) << seed;
  }
}

TEST(AnomalyDetectorTest, SalesWeekdayEffectScalesWithTheHour) {
  // Hourly transactions of a store open 8:00-20:00, Saturdays half as busy again. The
  // additive weekday offset would lift the Saturday night hours too (the store is shut), and
  // the fast level would carry a busy day's excess into the night after it; the sales
  // family's proportional offset and level leave the nights near zero.
  auto run = [](bool proportional, double* max_night, double* max_night_expected) {
    AnomalyDetectorConfig c = AnomalyOperator::sales_defaults(AnomalyDetectorConfig{});
    c.weekday_scales_hours = proportional;
    Feed f(c);
    f.step = kHour;
    Noise n(31);
    *max_night = 0;
    *max_night_expected = 0;
    for (int h = 0; h < 24 * 7 * 8; ++h) {
      const int hour = h % 24, weekday = (h / 24) % 7;
      const double mean = hour >= 8 && hour < 20 ? (weekday == 5 ? 30 : 20) : 0;
      AnomalyObservation o = f.push(poisson(n, mean));
      if (h >= 24 * 7 * 4 && hour < 8) {
        *max_night = std::max(*max_night, o.raw);
        *max_night_expected = std::max(*max_night_expected, o.expected);
      }
    }
    return f.det.expected(f.st, 3, 5);  // Saturday 3:00
  };
  double night_additive = 0, night_proportional = 0, exp_additive = 0, exp_proportional = 0;
  const double additive = run(false, &night_additive, &exp_additive);
  const double proportional = run(true, &night_proportional, &exp_proportional);
  EXPECT_LT(proportional, 1.5);
  EXPECT_GT(additive, 3.0) << "the additive offset at Saturday 3:00";
  // Any night, including the one after a Saturday (whose level the fast level carries).
  EXPECT_LT(exp_proportional, 2.5);
  EXPECT_GT(exp_additive, exp_proportional);
  EXPECT_LT(night_proportional, 0.4);
  EXPECT_GT(night_additive, night_proportional);
}

TEST(AnomalyDetectorTest, SalesBusyDayDoesNotLiftTheNightAfter) {
  // A store open 8:00-20:00 whose days vary (0.6-1.4 times 20 an hour, at random): the fast
  // level follows a busy day, and an additive model carries that excess into the night
  // after it, when the store is shut, expecting sales there and reading their absence as a
  // drop. The sales family's proportional level scales the excess by the hour's share.
  auto run = [](bool proportional, double* max_night_raw) {
    AnomalyDetectorConfig c = AnomalyOperator::sales_defaults(AnomalyDetectorConfig{});
    c.weekday_scales_hours = proportional;
    Feed f(c);
    f.step = kHour;
    Noise n(51);
    double day = 1, max_expected = 0;
    *max_night_raw = 0;
    for (int h = 0; h < 24 * 7 * 8; ++h) {
      const int hour = h % 24;
      if (hour == 0) day = 1.0 + 0.4 * n.next();
      const double mean = hour >= 8 && hour < 20 ? 20 * day : 0;
      AnomalyObservation o = f.push(poisson(n, mean));
      if (h >= 24 * 7 * 4 && hour < 7) {
        max_expected = std::max(max_expected, o.expected);
        *max_night_raw = std::max(*max_night_raw, o.raw);
      }
    }
    return max_expected;
  };
  double raw_additive = 0, raw_proportional = 0;
  const double additive = run(false, &raw_additive);
  const double proportional = run(true, &raw_proportional);
  EXPECT_LT(proportional, 1.5);
  EXPECT_GT(additive, 2 * proportional);
  EXPECT_LT(raw_proportional, 0.4);
}

TEST(AnomalyDetectorTest, StoreThatStopsSellingInBusyHoursIsNewsWithinHours) {
  // Hourly transactions of a store under the sales family's settings with hour-of-week
  // slots, open 8:00-20:00 but on Sundays only 12:00-18:00, Saturdays busier. In week 9 its
  // till goes silent on Wednesday 10:00-14:00. One empty hour (20 expected) is not enough
  // against this series' own noise; the run of them is, by the third hour. Sunday mornings,
  // empty every week, stay quiet.
  const AnomalyDetectorConfig c = AnomalyOperator::sales_defaults(AnomalyDetectorConfig{});
  Feed f(c);
  AnomalyWeekState week;
  AnomalySilenceState quiet;
  f.week = &week;
  f.quiet = &quiet;
  f.step = kHour;
  Noise n(41);
  const int outage_from = 24 * 7 * 8 + 24 * 2 + 10;
  double max_normal = 0, max_sunday_morning = 0;
  std::vector<AnomalyObservation> outage;
  for (int h = 0; h < 24 * 7 * 9; ++h) {
    const int hour = h % 24, weekday = (h / 24) % 7;
    const bool open = weekday == 6 ? hour >= 12 && hour < 18 : hour >= 8 && hour < 20;
    const double mean = open ? (weekday == 5 ? 30 : 20) : 0;
    const bool silent = h >= outage_from && h < outage_from + 4;
    AnomalyObservation o = f.push(silent ? 0 : poisson(n, mean));
    if (silent) {
      outage.push_back(o);
    } else if (h >= 24 * 7 * 4) {
      max_normal = std::max(max_normal, o.raw);
      if (weekday == 6 && hour < 12) max_sunday_morning = std::max(max_sunday_morning, o.raw);
    }
  }
  ASSERT_EQ(outage.size(), 4u);
  EXPECT_LT(outage[0].raw, 0.6) << "one empty hour";
  EXPECT_GE(std::max(outage[2].raw, outage[1].raw), 0.6) << "the third empty hour";
  EXPECT_LT(outage[2].z, 0);
  EXPECT_LT(max_normal, 0.6);
  EXPECT_LT(max_sunday_morning, 0.4);
}

TEST(AnomalyDetectorTest, CountFamilyDoesNotEchoAOneBucketSpike) {
  // Hourly counts of exactly 10 for three weeks, one bucket of 40, then 10 again: with the
  // window test on point surprises only, the undamped score falls back at once.
  AnomalyDetectorConfig c = light_tails();
  c.count_series = true;
  c.window_all_signals = false;
  c.min_var_spread = 0.25;
  c.window_half_life = 8;
  c.window2_half_life = 0;
  AnomalyDetector det(c);
  AnomalySeriesState st;
  std::vector<AnomalyObservation> obs;
  for (int h = 0; h < 22 * 24; ++h) {
    double v = h == 21 * 24 + 11 ? 40.0 : 10.0;
    obs.push_back(det.update(st, kMonday + h * kHour, v, h % 24, (h / 24) % 7));
  }
  const int spike = 21 * 24 + 11;
  EXPECT_GE(obs[spike].raw, 0.6);
  for (int h = spike + 1; h < spike + 12; ++h) EXPECT_LT(obs[h].raw, 0.4) << h - spike;
}

TEST(AnomalyDetectorTest, LateObservationIsScoredButNotLearned) {
  Feed f(light_tails());
  Noise n(9);
  for (int i = 0; i < 500; ++i) f.push(100 + n.next());
  AnomalySeriesState before = f.st;
  AnomalyObservation o = f.det.update(f.st, f.t - 100 * kMinute, 1000, 0, 0);
  EXPECT_GE(o.score, 0.6);
  EXPECT_EQ(std::memcmp(&before, &f.st, sizeof before), 0);
}

TEST(AnomalyDetectorTest, WeekStateBytesRoundTripGivesIdenticalScores) {
  // Both states as bytes mid-way through a weekly-shaped series, restored into fresh ones.
  std::vector<double> values;
  Noise n(23);
  int64_t t = kMonday;
  for (int i = 0; i < 48 * 7 * 3; ++i, t += 30 * kMinute) {
    values.push_back(weekly_shape(t) * (1 + 0.05 * n.next()));
  }
  AnomalyWeekState wa;
  Feed a;
  a.step = 30 * kMinute;
  a.week = &wa;
  std::vector<double> full;
  for (double v : values) full.push_back(a.push(v).score);
  AnomalyWeekState wb;
  Feed b;
  b.step = 30 * kMinute;
  b.week = &wb;
  std::vector<double> split;
  const size_t cut = 48 * 7 * 2 + 17;
  for (size_t i = 0; i < cut; ++i) split.push_back(b.push(values[i]).score);
  char st_bytes[sizeof(AnomalySeriesState)];
  char week_bytes[sizeof(AnomalyWeekState)];
  std::memcpy(st_bytes, &b.st, sizeof st_bytes);
  std::memcpy(week_bytes, &wb, sizeof week_bytes);
  AnomalyWeekState wc;
  Feed c;
  c.step = 30 * kMinute;
  c.t = b.t;
  c.week = &wc;
  std::memcpy(&c.st, st_bytes, sizeof st_bytes);
  std::memcpy(&wc, week_bytes, sizeof week_bytes);
  for (size_t i = cut; i < values.size(); ++i) split.push_back(c.push(values[i]).score);
  EXPECT_EQ(full, split);
}

TEST(AnomalyDetectorTest, CalibrationDeflatesASeriesThatKeepsStartingEpisodes) {
  // The same burst (noise x6 for 12 observations) on a calm series scores at full evidence the
  // first time; on a series that bursts every 300 observations its evidence is read against
  // its own onset rates, so the tenth burst's rows score lower than they would uncalibrated.
  auto run = [](bool calibrate, int bursts) {
    AnomalyDetectorConfig c;
    c.calibrate = calibrate;
    Feed f(c);
    Noise n(31);
    double raw_sum = 0, evidence_sum = 0;
    for (int i = 0; i < 300 * (bursts + 1); ++i) {
      const bool burst = i >= 300 && i % 300 < 12;
      AnomalyObservation o = f.push(100 + n.next() * (burst ? 6 : 1));
      if (i >= 300 * bursts && i % 300 < 32) {  // the last burst and what follows it
        raw_sum += o.raw;
        evidence_sum += o.evidence;
      }
    }
    return std::make_pair(raw_sum, evidence_sum);
  };
  const auto first_cal = run(true, 1), first_raw = run(false, 1);
  EXPECT_NEAR(first_cal.first, first_raw.first, 1e-9) << "a first episode keeps its evidence";
  const auto many_cal = run(true, 10), many_raw = run(false, 10);
  EXPECT_NEAR(many_cal.second, many_raw.second, 1e-9) << "the same evidence before calibration";
  EXPECT_LT(many_cal.first, 0.75 * many_raw.first);
}

TEST(AnomalyDetectorTest, LikelihoodIsOneMinusTheSeriesOwnOnsetRate) {
  Feed f;
  Noise n(32);
  AnomalyObservation o;
  for (int i = 0; i < 2000; ++i) o = f.push(100 + n.next());
  EXPECT_GE(o.likelihood, 0.0);
  EXPECT_LT(o.likelihood, 1.0);
  o = f.push(160);
  EXPECT_GT(o.likelihood, 0.999);
  EXPECT_NEAR(o.likelihood, 1 - std::pow(10.0, f.det.onset_log_rate(f.st, o.evidence)), 1e-3);
}

TEST(AnomalyDetectorTest, VersionTwoStateIsReadWithAFreshCalibration) {
  Feed a;
  Noise n(33);
  for (int i = 0; i < 800; ++i) a.push(100 + n.next() + (i % 200 == 150 ? 40 : 0));
  char bytes[sizeof(AnomalySeriesState)];
  std::memcpy(bytes, &a.st, sizeof bytes);
  AnomalySeriesState v3;
  ASSERT_TRUE(AnomalyDetector::decode_state(AnomalySeriesState::kVersion, bytes, sizeof bytes, v3));
  EXPECT_EQ(std::memcmp(&v3, &a.st, sizeof v3), 0);
  // A version-2 record: the same fields, 624 bytes, no calibration.
  AnomalySeriesState v2;
  ASSERT_TRUE(AnomalyDetector::decode_state(2, bytes, AnomalySeriesState::kV2Bytes, v2));
  EXPECT_EQ(v2.n, a.st.n);
  EXPECT_EQ(v2.scale, a.st.scale);
  EXPECT_EQ(std::memcmp(v2.weekday_visits, a.st.weekday_visits, sizeof v2.weekday_visits), 0);
  for (float r : v2.onset) EXPECT_EQ(r, 0.0f);
  EXPECT_EQ(v2.onset_armed, 0xffff);
  EXPECT_FALSE(AnomalyDetector::decode_state(2, bytes, 600, v2));
  EXPECT_FALSE(AnomalyDetector::decode_state(1, bytes, AnomalySeriesState::kV2Bytes, v2));
}

TEST(AnomalyDetectorTest, ContextNoveltyFindsANewOrderOfFamiliarValues) {
  // A square wave of period 12 (six lows, six highs): the same two levels in a new order
  // (alternating every step) leave the value range unchanged, but every context of three
  // symbols is new; the novelty evidence rises while the old order scores none.
  Feed f;
  AnomalyContextState ctx;
  Noise n(41);
  double before = 0, after = 0;
  for (int i = 0; i < 3000; ++i) {
    const bool high = i < 2800 ? (i / 6) % 2 == 1 : i % 2 == 1;
    AnomalyObservation o = f.det.update(f.st, nullptr, f.t, (high ? 110 : 90) + 0.2 * n.next(), 0,
                                        0, 1.0, nullptr, &ctx);
    f.t += f.step;
    if (i >= 2000 && i < 2800) before = std::max(before, o.novelty);
    if (i >= 2800 && i < 2830) after = std::max(after, o.novelty);
  }
  EXPECT_LT(before, 3.0);
  EXPECT_GT(after, 8.0);
  EXPECT_EQ(sizeof(AnomalyContextState), 216u) << "the bytes docs/anomaly.md states";
}

TEST(AnomalyDetectorTest, ContextStateIsIgnoredByCountSeries) {
  AnomalyDetectorConfig c;
  c.count_series = true;
  AnomalyDetector det(c);
  AnomalySeriesState a, b;
  AnomalyContextState ctx;
  for (int h = 0; h < 200; ++h) {
    const double v = h % 24 < 8 ? 0 : 10 + h % 3;
    AnomalyObservation x = det.update(a, nullptr, kMonday + h * kHour, v, h % 24, 0, 1.0);
    AnomalyObservation y =
        det.update(b, nullptr, kMonday + h * kHour, v, h % 24, 0, 1.0, nullptr, &ctx);
    EXPECT_EQ(x.score, y.score);
  }
  EXPECT_EQ(ctx.epoch_n, 0u);
}

}  // namespace
}  // namespace sw
