// anomaly_bench: observations scored per second on one core by the anomaly operator for
// 100 k raw `metric` series (irregular cadence, a few spikes), through AnomalyOperator::
// on_event as the task calls it, plus the bare detector rate and the hot state bytes per
// series. Prints one JSON line; never asserts time.
//
// usage: anomaly_bench [--series N] [--observations-per-series K]
//        anomaly_bench --replay EVENTS.jsonl --truth TRUTH.jsonl [--set key=value]...
//                      [--episodes OUT.jsonl] [--scores OUT.jsonl --scores-key STORE|SKU]
//        anomaly_bench --nab IN OUT [--context]
//
// The nab mode scores NAB-layout CSVs (IN/<category>/<file>.csv) with the bare metric-family
// detector as `shelfwatch score-csv` does through the operator (same week table, UTC slots,
// same scores: byte-identical outputs, OUT/<category>/shelfwatch_<file>.csv); `--context`
// gives every series an AnomalyContextState (the second detector family), which the operator
// does not yet, so scripts/anomaly_eval.py can judge it before it is wired in.
//
// The replay mode runs a `shelfwatch gen` stream through the operator (watermark = newest
// event time - 5 min, timers in order, dead letters counted) and scores its alerts against
// the generator's injected anomalies: per family (metric, key units, key revenue) and
// severity, precision = alert episodes matching an injected anomaly of the same series
// (metric: within [start, end + 30 min]; key: bucket of start .. end + one bucket) / alert
// episodes, recall = injected anomalies with a matching episode / injected anomalies.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <simdjson.h>

#include "bench/replay_context.h"
#include "operators/anomaly/anomaly.h"
#include "operators/anomaly_detector.h"
#include "stream/calendar.h"
#include "stream/config.h"
#include "stream/decoder.h"
#include "stream/key_index.h"

namespace {

int64_t arg_int(int argc, char** argv, const char* name, int64_t def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return std::atoll(argv[i + 1]);
  }
  return def;
}

class BenchContext : public sw::OperatorContext {
 public:
  void emit(sw::OutputRecord&& r) override {
    ++outputs;
    bytes += r.json.size();
  }
  void set_timer(sw::KeyId, int64_t, uint32_t) override {}
  int64_t watermark() const override { return 0; }
  const sw::KeyIndex& keys() const override { return keys_; }
  const sw::Calendar& calendar() const override { return calendar_; }
  const sw::OperatorViews& views() const override { return views_; }
  uint64_t outputs = 0, bytes = 0;

 private:
  sw::KeyIndex keys_;
  sw::Calendar calendar_;
  sw::OperatorViews views_;
};

const char* arg_str(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return argv[i + 1];
  }
  return nullptr;
}

struct Injected {
  std::string key;  // "store|sku" or the metric series
  bool metric = false;
  int64_t start = 0, end = 0;
};

struct Episode {
  std::string key, signal, direction;
  int64_t time = 0;
  int severity = 0;  // 1 warning, 2 critical, 3 emergency (highest reached)
};

std::string field(const std::string& json, const std::string& name) {
  std::string pat = "\"" + name + "\":\"";
  size_t p = json.find(pat);
  if (p == std::string::npos) return {};
  p += pat.size();
  return json.substr(p, json.find('"', p) - p);
}

