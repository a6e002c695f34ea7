#include "connectors/delivery_sink.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <tuple>

#include <simdjson.h>

#include "connectors/alertmanager.h"
#include "connectors/http_client.h"
#include "connectors/metrics.h"
#include "connectors/pagerduty.h"
#include "connectors/slack.h"

namespace sw {

using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

constexpr std::string_view kSeverities[] = {"info", "warning", "critical", "emergency"};

template <class List>
std::string bounded(std::string_view v, const List& allowed) {
  for (std::string_view a : allowed) {
    if (a == v) return std::string(v);
  }
  return "other";
}

std::string encode_entry(int64_t enqueued_ms, std::string_view json) {
  std::string v = std::to_string(enqueued_ms);
  v += ' ';
  v += json;
  return v;
}

bool decode_entry(std::string_view value, int64_t& enqueued_ms, std::string_view& json) {
  size_t sp = value.find(' ');
  if (sp == std::string_view::npos) return false;
  auto [p, ec] = std::from_chars(value.data(), value.data() + sp, enqueued_ms);
  if (ec != std::errc() || p != value.data() + sp) return false;
  json = value.substr(sp + 1);
  return true;
}

// Top-level or details-level string field of a price trigger ("reason", "approval").
std::string trigger_field(std::string_view json, std::string_view name) {
  thread_local simdjson::ondemand::parser parser;  // reused: no allocation per alert
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) return "";
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return "";
  std::string nested;
  for (auto field : obj) {
    std::string_view k;
    if (field.unescaped_key().get(k) != simdjson::SUCCESS) return "";
    simdjson::ondemand::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return "";
    if (k == name) {
      std::string_view s;
      if (v.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
    } else if (k == "details") {
      simdjson::ondemand::object d;
      if (v.get_object().get(d) != simdjson::SUCCESS) continue;
      for (auto df : d) {
        std::string_view dk;
        if (df.unescaped_key().get(dk) != simdjson::SUCCESS) break;
        if (dk != name) continue;
        std::string_view s;
        if (df.value().get_string().get(s) == simdjson::SUCCESS) nested.assign(s);
        break;
      }
    }
  }
  return nested;
}

}  // namespace

// Reads the sink's counters at scrape time. Detached (sink_ = null) when the sink goes away
// first, so a metrics server holding it never reads freed memory.
class DeliverySink::Collector final : public prometheus::Collectable {
 public:
  explicit Collector(size_t store_limit) : store_limit_(store_limit) {}

  void attach(const DeliverySink* s) {
    std::lock_guard lk(mu_);
    sink_ = s;
  }
  void count_alert(const std::string& type, const std::string& severity, const std::string& status,
                   const std::string& store) {
    std::lock_guard lk(mu_);
    ++alerts_[{type, severity, status}];
    if (status == "firing" && !store.empty()) {
      std::string label = store;
      if (!stores_.count(store) && stores_.size() >= store_limit_) label = "other";
      ++stores_[label];
    }
  }
  void count_trigger(std::string reason, std::string approval) {
    std::lock_guard lk(mu_);
    if (reason.empty()) reason = "unknown";
    if (approval.empty()) approval = "unknown";
    if (!triggers_.count({reason, approval}) && triggers_.size() >= 64) reason = approval = "other";
    ++triggers_[{reason, approval}];
  }

