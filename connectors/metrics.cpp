#include "connectors/metrics.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <CivetServer.h>
#include <prometheus/text_serializer.h>

#include "connectors/http_request.h"
#include "stream/decoder.h"
#include "stream/output.h"

namespace sw {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::string_view shelfwatch_version() {
  return "0.1.0";
}

MetricFamily metric_family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_sample(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  switch (f.type) {
    case MetricType::Counter:
      m.counter.value = value;
      break;
    case MetricType::Gauge:
      m.gauge.value = value;
      break;
    default:
      m.untyped.value = value;
      break;
  }
  f.metric.push_back(std::move(m));
}

// ---- LatencyRecorder ----

LatencyRecorder::LatencyRecorder(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void LatencyRecorder::observe(double value) {
  if (!(value == value)) return;  // NaN
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

ClientMetric LatencyRecorder::snapshot() const {
  ClientMetric m;
  uint64_t cum = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cum += buckets_[i].load(std::memory_order_relaxed);
    ClientMetric::Bucket b;
    b.cumulative_count = cum;
    b.upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  // Count = the +Inf bucket, so a concurrent observe() never makes count < a bucket.
  m.histogram.sample_count = cum;
  m.histogram.sample_sum = sum_.load(std::memory_order_relaxed);
  return m;
}

// ---- RuntimeMetrics ----

RuntimeMetrics::RuntimeMetrics()
    : processing_latency_(
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      event_lag_({0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 21600, 86400, 604800}) {}

void RuntimeMetrics::set_partition_watermark(const std::string& source, int partition,
                                             int64_t watermark_ms) {
  std::lock_guard lk(mu_);
  watermarks_[{source, partition}] = watermark_ms;
}

void RuntimeMetrics::collect(std::vector<MetricFamily>& out) const {
  auto hist = [&](const char* name, const char* help, const LatencyRecorder& r) {
    MetricFamily f = metric_family(name, help, MetricType::Histogram);
    f.metric.push_back(r.snapshot());
    out.push_back(std::move(f));
  };
  hist("shelfwatch_processing_latency_seconds",
       "Wall time from polling a batch to handing its outputs to the sinks.", processing_latency_);
  hist("shelfwatch_event_lag_seconds", "Wall clock minus event time when an event is applied.",
       event_lag_);
  std::lock_guard lk(mu_);
  if (!watermarks_.empty()) {
    MetricFamily f = metric_family("shelfwatch_source_watermark_timestamp_seconds",
                                   "Event-time watermark per source partition.", MetricType::Gauge);
    for (const auto& [k, v] : watermarks_) {
      add_sample(f, {{"source", k.first}, {"partition", std::to_string(k.second)}},
                 static_cast<double>(v) / 1000.0);
    }
    out.push_back(std::move(f));
  }
}

// ---- TaskCountersCollector ----

void TaskCountersCollector::add_task(const TaskCounters* counters) {
  std::lock_guard lk(mu_);
  tasks_.push_back(counters);
}

std::vector<MetricFamily> TaskCountersCollector::Collect() const {
  std::lock_guard lk(mu_);
  auto ld = [](const std::atomic<uint64_t>& c) {
    return static_cast<double>(c.load(std::memory_order_relaxed));
  };
  std::vector<MetricFamily> out;
  auto scalar = [&](const char* name, const char* help, MetricType type, auto get) {
    MetricFamily f = metric_family(name, help, type);
    double v = 0;
    for (const TaskCounters* t : tasks_) v += get(*t);
    add_sample(f, {}, v);
    out.push_back(std::move(f));
  };
  auto by_label = [&](const char* name, const char* help, const char* label, int n, auto label_of,
                      auto get) {
    MetricFamily f = metric_family(name, help, MetricType::Counter);
    for (int i = 0; i < n; ++i) {
      double v = 0;
      for (const TaskCounters* t : tasks_) v += get(*t, i);
      add_sample(f, {{label, std::string(label_of(i))}}, v);
    }
    out.push_back(std::move(f));
  };
  auto type_name = [](int i) { return event_type_name(static_cast<EventType>(i)); };

  scalar("shelfwatch_events_read_total", "Input records read (before decoding).",
         MetricType::Counter, [&](const TaskCounters& t) { return ld(t.read); });
  by_label("shelfwatch_events_applied_total", "Events applied to state, by event type.", "type",
           kEventTypeCount, type_name,
           [&](const TaskCounters& t, int i) { return ld(t.applied[i]); });
  by_label("shelfwatch_events_duplicate_total",
           "Events ignored as duplicates (repeated event_id), by event type.", "type",
           kEventTypeCount, type_name,
           [&](const TaskCounters& t, int i) { return ld(t.duplicates[i]); });
  by_label("shelfwatch_events_late_total",
           "Events later than the allowed lateness, sent to the late output, by event type.",
           "type", kEventTypeCount, type_name,
           [&](const TaskCounters& t, int i) { return ld(t.late[i]); });
  // DecodeError 0 is kNone: never dead-lettered.
  by_label(
      "shelfwatch_events_dead_lettered_total",
      "Records sent to the dead-letter output, by error code.", "reason", kDecodeErrorCount - 1,
      [](int i) { return decode_error_code(static_cast<DecodeError>(i + 1)); },
      [&](const TaskCounters& t, int i) { return ld(t.dead_lettered[i + 1]); });
  by_label(
      "shelfwatch_outputs_total", "Output records produced, by output stream.", "stream",
      kOutputStreamCount, [](int i) { return output_stream_name(static_cast<OutputStream>(i)); },
      [&](const TaskCounters& t, int i) { return ld(t.outputs[i]); });
  scalar("shelfwatch_checkpoints_total", "Checkpoints committed.", MetricType::Counter,
         [&](const TaskCounters& t) { return ld(t.checkpoints); });
  scalar("shelfwatch_checkpoint_failures_total", "Checkpoints that failed to commit.",
         MetricType::Counter, [&](const TaskCounters& t) { return ld(t.checkpoint_failures); });
  {
    MetricFamily f = metric_family("shelfwatch_checkpoint_duration_seconds",
                                   "Time to write and sync checkpoints.", MetricType::Summary);
    ClientMetric m;
    for (const TaskCounters* t : tasks_) {
      m.summary.sample_count += t->checkpoints.load(std::memory_order_relaxed);
      m.summary.sample_sum += ld(t->checkpoint_duration_us_total) / 1e6;
    }
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  scalar("shelfwatch_checkpoint_last_duration_seconds", "Duration of the last checkpoint.",
         MetricType::Gauge,
         [&](const TaskCounters& t) { return ld(t.checkpoint_duration_us_last) / 1e6; });
  scalar("shelfwatch_checkpoint_last_size_bytes", "Bytes written by the last checkpoint.",
         MetricType::Gauge, [&](const TaskCounters& t) { return ld(t.checkpoint_bytes_last); });
  scalar("shelfwatch_state_keys", "Keys held in operator state.", MetricType::Gauge,
         [&](const TaskCounters& t) { return ld(t.state_keys); });
  scalar("shelfwatch_state_bytes", "Approximate bytes of operator state.", MetricType::Gauge,
         [&](const TaskCounters& t) { return ld(t.state_bytes); });
  {
    MetricFamily wm = metric_family("shelfwatch_watermark_timestamp_seconds",
                                    "Event-time watermark per task.", MetricType::Gauge);
    MetricFamily mx = metric_family("shelfwatch_max_event_timestamp_seconds",
                                    "Largest event time seen per task.", MetricType::Gauge);
    for (size_t i = 0; i < tasks_.size(); ++i) {
      int64_t w = tasks_[i]->watermark_ms.load(std::memory_order_relaxed);
      int64_t m = tasks_[i]->max_event_ms.load(std::memory_order_relaxed);
      // INT64_MIN = nothing seen yet; INT64_MAX = end of input (end of time).
      if (w != INT64_MIN && w != INT64_MAX) {
        add_sample(wm, {{"task", std::to_string(i)}}, static_cast<double>(w) / 1000.0);
      }
      if (m != INT64_MIN)
        add_sample(mx, {{"task", std::to_string(i)}}, static_cast<double>(m) / 1000.0);
    }
    if (!wm.metric.empty()) out.push_back(std::move(wm));
    if (!mx.metric.empty()) out.push_back(std::move(mx));
  }
  return out;
}

// ---- HTTP server ----

namespace {

void reply(mg_connection* conn, int code, std::string_view content_type, std::string_view body,
           std::string_view extra_headers = "") {
  const char* reason = code == 200   ? "OK"
                       : code == 401 ? "Unauthorized"
                       : code == 404 ? "Not Found"
                       : code == 405 ? "Method Not Allowed"
                       : code == 409 ? "Conflict"
                       : code == 431 ? "Request Header Fields Too Large"
                       : code == 503 ? "Service Unavailable"
                                     : "Error";
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n%.*s\r\n",
            code, reason, static_cast<int>(content_type.size()), content_type.data(), body.size(),
            static_cast<int>(extra_headers.size()), extra_headers.data());
  mg_write(conn, body.data(), body.size());
}

// One endpoint: the method it answers, and the token check for protected paths.
class FnHandler final : public CivetHandler {
 public:
  //! `token`: the server's token (empty = open); it is checked when `protect` is set.
  FnHandler(std::string_view method, bool protect, const std::string* token,
            std::function<void(mg_connection*)> fn)
      : method_(method), protect_(protect), token_(token), fn_(std::move(fn)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override { return handle("GET", conn); }
  bool handlePost(CivetServer*, mg_connection* conn) override { return handle("POST", conn); }
  bool handlePut(CivetServer*, mg_connection* conn) override { return handle("PUT", conn); }
  bool handleDelete(CivetServer*, mg_connection* conn) override { return handle("DELETE", conn); }

 private:
  bool handle(std::string_view method, mg_connection* conn) {
    // civetweb parses at most MG_MAX_HEADERS header lines and silently drops the rest:
    // a request that filled them all is refused rather than half-read.
    if (mg_get_request_info(conn)->num_headers >= MG_MAX_HEADERS) {
      reply(conn, 431, "text/plain", "too many header lines\n");
      return true;
    }
    if (protect_ && !token_->empty()) {
      const char* auth = mg_get_header(conn, "Authorization");
      if (!http::bearer_token_matches(auth ? auth : "", *token_)) {
        reply(conn, 401, "application/json",
              "{\"error\":\"this endpoint needs Authorization: Bearer <metrics.auth token>\"}",
              "WWW-Authenticate: Bearer\r\n");
        return true;
      }
    }
    if (method != method_) {
      reply(conn, 405, "text/plain", "use " + std::string(method_) + "\n",
            "Allow: " + std::string(method_) + "\r\n");
      return true;
    }
    try {
      fn_(conn);
    } catch (const std::exception& e) {
      reply(conn, 500, "text/plain", std::string("internal error: ") + e.what() + "\n");
    }
    return true;
  }

  std::string_view method_;
  bool protect_;
  const std::string* token_;
  std::function<void(mg_connection*)> fn_;
};

}  // namespace

struct MetricsServer::Impl {
  std::unique_ptr<CivetServer> server;
  std::vector<std::unique_ptr<FnHandler>> handlers;
};

MetricsServer::MetricsServer(MetricsServerOptions opt)
    : opt_(std::move(opt)),
      task_collector_(std::make_shared<TaskCountersCollector>()),
      runtime_(std::make_shared<RuntimeMetrics>()),
      impl_(std::make_unique<Impl>()) {
  // Slow or idle clients must not starve health checks and scrapes (issue 21): civetweb
  // gives each connection a worker thread for its whole life, so there are many cheap
  // workers (idle ones only cost their stack's touched pages), each connection gets at most
  // request_timeout_ms to send its request headers (civetweb bounds the whole header read,
  // not each byte), no keep-alive (a scrape is one request), and a short linger on close.
  std::vector<std::string> options = {
      "listening_ports", opt_.listen, "num_threads", std::to_string(std::max(1, opt_.threads)),
      "request_timeout_ms", std::to_string(std::max(100, opt_.request_timeout_ms)),
      "enable_keep_alive", "no", "linger_timeout_ms", "100", "max_request_size",
      std::to_string(std::max(1024, opt_.max_request_bytes)),
      // Accepted connections waiting for a free worker; beyond it the kernel's listen
      // backlog holds them (a flood costs queue slots, never the task's time).
      "connection_queue", "64", "listen_backlog", "256"};
  try {
    impl_->server = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    throw std::runtime_error("metrics.listen: cannot serve on " + opt_.listen + ": " + e.what());
  }
  std::vector<int> ports = impl_->server->getListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();

  auto add = [&](const char* uri, std::function<void(mg_connection*)> fn,
                 std::string_view method = "GET") {
    // Protection is decided by the handler's own path, so no spelling of a request path
    // (dot segments, encodings) reaches a protected handler without the token check.
    impl_->handlers.push_back(std::make_unique<FnHandler>(method, http::path_requires_token(uri),
                                                          &opt_.auth_token, std::move(fn)));
    impl_->server->addHandler(uri, impl_->handlers.back().get());
  };
  add("/metrics", [this](mg_connection* c) {
    reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", render_metrics());
  });
  add("/healthz", [](mg_connection* c) { reply(c, 200, "text/plain", "ok\n"); });
  add("/readyz", [this](mg_connection* c) {
    bool ready = opt_.ready ? opt_.ready() : runtime_->ready();
    if (ready) {
      reply(c, 200, "text/plain", "ready\n");
      return;
    }
    std::string reason = opt_.not_ready_reason ? opt_.not_ready_reason() : std::string();
    if (reason.empty()) reason = runtime_->not_ready_reason();
    reply(c, 503, "text/plain", reason.empty() ? "not ready\n" : "not ready: " + reason + "\n");
  });
  add("/alerts", [this](mg_connection* c) {
    std::string body = opt_.alerts_query ? opt_.alerts_query() : "[]";
    reply(c, 200, "application/json", body);
  });
  add("/state", [this](mg_connection* c) {
    const mg_request_info* ri = mg_get_request_info(c);
    std::string_view store, sku;
    if (!http::parse_state_path(ri->local_uri_raw ? ri->local_uri_raw : "", store, sku)) {
      reply(c, 404, "application/json", "{\"error\":\"use /state/<store>/<sku>\"}");
      return;
    }
    std::string body = opt_.state_query ? opt_.state_query(store, sku) : "";
    if (body.empty()) {
      reply(c, 404, "application/json", "{\"error\":\"unknown store/sku\"}");
    } else {
      reply(c, 200, "application/json", body);
    }
  });
  add(
      "/admin",
      [this](mg_connection* c) {
        const mg_request_info* ri = mg_get_request_info(c);
        std::string_view path = ri->local_uri_raw ? ri->local_uri_raw : "";
        if (path != "/admin/reload" || !opt_.reload) {
          reply(c, 404, "application/json", "{\"error\":\"admin endpoints: POST /admin/reload\"}");
          return;
        }
        auto [code, body] = opt_.reload();
        reply(c, code, "application/json", body);
      },
      "POST");
}

MetricsServer::~MetricsServer() {
  if (impl_ && impl_->server) impl_->server->close();
}

void MetricsServer::add_collectable(std::shared_ptr<prometheus::Collectable> c) {
  std::lock_guard lk(mu_);
  collectables_.push_back(std::move(c));
}

void MetricsServer::add_probe(const Probe* probe) {
  if (probe == nullptr) return;
  std::lock_guard lk(mu_);
  probes_.push_back(probe);
}

void collect_probes(const std::vector<const Probe*>& probes, std::vector<MetricFamily>& out) {
  std::map<std::string, size_t, std::less<>> index;  // name -> family in `added`
  std::vector<MetricFamily> added;
  for (const Probe* probe : probes) {
    probe->for_each([&](const Probe::Metric& m) {
      double v =
          m.kind == Probe::Kind::kGauge ? m.gauge.value() : static_cast<double>(m.counter.value());
      if (v != v) return;  // a gauge not known yet
      std::string name = "shelfwatch_" + m.name;
      auto it = index.find(name);
      if (it == index.end()) {
        it = index.emplace(name, added.size()).first;
        added.push_back(metric_family(
            name, m.help, m.kind == Probe::Kind::kGauge ? MetricType::Gauge : MetricType::Counter));
      }
      std::vector<ClientMetric::Label> labels;
      for (const auto& [k, val] : m.labels) labels.push_back({k, val});
      add_sample(added[it->second], std::move(labels), v);
    });
  }
  for (auto& f : added) out.push_back(std::move(f));
}

std::string MetricsServer::render_metrics() const {
  std::vector<MetricFamily> families = task_collector_->Collect();
  runtime_->collect(families);
  {
    std::lock_guard lk(mu_);
    collect_probes(probes_, families);
    for (const auto& c : collectables_) {
      std::vector<MetricFamily> more = c->Collect();
      for (auto& f : more) families.push_back(std::move(f));
    }
  }
  MetricFamily build = metric_family(
      "shelfwatch_build_info", "Build information; the value is always 1.", MetricType::Gauge);
  add_sample(build, {{"version", std::string(shelfwatch_version())}, {"compiler", __VERSION__}}, 1);
  families.push_back(std::move(build));
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, families);
  return os.str();
}

}  // namespace sw
