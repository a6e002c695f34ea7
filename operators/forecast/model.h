#pragma once
// Pure demand-forecasting building blocks used by the forecast operator
// (operators/forecast/forecast.h): damped-trend exponential smoothing, Croston (with the
// Syntetos-Boylan correction), TSB, demand-pattern classification, ratio-of-sums seasonal profiles
// with hierarchical shrinkage, online quantile tracking for residual-based intervals, and rolling
// accuracy (RETAIL.md).
//
// Everything here is plain arithmetic on small POD structs: no allocation, no I/O, no time.
// The structs are trivially copyable so the operator can snapshot them byte for byte.

#include <cmath>
#include <cstdint>
#include <vector>

namespace sw::forecast {

//! Damped-trend (additive) exponential smoothing of a deseasonalised series.
struct DampedTrendParams {
  double alpha = 0.02;  // level gain
  double beta =
      0.02;           // trend gain, applied to the level change (Gardner's form: b uses alpha*beta)
  double phi = 0.98;  // damping per step
};

struct LevelTrend {
  float level = 0;
  float trend = 0;
};

//! One update with observation `y` (already deseasonalised), gain multiplier `gain` in [0, 1]
//! (1 = normal; smaller for buckets the model only partly trusts, e.g. promotions):
//!   f = l + phi*b;  l' = f + a*(y - f);  b' = phi*b + a*beta*(y - f)
//! (error-correction form of damped Holt; a = alpha*gain).
void damped_trend_update(LevelTrend& s, double y, const DampedTrendParams& p, double gain = 1.0);
//! h-step forecast: l + (phi + phi^2 + ... + phi^h) * b.
double damped_trend_forecast(const LevelTrend& s, int h, double phi);
//! phi + phi^2 + ... + phi^h.
double damped_sum(double phi, int h);

//! Croston's method: smoothed non-zero demand size and inter-demand interval.
struct CrostonState {
  float size = 0;      // smoothed non-zero size (0 = no demand seen yet)
  float interval = 1;  // smoothed interval between non-zero demands, in buckets
  uint16_t since = 0;  // buckets since the last non-zero demand
};
//! Updates with one bucket's demand. On a non-zero bucket with q = since + 1:
//!   z' = z + a*(y - z), p' = p + a*(q - p) (the first non-zero bucket initialises z=y, p=q).
void croston_update(CrostonState& s, double y, double alpha);
//! Syntetos-Boylan approximation: (1 - alpha/2) * z / p; 0 before any demand.
double croston_sba_forecast(const CrostonState& s, double alpha);

//! Teunter-Syntetos-Babai: smoothed probability of a non-zero bucket and non-zero size.
struct TsbState {
  float prob = 0;
  float size = 0;
  uint8_t seen = 0;  // 1 once a non-zero demand initialised `size`
};
//! p' = p + a_p*(1[y>0] - p) every bucket; z' = z + a_z*(y - z) on non-zero buckets.
void tsb_update(TsbState& s, double y, double alpha_prob, double alpha_size);
double tsb_forecast(const TsbState& s);

//! Demand-pattern statistics (Syntetos-Boylan classification), exponentially discounted.
struct DemandPattern {
  float periods = 0;  // discounted count of buckets
  float nonzero = 0;  // discounted count of non-zero buckets
  float sum = 0;      // discounted sum of non-zero sizes
  float sum_sq = 0;   // discounted sum of squared non-zero sizes
};
void pattern_update(DemandPattern& s, double y, double discount);
//! Average inter-demand interval = periods / nonzero (infinity with no demand).
double pattern_adi(const DemandPattern& s);
//! Squared coefficient of variation of non-zero sizes.
double pattern_cv2(const DemandPattern& s);
//! ADI > 1.32 or CV^2 > 0.49 (RETAIL.md).
bool pattern_intermittent(const DemandPattern& s);

//! Ratio-of-sums seasonal profile with N slots: factor(i) = num[i] / den[i], where num sums
//! observed demand and den sums the demand expected without this seasonal component.
//! Shrinkage toward a parent profile uses `k` pseudo-units of the parent's ratio.
template <int N, typename T>
struct Profile {
  T num[N] = {};
  T den[N] = {};
  void add(int slot, double observed, double expected) {
    num[slot] += static_cast<T>(observed);
    den[slot] += static_cast<T>(expected);
  }
  void decay(double d) {
    for (int i = 0; i < N; ++i) {
      num[i] = static_cast<T>(num[i] * d);
      den[i] = static_cast<T>(den[i] * d);
    }
  }
  //! Raw ratio of a slot shrunk toward `parent` (already a ratio) with `k` pseudo-units;
  //! the parent while the slot has no data and no pseudo-units.
  double ratio(int slot, double parent, double k) const {
    const double d = den[slot] + k;
    return d > 0 ? (num[slot] + k * parent) / d : parent;
  }
};

//! Normalises `f[0..n)` in place to mean 1 (weights: equal); leaves it unchanged if the mean
//! is not positive.
void normalise_mean_one(double* f, int n);

//! Online quantile estimate (stochastic approximation): q' = q + step*(tau - 1[x < q]).
//! Converges to the tau-quantile of a stationary input; `step` sets speed versus noise.
void quantile_update(float& q, double x, double tau, double step);

//! Exact empirical quantile (type 7, linear interpolation) of `xs` (copied and sorted);
//! used by tests and the offline evaluation, never on the hot path.
double empirical_quantile(std::vector<double> xs, double tau);

//! Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p);

//! Rolling accuracy sums, exponentially discounted (RETAIL.md definitions).
struct AccuracySums {
  float abs_err = 0;    // sum |F - A|
  float err = 0;        // sum (F - A)
  float actual = 0;     // sum A
  float naive_abs = 0;  // sum |A_t - A_{t-m}| (seasonal naive in-sample error)
  float n = 0;          // discounted count of forecast/actual pairs
  float n_naive = 0;    // discounted count of naive differences
};
void accuracy_add(AccuracySums& s, double forecast, double actual, double discount);
void accuracy_add_naive(AccuracySums& s, double abs_naive_err, double discount);
//! MASE = mean|F - A| / mean|A_t - A_{t-m}|; NaN while undefined.
double accuracy_mase(const AccuracySums& s);
//! WAPE = sum|F - A| / sum A; NaN while sum A = 0.
double accuracy_wape(const AccuracySums& s);
//! Bias = sum(F - A) / sum A; NaN while sum A = 0.
double accuracy_bias(const AccuracySums& s);

//! sMAPE term of one point: 200*|F - A| / (|F| + |A|), 0 when both are 0.
double smape_term(double forecast, double actual);

}  // namespace sw::forecast
