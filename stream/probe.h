#pragma once
// Probe: the named counters and gauges an operator or a source exposes for monitoring
// (docs/metrics.md). Plain atomics, no exporter types: connectors/metrics renders every
// registered probe as Prometheus families ("shelfwatch_" + name), so a component gets a
// metric by adding a line here, not by touching the metrics code.
//
// Threading: the owner registers and writes metrics from its own thread (the task thread);
// any thread may read them (for_each) at scrape time. Registration takes a lock; set() and
// add() are relaxed atomic stores. Metrics are never removed; their addresses are stable.

#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sw {

class Probe {
 public:
  enum class Kind : uint8_t { kCounter, kGauge };
  using Labels = std::vector<std::pair<std::string, std::string>>;

  //! A value that goes up and down. Starts unknown (NaN): an unknown gauge is not exported.
  class Gauge {
   public:
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<double> value_{std::numeric_limits<double>::quiet_NaN()};
  };

  //! A monotone count, exported from zero.
  class Counter {
   public:
    void add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<uint64_t> value_{0};
  };

  //! One exported time series: `name` (without the "shelfwatch_" prefix; base units,
  //! counters end in _total), help text, labels (bounded values only).
  struct Metric {
    std::string name, help;
    Labels labels;
    Kind kind;
    Gauge gauge;      // kind == kGauge
    Counter counter;  // kind == kCounter
  };

  Probe() = default;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  //! The gauge `name` with `labels`, registered on first use.
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {}) {
    return find_or_add(name, help, labels, Kind::kGauge).gauge;
  }
  //! The counter `name` with `labels`, registered on first use.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {}) {
    return find_or_add(name, help, labels, Kind::kCounter).counter;
  }

  //! Calls f(const Metric&) for every metric, in registration order.
  template <class F>
  void for_each(F&& f) const {
    std::lock_guard lk(mu_);
    for (const Metric& m : metrics_) f(m);
  }

 private:
  Metric& find_or_add(const std::string& name, const std::string& help, const Labels& labels,
                      Kind kind) {
    std::lock_guard lk(mu_);
    for (Metric& m : metrics_) {
      if (m.name == name && m.labels == labels && m.kind == kind) return m;
    }
    Metric& m = metrics_.emplace_back();
    m.name = name;
    m.help = help;
    m.labels = labels;
    m.kind = kind;
    return m;
  }

  mutable std::mutex mu_;
  std::deque<Metric> metrics_;  // deque: stable addresses
};

}  // namespace sw
