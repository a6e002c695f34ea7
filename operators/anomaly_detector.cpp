#include "operators/anomaly_detector.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sw {

namespace {

double alpha_of_half_life(double half_life) {
  return half_life <= 0 ? 1.0 : 1.0 - std::exp2(-1.0 / half_life);
}
//! Per-observation rate for an observation of weight `w` (w typical gaps).
double weighted(double alpha, double w) {
  return 1.0 - std::pow(1.0 - alpha, w);
}
double clip(double v, double c) {
  return std::clamp(v, -c, c);
}
constexpr double kMsPerHour = 3600.0 * 1000.0;
constexpr double kNlpHalf = 6.24;       // -log10 p of a 5-sigma two-sided tail: score 0.5
constexpr double kAbsDevToSd = 1.2533;  // sqrt(pi / 2): normal sd over mean absolute deviation

// Standard deviation of an hour slot's residuals: the slot's mean absolute residual blended
// with the series-wide one by the slot's recurrences `hv` (prior weight `k`).
double hour_slot_sd(const AnomalySeriesState& s, int hour, double hv, double k) {
  return kAbsDevToSd * (hv * s.hour_scale[hour] + k * s.scale) / (hv + k);
}
//! Observations per `ms` at the series' typical gap, at least 1: slot visits over this are
//! recurrences of the slot (days for an hour slot, weeks for a weekday or hour-of-week slot).
double obs_per(const AnomalySeriesState& s, double ms) {
  const double gap = s.typical_gap_ms > 0 ? s.typical_gap_ms : kMsPerHour;
  return std::max(1.0, ms / gap);
}
// Noise of an hour or hour-of-week offset's estimate: the spread of the slot's residuals or
// of the seasonal model's errors, whichever is larger.
double offset_sd(const AnomalySeriesState& s, int hour, double hv, double k) {
  return std::max(hour_slot_sd(s, hour, hv, k), kAbsDevToSd * s.err_seasonal);
}
constexpr double kTailLevel[AnomalySeriesState::kTailLevels] = {2,  3,  4,  5,  6.5, 8, 10,
                                                                13, 17, 22, 30, 45,  70};

// Calibration. The rates at which the metric family's evidence on Gaussian white noise starts
// an episode at each tail level (crosses it upward, counted again only after falling below
// half of it): 6 M observations at a 5-minute cadence, 6 seeds; beyond 13, where noise never
// went, extrapolated at the 8-13 slope (kNoiseSlope decades per unit of evidence).
constexpr double kNoiseOnset[AnomalySeriesState::kTailLevels] = {
    4.78e-3, 2.51e-3, 1.16e-3, 5.88e-4, 1.77e-4, 4.79e-5, 1.32e-5,
    1.01e-6, 4.8e-8,  1.1e-9,  2.5e-12, 2.8e-17, 1.6e-25};
constexpr double kNoiseSlope = 0.33;
// Onsets in the tail memory a series gets for free: a real anomaly or two must not make the
// next one look ordinary; a kind of series that starts episodes every few days is deflated.
constexpr double kFreeOnsets = 2;

// The same for the context-novelty evidence on white noise (its window test's onsets; beyond
// 10, where noise went 4 times in 6 M observations, extrapolated at 0.55 decades per unit).
constexpr double kNoveltyNoiseOnset[AnomalySeriesState::kTailLevels] = {
    4.43e-3, 1.76e-3, 5.78e-4, 2.55e-4, 5.71e-5, 1.14e-5, 6.7e-7,
    1.5e-8,  1e-10,   1.6e-13, 6e-18,   4e-26,   6e-40};
constexpr double kNoveltySlope = 0.55;
// Symbol edges in mean absolute deviations from the running location.
constexpr double kSymbolEdge[AnomalyContextState::kSymbols - 1] = {-2.5, -1.25, -0.5, 0,
                                                                   0.5,  1.25,  2.5};

//! log10 of a series' onset rate at `evidence` from its onset EWMAs `onset` (white noise's
//! `noise` as prior, `free` onsets in memory free, non-increasing in the level).
double onset_rate_at(const double* noise, double slope, const float* onset, double norm,
                     double prior, double a, double evidence) {
  constexpr int K = AnomalySeriesState::kTailLevels;
  // Only the levels up to the one above `evidence` are needed (most rows: the first one).
  int j = 0;
  while (j + 1 < K && evidence >= kTailLevel[j + 1]) ++j;
  const int need = std::min(j + 1, K - 1);
  double lr[K];
  for (int i = 0; i <= need; ++i) {
    const double u =
        (std::max(onset[i] - kFreeOnsets * a, 0.0) + noise[i] * prior) / (norm + prior);
    lr[i] = std::log10(std::max(u, 1e-300));
    if (i > 0) lr[i] = std::min(lr[i], lr[i - 1]);
  }
  if (evidence < kTailLevel[0]) return lr[0] * std::max(evidence, 0.0) / kTailLevel[0];
  return j + 1 < K ? lr[j] + (lr[j + 1] - lr[j]) * (evidence - kTailLevel[j]) /
                                 (kTailLevel[j + 1] - kTailLevel[j])
                   : lr[j] - slope * (evidence - kTailLevel[j]);
}

//! Counts the onsets of `evidence` (an upward crossing of a level, again only after it fell
//! below half of it) into the EWMAs `onset` with weight `at`.
void count_onsets(float* onset, uint16_t& armed, double evidence, double at) {
  for (int j = 0; j < AnomalySeriesState::kTailLevels; ++j) {
    const auto bit = static_cast<uint16_t>(1u << j);
    const bool up = evidence >= kTailLevel[j] && (armed & bit);
    if (up) armed &= static_cast<uint16_t>(~bit);
    if (evidence < 0.5 * kTailLevel[j]) armed |= bit;
    onset[j] = static_cast<float>(onset[j] + at * (up - onset[j]));
  }
}

//! The evidence white noise shows at onset rate 10^`l` (log-linear between the levels).
double noise_evidence_at(double l) {
  constexpr int K = AnomalySeriesState::kTailLevels;
  for (int k = 0; k < K; ++k) {
    const double nk = std::log10(kNoiseOnset[k]);
    if (l >= nk) {
      if (k == 0) return kTailLevel[0];
      const double nk0 = std::log10(kNoiseOnset[k - 1]);
      return kTailLevel[k - 1] + (kTailLevel[k] - kTailLevel[k - 1]) * (l - nk0) / (nk - nk0);
    }
  }
  return kTailLevel[K - 1] + (std::log10(kNoiseOnset[K - 1]) - l) / kNoiseSlope;
}

//! -log10 of the two-sided normal tail probability of |z|.
double gauss_nlp(double z) {
  double x = std::fabs(z) / std::sqrt(2.0);
  if (x < 20) return -std::log10(std::max(std::erfc(x), 1e-300));
  return (x * x + std::log(x * std::sqrt(M_PI))) / std::log(10.0);
}

//! -log10 of the chance of surprises at some level being as frequent as over a recent window
//! (EWMA rate `a`; `before` updated with this observation's size `z` into `after`) if their
//! rate were `long_run`: the largest over the levels of the Chernoff bound of a binomial
//! tail, n_eff * KL(recent rate || long-run rate).
double window_nlp(const float* before, float* after, const double* long_run, double a, double z) {
  const double n_eff = (2.0 - a) / a;
  double kl_max = 0;
  for (int i = 0; i < AnomalySeriesState::kTailLevels; ++i) {
    after[i] = static_cast<float>(before[i] + a * ((z >= kTailLevel[i]) - before[i]));
    const double p = std::min(static_cast<double>(after[i]), 1.0 - 1e-9);
    const double q = long_run[i];
    if (p <= q || q <= 0) continue;
    kl_max = std::max(kl_max, p * std::log(p / q) + (1 - p) * std::log((1 - p) / (1 - q)));
  }
  return n_eff * kl_max / std::log(10.0);
}

}  // namespace

