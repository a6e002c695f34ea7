#pragma once
// Webhook delivery machinery shared by the PagerDuty, Slack and Alertmanager endpoints:
// the alert model the payload builders read, the route table (type x severity x store, first
// match wins, with a default), exponential backoff with jitter, a per-endpoint circuit breaker,
// a token-bucket rate limit, and EndpointWorker: one thread per endpoint that sends its queue
// in order. Durability (the outbox) lives in connectors/delivery_sink.h; this file does no
// state I/O. Secrets (routing keys, webhook URLs, tokens) are held only inside protocols and
// never appear in errors, logs or metrics.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connectors/http_client.h"
#include "stream/config.h"
#include "stream/status.h"

namespace sw {

//! The fields of an alert / price-trigger envelope (DESIGN.md §3) that delivery needs.
struct DeliveryAlert {
  std::string id;
  std::string type;
  std::string status;    // "firing" | "resolved"
  std::string severity;  // "info" | "warning" | "critical" | "emergency"
  std::string store, sku, series;
  std::string summary;
  std::string details_json = "{}";  // raw JSON object
  int64_t time_ms = 0;
  bool resolved() const { return status == "resolved"; }
};

//! Parses an envelope; fails (Status::invalid) without `id`, `type` or `status`.
Result<DeliveryAlert> parse_delivery_alert(std::string_view json);

struct HttpRequest {
  std::string url;                   // may be secret (Slack webhook): never log it
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
};

enum class DeliveryOutcome : uint8_t { kDelivered, kRetry, kPermanentFailure, kSkipped };
std::string_view delivery_outcome_name(DeliveryOutcome o);

struct Classification {
  DeliveryOutcome outcome = DeliveryOutcome::kRetry;
  int64_t retry_after_ms = -1;  // receiver's Retry-After, -1 = none
  std::string reason;           // short, secret-free ("http 429", "timeout")
};

//! One receiver protocol (PagerDuty Events v2, Slack webhook, Alertmanager v2). Immutable
//! after construction; called from its endpoint's worker thread only.
class DeliveryProtocol {
 public:
  virtual ~DeliveryProtocol() = default;
  //! "pagerduty" | "slack" | "alertmanager" (the `sink` metric label).
  virtual std::string_view kind() const = 0;
  //! The request that delivers `alert`; nullopt = nothing to send (e.g. Slack resolved notes
  //! disabled), counted as skipped.
  virtual std::optional<HttpRequest> build(const DeliveryAlert& alert, int64_t now_ms) const = 0;
  virtual Classification classify(const Result<HttpResponse>& response) const = 0;
  //! Re-send period for firing alerts (Alertmanager); 0 = no re-sends.
  virtual int64_t resend_interval_ms() const { return 0; }
  //! One request re-asserting all currently firing alerts; nullopt when not supported.
  virtual std::optional<HttpRequest> build_resend(const std::vector<DeliveryAlert>& firing,
                                                  int64_t now_ms) const {
    (void)firing;
    (void)now_ms;
    return std::nullopt;
  }
};

//! Shared outcome classification for JSON webhooks: 2xx delivered; 408, 425, 429 and 5xx
//! retried (honouring Retry-After); other 4xx permanent; network errors retried.
Classification classify_http(const Result<HttpResponse>& response);

//! Reads a secret named in config: `<prefix>_env` (environment variable) or `<prefix>_file`
//! (file, trailing whitespace trimmed). Throws ConfigError (naming the key, never the value)
//! when neither is set, the variable is unset or empty, or the file is unreadable.
std::string read_secret(const Config& cfg, const std::string& prefix);

//! Exponential backoff with full jitter in [delay/2, delay]: delay = min(max, initial * 2^n).
class Backoff {
 public:
  Backoff(int64_t initial_ms, int64_t max_ms, uint64_t seed)
      : initial_ms_(initial_ms), max_ms_(max_ms), rng_(seed) {}
  //! Delay before attempt number `failures + 1` (failures >= 1).
  int64_t delay_ms(uint32_t failures);

 private:
  int64_t initial_ms_, max_ms_;
  std::mt19937_64 rng_;
};

//! Closed -> (threshold consecutive failures) -> open for open_ms -> half-open: one probe;
//! success closes, failure re-opens with the open time doubled (capped at 16x).
class CircuitBreaker {
 public:
  CircuitBreaker(uint32_t threshold, int64_t open_ms) : threshold_(threshold), open_ms_(open_ms) {}
  //! Earliest time a request may be sent (now when closed).
  int64_t allowed_at(int64_t now_ms) const {
    return open_ ? std::max(now_ms, open_until_ms_) : now_ms;
  }
  void on_success();
  void on_failure(int64_t now_ms);
  bool is_open() const { return open_; }
  uint64_t times_opened() const { return times_opened_; }

 private:
  uint32_t threshold_;
  int64_t open_ms_;
  uint32_t consecutive_ = 0;
  uint32_t reopen_ = 0;
  bool open_ = false;
  int64_t open_until_ms_ = 0;
  uint64_t times_opened_ = 0;
};

//! Token bucket: `rate_per_s` tokens per second, at most `burst` stored.
class TokenBucket {
 public:
  TokenBucket(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst), tokens_(burst) {}
  //! Earliest time a token is available.
  int64_t available_at(int64_t now_ms);
  void take(int64_t now_ms);

