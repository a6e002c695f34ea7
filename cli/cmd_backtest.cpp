// `shelfwatch backtest`: replays a history through the real task loop and the forecast
// operator (the same code `run` uses), captures every forecast record the operator emits, and
// scores each one against the actuals that arrive later: per horizon step and overall sMAPE,
// WAPE, MASE, bias and interval coverage, for shelfwatch and for weekly seasonal naive
// (RETAIL.md definitions). Censored (out-of-stock) buckets are not scored.
//
// Origins: every bucket close at or after --from (rolling origin), or with --fixed only the
// first close at or after --from per key (fixed origin). MASE scales and the naive interval
// width come from each key's history before its first scored origin.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "cli/commands.h"
#include "cli/pipeline.h"
#include "connectors/file_source.h"
#include "operators/forecast/forecast.h"
#include "operators/forecast/model.h"
#include "stream/calendar.h"
#include "stream/config.h"
#include "stream/decoder.h"
#include "stream/json_writer.h"
#include "stream/sink.h"
#include "stream/task.h"

namespace sw::cli {
namespace {

constexpr const char* kUsage =
    "usage: shelfwatch backtest --config FILE --input FILE [--from DATE] [--horizon H]\n"
    "                           [--fixed] [--min-volume X] [--truth FILE] [--json]\n"
    "                           [--set key.path=value ...]\n\n"
    "Replays the input (JSON lines) through the forecast operator and scores its forecasts\n"
    "against the actuals, per horizon step and overall, next to weekly seasonal naive.\n"
    "  --from DATE   score forecasts made at bucket closes at or after DATE (RFC 3339 or\n"
    "                YYYY-MM-DD); default: every close after a key's first 28 buckets\n"
    "  --horizon H   steps ahead (overrides operators.forecast.horizon)\n"
    "  --fixed       score only the first close at or after --from per key (fixed origin)\n"
    "  --min-volume X  score only keys whose mean demand per bucket before their first\n"
    "                scored origin is at least X (sMAPE is dominated by zero actuals on\n"
    "                slow movers)\n"
    "  --truth FILE  ground truth of `shelfwatch gen --truth` (daily UTC buckets): also score,\n"
    "                on the points whose true mean is known, the true mean as a forecast\n"
    "                (the noise floor) and shelfwatch's forecast against the true mean\n"
    "  --json        print one JSON object instead of the table\n"
    "cover = share of actuals inside the interval, below = share under it, width =\n"
    "sum(hi - lo) / sum(forecast).\n\n"
    "examples:\n"
    "  shelfwatch gen --stores 5 --skus 40 --days 400 --seed 3 --out h.jsonl --truth t.jsonl\n"
    "  shelfwatch backtest --config examples/demo.yaml --input h.jsonl --horizon 7\n"
    "  shelfwatch backtest --config examples/demo.yaml --input h.jsonl --from 2027-10-01 \\\n"
    "      --fixed --horizon 90 --truth t.jsonl --json\n";

struct Score {
  double smape = 0, abs_err = 0, err = 0, actual = 0, scaled = 0, covered = 0, n = 0;
  double below = 0, width = 0, fsum = 0;
  void add(double f, double a, double scale, double lo, double hi) {
    smape += forecast::smape_term(f, a);
    abs_err += std::fabs(f - a);
    err += f - a;
    actual += a;
    if (scale > 0) scaled += std::fabs(f - a) / scale;
    covered += (a >= lo && a <= hi) ? 1 : 0;
    below += a < lo ? 1 : 0;
    width += hi - lo;
    fsum += f;
    n += 1;
  }
  void merge(const Score& o) {
    smape += o.smape;
    abs_err += o.abs_err;
    err += o.err;
    actual += o.actual;
    scaled += o.scaled;
    covered += o.covered;
    below += o.below;
    width += o.width;
    fsum += o.fsum;
    n += o.n;
  }
  double v_smape() const { return n > 0 ? smape / n : NAN; }
  double v_wape() const { return actual > 0 ? abs_err / actual : NAN; }
  double v_bias() const { return actual > 0 ? err / actual : NAN; }
  double v_mase() const { return n > 0 ? scaled / n : NAN; }
  double v_cover() const { return n > 0 ? covered / n : NAN; }
  //! Share of actuals below the interval (the rest of the misses are above it).
  double v_below() const { return n > 0 ? below / n : NAN; }
  //! Mean interval width relative to the mean forecast: sum(hi - lo) / sum(forecast).
  double v_width() const { return fsum > 0 ? width / fsum : NAN; }
};

// Known true demand from `shelfwatch gen --truth`: the expected units (`mean`) per
// (store|sku, UTC day). The generator writes a demand line only for days with demand > 0 (or
// inside an injected anomaly), so a scored bucket without a line has no known mean and is left
// out of the truth comparison.
class Truth {
 public:
  Status load(const std::string& path) {
    simdjson::padded_string text;
    if (simdjson::padded_string::load(path).get(text)) {
      return Status::io("cannot read truth file " + path);
    }
    simdjson::ondemand::parser parser;
    std::string_view all(text.data(), text.size());
    size_t pos = 0;
    while (pos < all.size()) {
      size_t eol = all.find('\n', pos);
      if (eol == std::string_view::npos) eol = all.size();
      const std::string_view line = all.substr(pos, eol - pos);
      pos = eol + 1;
      if (line.find("\"record\":\"demand\"") == std::string_view::npos) continue;
      simdjson::padded_string pl(line);
      simdjson::ondemand::document doc;
      std::string_view store, sku, day;
      double mean = 0;
      if (parser.iterate(pl).get(doc) || doc["store"].get_string().get(store) ||
          doc["sku"].get_string().get(sku) || doc["day"].get_string().get(day) ||
          doc["mean"].get_double().get(mean)) {
        return Status::corruption("malformed truth demand line");
      }
      int64_t ms = 0;
      if (!parse_rfc3339(day, ms)) return Status::corruption("bad truth day");
      means_[key(std::string(store) + "|" + std::string(sku), ms / 86'400'000)] =
          static_cast<float>(mean);
    }
    return Status::ok();
  }
  //! Expected demand of `key` on UTC day `day`; false if unknown.
  bool mean(const std::string& k, int64_t day, double& out) const {
    auto it = means_.find(key(k, day));
    if (it == means_.end()) return false;
    out = it->second;
    return true;
  }
  size_t size() const { return means_.size(); }

