#include "cli/pipeline.h"

#include <chrono>
#include <cstdio>
#include <fstream>

#include "connectors/file_sink.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "connectors/metrics.h"
#include "state/memory_store.h"
#include "state/rocksdb_store.h"
#include "stream/json_writer.h"
#include "stream/output_stamp.h"

namespace sw::cli {

const char* const kDefaultConfig = R"(# shelfwatch embedded default configuration
source:
  kind: file
  file:
    path: events.jsonl
state:
  dir: state
  checkpoint_interval_ms: 1000
sinks:
  file:
    dir: out
delivery: exactly_once
operators:
  low_stock:
    enabled: true
)";

namespace {
constexpr const char* kDefaultMetricsListen = "127.0.0.1:9464";

// Operations keys (issue 20): the shutdown budget and the endpoints' bearer token.
void parse_operations(const Config& config, PipelineOptions& o) {
  if (o.parts.task) {
    o.shutdown_timeout_ms = config.get_duration_ms("pipeline.shutdown_timeout", 30000);
    if (o.shutdown_timeout_ms < 1000) {
      throw ConfigError("pipeline.shutdown_timeout", "must be at least 1s",
                        "give the drain time to checkpoint and flush, e.g. 30s");
    }
    if (o.delivery && o.delivery->options.drain_timeout_ms >= o.shutdown_timeout_ms) {
      throw ConfigError("pipeline.shutdown_timeout",
                        "must be longer than sinks.delivery.drain_timeout (" +
                            std::to_string(o.delivery->options.drain_timeout_ms) +
                            " ms), which the shutdown drain includes",
                        "raise it, or lower sinks.delivery.drain_timeout");
    }
  }
  if (o.parts.live &&
      (config.has("metrics.auth.token_env") || config.has("metrics.auth.token_file"))) {
    o.metrics_auth_token = read_secret(config, "metrics.auth.token");
  }
}

const char* const kReloadsHelp = "Configuration reloads (SIGHUP, POST /admin/reload), by result.";

void parse_backup_schedule(const Config& config, PipelineOptions& o) {
  o.backup_dir = config.get_string("state.backup.dir", "");
  o.backup_every_ms = config.get_duration_ms("state.backup.every", 0);
  o.backup_keep = static_cast<int>(config.get_int("state.backup.keep", 3, 1, 10000));
  if (o.backup_every_ms > 0 && o.backup_every_ms < 100) {
    throw ConfigError("state.backup.every", "is shorter than 100ms", "use e.g. 1h or 15m");
  }
  if (o.backup_every_ms > 0 && o.backup_dir.empty()) {
    throw ConfigError("state.backup.every", "is set but state.backup.dir is not",
                      "set state.backup.dir to a directory on another disk");
  }
  if (!o.backup_dir.empty() && o.backup_every_ms == 0) {
    throw ConfigError("state.backup.dir", "is set but state.backup.every is not",
                      "set state.backup.every (e.g. 1h), or remove state.backup.dir");
  }
}

// metrics.listen is "off", "" or [host:]port with host an IPv4 address, a name or [IPv6]:
// checked in phase 1, so `validate` refuses what the server would fail to parse. A port that
// is taken is only found when run binds it.
void check_listen(const std::string& listen) {
  if (listen.empty() || listen == "off") return;
  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  std::string port = colon == std::string::npos ? listen : listen.substr(colon + 1);
  bool ok = !port.empty() && port.size() <= 5 &&
            port.find_first_not_of("0123456789") == std::string::npos && std::stoi(port) <= 65535;
  if (colon != std::string::npos) {
    bool v6 = host.size() > 2 && host.front() == '[' && host.back() == ']';
    ok = ok && !host.empty() && (v6 || host.find_first_of("[]:, \t/") == std::string::npos);
  }
  if (!ok) {
    throw ConfigError("metrics.listen", "'" + listen + "' is not host:port",
                      "write e.g. 127.0.0.1:9464 or [::1]:9464, or off");
  }
}
}  // namespace

Pipeline::Pipeline() = default;
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

