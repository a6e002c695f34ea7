#include "cli/audit.h"

#include <map>
#include <string>

#include "stream/output_stamp.h"

namespace sw::cli {

namespace {

constexpr std::string_view kAuditNs = "audit";
constexpr std::string_view kConfigKey = "config";

// "config_version\n" then the dump's "key: value" lines.
std::map<std::string, std::string> parse_lines(std::string_view dump) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < dump.size()) {
    size_t end = dump.find('\n', start);
    if (end == std::string_view::npos) end = dump.size();
    std::string_view line = dump.substr(start, end - start);
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos) {
      out.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

void log_effective_config(const Config& config, Pipeline& p, FILE* out) {
  const std::string& version = p.options.config_version;
  const std::string dump = config.dump();
  std::fprintf(out,
               "shelfwatch run: effective configuration (config_version %s; secrets redacted):\n",
               version.c_str());
  for (const auto& [key, value] : parse_lines(dump)) {
    std::fprintf(out, "  %s: %s%s\n", key.c_str(), value.c_str(),
                 config_version_covers(key) ? "" : "   (not in config_version)");
  }
  auto previous = p.store->get(kAuditNs, kConfigKey);
  if (!previous.is_ok()) {
    std::fprintf(out, "shelfwatch run: warning: cannot read the previous run's configuration: %s\n",
                 previous.status().to_string().c_str());
  } else if (!previous.value()) {
    std::fprintf(out, "shelfwatch run: no previous configuration recorded in '%s'\n",
                 p.options.state_dir.c_str());
  } else {
    std::string_view prev = *previous.value();
    size_t nl = prev.find('\n');
    std::string prev_version(prev.substr(0, nl));
    auto before = parse_lines(nl == std::string_view::npos ? "" : prev.substr(nl + 1));
    auto after = parse_lines(dump);
    std::string diff;
    for (const auto& [key, value] : before) {
      auto it = after.find(key);
      if (it == after.end()) {
        diff += "  - " + key + ": " + value + "\n";
      } else if (it->second != value) {
        diff += "  ~ " + key + ": " + value + " -> " + it->second + "\n";
      }
    }
    for (const auto& [key, value] : after) {
      if (!before.contains(key)) diff += "  + " + key + ": " + value + "\n";
    }
    if (diff.empty()) {
      std::fprintf(out, "shelfwatch run: configuration unchanged since the previous run\n");
    } else {
      std::fprintf(out,
                   "shelfwatch run: configuration changed since the previous run "
                   "(config_version %s -> %s):\n%s",
                   prev_version.c_str(), version.c_str(), diff.c_str());
    }
  }
  StateBatch batch;
  batch.put(kAuditNs, kConfigKey, version + "\n" + dump);
  // Per version too: `explain` shows the settings an alert's config_version stood for.
  batch.put(kAuditNs, std::string(kConfigKey) + "/" + version, version + "\n" + dump);
  Status s = p.store->commit(batch);
  if (!s.is_ok()) {
    std::fprintf(out, "shelfwatch run: warning: cannot record the configuration: %s\n",
                 s.to_string().c_str());
  }
}

}  // namespace sw::cli