 private:
  static std::string key(const std::string& k, int64_t day) {
    return k + "|" + std::to_string(day);
  }
  std::unordered_map<std::string, float> means_;
};

// Scores forecast records as they stream in (one record per key per closed bucket).
class Scorer {
 public:
  Scorer(int horizon, int season, double interval, int64_t from_ms, bool fixed, double min_volume,
         const Truth* truth)
      : horizon_(horizon),
        season_(season),
        interval_(interval),
        from_ms_(from_ms),
        fixed_(fixed),
        min_volume_(min_volume),
        truth_(truth),
        ours_(horizon),
        naive_(horizon),
        t_ours_(horizon),
        t_naive_(horizon),
        t_oracle_(horizon),
        t_error_(horizon) {}

  Status add(std::string_view json) {
    padded_ = simdjson::padded_string(json);
    simdjson::ondemand::document doc;
    if (parser_.iterate(padded_).get(doc)) return Status::corruption("unparseable forecast");
    std::string_view store, sku, time;
    double actual = 0;
    bool censored = false;
    if (doc["store"].get_string().get(store) || doc["sku"].get_string().get(sku) ||
        doc["time"].get_string().get(time)) {
      return Status::corruption("forecast record without store/sku/time");
    }
    std::string key = std::string(store) + "|" + std::string(sku);
    int64_t time_ms = 0;
    if (!parse_rfc3339(time, time_ms)) return Status::corruption("bad forecast time");
    Origin o;
    o.time_ms = time_ms;
    simdjson::ondemand::array steps;
    if (doc["horizon"].get_array().get(steps)) return Status::corruption("no horizon");
    for (auto step : steps) {
      double mean = 0, lo = 0, hi = 0;
      if (step["mean"].get_double().get(mean) || step["lo"].get_double().get(lo) ||
          step["hi"].get_double().get(hi)) {
        return Status::corruption("bad horizon step");
      }
      o.mean.push_back(static_cast<float>(mean));
      o.lo.push_back(static_cast<float>(lo));
      o.hi.push_back(static_cast<float>(hi));
    }
    if (doc["actual"].get_double().get(actual) || doc["censored"].get_bool().get(censored)) {
      return Status::corruption("forecast record without actual/censored");
    }
    KeyHistory& k = keys_[key];
    const size_t idx = k.actual.size();  // index of the bucket this record closed
    k.actual.push_back(static_cast<float>(actual));
    k.censored.push_back(censored ? 1 : 0);
    // Score the earlier origins' forecasts for this bucket.
    if (!censored && (!k.origin_taken || k.volume >= min_volume_)) {
      double mu = 0;
      const bool known = truth_ != nullptr && !k.origins.empty() &&
                         truth_->mean(key, (time_ms - 1) / 86'400'000, mu);
      for (const Origin& prev : k.origins) {
        const int h = static_cast<int>(idx - prev.index);
        if (h < 1 || h > static_cast<int>(prev.mean.size()) || h > horizon_) continue;
        ours_[h - 1].add(prev.mean[h - 1], actual, k.scale, prev.lo[h - 1], prev.hi[h - 1]);
        if (known) {
          t_ours_[h - 1].add(prev.mean[h - 1], actual, k.scale, prev.lo[h - 1], prev.hi[h - 1]);
          t_oracle_[h - 1].add(mu, actual, k.scale, mu, mu);
          t_error_[h - 1].add(prev.mean[h - 1], mu, k.scale, prev.lo[h - 1], prev.hi[h - 1]);
        }
        // Seasonal naive from the origin: the last observed value of the same season slot.
        const int back = season_ * ((h + season_ - 1) / season_);
        if (static_cast<int64_t>(idx) - back >= 0) {
          const size_t j = idx - static_cast<size_t>(back);
          if (!k.censored[j]) {
            const double f = k.actual[j];
            naive_[h - 1].add(f, actual, k.scale, std::max(0.0, f - k.naive_q), f + k.naive_q);
            if (known) t_naive_[h - 1].add(f, actual, k.scale, f, f);
          }
        }
      }
    }
    while (!k.origins.empty() && idx - k.origins.front().index >= static_cast<size_t>(horizon_)) {
      k.origins.pop_front();
    }
    // Is this close an origin to score?
    const bool eligible = from_ms_ == INT64_MIN ? idx + 1 >= 28 : time_ms >= from_ms_;
    if (eligible && !(fixed_ && k.origin_taken)) {
      if (!k.origin_taken) freeze_scale(k, idx);
      k.origin_taken = true;
      o.index = idx;
      k.origins.push_back(std::move(o));
    }
    ++records_;
    return Status::ok();
  }