PipelineOptions parse_pipeline(const Config& config, const PipelineParts& parts) {
  PipelineOptions o;
  o.parts = parts;
  if (parts.task) {
    o.calendar = std::make_unique<Calendar>(config);
    o.task = TaskOptions::from_config(config);
  } else {
    o.calendar = std::make_unique<Calendar>();
  }
  if (parts.source) o.source_kind = config.get_enum("source.kind", "file", {"file", "kafka"});
  if (parts.state) {
    o.state_dir = config.get_string("state.dir", "state");
    o.memory_budget_bytes =
        static_cast<size_t>(config.get_int("state.memory_budget_mb", 256, 16, 1 << 20)) << 20;
    parse_backup_schedule(config, o);
    o.audit.inputs_per_key =
        static_cast<uint32_t>(config.get_int("state.audit.inputs_per_key", 8, 0, 64));
    o.audit.keep_records =
        static_cast<uint32_t>(config.get_int("state.audit.keep_records", 10000, 0, 10'000'000));
  }
  bool kafka_sink = false;
  if (parts.sinks) {
    o.output_dir = config.get_string("sinks.file.dir", "out");
    kafka_sink = config.get_bool("sinks.kafka.enabled", false);
  }
  o.operators =
      parts.operators.empty() ? make_operators(config) : make_operators(config, parts.operators);
  if (parts.live) {
    o.metrics_listen = config.get_string("metrics.listen", kDefaultMetricsListen);
    check_listen(o.metrics_listen);
    o.reference_items_file = config.get_string("reference.items_file", "");
  }
  if (parts.sinks) o.reset_outputs = config.get_bool("sinks.file.reset_outputs", false);
  // The other source kind's keys and a disabled Kafka sink's are read too, so that they are
  // reported as unused (a warning), while a typo among them is still an unknown key.
  if (o.source_kind == "file") {
    o.file_source = file_source_options(config);
    config.read_unused("source.kind=file", [&] { (void)kafka_source_options(config); });
  }
  if (o.source_kind == "kafka") {
    o.kafka_source = kafka_source_options(config);
    o.kafka_source.max_future_ms = o.task.max_future_ms;
    config.read_unused("source.kind=kafka", [&] { (void)file_source_options(config); });
  }
  if (parts.state) {
    o.changelog = changelog_options(
        config, o.source_kind == "kafka" ? o.kafka_source.group_id : std::string("shelfwatch"));
  }
  if (kafka_sink) {
    o.kafka_sink = kafka_sink_options(config);
  } else if (parts.sinks) {
    config.read_unused("sinks.kafka.enabled=false", [&] { (void)kafka_sink_options(config); });
  }
  if (parts.delivery) o.delivery = delivery_sink_config(config, operator_alert_types());
  parse_operations(config, o);
  if (parts.reject_unknown_keys) config.check_unknown();
  std::vector<std::string> running;
  for (const auto& op : o.operators.owned) running.emplace_back(op->name());
  o.config_version = config_version(config, std::move(running));
  o.warnings = config.unused_warnings();
  return o;
}

