#include "connectors/delivery.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <simdjson.h>

#include "stream/decoder.h"

namespace sw {

std::string_view delivery_outcome_name(DeliveryOutcome o) {
  switch (o) {
    case DeliveryOutcome::kDelivered:
      return "delivered";
    case DeliveryOutcome::kRetry:
      return "retry";
    case DeliveryOutcome::kPermanentFailure:
      return "failed";
    case DeliveryOutcome::kSkipped:
      return "skipped";
  }
  return "unknown";
}

Result<DeliveryAlert> parse_delivery_alert(std::string_view json) {
  thread_local simdjson::ondemand::parser parser;  // reused: no allocation per alert
  simdjson::padded_string padded(json);
  DeliveryAlert a;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) {
    return Status::invalid("alert is not JSON");
  }
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Status::invalid("alert is not a JSON object");
  }
  for (auto field : obj) {
    std::string_view k;
    if (field.unescaped_key().get(k) != simdjson::SUCCESS) {
      return Status::invalid("alert has a malformed key");
    }
    simdjson::ondemand::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return Status::invalid("alert is malformed");
    auto str = [&](std::string& out) -> bool {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return false;
      out.assign(s);
      return true;
    };
    bool ok = true;
    if (k == "id") {
      ok = str(a.id);
    } else if (k == "type") {
      ok = str(a.type);
    } else if (k == "status") {
      ok = str(a.status);
    } else if (k == "severity") {
      ok = str(a.severity);
    } else if (k == "store") {
      ok = str(a.store);
    } else if (k == "sku") {
      ok = str(a.sku);
    } else if (k == "series") {
      ok = str(a.series);
    } else if (k == "summary") {
      ok = str(a.summary);
    } else if (k == "time") {
      std::string t;
      ok = str(t) && parse_rfc3339(t, a.time_ms);
    } else if (k == "details") {
      std::string_view raw;
      simdjson::ondemand::object d;
      ok = v.get_object().get(d) == simdjson::SUCCESS && d.raw_json().get(raw) == simdjson::SUCCESS;
      if (ok) a.details_json.assign(raw);
    }
    if (!ok) return Status::invalid("alert field '" + std::string(k) + "' is malformed");
  }
  if (a.id.empty() || a.type.empty() || a.status.empty()) {
    return Status::invalid("alert lacks id, type or status");
  }
  if (a.severity.empty()) a.severity = "warning";
  return a;
}

Classification classify_http(const Result<HttpResponse>& response) {
  Classification c;
  if (!response.is_ok()) {
    c.outcome = response.status().code() == Status::Code::kInvalid
                    ? DeliveryOutcome::kPermanentFailure
                    : DeliveryOutcome::kRetry;
    c.reason = response.status().message();
    return c;
  }
  const HttpResponse& r = response.value();
  c.reason = "http " + std::to_string(r.status);
  if (r.status >= 200 && r.status < 300) {
    c.outcome = DeliveryOutcome::kDelivered;
  } else if (r.status == 408 || r.status == 425 || r.status == 429 || r.status >= 500) {
    c.outcome = DeliveryOutcome::kRetry;
    c.retry_after_ms = r.retry_after_ms;
  } else if (r.status >= 300 && r.status < 400) {
    // A redirect is a configuration problem (a moved receiver, http -> https), not a
    // verdict on the alert: keep it and retry with backoff, saying what to fix. Redirects
    // are not followed (the request carries credentials).
    c.outcome = DeliveryOutcome::kRetry;
    c.retry_after_ms = r.retry_after_ms;
    c.reason = "http " + std::to_string(r.status) +
               " redirect (not followed): point the endpoint's URL at the receiver's final "
               "address; retrying";
  } else {
    c.outcome = DeliveryOutcome::kPermanentFailure;
  }
  return c;
}

namespace {
// Secrets end up in HTTP headers and URLs: a CR or LF would inject a header, other control
// characters are never part of a token.
std::string checked_secret(const std::string& key, std::string v) {
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      throw ConfigError(key,
                        c == '\r' || c == '\n'
                            ? "the secret contains a CR or LF (it would inject an HTTP header)"
                            : "the secret contains a control character",
                        "remove it (a secret file may end in one newline, nothing else)");
    }
  }
  return v;
}
}  // namespace