AnomalyDetector::AnomalyDetector(const AnomalyDetectorConfig& config)
    : config_(config),
      a_local_(alpha_of_half_life(config.local_half_life)),
      a_slow_(alpha_of_half_life(config.slow_half_life)),
      a_slot_(alpha_of_half_life(config.slot_half_life)),
      a_scale_(alpha_of_half_life(config.scale_half_life)),
      a_err_(alpha_of_half_life(config.error_half_life)),
      a_short_(alpha_of_half_life(config.short_half_life)),
      a_norm_(alpha_of_half_life(config.norm_half_life)),
      a_tail_(alpha_of_half_life(config.tail_half_life)),
      a_window_(alpha_of_half_life(config.window_half_life)),
      a_window2_(config.window2_half_life > 0 ? alpha_of_half_life(config.window2_half_life)
                                              : 0.0) {
  for (int i = 0; i < AnomalySeriesState::kTailLevels; ++i) {
    gauss_rate_[i] = std::erfc(kTailLevel[i] / std::sqrt(2.0));
  }
}

double AnomalyDetector::tail_nlp(const float* exceed, double norm, double z) const {
  // Gaussian, or the series' own rate of surprises this large if higher: each level seen
  // before bounds the tail from above, extrapolated to z with a power law (heavy tails: a
  // surprise slightly larger than any seen is not infinitely rarer).
  double nlp = gauss_nlp(z);
  int level = -1;
  while (level + 1 < AnomalySeriesState::kTailLevels && z >= kTailLevel[level + 1]) ++level;
  for (int l = level; l >= 0 && kTailLevel[l] * config_.tail_reach >= z; --l) {
    if (exceed[l] <= 0) continue;
    const double rate = exceed[l] / norm * std::pow(kTailLevel[l] / z, config_.tail_exponent);
    nlp = std::min(nlp, -std::log10(std::min(1.0, rate)));
  }
  return nlp;
}