Pipeline open_pipeline(PipelineOptions options, PipelineInputs inputs) {
  Pipeline p;
  p.options = std::move(options);
  PipelineOptions& o = p.options;
  set_output_config_version(o.config_version);
  // The live parts first: an early metrics server (inputs.serve_metrics) answers with them.
  std::unique_ptr<OpenAlertsSink> open_alerts;
  if (o.parts.live) {
    open_alerts = std::make_unique<OpenAlertsSink>();
    p.open_alerts = open_alerts.get();
    p.queries = std::make_unique<StateQueries>();
    p.reloads = std::make_unique<ReloadRequests>();
  }
  if (inputs.serve_metrics) {
    // /healthz, /readyz (503 until start_metrics) and /metrics from here on, through the
    // changelog restore below (its progress gauges are live).
    if (o.changelog.enabled && !o.changelog.probe) o.changelog.probe = std::make_shared<Probe>();
    serve_metrics(p);
  }
  if (inputs.source != nullptr) {
    p.source = inputs.source;
  } else if (o.source_kind == "file") {
    auto src = std::make_unique<FileSource>(o.file_source);
    Status s = src->open();
    if (!s.is_ok()) throw ConfigError("source.file.path", s.message(), "check the path exists");
    p.owned_source = std::move(src);
  } else if (o.source_kind == "kafka") {
    p.owned_source = std::make_unique<KafkaSource>(o.kafka_source);
  } else {
    throw ConfigError("source.kind", "no source to open", "set source.kind: file or kafka");
  }
  if (p.owned_source) p.source = p.owned_source.get();
  StateStore* ack_store = nullptr;
  const RocksDbStateStore* rocks = nullptr;
  if (inputs.store != nullptr) {
    p.store = inputs.store;
  } else if (o.state_dir.empty()) {
    p.owned_store = std::make_unique<MemoryStateStore>();
  } else {
    RocksDbOptions ro;
    ro.path = o.state_dir;
    ro.memory_budget_bytes = o.memory_budget_bytes;
    auto r = RocksDbStateStore::open(ro);
    if (!r.is_ok()) throw StateDirError(r.status().message());
    r.value()->schedule_snapshots(o.backup_dir, o.backup_every_ms, o.backup_keep);
    rocks = r.value().get();
    if (rocks->wal_rolled_back()) {
      p.probe
          ->counter("state_wal_rollbacks_total",
                    "State WAL replays that dropped a corrupt or torn tail at start-up.")
          .add();
      p.state_warning = "the state WAL in '" + o.state_dir +
                        "' ended in a corrupt or torn record (" + rocks->wal_problem() +
                        "); the state was recovered to the last intact checkpoint and the input "
                        "is re-read from there (normal after a crash during a commit; otherwise "
                        "check the disk)";
    }
    p.owned_store = std::move(r.value());
    ack_store = p.owned_store.get();  // RocksDB commits are thread-safe
  }
  if (p.owned_store && o.changelog.enabled) {
    // The changelog decorates the local store: restored from the changelog here when the
    // local state is missing or older (docs/changelog.md). Its commits are serialised.
    auto c = ChangelogStore::open(o.changelog, std::move(p.owned_store));
    if (!c.is_ok()) {
      throw ConfigError("state.changelog.enabled", c.status().message(),
                        "check kafka.brokers and the changelog topics (docs/changelog.md)");
    }
    p.changelog = c.value().get();
    p.owned_store = std::move(c.value());
    if (ack_store != nullptr) ack_store = p.owned_store.get();
    p.probe
        ->counter(
            "changelog_starts_total",
            "Starts by what the changelog did: local, restored, republished.",
            {{"how", p.changelog->start() == ChangelogStore::Start::kLocal      ? "local"
                     : p.changelog->start() == ChangelogStore::Start::kRestored ? "restored"
                                                                                : "republished"}})
        .add();
    if (p.changelog->start() != ChangelogStore::Start::kLocal) {
      std::fprintf(stderr, "shelfwatch: %s\n", p.changelog->start_message().c_str());
    }
  }
  if (p.owned_store) p.store = p.owned_store.get();
  if (!o.output_dir.empty()) {
    auto file_sink = std::make_unique<FileSink>(o.output_dir);
    // A state restored from the changelog vouches for the outputs up to its recorded lengths.
    const bool restored =
        p.changelog != nullptr && p.changelog->start() == ChangelogStore::Start::kRestored;
    if (rocks != nullptr)
      file_sink->set_fresh_state(rocks->created() && !restored, o.reset_outputs);
    p.owned_sinks.push_back(std::move(file_sink));
  }
  if (o.kafka_sink) {
    auto sink = std::make_unique<KafkaSink>(std::move(*o.kafka_sink));
    p.kafka_sink = sink.get();
    p.owned_sinks.push_back(std::move(sink));
    o.kafka_sink.reset();
  }
  if (o.delivery) {
    auto delivery = make_delivery_sink(std::move(*o.delivery), ack_store);
    p.delivery = delivery.get();
    p.owned_sinks.push_back(std::move(delivery));
    o.delivery.reset();
  }
  if (open_alerts) p.owned_sinks.push_back(std::move(open_alerts));
  std::vector<Sink*> sinks;
  for (auto& s : p.owned_sinks) sinks.push_back(inputs.wrap_sink ? inputs.wrap_sink(*s) : s.get());
  for (Sink* s : inputs.sinks) sinks.push_back(s);
  Source* polled = inputs.wrap_source ? inputs.wrap_source(*p.source) : p.source;
  std::vector<Operator*> ops = o.operators.pointers();
  p.audit = wrap_for_audit(ops, o.audit);
  p.task = std::make_unique<Task>(o.task, *polled, sinks, *p.store, ops, *o.calendar);
  p.task->mutable_views() = o.operators.views;
  if (o.parts.live) {
    StateQueries* queries = p.queries.get();
    Task* task = p.task.get();
    ReloadRequests* reloads = p.reloads.get();
    for (const char* result : {"applied", "rejected"})
      p.probe->counter("config_reloads_total", kReloadsHelp, {{"result", result}});
    p.task->set_loop_hook([queries, reloads, task] {
      queries->serve(*task);
      reloads->serve();
    });
  }
  return p;
}

