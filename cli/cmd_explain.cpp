// `shelfwatch explain`: the evidence chain of an alert or price trigger, from the audit
// records a run keeps in its state directory (stream/audit_log.h). Offline: works on a
// stopped process's state directory or a backup, read-only.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "state/rocksdb_store.h"
#include "stream/audit_log.h"
#include "stream/json_writer.h"

namespace sw::cli {

namespace {

const char* const kHelp =
    "usage: shelfwatch explain --state DIR --id ID [--input FILE]\n\n"
    "Prints, as JSON, the evidence chain of an alert or price trigger (every record with that\n"
    "id: firing, resolved): the record, the emitting operator's state of the key at that\n"
    "moment, the operator settings in force (the configuration its config_version stood\n"
    "for; keys not listed take their defaults), and the source positions of the last inputs\n"
    "applied to the key (partition, offset; for a file source also the line number and the\n"
    "line itself, read from the run's source.file.path or --input). Works offline on a\n"
    "stopped run's state directory or a backup. Audit records are kept for the newest\n"
    "state.audit.keep_records alerts and triggers. Exit 1 when the id has no audit record.\n\n"
    "example:\n"
    "  shelfwatch explain --state demo/state --id ls-1a2b3c4d5e6f7a8b\n";

using Lines = std::map<std::string, std::string>;

Lines parse_config(std::string_view text) {
  Lines out;
  size_t start = text.find('\n');  // first line: the config version
  start = start == std::string_view::npos ? text.size() : start + 1;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos) {
      out.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    }
    start = end + 1;
  }
  return out;
}

std::string string_field(std::string_view json, std::string_view name) {
  std::string k = "\"" + std::string(name) + "\":\"";
  size_t p = json.find(k);
  if (p == std::string_view::npos) return {};
  p += k.size();
  size_t e = json.find('"', p);
  return e == std::string_view::npos ? std::string() : std::string(json.substr(p, e - p));
}

struct InputLine {
  int64_t line = 0;
  std::string text;
};

// Line numbers and text of the lines starting at `offsets` in `path` (one pass).
std::map<int64_t, InputLine> read_lines(const std::string& path, std::vector<int64_t> offsets) {
  std::map<int64_t, InputLine> out;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return out;
  std::sort(offsets.begin(), offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
  std::vector<char> buf(1 << 20);
  int64_t pos = 0, line = 1;
  size_t next = 0;
  std::optional<int64_t> capturing;
  while (next < offsets.size() || capturing) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i, ++pos) {
      while (next < offsets.size() && offsets[next] < pos) ++next;  // not a line start
      if (next < offsets.size() && offsets[next] == pos) {
        capturing = pos;
        out[pos].line = line;
        ++next;
      }
      if (buf[i] == '\n') {
        ++line;
        capturing.reset();
      } else if (capturing && out[*capturing].text.size() < 4096) {
        out[*capturing].text.push_back(buf[i]);
      }
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

int explain_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::string dir, id, input;
  if (!value_of(args, "--state", dir) || !value_of(args, "--id", id)) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  value_of(args, "--input", input);
  RocksDbOptions ro;
  ro.path = dir;
  ro.read_only = true;
  ro.memory_budget_bytes = 32u << 20;
  auto opened = RocksDbStateStore::open(ro);
  if (!opened.is_ok()) {
    std::fprintf(stderr, "shelfwatch explain: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  const StateStore& store = *opened.value();
  std::vector<std::string> records;
  Status s =
      store.scan_prefix(kAuditRecordsNs, id + "\x1f", [&](std::string_view, std::string_view v) {
        records.emplace_back(v);
        return true;
      });
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch explain: %s\n", s.to_string().c_str());
    return 1;
  }
  if (records.empty()) {
    std::fprintf(stderr,
                 "shelfwatch explain: no audit record for id '%s' in '%s' (ids are in "
                 "alerts.jsonl and price-triggers.jsonl; only the newest "
                 "state.audit.keep_records are kept)\n",
                 id.c_str(), dir.c_str());
    return 1;
  }
  auto latest = store.get("audit", "config");
  Lines latest_config;
  if (latest.is_ok() && latest.value()) latest_config = parse_config(*latest.value());
  if (input.empty() && latest_config.count("source.kind") &&
      latest_config["source.kind"] == "file" && latest_config.count("source.file.path")) {
    input = latest_config["source.file.path"];
  }

  std::string out;
  JsonWriter w(out);
  w.begin_object().field("id", id).field("state_dir", dir).key("records").begin_array();
  for (const std::string& rec : records) {
    const std::string op = string_field(rec, "operator");
    const std::string version = string_field(rec, "config_version");
    auto cfg = store.get("audit", "config/" + version);
    const bool exact = cfg.is_ok() && cfg.value().has_value();
    Lines config = exact ? parse_config(*cfg.value()) : latest_config;
    // The audit record as stored, minus its closing brace, then the settings and lines.
    std::string_view body(rec);
    body.remove_suffix(1);
    std::string merged(body);
    std::string extra;
    JsonWriter e(extra);
    e.key("settings").begin_object().field("config_version", version);
    e.field("from", exact ? "the configuration of that config_version"
                          : "the latest run's configuration (that version's was not recorded)");
    e.key("keys_in_force").begin_object();
    const std::string prefix = "operators." + op + ".";
    for (const auto& [k, v] : config) {
      if (k.rfind(prefix, 0) == 0 || k.rfind("pipeline.", 0) == 0 || k.rfind("calendar.", 0) == 0) {
        e.field(k, v);
      }
    }
    e.end_object().field("defaults", "keys not listed take their defaults (docs/" + op + ".md)");
    e.end_object();
    // Input lines for a file source.
    std::vector<std::pair<int32_t, int64_t>> inputs;
    {
      const std::string tag = "\"inputs\":[";
      size_t p = rec.rfind(tag);  // the last member: record and state come first
      while (p != std::string::npos) {
        size_t part = rec.find("\"partition\":", p);
        size_t off = rec.find("\"offset\":", p);
        if (part == std::string::npos || off == std::string::npos) break;
        inputs.emplace_back(std::stoi(rec.substr(part + 12)), std::stoll(rec.substr(off + 9)));
        p = rec.find('}', off);
      }
    }
    e.key("input_lines").begin_array();
    if (!input.empty() && input != "-") {
      std::vector<int64_t> offsets;
      for (const auto& [partition, offset] : inputs) offsets.push_back(offset);
      auto lines = read_lines(input, offsets);
      for (const auto& [partition, offset] : inputs) {
        auto it = lines.find(offset);
        e.begin_object().field("file", input).field("offset", offset);
        if (it != lines.end()) {
          e.field("line", it->second.line).field("text", it->second.text);
        } else {
          e.key("line").null();
        }
        e.end_object();
      }
    }
    e.end_array();
    merged += "," + extra + "}";
    w.raw(merged);
  }
  w.end_array().end_object();
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace sw::cli
