// `shelfwatch gen`: deterministic synthetic retail stream (sim/generator.h,
// docs/generator.md).

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "cli/commands.h"
#include "sim/generator.h"

namespace sw::cli {

namespace {

const char kUsage[] =
    "usage: shelfwatch gen --stores N --skus M --days D --seed S --out FILE [options]\n"
    "\n"
    "Writes a deterministic synthetic retail event stream (JSON lines, input contract\n"
    "schema_version 1): item reference data, prices with a known elasticity per SKU,\n"
    "promotions, competitor prices, inventory snapshots, receipts with lead times, stock-outs,\n"
    "transfers, adjustments, returns, sales with weekly/yearly/intra-day seasonality, POS\n"
    "latency metrics, feedback, injected anomalies, duplicates and mild disorder.\n"
    "Same arguments => byte-identical output.  See docs/generator.md.\n"
    "\n"
    "options:\n"
    "  --stores N                number of stores (default 20)\n"
    "  --skus M                  number of SKUs (default 200)\n"
    "  --days D                  number of simulated days (default 60)\n"
    "  --seed S                  random seed (default 1)\n"
    "  --out FILE                event output file, '-' = stdout (required)\n"
    "  --truth FILE              ground-truth JSON lines (demand, elasticities, anomalies,\n"
    "                            stock-outs, counts)\n"
    "  --truth-demand BOOL       write per-(store, sku, day) demand truth lines (default true)\n"
    "  --bad-rate R              fraction of malformed lines, cycling through every\n"
    "                            dead-letter code (default 0)\n"
    "  --start YYYY-MM-DD        first day, UTC (default 2026-01-01)\n"
    "  --events-per-key-day X    mean sale transactions per (store, sku, day) (default 1.5)\n"
    "  --duplicate-rate R        share of events re-sent with the same event_id (default 0.002)\n"
    "  --disorder-rate R         share of events emitted late (default 0.02)\n"
    "  --max-disorder-ms MS      largest emission delay of a late event (default 180000)\n"
    "  --snapshot-every-days N   periodic inventory snapshots, 0 = only at start (default 7)\n"
    "  --metric-interval-min N   POS latency metric cadence per store, 0 = none (default 15)\n"
    "  --price-change-rate R     chain-wide regular price changes per SKU per day, each to a\n"
    "                            random price 0.8-1.2x the base (default 0.0222 = 1/45); raise\n"
    "                            it (e.g. 0.14: weekly) to evaluate the elasticity estimator\n"
    "  --quiet                   no summary on stderr\n"
    "\n"
    "examples:\n"
    "  shelfwatch gen --stores 20 --skus 200 --days 60 --seed 7 --out events.jsonl \\\n"
    "      --truth truth.jsonl --bad-rate 0.001\n"
    "  shelfwatch gen --stores 10 --skus 50 --days 1100 --seed 3 --out history.jsonl\n"
    "  shelfwatch gen --stores 100 --skus 10000 --days 1 --seed 1 --events-per-key-day 4 \\\n"
    "      --metric-interval-min 0 --out bench.jsonl      # ~5 M events, 1 M keys\n"
    "  shelfwatch gen --stores 2 --skus 3 --days 2 --seed 1 --out - | head\n";

const std::set<std::string> kFlags = {"--stores",
                                      "--skus",
                                      "--days",
                                      "--seed",
                                      "--out",
                                      "--truth",
                                      "--truth-demand",
                                      "--bad-rate",
                                      "--start",
                                      "--events-per-key-day",
                                      "--duplicate-rate",
                                      "--disorder-rate",
                                      "--max-disorder-ms",
                                      "--snapshot-every-days",
                                      "--metric-interval-min",
                                      "--price-change-rate"};

bool parse_int(const Args& args, const char* name, int64_t lo, int64_t hi, int64_t& out) {
  std::string v;
  if (!value_of(args, name, v)) return true;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || x < lo || x > hi) {
    std::fprintf(stderr, "shelfwatch gen: %s must be an integer in [%lld, %lld], got '%s'\n", name,
                 static_cast<long long>(lo), static_cast<long long>(hi), v.c_str());
    return false;
  }
  out = x;
  return true;
}

bool parse_double(const Args& args, const char* name, double lo, double hi, double& out) {
  std::string v;
  if (!value_of(args, name, v)) return true;
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(x >= lo && x <= hi)) {
    std::fprintf(stderr, "shelfwatch gen: %s must be a number in [%g, %g], got '%s'\n", name, lo,
                 hi, v.c_str());
    return false;
  }
  out = x;
  return true;
}

