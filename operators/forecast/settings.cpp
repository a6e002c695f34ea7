#include "operators/forecast/settings.h"

#include "stream/config.h"

namespace sw {

ForecastOptions ForecastOptions::from_config(const Config& c) {
  ForecastOptions o;
  o.hourly = c.get_enum("operators.forecast.bucket", "1d", {"1d", "1h"}) == "1h";
  o.horizon = static_cast<int>(c.get_int("operators.forecast.horizon", 28, 1, 400));
  o.interval = c.get_double("operators.forecast.interval", 0.9, 0.5, 0.995);
  const std::string emit =
      c.get_enum("operators.forecast.emit", "every_close", {"every_close", "on_change", "none"});
  o.emit = emit == "none"        ? ForecastEmit::kNone
           : emit == "on_change" ? ForecastEmit::kOnChange
                                 : ForecastEmit::kEveryClose;
  o.emit_threshold =
      c.get_double("operators.forecast.emit_threshold", o.emit_threshold, 0.0, 100.0);
  o.compact_horizon = c.get_enum("operators.forecast.horizon_encoding", "objects",
                                 {"objects", "compact"}) == "compact";
  o.censor_fraction = c.get_double("operators.forecast.censor_fraction", 0.25, 0.0, 1.0);
  o.alpha = c.get_double("operators.forecast.alpha", o.alpha, 0.001, 1.0);
  o.beta = c.get_double("operators.forecast.beta", o.beta, 0.0, 1.0);
  o.phi = c.get_double("operators.forecast.phi", o.phi, 0.5, 1.0);
  o.intermittent_alpha =
      c.get_double("operators.forecast.intermittent_alpha", o.intermittent_alpha, 0.01, 1.0);
  o.profile_shrink = c.get_double("operators.forecast.profile_shrink", o.profile_shrink, 0, 1e9);
  o.drift_mase = c.get_double("operators.forecast.drift_mase", o.drift_mase, 0.5, 100);
  o.own_months = c.get_bool("operators.forecast.own_months", o.own_months);
  o.own_hours = c.get_bool("operators.forecast.own_hours", o.own_hours);
  return o;
}

std::string ForecastOptions::restart_key(const ForecastOptions& n) const {
  const std::string p = "operators.forecast.";
  // Bucket length and horizon size the per-key rings, timers and the weight tables; interval
  // is the probability the per-key residual quantiles are learned at; the gains, damping,
  // censoring, pooling and own-profile switches shape how the models' state evolves.
  if (hourly != n.hourly) return p + "bucket";
  if (horizon != n.horizon) return p + "horizon";
  if (interval != n.interval) return p + "interval";
  if (censor_fraction != n.censor_fraction) return p + "censor_fraction";
  if (alpha != n.alpha) return p + "alpha";
  if (beta != n.beta) return p + "beta";
  if (phi != n.phi) return p + "phi";
  if (intermittent_alpha != n.intermittent_alpha) return p + "intermittent_alpha";
  if (profile_shrink != n.profile_shrink) return p + "profile_shrink";
  if (own_months != n.own_months) return p + "own_months";
  if (own_hours != n.own_hours) return p + "own_hours";
  return "";
}

}  // namespace sw