int replay(int argc, char** argv, const char* events_path, const char* truth_path) {
  std::vector<std::string> sets;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--set") sets.push_back(argv[i + 1]);
  }
  sw::Config config = sw::Config::from_yaml("{}", sets);
  sw::AnomalyOperator op(config);
  const int64_t key_bucket = op.settings().key_bucket_ms;
  std::map<std::string, Episode> episodes;  // by alert id
  // Scores of one series (key "store|sku", or the metric series), when asked for: needs
  // operators.anomaly.emit_scores=true among the --set options.
  const char* scores_key = arg_str(argc, argv, "--scores-key");
  std::ofstream scores_out;
  if (const char* path = arg_str(argc, argv, "--scores")) scores_out.open(path);
  sw::bench::ReplayContext ctx([&](sw::OutputRecord&& r) {
    if (r.stream == sw::OutputStream::kScores) {
      if (scores_out && scores_key && r.key == scores_key) scores_out << r.json << '\n';
      return;
    }
    if (r.stream != sw::OutputStream::kAlerts || field(r.json, "status") != "firing") return;
    std::string sev = field(r.json, "severity");
    int rank = sev == "emergency" ? 3 : sev == "critical" ? 2 : 1;
    Episode& e = episodes[r.id];
    if (e.severity == 0) {
      e.key = r.key;
      e.signal = field(r.json, "signal");
      e.direction = field(r.json, "direction");
      e.time = r.time_ms;
    }
    e.severity = std::max(e.severity, rank);
  });
  sw::Decoder decoder;
  std::ifstream in(events_path);
  std::string line;
  sw::Event e;
  int64_t newest = INT64_MIN;
  uint64_t lines = 0, dead = 0;
  while (std::getline(in, line)) {
    ++lines;
    if (decoder.decode(line, 0, e) != sw::DecodeError::kNone) {
      ++dead;
      op.on_dead_letter(newest, ctx);
      continue;
    }
    newest = std::max(newest, e.ts_ms);
    sw::KeyId key = sw::kNoKey;
    if ((e.type == sw::EventType::kSale || e.type == sw::EventType::kReturn ||
         e.type == sw::EventType::kInventory) &&
        !e.store.empty()) {
      key = ctx.key(e.store, e.sku);
    }
    if ((op.subscriptions() >> static_cast<int>(e.type)) & 1u) op.on_event(e, key, ctx);
    ctx.advance(op, newest - 5 * 60'000);
  }
  ctx.advance(op, INT64_MAX);
  op.on_end_of_input(ctx);

  std::vector<Injected> truth;
  std::ifstream tin(truth_path);
  simdjson::ondemand::parser parser;
  while (std::getline(tin, line)) {
    if (line.find("\"record\":\"anomaly\"") == std::string::npos) continue;
    simdjson::padded_string padded(line);
    auto doc = parser.iterate(padded);
    Injected a;
    std::string_view sv;
    if (!doc["series"].get_string().get(sv)) {
      a.metric = true;
      a.key = std::string(sv);
    } else {
      doc.rewind();
      std::string_view store, sku;
      if (doc["store"].get_string().get(store) || doc["sku"].get_string().get(sku)) continue;
      a.key = std::string(store) + "|" + std::string(sku);
    }
    doc.rewind();
    std::string_view start, end;
    if (doc["start"].get_string().get(start) || doc["end"].get_string().get(end)) continue;
    if (!sw::parse_rfc3339(start, a.start) || !sw::parse_rfc3339(end, a.end)) continue;
    truth.push_back(std::move(a));
  }

  auto matches = [&](const Episode& ep, const Injected& a) {
    if (ep.key != a.key) return false;
    if (a.metric)
      return ep.signal == "metric" && ep.time >= a.start && ep.time <= a.end + 1'800'000;
    if (ep.signal != "units" && ep.signal != "revenue") return false;
    int64_t from = a.start - ((a.start % key_bucket) + key_bucket) % key_bucket;
    return ep.time >= from && ep.time <= a.end + key_bucket;
  };
  struct Family {
    const char* name;
    std::vector<std::string> signals;
    bool metric;
  };
  const Family families[] = {{"metric", {"metric"}, true},
                             {"key_units", {"units"}, false},
                             {"key_revenue", {"revenue"}, false}};
  const char* sev_names[] = {"", ">=warning", ">=critical", "emergency"};
  for (const Family& f : families) {
    std::vector<const Injected*> injected;
    for (const Injected& a : truth) {
      if (a.metric == f.metric) injected.push_back(&a);
    }
    for (int sev = 1; sev <= 3; ++sev) {
      std::vector<const Episode*> eps;
      for (const auto& [id, ep] : episodes) {
        if (ep.severity >= sev &&
            std::find(f.signals.begin(), f.signals.end(), ep.signal) != f.signals.end()) {
          eps.push_back(&ep);
        }
      }
      size_t tp = 0, found = 0;
      for (const Episode* ep : eps) {
        for (const Injected* a : injected) {
          if (matches(*ep, *a)) {
            ++tp;
            break;
          }
        }
      }
      for (const Injected* a : injected) {
        for (const Episode* ep : eps) {
          if (matches(*ep, *a)) {
            ++found;
            break;
          }
        }
      }
      std::printf(
          "{\"bench\":\"anomaly_truth\",\"family\":\"%s\",\"severity\":\"%s\","
          "\"alerts\":%zu,\"matching_alerts\":%zu,\"precision\":%.4f,\"injected\":%zu,"
          "\"detected\":%zu,\"recall\":%.4f}\n",
          f.name, sev_names[sev], eps.size(), tp, eps.empty() ? 0.0 : double(tp) / eps.size(),
          injected.size(), found, injected.empty() ? 0.0 : double(found) / injected.size());
    }
  }
  if (const char* path = arg_str(argc, argv, "--episodes")) {
    // One line per alert episode (for looking into what the alerts were), in id order.
    const char* plain[] = {"", "warning", "critical", "emergency"};
    std::ofstream out(path);
    for (const auto& [id, ep] : episodes) {
      out << "{\"id\":\"" << id << "\",\"key\":\"" << ep.key << "\",\"signal\":\"" << ep.signal
          << "\",\"direction\":\"" << ep.direction << "\",\"time_ms\":" << ep.time
          << ",\"severity\":\"" << plain[ep.severity] << "\"}\n";
    }
  }
  std::map<std::string, size_t> by_signal;
  for (const auto& [id, ep] : episodes) ++by_signal[ep.signal];
  std::printf(
      "{\"bench\":\"anomaly_truth_summary\",\"lines\":%llu,\"dead_letters\":%llu,"
      "\"series\":%zu,\"episodes\":{",
      static_cast<unsigned long long>(lines), static_cast<unsigned long long>(dead),
      op.series_count());
  bool first = true;
  for (const auto& [sig, n] : by_signal) {
    std::printf("%s\"%s\":%zu", first ? "" : ",", sig.c_str(), n);
    first = false;
  }
  std::printf("}}\n");
  return 0;
}

