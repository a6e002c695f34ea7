// `shelfwatch score-csv`: runs the anomaly operator over CSV time series in the layout of the
// Numenta Anomaly Benchmark. For each IN/<category>/<file>.csv (columns timestamp,value;
// timestamps "YYYY-MM-DD HH:MM:SS[.ffffff]", UTC), the rows become `metric` events of series
// <file> fed in file order to a fresh AnomalyOperator built from the one configuration, and
// OUT/<category>/<NAME>_<file>.csv gets timestamp,value,anomaly_score, one row per input row.
// One pass, no look-ahead: each score is the operator's score right after that event.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/nab_csv.h"
#include "cli/pipeline.h"
#include "operators/anomaly/anomaly.h"
#include "stream/calendar.h"
#include "stream/civil_time.h"
#include "stream/config.h"
#include "stream/key_index.h"

namespace sw::cli {

namespace {

namespace fs = std::filesystem;

//! The smallest task stand-in: metric series need no keys and no timers.
class CsvContext : public OperatorContext {
 public:
  void emit(OutputRecord&& record) override {
    if (record.stream == OutputStream::kAlerts) ++alerts;
  }
  void set_timer(KeyId, int64_t, uint32_t) override {}
  int64_t watermark() const override { return watermark_; }
  const KeyIndex& keys() const override { return keys_; }
  const Calendar& calendar() const override { return calendar_; }
  const OperatorViews& views() const override { return views_; }
  void set_watermark(int64_t wm) { watermark_ = wm; }
  uint64_t alerts = 0;

 private:
  KeyIndex keys_;
  Calendar calendar_;
  OperatorViews views_;
  int64_t watermark_ = INT64_MIN;
};

struct FileResult {
  size_t rows = 0;
  size_t bad_rows = 0;
  uint64_t alerts = 0;
};

bool score_file(const Config& config, const fs::path& in, const fs::path& out, FileResult& result) {
  std::ifstream is(in);
  if (!is) return false;
  std::ofstream os(out);
  if (!os) return false;
  AnomalyOperator op(config);
  CsvContext ctx;
  const std::string series = in.stem().string();
  std::string line;
  std::getline(is, line);  // header
  os << "timestamp,value,anomaly_score\n";
  char buf[32];
  while (std::getline(is, line)) {
    const NabRow row = parse_nab_row(line);
    if (row.blank) continue;
    double score = 0;
    if (row.ok) {
      Event e;
      e.type = EventType::kMetric;
      e.ts_ms = row.ms;
      e.series = series;
      e.value = row.value;
      ctx.set_watermark(row.ms);
      op.on_event(e, kNoKey, ctx);
      score = op.last_observation().score;
    } else {
      ++result.bad_rows;  // unparseable rows keep their place with score 0
    }
    std::snprintf(buf, sizeof buf, "%.9f", std::clamp(score, 0.0, 1.0));
    os << row.ts << ',' << row.val << ',' << buf << '\n';
    ++result.rows;
  }
  result.alerts = ctx.alerts;
  return static_cast<bool>(os);
}

}  // namespace

int score_csv_command(const Args& args) {
  if (wants_help(args)) {
    std::printf(
        "usage: shelfwatch score-csv --in DIR --out DIR --detector NAME [--config FILE]\n"
        "                            [--set key.path=value]...\n\n"
        "Scores every DIR/<category>/<file>.csv (columns timestamp,value) with the anomaly\n"
        "operator (series = file name, one pass, no look-ahead) and writes\n"
        "OUT/<category>/NAME_<file>.csv with columns timestamp,value,anomaly_score: the\n"
        "Numenta Anomaly Benchmark results layout. Detector settings come from\n"
        "operators.anomaly.* (docs/anomaly.md); the same settings apply to every file.\n\n"
        "example:\n"
        "  shelfwatch score-csv --in nab/data --out results --detector shelfwatch\n"
        "  python3 nab_score.py nab results shelfwatch\n");
    return 0;
  }
  std::string in, out, name, config_path;
  if (!value_of(args, "--in", in) || !value_of(args, "--out", out) ||
      !value_of(args, "--detector", name)) {
    std::fprintf(stderr, "score-csv: --in, --out and --detector are required (see --help)\n");
    return 2;
  }
  std::vector<std::string> sets = values_of(args, "--set");
  Config config = value_of(args, "--config", config_path) ? Config::from_file(config_path, sets)
                                                          : Config::from_yaml("{}", sets);
  config.mark_read("source");
  config.mark_read("sinks");
  config.mark_read("state");
  // Phase 1 of the pipeline builder, the anomaly operator only: reads and validates
  // operators.anomaly.* once and rejects unknown keys. Each file then gets a fresh operator.
  PipelineParts parts;
  parts.task = parts.source = parts.state = parts.sinks = parts.delivery = parts.live = false;
  parts.operators = {"anomaly"};
  parse_pipeline(config, parts);

  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& cat : fs::directory_iterator(in, ec)) {
    if (!cat.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(cat.path())) {
      if (f.is_regular_file() && f.path().extension() == ".csv") files.push_back(f.path());
    }
  }
  if (ec) {
    std::fprintf(stderr, "score-csv: cannot read %s: %s\n", in.c_str(), ec.message().c_str());
    return 1;
  }
  std::sort(files.begin(), files.end());
  size_t total_rows = 0;
  for (const fs::path& f : files) {
    fs::path dir = fs::path(out) / f.parent_path().filename();
    fs::create_directories(dir, ec);
    fs::path target = dir / (name + "_" + f.filename().string());
    FileResult r;
    if (ec || !score_file(config, f, target, r)) {
      std::fprintf(stderr, "score-csv: cannot score %s into %s\n", f.c_str(), target.c_str());
      return 1;
    }
    if (r.bad_rows > 0) {
      std::fprintf(stderr, "score-csv: %s: %zu unparseable rows scored 0\n", f.c_str(), r.bad_rows);
    }
    total_rows += r.rows;
  }
  std::printf("score-csv: %zu files, %zu rows scored into %s\n", files.size(), total_rows,
              out.c_str());
  return 0;
}

}  // namespace sw::cli
