// Kafka benchmark (issue #3), run by `make bench` with no arguments. Everything goes through
// the real Kafka protocol over TCP to an in-process librdkafka mock cluster:
//   kcat_consume  `kcat -C ... | wc -l` reading the whole input topic (the yardstick)
//   kafka_e2e     input topic -> KafkaSource -> Task (decode, operators, RocksDB checkpoints)
//                 -> KafkaSink (exactly_once, idempotent producer) -> fresh output topics per
//                 run; outputs and late events per run are printed (they must not vary)
//   kafka_latency event-to-output latency: probe records (malformed on purpose, so each one
//                 yields exactly one DLQ output right away through the same task and sink
//                 path as alerts) sent among valid events at a steady 10 000 events/s (not a
//                 flood: the pipeline sustains far more); latency = steady_clock time the
//                 output is read from its topic by a consumer - time the probe was produced,
//                 with per-stage clocks (see print_latency). In rounds on fresh topics (see
//                 latency_rounds), after warm-up probes that are not counted. Measured with no
//                 pipeline (one broker hop: the floor), in at_least_once mode and in
//                 exactly_once mode with 100 ms checkpoints.
// kcat and kafka_e2e alternate three times; medians are printed. Prints JSON lines; asserts
// nothing about time. KAFKA_BENCH_EVENTS overrides the input size (default 1,000,000),
// KAFKA_BENCH_ONLY=latency runs only the latency part, KAFKA_BENCH_LATENCY_ROUNDS the rounds,
// KAFKA_BENCH_PARTITIONS the partitions of the throughput input topic (default 64; the
// mock keeps ~5 MB per partition, so with fewer partitions lower KAFKA_BENCH_EVENTS),
// KAFKA_BENCH_LATENCY_PARTITIONS the partitions of the latency topics (default 1),
// KAFKA_BENCH_PROBE_DUMP=<prefix> writes every probe's stage clocks to CSV files,
// KAFKA_BENCH_PROPERTIES="name=value,..." passes librdkafka properties to the pipeline.

#include <librdkafka/rdkafka.h>

#include <pthread.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/pipeline.h"
#include "connectors/kafka_common.h"
#include "connectors/kafka_mock_broker.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "sim/generator.h"
#include "stream/task.h"

namespace {

using Clock = std::chrono::steady_clock;
int kInputPartitions = 64;           // the mock keeps ~5 MB per partition
constexpr int kLatencyRate = 10000;  // events/s in latency runs (1 in 10 is a probe)
int kLatencyPartitions = 1;          // input and DLQ topic partitions in latency runs

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string field(const std::string& line, const char* name) {
  std::string pat = std::string("\"") + name + "\":\"";
  size_t a = line.find(pat);
  if (a == std::string::npos) return {};
  a += pat.size();
  size_t b = line.find('"', a);
  return line.substr(a, b - a);
}

std::vector<std::string> generate(size_t n) {
  sw::GeneratorOptions o;
  o.stores = 100;
  o.skus = static_cast<int>(std::max<size_t>(10, n / 400));
  o.days = 1;
  o.events_per_key_day = 4;
  o.metric_interval_min = 0;
  o.truth_demand = false;
  std::vector<std::string> lines;
  std::string carry;
  sw::ChunkWriter w = [&](std::string_view chunk) {
    carry.append(chunk);
    size_t pos = 0, nl;
    while ((nl = carry.find('\n', pos)) != std::string::npos) {
      if (lines.size() < n) lines.emplace_back(carry, pos, nl - pos);
      pos = nl + 1;
    }
    carry.erase(0, pos);
    return sw::Status::ok();
  };
  sw::GeneratorStats stats;
  if (!sw::generate_stream(o, w, nullptr, stats).is_ok()) std::abort();
  return lines;
}

sw::kafka::HandlePtr producer(const std::string& bootstrap, const char* linger) {
  return sw::kafka::make_handle(
      RD_KAFKA_PRODUCER,
      sw::kafka::make_conf(bootstrap,
                           {{"linger.ms", linger}, {"queue.buffering.max.messages", "1000000"}}));
}

void send(rd_kafka_t* rk, const std::string& topic, const std::string& line, int partitions) {
  std::string key = field(line, "store") + "|" + field(line, "sku");
  int32_t p = sw::kafka::murmur2_partition(key, partitions);
  while (true) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(p),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) return;
    rd_kafka_poll(rk, 10);
  }
}

