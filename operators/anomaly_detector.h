#pragma once
// Per-series streaming anomaly detector (DESIGN.md §6, RETAIL.md "Anomalies"). Pure math over
// a small trivially-copyable state: no allocation, no I/O, no clock. The anomaly operator
// keeps one AnomalySeriesState per watched series and calls AnomalyDetector::update() once
// per observation, in event-time order.
//
// Model, per observation x at time t (all updates are one pass, no look-ahead):
//  - two baselines, combined by their running absolute errors (forecast combination):
//    a local robust level (Huber-clipped EWMA, fast) and a seasonal model: a slow robust
//    level plus additive hour-of-day and day-of-week slot offsets (in the caller's calendar),
//    each slot a running mean over its first recurrences, then an EWMA; an hour offset is
//    used as far as it stands out of its estimation noise (empirical Bayes), a weekday
//    offset as far as it has recurrences, and the slots only as far as they beat the
//    non-seasonal fit. A sustained one-sided run of large residuals re-bases the fast level
//    (level shift) without touching the slot offsets, so seasonality is not forgotten.
//    Optionally (AnomalyWeekState) 168 hour-of-week offsets on top, for a weekday whose
//    daily shape differs, used as far as they beat the factorized model;
//  - a robust scale: clipped EWMA of absolute residuals (Huber/MAD-like; outliers cannot
//    inflate it by more than the clip per step), floored for flat and count series;
//  - three standardized signals: the point residual z, a short-window residual mean
//    (change in level) and a short-window residual magnitude (change in variance), each of
//    the latter two normalized by its own long-run spread;
//  - the strongest signal becomes a tail probability: the larger of its Gaussian tail and the
//    series' own long-run rate of surprises at least that large (so a spike that recurs every
//    few hours, or a daily step the slots cannot resolve, stops being news while a surprise
//    never seen before keeps its full weight), or the chance of surprises as frequent as
//    over a recent window at that long-run rate (two windows: a burst, a sustained change),
//    whichever is smaller: the evidence, -log10 of that probability;
//  - calibration (metric family): the evidence is read as the level white noise reaches as
//    often as this series' own evidence starts an episode that strong (onset rates per level,
//    long memory, the first two onsets in memory free), so a score means the same rarity on a
//    calm series and on a bursty one; it maps to a score in [0, 1], damped for a refractory
//    period after a detection so one episode yields one early peak.
// Irregular sampling: each observation's weight is its gap over the series' typical gap
// (clamped), so a series sampled twice as often does not adapt twice as fast in time.

#include <cstddef>
#include <cstdint>