struct FileCloser {
  void operator()(FILE* f) const {
    if (f != nullptr && f != stdout) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

File open_out(const std::string& path) {
  if (path == "-") return File(stdout);
  return File(std::fopen(path.c_str(), "wb"));
}

}  // namespace

int gen_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--quiet") continue;
    std::string name = a.substr(0, a.find('='));
    if (kFlags.count(name) == 0) {
      std::fprintf(stderr, "shelfwatch gen: unknown argument '%s' (see shelfwatch gen --help)\n",
                   a.c_str());
      return 2;
    }
    if (a.find('=') == std::string::npos) ++i;  // skip the value
  }
  GeneratorOptions o;
  int64_t stores = o.stores, skus = o.skus, days = o.days, seed = 1;
  int64_t max_disorder = o.max_disorder_ms, snap = o.snapshot_every_days,
          metric = o.metric_interval_min;
  bool ok = parse_int(args, "--stores", 1, 1'000'000, stores) &&
            parse_int(args, "--skus", 1, 10'000'000, skus) &&
            parse_int(args, "--days", 1, 100'000, days) &&
            parse_int(args, "--seed", 0, INT64_MAX, seed) &&
            parse_double(args, "--bad-rate", 0, 0.5, o.bad_rate) &&
            parse_double(args, "--events-per-key-day", 1e-6, 10'000, o.events_per_key_day) &&
            parse_double(args, "--duplicate-rate", 0, 0.5, o.duplicate_rate) &&
            parse_double(args, "--disorder-rate", 0, 1, o.disorder_rate) &&
            parse_int(args, "--max-disorder-ms", 1, 600'000, max_disorder) &&
            parse_int(args, "--snapshot-every-days", 0, 100'000, snap) &&
            parse_int(args, "--metric-interval-min", 0, 1440, metric) &&
            parse_double(args, "--price-change-rate", 0, 1, o.price_change_rate);
  if (!ok) return 2;
  o.stores = static_cast<int>(stores);
  o.skus = static_cast<int>(skus);
  o.days = static_cast<int>(days);
  o.seed = static_cast<uint64_t>(seed);
  o.max_disorder_ms = max_disorder;
  o.snapshot_every_days = static_cast<int>(snap);
  o.metric_interval_min = static_cast<int>(metric);
  std::string start;
  if (value_of(args, "--start", start)) {
    int64_t d;
    if (!parse_civil_date(start, d)) {
      std::fprintf(stderr, "shelfwatch gen: --start must be YYYY-MM-DD, got '%s'\n", start.c_str());
      return 2;
    }
    o.start_date = start;
  }
  std::string truth_demand;
  if (value_of(args, "--truth-demand", truth_demand)) {
    if (truth_demand != "true" && truth_demand != "false") {
      std::fprintf(stderr, "shelfwatch gen: --truth-demand must be true or false\n");
      return 2;
    }
    o.truth_demand = truth_demand == "true";
  }
  std::string out_path, truth_path;
  if (!value_of(args, "--out", out_path) || out_path.empty()) {
    std::fprintf(stderr, "shelfwatch gen: --out FILE is required ('-' for stdout)\n\n%s", kUsage);
    return 2;
  }
  const bool quiet = std::find(args.begin(), args.end(), "--quiet") != args.end();

  File out = open_out(out_path);
  if (!out) {
    std::fprintf(stderr, "shelfwatch gen: cannot open '%s': %s\n", out_path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  File truth;
  if (value_of(args, "--truth", truth_path)) {
    if (truth_path == "-" && out_path == "-") {
      std::fprintf(stderr, "shelfwatch gen: --out and --truth cannot both be stdout\n");
      return 2;
    }
    truth = open_out(truth_path);
    if (!truth) {
      std::fprintf(stderr, "shelfwatch gen: cannot open '%s': %s\n", truth_path.c_str(),
                   std::strerror(errno));
      return 1;
    }
  }
  auto writer_for = [](FILE* f, const std::string& path) {
    return ChunkWriter([f, path](std::string_view chunk) {
      if (std::fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size()) {
        return Status::io("write to '" + path + "' failed: " + std::strerror(errno));
      }
      return Status::ok();
    });
  };
  ChunkWriter out_writer = writer_for(out.get(), out_path);
  ChunkWriter truth_writer = truth ? writer_for(truth.get(), truth_path) : ChunkWriter();

  GeneratorStats stats;
  auto t0 = std::chrono::steady_clock::now();
  Status st = generate_stream(o, out_writer, truth ? &truth_writer : nullptr, stats);
  if (st.is_ok() && std::fflush(out.get()) != 0) st = Status::io("flush failed: " + out_path);
  if (st.is_ok() && truth && std::fflush(truth.get()) != 0) {
    st = Status::io("flush failed: " + truth_path);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!st.is_ok()) {
    std::fprintf(stderr, "shelfwatch gen: %s\n", st.to_string().c_str());
    return 1;
  }
  if (!quiet) {
    std::fprintf(
        stderr,
        "shelfwatch gen: %llu lines (%llu events incl. %llu duplicates, %llu malformed), "
        "%llu keys, %.1f MB in %.2f s (%.0f lines/s); sales %llu, inventory %llu, "
        "stock-outs %llu, anomalies %llu\n",
        static_cast<unsigned long long>(stats.lines), static_cast<unsigned long long>(stats.good),
        static_cast<unsigned long long>(stats.duplicates),
        static_cast<unsigned long long>(stats.bad), static_cast<unsigned long long>(stats.keys),
        stats.bytes / 1e6, secs, secs > 0 ? stats.lines / secs : 0.0,
        static_cast<unsigned long long>(stats.by_type[0]),
        static_cast<unsigned long long>(stats.by_type[2]),
        static_cast<unsigned long long>(stats.stockouts),
        static_cast<unsigned long long>(stats.anomalies));
  }
  return 0;
}

}  // namespace sw::cli