  std::vector<MetricFamily> Collect() const override {
    std::lock_guard lk(mu_);
    std::vector<MetricFamily> out;
    MetricFamily alerts =
        metric_family("shelfwatch_alerts_total",
                      "Alert records produced, by type, severity and status.", MetricType::Counter);
    for (const auto& [k, v] : alerts_) {
      add_sample(
          alerts,
          {{"type", std::get<0>(k)}, {"severity", std::get<1>(k)}, {"status", std::get<2>(k)}},
          static_cast<double>(v));
    }
    if (!alerts.metric.empty()) out.push_back(std::move(alerts));
    MetricFamily stores = metric_family(
        "shelfwatch_store_alerts_total",
        "Firing alerts by store (the first sinks.delivery.store_label_limit stores; the rest as "
        "\"other\").",
        MetricType::Counter);
    for (const auto& [k, v] : stores_) add_sample(stores, {{"store", k}}, static_cast<double>(v));
    if (!stores.metric.empty()) out.push_back(std::move(stores));
    MetricFamily trig = metric_family("shelfwatch_price_triggers_total",
                                      "Price triggers produced, by reason and approval class.",
                                      MetricType::Counter);
    for (const auto& [k, v] : triggers_) {
      add_sample(trig, {{"reason", k.first}, {"approval", k.second}}, static_cast<double>(v));
    }
    if (!trig.metric.empty()) out.push_back(std::move(trig));
    if (sink_ == nullptr) return out;

    MetricFamily deliveries = metric_family(
        "shelfwatch_deliveries_total",
        "Finished deliveries by sink, endpoint and outcome (delivered, failed = permanent "
        "rejection, dropped = outbox budget, skipped = nothing to send).",
        MetricType::Counter);
    MetricFamily retries =
        metric_family("shelfwatch_delivery_retries_total",
                      "Delivery attempts that failed and will be retried.", MetricType::Counter);
    MetricFamily requests = metric_family("shelfwatch_delivery_requests_total",
                                          "HTTP requests sent to receivers (attempts and resends).",
                                          MetricType::Counter);
    MetricFamily resends = metric_family(
        "shelfwatch_delivery_resends_total",
        "Periodic re-posts of firing alerts (Alertmanager), by result.", MetricType::Counter);
    MetricFamily depth =
        metric_family("shelfwatch_outbox_entries",
                      "Deliveries waiting in the outbox, per endpoint.", MetricType::Gauge);
    MetricFamily age = metric_family(
        "shelfwatch_outbox_oldest_age_seconds",
        "Age of the oldest waiting delivery, per endpoint (0 = empty).", MetricType::Gauge);
    MetricFamily breaker =
        metric_family("shelfwatch_delivery_circuit_open",
                      "1 while the endpoint's circuit breaker is open.", MetricType::Gauge);
    int64_t now = wall_now_ms();
    std::lock_guard workers_lock(sink_->workers_mu_);
    for (const auto& w : sink_->workers_) {
      const EndpointStats& s = w->stats();
      std::string sink(w->kind());
      auto ld = [](const std::atomic<uint64_t>& c) {
        return static_cast<double>(c.load(std::memory_order_relaxed));
      };
      add_sample(deliveries, {{"sink", sink}, {"endpoint", w->name()}, {"outcome", "delivered"}},
                 ld(s.delivered));
      add_sample(deliveries, {{"sink", sink}, {"endpoint", w->name()}, {"outcome", "failed"}},
                 ld(s.failed));
      add_sample(deliveries, {{"sink", sink}, {"endpoint", w->name()}, {"outcome", "dropped"}},
                 ld(s.dropped));
      add_sample(deliveries, {{"sink", sink}, {"endpoint", w->name()}, {"outcome", "skipped"}},
                 ld(s.skipped));
      add_sample(retries, {{"sink", sink}, {"endpoint", w->name()}}, ld(s.retries));
      add_sample(requests, {{"sink", sink}, {"endpoint", w->name()}}, ld(s.requests));
      if (w->protocol_resends()) {
        add_sample(resends, {{"sink", sink}, {"endpoint", w->name()}, {"result", "ok"}},
                   ld(s.resends));
        add_sample(resends, {{"sink", sink}, {"endpoint", w->name()}, {"result", "error"}},
                   ld(s.resend_failures));
      }
      add_sample(depth, {{"sink", sink}, {"endpoint", w->name()}}, ld(s.queued));
      int64_t oldest = s.oldest_enqueued_ms.load(std::memory_order_relaxed);
      add_sample(
          age, {{"sink", sink}, {"endpoint", w->name()}},
          oldest == 0 ? 0.0 : std::max<double>(0, static_cast<double>(now - oldest) / 1000.0));
      add_sample(breaker, {{"sink", sink}, {"endpoint", w->name()}},
                 s.circuit_open.load(std::memory_order_relaxed) ? 1 : 0);
    }
    for (MetricFamily* f : {&deliveries, &retries, &requests, &resends, &depth, &age, &breaker}) {
      if (!f->metric.empty()) out.push_back(std::move(*f));
    }
    MetricFamily bytes =
        metric_family("shelfwatch_outbox_bytes", "Bytes of outbox entries in the state store.",
                      MetricType::Gauge);
    add_sample(bytes, {},
               static_cast<double>(sink_->outbox_bytes_.load(std::memory_order_relaxed)));
    out.push_back(std::move(bytes));
    MetricFamily budget = metric_family(
        "shelfwatch_outbox_budget_bytes",
        "Configured outbox disk budget (sinks.delivery.outbox_max_bytes).", MetricType::Gauge);
    add_sample(budget, {}, static_cast<double>(sink_->opt_.outbox_max_bytes));
    out.push_back(std::move(budget));
    MetricFamily bad =
        metric_family("shelfwatch_delivery_unparseable_total",
                      "Alert records that could not be parsed for delivery.", MetricType::Counter);
    add_sample(bad, {}, static_cast<double>(sink_->unroutable_.load(std::memory_order_relaxed)));
    out.push_back(std::move(bad));
    return out;
  }

