#pragma once
// Output records produced by operators and the runtime (DESIGN.md §3). The JSON body is
// rendered once, by the producer; sinks only route and frame it.

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

namespace sw {

//! The output streams, in this order everywhere (file sink files, Kafka topics, metrics).
//! Which operator emits which stream is in the operator table (operators/registry.cpp); the
//! runtime emits dlq and late.
enum class OutputStream : uint8_t {
  kAlerts,
  kForecasts,
  kPriceTriggers,
  kReplenishment,
  kDlq,
  kLate,
  kScores,
};
//! File name stem and default Kafka topic suffix of each stream, by enum value.
inline constexpr std::string_view kOutputStreamNames[] = {
    "alerts", "forecasts", "price-triggers", "replenishment", "dlq", "late", "scores"};
inline constexpr int kOutputStreamCount = static_cast<int>(std::size(kOutputStreamNames));
static_assert(static_cast<int>(OutputStream::kScores) + 1 == kOutputStreamCount,
              "every OutputStream needs a name in kOutputStreamNames");
//! File name stem and default Kafka topic suffix: "alerts", "forecasts", "price-triggers", ...
std::string_view output_stream_name(OutputStream s);

struct OutputRecord {
  OutputStream stream = OutputStream::kAlerts;
  std::string key;   // "store|sku" or series; Kafka record key
  std::string id;    // stable id (alerts, triggers, recommendations); may be empty
  std::string type;  // alert type, "forecast", "dlq", ...
  int64_t time_ms = 0;
  std::string json;     // one JSON object, no trailing newline
  uint32_t origin = 0;  // input partition whose record produced it (timers: the owning task)
  uint64_t seq = 0;     // per-origin sequence number, assigned by the task
};

}  // namespace sw
