// anomaly_bench: observations scored per second on one core by the anomaly operator for
// 100 k raw `metric` series (irregular cadence, a few spikes), through AnomalyOperator::
// on_event as the task calls it, plus the bare detector rate and the hot state bytes per
// series. Prints one JSON line; never asserts time.
//
// usage: anomaly_bench [--series N] [--observations-per-series K]

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "operators/anomaly.h"
#include "operators/anomaly_detector.h"
#include "stream/calendar.h"
#include "stream/config.h"
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

}  // namespace

int main(int argc, char** argv) {
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

  // The bare detector over the same observations (no lookup, no lifecycle).
  sw::AnomalyDetector det;
  std::vector<sw::AnomalySeriesState> states(nseries);
  double checksum = 0;
  t0 = std::chrono::steady_clock::now();
  for (int64_t k = 0; k < total; ++k) {
    int64_t t = ts[k];
    int hour = static_cast<int>((t / 3'600'000) % 24);
    checksum += det.update(states[k % nseries], t, values[k], hour, 0).score;
  }
  double det_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf(
      "{\"bench\":\"anomaly\",\"observations_per_s\":%.0f,\"series\":%lld,\"observations\":%lld,"
      "\"detector_only_per_s\":%.0f,\"state_bytes_per_series\":%zu,\"operator_memory_bytes\":%zu,"
      "\"alerts\":%llu,\"checksum\":%.3f}\n",
      static_cast<double>(total) / op_s, static_cast<long long>(nseries),
      static_cast<long long>(total), static_cast<double>(total) / det_s,
      sizeof(sw::AnomalySeriesState), op.memory_bytes(),
      static_cast<unsigned long long>(ctx.outputs), checksum);
  return 0;
}