 private:
  mutable std::mutex mu_;
  const DeliverySink* sink_ = nullptr;
  size_t store_limit_;
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> alerts_;
  std::map<std::string, uint64_t> stores_;
  std::map<std::pair<std::string, std::string>, uint64_t> triggers_;
};

DeliverySink::DeliverySink(std::vector<DeliveryEndpointSpec> endpoints, RouteTable routes,
                           DeliverySinkOptions opt, StateStore* ack_store)
    : opt_(opt),
      routes_(std::move(routes)),
      ack_store_(ack_store),
      collector_(std::make_shared<Collector>(opt.store_label_limit)) {
  uint64_t seed = opt_.seed;
  for (auto& spec : endpoints) {
    workers_.push_back(std::make_unique<EndpointWorker>(
        spec.name, std::move(spec.protocol), spec.options, seed++,
        [this](EndpointWorker& w, const OutboxEntry& e, DeliveryOutcome o) { on_done(w, e, o); }));
  }
  next_seq_.assign(workers_.size(), 0);
  collector_->attach(this);
  for (auto& w : workers_) w->start();
}

DeliverySink::~DeliverySink() {
  for (auto& w : workers_) w->stop();
  collector_->attach(nullptr);
}

std::string DeliverySink::outbox_key(const std::string& endpoint, uint64_t seq) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(seq));
  std::string k = endpoint;
  k += '\0';
  k += hex;
  return k;
}

void DeliverySink::count_alert(const DeliveryAlert& a, OutputStream stream, std::string_view json) {
  if (stream == OutputStream::kPriceTriggers) {
    collector_->count_trigger(trigger_field(json, "reason"), trigger_field(json, "approval"));
    return;
  }
  collector_->count_alert(bounded(a.type, opt_.alert_types), bounded(a.severity, kSeverities),
                          a.status == "firing" || a.status == "resolved" ? a.status : "other",
                          a.store);
}

void DeliverySink::on_done(EndpointWorker& w, const OutboxEntry& e, DeliveryOutcome o) {
  StateBatch b;
  b.remove(kOutboxNamespace, outbox_key(w.name(), e.seq));
  if (o == DeliveryOutcome::kDelivered && w.protocol_resends()) {
    std::string fk = w.name();
    fk += '\0';
    fk += e.alert.id;
    if (e.alert.resolved()) {
      b.remove(kFiringNamespace, fk);
    } else {
      b.put(kFiringNamespace, fk, e.alert_json);
    }
  }
  outbox_bytes_.fetch_sub(static_cast<int64_t>(e.bytes), std::memory_order_relaxed);
  std::lock_guard lk(ack_mu_);
  if (ack_store_ != nullptr && ack_store_->commit(b).is_ok()) return;
  for (size_t i = 0; i < b.size(); ++i) {
    StateBatch::OpView op = b.op(i);
    if (op.kind == StateBatch::OpKind::kPut) {
      pending_acks_.put(op.ns, op.key, op.value);
    } else {
      pending_acks_.remove(op.ns, op.key);
    }
  }
}