// Throughput runs keep librdkafka's default fetch.wait.max.ms (as kcat does); latency runs set
// it to 1 ms because the mock cluster answers an empty fetch only after that wait.
// all_operators: the default operator set (forecast, anomaly, low_stock); otherwise
// low_stock only.
std::string pipeline_yaml(const std::string& bootstrap, const std::string& in,
                          const std::string& out_prefix, const std::string& delivery,
                          bool stop_at_end, bool all_operators = true) {
  // KAFKA_BENCH_PROPERTIES="name=value,...": librdkafka properties for the pipeline's clients
  // (A/B of settings).
  std::string props;
  if (const char* e = std::getenv("KAFKA_BENCH_PROPERTIES")) {
    std::string list = e;
    for (size_t at = 0; at < list.size();) {
      size_t end = std::min(list.find(',', at), list.size());
      std::string kv = list.substr(at, end - at);
      size_t eq = kv.find('=');
      if (eq != std::string::npos) {
        props += (props.empty() ? "" : ", ") + kv.substr(0, eq) + ": '" + kv.substr(eq + 1) + "'";
      }
      at = end + 1;
    }
  }
  std::string y = "kafka: {brokers: '" + bootstrap + "', properties: {" + props + "}}\n";
  y += "state: {dir: ''}\n";  // set by Pipeline
  y += "source:\n  kind: kafka\n  kafka:\n    topics: [" + in + "]\n    mode: assign\n";
  y += std::string("    stop_at_end: ") + (stop_at_end ? "true" : "false") + "\n";
  if (!stop_at_end) y += "    properties: {fetch.wait.max.ms: 1}\n";
  y += "delivery: " + delivery + "\n";
  y += "sinks:\n  file: {dir: ''}\n  kafka:\n    enabled: true\n    topics:\n";
  for (int i = 0; i < sw::kOutputStreamCount; ++i) {
    std::string s(sw::output_stream_name(static_cast<sw::OutputStream>(i)));
    y += "      " + s + ": " + out_prefix + s + "\n";
  }
  y += all_operators ? "operators: {low_stock: {enabled: true}}\n"
                     : "operators: {low_stock: {enabled: true}, forecast: {enabled: false}, "
                       "anomaly: {enabled: false}}\n";
  return y;
}

struct ProbeClocks;

struct Pipeline {
  std::unique_ptr<sw::Source> stamping_source;  // latency runs: probe clocks
  std::unique_ptr<sw::Sink> stamping_sink;
  sw::cli::Pipeline built;  // declared after the wrappers: the task stops first
  sw::Task* task = nullptr;
  sw::KafkaSink* sink = nullptr;

  Pipeline(const std::string& yaml, const std::string& dir, int64_t checkpoint_ms,
           ProbeClocks* clocks = nullptr);
};

