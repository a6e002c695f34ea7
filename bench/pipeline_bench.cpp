// Engine benchmark (issue #2): one mode per process so RSS is measured cleanly.
//   pipeline_bench read_split FILE   read + line split only
//   pipeline_bench decode FILE       + simdjson decode of every field
//   pipeline_bench pipeline FILE DIR + routing, low_stock, watermarks, RocksDB checkpoints
//                                      every 1 s and file sinks (the real `run` path)
//   pipeline_bench pipeline_full FILE DIR
//                                    the job users run: every operator the table enables by
//                                    default at its default settings, RocksDB checkpoints
//                                    every 1 s, file sinks on; reports peak RSS and hot state
//                                    per key, bucket closes, observations and output bytes
//                                    per input event per stream (issue 18). The input's
//                                    description comes from PIPELINE_BENCH_INPUT.
//                                    PIPELINE_BENCH_NAME reports the run under another name
//                                    (bench/run.sh: price_off, inventory_full_on/off, the
//                                    same job with PIPELINE_BENCH_SET / PIPELINE_BENCH_REGIONS)
//   pipeline_bench price_lowstock_1day FILE DIR
//                                    `pipeline` with the price operator on beside low_stock
//   pipeline_bench decode_full FILE  decode, reported as "decode_full" (the × decode of
//                                    pipeline_full on its own input)
//   pipeline_bench forecast_records FILE DIR
//                                    the forecast operator alone under each output choice
//                                    (emit x horizon_encoding): records and bytes per record
// Prints one JSON object per line. Asserts nothing about time.

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/pipeline.h"
#include "connectors/file_source.h"
#include "stream/decoder.h"
#include "stream/output.h"
#include "stream/probe.h"
#include "stream/task.h"

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of the calling thread / of the whole process: on a shared machine these
// separate "slow because preempted" from "slow because of more work".
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Peak resident set of the process (VmHWM), bytes.
size_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