void DeliverySink::enforce_budget(StateBatch& batch, int64_t incoming) {
  while (outbox_bytes_.load(std::memory_order_relaxed) + incoming > opt_.outbox_max_bytes) {
    size_t best = workers_.size();
    int64_t best_ms = INT64_MAX;
    for (size_t i = 0; i < workers_.size(); ++i) {
      int64_t t = workers_[i]->oldest_enqueued_ms();
      if (t < best_ms) {
        best_ms = t;
        best = i;
      }
    }
    if (best == workers_.size()) break;
    std::optional<OutboxEntry> e = workers_[best]->drop_oldest();
    if (!e) break;
    batch.remove(kOutboxNamespace, outbox_key(workers_[best]->name(), e->seq));
    outbox_bytes_.fetch_sub(static_cast<int64_t>(e->bytes), std::memory_order_relaxed);
  }
  // Still over (a single checkpoint's alerts exceed the budget): drop the oldest staged ones.
  int64_t over = outbox_bytes_.load(std::memory_order_relaxed) + incoming - opt_.outbox_max_bytes;
  size_t drop = 0;
  while (over > 0 && drop < staged_.size()) {
    over -= static_cast<int64_t>(staged_[drop].entry.bytes);
    workers_[staged_[drop].endpoint]->stats().dropped.fetch_add(1, std::memory_order_relaxed);
    ++drop;
  }
  staged_.erase(staged_.begin(), staged_.begin() + static_cast<std::ptrdiff_t>(drop));
}

Status DeliverySink::prepare(std::span<const OutputRecord> records, StateBatch& batch) {
  if (!recovered_) {
    // Sequence numbers continue after the recovered entries; without recover() they would
    // overwrite pending deliveries of the previous run.
    return Status::internal("delivery sink: recover() must run before the first prepare()");
  }
  {
    std::lock_guard lk(ack_mu_);
    for (size_t i = 0; i < pending_acks_.size(); ++i) {
      StateBatch::OpView op = pending_acks_.op(i);
      if (op.kind == StateBatch::OpKind::kPut) {
        batch.put(op.ns, op.key, op.value);
      } else {
        batch.remove(op.ns, op.key);
      }
    }
    pending_acks_.clear();
  }
  int64_t now = wall_now_ms();
  size_t first_new = staged_.size();
  for (const OutputRecord& r : records) {
    if (r.stream != OutputStream::kAlerts && r.stream != OutputStream::kPriceTriggers) continue;
    Result<DeliveryAlert> parsed = parse_delivery_alert(r.json);
    if (!parsed.is_ok()) {
      unroutable_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    count_alert(parsed.value(), r.stream, r.json);
    if (r.stream == OutputStream::kPriceTriggers && !opt_.include_price_triggers) continue;
    for (int ep : routes_.match(parsed.value())) {
      Staged s;
      s.endpoint = static_cast<size_t>(ep);
      s.entry.seq = next_seq_[s.endpoint]++;
      s.entry.enqueued_ms = now;
      s.entry.alert_json = r.json;
      s.entry.alert = parsed.value();
      s.entry.bytes = workers_[s.endpoint]->name().size() + 17 + 21 + r.json.size();
      staged_.push_back(std::move(s));
    }
  }
  int64_t incoming = 0;
  for (size_t i = first_new; i < staged_.size(); ++i)
    incoming += static_cast<int64_t>(staged_[i].entry.bytes);
  enforce_budget(batch, incoming);
  // Staged entries not yet released (an earlier checkpoint failed) are written again: the same
  // keys, so the puts are idempotent.
  for (const Staged& s : staged_) {
    batch.put(kOutboxNamespace, outbox_key(workers_[s.endpoint]->name(), s.entry.seq),
              encode_entry(s.entry.enqueued_ms, s.entry.alert_json));
  }
  return Status::ok();
}

Status DeliverySink::committed() {
  for (Staged& s : staged_) {
    outbox_bytes_.fetch_add(static_cast<int64_t>(s.entry.bytes), std::memory_order_relaxed);
    workers_[s.endpoint]->enqueue(std::move(s.entry));
  }
  staged_.clear();
  return Status::ok();
}

Status DeliverySink::recover(const StateStore& store) {
  if (recovered_) return Status::ok();
  recovered_ = true;
  std::vector<std::vector<OutboxEntry>> loaded(workers_.size());
  std::vector<std::string> unknown;
  Status s =
      store.scan_prefix(kOutboxNamespace, "", [&](std::string_view key, std::string_view value) {
        size_t nul = key.find('\0');
        std::string_view endpoint = key.substr(0, nul);
        size_t idx = workers_.size();
        for (size_t i = 0; i < workers_.size(); ++i) {
          if (workers_[i]->name() == endpoint) idx = i;
        }
        OutboxEntry e;
        std::string_view json;
        uint64_t seq = 0;
        bool ok = nul != std::string_view::npos && idx < workers_.size() &&
                  decode_entry(value, e.enqueued_ms, json);
        if (ok) {
          std::string_view hex = key.substr(nul + 1);
          auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), seq, 16);
          ok = ec == std::errc() && p == hex.data() + hex.size();
        }
        Result<DeliveryAlert> alert =
            ok ? parse_delivery_alert(json) : Result<DeliveryAlert>(Status::invalid(""));
        if (!alert.is_ok()) {
          // Endpoint removed from config, or an unreadable entry: remove it at the next checkpoint.
          unknown.emplace_back(key);
          return true;
        }
        e.seq = seq;
        e.alert_json.assign(json);
        e.alert = std::move(alert.value());
        e.bytes = key.size() + value.size();
        loaded[idx].push_back(std::move(e));
        return true;
      });
  SW_RETURN_IF_ERROR(s);
  std::vector<std::map<std::string, DeliveryAlert>> firing(workers_.size());
  s = store.scan_prefix(kFiringNamespace, "", [&](std::string_view key, std::string_view value) {
    size_t nul = key.find('\0');
    if (nul == std::string_view::npos) return true;
    std::string_view endpoint = key.substr(0, nul);
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i]->name() != endpoint) continue;
      Result<DeliveryAlert> a = parse_delivery_alert(value);
      if (a.is_ok()) firing[i][a.value().id] = std::move(a.value());
    }
    return true;
  });
  SW_RETURN_IF_ERROR(s);
  {
    std::lock_guard lk(ack_mu_);
    for (const std::string& k : unknown) pending_acks_.remove(kOutboxNamespace, k);
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i]->protocol_resends()) workers_[i]->set_firing(std::move(firing[i]));
    for (OutboxEntry& e : loaded[i]) {
      next_seq_[i] = std::max(next_seq_[i], e.seq + 1);
      outbox_bytes_.fetch_add(static_cast<int64_t>(e.bytes), std::memory_order_relaxed);
      workers_[i]->enqueue(std::move(e));
    }
  }
  return Status::ok();
}