namespace {

// A source with no data that remembers the positions a restore seeks it to.
class CheckpointSource final : public Source {
 public:
  Status poll(std::vector<RawRecord>&, size_t, int) override { return Status::ok(); }
  bool at_end() const override { return true; }
  bool bounded() const override { return true; }
  Status seek(const std::vector<SourcePosition>& positions) override {
    positions_ = positions;
    return Status::ok();
  }
  std::string name() const override { return "none"; }
  const std::vector<SourcePosition>& positions() const { return positions_; }

 private:
  std::vector<SourcePosition> positions_;
};

}  // namespace

const std::vector<SourcePosition>& RestoredCheckpoint::positions() const {
  return static_cast<const CheckpointSource&>(*source).positions();
}

Status restore_checkpoint(const Config& config, const std::string& state_dir,
                          RestoredCheckpoint& out) {
  // Phase 1 checks the whole run configuration; phase 2 opens none of its I/O: the
  // checkpoint is read through the read-only store, no input is read, no output written.
  PipelineOptions options = parse_pipeline(config);
  options.output_dir.clear();
  options.kafka_sink.reset();
  options.delivery.reset();
  options.parts.live = false;
  RocksDbOptions ro;
  ro.path = state_dir;
  ro.read_only = true;
  auto opened = RocksDbStateStore::open(ro);
  if (!opened.is_ok()) return opened.status();
  out.store = std::move(opened.value());
  out.source = std::make_unique<CheckpointSource>();
  PipelineInputs inputs;
  inputs.source = out.source.get();
  inputs.store = out.store.get();
  out.pipeline = open_pipeline(std::move(options), std::move(inputs));
  return out.pipeline.task->restore();
}

void serve_metrics(Pipeline& p) {
  const std::string& listen = p.options.metrics_listen;
  if (p.metrics || listen.empty() || listen == "off") return;
  MetricsServerOptions o;
  o.listen = listen;
  StateQueries* queries = p.queries.get();
  OpenAlertsSink* open = p.open_alerts;
  o.state_query = [queries](std::string_view store, std::string_view sku) {
    return queries->query(store, sku);
  };
  o.alerts_query = [open] { return open->open_alerts_json(); };
  o.auth_token = p.options.metrics_auth_token;
  if (ReloadRequests* reloads = p.reloads.get()) {
    o.reload = [reloads]() -> std::pair<int, std::string> {
      std::optional<ReloadRequests::Result> r = reloads->request_and_wait(30000);
      std::string body;
      JsonWriter w(body);
      if (!r) {
        w.begin_object()
            .field("applied", false)
            .field("message", "the task did not run the reload within 30 s; it runs later")
            .end_object();
        return {503, body};
      }
      w.begin_object().field("applied", r->applied).field("message", r->message).end_object();
      return {r->applied ? 200 : 409, body};
    };
  }
  // The changelog's probe: the store's, or the one its restore will report to.
  const Probe* changelog =
      p.changelog != nullptr ? p.changelog->probe() : p.options.changelog.probe.get();
  o.not_ready_reason = [changelog]() -> std::string {
    if (changelog == nullptr) return "";
    double restoring = 0, records = 0, bytes = 0, seconds = 0;
    changelog->for_each([&](const Probe::Metric& m) {
      if (m.kind != Probe::Kind::kGauge) return;
      const double v = m.gauge.value();
      if (m.name == "changelog_restoring") restoring = v;
      if (m.name == "changelog_restore_records") records = v;
      if (m.name == "changelog_restore_bytes") bytes = v;
      if (m.name == "changelog_restore_seconds") seconds = v;
    });
    if (restoring != 1) return "";
    char line[160];
    std::snprintf(line, sizeof line,
                  "restoring state from the changelog: %.0f records, %.0f bytes, %.1f s", records,
                  bytes, seconds);
    return line;
  };
  try {
    p.metrics = std::make_unique<MetricsServer>(std::move(o));
  } catch (const std::exception& e) {
    throw ConfigError("metrics.listen", std::string("cannot serve metrics: ") + e.what(),
                      "pick a free host:port, or set metrics.listen: off");
  }
  p.metrics->runtime().set_not_ready_reason("starting (restoring state, opening the sources)");
  p.metrics->add_probe(p.probe.get());
  if (changelog != nullptr) p.metrics->add_probe(changelog);
}

