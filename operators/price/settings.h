#pragma once
// price settings: operators.price.* (docs/price.md has each key, its default and meaning).

#include <cstdint>
#include <string>
#include <vector>

namespace sw {

class Config;

//! Prices end so that cents % modulus == cents_value: ".99" {100, 99}, ".x9" {10, 9};
//! cents < 0: any whole cent.
struct PriceEnding {
  int modulus = 10;
  int cents = 9;
};

struct PriceSettings {
  // Guardrails.
  double min_margin = 0.05;  // proposals stay at or above cost × (1 + min_margin)
  double max_step = 0.10;    // largest change per proposal, fraction of the current price
  int64_t cooldown_ms = 7 * 86'400'000LL;  // no new proposal this long after a price change
  PriceEnding ending;                      // default price ending
  std::vector<std::pair<std::string, PriceEnding>> category_endings;  // per category
  // Triggers.
  double competitor_gap = 0.05;  // undercut when a competitor is this far below our price
  int64_t competitor_max_age_ms = 14 * 86'400'000LL;
  int competitor_min_sources = 2;  // competitors below the gap before an undercut counts
  double overstock_cover_days = 60;
  double overstock_target_days = 30;
  double expiry_min_units = 1;
  double opportunity_min_gain = 0.05;  // expected margin/day gain that makes an opportunity
  int resolve_after_days = 2;          // condition false this many evaluations -> resolved
  int confirm_days = 2;                // condition true on this many days -> firing
  double risk_probability = 0.8;       // stockout_risk / expiry_markdown: at least this likely
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
  //! Regression baseline: the forecast's demand at its reference price (true), or the key's
  //! own EWMAs of log demand and log price (false, and whenever the forecast has no answer).
  bool forecast_baseline = false;

  //! The price ending of a category (its own or the default).
  PriceEnding ending_for(const std::string& category) const;
  //! Reads operators.price.*; throws ConfigError naming the key and the fix.
  static PriceSettings from_config(const Config& config);
};

//! Parses a price ending: ".99" / "0.99" / "99" (last two digits), ".x9" / "x9" (last digit),
//! "none"; false if malformed.
bool parse_price_ending(const std::string& s, PriceEnding& out);

}  // namespace sw