  uint64_t records() const { return records_; }
  size_t keys() const { return keys_.size(); }
  const std::vector<Score>& ours() const { return ours_; }
  const std::vector<Score>& naive() const { return naive_; }
  // On the scored points whose true mean is known (--truth): shelfwatch, seasonal naive and
  // the true mean (the noise floor) against the actuals, and shelfwatch against the true mean.
  const std::vector<Score>& truth_ours() const { return t_ours_; }
  const std::vector<Score>& truth_naive() const { return t_naive_; }
  const std::vector<Score>& truth_oracle() const { return t_oracle_; }
  const std::vector<Score>& truth_error() const { return t_error_; }

 private:
  struct Origin {
    size_t index = 0;
    int64_t time_ms = 0;
    std::vector<float> mean, lo, hi;
  };
  struct KeyHistory {
    std::vector<float> actual;
    std::vector<uint8_t> censored;
    std::deque<Origin> origins;
    bool origin_taken = false;
    double scale = 0;    // in-sample mean |A_t - A_{t-m}| before the first origin
    double naive_q = 0;  // interval quantile of |A_t - A_{t-m}| (naive interval half-width)
    double volume = 0;   // mean uncensored demand per bucket before the first origin
  };

  void freeze_scale(KeyHistory& k, size_t upto) const {
    double sum_y = 0, n_y = 0;
    for (size_t t = 0; t <= upto; ++t) {
      if (k.censored[t]) continue;
      sum_y += k.actual[t];
      n_y += 1;
    }
    k.volume = n_y > 0 ? sum_y / n_y : 0;
    std::vector<double> diffs;
    const size_t m = static_cast<size_t>(season_);
    for (size_t t = m; t <= upto; ++t) {
      if (k.censored[t] || k.censored[t - m]) continue;
      diffs.push_back(std::fabs(double(k.actual[t]) - k.actual[t - m]));
    }
    if (diffs.empty()) return;
    double sum = 0;
    for (double d : diffs) sum += d;
    k.scale = sum / static_cast<double>(diffs.size());
    k.naive_q = forecast::empirical_quantile(diffs, interval_);
  }