// Value of the counter `name` in an operator's probe (0 if absent).
uint64_t probe_counter(const sw::Operator* op, const std::string& name) {
  const sw::Probe* p = op->probe();
  uint64_t v = 0;
  if (p != nullptr) {
    p->for_each([&](const sw::Probe::Metric& m) {
      if (m.name == name && m.kind == sw::Probe::Kind::kCounter) v += m.counter.value();
    });
  }
  return v;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

sw::FileSource open_source(const std::string& path) {
  sw::FileSourceOptions o;
  o.path = path;
  sw::FileSource src(o);
  if (!src.open().is_ok()) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::abort();
  }
  return src;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: pipeline_bench read_split|decode|decode_full|pipeline|pipeline_full|"
                 "price_lowstock_1day|forecast_records FILE [STATE_DIR]\n");
    return 2;
  }
  std::string mode = argv[1], path = argv[2];
  std::vector<sw::RawRecord> batch;
  batch.reserve(1024);
  if (mode == "read_split" || mode == "decode" || mode == "decode_full") {
    sw::FileSource src = open_source(path);
    sw::Decoder decoder;
    sw::Event e;
    uint64_t n = 0, bytes = 0, ok = 0;
    double t0 = now_s(), c0 = thread_cpu_s();
    while (!src.at_end()) {
      batch.clear();
      if (!src.poll(batch, 1024, 0).is_ok()) return 1;
      for (const sw::RawRecord& r : batch) {
        ++n;
        bytes += r.payload.size();
        if (mode != "read_split")
          ok += decoder.decode(r.payload, r.readable_after, e) == sw::DecodeError::kNone;
      }
    }
    double secs = now_s() - t0, cpu = thread_cpu_s() - c0;
    std::printf(
        "{\"bench\":\"%s\",\"events\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"mb_per_s\":%."
        "1f,\"cpu_seconds\":%.3f,\"events_per_cpu_s\":%.0f%s}\n",
        mode.c_str(), static_cast<unsigned long long>(n), secs, n / secs, bytes / secs / 1e6, cpu,
        n / cpu, mode != "read_split" ? (",\"decoded_ok\":" + std::to_string(ok)).c_str() : "");
    return 0;
  }
  if (mode == "forecast_records" && argc >= 4) {
    const std::string dir = argv[3];
    struct Variant {
      const char* emit;
      const char* encoding;
    };
    const Variant variants[] = {{"every_close", "objects"},
                                {"every_close", "compact"},
                                {"on_change", "objects"},
                                {"on_change", "compact"},
                                {"none", "objects"}};
    for (const Variant& v : variants) {
      std::filesystem::remove_all(dir);
      sw::Config config = sw::Config::from_yaml(
          std::string("operators: {low_stock: {enabled: false}, anomaly: {enabled: false}, "
                      "price: {enabled: false}, forecast: {emit: ") +
          v.emit + ", horizon_encoding: " + v.encoding + "}}\n");
      config.set("source.file.path", path);
      config.set("state.dir", dir + "/state");
      config.set("sinks.file.dir", dir + "/out");
      sw::cli::PipelineParts parts;
      parts.delivery = parts.live = false;
      sw::cli::Pipeline p = sw::cli::open_pipeline(sw::cli::parse_pipeline(config, parts));
      if (!p.task->restore().is_ok()) return 1;
      std::atomic<bool> stop{false};
      const double c0 = thread_cpu_s();
      if (!p.task->run(stop).is_ok()) return 1;
      const double cpu = thread_cpu_s() - c0;
      const sw::TaskCounters& c = p.task->counters();
      const uint64_t n = c.outputs[static_cast<size_t>(sw::OutputStream::kForecasts)].load();
      std::error_code ec;
      const auto size = std::filesystem::file_size(dir + "/out/forecasts.jsonl", ec);
      const double bytes = ec ? 0.0 : static_cast<double>(size);
      const char* input = std::getenv("PIPELINE_BENCH_INPUT");
      std::printf(
          "{\"bench\":\"forecast_records\",\"input\":\"%s\",\"config\":\"forecast only, "
          "horizon 28, daily buckets\",\"emit\":\"%s\",\"horizon_encoding\":\"%s\","
          "\"records\":%llu,\"bytes\":%.0f,\"bytes_per_record\":%.1f,"
          "\"bytes_per_input_event\":%.2f,\"task_cpu_seconds\":%.3f}\n",
          json_escape(input != nullptr ? input : path).c_str(), v.emit, v.encoding,
          static_cast<unsigned long long>(n), bytes, n ? bytes / n : 0.0,
          c.read.load() ? bytes / c.read.load() : 0.0, cpu);
    }
    std::filesystem::remove_all(dir);
    return 0;
  }
  const bool full = mode == "pipeline_full";
  const bool price = mode == "price_lowstock_1day";
  if ((mode != "pipeline" && !price && !full) || argc < 4) return 2;
  // The name the run is reported under (pipeline_full's variants in bench/run.sh).
  const char* name_env = std::getenv("PIPELINE_BENCH_NAME");
  const std::string name = full && name_env != nullptr && name_env[0] != '\0' ? name_env : mode;
  std::string dir = argv[3];
  std::filesystem::remove_all(dir);
  size_t rss0 = rss_bytes();
  // Built like `run` (cli/pipeline.h): file source, RocksDB state, file sink, low_stock (and
  // in price_lowstock_1day mode the price operator beside it); no delivery sink, metrics or live
  // state. Task settings as before: defaults plus these.
  std::string yaml =
      full ? std::string("# the default job\n")
           : std::string(
                 "operators: {low_stock: {enabled: true}, forecast: {enabled: false}, anomaly: "
                 "{enabled: false}, price: {enabled: ") +
                 (price ? "true" : "false") + "}}\n";
  // PIPELINE_BENCH_REGIONS=STORES/SIZE: regions of SIZE consecutive stores out of STORES
  // (generator names), so low_stock's transfer proposals run too (every inventory feature).
  std::string regions_desc;
  if (const char* rg = std::getenv("PIPELINE_BENCH_REGIONS")) {
    const int stores = std::atoi(rg);
    const char* slash = std::strchr(rg, '/');
    const int size = slash != nullptr ? std::atoi(slash + 1) : 5;
    const int width = stores > 9999 ? 6 : 4;
    yaml += "regions:\n";
    for (int first = 0; size > 0 && first < stores; first += size) {
      yaml += "  R" + std::to_string(first / size + 1) + ": [";
      for (int st = first; st < std::min(stores, first + size); ++st) {
        char name[16];
        std::snprintf(name, sizeof name, "S%0*d", width, st + 1);
        yaml += (st == first ? "" : ", ") + std::string(name);
      }
      yaml += "]\n";
    }
    if (size > 0) {
      regions_desc = std::to_string((stores + size - 1) / size) + " regions of " +
                     std::to_string(size) + " stores";
    }
  }
  sw::Config config = sw::Config::from_yaml(yaml);
  config.set("source.file.path", path);
  config.set("state.dir", dir + "/state");
  config.set("sinks.file.dir", dir + "/out");
  // PIPELINE_BENCH_SET="key=value;...": settings on top (e.g. operators.forecast.emit=none).
  std::string settings;
  if (const char* set = std::getenv("PIPELINE_BENCH_SET")) {
    settings = set;
    size_t from = 0;
    while (from < settings.size()) {
      size_t end = settings.find(';', from);
      if (end == std::string::npos) end = settings.size();
      const std::string kv = settings.substr(from, end - from);
      const size_t eq = kv.find('=');
      if (eq != std::string::npos) config.set(kv.substr(0, eq), kv.substr(eq + 1));
      from = end + 1;
    }
  }
  sw::cli::PipelineParts parts;
  parts.delivery = parts.live = false;
  const size_t rss_open0 = rss_bytes();
  sw::cli::PipelineOptions options = sw::cli::parse_pipeline(config, parts);
  sw::TaskOptions& o = options.task;
  if (!full) {  // pipeline/price: task settings as before; pipeline_full: the config's
    o = sw::TaskOptions{};
    o.dedup_capacity = 1'000'000;
  }
  o.checkpoint_interval_ms = 1000;
  // PIPELINE_BENCH_CHECKPOINT_MS: another checkpoint interval (memory breakdown runs).
  if (const char* ci = std::getenv("PIPELINE_BENCH_CHECKPOINT_MS")) {
    o.checkpoint_interval_ms = std::atoll(ci);
  }
  // PIPELINE_BENCH_READ_AHEAD=0 decodes on the task thread (for A/B runs).
  if (const char* ra = std::getenv("PIPELINE_BENCH_READ_AHEAD")) o.read_ahead = ra[0] != '0';
  // PIPELINE_BENCH_EVENT_TIME_ORDER=0 applies events in arrival order (for A/B runs).
  if (const char* eo = std::getenv("PIPELINE_BENCH_EVENT_TIME_ORDER")) {
    o.event_time_order = eo[0] != '0';
  }
  // PIPELINE_BENCH_COMMIT_NICE=0 commits at the task's priority (for A/B runs).
  if (const char* n = std::getenv("PIPELINE_BENCH_COMMIT_NICE")) o.commit_nice = std::atoi(n);
  sw::cli::Pipeline p = sw::cli::open_pipeline(std::move(options));
  sw::Task& task = *p.task;
  if (!task.restore().is_ok()) return 1;
  std::atomic<bool> stop{false};
  double t0 = now_s(), c0 = thread_cpu_s(), p0 = process_cpu_s();
  sw::Status s = task.run(stop);
  double secs = now_s() - t0, task_cpu = thread_cpu_s() - c0, proc_cpu = process_cpu_s() - p0;
  if (!s.is_ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  size_t rss = rss_bytes() - rss0;
  const sw::TaskCounters& c = task.counters();
  uint64_t keys = c.state_keys.load();
  const char* input = std::getenv("PIPELINE_BENCH_INPUT");
  // The run's configuration, stated in its line: the operators the task ran (in table order),
  // settings on top of their defaults, regions, checkpoint interval, input.
  std::string operators = "[";
  for (const sw::Operator* op : task.operators()) {
    operators += (operators.size() > 1 ? ",\"" : "\"") + std::string(op->name()) + "\"";
  }
  operators += "]";
  const std::string config_json =
      "{\"operators\":" + operators + ",\"settings\":\"" +
      json_escape(full ? (settings.empty() ? "defaults" : "defaults; " + settings)
                       : (settings.empty() ? "task defaults, dedup 1000000"
                                           : "task defaults, dedup 1000000; " + settings)) +
      "\",\"regions\":\"" + json_escape(regions_desc.empty() ? "none" : regions_desc) +
      "\",\"checkpoint_interval_ms\":" + std::to_string(o.checkpoint_interval_ms) +
      ",\"sink\":\"file\",\"input\":\"" + json_escape(input != nullptr ? input : path) + "\"}";
  std::printf(
      "{\"bench\":\"%s\",\"events\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f,"
      "\"keys\":%llu,\"checkpoints\":%llu,\"checkpoint_seconds\":%.3f,\"alerts\":%llu,"
      "\"task_cpu_seconds\":%.3f,\"events_per_task_cpu_s\":%.0f,\"process_cpu_seconds\":%.3f,"
      "\"config\":%s}\n",
      name.c_str(), static_cast<unsigned long long>(c.read.load()), secs, c.read.load() / secs,
      static_cast<unsigned long long>(keys), static_cast<unsigned long long>(c.checkpoints.load()),
      c.checkpoint_duration_us_total.load() / 1e6,
      static_cast<unsigned long long>(c.outputs[0].load()), task_cpu, c.read.load() / task_cpu,
      proc_cpu, config_json.c_str());
  if (price) return 0;
  if (full) {
    const size_t peak = peak_rss_bytes();
    const double k = keys > 0 ? static_cast<double>(keys) : 1.0;
    const double ev = c.read.load() > 0 ? static_cast<double>(c.read.load()) : 1.0;
    std::string state = "{\"key_index\":" + std::to_string(task.keys().memory_bytes() / k);
    uint64_t closes = 0, observations = 0;
    for (const sw::Operator* op : task.operators()) {
      state += ",\"" + std::string(op->name()) + "\":" + std::to_string(op->memory_bytes() / k);
      closes += probe_counter(op, "forecast_bucket_closes_total");
      observations += probe_counter(op, "anomaly_observations_total");
    }
    state += "}";
    std::string out_bytes = "{", records = "{";
    for (int i = 0; i < sw::kOutputStreamCount; ++i) {
      const std::string name(sw::kOutputStreamNames[i]);
      std::error_code ec;
      const auto size = std::filesystem::file_size(dir + "/out/" + name + ".jsonl", ec);
      const double b = ec ? 0.0 : static_cast<double>(size);
      const uint64_t n = c.outputs[static_cast<size_t>(i)].load();
      out_bytes += (i ? ",\"" : "\"") + name + "\":" + std::to_string(b / ev);
      records += (i ? ",\"" : "\"") + name + "\":{\"records\":" + std::to_string(n) +
                 ",\"bytes_per_record\":" + std::to_string(n ? b / n : 0.0) + "}";
    }
    out_bytes += "}";
    records += "}";
    std::printf(
        "{\"bench\":\"%s_detail\",\"input\":\"%s\",\"config\":%s,\"keys\":%llu,"
        "\"peak_rss_bytes\":%zu,\"rss_before_open_bytes\":%zu,\"peak_rss_bytes_per_key\":%.1f,"
        "\"hot_state_bytes_per_key\":%s,\"hot_state_bytes_per_key_total\":%.1f,"
        "\"forecast_bucket_closes\":%llu,\"forecast_bucket_closes_per_s\":%.0f,"
        "\"anomaly_observations\":%llu,\"anomaly_observations_per_s\":%.0f,"
        "\"output_bytes_per_input_event\":%s,\"outputs\":%s}\n",
        name.c_str(), json_escape(input != nullptr ? input : path).c_str(), config_json.c_str(),
        static_cast<unsigned long long>(keys), peak, rss_open0, peak / k, state.c_str(),
        c.state_bytes.load() / k, static_cast<unsigned long long>(closes), closes / secs,
        static_cast<unsigned long long>(observations), observations / secs, out_bytes.c_str(),
        records.c_str());
    std::filesystem::remove_all(dir);  // the outputs are GBs
    return 0;
  }
  std::printf(
      "{\"bench\":\"rss_bytes_per_key\",\"keys\":%llu,\"rss_bytes\":%zu,\"bytes_per_key\":%.1f,"
      "\"hot_state_bytes_per_key\":%.1f}\n",
      static_cast<unsigned long long>(keys), rss, keys ? double(rss) / keys : 0.0,
      keys ? double(c.state_bytes.load()) / keys : 0.0);
  return 0;
}
