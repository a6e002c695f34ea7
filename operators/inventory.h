#pragma once
// Inventory math shared by the operators (RETAIL.md "Inventory"): service-level quantiles,
// safety stock, reorder point, order-up-to level, order quantity (MOQ, pack size), days of
// cover and stock-out probability. Pure functions of their arguments; notation as in
// RETAIL.md: d = mean demand per day, sd = σ_d, lead = L, lead_sd = σ_L, review = R, all in
// days; z = Φ⁻¹(service level).

#include <cstdint>
#include <vector>

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

// --- Replenishment workflow (RETAIL.md "Inventory", docs/low_stock.md "Workflow") ---

//! A lot of a perishable key: `units` left that expire at `expires_ms`.
struct Lot {
  int64_t expires_ms = 0;
  double units = 0;
};
//! Inserts a lot keeping `lots` ordered by expiry (equal expiries merge).
void add_lot(std::vector<Lot>& lots, int64_t expires_ms, double units);
//! Takes `qty` units first-expiring-first; returns the units that no lot covered.
double consume_fefo(std::vector<Lot>& lots, double qty);
//! Projected unsold units at expiry of each lot (same order as `lots`, sorted by expiry)
//! with demand `d` per day from `now_ms`: lot i sells min(units_i, d·days_to_expiry_i −
//! units sold by the lots before it), the rest spoils. Appends one value per lot to `out`.
void projected_unsold(const std::vector<Lot>& lots, double d, int64_t now_ms,
                      std::vector<double>& out);
//! Units a receiver needs: demand until its next possible receipt + SS − on hand (may be <= 0).
double transfer_need(double d, double days_to_receipt, double safety_stock, double on_hand);
//! Units a donor can spare: on hand − demand over (its lead time + review) − SS (may be <= 0).
double transfer_surplus(double on_hand, double d, double lead, double review, double safety_stock);
//! min(need, surplus) rounded down to the pack size; 0 below `min_qty` or when either is <= 0.
double transfer_quantity(double need, double surplus, double pack, double min_qty);

//! Running lead-time observations of one (supplier, sku) or sku (Welford).
struct LeadStats {
  uint32_t n = 0;
  double mean = 0;
  double m2 = 0;
  void add(double days);
  double variance() const { return n > 1 ? m2 / (n - 1) : 0; }
};
//! Shrinks observed lead times toward a prior (mean, sd) with `prior_weight` pseudo
//! observations: mean' = (n·mean + k·prior) / (n + k); var' = ((n−1)·var + k·prior_sd²) /
//! (n − 1 + k). With n == 0 it returns the prior.
void shrink_lead_time(const LeadStats& s, double prior_mean, double prior_sd, double prior_weight,
                      double& mean_out, double& sd_out);

//! Approval class of a recommendation (DESIGN.md §3).
enum class Approval : uint8_t { kAuto, kReview, kEscalate };
const char* approval_name(Approval a);
struct ApprovalInput {
  double order_cost = 0;  // order qty × unit cost (0 when the cost is unknown)
  bool cost_known = false;
  double store_spent_today = 0;     // auto-approved cost already spent today in the store
  double category_spent_today = 0;  // ... in the store's category
  double auto_max_cost = 0;         // per-order limit (0 = none)
  double store_daily_budget = 0;    // 0 = none
  double category_daily_budget = 0;
  bool new_item = false;
  bool new_supplier = false;
  bool wide_interval = false;
  bool open_anomaly = false;
  bool regional_spare = false;  // another store of the region can spare units
};
//! escalate when signals conflict (open anomaly, spare stock in the region); review over
//! the per-order limit, over a daily budget, without a known cost, for a new item or
//! supplier or a wide forecast interval; auto otherwise. `why` gets the deciding reason.
Approval classify(const ApprovalInput& in, const char** why);

}  // namespace sw::inventory
