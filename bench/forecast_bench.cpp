// forecast_bench: bucket closes per second of the forecast operator for 1 M (store, sku) keys
// with daily buckets and a 28-step horizon, each close rendering its forecast record (JSON),
// and the operator's hot state bytes per key. One JSON line on stdout; never asserts time.
//
// usage: forecast_bench [--keys N] [--days D] [--horizon H]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/replay_context.h"
#include "operators/forecast/forecast.h"

namespace {

int64_t arg_int(int argc, char** argv, const char* name, int64_t def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return std::atoll(argv[i + 1]);
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t nkeys = arg_int(argc, argv, "--keys", 1'000'000);
  const int days = static_cast<int>(arg_int(argc, argv, "--days", 4));
  const int horizon = static_cast<int>(arg_int(argc, argv, "--horizon", 28));
  constexpr int64_t kDay = 86'400'000;
  constexpr int32_t kDay0 = 20'454;  // 2026-01-01

  sw::ForecastOptions opts;
  opts.horizon = horizon;
  sw::ForecastOperator op(opts);
  uint64_t out_bytes = 0;
  sw::bench::ReplayContext ctx([&](sw::OutputRecord&& r) { out_bytes += r.json.size(); });

  const int64_t stores = 1000;
  const int64_t skus = (nkeys + stores - 1) / stores;
  std::vector<std::string> store_names(stores), sku_names(skus);
  // Appended rather than "S" + std::to_string(...): GCC 12 at -O3 reports a -Wrestrict false
  // positive inside that operator+ (GCC bug 105329).
  for (int64_t s = 0; s < stores; ++s) store_names[s].append("S").append(std::to_string(10000 + s));
  for (int64_t k = 0; k < skus; ++k) {
    sku_names[k].append("SKU-").append(std::to_string(1000000 + k));
  }
  std::vector<sw::KeyId> ids(static_cast<size_t>(nkeys));
  for (int64_t i = 0; i < nkeys; ++i) {
    ids[i] = ctx.key(store_names[i % stores], sku_names[i / stores]);
  }

  std::mt19937_64 rng(1);
  std::poisson_distribution<int> pois(3.0);
  sw::Event e;
  e.type = sw::EventType::kSale;
  e.price = 1.0;
  double close_secs = 0;
  uint64_t closes = 0;
  for (int d = 0; d <= days; ++d) {
    const int64_t day_ms = int64_t{kDay0 + d} * kDay;
    for (int64_t i = 0; i < nkeys; ++i) {
      const int q = pois(rng);
      if (q == 0 && d > 0) continue;
      e.ts_ms = day_ms + 12 * 3'600'000;
      e.store = store_names[i % stores];
      e.sku = sku_names[i / stores];
      e.qty = q > 0 ? q : 1;
      op.on_event(e, ids[i], ctx);
    }
    // Day d - 1 closes once the watermark passes its end (the timers of every key).
    const uint64_t before = ctx.emitted();
    const auto t0 = std::chrono::steady_clock::now();
    ctx.advance(op, day_ms + 6 * 3'600'000);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (d >= 2) {  // days 0-1 warm the state up (cold start path)
      close_secs += secs;
      closes += ctx.emitted() - before;
    }
  }
  const double per_key = static_cast<double>(op.memory_bytes()) / static_cast<double>(nkeys);
  std::printf(
      "{\"bench\":\"forecast\",\"bucket_closes_per_s\":%.0f,\"keys\":%lld,\"horizon\":%d,"
      "\"state_bytes_per_key\":%.1f,\"key_state_struct_bytes\":%zu,\"closes\":%llu,"
      "\"output_bytes_per_close\":%.1f}\n",
      static_cast<double>(closes) / close_secs, static_cast<long long>(nkeys), horizon, per_key,
      sizeof(sw::ForecastOperator::KeyState), static_cast<unsigned long long>(closes),
      static_cast<double>(out_bytes) / static_cast<double>(ctx.emitted()));
  return 0;
}
