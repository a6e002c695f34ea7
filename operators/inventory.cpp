#include "operators/inventory.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace sw::inventory {

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

double inverse_normal_cdf(double p) {
  if (!(p > 0.0) || !(p < 1.0)) {
    if (p == 0.0) return -std::numeric_limits<double>::infinity();
    if (p == 1.0) return std::numeric_limits<double>::infinity();
    return std::numeric_limits<double>::quiet_NaN();
  }
  // Peter J. Acklam's rational approximation (relative error < 1.15e-9).
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  double x;
  if (p < kLow) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - kLow) {
    double q = p - 0.5;
    double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One Halley step against the exact CDF brings it to full double precision.
  double e = normal_cdf(x) - p;
  double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

double safety_stock(double z, double d, double sd, double lead, double lead_sd) {
  return z * std::sqrt(lead * sd * sd + d * d * lead_sd * lead_sd);
}

double reorder_point(double z, double d, double sd, double lead, double lead_sd) {
  return d * lead + safety_stock(z, d, sd, lead, lead_sd);
}

double order_up_to(double z, double d, double sd, double lead, double lead_sd, double review) {
  double t = lead + review;
  return d * t + z * std::sqrt(t * sd * sd + d * d * lead_sd * lead_sd);
}

double order_quantity(double order_up_to_level, double position, double moq, double pack) {
  double need = order_up_to_level - position;
  if (!(need > 0)) return 0;
  double q = std::max(moq, need);
  if (!(pack > 0)) pack = 1;
  // Tolerate float noise so that 24.0000000001 does not round up to the next pack.
  return std::ceil(q / pack - 1e-9) * pack;
}

double lead_time_demand_mean(double d, double lead) {
  return d * lead;
}

double lead_time_demand_variance(double d, double sd, double lead, double lead_sd) {
  return lead * sd * sd + d * d * lead_sd * lead_sd;
}

double days_of_cover(double on_hand, double d) {
  return on_hand <= 0 ? 0 : d > 0 ? on_hand / d : std::numeric_limits<double>::infinity();
}

double stockout_probability(double on_hand, double mean, double var) {
  if (on_hand < 0) return 1;
  if (!(mean > 0)) return 0;
  if (mean < 10) {
    // Poisson(mean): P(X > floor(on_hand)) = 1 - sum_{k <= n} e^-m m^k / k!.
    double n = std::floor(on_hand);
    double term = std::exp(-mean), cdf = 0;
    for (double k = 0; k <= n; ++k) {
      cdf += term;
      if (k > mean && term < 1e-17) break;
      term *= mean / (k + 1);
    }
    return std::clamp(1 - cdf, 0.0, 1.0);
  }
  if (!(var > 0)) return on_hand < mean ? 1 : 0;
  return 1 - normal_cdf((on_hand - mean) / std::sqrt(var));
}

void add_lot(std::vector<Lot>& lots, int64_t expires_ms, double units) {
  if (!(units > 0)) return;
  auto it = std::lower_bound(lots.begin(), lots.end(), expires_ms,
                             [](const Lot& l, int64_t t) { return l.expires_ms < t; });
  if (it != lots.end() && it->expires_ms == expires_ms) {
    it->units += units;
  } else {
    lots.insert(it, Lot{expires_ms, units});
  }
}

double consume_fefo(std::vector<Lot>& lots, double qty) {
  size_t used = 0;
  for (; used < lots.size() && qty > 0; ++used) {
    if (lots[used].units > qty) {
      lots[used].units -= qty;
      qty = 0;
      break;
    }
    qty -= lots[used].units;
  }
  lots.erase(lots.begin(), lots.begin() + static_cast<std::ptrdiff_t>(used));
  return std::max(qty, 0.0);
}

void projected_unsold(const std::vector<Lot>& lots, double d, int64_t now_ms,
                      std::vector<double>& out) {
  double sold_before = 0;
  for (const Lot& l : lots) {
    const double days = std::max(0.0, static_cast<double>(l.expires_ms - now_ms) / 86'400'000.0);
    const double demand = std::max(0.0, d) * days;
    const double sold = std::clamp(demand - sold_before, 0.0, l.units);
    sold_before += sold;
    out.push_back(l.units - sold);
  }
}

double transfer_need(double d, double days_to_receipt, double safety_stock, double on_hand) {
  return d * days_to_receipt + safety_stock - std::max(on_hand, 0.0);
}

double transfer_surplus(double on_hand, double d, double lead, double review, double safety_stock) {
  return on_hand - d * (lead + review) - safety_stock;
}

double transfer_quantity(double need, double surplus, double pack, double min_qty) {
  if (!(need > 0) || !(surplus > 0)) return 0;
  if (!(pack > 0)) pack = 1;
  const double q = std::floor(std::min(need, surplus) / pack + 1e-9) * pack;
  return q >= std::max(min_qty, 1e-9) ? q : 0;
}

void LeadStats::add(double days) {
  ++n;
  const double diff = days - mean;
  mean += diff / n;
  m2 += diff * (days - mean);
}

void shrink_lead_time(const LeadStats& s, double prior_mean, double prior_sd, double prior_weight,
                      double& mean_out, double& sd_out) {
  const double n = s.n, k = prior_weight;
  if (s.n == 0 || n + k <= 0) {
    mean_out = prior_mean;
    sd_out = prior_sd;
    return;
  }
  mean_out = (n * s.mean + k * prior_mean) / (n + k);
  const double dof = (n - 1) + k;
  sd_out = dof > 0 ? std::sqrt(((n - 1) * s.variance() + k * prior_sd * prior_sd) / dof) : 0;
}

const char* approval_name(Approval a) {
  switch (a) {
    case Approval::kAuto:
      return "auto";
    case Approval::kReview:
      return "review";
    case Approval::kEscalate:
      return "escalate";
  }
  return "review";
}

Approval classify(const ApprovalInput& in, const char** why) {
  const char* unused = nullptr;
  const char*& w = why != nullptr ? *why : unused;
  if (in.open_anomaly) {
    w = "open_anomaly";
    return Approval::kEscalate;
  }
  if (in.regional_spare) {
    w = "regional_spare";
    return Approval::kEscalate;
  }
  if (!in.cost_known) {
    w = "unknown_cost";
    return Approval::kReview;
  }
  if (in.auto_max_cost > 0 && in.order_cost > in.auto_max_cost) {
    w = "over_order_limit";
    return Approval::kReview;
  }
  if (in.store_daily_budget > 0 && in.store_spent_today + in.order_cost > in.store_daily_budget) {
    w = "over_store_budget";
    return Approval::kReview;
  }
  if (in.category_daily_budget > 0 &&
      in.category_spent_today + in.order_cost > in.category_daily_budget) {
    w = "over_category_budget";
    return Approval::kReview;
  }
  if (in.new_item) {
    w = "new_item";
    return Approval::kReview;
  }
  if (in.new_supplier) {
    w = "new_supplier";
    return Approval::kReview;
  }
  if (in.wide_interval) {
    w = "wide_interval";
    return Approval::kReview;
  }
  w = "within_budget";
  return Approval::kAuto;
}

}  // namespace sw::inventory