namespace sw {

//! The two families' constants (metric: these defaults; sales: AnomalyOperator::sales_defaults).
//! Configuration surface (issue #19): of these, only `week_slots` (a memory decision: 1 KB per
//! series) and `refractory` (how many rows of the scores output one episode may occupy; alerts
//! read the undamped score) are meant as `operators.anomaly.detector.*` keys. Every other field
//! is a property of the family (count or metric series) or was fitted on the development subset;
//! no user has grounds to set one for a series nobody has seen, and a change must pass
//! scripts/anomaly_eval.py (docs/anomaly.md) as a code change, not as a deployment setting.
struct AnomalyDetectorConfig {
  // Half-lives in (typical-gap) observations.
  double local_half_life = 6;      // local robust level
  double slow_half_life = 288;     // level of the seasonal model
  double slot_half_life = 6;       // per-slot offsets, in visits of that slot
  double scale_half_life = 288;    // robust residual scale
  double error_half_life = 48;     // running errors that weigh the two baselines
  double short_half_life = 4;      // short window of residual mean / magnitude
  double norm_half_life = 1000;    // long-run spread of the short-window signals
  double tail_half_life = 2000;    // memory of how often large surprises occur
  double window_half_life = 5.5;   // recent window compared with the long run (a burst)
  double window2_half_life = 32;   // longer recent window (a sustained change); 0 = off
  double window_min_rate = 0.01;   // floor of the long-run rate in the window test
  bool window_all_signals = true;  // window test counts all signals, not only the point z
  double tail_prior = 50;          // pseudo-observations without exceedances
  double tail_exponent = 2;        // power-law decay of the tail beyond the levels seen
  double min_var_spread = 0.07;    // floor of the variance signal's spread (log units, squared)
  double tail_reach = 1e9;         // levels within this factor below |z| bound its tail
  double slot_prior = 4;           // weekday: weeks to half weight; hour: EB noise factor
  double clip_z = 3;               // Huber clip of updates, in scale units
  double level_clip_z = 2.6;       // Huber clip of the fast level's updates, in scale units
  double shift_z = 3;              // |z| that counts toward a level-shift run
  int shift_run = 8;               // consecutive same-sign large residuals that re-base
  int warmup = 24;                 // observations before scores leave 0
  double rel_scale_floor = 1e-3;   // scale >= this * (|level| + mean |x|)
  double abs_scale_floor = 1e-9;
  bool count_series = false;        // counts: quasi-Poisson floor sqrt(dispersion * expected)
  double refractory = 40;           // calm observations (raw < detect_score) a detection damps
  double detect_score = 0.6;        // score that starts a refractory period
  double refractory_factor = 0.35;  // damping applied inside the refractory period
  // Hour-of-week slots (AnomalyWeekState, for series that carry one).
  double week_prior = 8;    // EB noise factor of an hour-of-week offset
  double week_gain = 0.25;  // relative error gain over the hour + weekday model for full use
  bool week_slots = true;   // the operator gives sub-daily series an AnomalyWeekState
  // Proportional seasonality: hour and weekday offsets are fractions of the slow level, the
  // weekday offset and the fast level's excess scale with the hour's share of the day (a
  // busier Saturday is busier at noon, not at 3 am when the store is shut).
  bool weekday_scales_hours = false;
  // Per-series calibration of the evidence by its own onset rates (AnomalySeriesState::onset).
  // The metric family's; count series ignore it (their scores are as before).
  bool calibrate = true;
};

//! Result of one observation.
struct AnomalyObservation {
  double value = 0;       // the observed value
  double expected = 0;    // combined baseline
  double z = 0;           // standardized residual (signed)
  double raw = 0;         // score before the refractory damping
  double score = 0;       // in [0, 1]
  double evidence = 0;    // -log10 p of the strongest signal (point tail, window tests)
  double likelihood = 0;  // 1 - this series' rate of episodes starting with such evidence
  double novelty = 0;     // context-novelty evidence, calibrated (series with a context state)
  bool scored = false;    // false during warm-up
};

//! Per-series state; trivially copyable, persisted as bytes (AnomalySeriesState::kVersion).
struct AnomalySeriesState {
  // 2: - point_exceed (unused), + recent2_exceed. 3: + onset, onset_armed (calibration); the
  // first fields are version 2's, AnomalyDetector::decode_state reads both.
  static constexpr uint32_t kVersion = 3;
  static constexpr size_t kV2Bytes = 624;
  static constexpr int kHours = 24;
  static constexpr int kWeekdays = 7;
  static constexpr int kTailLevels = 13;
  int64_t last_ts_ms = INT64_MIN;
  uint32_t n = 0;
  int32_t run = 0;  // signed length of the current run of large residuals
  double typical_gap_ms = 0;
  double local_level = 0;  // fast robust level of the deseasonalized series
  double slow_level = 0;
  double mean_abs_x = 0;
  double scale = 0;         // mean absolute residual
  double err_seasonal = 0;  // running abs error of slow level + slot offsets
  double err_flat = 0;      // of the slow level alone (is there seasonality?)
  double short_mean = 0;    // short EWMA of residual / scale
  double short_abs = 0;     // short EWMA of |residual| / scale
  double norm_mean = 1;     // long EWMA of short_mean^2
  double norm_abs = 1;      // long EWMA of (log short_abs - mu)^2
  double mu_abs = 0;        // long EWMA of log short_abs
  double tail_norm = 0;     // EWMA of 1 (normalizes the exceedance rates while young)
  float exceed[kTailLevels] = {};
  float window_exceed[kTailLevels] = {};   // long-run rates of the window test's signal
  float recent_exceed[kTailLevels] = {};   // the same rates over the recent window
  float recent2_exceed[kTailLevels] = {};  // and over the longer recent window
  double since_detect = 1e9;               // observations since the last detection
  float hour_offset[kHours] = {};
  float hour_scale[kHours] = {};  // mean absolute residual per hour slot
  float weekday_offset[kWeekdays] = {};
  uint16_t hour_visits[kHours] = {};
  uint16_t weekday_visits[kWeekdays] = {};
  // Version 3. Calibration: long-run rate (tail memory) at which the evidence crossed each tail
  // level upward, counted once until it fell below half the level again (an episode onset).
  float onset[kTailLevels] = {};
  uint16_t onset_armed = 0xffff;  // levels whose next crossing counts
};

//! Hour-of-week slots: the interaction the factorized hour + weekday offsets cannot express,
//! a weekday whose daily shape differs (a Sunday that opens late, a Friday evening peak, a
//! weekend without the commuter peaks). Each slot learns what is left of the residual after
//! the slow level and the hour and weekday offsets, is used as far as it stands out of its
//! estimation noise (empirical Bayes, like the hour slots), and the whole table only as far
//! as it beats the factorized model (its own running error against the model's), so a series
//! without such a pattern is not given one. Optional, apart from AnomalySeriesState: 1 KB
//! that a daily-bucketed series would carry for nothing. Trivially copyable.
struct AnomalyWeekState {
  static constexpr uint32_t kVersion = 1;
  static constexpr int kSlots = AnomalySeriesState::kHours * AnomalySeriesState::kWeekdays;
  double err = 0;  // running absolute error of the seasonal model with these slots
  float offset[kSlots] = {};
  uint16_t visits[kSlots] = {};
};

//! Silence of a count series with hour-of-week slots (a store or feed that stops sending):
//! a run of empty buckets is judged as one observation, its deviance 2 x the events expected
//! over the run, each bucket counting at most -ln of how often its hour of the week was
//! empty before (a store shut on Sunday mornings is not silent then), against how often such
//! runs ended before. Optional, apart from the week table: metric series carry none.
//! Trivially copyable.
struct AnomalySilenceState {
  static constexpr uint32_t kVersion = 1;
  double run = 0;  // events expected (in units of one event) over the current empty run
  float run_exceed[AnomalySeriesState::kTailLevels] = {};  // long-run rates of ended runs
  // How often each hour of the week was empty (x 65535): a running mean over its first
  // recurrences, then with the slot half-life.
  uint16_t empty_rate[AnomalyWeekState::kSlots] = {};
};

//! Context novelty, a second detector family whose errors differ from the residual model's
//! (in the spirit of CAD OSE and ARTime, own code): each value becomes one of 8 symbols by its
//! distance from the series' robust running location (in mean absolute deviations: -2.5,
//! -1.25, -0.5, 0, 0.5, 1.25, 2.5), the last three symbols a context (512 possible); a bitmap
//! remembers the contexts seen in the current and the previous epoch (`tail_half_life`
//! observations each). The evidence is the window test of the share of unseen contexts over
//! the recent window against its long-run share, calibrated by its own onset rates like the
//! residual model's and combined with it by the larger calibrated evidence. Optional (the
//! caller gives a series one or not): 216 bytes. Trivially copyable.
struct AnomalyContextState {
  static constexpr uint32_t kVersion = 1;
  static constexpr int kSymbols = 8;
  static constexpr int kContexts = kSymbols * kSymbols * kSymbols;
  double loc = 0;      // robust running location of the values
  double dev = 0;      // their mean absolute deviation from it
  float recent = 0;    // share of unseen contexts over the recent window
  float long_run = 0;  // and over the tail memory
  float onset[AnomalySeriesState::kTailLevels] = {};  // onset rates of the novelty evidence
  uint32_t epoch_n = 0;                               // observations in the current epoch
  uint16_t onset_armed = 0xffff;
  uint8_t sym[2] = {};                  // the two previous symbols
  uint8_t seen[2][kContexts / 8] = {};  // contexts seen this epoch and the previous one
};

class AnomalyDetector {
 public:
  AnomalyDetector() : AnomalyDetector(AnomalyDetectorConfig{}) {}
  explicit AnomalyDetector(const AnomalyDetectorConfig& config);