 private:
  void refill(int64_t now_ms);
  double rate_, burst_, tokens_;
  int64_t last_ms_ = -1;
};

//! sinks.delivery.routes: first match wins; sinks.delivery.default_route otherwise.
class RouteTable {
 public:
  struct Route {
    std::vector<std::string> types, severities, stores;  // empty = any
    std::vector<int> endpoints;                          // indexes into endpoint names
  };
  //! Throws ConfigError for unknown endpoint names or malformed entries.
  static RouteTable from_config(const Config& cfg, const std::vector<std::string>& endpoint_names);
  const std::vector<int>& match(const DeliveryAlert& alert) const;
  void add(Route r) { routes_.push_back(std::move(r)); }
  void set_default(std::vector<int> endpoints) { default_ = std::move(endpoints); }
  const std::vector<Route>& routes() const { return routes_; }
  const std::vector<int>& default_endpoints() const { return default_; }

 private:
  std::vector<Route> routes_;
  std::vector<int> default_;
};

struct EndpointOptions {
  int64_t backoff_initial_ms = 1000;
  int64_t backoff_max_ms = 300000;
  uint32_t breaker_failures = 5;
  int64_t breaker_open_ms = 30000;
  double rate_per_s = 0;  // 0 = unlimited
  double burst = 1;
  HttpRequestOptions http;
};

//! Per-endpoint counters, written by the worker, read by the metrics collector.
struct EndpointStats {
  std::atomic<uint64_t> delivered{0}, failed{0}, skipped{0}, dropped{0}, retries{0};
  std::atomic<uint64_t> requests{0}, resends{0}, resend_failures{0};
  std::atomic<uint64_t> queued{0};
  std::atomic<int64_t> oldest_enqueued_ms{0};  // 0 = queue empty
  std::atomic<bool> circuit_open{false};
  std::atomic<uint64_t> circuit_opened{0};
};

//! One queued delivery. `seq` orders an endpoint's queue and names its outbox key.
struct OutboxEntry {
  uint64_t seq = 0;
  int64_t enqueued_ms = 0;
  std::string alert_json;
  DeliveryAlert alert;
  size_t bytes = 0;  // key + value bytes in the store (the disk budget unit)
};

//! Sends one endpoint's queue in order on its own thread: rate limit, circuit breaker, backoff
//! with jitter on retryable failures (head-of-line: order per endpoint is kept), and for
//! protocols with a resend interval, periodic re-posts of the firing set. Finished entries
//! (delivered, permanently failed, skipped) are reported through `on_done` from the worker
//! thread; `on_done` must not call back into the worker.
class EndpointWorker {
 public:
  using DoneFn = std::function<void(EndpointWorker& w, const OutboxEntry& e, DeliveryOutcome o)>;
  EndpointWorker(std::string name, std::unique_ptr<DeliveryProtocol> protocol, EndpointOptions opt,
                 uint64_t seed, DoneFn on_done);
  ~EndpointWorker();
  EndpointWorker(const EndpointWorker&) = delete;
  EndpointWorker& operator=(const EndpointWorker&) = delete;

  void start();
  //! Stops the thread; an in-flight request finishes (bounded by the HTTP timeout).
  void stop();
  void enqueue(OutboxEntry e);
  //! Replaces the firing set re-sent every resend interval (recovery).
  void set_firing(std::map<std::string, DeliveryAlert> firing);
  //! A copy of the firing set (hot reload hands it to the replacement worker).
  std::map<std::string, DeliveryAlert> firing() const;
  //! Removes the oldest queued entry that is not in flight; returns it, or nullopt.
  std::optional<OutboxEntry> drop_oldest();
  //! Enqueue time of the oldest queued entry, or INT64_MAX when empty.
  int64_t oldest_enqueued_ms() const;
  size_t queued() const;
  //! Waits until the queue is empty or `timeout_ms` passes; true if empty.
  bool wait_idle(int64_t timeout_ms);

  const std::string& name() const { return name_; }
  std::string_view kind() const { return protocol_->kind(); }
  //! True when the protocol re-sends its firing set (Alertmanager).
  bool protocol_resends() const { return protocol_->resend_interval_ms() > 0; }
  const EndpointStats& stats() const { return stats_; }
  EndpointStats& stats() { return stats_; }

 private:
  void run();
  void update_gauges_locked();
  void resend_firing(int64_t now_ms);

  const std::string name_;
  const std::unique_ptr<DeliveryProtocol> protocol_;
  const EndpointOptions opt_;
  DoneFn on_done_;
  HttpClient http_;
  Backoff backoff_;
  CircuitBreaker breaker_;
  TokenBucket bucket_;
  EndpointStats stats_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<OutboxEntry> queue_;
  bool in_flight_ = false;
  bool in_callback_ = false;  // on_done_ running (its store write not yet done)
  bool stop_ = false;
  uint32_t failures_ = 0;                        // consecutive failures of the head entry
  int64_t next_attempt_ms_ = 0;                  // backoff deadline of the head entry
  std::map<std::string, DeliveryAlert> firing_;  // by alert id (resend set)
  int64_t next_resend_ms_ = 0;
  std::thread thread_;
};

}  // namespace sw
