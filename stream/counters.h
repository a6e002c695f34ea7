#pragma once
// Runtime counters a task maintains. Written by the task thread only; read by the metrics
// exposer from another thread, hence relaxed atomics (no ordering needed between them).

#include <array>
#include <atomic>
#include <cstdint>

#include "stream/decoder.h"
#include "stream/event.h"

namespace sw {

struct TaskCounters {
  using Counter = std::atomic<uint64_t>;
  Counter read{0};
  std::array<Counter, kEventTypeCount> applied{};          // by event type
  std::array<Counter, kEventTypeCount> duplicates{};       // by event type
  std::array<Counter, kEventTypeCount> late{};             // by event type
  std::array<Counter, kDecodeErrorCount> dead_lettered{};  // by DecodeError
  std::array<Counter, 8> outputs{};                        // by OutputStream
  Counter checkpoints{0};
  Counter checkpoint_failures{0};
  Counter checkpoint_bytes_last{0};
  Counter checkpoint_duration_us_last{0};
  Counter checkpoint_duration_us_total{0};
  std::atomic<int64_t> watermark_ms{INT64_MIN};
  std::atomic<int64_t> max_event_ms{INT64_MIN};
  Counter state_keys{0};
  Counter state_bytes{0};

  static uint64_t sum(const auto& arr) {
    uint64_t s = 0;
    for (const auto& c : arr) s += c.load(std::memory_order_relaxed);
    return s;
  }
  //! read = applied + duplicates + dead-lettered + late-dropped (DESIGN.md §2).
  bool balanced() const {
    return read.load() == sum(applied) + sum(duplicates) + sum(dead_lettered) + sum(late);
  }
};

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace sw