Status DeliverySink::reconfigure(DeliverySinkConfig config) {
  if (config.endpoints.size() != workers_.size()) {
    return Status::invalid(
        "sinks.delivery.endpoints: adding or removing endpoints cannot change while running; "
        "restart to apply");
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    const DeliveryEndpointSpec& spec = config.endpoints[i];
    if (spec.name != workers_[i]->name() || spec.protocol->kind() != workers_[i]->kind()) {
      return Status::invalid("sinks.delivery.endpoints." + workers_[i]->name() +
                             ": renaming an endpoint or changing its kind cannot change while "
                             "running; restart to apply");
    }
  }
  uint64_t seed = config.options.seed;
  for (size_t i = 0; i < workers_.size(); ++i) {
    DeliveryEndpointSpec& spec = config.endpoints[i];
    auto next = std::make_unique<EndpointWorker>(
        spec.name, std::move(spec.protocol), spec.options, seed++,
        [this](EndpointWorker& w, const OutboxEntry& e, DeliveryOutcome o) { on_done(w, e, o); });
    EndpointWorker& old = *workers_[i];
    old.stop();  // an in-flight request finishes (and is acknowledged) first
    const EndpointStats& a = old.stats();
    EndpointStats& b = next->stats();
    using Count = std::atomic<uint64_t>;
    const std::pair<const Count*, Count*> carried[] = {{&a.delivered, &b.delivered},
                                                       {&a.failed, &b.failed},
                                                       {&a.skipped, &b.skipped},
                                                       {&a.dropped, &b.dropped},
                                                       {&a.retries, &b.retries},
                                                       {&a.requests, &b.requests},
                                                       {&a.resends, &b.resends},
                                                       {&a.resend_failures, &b.resend_failures},
                                                       {&a.circuit_opened, &b.circuit_opened}};
    for (auto [from, to] : carried) to->store(from->load(std::memory_order_relaxed));
    if (old.protocol_resends()) next->set_firing(old.firing());
    // drop_oldest() counts a drop; these entries move, they are not dropped.
    while (std::optional<OutboxEntry> e = old.drop_oldest()) next->enqueue(std::move(*e));
    std::unique_ptr<EndpointWorker> retired;
    {
      std::lock_guard lk(workers_mu_);
      retired = std::exchange(workers_[i], std::move(next));
    }
    workers_[i]->start();
  }
  routes_ = std::move(config.routes);
  const uint64_t keep_seed = opt_.seed;
  opt_ = std::move(config.options);
  opt_.seed = keep_seed;
  return Status::ok();
}

