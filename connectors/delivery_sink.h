#pragma once
// DeliverySink: alerts to PagerDuty, Slack and Alertmanager through a durable outbox
// (docs/delivery.md). Implements the Sink seam (stream/sink.h):
//   prepare()   routes each alert record through the route table and writes one outbox entry
//               per target endpoint into the checkpoint batch (namespace "sink/delivery/outbox",
//               key = endpoint '\0' 16-hex-digit sequence, value = enqueue ms ' ' alert JSON);
//               also removes entries finished since the last checkpoint and, over the disk
//               budget, the oldest entries (counted as dropped).
//   committed() hands the staged entries to the endpoint workers (one thread per endpoint).
//   recover()   reloads pending entries and Alertmanager firing sets from the store.
//   close()     waits up to sinks.delivery.drain_timeout for the queues to empty.
// A finished entry (delivered, permanently failed, skipped) is removed with a small commit of
// its own to `ack_store` right after the response (so a restart re-sends at most the requests
// in flight), or, when no ack_store is given, in the next checkpoint batch. Delivery is
// at-least-once; receivers deduplicate by alert id (PagerDuty dedup_key, Alertmanager labels).
// Alerts are counted (by type/severity/status, and by store up to a label limit) whether or not
// any endpoint is configured, so wire this sink in always.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "connectors/delivery.h"
#include "stream/config.h"
#include "stream/sink.h"

namespace sw {

inline constexpr std::string_view kOutboxNamespace = "sink/delivery/outbox";
inline constexpr std::string_view kFiringNamespace = "sink/delivery/firing";

struct DeliveryEndpointSpec {
  std::string name;  // metric label and outbox key prefix
  std::unique_ptr<DeliveryProtocol> protocol;
  EndpointOptions options;
};

struct DeliverySinkOptions {
  int64_t outbox_max_bytes = 64ll << 20;
  int64_t drain_timeout_ms = 10000;
  bool include_price_triggers = false;  // deliver the price-triggers stream too
  size_t store_label_limit = 50;        // distinct `store` label values before "other"
  uint64_t seed = 0x5eed;               // jitter
  //! Values of the `type` label of shelfwatch_alerts_total; other types count as "other".
  //! The composition root passes every alert type the operator table lists.
  std::vector<std::string> alert_types;
};

struct DeliverySinkConfig;

class DeliverySink final : public Sink {
 public:
  //! `ack_store` (may be null) receives the small removal commits from worker threads; its
  //! commit() must be safe to call concurrently with the task's checkpoint commit (the RocksDB
  //! store is; MemoryStateStore is not, pass null for it).
  DeliverySink(std::vector<DeliveryEndpointSpec> endpoints, RouteTable routes,
               DeliverySinkOptions opt, StateStore* ack_store);
  ~DeliverySink() override;

  std::string name() const override { return "delivery"; }
  Status prepare(std::span<const OutputRecord> records, StateBatch& batch) override;
  Status committed() override;
  Status recover(const StateStore& store) override;
  Status close() override;
  //! Hot reload: adopts new routes, options and endpoint settings (URL, secrets, rates,
  //! timeouts), keeping every queued entry, firing set and counter. Call on the task thread
  //! with no checkpoint commit in flight (Task::wait_checkpoint()). The endpoint names and
  //! kinds must stay the same (they key the outbox); otherwise nothing changes and the error
  //! names the key.
  Status reconfigure(DeliverySinkConfig config);

  //! Metrics (deliveries, retries, outbox depth/age/bytes, alerts) read at scrape time.
  std::shared_ptr<prometheus::Collectable> collectable() const;
  //! Entries queued across endpoints (tests, shutdown).
  size_t pending() const;
  //! Waits until every queue is empty; true if it emptied within the timeout.
  bool wait_idle(int64_t timeout_ms);
  size_t endpoint_count() const { return workers_.size(); }
  const EndpointWorker& endpoint(size_t i) const { return *workers_[i]; }

  class Collector;

 private:
  struct Staged {
    size_t endpoint;
    OutboxEntry entry;
  };
  void on_done(EndpointWorker& w, const OutboxEntry& e, DeliveryOutcome o);
  void count_alert(const DeliveryAlert& a, OutputStream stream, std::string_view json);
  void enforce_budget(StateBatch& batch, int64_t incoming);
  static std::string outbox_key(const std::string& endpoint, uint64_t seq);

  DeliverySinkOptions opt_;
  RouteTable routes_;
  StateStore* ack_store_;
  mutable std::mutex workers_mu_;  // workers_ swaps (reconfigure) vs the metrics collector
  std::vector<std::unique_ptr<EndpointWorker>> workers_;
  std::vector<uint64_t> next_seq_;  // task thread only
  std::vector<Staged> staged_;      // task thread only
  std::atomic<int64_t> outbox_bytes_{0};
  std::atomic<uint64_t> unroutable_{0};  // alert records that failed to parse
  std::mutex ack_mu_;
  StateBatch pending_acks_;  // removals not yet written (no ack_store, or its commit failed)
  bool recovered_ = false;
  std::shared_ptr<Collector> collector_;
};

struct DeliverySinkConfig {
  std::vector<DeliveryEndpointSpec> endpoints;
  RouteTable routes;
  DeliverySinkOptions options;
};
//! Reads `sinks.delivery.*` (docs/delivery.md) without starting anything; `alert_types`: see
//! DeliverySinkOptions. Reads secrets from the environment or files named in config; throws
//! ConfigError on bad config or missing secrets (messages never contain secret values). With
//! no endpoints configured the sink only counts alerts. Every endpoint key is read before the
//! secrets and URLs are checked: another kind's keys and a disabled endpoint's (`enabled:
//! false`, values unchecked) through Config::read_unused(), so they are unused, not unknown.
DeliverySinkConfig delivery_sink_config(const Config& cfg, std::vector<std::string> alert_types);
//! Starts the endpoint workers.
std::unique_ptr<DeliverySink> make_delivery_sink(DeliverySinkConfig config, StateStore* ack_store);
std::unique_ptr<DeliverySink> make_delivery_sink(const Config& cfg, StateStore* ack_store,
                                                 std::vector<std::string> alert_types);

}  // namespace sw