  //! Scores `value` observed at `ts_ms` and updates the state. `hour` 0..23 and `weekday`
  //! 0..6 (Monday = 0) are the observation's seasonal slot in the series' calendar.
  //! Observations older than the last one are scored against the state but do not update it.
  //! `dispersion` (count series only): the mean size of one counted event (units per sale,
  //! revenue per sale), so noise is quasi-Poisson: variance = dispersion x expected.
  //! `week`: the series' hour-of-week slots, or null for none.
  //! `quiet`: the silence state of a count series that has `week`, or null for none.
  //! `context`: the context-novelty state of a metric series, or null for none.
  AnomalyObservation update(AnomalySeriesState& s, AnomalyWeekState* week, int64_t ts_ms,
                            double value, int hour, int weekday, double dispersion = 1.0,
                            AnomalySilenceState* quiet = nullptr,
                            AnomalyContextState* context = nullptr) const;
  AnomalyObservation update(AnomalySeriesState& s, int64_t ts_ms, double value, int hour,
                            int weekday, double dispersion = 1.0) const {
    return update(s, nullptr, ts_ms, value, hour, weekday, dispersion);
  }

  //! Expected value for a slot without updating (silence checks, describe()).
  double expected(const AnomalySeriesState& s, const AnomalyWeekState* week, int hour,
                  int weekday) const;
  double expected(const AnomalySeriesState& s, int hour, int weekday) const {
    return expected(s, nullptr, hour, weekday);
  }
  //! Robust standard deviation of residuals in the hour slot (1.2533 * mean absolute
  //! residual, the slot's own blended with the series' while the slot is young, floored).
  double sigma(const AnomalySeriesState& s, double expected, int hour,
               double dispersion = 1.0) const;
  //! Restores a state persisted as `size` bytes of detector-state `version`: the current one,
  //! or 2 (its series starts the calibration as a new series does). false if unreadable.
  static bool decode_state(uint32_t version, const void* bytes, size_t size,
                           AnomalySeriesState& out);
  //! Calibrated evidence: the evidence white noise shows at the rate at which this series'
  //! evidence starts episodes of `evidence` (never more than `evidence`).
  double calibrated(const AnomalySeriesState& s, double evidence) const;
  //! log10 of the rate (per observation) at which this series' evidence starts episodes at
  //! least `evidence` strong (white noise's rates as prior, the first onsets free).
  double onset_log_rate(const AnomalySeriesState& s, double evidence) const;
  //! The same for the context-novelty evidence, mapped to the residual model's noise scale.
  double novelty_calibrated(const AnomalySeriesState& s, const AnomalyContextState& c,
                            double evidence) const;
  //! Maps a |z| to a score in [0, 1] (monotone; z = 3 -> 0.29, 5 -> 0.50, 8 -> 0.70).
  static double score_of_z(double z);
  //! Maps -log10(p) to a score: nlp / (nlp + 6.24), 6.24 being a 5-sigma tail.
  static double score_of_nlp(double nlp);