void start_metrics(Pipeline& p) {
  serve_metrics(p);
  if (!p.metrics) return;
  p.metrics->add_task(p.task->counters());
  if (p.delivery) p.metrics->add_collectable(p.delivery->collectable());
  // Every probe, generically: the source's (consumer lag) and each operator's.
  Source* source = p.source;
  std::vector<Operator*> operators = p.options.operators.pointers();
  p.metrics->add_probe(source->probe());
  for (Operator* op : operators) p.metrics->add_probe(op->probe());
  RuntimeMetrics* rt = &p.metrics->runtime();
  std::string source_name = source->name();
  p.task->set_batch_hook([rt, source_name, source, operators](const Task::BatchStats& b) {
    source->update_probe();
    for (Operator* op : operators) op->update_probe();
    rt->processing_latency().observe(b.seconds / static_cast<double>(b.records));
    if (b.max_event_ms != INT64_MIN) {
      int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
      rt->event_lag().observe(static_cast<double>(now - b.max_event_ms) / 1000.0);
    }
    if (b.watermark_ms != INT64_MIN && b.watermark_ms != INT64_MAX) {
      rt->set_partition_watermark(source_name, 0, b.watermark_ms);
    }
  });
  rt->set_not_ready_reason("");
  rt->set_ready(true);
}

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Keys a reload may change: operators.<name>.* (but not .enabled; each operator refuses what
// shapes its state in reconfigure()), sinks.delivery.*, and the Kafka sink's routing
// (sinks.kafka.routes.*, sinks.kafka.topics.*, sinks.kafka.ce_source): each outbox entry
// names its topic and fences are per topic partition, so recovery after a crash replays
// every record to the topic it was routed to when it was staged (docs/operations.md).
bool changes_live(std::string_view key) {
  constexpr std::string_view kOperators = "operators.";
  if (starts_with(key, kOperators)) {
    std::string_view rest = key.substr(kOperators.size());
    size_t dot = rest.find('.');
    return dot != std::string_view::npos && rest.substr(dot + 1) != "enabled";
  }
  return starts_with(key, "sinks.delivery.") || starts_with(key, "sinks.kafka.routes.") ||
         starts_with(key, "sinks.kafka.topics.") || key == "sinks.kafka.ce_source";
}

// Why a key cannot change live, for the refusal (docs/operations.md "Hot reload").
std::string refusal(const std::string& key) {
  std::string why = key + " cannot change while running; restart to apply";
  if (starts_with(key, "sinks.file.")) {
    why +=
        " (the checkpoint records each output file's committed length, which recovery "
        "truncates back to)";
  } else if (starts_with(key, "sinks.kafka.") || starts_with(key, "kafka.") || key == "delivery") {
    why += " (the idempotent producer and the exactly-once outbox are set up once per run)";
  } else if (starts_with(key, "state.") || starts_with(key, "source.")) {
    why += " (the checkpoint and the source positions belong to them)";
  }
  return why;
}

ReloadRequests::Result reject(Pipeline& p, std::string why) {
  p.probe->counter("config_reloads_total", kReloadsHelp, {{"result", "rejected"}}).add();
  std::fprintf(stderr, "shelfwatch run: reload rejected, the running configuration stays: %s\n",
               why.c_str());
  return {false, std::move(why)};
}

}  // namespace

