#pragma once
// price settings: operators.price.* (docs/price.md has each key, its default and meaning).

#include <cstdint>
#include <string>
#include <vector>

namespace sw {

class Config;

struct PriceSettings {
  // Guardrails.
  double min_margin = 0.05;  // proposals stay at or above cost × (1 + min_margin)
  double max_step = 0.10;    // largest change per proposal, fraction of the current price
  int64_t cooldown_ms = 7 * 86'400'000LL;  // no new proposal this long after a price change
  int ending_cents = 99;                   // default price ending (-1: any whole cent)
  std::vector<std::pair<std::string, int>> category_endings;  // category -> ending cents
  // Triggers.
  double competitor_gap = 0.05;  // undercut when a competitor is this far below our price
  int64_t competitor_max_age_ms = 14 * 86'400'000LL;
  double overstock_cover_days = 60;
  double overstock_target_days = 30;
  double expiry_min_units = 1;
  double opportunity_min_gain = 0.05;  // expected margin/day gain that makes an opportunity
  int resolve_after_days = 2;          // condition false this many evaluations -> resolved
  // Approval classes.
  double auto_max_change = 0.05;
  double auto_max_se = 0.35;
  double escalate_se = 1.0;
  int new_item_days = 28;
  // Estimator.
  double lambda = 0;           // forgetting per daily observation (from half-life)
  double reference_alpha = 0;  // EWMA weight of the baseline and reference price
  double prior_elasticity = -1.5;
  double prior_sd = 1.0;
  double sku_spread = 0.5;  // sd of SKU elasticities around their category's
  double key_spread = 0.3;  // sd of (store, SKU) elasticities around their SKU's
  double default_lead_time_days = 7;

  //! Ending cents for a category (the category's own or the default).
  int ending_for(const std::string& category) const;
  //! Reads operators.price.*; throws ConfigError naming the key and the fix.
  static PriceSettings from_config(const Config& config);
};

//! Parses a price ending: ".99", "0.99", "99" -> 99; "none" -> -1; false if malformed.
bool parse_price_ending(const std::string& s, int& cents);

}  // namespace sw
