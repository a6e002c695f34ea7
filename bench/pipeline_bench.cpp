// Engine benchmark (issue #2): one mode per process so RSS is measured cleanly.
//   pipeline_bench read_split FILE   read + line split only
//   pipeline_bench decode FILE       + simdjson decode of every field
//   pipeline_bench pipeline FILE DIR + routing, low_stock, watermarks, RocksDB checkpoints
//                                      every 1 s and file sinks (the real `run` path)
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
                 "usage: pipeline_bench read_split|decode|pipeline|price FILE [STATE_DIR]\n");
    return 2;
  }
  std::string mode = argv[1], path = argv[2];
  std::vector<sw::RawRecord> batch;
  batch.reserve(1024);
  if (mode == "read_split" || mode == "decode") {
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
        if (mode == "decode")
          ok += decoder.decode(r.payload, r.readable_after, e) == sw::DecodeError::kNone;
      }
    }
    double secs = now_s() - t0, cpu = thread_cpu_s() - c0;
    std::printf(
        "{\"bench\":\"%s\",\"events\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"mb_per_s\":%."
        "1f,\"cpu_seconds\":%.3f,\"events_per_cpu_s\":%.0f%s}\n",
        mode.c_str(), static_cast<unsigned long long>(n), secs, n / secs, bytes / secs / 1e6, cpu,
        n / cpu, mode == "decode" ? (",\"decoded_ok\":" + std::to_string(ok)).c_str() : "");
    return 0;
  }
  if ((mode != "pipeline" && mode != "price") || argc < 4) return 2;
  std::string dir = argv[3];
  std::filesystem::remove_all(dir);
  size_t rss0 = rss_bytes();
  // Built like `run` (cli/pipeline.h): file source, RocksDB state, file sink, low_stock (and
  // in `price` mode the price operator beside it); no delivery sink, metrics or live state.
  // Task settings as before: defaults plus these.
  std::string yaml =
      std::string(
          "operators: {low_stock: {enabled: true}, forecast: {enabled: false}, anomaly: "
          "{enabled: false}, price: {enabled: ") +
      (mode == "price" ? "true" : "false") + "}}\n";
  // PIPELINE_BENCH_REGIONS=STORES/SIZE: regions of SIZE consecutive stores out of STORES
  // (generator names), so low_stock's transfer proposals run too (every inventory feature).
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
  }
  sw::Config config = sw::Config::from_yaml(yaml);
  config.set("source.file.path", path);
  config.set("state.dir", dir + "/state");
  config.set("sinks.file.dir", dir + "/out");
  sw::cli::PipelineParts parts;
  parts.delivery = parts.live = false;
  sw::cli::PipelineOptions options = sw::cli::parse_pipeline(config, parts);
  sw::TaskOptions& o = options.task;
  o = sw::TaskOptions{};
  o.checkpoint_interval_ms = 1000;
  o.dedup_capacity = 1'000'000;
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
  std::printf(
      "{\"bench\":\"%s\",\"events\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f,"
      "\"keys\":%llu,\"checkpoints\":%llu,\"checkpoint_seconds\":%.3f,\"alerts\":%llu,"
      "\"task_cpu_seconds\":%.3f,\"events_per_task_cpu_s\":%.0f,\"process_cpu_seconds\":%.3f}\n",
      mode.c_str(), static_cast<unsigned long long>(c.read.load()), secs, c.read.load() / secs,
      static_cast<unsigned long long>(keys), static_cast<unsigned long long>(c.checkpoints.load()),
      c.checkpoint_duration_us_total.load() / 1e6,
      static_cast<unsigned long long>(c.outputs[0].load()), task_cpu, c.read.load() / task_cpu,
      proc_cpu);
  if (mode == "price") return 0;
  std::printf(
      "{\"bench\":\"rss_bytes_per_key\",\"keys\":%llu,\"rss_bytes\":%zu,\"bytes_per_key\":%.1f,"
      "\"hot_state_bytes_per_key\":%.1f}\n",
      static_cast<unsigned long long>(keys), rss, keys ? double(rss) / keys : 0.0,
      keys ? double(c.state_bytes.load()) / keys : 0.0);
  return 0;
}
