// Kafka benchmark (issue #3), run by `make bench` with no arguments. Everything goes through
// the real Kafka protocol over TCP to an in-process librdkafka mock cluster:
//   kcat_consume  `kcat -C ... | wc -l` reading the whole input topic (the yardstick)
//   kafka_e2e     input topic -> KafkaSource -> Task (decode, operators, RocksDB checkpoints)
//                 -> KafkaSink (exactly_once, idempotent producer) -> output topics
//   kafka_latency event-to-output latency: probe records (malformed on purpose, so each one
//                 yields exactly one DLQ output right away through the same task and sink
//                 path as alerts) sent among valid events at a paced rate; latency = time the
//                 output is read from its topic - time the probe was produced. Measured in
//                 at_least_once mode and in exactly_once mode with 100 ms checkpoints.
// kcat and kafka_e2e alternate three times; medians are printed. Prints JSON lines; asserts
// nothing about time. KAFKA_BENCH_EVENTS overrides the input size (default 1,000,000).

#include <librdkafka/rdkafka.h>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka_common.h"
#include "connectors/kafka_mock_broker.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "operators/registry.h"
#include "state/rocksdb_store.h"
#include "stream/calendar.h"
#include "stream/generator.h"
#include "stream/task.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kInputPartitions = 64;  // the mock keeps ~5 MB per partition

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
  std::string y = "kafka: {brokers: '" + bootstrap + "'}\n";
  y += "source:\n  kafka:\n    topics: [" + in + "]\n    mode: assign\n";
  y += std::string("    stop_at_end: ") + (stop_at_end ? "true" : "false") + "\n";
  if (!stop_at_end) y += "    properties: {fetch.wait.max.ms: 1}\n";
  y += "delivery: " + delivery + "\n";
  y += "sinks:\n  kafka:\n    topics:\n";
  for (const char* s :
       {"alerts", "forecasts", "price-triggers", "replenishment", "dlq", "late", "scores"}) {
    y += std::string("      ") + s + ": " + out_prefix + s + "\n";
  }
  y += all_operators ? "operators: {low_stock: {enabled: true}}\n"
                     : "operators: {low_stock: {enabled: true}, forecast: {enabled: false}, "
                       "anomaly: {enabled: false}}\n";
  return y;
}

struct Pipeline {
  sw::Config config;
  sw::Calendar calendar;
  sw::OperatorSet ops;
  std::unique_ptr<sw::KafkaSource> source;
  std::unique_ptr<sw::KafkaSink> sink;
  std::unique_ptr<sw::RocksDbStateStore> store;
  std::unique_ptr<sw::Task> task;

  Pipeline(const std::string& yaml, const std::string& dir, int64_t checkpoint_ms)
      : config(sw::Config::from_yaml(yaml)), calendar(config), ops(sw::make_operators(config)) {
    source = std::make_unique<sw::KafkaSource>(config);
    sink = std::make_unique<sw::KafkaSink>(config);
    std::filesystem::remove_all(dir);
    auto s = sw::RocksDbStateStore::open({dir, 256u << 20, true, false});
    if (!s.is_ok()) std::abort();
    store = std::move(s.value());
    sw::TaskOptions o = sw::TaskOptions::from_config(config);
    o.checkpoint_interval_ms = checkpoint_ms;
    task = std::make_unique<sw::Task>(o, *source, std::vector<sw::Sink*>{sink.get()}, *store,
                                      ops.pointers(), calendar);
    task->mutable_views() = ops.views;
    if (!task->restore().is_ok()) std::abort();
  }
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

// Paced probes among valid events; returns per-probe latency in ms.
std::vector<double> latency_run(const std::string& bootstrap, const std::vector<std::string>& lines,
                                const std::string& delivery, int64_t checkpoint_ms,
                                const std::string& dir, const std::string& tag,
                                bool all_operators) {
  const std::string in = "bench.lat." + tag + ".in", prefix = "bench.lat." + tag + ".";
  Pipeline p(pipeline_yaml(bootstrap, in, prefix, delivery, false, all_operators), dir,
             checkpoint_ms);
  std::atomic<bool> stop{false};
  sw::Status run_status;
  std::thread runner([&] { run_status = p.task->run(stop); });

  // Reader of the DLQ topic, from its current end.
  auto reader = sw::kafka::make_handle(
      RD_KAFKA_CONSUMER, sw::kafka::make_conf(bootstrap, {{"group.id", "bench-reader"},
                                                          {"fetch.wait.max.ms", "1"},
                                                          {"auto.offset.reset", "earliest"}}));
  std::string dlq = prefix + "dlq";
  auto rp = producer(bootstrap, "0");
  // Create the topics (auto-created by metadata requests) before timing anything.
  sw::kafka::partition_count(rp.get(), in, 5000).status().permit_unchecked();
  sw::kafka::partition_count(rp.get(), dlq, 5000).status().permit_unchecked();
  sw::Result<int32_t> dlq_parts = sw::kafka::partition_count(reader.get(), dlq, 5000);
  sw::Result<int32_t> in_parts = sw::kafka::partition_count(rp.get(), in, 5000);
  if (!dlq_parts.is_ok() || !in_parts.is_ok()) std::abort();
  sw::kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(dlq_parts.value()));
  for (int32_t i = 0; i < dlq_parts.value(); ++i) {
    rd_kafka_topic_partition_list_add(list.get(), dlq.c_str(), i)->offset = RD_KAFKA_OFFSET_END;
  }
  rd_kafka_assign(reader.get(), list.get());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // task and reader are up