double kcat_consume(const std::string& bootstrap, const std::string& topic, size_t expect,
                    const std::string& extra = "") {
  std::string cmd =
      "kcat -C -q -e -o beginning -b " + bootstrap + " -t " + topic + extra + " -f '%s\\n' | wc -l";
  auto t0 = Clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  unsigned long long n = 0;
  if (std::fscanf(p, "%llu", &n) != 1) n = 0;
  pclose(p);
  double secs = seconds_since(t0);
  if (n != expect) {
    std::fprintf(stderr, "kafka_bench: kcat read %llu of %zu records\n", n, expect);
    return -1;
  }
  return secs;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

// Latency probes: malformed records "BAD-PROBE <index> <produce ns>" sent among valid events
// at a steady paced rate. Each probe yields one DLQ output at once through the same task and
// sink path as alerts. Per probe, the stage clocks (steady_clock ns, 0 = not seen):
struct ProbeClocks {
  std::vector<int64_t> produced, polled, released, returned, arrived;
  explicit ProbeClocks(size_t n) : produced(n), polled(n), released(n), returned(n), arrived(n) {}
};

// Index of a probe whose payload or DLQ JSON holds "BAD-PROBE <index> ", or -1.
int64_t probe_index(std::string_view text) {
  size_t at = text.find("BAD-PROBE ");
  if (at == std::string_view::npos) return -1;
  return std::atoll(std::string(text.substr(at + 10, 20)).c_str());
}

// Source wrapper: stamps when the task's poll() hands a probe over (task thread).
class StampingSource final : public sw::Source {
 public:
  StampingSource(sw::Source& inner, ProbeClocks& clocks) : inner_(inner), clocks_(clocks) {}
  sw::Status poll(std::vector<sw::RawRecord>& out, size_t max, int timeout_ms) override {
    size_t first = out.size();
    sw::Status s = inner_.poll(out, max, timeout_ms);
    int64_t t = now_ns();
    for (size_t i = first; i < out.size(); ++i) {
      int64_t k = probe_index(out[i].payload);
      if (k >= 0 && static_cast<size_t>(k) < clocks_.polled.size()) clocks_.polled[k] = t;
    }
    return s;
  }
  bool at_end() const override { return inner_.at_end(); }
  sw::Status seek(const std::vector<sw::SourcePosition>& p) override { return inner_.seek(p); }
  std::string name() const override { return inner_.name(); }
  bool partition_idle(int32_t p) const override { return inner_.partition_idle(p); }
  std::span<const int32_t> partitions() const override { return inner_.partitions(); }
  void on_checkpoint(const std::vector<sw::SourcePosition>& p) override { inner_.on_checkpoint(p); }

 private:
  sw::Source& inner_;
  ProbeClocks& clocks_;
};

// Sink wrapper: stamps when committed() starts releasing a probe's DLQ record and when it
// returns (task thread in at_least_once, the checkpoint committer in exactly_once; never both
// at once).
class StampingSink final : public sw::Sink {
 public:
  StampingSink(sw::Sink& inner, ProbeClocks& clocks) : inner_(inner), clocks_(clocks) {}
  std::string name() const override { return inner_.name(); }
  sw::Status prepare(std::span<const sw::OutputRecord> records, sw::StateBatch& b) override {
    for (const sw::OutputRecord& r : records) {
      int64_t k = r.stream == sw::OutputStream::kDlq ? probe_index(r.json) : -1;
      if (k >= 0 && static_cast<size_t>(k) < clocks_.released.size()) staged_.push_back(k);
    }
    return inner_.prepare(records, b);
  }
  sw::Status committed() override {
    int64_t t = now_ns();
    sw::Status s = inner_.committed();
    int64_t t2 = now_ns();
    for (int64_t k : staged_) {
      clocks_.released[k] = t;
      clocks_.returned[k] = t2;
    }
    staged_.clear();
    return s;
  }
  sw::Status drain() override { return inner_.drain(); }
  sw::Status recover(const sw::StateStore& s) override { return inner_.recover(s); }
  sw::Status close() override { return inner_.close(); }

 private:
  sw::Sink& inner_;
  ProbeClocks& clocks_;
  std::vector<int64_t> staged_;
};

Pipeline::Pipeline(const std::string& yaml, const std::string& dir, int64_t checkpoint_ms,
                   ProbeClocks* clocks) {
  // Built like `run` (cli/pipeline.h): Kafka source and sink, RocksDB state in `dir`; no
  // file sink, delivery sink, metrics or live state.
  sw::Config config = sw::Config::from_yaml(yaml);
  sw::cli::PipelineParts parts;
  parts.delivery = parts.live = false;
  sw::cli::PipelineOptions options = sw::cli::parse_pipeline(config, parts);
  options.state_dir = dir;
  options.task.checkpoint_interval_ms = checkpoint_ms;
  sw::cli::PipelineInputs inputs;
  if (clocks) {
    inputs.wrap_source = [this, clocks](sw::Source& s) {
      stamping_source = std::make_unique<StampingSource>(s, *clocks);
      return stamping_source.get();
    };
    inputs.wrap_sink = [this, clocks](sw::Sink& s) {
      stamping_sink = std::make_unique<StampingSink>(s, *clocks);
      return stamping_sink.get();
    };
  }
  std::filesystem::remove_all(dir);
  built = sw::cli::open_pipeline(std::move(options), std::move(inputs));
  task = built.task.get();
  sink = built.kafka_sink;
  if (!task->restore().is_ok()) std::abort();
}

// CPU seconds used so far by this process's live threads, by group: the mock cluster's
// thread ("rdk:mock"), librdkafka client threads of every client ("rdk:*"), the task thread
// and its checkpoint committers ("sw-task"), everything else (sender, reader, RocksDB).
struct ThreadCpu {
  double mock = 0, clients = 0, task = 0, other = 0;
};
ThreadCpu thread_cpu() {
  ThreadCpu c;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm, stat;
    if (FILE* f = std::fopen((e.path() / "comm").c_str(), "r")) {
      char buf[64] = {};
      if (std::fgets(buf, sizeof buf, f)) comm = buf;
      std::fclose(f);
    }
    if (FILE* f = std::fopen((e.path() / "stat").c_str(), "r")) {
      char buf[1024] = {};
      if (std::fgets(buf, sizeof buf, f)) stat = buf;
      std::fclose(f);
    }
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    // Fields after the comm: state is field 3; utime and stime are fields 14 and 15.
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(stat.c_str() + close + 2,
                    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
      continue;
    }
    double secs = (utime + stime) / tick;
    if (comm.rfind("rdk:mock", 0) == 0) {
      c.mock += secs;
    } else if (comm.rfind("rdk:", 0) == 0) {
      c.clients += secs;
    } else if (comm.rfind("sw-task", 0) == 0) {
      c.task += secs;
    } else {
      c.other += secs;
    }
  }
  return c;
}