std::string read_secret(const Config& cfg, const std::string& prefix) {
  const std::string env_key = prefix + "_env";
  const std::string file_key = prefix + "_file";
  std::string env_name = cfg.get_string(env_key, "");
  std::string file_name = cfg.get_string(file_key, "");
  if (!env_name.empty()) {
    const char* v = std::getenv(env_name.c_str());
    if (v == nullptr || *v == '\0') {
      throw ConfigError(env_key, "environment variable " + env_name + " is unset or empty",
                        "export it before starting shelfwatch");
    }
    return checked_secret(env_key, v);
  }
  if (!file_name.empty()) {
    std::ifstream in(file_name);
    if (!in) {
      throw ConfigError(file_key, "cannot read the secret file " + file_name,
                        "check the path and its permissions");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    if (s.empty())
      throw ConfigError(file_key, "the secret file is empty", "write the secret into it");
    return checked_secret(file_key, std::move(s));
  }
  throw ConfigError(env_key, "no secret configured",
                    "set " + env_key + " (environment variable name) or " + file_key +
                        " (file path); secrets are never written in the config itself");
}

int64_t Backoff::delay_ms(uint32_t failures) {
  double d = static_cast<double>(initial_ms_) * std::pow(2.0, std::min<uint32_t>(failures, 40) - 1);
  int64_t capped = static_cast<int64_t>(std::min(d, static_cast<double>(max_ms_)));
  std::uniform_int_distribution<int64_t> dist(capped / 2, std::max<int64_t>(capped, 1));
  return dist(rng_);
}

void CircuitBreaker::on_success() {
  consecutive_ = 0;
  reopen_ = 0;
  open_ = false;
}

void CircuitBreaker::on_failure(int64_t now_ms) {
  ++consecutive_;
  if (open_) {
    // Failed half-open probe: open again for longer.
    reopen_ = std::min<uint32_t>(reopen_ + 1, 4);
    open_until_ms_ = now_ms + (open_ms_ << reopen_);
    ++times_opened_;
  } else if (consecutive_ >= threshold_) {
    open_ = true;
    open_until_ms_ = now_ms + open_ms_;
    ++times_opened_;
  }
}

void TokenBucket::refill(int64_t now_ms) {
  if (last_ms_ < 0) last_ms_ = now_ms;
  if (now_ms > last_ms_) {
    tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ms - last_ms_) / 1000.0);
    last_ms_ = now_ms;
  }
}

int64_t TokenBucket::available_at(int64_t now_ms) {
  if (rate_ <= 0) return now_ms;
  refill(now_ms);
  if (tokens_ >= 1.0) return now_ms;
  return now_ms + static_cast<int64_t>(std::ceil((1.0 - tokens_) * 1000.0 / rate_));
}

void TokenBucket::take(int64_t now_ms) {
  if (rate_ <= 0) return;
  refill(now_ms);
  tokens_ -= 1.0;
}

namespace {

std::vector<std::string> scalar_or_list(const YAML::Node& n, const std::string& key) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& e : n) {
      if (!e.IsScalar()) throw ConfigError(key, "entries must be plain values", "write [a, b]");
      out.push_back(e.Scalar());
    }
  } else {
    throw ConfigError(key, "expected a value or a list", "write [a, b]");
  }
  return out;
}

std::vector<int> resolve_names(const std::vector<std::string>& names,
                               const std::vector<std::string>& endpoint_names,
                               const std::string& key) {
  std::vector<int> out;
  for (const std::string& n : names) {
    auto it = std::find(endpoint_names.begin(), endpoint_names.end(), n);
    if (it == endpoint_names.end()) {
      std::string known;
      for (const auto& e : endpoint_names) known += (known.empty() ? "" : ", ") + e;
      throw ConfigError(key, "unknown endpoint '" + n + "'",
                        "use one of sinks.delivery.endpoints: " + known);
    }
    out.push_back(static_cast<int>(it - endpoint_names.begin()));
  }
  return out;
}

bool matches(const std::vector<std::string>& allowed, const std::string& v) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

}  // namespace

