#include "operators/price/settings.h"

#include <cmath>
#include <string>

#include "stream/config.h"

namespace sw {

namespace {
constexpr int64_t kDayMs = 86'400'000;
}

bool parse_price_ending(const std::string& s, PriceEnding& out) {
  if (s == "none" || s == "any") {
    out = {100, -1};
    return true;
  }
  std::string d = s;
  if (d.rfind("0.", 0) == 0) d = d.substr(1);
  if (!d.empty() && d[0] == '.') d = d.substr(1);
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (d.size() != 2 || !digit(d[1])) return false;
  if (d[0] == 'x' || d[0] == 'X') {
    out = {10, d[1] - '0'};
    return true;
  }
  if (!digit(d[0])) return false;
  out = {100, (d[0] - '0') * 10 + (d[1] - '0')};
  return true;
}

PriceEnding PriceSettings::ending_for(const std::string& category) const {
  for (const auto& [c, e] : category_endings) {
    if (c == category) return e;
  }
  return ending;
}

PriceSettings PriceSettings::from_config(const Config& config) {
  const std::string p = "operators.price.";
  PriceSettings s;
  s.min_margin = config.get_double(p + "min_margin", 0.05, 0, 10);
  s.max_step = config.get_double(p + "max_step_pct", 10, 0.1, 100) / 100;
  s.cooldown_ms = static_cast<int64_t>(
      std::llround(config.get_double(p + "cooldown_days", 7, 0, 365) * kDayMs));
  auto ending = [&](const std::string& key, const std::string& def) {
    const std::string v = config.get_string(key, def);
    PriceEnding e;
    if (!parse_price_ending(v, e)) {
      throw ConfigError(key, "'" + v + "' is not a price ending",
                        "use two decimals such as \".99\" or \".95\", \".x9\" (any price "
                        "whose last cent digit is 9), or \"none\"");
    }
    return e;
  };
  s.ending = ending(p + "price_ending", ".x9");
  for (const std::string& cat : config.children(p + "category_endings")) {
    s.category_endings.emplace_back(cat, ending(p + "category_endings." + cat, ".x9"));
  }
  s.competitor_gap = config.get_double(p + "competitor_gap_pct", 5, 0, 90) / 100;
  s.competitor_max_age_ms = static_cast<int64_t>(
      std::llround(config.get_double(p + "competitor_max_age_days", 14, 0.01, 3650) * kDayMs));
  s.competitor_min_sources =
      static_cast<int>(config.get_int(p + "competitor_min_sources", 2, 1, 100));
  s.overstock_cover_days = config.get_double(p + "overstock_cover_days", 60, 1, 3650);
  s.overstock_target_days = config.get_double(p + "overstock_target_days", 30, 1, 3650);
  if (s.overstock_target_days >= s.overstock_cover_days) {
    throw ConfigError(p + "overstock_target_days",
                      "must be below operators.price.overstock_cover_days (" +
                          std::to_string(s.overstock_cover_days) + ")",
                      "lower overstock_target_days or raise overstock_cover_days");
  }
  s.expiry_min_units = config.get_double(p + "expiry_min_units", 1, 0, 1e9);
  s.opportunity_min_gain = config.get_double(p + "opportunity_min_gain_pct", 5, 0, 1000) / 100;
  s.resolve_after_days = static_cast<int>(config.get_int(p + "resolve_after_days", 2, 1, 365));
  s.confirm_days = static_cast<int>(config.get_int(p + "confirm_days", 2, 1, 365));
  s.risk_probability = config.get_double(p + "risk_probability", 0.8, 0.5, 0.999);
  s.auto_max_change = config.get_double(p + "auto_max_change_pct", 5, 0, 100) / 100;
  s.auto_max_se = config.get_double(p + "auto_max_se", 0.35, 0, 100);
  s.escalate_se = config.get_double(p + "escalate_se", 1.0, 0, 100);
  if (s.escalate_se < s.auto_max_se) {
    throw ConfigError(p + "escalate_se", "is below operators.price.auto_max_se",
                      "set escalate_se >= auto_max_se (defaults 1.0 and 0.35)");
  }
  s.new_item_days = static_cast<int>(config.get_int(p + "new_item_days", 28, 0, 3650));
  const double hl = config.get_double(p + "forgetting_half_life_days", 90, 1, 36500);
  s.lambda = std::pow(0.5, 1 / hl);
  const double ref_hl = config.get_double(p + "reference_half_life_days", 28, 1, 3650);
  s.reference_alpha = 1 - std::pow(0.5, 1 / ref_hl);
  s.prior_elasticity = config.get_double(p + "prior_elasticity", -1.5, -20, 5);
  s.prior_sd = config.get_double(p + "prior_sd", 1.0, 0.01, 100);
  s.sku_spread = config.get_double(p + "sku_spread", 0.5, 0, 100);
  s.key_spread = config.get_double(p + "key_spread", 0.3, 0, 100);
  s.default_lead_time_days = config.get_double(p + "default_lead_time_days", 7, 0, 365);
  const std::string baseline = config.get_string(p + "baseline", "own");
  if (baseline != "forecast" && baseline != "own") {
    throw ConfigError(p + "baseline", "'" + baseline + "' is not a baseline",
                      "use \"forecast\" (the forecast's demand without its price response) or "
                      "\"own\" (the key's own EWMAs of log demand and log price)");
  }
  s.forecast_baseline = baseline == "forecast";
  return s;
}

}  // namespace sw