struct LatencyResult {
  size_t sent = 0, received = 0, warmup = 0;
  std::vector<double> total_ms, in_hop_ms, task_ms, sink_call_ms, out_hop_ms;
  std::vector<double> round_p99_ms;
  double seconds = 0;  // sending time, over which cpu is measured
  ThreadCpu cpu;       // CPU seconds per group while probes were sent and read
};

// Sends clocks.produced.size() probes (the first `warmup` are not counted), each after
// valid_per_probe valid events, paced at kLatencyRate events/s, into `in`, and reads them back
// from `out_topic`.
LatencyResult paced_probes(const std::string& bootstrap, const std::vector<std::string>& lines,
                           const std::string& in, const std::string& out_topic, ProbeClocks& clocks,
                           size_t warmup) {
  const int valid_per_probe = 9;
  const size_t probes = clocks.produced.size();
  auto reader = sw::kafka::make_handle(
      RD_KAFKA_CONSUMER, sw::kafka::make_conf(bootstrap, {{"group.id", "bench-reader"},
                                                          {"fetch.wait.max.ms", "1"},
                                                          {"auto.offset.reset", "earliest"}}));
  auto rp = producer(bootstrap, "0");
  sw::kafka::partition_count(rp.get(), in, 5000).status().permit_unchecked();
  sw::kafka::partition_count(rp.get(), out_topic, 5000).status().permit_unchecked();
  sw::Result<int32_t> out_parts = sw::kafka::partition_count(reader.get(), out_topic, 5000);
  sw::Result<int32_t> in_parts = sw::kafka::partition_count(rp.get(), in, 5000);
  if (!out_parts.is_ok() || !in_parts.is_ok()) std::abort();
  sw::kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(out_parts.value()));
  for (int32_t i = 0; i < out_parts.value(); ++i) {
    rd_kafka_topic_partition_list_add(list.get(), out_topic.c_str(), i)->offset =
        RD_KAFKA_OFFSET_END;
  }
  rd_kafka_assign(reader.get(), list.get());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // task and reader are up

  const ThreadCpu cpu0 = thread_cpu();
  const auto start = Clock::now();
  std::thread sender([&] {
    auto t0 = Clock::now();
    size_t next_line = 0;
    for (size_t i = 0; i < probes; ++i) {
      for (int v = 0; v < valid_per_probe; ++v) {
        send(rp.get(), in, lines[next_line++ % lines.size()], in_parts.value());
      }
      int64_t t = now_ns();
      clocks.produced[i] = t;
      send(rp.get(), in, "BAD-PROBE " + std::to_string(i) + " " + std::to_string(t),
           in_parts.value());
      rd_kafka_poll(rp.get(), 0);
      auto due = t0 + std::chrono::microseconds(
                          int64_t(1e6 * (i + 1) * (valid_per_probe + 1) / kLatencyRate));
      std::this_thread::sleep_until(due);
    }
    rd_kafka_flush(rp.get(), 10000);
  });
  size_t received = 0;
  auto deadline = Clock::now() + std::chrono::seconds(30) +
                  std::chrono::milliseconds(probes * (valid_per_probe + 1) * 1000 / kLatencyRate);
  while (received < probes && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(reader.get(), 50);
    if (!m) continue;
    if (!m->err && m->payload) {
      int64_t t = now_ns();
      int64_t k = probe_index(std::string_view(static_cast<const char*>(m->payload), m->len));
      if (k >= 0 && static_cast<size_t>(k) < probes && clocks.arrived[k] == 0) {
        clocks.arrived[k] = t;
        ++received;
      }
    }
    rd_kafka_message_destroy(m);
  }
  LatencyResult r;
  r.seconds = seconds_since(start);
  const ThreadCpu cpu1 = thread_cpu();
  r.cpu = {cpu1.mock - cpu0.mock, cpu1.clients - cpu0.clients, cpu1.task - cpu0.task,
           cpu1.other - cpu0.other};
  sender.join();
  rd_kafka_consumer_close(reader.get());
  r.sent = probes;
  r.received = received;
  r.warmup = warmup;
  return r;
}