RouteTable RouteTable::from_config(const Config& cfg,
                                   const std::vector<std::string>& endpoint_names) {
  RouteTable t;
  YAML::Node routes = cfg.node("sinks.delivery.routes");
  if (routes && !routes.IsNull()) {
    if (!routes.IsSequence()) {
      throw ConfigError("sinks.delivery.routes", "expected a list of routes",
                        "write - {type: [stockout], severity: [critical], to: [oncall]}");
    }
    int i = 0;
    for (const auto& r : routes) {
      std::string key = "sinks.delivery.routes[" + std::to_string(i++) + "]";
      if (!r.IsMap())
        throw ConfigError(key, "a route must be a map", "write {type: ..., to: [...]}");
      for (const auto& kv : r) {
        std::string f = kv.first.Scalar();
        if (f != "type" && f != "severity" && f != "store" && f != "to") {
          throw ConfigError(key + "." + f, "unknown route field",
                            "use type, severity, store and to");
        }
      }
      Route route;
      route.types = scalar_or_list(r["type"], key + ".type");
      route.severities = scalar_or_list(r["severity"], key + ".severity");
      route.stores = scalar_or_list(r["store"], key + ".store");
      route.endpoints =
          resolve_names(scalar_or_list(r["to"], key + ".to"), endpoint_names, key + ".to");
      t.routes_.push_back(std::move(route));
    }
  }
  if (cfg.has("sinks.delivery.default_route")) {
    t.default_ = resolve_names(cfg.get_list("sinks.delivery.default_route"), endpoint_names,
                               "sinks.delivery.default_route");
  } else {
    for (size_t i = 0; i < endpoint_names.size(); ++i) t.default_.push_back(static_cast<int>(i));
  }
  return t;
}

const std::vector<int>& RouteTable::match(const DeliveryAlert& a) const {
  for (const Route& r : routes_) {
    if (matches(r.types, a.type) && matches(r.severities, a.severity) &&
        matches(r.stores, a.store)) {
      return r.endpoints;
    }
  }
  return default_;
}

EndpointWorker::EndpointWorker(std::string name, std::unique_ptr<DeliveryProtocol> protocol,
                               EndpointOptions opt, uint64_t seed, DoneFn on_done)
    : name_(std::move(name)),
      protocol_(std::move(protocol)),
      opt_(opt),
      on_done_(std::move(on_done)),
      backoff_(opt.backoff_initial_ms, opt.backoff_max_ms, seed),
      breaker_(opt.breaker_failures, opt.breaker_open_ms),
      bucket_(opt.rate_per_s, opt.burst) {}

EndpointWorker::~EndpointWorker() {
  stop();
}

void EndpointWorker::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  next_resend_ms_ = wall_now_ms() + protocol_->resend_interval_ms();
  thread_ = std::thread([this] { run(); });
}

void EndpointWorker::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EndpointWorker::enqueue(OutboxEntry e) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(e));
    update_gauges_locked();
  }
  cv_.notify_all();
}

std::map<std::string, DeliveryAlert> EndpointWorker::firing() const {
  std::lock_guard lk(mu_);
  return firing_;
}

void EndpointWorker::set_firing(std::map<std::string, DeliveryAlert> firing) {
  std::lock_guard lk(mu_);
  firing_ = std::move(firing);
}

std::optional<OutboxEntry> EndpointWorker::drop_oldest() {
  std::lock_guard lk(mu_);
  size_t i = in_flight_ ? 1 : 0;
  if (queue_.size() <= i) return std::nullopt;
  OutboxEntry e = std::move(queue_[i]);
  queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
  if (i == 0) {
    failures_ = 0;
    next_attempt_ms_ = 0;
  }
  stats_.dropped.fetch_add(1, std::memory_order_relaxed);
  update_gauges_locked();
  idle_cv_.notify_all();
  return e;
}

int64_t EndpointWorker::oldest_enqueued_ms() const {
  std::lock_guard lk(mu_);
  size_t i = in_flight_ ? 1 : 0;
  return queue_.size() > i ? queue_[i].enqueued_ms : INT64_MAX;
}

size_t EndpointWorker::queued() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

bool EndpointWorker::wait_idle(int64_t timeout_ms) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms),
                           [&] { return queue_.empty() && !in_callback_; });
}

void EndpointWorker::update_gauges_locked() {
  stats_.queued.store(queue_.size(), std::memory_order_relaxed);
  stats_.oldest_enqueued_ms.store(queue_.empty() ? 0 : queue_.front().enqueued_ms,
                                  std::memory_order_relaxed);
  stats_.circuit_open.store(breaker_.is_open(), std::memory_order_relaxed);
  stats_.circuit_opened.store(breaker_.times_opened(), std::memory_order_relaxed);
}