  const int probes = 2000, valid_per_probe = 9, rate = 10000;  // events/s in total
  std::vector<double> lat;
  std::atomic<bool> sending{true};
  std::thread sender([&] {
    auto t0 = Clock::now();
    size_t next_line = 0;
    for (int i = 0; i < probes; ++i) {
      for (int v = 0; v < valid_per_probe; ++v) {
        send(rp.get(), in, lines[next_line++ % lines.size()], in_parts.value());
      }
      std::string probe = "BAD-PROBE " + std::to_string(now_ns());
      send(rp.get(), in, probe, in_parts.value());
      rd_kafka_poll(rp.get(), 0);
      auto due =
          t0 + std::chrono::microseconds(int64_t(1e6 * (i + 1) * (valid_per_probe + 1) / rate));
      std::this_thread::sleep_until(due);
    }
    rd_kafka_flush(rp.get(), 10000);
    sending = false;
  });
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (static_cast<int>(lat.size()) < probes && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(reader.get(), 50);
    if (!m) continue;
    if (!m->err && m->payload) {
      int64_t t = now_ns();
      std::string v(static_cast<const char*>(m->payload), m->len);
      size_t at = v.find("BAD-PROBE ");
      if (at != std::string::npos) lat.push_back((t - std::atoll(v.c_str() + at + 10)) / 1e6);
    }
    rd_kafka_message_destroy(m);
  }
  sender.join();
  stop = true;
  runner.join();
  rd_kafka_consumer_close(reader.get());
  if (!run_status.is_ok()) std::fprintf(stderr, "kafka_bench: %s\n", run_status.message().c_str());
  return lat;
}

}  // namespace

int main() {
  size_t n = 1'000'000;
  if (const char* e = std::getenv("KAFKA_BENCH_EVENTS")) n = std::strtoull(e, nullptr, 10);
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
  // Diagnostic: the source alone (poll loop, no decoding), to separate connector cost from
  // engine cost in kafka_e2e.
  double drain_s = 0;
  {
    sw::Config cfg =
        sw::Config::from_yaml(pipeline_yaml(bs, "bench.in", "bench.drain.", "exactly_once", true));
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
  uint64_t outputs = 0, checkpoints = 0;
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
    outputs = p.sink->stats().delivered;
    checkpoints = p.task->counters().checkpoints.load();
    return secs;
  };
  auto print_e2e = [&](const char* name, const char* operators, const std::vector<double>& v) {
    double e = median(v);
    std::printf(
        "{\"bench\":\"%s\",\"events\":%zu,\"seconds\":%.3f,\"events_per_s\":%.0f,"
        "\"outputs\":%llu,\"checkpoints\":%llu,\"operators\":\"%s\",\"input_partitions\":%d,"
        "\"delivery\":\"exactly_once\",\"checkpoint_interval_ms\":1000,\"runs\":%zu}\n",
        name, n, e, n / e, static_cast<unsigned long long>(outputs),
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
    std::printf("{\"bench\":\"ratio_kafka_e2e_all_operators_to_kcat\",\"value\":%.3f}\n", k / full);
    std::printf("{\"bench\":\"ratio_kafka_e2e_to_kcat_fetch_wait_10ms\",\"value\":%.3f}\n",
                kf / lean);
  }
  std::printf(
      "{\"bench\":\"kafka_source_drain\",\"events\":%zu,\"seconds\":%.3f,"
      "\"events_per_s\":%.0f,\"note\":\"KafkaSource poll loop only, no decoding\"}\n",
      n, drain_s, n / drain_s);
  std::fflush(stdout);
  struct Mode {
    const char* delivery;
    int64_t checkpoint_ms;
    bool all_operators;
  };
  for (Mode m : {Mode{"at_least_once", 1000, false}, Mode{"exactly_once", 100, false},
                 Mode{"at_least_once", 1000, true}, Mode{"exactly_once", 100, true}}) {
    std::string tag = std::string(m.delivery) + "." + std::to_string(m.checkpoint_ms) +
                      (m.all_operators ? ".all" : ".lean");
    std::vector<double> lat =
        latency_run(bs, lines, m.delivery, m.checkpoint_ms, dir + "/lat", tag, m.all_operators);
    std::printf(
        "{\"bench\":\"kafka_latency_%s%s\",\"delivery\":\"%s\",\"checkpoint_interval_ms\":%lld,"
        "\"operators\":\"%s\",\"probes\":%zu,\"events_per_s\":10000,\"p50_ms\":%.3f,"
        "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
        m.delivery, m.all_operators ? "_all_operators" : "", m.delivery,
        static_cast<long long>(m.checkpoint_ms),
        m.all_operators ? "forecast,anomaly,low_stock" : "low_stock", lat.size(),
        percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1.0));
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