// KAFKA_BENCH_PROBE_DUMP=<prefix>: writes <prefix><run>.csv with every probe's stage clocks.
void dump(const ProbeClocks& c, const std::string& run) {
  const char* prefix = std::getenv("KAFKA_BENCH_PROBE_DUMP");
  if (!prefix) return;
  FILE* f = std::fopen((prefix + run + ".csv").c_str(), "w");
  if (!f) return;
  std::fprintf(f, "probe,produced_ns,polled_ns,released_ns,returned_ns,arrived_ns\n");
  for (size_t i = 0; i < c.produced.size(); ++i) {
    std::fprintf(f, "%zu,%lld,%lld,%lld,%lld,%lld\n", i, static_cast<long long>(c.produced[i]),
                 static_cast<long long>(c.polled[i]), static_cast<long long>(c.released[i]),
                 static_cast<long long>(c.returned[i]), static_cast<long long>(c.arrived[i]));
  }
  std::fclose(f);
}

void collect(const ProbeClocks& c, LatencyResult& r) {
  auto ms = [](int64_t a, int64_t b) { return (b - a) / 1e6; };
  for (size_t i = r.warmup; i < c.produced.size(); ++i) {
    if (c.arrived[i] == 0) continue;
    r.total_ms.push_back(ms(c.produced[i], c.arrived[i]));
    if (c.polled[i] == 0 || c.released[i] == 0) continue;
    r.in_hop_ms.push_back(ms(c.produced[i], c.polled[i]));
    r.task_ms.push_back(ms(c.polled[i], c.released[i]));
    r.sink_call_ms.push_back(ms(c.released[i], c.returned[i]));
    r.out_hop_ms.push_back(ms(c.released[i], c.arrived[i]));
  }
}

// Latency rounds: each round starts a fresh pipeline on fresh input and output topics (one
// partition each by default) and a fresh state dir. The mock cluster finds a fetch offset by
// walking the partition's list of stored message sets (no index), so its CPU per fetch, and
// with it everyone's latency on a 2-core machine, grows with every message set produced to
// the fetched topics (measured: the input hop went from ~1 ms to ~1 s within 5 s at 10 000
// events/s with 64 partitions). Short rounds bound the lists; one partition makes each burst
// of 10 input events one message set instead of up to 10 (mock CPU for the broker hop alone:
// 0.36 cores with 4 partitions, 0.17 with 1). A real broker indexes its log. The partition
// count does not change shelfwatch's work per event. pipeline == false: no shelfwatch, the
// probes are read from the input topic itself (one broker hop, the floor).
LatencyResult latency_rounds(sw::KafkaMockBroker& broker, const std::vector<std::string>& lines,
                             const std::string& delivery, int64_t checkpoint_ms,
                             const std::string& dir, const std::string& tag, bool all_operators,
                             bool pipeline, int rounds, size_t probes, size_t warmup) {
  const std::string& bootstrap = broker.bootstrap();
  LatencyResult total;
  for (int round = 0; round < rounds; ++round) {
    const std::string rtag = tag + ".r" + std::to_string(round);
    const std::string in = "bench.lat." + rtag + ".in", prefix = "bench.lat." + rtag + ".";
    for (const std::string& t : {in, prefix + "dlq"}) {
      if (!broker.create_topic(t, kLatencyPartitions).is_ok()) std::abort();
    }
    ProbeClocks clocks(probes);
    LatencyResult r;
    if (pipeline) {
      Pipeline p(pipeline_yaml(bootstrap, in, prefix, delivery, false, all_operators), dir,
                 checkpoint_ms, &clocks);
      std::atomic<bool> stop{false};
      sw::Status run_status;
      std::thread runner([&] {
        pthread_setname_np(pthread_self(), "sw-task");
        run_status = p.task->run(stop);
      });
      r = paced_probes(bootstrap, lines, in, prefix + "dlq", clocks, warmup);
      stop = true;
      runner.join();
      if (!run_status.is_ok()) {
        std::fprintf(stderr, "kafka_bench: %s\n", run_status.message().c_str());
      }
    } else {
      r = paced_probes(bootstrap, lines, in, in, clocks, warmup);
    }
    collect(clocks, r);
    dump(clocks, rtag);
    total.round_p99_ms.push_back(percentile(r.total_ms, 0.99));
    total.seconds += r.seconds;
    total.cpu.mock += r.cpu.mock;
    total.cpu.clients += r.cpu.clients;
    total.cpu.task += r.cpu.task;
    total.cpu.other += r.cpu.other;
    total.sent += r.sent;
    total.received += r.received;
    total.warmup += r.warmup;
    for (auto [from, to] : {std::pair{&r.total_ms, &total.total_ms},
                            {&r.in_hop_ms, &total.in_hop_ms},
                            {&r.task_ms, &total.task_ms},
                            {&r.sink_call_ms, &total.sink_call_ms},
                            {&r.out_hop_ms, &total.out_hop_ms}}) {
      to->insert(to->end(), from->begin(), from->end());
    }
  }
  return total;
}

}  // namespace

