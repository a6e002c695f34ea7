#include "stream/output_stamp.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>

#include "stream/config.h"

namespace sw {

namespace {

std::string render(std::string_view version) {
  std::string s = "\"schema_version\":1,\"config_version\":\"";
  s += version;
  s += "\",\"versions\":{\"state\":" + std::to_string(kStateFormatVersion) +
       ",\"model\":" + std::to_string(kModelVersion) + "}";
  return s;
}

std::string hash_hex(std::string_view text) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(text.data(), text.size())));
  return std::string(hex, 12);
}

std::string& stamp() {
  static std::string s = render(hash_hex(""));
  return s;
}

}  // namespace

const std::string& output_stamp() {
  return stamp();
}

void set_output_config_version(std::string_view version) {
  stamp() = render(version);
}

bool config_version_covers(std::string_view key) {
  if (is_secret_key(key)) return false;
  for (std::string_view prefix : {"operators.", "regions.", "calendar."}) {
    if (key.substr(0, prefix.size()) == prefix) return true;
  }
  for (std::string_view k :
       {"pipeline.out_of_orderness", "pipeline.allowed_lateness", "pipeline.dedup_capacity",
        "pipeline.max_record_bytes", "pipeline.max_future", "pipeline.max_future_replay"}) {
    if (key == k) return true;
  }
  return false;
}

std::string config_version(const Config& config, std::vector<std::string> enabled_operators) {
  std::sort(enabled_operators.begin(), enabled_operators.end());
  std::string covered = "operators:";
  for (const std::string& name : enabled_operators) covered += " " + name;
  covered += "\n";
  auto runs = [&](std::string_view key) {
    // operators.<name>.<rest>: only operators that run, and not their `enabled` switch.
    std::string_view rest = key.substr(std::string_view("operators.").size());
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos || rest.substr(dot + 1) == "enabled") return false;
    return std::binary_search(enabled_operators.begin(), enabled_operators.end(),
                              std::string(rest.substr(0, dot)));
  };
  const std::string dump = config.dump();
  size_t start = 0;
  while (start < dump.size()) {
    size_t end = dump.find('\n', start);
    if (end == std::string::npos) end = dump.size();
    std::string_view line(dump.data() + start, end - start);
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos) {
      std::string_view key = line.substr(0, colon);
      if (config_version_covers(key) && (key.rfind("operators.", 0) != 0 || runs(key))) {
        covered.append(line).push_back('\n');
      }
    }
    start = end + 1;
  }
  return hash_hex(covered);
}

}  // namespace sw
