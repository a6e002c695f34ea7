#pragma once
// A Prometheus collectable of plain counters read through callbacks at scrape time, for
// counts owned by components without metrics of their own (the file source's rotations,
// the state store's WAL rollback). Thread-safe if the callbacks are.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace sw {

class CounterCollectable final : public prometheus::Collectable {
 public:
  struct Counter {
    std::string name;  // ends in _total
    std::string help;
    std::function<double()> value;
  };
  explicit CounterCollectable(std::vector<Counter> counters) : counters_(std::move(counters)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    for (const Counter& c : counters_) {
      prometheus::MetricFamily f;
      f.name = c.name;
      f.help = c.help;
      f.type = prometheus::MetricType::Counter;
      prometheus::ClientMetric m;
      m.counter.value = c.value();
      f.metric.push_back(std::move(m));
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  std::vector<Counter> counters_;
};

}  // namespace sw