std::shared_ptr<prometheus::Collectable> DeliverySink::collectable() const {
  return collector_;
}

size_t DeliverySink::pending() const {
  size_t n = 0;
  for (const auto& w : workers_) n += w->queued();
  return n;
}

bool DeliverySink::wait_idle(int64_t timeout_ms) {
  int64_t deadline = wall_now_ms() + timeout_ms;
  bool all = true;
  for (auto& w : workers_) {
    all = w->wait_idle(std::max<int64_t>(0, deadline - wall_now_ms())) && all;
  }
  return all;
}

Status DeliverySink::close() {
  bool drained = wait_idle(opt_.drain_timeout_ms);
  for (auto& w : workers_) w->stop();
  Status s = Status::ok();
  std::lock_guard lk(ack_mu_);
  if (ack_store_ != nullptr && !pending_acks_.empty()) {
    s = ack_store_->commit(pending_acks_);
    if (s.is_ok()) pending_acks_.clear();
  }
  if (!drained) {
    std::fprintf(stderr,
                 "shelfwatch: delivery: %zu deliveries still queued at shutdown; they stay "
                 "in the outbox for the next run\n",
                 pending());
  }
  return s;
}

// ---- factory ----

namespace {

constexpr std::string_view kEndpointKinds[] = {"pagerduty", "slack", "alertmanager"};

// Every value an endpoint's keys hold, read by read_endpoint_keys() before any check that
// looks at several of them or at the world outside the config (secrets, URLs).
struct EndpointKeys {
  EndpointOptions options;
  std::string link_template;
  // pagerduty
  std::string url = PagerDutyOptions{}.url;
  std::string source = PagerDutyOptions{}.source;
  double rate_per_min = 120;
  double burst = 10;
  // slack
  bool resolved_note = true;
  int64_t min_interval_ms = 1000;
  // alertmanager
  std::vector<std::string> urls;
  bool has_bearer_token = false;
  int64_t resend_interval_ms = 60000;
  int64_t ends_at_factor = 4;
  double rate_per_s = 0;
};

// A secret is named by `<prefix>_env` or `<prefix>_file`; read_secret() resolves it later.
// True when either key is set.
bool read_secret_keys(const Config& cfg, const std::string& prefix) {
  (void)cfg.get_string(prefix + "_env", "");
  (void)cfg.get_string(prefix + "_file", "");
  return cfg.has(prefix + "_env") || cfg.has(prefix + "_file");
}

// Reads every key an endpoint of `kind` has, values checked only by the getters (type,
// range). Called for the endpoint's own kind, and through Config::read_unused() for the other
// kinds (and for all kinds of a disabled endpoint), so that every endpoint key is known: one
// of another kind is "unused", a misspelt one is unknown.
void read_endpoint_keys(const Config& cfg, const std::string& p, std::string_view kind,
                        EndpointKeys& k) {
  EndpointOptions& o = k.options;
  o.backoff_initial_ms = cfg.get_duration_ms(p + ".backoff_initial", 1000);
  o.backoff_max_ms = cfg.get_duration_ms(p + ".backoff_max", 300000);
  o.breaker_failures = static_cast<uint32_t>(cfg.get_int(p + ".breaker_failures", 5, 1, 1000));
  o.breaker_open_ms = cfg.get_duration_ms(p + ".breaker_open", 30000);
  o.http.timeout_ms = cfg.get_duration_ms(p + ".timeout", 10000);
  o.http.connect_timeout_ms = cfg.get_duration_ms(p + ".connect_timeout", 5000);
  k.link_template = cfg.get_string(p + ".link_template", "");
  if (kind == "pagerduty") {
    k.url = cfg.get_string(p + ".url", k.url);
    (void)read_secret_keys(cfg, p + ".routing_key");
    k.source = cfg.get_string(p + ".source", k.source);
    k.rate_per_min = cfg.get_double(p + ".rate_per_min", 120, 0, 1e6);
    k.burst = cfg.get_double(p + ".burst", 10, 1, 1e6);
  } else if (kind == "slack") {
    (void)read_secret_keys(cfg, p + ".webhook_url");
    k.resolved_note = cfg.get_enum(p + ".resolved", "note", {"note", "none"}) == "note";
    k.min_interval_ms = cfg.get_duration_ms(p + ".min_interval", 1000);
  } else if (kind == "alertmanager") {
    k.urls = cfg.get_list(p + ".urls");
    k.has_bearer_token = read_secret_keys(cfg, p + ".bearer_token");
    k.resend_interval_ms = cfg.get_duration_ms(p + ".resend_interval", 60000);
    k.ends_at_factor = cfg.get_int(p + ".ends_at_factor", 4, 2, 100);
    k.rate_per_s = cfg.get_double(p + ".rate_per_s", 0, 0, 1e6);
  }
}

// A receiver URL that cannot work is a config error at load, not an endless retry.
void check_endpoint_url(const std::string& key, const std::string& url) {
  Status s = check_http_url(url);
  if (!s.is_ok()) {
    throw ConfigError(key, "not a usable receiver URL: " + s.message(),
                      "use http://host[:port]/path or https://...");
  }
}

// The key a secret was read from (for errors about its value).
std::string secret_source_key(const Config& cfg, const std::string& prefix) {
  return cfg.get_string(prefix + "_env", "").empty() ? prefix + "_file" : prefix + "_env";
}

// The workers of enabled endpoint `name` of `kind` (one per Alertmanager replica), appended to
// `specs`; their indexes to `workers`. Checks URLs and reads secrets.
void build_endpoint(const Config& cfg, const std::string& p, const std::string& name,
                    const std::string& kind, EndpointKeys k,
                    std::vector<DeliveryEndpointSpec>& specs, std::vector<int>& workers) {
  EndpointOptions eo = k.options;
  if (kind == "pagerduty") {
    check_endpoint_url(p + ".url", k.url);
    PagerDutyOptions po;
    po.url = std::move(k.url);
    po.routing_key = read_secret(cfg, p + ".routing_key");
    po.source = std::move(k.source);
    po.link_template = std::move(k.link_template);
    eo.rate_per_s = k.rate_per_min / 60.0;
    eo.burst = k.burst;
    workers.push_back(static_cast<int>(specs.size()));
    specs.push_back({name, std::make_unique<PagerDutyProtocol>(std::move(po)), eo});
  } else if (kind == "slack") {
    SlackOptions so;
    so.webhook_url = read_secret(cfg, p + ".webhook_url");
    check_endpoint_url(secret_source_key(cfg, p + ".webhook_url"), so.webhook_url);
    so.link_template = std::move(k.link_template);
    so.resolved_note = k.resolved_note;
    eo.rate_per_s = k.min_interval_ms > 0 ? 1000.0 / static_cast<double>(k.min_interval_ms) : 0;
    eo.burst = 1;
    workers.push_back(static_cast<int>(specs.size()));
    specs.push_back({name, std::make_unique<SlackProtocol>(std::move(so)), eo});
  } else {
    if (k.urls.empty()) {
      throw ConfigError(p + ".urls", "no Alertmanager URL",
                        "list every replica: urls: [http://am1:9093, http://am2:9093]");
    }
    std::string token = k.has_bearer_token ? read_secret(cfg, p + ".bearer_token") : "";
    if (k.resend_interval_ms <= 0) {
      throw ConfigError(p + ".resend_interval", "must be > 0", "use e.g. 1m");
    }
    for (const std::string& u : k.urls) check_endpoint_url(p + ".urls", u);
    for (size_t i = 0; i < k.urls.size(); ++i) {
      AlertmanagerOptions ao;
      ao.base_url = k.urls[i];
      ao.bearer_token = token;
      ao.resend_interval_ms = k.resend_interval_ms;
      ao.ends_at_factor = k.ends_at_factor;
      ao.link_template = k.link_template;
      EndpointOptions e = eo;
      e.rate_per_s = k.rate_per_s;
      e.burst = std::max(1.0, k.rate_per_s);
      std::string ep_name = k.urls.size() == 1 ? name : name + "#" + std::to_string(i);
      workers.push_back(static_cast<int>(specs.size()));
      specs.push_back({ep_name, std::make_unique<AlertmanagerProtocol>(std::move(ao)), e});
    }
  }
}

}  // namespace