int main() {
  size_t n = 1'000'000;
  if (const char* e = std::getenv("KAFKA_BENCH_EVENTS")) n = std::strtoull(e, nullptr, 10);
  if (const char* e = std::getenv("KAFKA_BENCH_PARTITIONS")) kInputPartitions = std::atoi(e);
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("shelfwatch-kafka-bench-" + std::to_string(getpid())))
                        .string();
  std::vector<std::string> lines = generate(n);
  n = lines.size();
  auto broker = sw::KafkaMockBroker::start({0, 1, kInputPartitions, {"bench.in"}});
  const std::string bs = broker->bootstrap();
  {
    auto rk = producer(bs, "5");
    for (const std::string& l : lines) send(rk.get(), "bench.in", l, kInputPartitions);
    if (rd_kafka_flush(rk.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) return 1;
  }
  // KAFKA_BENCH_ONLY=latency skips the throughput part (diagnosis of the latency runs).
  const char* only = std::getenv("KAFKA_BENCH_ONLY");
  if (!only || std::string(only) != "latency") {
    // Diagnostic: the source alone (poll loop, no decoding), to separate connector cost from
    // engine cost in kafka_e2e.
    double drain_s = 0;
    {
      sw::Config cfg = sw::Config::from_yaml(
          pipeline_yaml(bs, "bench.in", "bench.drain.", "exactly_once", true));
      sw::KafkaSource src(cfg);
      std::vector<sw::RawRecord> batch;
      size_t got = 0;
      auto t0 = Clock::now();
      while (!src.at_end()) {
        batch.clear();
        if (!src.poll(batch, 1024, 100).is_ok()) return 1;
        got += batch.size();
      }
      drain_s = seconds_since(t0);
      if (got != n) std::fprintf(stderr, "kafka_bench: source drained %zu of %zu\n", got, n);
    }
    // One e2e run: input topic -> task -> output topics, stop_at_end; returns seconds or < 0.
    // Per run: outputs delivered and late events (both must be the same in every run: outputs
    // are a function of the input alone).
    std::vector<uint64_t> outputs, late;
    uint64_t checkpoints = 0;
    auto e2e = [&](const std::string& prefix, bool all_operators) -> double {
      Pipeline p(pipeline_yaml(bs, "bench.in", prefix, "exactly_once", true, all_operators),
                 dir + "/e2e", 1000);
      std::atomic<bool> stop{false};
      auto t0 = Clock::now();
      sw::Status s = p.task->run(stop);
      double secs = seconds_since(t0);
      if (!s.is_ok() || p.task->counters().read.load() != n) {
        std::fprintf(stderr, "kafka_bench: %s, read %llu of %zu\n", s.to_string().c_str(),
                     static_cast<unsigned long long>(p.task->counters().read.load()), n);
        return -1;
      }
      outputs.push_back(p.sink->stats().delivered);
      late.push_back(sw::TaskCounters::sum(p.task->counters().late));
      checkpoints = p.task->counters().checkpoints.load();
      return secs;
    };
    auto print_e2e = [&](const char* name, const char* operators, const std::vector<double>& v) {
      double e = median(v);
      auto list = [](const std::vector<uint64_t>& x, size_t from) {
        std::string out;
        for (size_t i = from; i < x.size(); ++i) {
          // Two appends rather than "," + std::to_string(...): GCC 12 at -O3 reports a
          // -Wrestrict false positive inside that operator+ (GCC bug 105329).
          if (!out.empty()) out += ',';
          out += std::to_string(x[i]);
        }
        return out;
      };
      const size_t from = outputs.size() - v.size();
      std::printf(
          "{\"bench\":\"%s\",\"events\":%zu,\"seconds\":%.3f,\"events_per_s\":%.0f,"
          "\"outputs_per_run\":[%s],\"late_per_run\":[%s],\"checkpoints\":%llu,"
          "\"operators\":\"%s\",\"input_partitions\":%d,"
          "\"delivery\":\"exactly_once\",\"checkpoint_interval_ms\":1000,\"runs\":%zu}\n",
          name, n, e, n / e, list(outputs, from).c_str(), list(late, from).c_str(),
          static_cast<unsigned long long>(checkpoints), operators, kInputPartitions, v.size());
      return e;
    };
    // kcat (defaults), kcat with a short fetch wait, and the pipeline with the operator
    // set (low_stock, as bench/pipeline_bench) alternate three times; the pipeline with every
    // default operator (forecast, anomaly, low_stock) is much slower and runs once.
    std::vector<double> kcat_s, kcat_fast_s, lean_s, full_s;
    for (int round = 0; round < 3; ++round) {
      double k = kcat_consume(bs, "bench.in", n);
      if (k > 0) kcat_s.push_back(k);
      // kcat -e waits for every partition's end-of-partition event, and the mock cluster holds
      // an empty fetch for fetch.wait.max.ms (500 ms by default); 10 ms shows that tail's share.
      k = kcat_consume(bs, "bench.in", n, " -X fetch.wait.max.ms=10");
      if (k > 0) kcat_fast_s.push_back(k);
      double e = e2e("bench.lean" + std::to_string(round) + ".", false);
      if (e < 0) return 1;
      lean_s.push_back(e);
    }
    double lean = print_e2e("kafka_e2e", "low_stock", lean_s);
    double full = e2e("bench.full.", true);
    if (full < 0) return 1;
    full_s.push_back(full);
    print_e2e("kafka_e2e_all_operators", "forecast,anomaly,low_stock", full_s);
    if (kcat_s.empty() || kcat_fast_s.empty()) {
      std::printf("{\"bench\":\"kcat_consume\",\"error\":\"kcat failed\"}\n");
    } else {
      double k = median(kcat_s), kf = median(kcat_fast_s);
      std::printf(
          "{\"bench\":\"kcat_consume\",\"events\":%zu,\"seconds\":%.3f,\"events_per_s\":%.0f,"
          "\"runs\":%zu}\n",
          n, k, n / k, kcat_s.size());
      std::printf(
          "{\"bench\":\"kcat_consume_fetch_wait_10ms\",\"events\":%zu,\"seconds\":%.3f,"
          "\"events_per_s\":%.0f,\"runs\":%zu}\n",
          n, kf, n / kf, kcat_fast_s.size());
      std::printf("{\"bench\":\"ratio_kafka_e2e_to_kcat\",\"value\":%.3f}\n", k / lean);
      std::printf("{\"bench\":\"ratio_kafka_e2e_all_operators_to_kcat\",\"value\":%.3f}\n",
                  k / full);
      std::printf("{\"bench\":\"ratio_kafka_e2e_to_kcat_fetch_wait_10ms\",\"value\":%.3f}\n",
                  kf / lean);
    }
    std::printf(
        "{\"bench\":\"kafka_source_drain\",\"events\":%zu,\"seconds\":%.3f,"
        "\"events_per_s\":%.0f,\"note\":\"KafkaSource poll loop only, no decoding\"}\n",
        n, drain_s, n / drain_s);
    std::fflush(stdout);
  }
  // Latency: steady paced input (kLatencyRate events/s, far below what the pipeline sustains),
  // in rounds of 2 s of probes after 0.2 s of warm-up probes (not counted);
  // KAFKA_BENCH_LATENCY_ROUNDS sets the rounds per mode (default 5: 10 000 probes).
  int rounds = 5;
  if (const char* e = std::getenv("KAFKA_BENCH_LATENCY_PARTITIONS"))
    kLatencyPartitions = std::atoi(e);
  if (const char* e = std::getenv("KAFKA_BENCH_LATENCY_ROUNDS")) rounds = std::atoi(e);
  const size_t warmup = kLatencyRate / 50;
  const size_t probes = warmup + 2 * kLatencyRate / 10;
  auto print_latency = [&](const std::string& name, const std::string& extra,
                           const LatencyResult& r) {
    auto pct = [](const std::vector<double>& v, double q) { return percentile(v, q); };
    std::printf(
        "{\"bench\":\"%s\",%s\"events_per_s\":%d,\"partitions\":%d,\"probes_sent\":%zu,"
        "\"probes_received\":%zu,\"warmup_probes\":%zu,\"probes\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%."
        "3f,\"p999_ms\":%.3f,\"max_ms\":%.3f",
        name.c_str(), extra.c_str(), kLatencyRate, kLatencyPartitions, r.sent, r.received, r.warmup,
        r.total_ms.size(), pct(r.total_ms, 0.5), pct(r.total_ms, 0.99), pct(r.total_ms, 0.999),
        pct(r.total_ms, 1.0));
    if (!r.task_ms.empty()) {
      // Stages (p50/p99): input hop = produced -> handed to the task by poll(); task = poll()
      // -> the sink's committed() starts releasing it; sink call = committed()'s own duration;
      // output hop = released -> read from the output topic.
      std::printf(
          ",\"stages_p50_p99_ms\":{\"input_hop\":[%.3f,%.3f],\"task\":[%.3f,%.3f],"
          "\"sink_call\":[%.3f,%.3f],\"output_hop\":[%.3f,%.3f]}",
          pct(r.in_hop_ms, 0.5), pct(r.in_hop_ms, 0.99), pct(r.task_ms, 0.5), pct(r.task_ms, 0.99),
          pct(r.sink_call_ms, 0.5), pct(r.sink_call_ms, 0.99), pct(r.out_hop_ms, 0.5),
          pct(r.out_hop_ms, 0.99));
    }
    std::string rounds_p99;
    for (double v : r.round_p99_ms) {
      char b[32];
      std::snprintf(b, sizeof b, "%s%.1f", rounds_p99.empty() ? "" : ",", v);
      rounds_p99 += b;
    }
    std::printf(",\"p99_per_round_ms\":[%s]", rounds_p99.c_str());
    // Cores busy (CPU seconds per second) while the probes ran, by thread group.
    std::printf(
        ",\"cores_busy\":{\"mock_broker\":%.2f,\"librdkafka_clients\":%.2f,"
        "\"task\":%.2f,\"other\":%.2f}}\n",
        r.cpu.mock / r.seconds, r.cpu.clients / r.seconds, r.cpu.task / r.seconds,
        r.cpu.other / r.seconds);
    std::fflush(stdout);
  };
  // The floor: one broker hop (producer -> mock cluster -> consumer), no shelfwatch. The
  // pipeline's latency has two such hops plus the task.
  print_latency(
      "kafka_latency_broker_hop", "",
      latency_rounds(*broker, lines, "", 0, "", "hop", false, false, rounds, probes, warmup));
  struct Mode {
    const char* delivery;
    int64_t checkpoint_ms;
    bool all_operators;
  };
  for (Mode m : {Mode{"at_least_once", 1000, false}, Mode{"exactly_once", 100, false},
                 Mode{"at_least_once", 1000, true}, Mode{"exactly_once", 100, true}}) {
    std::string tag = std::string(m.delivery) + "." + std::to_string(m.checkpoint_ms) +
                      (m.all_operators ? ".all" : ".lean");
    LatencyResult r = latency_rounds(*broker, lines, m.delivery, m.checkpoint_ms, dir + "/lat", tag,
                                     m.all_operators, true, rounds, probes, warmup);
    char extra[256];
    std::snprintf(extra, sizeof extra,
                  "\"delivery\":\"%s\",\"checkpoint_interval_ms\":%lld,\"operators\":\"%s\",",
                  m.delivery, static_cast<long long>(m.checkpoint_ms),
                  m.all_operators ? "forecast,anomaly,low_stock" : "low_stock");
    print_latency(
        std::string("kafka_latency_") + m.delivery + (m.all_operators ? "_all_operators" : ""),
        extra, r);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
