#include "operators/price/elasticity.h"

#include <cmath>

#include <Eigen/Core>

namespace sw::price {

Rls Rls::with_prior(double a0, double b0, double var_a, double var_b) {
  Rls r;
  r.a = a0;
  r.b = b0;
  r.p00 = var_a;
  r.p11 = var_b;
  return r;
}

void Rls::update(double x, double y, double w, double lambda) {
  // Standard exponentially weighted RLS (Ljung): with P the covariance factor,
  //   k = P·φ / (λ/w + φᵀ·P·φ),  θ += k·(y − φᵀθ),  P = (P − k·φᵀ·P) / λ.
  Eigen::Matrix2d p;
  p << p00, p01, p01, p11;
  const Eigen::Vector2d phi(1.0, x);
  const Eigen::Vector2d pphi = p * phi;
  const double denom = lambda / w + phi.dot(pphi);
  const Eigen::Vector2d k = pphi / denom;
  const double resid = y - (a + b * x);
  a += k(0) * resid;
  b += k(1) * resid;
  p = (p - k * pphi.transpose()) / lambda;
  p00 = p(0, 0);
  p01 = 0.5 * (p(0, 1) + p(1, 0));  // keep it exactly symmetric
  p11 = p(1, 1);
  // The a-priori residual has variance σ²·(1/w + φᵀPφ/λ) = σ²·denom/λ (σ² the noise
  // variance at unit weight), so resid²·λ/denom is one unbiased estimate of σ².
  weight = lambda * weight + 1;
  sse = lambda * sse + resid * resid * lambda / denom;
  sxx = lambda * sxx + w * x * x;
  ++count;
}

double Rls::residual_variance(double prior_var, double prior_weight) const {
  return (sse + prior_var * prior_weight) / (weight + prior_weight);
}

double Rls::se_b(double prior_var, double prior_weight) const {
  return std::sqrt(std::max(0.0, residual_variance(prior_var, prior_weight) * p11));
}

Estimate shrink(const Estimate& own, const Estimate& prior, double tau) {
  const double prior_var = prior.var + tau * tau;
  if (!(own.var > 0) || !std::isfinite(own.var)) return {prior.value, prior_var};
  if (!(prior_var > 0) || !std::isfinite(prior_var)) return own;
  const double wo = 1 / own.var, wp = 1 / prior_var;
  return {(wo * own.value + wp * prior.value) / (wo + wp), 1 / (wo + wp)};
}

}  // namespace sw::price