DeliverySinkConfig delivery_sink_config(const Config& cfg, std::vector<std::string> alert_types) {
  const std::string root = "sinks.delivery";
  DeliverySinkOptions opt;
  opt.alert_types = std::move(alert_types);
  opt.outbox_max_bytes = cfg.get_int(root + ".outbox_max_bytes", 64ll << 20, 1, int64_t{1} << 40);
  opt.drain_timeout_ms = cfg.get_duration_ms(root + ".drain_timeout", 10000);
  opt.include_price_triggers = cfg.get_bool(root + ".include_price_triggers", false);
  opt.store_label_limit =
      static_cast<size_t>(cfg.get_int(root + ".store_label_limit", 50, 0, 10000));
  std::vector<DeliveryEndpointSpec> specs;
  std::vector<std::string> route_names;  // configured names (routes refer to these)
  std::vector<std::vector<int>> expand;  // configured name -> worker indexes
  for (const std::string& name : cfg.children(root + ".endpoints")) {
    const std::string p = root + ".endpoints." + name;
    route_names.push_back(name);
    expand.emplace_back();
    if (!cfg.get_bool(p + ".enabled", true)) {
      // Every kind's keys are known here, none is checked: a disabled endpoint may keep a
      // placeholder URL or an unset secret, but not a misspelt key.
      cfg.read_unused(p + ".enabled=false", [&] {
        (void)cfg.get_string(p + ".kind", "");
        EndpointKeys unused;
        for (std::string_view kind : kEndpointKinds) read_endpoint_keys(cfg, p, kind, unused);
      });
      continue;
    }
    std::string kind = cfg.get_enum(p + ".kind", "", {"pagerduty", "slack", "alertmanager"});
    EndpointKeys keys;
    read_endpoint_keys(cfg, p, kind, keys);
    // Another kind's keys (a Slack webhook on a PagerDuty endpoint) are unused, not unknown.
    cfg.read_unused(p + ".kind=" + kind, [&] {
      EndpointKeys unused;
      for (std::string_view other : kEndpointKinds) {
        if (other != kind) read_endpoint_keys(cfg, p, other, unused);
      }
    });
    build_endpoint(cfg, p, name, kind, std::move(keys), specs, expand.back());
  }
  // Routes name configured endpoints; expand each to its workers (Alertmanager replicas).
  RouteTable named = RouteTable::from_config(cfg, route_names);
  RouteTable routes;
  auto expand_list = [&](const std::vector<int>& in) {
    std::vector<int> out;
    for (int n : in) {
      for (int w : expand[static_cast<size_t>(n)]) {
        if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
      }
    }
    return out;
  };
  for (const RouteTable::Route& r : named.routes()) {
    RouteTable::Route x = r;
    x.endpoints = expand_list(r.endpoints);
    routes.add(std::move(x));
  }
  routes.set_default(expand_list(named.default_endpoints()));
  return {std::move(specs), std::move(routes), std::move(opt)};
}

std::unique_ptr<DeliverySink> make_delivery_sink(DeliverySinkConfig config, StateStore* ack_store) {
  return std::make_unique<DeliverySink>(std::move(config.endpoints), std::move(config.routes),
                                        std::move(config.options), ack_store);
}

std::unique_ptr<DeliverySink> make_delivery_sink(const Config& cfg, StateStore* ack_store,
                                                 std::vector<std::string> alert_types) {
  return make_delivery_sink(delivery_sink_config(cfg, std::move(alert_types)), ack_store);
}

}  // namespace sw