bool AnomalyDetector::decode_state(uint32_t version, const void* bytes, size_t size,
                                   AnomalySeriesState& out) {
  // Version 2's fields are version 3's first ones (its last 4 bytes were tail padding).
  constexpr size_t v2_fields = offsetof(AnomalySeriesState, onset);
  static_assert(v2_fields <= AnomalySeriesState::kV2Bytes &&
                AnomalySeriesState::kV2Bytes - v2_fields < 8);
  if (version == AnomalySeriesState::kVersion && size == sizeof(AnomalySeriesState)) {
    std::memcpy(static_cast<void*>(&out), bytes, size);
    return true;
  }
  if (version == 2 && size == AnomalySeriesState::kV2Bytes) {
    out = AnomalySeriesState{};
    std::memcpy(static_cast<void*>(&out), bytes, v2_fields);
    return true;
  }
  return false;
}

double AnomalyDetector::calibrated(const AnomalySeriesState& s, double evidence) const {
  if (evidence <= kTailLevel[0]) return evidence;
  return std::min(evidence, noise_evidence_at(onset_log_rate(s, evidence)));
}

double AnomalyDetector::onset_log_rate(const AnomalySeriesState& s, double evidence) const {
  // The series' onset rate at each level, white noise's as prior (tail_prior pseudo
  // observations: a young series is read as noise is), less the free onsets, monotone.
  return onset_rate_at(kNoiseOnset, kNoiseSlope, s.onset, s.tail_norm, config_.tail_prior * a_tail_,
                       a_tail_, evidence);
}

double AnomalyDetector::novelty_calibrated(const AnomalySeriesState& s,
                                           const AnomalyContextState& c, double evidence) const {
  if (evidence <= kTailLevel[0]) return 0;
  const double l = onset_rate_at(kNoveltyNoiseOnset, kNoveltySlope, c.onset, s.tail_norm,
                                 config_.tail_prior * a_tail_, a_tail_, evidence);
  return noise_evidence_at(l);
}

double AnomalyDetector::score_of_z(double z) {
  if (!(z == z)) return 1.0;
  return score_of_nlp(gauss_nlp(z));
}

double AnomalyDetector::score_of_nlp(double nlp) {
  // Hyperbolic rather than exponential, so that very different surprises (1e-20 against
  // 1e-200) keep distinct scores instead of all rounding to 1.
  nlp = std::max(nlp, 0.0);
  return nlp / (nlp + kNlpHalf);
}

double AnomalyDetector::seasonal_part(const AnomalySeriesState& s, int hour, int weekday) const {
  // Slot visits are counted in recurrences of the slot (days for an hour, weeks for a
  // weekday) so the shrinkage does not depend on the sampling rate.
  double hv = s.hour_visits[hour] / obs_per(s, kMsPerHour);
  double wv = s.weekday_visits[weekday] / obs_per(s, 24 * kMsPerHour);
  double k = config_.slot_prior;
  // Hour offsets: empirical-Bayes shrinkage, an offset is trusted as far as it stands out of
  // its own estimation noise: the spread of the slot's residuals or of the seasonal model's
  // errors (whichever is larger: a level that drifts from day to day makes every offset
  // uncertain), over the slot's recurrences, times slot_prior. A strong daily profile is used
  // in full after a few days instead of being held at hv / (hv + k) for weeks while the fast
  // level chases the remainder (and absorbs anomalies with it). Weekday offsets keep the
  // count-based shrinkage: a week or two cannot tell a weekday effect from a drifting level.
  const double u = offset_unit(s);
  double ho = s.hour_offset[hour] * u;
  double gh = 0;
  if (hv > 0) {
    const double sdh = offset_sd(s, hour, hv, k);
    double var = sdh * sdh * k / hv;
    gh = ho * ho / (ho * ho + var + 1e-300);
  }
  return ho * gh +
         (wv > 0 ? s.weekday_offset[weekday] * u * (wv / (wv + k)) * weekday_share(s, hour) : 0.0);
}