void EndpointWorker::resend_firing(int64_t now_ms) {
  std::vector<DeliveryAlert> firing;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, a] : firing_) firing.push_back(a);
  }
  if (firing.empty()) return;
  std::optional<HttpRequest> req = protocol_->build_resend(firing, now_ms);
  if (!req) return;
  stats_.requests.fetch_add(1, std::memory_order_relaxed);
  Classification c = protocol_->classify(http_.post(req->url, req->body, req->headers, opt_.http));
  if (c.outcome == DeliveryOutcome::kDelivered) {
    stats_.resends.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_.resend_failures.fetch_add(1, std::memory_order_relaxed);
  }
}

void EndpointWorker::run() {
  const int64_t resend_ms = protocol_->resend_interval_ms();
  std::unique_lock lk(mu_);
  while (!stop_) {
    int64_t now = wall_now_ms();
    if (resend_ms > 0 && now >= next_resend_ms_) {
      next_resend_ms_ = now + resend_ms;
      lk.unlock();
      resend_firing(now);
      lk.lock();
      continue;
    }
    int64_t wake = resend_ms > 0 ? next_resend_ms_ : INT64_MAX;
    if (!queue_.empty()) {
      int64_t due =
          std::max({next_attempt_ms_, breaker_.allowed_at(now), bucket_.available_at(now)});
      if (due <= now) {
        OutboxEntry entry = queue_.front();  // copy: the queue may be trimmed meanwhile
        in_flight_ = true;
        bucket_.take(now);
        DeliveryAlert to_send = entry.alert;
        if (resend_ms > 0 && to_send.resolved()) {
          // Resolve with the labels the receiver saw when the alert fired.
          auto it = firing_.find(to_send.id);
          if (it != firing_.end()) {
            to_send.type = it->second.type;
            to_send.severity = it->second.severity;
            to_send.store = it->second.store;
            to_send.sku = it->second.sku;
            to_send.series = it->second.series;
          }
        }
        lk.unlock();
        std::optional<HttpRequest> req = protocol_->build(to_send, now);
        Classification c;
        if (!req) {
          c.outcome = DeliveryOutcome::kSkipped;
        } else {
          stats_.requests.fetch_add(1, std::memory_order_relaxed);
          c = protocol_->classify(http_.post(req->url, req->body, req->headers, opt_.http));
        }
        lk.lock();
        in_flight_ = false;
        int64_t after = wall_now_ms();
        if (c.outcome == DeliveryOutcome::kRetry) {
          ++failures_;
          breaker_.on_failure(after);
          stats_.retries.fetch_add(1, std::memory_order_relaxed);
          next_attempt_ms_ = after + std::max(backoff_.delay_ms(failures_), c.retry_after_ms);
          update_gauges_locked();
          continue;
        }
        if (c.outcome != DeliveryOutcome::kSkipped) breaker_.on_success();
        failures_ = 0;
        next_attempt_ms_ = 0;
        if (!queue_.empty() && queue_.front().seq == entry.seq) queue_.pop_front();
        switch (c.outcome) {
          case DeliveryOutcome::kDelivered:
            stats_.delivered.fetch_add(1, std::memory_order_relaxed);
            if (resend_ms > 0) {
              if (entry.alert.resolved()) {
                firing_.erase(entry.alert.id);
              } else {
                firing_[entry.alert.id] = entry.alert;
              }
            }
            break;
          case DeliveryOutcome::kPermanentFailure:
            stats_.failed.fetch_add(1, std::memory_order_relaxed);
            break;
          default:
            stats_.skipped.fetch_add(1, std::memory_order_relaxed);
            break;
        }
        update_gauges_locked();
        in_callback_ = true;
        lk.unlock();
        if (on_done_) on_done_(*this, entry, c.outcome);
        lk.lock();
        in_callback_ = false;
        idle_cv_.notify_all();
        continue;
      }
      wake = std::min(wake, due);
    }
    if (wake == INT64_MAX) {
      cv_.wait(lk);
    } else {
      cv_.wait_for(lk, std::chrono::milliseconds(std::max<int64_t>(1, wake - now)));
    }
  }
}

}  // namespace sw