  int horizon_, season_;
  double interval_;
  int64_t from_ms_;
  bool fixed_;
  double min_volume_;
  const Truth* truth_;
  std::map<std::string, KeyHistory> keys_;
  std::vector<Score> ours_, naive_, t_ours_, t_naive_, t_oracle_, t_error_;
  simdjson::ondemand::parser parser_;
  simdjson::padded_string padded_;
  uint64_t records_ = 0;
};

// Captures forecast records at each checkpoint and feeds them to the scorer.
class ScoringSink final : public Sink {
 public:
  explicit ScoringSink(Scorer& scorer) : scorer_(scorer) {}
  std::string name() const override { return "backtest"; }
  Status prepare(std::span<const OutputRecord> records, StateBatch& /*batch*/) override {
    for (const OutputRecord& r : records) {
      if (r.stream != OutputStream::kForecasts) continue;
      SW_RETURN_IF_ERROR(scorer_.add(r.json));
    }
    return Status::ok();
  }
  Status committed() override { return Status::ok(); }
  Status recover(const StateStore& /*store*/) override { return Status::ok(); }
  Status close() override { return Status::ok(); }

 private:
  Scorer& scorer_;
};

void print_score_json(JsonWriter& j, const Score& s, bool with_cover) {
  j.begin_object()
      .field("smape", round_to(s.v_smape(), 4))
      .field("wape", round_to(s.v_wape(), 4))
      .field("mase", round_to(s.v_mase(), 4))
      .field("bias", round_to(s.v_bias(), 4));
  if (with_cover) {
    j.field("coverage", round_to(s.v_cover(), 4))
        .field("below", round_to(s.v_below(), 4))
        .field("width", round_to(s.v_width(), 4));
  }
  j.field("n", static_cast<int64_t>(s.n)).end_object();
}

}  // namespace

int backtest_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::string config_path, input, from, horizon_arg, min_volume_arg, truth_path;
  if (!value_of(args, "--config", config_path) || !value_of(args, "--input", input)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const bool as_json = std::find(args.begin(), args.end(), "--json") != args.end();
  const bool fixed = std::find(args.begin(), args.end(), "--fixed") != args.end();
  std::vector<std::string> overrides = values_of(args, "--set");
  if (value_of(args, "--horizon", horizon_arg)) {
    overrides.push_back("operators.forecast.horizon=" + horizon_arg);
  }
  overrides.push_back("operators.forecast.emit=every_close");
  Config config = Config::from_file(config_path, overrides);
  int64_t from_ms = INT64_MIN;
  if (value_of(args, "--from", from) && !parse_rfc3339(from, from_ms)) {
    std::fprintf(stderr,
                 "shelfwatch backtest: --from '%s' is not a date (YYYY-MM-DD or RFC 3339)\n",
                 from.c_str());
    return 2;
  }
  double min_volume = 0;
  if (value_of(args, "--min-volume", min_volume_arg)) min_volume = std::stod(min_volume_arg);
  ForecastOptions fo = ForecastOptions::from_config(config);
  // Phase 1: the task settings, calendar and the forecast operator (whatever `enabled` says);
  // source, state and sinks are the backtest's own.
  PipelineParts parts;
  parts.source = parts.state = parts.sinks = parts.delivery = parts.live = false;
  parts.operators = {"forecast"};
  parts.reject_unknown_keys = false;
  PipelineOptions options = parse_pipeline(config, parts);
  config.mark_read("");  // the rest of the file configures `run`, not the backtest

  Truth truth;
  const bool with_truth = value_of(args, "--truth", truth_path);
  if (with_truth) {
    if (fo.hourly) {
      std::fputs("shelfwatch backtest: --truth needs daily buckets\n", stderr);
      return 2;
    }
    Status ts = truth.load(truth_path);
    if (!ts.is_ok()) {
      std::fprintf(stderr, "shelfwatch backtest: %s\n", ts.to_string().c_str());
      return 1;
    }
  }

  Scorer scorer(fo.horizon, fo.hourly ? 24 * 7 : 7, fo.interval, from_ms, fixed, min_volume,
                with_truth ? &truth : nullptr);
  ScoringSink sink(scorer);
  FileSourceOptions so;
  so.path = input;
  FileSource source(so);
  Status s = source.open();
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch backtest: %s\n", s.to_string().c_str());
    return 1;
  }
  PipelineInputs inputs;
  inputs.source = &source;
  inputs.sinks = {&sink};
  Pipeline p = open_pipeline(std::move(options), std::move(inputs));  // state in memory
  Task& task = *p.task;
  s = task.restore();
  std::atomic<bool> stop{false};
  if (s.is_ok()) s = task.run(stop);
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch backtest: %s\n", s.to_string().c_str());
    return 1;
  }

  Score ours_all, naive_all, t_ours, t_naive, t_oracle, t_error;
  for (int h = 0; h < fo.horizon; ++h) {
    ours_all.merge(scorer.ours()[h]);
    naive_all.merge(scorer.naive()[h]);
    t_ours.merge(scorer.truth_ours()[h]);
    t_naive.merge(scorer.truth_naive()[h]);
    t_oracle.merge(scorer.truth_oracle()[h]);
    t_error.merge(scorer.truth_error()[h]);
  }
  if (as_json) {
    std::string out;
    JsonWriter j(out);
    j.begin_object()
        .field("horizon", fo.horizon)
        .field("bucket", fo.hourly ? "1h" : "1d")
        .field("interval", fo.interval)
        .field("origins", fixed ? "fixed" : "rolling")
        .field("min_volume", min_volume);
    if (from_ms != INT64_MIN) j.key("from").time_value(from_ms);
    j.field("keys", static_cast<int64_t>(scorer.keys()))
        .field("records", static_cast<int64_t>(scorer.records()))
        .key("overall")
        .begin_object()
        .key("shelfwatch");
    print_score_json(j, ours_all, true);
    j.key("seasonal_naive");
    print_score_json(j, naive_all, true);
    j.end_object();
    if (with_truth) {
      j.key("truth").begin_object().key("shelfwatch");
      print_score_json(j, t_ours, true);
      j.key("seasonal_naive");
      print_score_json(j, t_naive, false);
      j.key("true_mean");
      print_score_json(j, t_oracle, false);
      j.key("shelfwatch_vs_true_mean");
      print_score_json(j, t_error, false);
      j.end_object();
    }
    j.key("steps").begin_array();
    for (int h = 0; h < fo.horizon; ++h) {
      j.begin_object().field("h", h + 1).key("shelfwatch");
      print_score_json(j, scorer.ours()[h], true);
      j.key("seasonal_naive");
      print_score_json(j, scorer.naive()[h], true);
      j.end_object();
    }
    j.end_array().end_object();
    std::printf("%s\n", out.c_str());
    return 0;
  }
  std::printf("backtest: %zu keys, %llu forecast records, horizon %d (%s), %s origins\n",
              scorer.keys(), static_cast<unsigned long long>(scorer.records()), fo.horizon,
              fo.hourly ? "1h" : "1d", fixed ? "fixed" : "rolling");
  std::printf("%5s %8s | %8s %8s %8s %8s %7s %7s | %8s %8s %8s %8s %7s\n", "h", "n", "sMAPE",
              "WAPE", "MASE", "bias", "cover", "width", "naive", "WAPE", "MASE", "bias", "cover");
  auto row = [](const char* label, const Score& a, const Score& b) {
    std::printf("%5s %8.0f | %8.3f %8.4f %8.4f %8.4f %7.3f %7.3f | %8.3f %8.4f %8.4f %8.4f %7.3f\n",
                label, a.n, a.v_smape(), a.v_wape(), a.v_mase(), a.v_bias(), a.v_cover(),
                a.v_width(), b.v_smape(), b.v_wape(), b.v_mase(), b.v_bias(), b.v_cover());
  };
  for (int h = 0; h < fo.horizon; ++h) {
    row(std::to_string(h + 1).c_str(), scorer.ours()[h], scorer.naive()[h]);
  }
  row("all", ours_all, naive_all);
  std::printf(
      "(left: shelfwatch; right: weekly seasonal naive; cover = share of actuals inside "
      "the %.0f%% interval, width = sum(hi - lo) / sum(forecast))\n",
      fo.interval * 100);
  if (with_truth) {
    std::printf("points with a known true mean: %.0f of %.0f\n", t_ours.n, ours_all.n);
    auto trow = [](const char* label, const Score& a) {
      std::printf("  %-26s sMAPE %8.3f  WAPE %7.4f  MASE %7.4f  bias %8.4f\n", label, a.v_smape(),
                  a.v_wape(), a.v_mase(), a.v_bias());
    };
    trow("shelfwatch vs actual", t_ours);
    trow("seasonal naive vs actual", t_naive);
    trow("true mean vs actual", t_oracle);
    trow("shelfwatch vs true mean", t_error);
  }
  return 0;
}

}  // namespace sw::cli
