#pragma once
// Inventory math shared by the operators (RETAIL.md "Inventory"): service-level quantiles,
// safety stock, reorder point, order-up-to level, order quantity (MOQ, pack size), days of
// cover and stock-out probability. Pure functions of their arguments; notation as in
// RETAIL.md: d = mean demand per day, sd = σ_d, lead = L, lead_sd = σ_L, review = R, all in
// days; z = Φ⁻¹(service level).

namespace sw::inventory {

//! Standard normal quantile Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation plus one
//! Halley refinement step; absolute error below 1e-12 in practice).
double inverse_normal_cdf(double p);
//! Φ(x).
double normal_cdf(double x);
//! SS = z · sqrt(L·σ_d² + d²·σ_L²).
double safety_stock(double z, double d, double sd, double lead, double lead_sd);
//! ROP = d·L + SS.
double reorder_point(double z, double d, double sd, double lead, double lead_sd);
//! S = d·(L+R) + z · sqrt((L+R)·σ_d² + d²·σ_L²).
double order_up_to(double z, double d, double sd, double lead, double lead_sd, double review);
//! max(MOQ, S − position) rounded up to a multiple of `pack` (pack <= 0 means 1); 0 when the
//! position already reaches S.
double order_quantity(double order_up_to_level, double position, double moq, double pack);
//! Mean demand over the lead time: d·L.
double lead_time_demand_mean(double d, double lead);
//! Variance of demand over the lead time: L·σ_d² + d²·σ_L² (independent demand and lead time).
double lead_time_demand_variance(double d, double sd, double lead, double lead_sd);
//! Days of cover at a constant rate `d` per day: 0 when nothing is on hand, +inf without
//! demand, on_hand / d otherwise (the forecast view computes seasonal cover itself).
double days_of_cover(double on_hand, double d);
//! P(D_L > on_hand) for lead-time demand with mean `mean` and variance `var`: Poisson when
//! the mean is below 10 units (slow movers), normal otherwise.
double stockout_probability(double on_hand, double mean, double var);

}  // namespace sw::inventory
