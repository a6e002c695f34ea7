#pragma once
// Prometheus metrics and the HTTP endpoints beside them (DESIGN.md §5, issue #6).
//
// MetricsServer runs one civetweb server (the HTTP server prometheus-cpp's Exposer is built
// on) on `metrics.listen` (default 127.0.0.1:9464) and serves:
//   /metrics                text exposition of every registered Collectable (prometheus-cpp
//                           TextSerializer), including TaskCounters read at scrape time
//   /healthz                200 "ok" while the process serves requests
//   /readyz                 200 when the ready callback says so (restored, sources open), else
//                           503 "not ready: <reason>" (e.g. the changelog restore's progress)
//   /state/<store>/<sku>    the state callback's JSON, 404 when it returns ""
//   /alerts                 the alerts callback's JSON (open alerts)
//   POST /admin/reload      the reload callback's answer (200 applied, 409 rejected)
// With `auth_token` set, /state, /alerts and /admin/* answer 401 unless the request carries
// "Authorization: Bearer <token>" (compared in constant time, connectors/http_request.h);
// /metrics, /healthz and /readyz stay open. Bounds against hostile clients: request header
// at most max_request_bytes (else 413) with at most 64 header lines (civetweb's
// MG_MAX_HEADERS; more: 400 Bad Request), `threads` connections served at once, further ones
// wait in a bounded accept queue, and each has request_timeout_ms to send its header.
// Callbacks run on civetweb's worker threads, concurrently with the task: they must be
// thread-safe (answer from a snapshot under a lock). All names have the single prefix
// `shelfwatch_`, base units, `_total` counters and no unbounded labels (docs/metrics.md).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "stream/counters.h"
#include "stream/probe.h"

namespace sw {

//! Fixed-bucket histogram with lock-free recording: observe() is a few relaxed atomic adds,
//! callable from any thread; the collector reads a (slightly torn, monotone) snapshot.
class LatencyRecorder {
 public:
  explicit LatencyRecorder(std::vector<double> upper_bounds);
  void observe(double value);
  //! Cumulative bucket counts (one per bound, then +Inf), sum and count.
  prometheus::ClientMetric snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative, bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

//! Engine-side values that TaskCounters does not hold. The task and the connectors write
//! them; the server reads them at scrape time. Thread-safe.
class RuntimeMetrics {
 public:
  RuntimeMetrics();
  //! Wall time from polling a batch to its outputs being handed to sinks, seconds.
  LatencyRecorder& processing_latency() { return processing_latency_; }
  //! Wall clock minus event time when an event is applied, seconds (negative -> 0).
  LatencyRecorder& event_lag() { return event_lag_; }
  //! Per source partition watermark (epoch ms). `source` is a topic or file name.
  void set_partition_watermark(const std::string& source, int partition, int64_t watermark_ms);
  //! Set once the task restored its checkpoint and opened its sources (/readyz).
  void set_ready(bool ready) { ready_.store(ready, std::memory_order_relaxed); }
  bool ready() const { return ready_.load(std::memory_order_relaxed); }
  //! One line for the 503 /readyz body ("starting", "draining"); "" = none.
  void set_not_ready_reason(std::string reason) {
    std::lock_guard lk(mu_);
    not_ready_reason_ = std::move(reason);
  }
  std::string not_ready_reason() const {
    std::lock_guard lk(mu_);
    return not_ready_reason_;
  }

  void collect(std::vector<prometheus::MetricFamily>& out) const;

 private:
  LatencyRecorder processing_latency_;
  LatencyRecorder event_lag_;
  std::atomic<bool> ready_{false};
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> watermarks_;
  std::string not_ready_reason_;
};

//! Reads TaskCounters (one per task, summed; watermarks per task) at scrape time.
class TaskCountersCollector final : public prometheus::Collectable {
 public:
  void add_task(const TaskCounters* counters);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mu_;
  std::vector<const TaskCounters*> tasks_;
};

struct MetricsServerOptions {
  std::string listen = "127.0.0.1:9464";  // host:port; port 0 picks a free port
  // Worker threads: each open connection holds one until its request was answered or its
  // header read timed out, so this bounds how many slow clients can be served at once.
  int threads = 128;
  // Time a connection has to send its whole request header (slowloris bound).
  int request_timeout_ms = 3000;
  // Bytes of request line + headers (civetweb max_request_size); larger requests get 413.
  int max_request_bytes = 16384;
  // Bearer token protecting /state, /alerts and /admin/*; empty = those are open.
  std::string auth_token;
  //! POST /admin/reload: returns (HTTP status, body). Absent = 404.
  std::function<std::pair<int, std::string>()> reload;
  std::function<std::string(std::string_view store, std::string_view sku)> state_query;
  std::function<std::string()> alerts_query;
  //! Readiness; absent = RuntimeMetrics::ready().
  std::function<bool()> ready;
  //! Why not ready, for the 503 /readyz body ("not ready: <reason>"); absent or "" =
  //! RuntimeMetrics::not_ready_reason().
  std::function<std::string()> not_ready_reason;
};

class MetricsServer {
 public:
  //! Binds and starts serving. Throws std::runtime_error when the address cannot be bound
  //! (start-up failure).
  explicit MetricsServer(MetricsServerOptions opt);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  //! Adds a task's counters (kept by pointer: they must outlive the server).
  void add_task(const TaskCounters& counters) { task_collector_->add_task(&counters); }
  //! Adds any other collectable (e.g. DeliverySink::collectable()).
  void add_collectable(std::shared_ptr<prometheus::Collectable> c);
  //! Adds an operator's or a source's probe (kept by pointer: it must outlive the server).
  //! Each metric is exported as "shelfwatch_" + its name; unknown gauges are left out.
  void add_probe(const Probe* probe);
  RuntimeMetrics& runtime() { return *runtime_; }
  //! The bound port (useful with port 0).
  int port() const { return port_; }
  //! The /metrics body.
  std::string render_metrics() const;

  struct Impl;

 private:
  MetricsServerOptions opt_;
  std::shared_ptr<TaskCountersCollector> task_collector_;
  std::shared_ptr<RuntimeMetrics> runtime_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::vector<const Probe*> probes_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

//! Helpers for Collectables that read atomics at scrape time.
prometheus::MetricFamily metric_family(std::string name, std::string help,
                                       prometheus::MetricType type);
void add_sample(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
                double value);

//! Renders probes as families (one per metric name, in first-registration order).
void collect_probes(const std::vector<const Probe*>& probes,
                    std::vector<prometheus::MetricFamily>& out);

//! Build information, exported as shelfwatch_build_info{version,compiler} 1.
std::string_view shelfwatch_version();

}  // namespace sw