ReloadRequests::Result reload_pipeline(Pipeline& p, Config& running,
                                       const std::function<Config()>& load) {
  Config next;
  PipelineOptions parsed;
  try {
    next = load();
    parsed = parse_pipeline(next, p.options.parts);
  } catch (const std::exception& e) {
    return reject(p, e.what());
  }
  const auto before = running.flat_values();
  const auto after = next.flat_values();
  std::vector<std::string> changed, refused;
  auto compare = [&](const std::string& key) {
    auto a = before.find(key);
    auto b = after.find(key);
    if (a != before.end() && b != after.end() && a->second == b->second) return;
    changed.push_back(key);
    if (!changes_live(key)) refused.push_back(refusal(key));
  };
  for (const auto& [key, value] : before) compare(key);
  for (const auto& [key, value] : after) {
    if (!before.count(key)) compare(key);
  }
  if (!refused.empty()) {
    std::string why;
    for (const std::string& r : refused) why += (why.empty() ? "" : "; ") + r;
    return reject(p, why);
  }
  if (changed.empty()) {
    p.probe->counter("config_reloads_total", kReloadsHelp, {{"result", "applied"}}).add();
    std::fprintf(stderr, "shelfwatch run: reload applied: no changes\n");
    return {true, "no changes"};
  }
  auto section_changed = [&](const std::string& prefix) {
    for (const std::string& key : changed) {
      if (key.rfind(prefix, 0) == 0) return true;
    }
    return false;
  };
  // Dry run on fresh operators built from the running configuration (same settings as the
  // live ones, no state): an operator whose changed settings cannot change live refuses
  // here, naming the key, before anything is applied.
  std::vector<Operator*> live;
  const std::vector<std::string_view>& only = p.options.parts.operators;
  OperatorSet dry = only.empty() ? make_operators(running) : make_operators(running, only);
  for (const auto& fresh : dry.owned) {
    if (!section_changed("operators." + std::string(fresh->name()) + ".")) continue;
    Status s = fresh->reconfigure(next);
    if (!s.is_ok()) return reject(p, s.message());
    // The operators themselves, not the task's view of them (audit wrappers).
    for (const auto& op : p.options.operators.owned) {
      if (op->name() == fresh->name()) live.push_back(op.get());
    }
  }
  const bool delivery_changed =
      p.delivery != nullptr && parsed.delivery && section_changed("sinks.delivery.");
  const bool kafka_changed =
      p.kafka_sink != nullptr && parsed.kafka_sink && section_changed("sinks.kafka.");
  if (delivery_changed || kafka_changed) {
    // The committer thread routes outputs during a commit: none may be in flight.
    Status s = p.task->wait_checkpoint();
    if (s.is_ok() && delivery_changed) s = p.delivery->reconfigure(std::move(*parsed.delivery));
    if (!s.is_ok()) return reject(p, s.message());
  }
  // Cannot fail: every key it takes was checked by phase 1.
  if (kafka_changed) p.kafka_sink->reroute(*parsed.kafka_sink);
  for (Operator* op : live) {
    Status s = op->reconfigure(next);
    SW_CHECK(s.is_ok(), "an operator refused a reload its dry run accepted");
  }
  running = std::move(next);
  // Records rendered from here on carry the new settings' version (task thread: renderers
  // run on it, between batches).
  std::vector<std::string> names;
  for (const auto& op : parsed.operators.owned) names.emplace_back(op->name());
  p.options.config_version = config_version(running, std::move(names));
  set_output_config_version(p.options.config_version);
  std::string what = "changed ";
  for (size_t i = 0; i < changed.size(); ++i) what += (i ? ", " : "") + changed[i];
  p.probe->counter("config_reloads_total", kReloadsHelp, {{"result", "applied"}}).add();
  std::fprintf(stderr, "shelfwatch run: reload applied: %s\n", what.c_str());
  return {true, what};
}

void load_reference_items(Pipeline& p) {
  const std::string& path = p.options.reference_items_file;
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in)
    throw ConfigError("reference.items_file", "cannot open '" + path + "'", "check the path");
  Decoder decoder;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Event e;
    DecodeError err = decoder.decode(line, 0, e);
    if (err != DecodeError::kNone || e.type != EventType::kItem) {
      throw ConfigError("reference.items_file",
                        path + ":" + std::to_string(n) + ": " +
                            (err != DecodeError::kNone ? decoder.detail() : "not an item record"),
                        "every line must be an `item` record of the input contract");
    }
    p.task->apply_reference(e);
  }
}

}  // namespace sw::cli