//! "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC) as epoch ms, as score-csv parses it.
bool parse_nab_time(const std::string& s, int64_t& ms) {
  int y, mo, d, h, mi;
  double sec;
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%lf", &y, &mo, &d, &h, &mi, &sec) != 6) return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59) return false;
  int64_t yy = y - (mo <= 2);
  const int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  const auto yoe = static_cast<unsigned>(yy - era * 400);
  const unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + static_cast<int64_t>(doe) - 719468;
  ms = days * 86400000LL + (h * 3600LL + mi * 60LL) * 1000LL +
       static_cast<int64_t>(sec * 1000.0 + 0.5);
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

int nab(const char* in_dir, const char* out_dir, bool with_context) {
  namespace fs = std::filesystem;
  const sw::AnomalyDetector det{sw::AnomalyDetectorConfig{}};
  size_t files = 0, rows = 0;
  std::vector<fs::path> inputs;
  for (const auto& cat : fs::directory_iterator(in_dir)) {
    if (!cat.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(cat.path())) {
      if (f.path().extension() == ".csv") inputs.push_back(f.path());
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path& in : inputs) {
    const fs::path target =
        fs::path(out_dir) / in.parent_path().filename() / ("shelfwatch_" + in.filename().string());
    fs::create_directories(target.parent_path());
    std::ifstream is(in);
    std::ofstream os(target);
    sw::AnomalySeriesState st;
    sw::AnomalyWeekState week;
    sw::AnomalyContextState context;
    std::string line;
    std::getline(is, line);
    os << "timestamp,value,anomaly_score\n";
    char buf[32];
    while (std::getline(is, line)) {
      line = trim(line);
      if (line.empty()) continue;
      const size_t comma = line.find(',');
      const std::string ts = trim(line.substr(0, comma));
      const std::string val = comma == std::string::npos ? "" : trim(line.substr(comma + 1));
      double score = 0;
      int64_t ms = 0;
      char* end = nullptr;
      const double v = std::strtod(val.c_str(), &end);
      if (parse_nab_time(ts, ms) && end != val.c_str() && std::isfinite(v)) {
        const int64_t day = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
        const int hour = static_cast<int>((ms - day * 86400000) / 3600000);
        const int weekday = static_cast<int>(((day + 3) % 7 + 7) % 7);  // Monday = 0
        score = det.update(st, &week, ms, v, hour, weekday, 1.0, nullptr,
                           with_context ? &context : nullptr)
                    .score;
      }
      std::snprintf(buf, sizeof buf, "%.9f", std::clamp(score, 0.0, 1.0));
      os << ts << ',' << val << ',' << buf << '\n';
      ++rows;
    }
    ++files;
  }
  std::printf("{\"bench\":\"anomaly_nab\",\"files\":%zu,\"rows\":%zu,\"context\":%s}\n", files,
              rows, with_context ? "true" : "false");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 2 < argc; ++i) {
    if (std::string(argv[i]) == "--nab") {
      bool context = false;
      for (int j = 1; j < argc; ++j) context = context || std::string(argv[j]) == "--context";
      return nab(argv[i + 1], argv[i + 2], context);
    }
  }
  const char* events_path = arg_str(argc, argv, "--replay");
  const char* truth_path = arg_str(argc, argv, "--truth");
  if (events_path && truth_path) return replay(argc, argv, events_path, truth_path);

  const int64_t nseries = arg_int(argc, argv, "--series", 100'000);
  const int64_t per = arg_int(argc, argv, "--observations-per-series", 40);
  constexpr int64_t kStart = 1'795'392'000'000;  // 2026-11-23T00:00:00Z

  std::vector<std::string> names;
  names.reserve(nseries);
  for (int64_t i = 0; i < nseries; ++i) names.push_back("host-" + std::to_string(i) + ".cpu");

  // Values and gaps from a fixed LCG, generated up front so the timed loop only scores.
  uint64_t rng = 12345;
  auto next = [&rng] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(rng >> 11) / static_cast<double>(1ULL << 53);
  };
  const int64_t total = nseries * per;
  std::vector<double> values(total);
  std::vector<int64_t> ts(total);
  for (int64_t r = 0; r < per; ++r) {
    for (int64_t i = 0; i < nseries; ++i) {
      int64_t k = r * nseries + i;
      values[k] = 50 + 5 * next() + (next() < 0.001 ? 40 : 0);
      ts[k] = kStart + r * 60'000 + static_cast<int64_t>(next() * 50'000);
    }
  }

  sw::AnomalyOperator op(sw::Config::from_yaml("{}"));
  BenchContext ctx;
  sw::Event e;
  e.type = sw::EventType::kMetric;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t k = 0; k < total; ++k) {
    e.ts_ms = ts[k];
    e.series = names[k % nseries];
    e.value = values[k];
    op.on_event(e, sw::kNoKey, ctx);
  }
  double op_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The bare detector over the same observations (no lookup, no lifecycle), with the
  // hour-of-week slots every metric series carries.
  sw::AnomalyDetector det;
  std::vector<sw::AnomalySeriesState> states(nseries);
  std::vector<sw::AnomalyWeekState> weeks(nseries);
  double checksum = 0;
  t0 = std::chrono::steady_clock::now();
  for (int64_t k = 0; k < total; ++k) {
    int64_t t = ts[k];
    int hour = static_cast<int>((t / 3'600'000) % 24);
    int weekday = static_cast<int>((t / 86'400'000 + 3) % 7);
    checksum +=
        det.update(states[k % nseries], &weeks[k % nseries], t, values[k], hour, weekday).score;
  }
  double det_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf(
      "{\"bench\":\"anomaly\",\"observations_per_s\":%.0f,\"series\":%lld,\"observations\":%lld,"
      "\"detector_only_per_s\":%.0f,\"state_bytes_per_series\":%zu,\"week_bytes_per_series\":%zu,"
      "\"operator_memory_bytes\":%zu,\"alerts\":%llu,\"checksum\":%.3f}\n",
      static_cast<double>(total) / op_s, static_cast<long long>(nseries),
      static_cast<long long>(total), static_cast<double>(total) / det_s,
      sizeof(sw::AnomalySeriesState), sizeof(sw::AnomalyWeekState), op.memory_bytes(),
      static_cast<unsigned long long>(ctx.outputs), checksum);
  return 0;
}
