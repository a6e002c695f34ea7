#include "operators/forecast/model.h"

#include <algorithm>
#include <limits>

namespace sw::forecast {

void damped_trend_update(LevelTrend& s, double y, const DampedTrendParams& p, double gain) {
  const double a = p.alpha * gain;
  const double f = s.level + p.phi * s.trend;
  const double e = y - f;
  s.level = static_cast<float>(f + a * e);
  s.trend = static_cast<float>(p.phi * s.trend + a * p.beta * e);
}

double damped_sum(double phi, int h) {
  if (h <= 0) return 0;
  if (phi == 1.0) return h;
  return phi * (1 - std::pow(phi, h)) / (1 - phi);
}

double damped_trend_forecast(const LevelTrend& s, int h, double phi) {
  return s.level + damped_sum(phi, h) * s.trend;
}

void croston_update(CrostonState& s, double y, double alpha) {
  if (y > 0) {
    const double q = static_cast<double>(s.since) + 1;
    if (s.size <= 0) {
      s.size = static_cast<float>(y);
      s.interval = static_cast<float>(q);
    } else {
      s.size = static_cast<float>(s.size + alpha * (y - s.size));
      s.interval = static_cast<float>(s.interval + alpha * (q - s.interval));
    }
    s.since = 0;
  } else if (s.since < std::numeric_limits<uint16_t>::max()) {
    ++s.since;
  }
}

double croston_sba_forecast(const CrostonState& s, double alpha) {
  if (s.size <= 0 || s.interval <= 0) return 0;
  return (1 - alpha / 2) * s.size / s.interval;
}

void tsb_update(TsbState& s, double y, double alpha_prob, double alpha_size) {
  const double hit = y > 0 ? 1.0 : 0.0;
  s.prob = static_cast<float>(s.prob + alpha_prob * (hit - s.prob));
  if (y > 0) {
    if (!s.seen) {
      s.size = static_cast<float>(y);
      s.seen = 1;
    } else {
      s.size = static_cast<float>(s.size + alpha_size * (y - s.size));
    }
  }
}

double tsb_forecast(const TsbState& s) {
  return s.seen ? s.prob * s.size : 0.0;
}

void pattern_update(DemandPattern& s, double y, double discount) {
  s.periods = static_cast<float>(s.periods * discount + 1);
  s.nonzero = static_cast<float>(s.nonzero * discount + (y > 0 ? 1 : 0));
  s.sum = static_cast<float>(s.sum * discount + (y > 0 ? y : 0));
  s.sum_sq = static_cast<float>(s.sum_sq * discount + (y > 0 ? y * y : 0));
}

double pattern_adi(const DemandPattern& s) {
  if (s.nonzero <= 0) return std::numeric_limits<double>::infinity();
  return static_cast<double>(s.periods) / s.nonzero;
}

double pattern_cv2(const DemandPattern& s) {
  if (s.nonzero <= 0) return 0;
  const double mean = s.sum / s.nonzero;
  if (mean <= 0) return 0;
  const double var = std::max(0.0, static_cast<double>(s.sum_sq) / s.nonzero - mean * mean);
  return var / (mean * mean);
}

bool pattern_intermittent(const DemandPattern& s) {
  return pattern_adi(s) > 1.32 || pattern_cv2(s) > 0.49;
}

void normalise_mean_one(double* f, int n) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += f[i];
  if (!(sum > 0)) return;
  const double k = n / sum;
  for (int i = 0; i < n; ++i) f[i] *= k;
}

void quantile_update(float& q, double x, double tau, double step) {
  q = static_cast<float>(q + step * (tau - (x < q ? 1.0 : 0.0)));
}

double empirical_quantile(std::vector<double> xs, double tau) {
  if (xs.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(xs.begin(), xs.end());
  const double pos = tau * static_cast<double>(xs.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, xs.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return xs[lo] + frac * (xs[hi] - xs[lo]);
}

double normal_quantile(double p) {
  if (p <= 0) return -std::numeric_limits<double>::infinity();
  if (p >= 1) return std::numeric_limits<double>::infinity();
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double plow = 0.02425;
  if (p < plow) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - plow) {
    const double q = std::sqrt(-2 * std::log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

void accuracy_add(AccuracySums& s, double forecast, double actual, double discount) {
  s.abs_err = static_cast<float>(s.abs_err * discount + std::fabs(forecast - actual));
  s.err = static_cast<float>(s.err * discount + (forecast - actual));
  s.actual = static_cast<float>(s.actual * discount + actual);
  s.n = static_cast<float>(s.n * discount + 1);
}

void accuracy_add_naive(AccuracySums& s, double abs_naive_err, double discount) {
  s.naive_abs = static_cast<float>(s.naive_abs * discount + abs_naive_err);
  s.n_naive = static_cast<float>(s.n_naive * discount + 1);
}

double accuracy_mase(const AccuracySums& s) {
  if (s.n <= 0 || s.n_naive <= 0 || s.naive_abs <= 0)
    return std::numeric_limits<double>::quiet_NaN();
  return (s.abs_err / s.n) / (s.naive_abs / s.n_naive);
}

double accuracy_wape(const AccuracySums& s) {
  if (s.actual <= 0) return std::numeric_limits<double>::quiet_NaN();
  return s.abs_err / s.actual;
}

double accuracy_bias(const AccuracySums& s) {
  if (s.actual <= 0) return std::numeric_limits<double>::quiet_NaN();
  return s.err / s.actual;
}

double smape_term(double forecast, double actual) {
  const double den = std::fabs(forecast) + std::fabs(actual);
  if (den == 0) return 0;
  return 200 * std::fabs(forecast - actual) / den;
}

}  // namespace sw::forecast
