#include "cli/summary.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <vector>

#include <simdjson.h>

#include "stream/output.h"

namespace sw::cli {

namespace {

int severity_rank(std::string_view s) {
  if (s == "emergency") return 3;
  if (s == "critical") return 2;
  if (s == "warning") return 1;
  return 0;
}

struct OpenAlert {
  std::string id, type, severity, time, summary;
};

}  // namespace

void print_summary(FILE* out, const TaskCounters& c, const std::string& output_dir,
                   const std::string& state_dir, double seconds) {
  uint64_t applied = TaskCounters::sum(c.applied), dup = TaskCounters::sum(c.duplicates);
  uint64_t dlq = TaskCounters::sum(c.dead_lettered), late = TaskCounters::sum(c.late);
  uint64_t read = c.read.load();
  std::fprintf(out, "\n== shelfwatch summary ==\n");
  std::fprintf(
      out,
      "events read %llu = applied %llu + duplicates %llu + dead-lettered %llu + late %llu  [%s]\n",
      static_cast<unsigned long long>(read), static_cast<unsigned long long>(applied),
      static_cast<unsigned long long>(dup), static_cast<unsigned long long>(dlq),
      static_cast<unsigned long long>(late),
      read == applied + dup + dlq + late ? "balanced" : "NOT BALANCED");
  if (seconds > 0) {
    std::fprintf(out, "processing time %.2f s (%.0f events/s)\n", seconds, read / seconds);
  }
  std::fprintf(out, "applied by type:");
  for (int t = 0; t < kEventTypeCount; ++t) {
    uint64_t n = c.applied[t].load();
    if (n)
      std::fprintf(out, " %s=%llu", std::string(event_type_name(static_cast<EventType>(t))).c_str(),
                   static_cast<unsigned long long>(n));
  }
  std::fprintf(out, "\ndead-lettered by reason:");
  if (dlq == 0) std::fprintf(out, " none");
  for (int e = 1; e < kDecodeErrorCount; ++e) {
    uint64_t n = c.dead_lettered[e].load();
    if (n)
      std::fprintf(out, " %s=%llu",
                   std::string(decode_error_code(static_cast<DecodeError>(e))).c_str(),
                   static_cast<unsigned long long>(n));
  }
  std::fprintf(out, "\n");

  if (output_dir.empty()) return;
  std::ifstream in(output_dir + "/alerts.jsonl");
  std::map<std::pair<std::string, std::string>, uint64_t> firing_by;  // (type, severity)
  std::map<std::string, OpenAlert> open;
  uint64_t resolved = 0;
  simdjson::ondemand::parser parser;
  std::string line;
  while (std::getline(in, line)) {
    simdjson::padded_string ps(line);
    simdjson::ondemand::document doc;
    if (parser.iterate(ps).get(doc)) continue;
    std::string_view id, type, status, severity, time, summary;
    if (doc["id"].get_string().get(id) || doc["type"].get_string().get(type) ||
        doc["status"].get_string().get(status) || doc["severity"].get_string().get(severity) ||
        doc["time"].get_string().get(time) || doc["summary"].get_string().get(summary)) {
      continue;
    }
    if (status == "resolved") {
      ++resolved;
      open.erase(std::string(id));
      continue;
    }
    auto it = open.find(std::string(id));
    if (it == open.end()) ++firing_by[{std::string(type), std::string(severity)}];
    open[std::string(id)] = OpenAlert{std::string(id), std::string(type), std::string(severity),
                                      std::string(time), std::string(summary)};
  }
  std::fprintf(out, "alerts (firing episodes) by type and severity:");
  if (firing_by.empty()) std::fprintf(out, " none");
  for (const auto& [k, n] : firing_by) {
    std::fprintf(out, "\n  %-16s %-10s %llu", k.first.c_str(), k.second.c_str(),
                 static_cast<unsigned long long>(n));
  }
  std::fprintf(out, "\nresolved: %llu, still open: %zu\n",
               static_cast<unsigned long long>(resolved), open.size());
  std::vector<OpenAlert> urgent;
  for (auto& [id, a] : open) urgent.push_back(a);
  std::sort(urgent.begin(), urgent.end(), [](const OpenAlert& a, const OpenAlert& b) {
    int ra = severity_rank(a.severity), rb = severity_rank(b.severity);
    if (ra != rb) return ra > rb;
    if (a.time != b.time) return a.time < b.time;
    return a.id < b.id;
  });
  if (!urgent.empty()) std::fprintf(out, "most urgent open alerts:\n");
  for (size_t i = 0; i < urgent.size() && i < 10; ++i) {
    std::fprintf(out, "  [%s] %s %s: %s\n", urgent[i].severity.c_str(), urgent[i].time.c_str(),
                 urgent[i].type.c_str(), urgent[i].summary.c_str());
  }
  std::fprintf(out, "outputs: %s/{", output_dir.c_str());
  for (int s = 0; s < kOutputStreamCount; ++s) {
    std::fprintf(out, "%s%s.jsonl", s ? "," : "",
                 std::string(output_stream_name(static_cast<OutputStream>(s))).c_str());
  }
  std::fprintf(out, "}\nstate: %s\n", state_dir.empty() ? "(in memory)" : state_dir.c_str());
}

}  // namespace sw::cli
