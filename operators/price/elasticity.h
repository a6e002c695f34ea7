#pragma once
// Own-price elasticity estimation (RETAIL.md "Price", docs/price.md): a two-parameter
// weighted recursive least squares with exponential forgetting on
//   y = ln(units + 0.5) − baseline,   x = ln(price) − reference log price,
// so y = a + b·x with b the elasticity; and the precision-weighted shrinkage that combines a
// key's estimate with its SKU's and the SKU's with its category's. Pure value types and
// functions; no allocation.

#include <cstdint>

namespace sw::price {

//! Recursive least squares for y = a + b·x. `p` is the covariance factor of (a, b) (the
//! inverse of the forgetting-weighted information matrix plus the prior), so
//! Cov(a, b) = residual variance × p.
struct Rls {
  double a = 0, b = 0;
  double p00 = 0, p01 = 0, p11 = 0;
  double weight = 0;   // forgetting-weighted number of observations
  double sse = 0;      // forgetting-weighted sum of standardised squared a-priori residuals
  double sxx = 0;      // forgetting-weighted sum of w·x² (price variation seen)
  uint32_t count = 0;  // observations folded in (not forgotten; for evidence)

  //! A fresh estimator with prior mean (a0, b0) and prior variances var_a, var_b (the
  //! prior acts as a ridge term that is forgotten like the data).
  static Rls with_prior(double a0, double b0, double var_a, double var_b);
  //! Folds in one observation with weight w > 0 after discounting the past by `lambda`
  //! (0 < lambda <= 1; 1 = ordinary recursive least squares).
  void update(double x, double y, double w, double lambda);
  //! Residual variance per unit weight, blended with a prior of `prior_var` worth
  //! `prior_weight` observations (so one observation does not claim certainty).
  double residual_variance(double prior_var = 0.5, double prior_weight = 2) const;
  //! Standard error of b.
  double se_b(double prior_var = 0.5, double prior_weight = 2) const;
};

//! An estimate with its variance.
struct Estimate {
  double value = 0;
  double var = 0;
};

//! Precision-weighted combination of an own estimate and a prior (a pooled estimate whose
//! variance is inflated by the spread `tau` of members around the pool): the posterior of
//! a normal mean with a normal prior. `own.var` <= 0 or non-finite means "no own estimate".
Estimate shrink(const Estimate& own, const Estimate& prior, double tau);

}  // namespace sw::price