  const AnomalyDetectorConfig& config() const { return config_; }

 private:
  double seasonal_part(const AnomalySeriesState& s, int hour, int weekday) const;
  //! The hour-of-week offset as used (shrunk by its estimation noise), and the weight of the
  //! whole table (0 until it beats the factorized model).
  double week_part(const AnomalySeriesState& s, const AnomalyWeekState& week, int hour,
                   int weekday) const;
  double week_weight(const AnomalySeriesState& s, const AnomalyWeekState& week) const;
  double season_weight(const AnomalySeriesState& s) const;
  //! -log10 p of a surprise of size z: Gaussian, capped by the long-run exceedance rates
  //! `exceed` (normalized by `norm`) of the levels within tail_reach below z.
  double tail_nlp(const float* exceed, double norm, double z) const;
  //! What the hour and weekday offsets are in units of: 1, or the slow level (proportional).
  double offset_unit(const AnomalySeriesState& s) const;
  //! Factor on the weekday offset in `hour`: 1, or the hour's level over the day's mean.
  double weekday_share(const AnomalySeriesState& s, int hour) const;
  //! The fast level in `hour`: its excess over the slow level scaled by weekday_share.
  double level_part(const AnomalySeriesState& s, int hour) const;
  AnomalyDetectorConfig config_;
  double a_local_, a_slow_, a_slot_, a_scale_, a_err_, a_short_, a_norm_, a_tail_, a_window_,
      a_window2_;
  double gauss_rate_[AnomalySeriesState::kTailLevels];  // two-sided normal tail at each level
};

}  // namespace sw