double AnomalyDetector::offset_unit(const AnomalySeriesState& s) const {
  return config_.weekday_scales_hours ? std::max(s.slow_level, 0.0) : 1.0;
}

double AnomalyDetector::weekday_share(const AnomalySeriesState& s, int hour) const {
  if (!config_.weekday_scales_hours) return 1.0;
  return std::clamp(1.0 + s.hour_offset[hour], 0.0, 4.0);
}

double AnomalyDetector::level_part(const AnomalySeriesState& s, int hour) const {
  if (!config_.weekday_scales_hours) return s.local_level;
  return s.slow_level + (s.local_level - s.slow_level) * weekday_share(s, hour);
}

double AnomalyDetector::week_part(const AnomalySeriesState& s, const AnomalyWeekState& week,
                                  int hour, int weekday) const {
  const int slot = weekday * AnomalySeriesState::kHours + hour;
  const double per_hour = obs_per(s, kMsPerHour);
  double kv = week.visits[slot] / per_hour;  // recurrences: weeks
  if (kv <= 0) return 0;
  const double sdh = offset_sd(s, hour, s.hour_visits[hour] / per_hour, config_.slot_prior);
  const double o = week.offset[slot];
  const double var = sdh * sdh * config_.week_prior / kv;
  return o * o * o / (o * o + var + 1e-300);
}

double AnomalyDetector::week_weight(const AnomalySeriesState& s,
                                    const AnomalyWeekState& week) const {
  if (week.err <= 0) return 0;
  return std::clamp((s.err_seasonal / week.err - 1.0) / config_.week_gain, 0.0, 1.0);
}

double AnomalyDetector::season_weight(const AnomalySeriesState& s) const {
  // Use the slot offsets only as far as they beat the flat slow level.
  if (s.err_seasonal <= 0) return 0;
  double gain = s.err_flat / s.err_seasonal - 1.0;
  return std::clamp(gain / 0.25, 0.0, 1.0);
}

double AnomalyDetector::expected(const AnomalySeriesState& s, const AnomalyWeekState* week,
                                 int hour, int weekday) const {
  hour = std::clamp(hour, 0, AnomalySeriesState::kHours - 1);
  weekday = std::clamp(weekday, 0, AnomalySeriesState::kWeekdays - 1);
  double season = seasonal_part(s, hour, weekday);
  if (week) season += week_weight(s, *week) * week_part(s, *week, hour, weekday);
  return level_part(s, hour) + season_weight(s) * season;
}

double AnomalyDetector::sigma(const AnomalySeriesState& s, double expected, int hour,
                              double dispersion) const {
  double hv = s.hour_visits[hour] / obs_per(s, kMsPerHour);
  double k = config_.slot_prior;
  double sd = hour_slot_sd(s, hour, hv, k);
  double floor = std::max(config_.abs_scale_floor,
                          config_.rel_scale_floor * (std::fabs(s.slow_level) + s.mean_abs_x));
  if (config_.count_series) {
    const double d = std::max(dispersion, 1e-9);
    floor = std::max(floor, std::sqrt(std::max(expected, 0.25 * d) * d));
  }
  return std::max(sd, floor);
}

AnomalyObservation AnomalyDetector::update(AnomalySeriesState& s, AnomalyWeekState* week,
                                           int64_t ts_ms, double value, int hour, int weekday,
                                           double dispersion, AnomalySilenceState* quiet,
                                           AnomalyContextState* context) const {
  AnomalyObservation out;
  out.value = value;
  if (!week || !config_.count_series) quiet = nullptr;  // empty rates are per hour of the week
  if (config_.count_series) context = nullptr;
  hour = std::clamp(hour, 0, AnomalySeriesState::kHours - 1);
  weekday = std::clamp(weekday, 0, AnomalySeriesState::kWeekdays - 1);
  if (s.n == 0) {
    s.local_level = s.slow_level = value;
    s.mean_abs_x = std::fabs(value);
    s.last_ts_ms = ts_ms;
    s.n = 1;
    out.expected = value;
    return out;
  }
  const bool in_order = ts_ms >= s.last_ts_ms;
  const bool warm = s.n >= static_cast<uint32_t>(config_.warmup);

  // Observation weight from the gap (irregular sampling).
  double w = 1.0;
  if (in_order) {
    double gap = static_cast<double>(ts_ms - s.last_ts_ms);
    if (s.typical_gap_ms <= 0) {
      s.typical_gap_ms = std::max(gap, 1.0);
    } else {
      w = std::clamp(gap / s.typical_gap_ms, 0.1, 10.0);
      double g = std::clamp(gap, s.typical_gap_ms / 4, s.typical_gap_ms * 4);
      s.typical_gap_ms += 0.05 * (g - s.typical_gap_ms);
    }
  }

  // Baselines.
  const double season_base = seasonal_part(s, hour, weekday);
  const double week_full = week ? week_part(s, *week, hour, weekday) : 0.0;
  const double season_full = season_base + (week ? week_weight(s, *week) * week_full : 0.0);
  const double sw = season_weight(s);
  const double e_flat = s.slow_level;
  const double e_season_base = s.slow_level + season_base;  // factorized hour + weekday model
  const double e_season_full = s.slow_level + season_full;
  // Proportional (sales family): the fast level's excess over the slow one scales with the
  // hour's share of the day like the weekday offset, so a busy Saturday's level does not
  // lift the night hours after it, when the store is shut.
  const double f_hour = weekday_share(s, hour);
  const int slot = weekday * AnomalySeriesState::kHours + hour;  // hour of the week
  const double exp_v = level_part(s, hour) + sw * season_full;
  const double sd = sigma(s, exp_v, hour, dispersion);
  const double r = value - exp_v;
  double z = r / sd;
  const double disp = std::max(dispersion, 1e-9);
  double silence = 0, z_silence = 0;
  if (config_.count_series && value >= 0) {
    // Counts: signed deviance residual of a quasi-Poisson law, accurate in the skewed tails
    // of small counts (0 observed against 30 expected is p = e^-30, not 5.5 sigma; 5 sold
    // against 0.28 expected is p ~ 1e-4, not 7.7 sigma). Its variance is the one the series
    // shows (sd^2, at least dispersion x expected): the effective event size d = sd^2 /
    // expected is the dispersion, or larger when the series is noisier than its event
    // sizes explain (a mix of basket sizes, days that differ). In that case the baseline
    // itself is part of the noise (a busy day's level spilling into closed hours), so the
    // residual is the more cautious of the quasi-Poisson and the normal one: the normal law
    // understates a skewed upper tail and overstates nothing below the mean.
    const double e = std::max(exp_v, 0.25 * disp);
    const double d = std::max(disp, sd * sd / e);
    const double mu = e / d;
    const double x = value / d;
    const double dev = 2.0 * ((x > 0 ? x * std::log(x / mu) : 0.0) - (x - mu));
    const double z_dev = (r >= 0 ? 1.0 : -1.0) * std::sqrt(std::max(dev, 0.0));
    const bool poisson_like = kAbsDevToSd * s.scale < std::sqrt(e * disp);
    z = poisson_like || std::fabs(z_dev) < std::fabs(z) ? z_dev : z;
    // An empty bucket extends the run of empty ones: the run is judged as one observation,
    // its deviance 2 x (events expected over the run), so a store or feed that stops in
    // busy hours is news within a few buckets even where one empty bucket is not. Each
    // bucket adds at most -ln of how often its hour of the week was empty before (series
    // with hour-of-week slots only, from the second week): a store shut on Sunday mornings
    // is not silent then.
    if (quiet && x <= 0 && week->visits[slot] > 0) {
      const double empty_before = quiet->empty_rate[slot] / 65535.0;
      silence = quiet->run + (empty_before > 0 ? std::min(mu, -std::log(empty_before)) : mu);
      z_silence = std::sqrt(2.0 * silence);
    } else if (quiet && x <= 0) {
      silence = quiet->run;  // an hour of the week not seen yet: no evidence either way
    }
  }
  out.expected = exp_v;
  out.z = z;

  // Signals: point residual, short-window mean (level change), short-window magnitude
  // (variance change); the latter two standardized by their own long-run spread.
  const double zc = clip(z, 10.0);
  const double iid_var = a_short_ / (2.0 - a_short_);
  double short_mean = s.short_mean + a_short_ * (zc - s.short_mean);
  double short_abs = s.short_abs + a_short_ * (std::fabs(zc) - s.short_abs);
  double z_mean = short_mean / std::sqrt(std::max(s.norm_mean, 0.5 * iid_var));
  double l_abs = std::log(short_abs + 0.1);
  double z_var = (l_abs - s.mu_abs) / std::sqrt(std::max(s.norm_abs, config_.min_var_spread));
  // Variance: increases only (a quieter series is caught by its residuals against the
  // seasonal baseline; a two-sided magnitude test fires on every calm stretch after a burst).
  double z_max = std::max({std::fabs(z), std::fabs(z_mean), std::max(z_var, 0.0)});

  const double prior = config_.tail_prior * a_tail_;
  double nlp = tail_nlp(s.exceed, s.tail_norm + prior, z_max);
  // What the window test counts: every signal (metric family: a run of moderate level or
  // variance change evidence is the typical regime change), or only point surprises (counts:
  // the residual mean and magnitude are themselves window statistics, and after one odd
  // bucket they would echo through the next dozen).
  const double z_win = config_.window_all_signals ? z_max : std::fabs(z);
  // Recent windows against the long run: are surprises of some size suddenly frequent? A
  // short window for a burst, a longer one for a sustained run of moderate surprises.
  double long_run[AnomalySeriesState::kTailLevels];
  for (int i = 0; i < AnomalySeriesState::kTailLevels; ++i) {
    long_run[i] = std::max((s.window_exceed[i] + gauss_rate_[i] * prior) / (s.tail_norm + prior),
                           config_.window_min_rate);
  }
  float recent[AnomalySeriesState::kTailLevels];
  float recent2[AnomalySeriesState::kTailLevels] = {};
  nlp = std::max(nlp, window_nlp(s.recent_exceed, recent, long_run, a_window_, z_win));
  if (a_window2_ > 0) {
    nlp = std::max(nlp, window_nlp(s.recent2_exceed, recent2, long_run, a_window2_, z_win));
  }
  // A run of empty buckets, against how often such runs ended before (runs, not hours: the
  // run's own first hours must not make its later ones look ordinary).
  if (z_silence > 0) {
    nlp = std::max(nlp, tail_nlp(quiet->run_exceed, s.tail_norm + prior, z_silence));
  }
  // Calibration (metric family): the evidence as rare as this series makes it, on the scale
  // of white noise's evidence, so one threshold means one false-alarm rate on every series.
  const double evidence = nlp;
  const bool calibrate = config_.calibrate && !config_.count_series;
  if (calibrate) nlp = calibrated(s, evidence);
  // Context novelty: the value's symbol, the context of the last three, whether this series
  // showed that context in the current or the previous epoch, and the window test of the
  // recent share of unseen contexts against its long-run share; calibrated by its own onset
  // rates onto the same scale, and the larger of the two families counts.
  int symbol = 0, context_id = 0;
  bool novel = false;
  double novelty = 0;
  float context_recent = 0;
  if (context) {
    const double spread = std::max(context->dev, 1e-9 + 1e-6 * std::fabs(context->loc));
    const double u = (value - context->loc) / spread;
    while (symbol < AnomalyContextState::kSymbols - 1 && u >= kSymbolEdge[symbol]) ++symbol;
    context_id = (context->sym[0] * AnomalyContextState::kSymbols + context->sym[1]) *
                     AnomalyContextState::kSymbols +
                 symbol;
    novel = !((context->seen[0][context_id >> 3] | context->seen[1][context_id >> 3]) &
              (1 << (context_id & 7)));
    context_recent = static_cast<float>(context->recent + a_window_ * (novel - context->recent));
    const double prior = config_.tail_prior * a_tail_;
    const double q =
        std::clamp((context->long_run + 0.05 * prior) / (s.tail_norm + prior), 0.01, 1 - 1e-6);
    const double p = std::min(static_cast<double>(context_recent), 1 - 1e-9);
    if (p > q) {
      const double n_eff = (2.0 - a_window_) / a_window_;
      novelty =
          n_eff * (p * std::log(p / q) + (1 - p) * std::log((1 - p) / (1 - q))) / std::log(10.0);
    }
    out.novelty = novelty_calibrated(s, *context, novelty);
    nlp = std::max(nlp, out.novelty);
  }
  out.evidence = evidence;
  if (warm) {
    out.likelihood = 1.0 - std::pow(10.0, calibrate ? onset_log_rate(s, evidence) : -evidence);
  }
  double raw = warm ? score_of_nlp(nlp) : 0.0;
  out.raw = raw;
  out.scored = warm;

  // Refractory damping: a detection (score >= detect_score) damps the scores that follow,
  // recovering linearly over the refractory period, so one episode yields one early peak.
  // The refractory clock runs only while the undamped score is below detect_score: an
  // episode that goes on (a new regime the baseline is still adapting to) stays one episode
  // instead of firing again each time the damping wears off.
  double score = raw;
  if (config_.refractory > 0 && s.since_detect < config_.refractory) {
    double f = config_.refractory_factor +
               (1.0 - config_.refractory_factor) * (s.since_detect / config_.refractory);
    score = raw * f;
  }
  out.score = std::clamp(score, 0.0, 1.0);
  if (!in_order) return out;  // late observations are scored, never learned from

  if (out.score >= config_.detect_score) s.since_detect = 0;
  if (raw < config_.detect_score) s.since_detect = std::min(s.since_detect + w, 1e9);

  // Updates. During warm-up, plain (unclipped) running means with 1/n rates.
  const double nd = static_cast<double>(s.n);
  auto rate = [&](double a) {
    return warm ? weighted(a, w) : std::max(weighted(a, w), 1.0 / (nd + 1));
  };
  const double c = warm ? config_.clip_z * sd : 1e300;

  s.short_mean = short_mean;
  s.short_abs = short_abs;
  // The empty run that this observation ends, if it ends one, as a run size for the history.
  const double z_ended = quiet && silence <= 0 ? std::sqrt(2.0 * quiet->run) : 0.0;
  if (warm) {
    double at = weighted(a_tail_, w);
    s.tail_norm += at * (1.0 - s.tail_norm);
    for (int i = 0; i < AnomalySeriesState::kTailLevels; ++i) {
      s.exceed[i] = static_cast<float>(s.exceed[i] + at * ((z_max >= kTailLevel[i]) - s.exceed[i]));
      s.window_exceed[i] = static_cast<float>(s.window_exceed[i] +
                                              at * ((z_win >= kTailLevel[i]) - s.window_exceed[i]));
      s.recent_exceed[i] = recent[i];
      if (quiet) {
        const bool ended = z_ended >= kTailLevel[i];
        quiet->run_exceed[i] =
            static_cast<float>(quiet->run_exceed[i] + at * (ended - quiet->run_exceed[i]));
      }
      s.recent2_exceed[i] = recent2[i];
    }
    if (calibrate) count_onsets(s.onset, s.onset_armed, evidence, at);
    if (context) {
      count_onsets(context->onset, context->onset_armed, novelty, at);
      context->long_run = static_cast<float>(context->long_run + at * (novel - context->long_run));
    }
  }
  if (quiet) quiet->run = silence;
  if (context) {
    context->recent = context_recent;
    context->seen[0][context_id >> 3] |= static_cast<uint8_t>(1 << (context_id & 7));
    if (++context->epoch_n >= static_cast<uint32_t>(std::max(config_.tail_half_life, 1.0))) {
      std::memcpy(context->seen[1], context->seen[0], sizeof context->seen[0]);
      std::memset(context->seen[0], 0, sizeof context->seen[0]);
      context->epoch_n = 0;
    }
    context->sym[0] = context->sym[1];
    context->sym[1] = static_cast<uint8_t>(symbol);
    // Robust location and spread with the slow level's memory (updates clipped once warm).
    const double ar = rate(a_slow_);
    if (s.n < 2) context->loc = value;
    const double d0 = value - context->loc;
    context->loc += ar * (warm ? clip(d0, 3 * context->dev) : d0);
    const double ad = std::fabs(value - context->loc);
    context->dev += ar * ((warm ? std::min(ad, 4 * context->dev) : ad) - context->dev);
  }
  if (warm) {
    double an = weighted(a_norm_, w);
    s.norm_mean +=
        an * (std::min(short_mean * short_mean, 9.0 * s.norm_mean + iid_var) - s.norm_mean);
    double d = l_abs - s.mu_abs;
    s.mu_abs += an * clip(d, 3.0 * std::sqrt(s.norm_abs));
    s.norm_abs += an * (std::min(d * d, 9.0 * s.norm_abs + 0.01) - s.norm_abs);
  } else {
    s.norm_mean =
        std::max(iid_var, s.norm_mean + (short_mean * short_mean - s.norm_mean) / (nd + 1));
    double d = l_abs - s.mu_abs;
    s.mu_abs += d / (nd + 1);
    s.norm_abs += (d * d - s.norm_abs) / (nd + 1);
  }

  const double a_e = rate(a_err_);
  // Each error is clipped against its own running size, so a pattern the flat level cannot
  // follow still counts while a one-off outlier cannot dominate.
  if (week) {
    if (week->err <= 0) week->err = s.err_seasonal;
    const double e_week = e_season_base + week_full;
    week->err += a_e * (std::min(std::fabs(value - e_week), 4 * week->err + c) - week->err);
  }
  s.err_seasonal +=
      a_e * (std::min(std::fabs(value - e_season_base), 4 * s.err_seasonal + c) - s.err_seasonal);
  s.err_flat += a_e * (std::min(std::fabs(value - e_flat), 4 * s.err_flat + c) - s.err_flat);
  s.scale += rate(a_scale_) * (std::min(std::fabs(r), c) - s.scale);
  s.mean_abs_x += rate(a_scale_) * (std::fabs(value) - s.mean_abs_x);

  // The fast level is clipped a little tighter than the scale: a burst or a spike moves it
  // less, so the calm that follows is not read as a drop (bursty near-zero series).
  const double c_level = warm ? config_.level_clip_z * sd : 1e300;
  // An hour that carries little of the day (f near 0) says little about the level.
  s.local_level +=
      rate(a_local_) * clip(value - exp_v, c_level) * (f_hour >= 1 ? 1 / f_hour : f_hour);
  // The seasonal model learns against its own error scale: it must be able to learn a
  // pattern that the fast level currently hides from the combined residual.
  const double cs = warm ? config_.clip_z * kAbsDevToSd * s.err_seasonal + c : 1e300;
  s.slow_level += rate(a_slow_) * clip(value - e_season_full, cs);

  // Slot offsets: rates per recurrence of the slot.
  const double per_hour = obs_per(s, kMsPerHour);
  const double per_day = obs_per(s, 24 * kMsPerHour);
  // A young slot is a running mean over its recurrences (rate 1 / (recurrences + 1)), not an
  // EWMA started at 0: that start would bias every offset toward 0 for weeks.
  auto slot_rate = [&](double visits, double per) {
    return weighted(std::max(a_slot_, 1.0 / (visits / per + 1.0)), w / per);
  };
  double a_h = slot_rate(s.hour_visits[hour], per_hour);
  double a_d = slot_rate(s.weekday_visits[weekday], per_day);
  float& ho = s.hour_offset[hour];
  float& wo = s.weekday_offset[weekday];
  // Proportional series keep their offsets relative to the slow level (a promotion that
  // doubles a SKU's sales doubles its daily profile, it does not fill the shut hours): a
  // residual moves them by its share of the level, the larger of the slow one and the mean.
  const double u = offset_unit(s);
  const double per_unit = config_.weekday_scales_hours ? std::max(s.slow_level, s.mean_abs_x) : 1.0;
  if (per_unit > 0) {
    double hr = value - s.slow_level - wo * u * f_hour - ho * u;
    ho = static_cast<float>(ho + a_h * clip(hr, cs) / per_unit);
    double wr = value - s.slow_level - ho * u - wo * u * f_hour;
    // Each observation moves the offset by what it implies (wr / f), weighted by f up to 1:
    // an hour that carries little of the day (f near 0) says little about the weekday.
    wo = static_cast<float>(wo +
                            a_d * clip(wr, cs) * (f_hour >= 1 ? 1 / f_hour : f_hour) / per_unit);
  }
  if (week) {
    // What the hour and weekday offsets leave of this hour of the week (fitted after them, so
    // the common daily shape stays in the hour slots, which learn seven times as often).
    float& ko = week->offset[slot];
    const double kr = value - s.slow_level - ho * u - wo * u * f_hour - ko;
    const double a_k = slot_rate(week->visits[slot], per_hour);
    ko = static_cast<float>(ko + a_k * clip(kr, cs));
    if (quiet) {
      uint16_t& er = quiet->empty_rate[slot];
      const double rate = er / 65535.0 + a_k * ((value <= 0 ? 1.0 : 0.0) - er / 65535.0);
      er = static_cast<uint16_t>(std::lround(std::clamp(rate, 0.0, 1.0) * 65535.0));
    }
    if (week->visits[slot] < 65535) ++week->visits[slot];
  }
  float& hs = s.hour_scale[hour];
  if (s.hour_visits[hour] == 0) hs = static_cast<float>(s.scale);  // start from the series scale
  // The slot scale is clipped loosely: a surprise that recurs at this time every day becomes
  // that slot's normal spread.
  hs = static_cast<float>(hs + (warm ? a_h : std::max(a_h, 1.0 / (nd + 1))) *
                                   (std::min(std::fabs(r), warm ? 10 * sd : 1e300) - hs));
  if (s.hour_visits[hour] < 65535) ++s.hour_visits[hour];
  if (s.weekday_visits[weekday] < 65535) ++s.weekday_visits[weekday];

  // Level shift: a sustained one-sided run of large residuals re-bases both levels to the
  // current observation; slot offsets are kept.
  if (warm && std::fabs(z) >= config_.shift_z) {
    int sign = z > 0 ? 1 : -1;
    s.run = (s.run * sign > 0) ? s.run + sign : sign;
  } else {
    s.run = 0;
  }
  if (std::abs(s.run) >= config_.shift_run) {
    s.local_level = value - sw * season_full;
    if (config_.weekday_scales_hours) {
      s.local_level = s.slow_level + (s.local_level - s.slow_level) / std::max(f_hour, 0.5);
    }
    s.short_mean = 0;
    s.run = 0;
  }

  s.last_ts_ms = ts_ms;
  ++s.n;
  return out;
}

}  // namespace sw
