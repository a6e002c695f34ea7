#include "stream/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <sys/stat.h>

namespace sw {

namespace {

std::string node_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  e << n;
  return e.c_str();
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

ConfigError::ConfigError(const std::string& key, const std::string& problem, const std::string& fix)
    : std::runtime_error("config key '" + key + "': " + redact_url_credentials(problem) +
                         (fix.empty() ? "" : "; " + fix)),
      key_(key) {}

std::string redact_url_credentials(std::string_view text) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t scheme = text.find("://", pos);
    if (scheme == std::string_view::npos) break;
    size_t start = scheme + 3;
    // The authority ends at the first '/', '?', '#', whitespace, quote or bracket.
    size_t end = start;
    while (end < text.size() &&
           std::string_view("/?#\"' \t\r\n,[]{}").find(text[end]) == std::string_view::npos) {
      ++end;
    }
    size_t at = text.rfind('@', end == 0 ? 0 : end - 1);
    out.append(text.substr(pos, start - pos));
    if (at != std::string_view::npos && at >= start && at < end) {
      out += "<redacted>";
      out.append(text.substr(at, end - at));
    } else {
      out.append(text.substr(start, end - start));
    }
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

bool is_secret_key(std::string_view key) {
  static const char* const kWords[] = {"password", "secret",  "token",         "routing_key",
                                       "webhook",  "api_key", "sasl.username", "private"};
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  for (const char* w : kWords) {
    if (lower.find(w) != std::string::npos) return true;
  }
  return false;
}

Config Config::from_yaml(std::string_view yaml, const std::vector<std::string>& overrides) {
  Config c;
  try {
    c.root_ = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw ConfigError("(file)", std::string("not valid YAML: ") + e.what(),
                      "fix the YAML syntax at the line shown");
  }
  if (c.root_.IsDefined() && !c.root_.IsNull() && !c.root_.IsMap()) {
    throw ConfigError("(root)", "the config must be a YAML mapping", "write `key: value` lines");
  }
  try {
    if (c.root_.IsMap()) c.flatten(c.root_, "");
  } catch (const YAML::Exception& e) {
    throw ConfigError("(file)", std::string("unsupported YAML structure: ") + e.what(),
                      "keys must be plain names (no complex or anchored keys)");
  }
  for (const std::string& o : overrides) {
    size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError(o, "--set needs key.path=value", "e.g. --set state.dir=state");
    }
    c.set(o.substr(0, eq), o.substr(eq + 1));
  }
  return c;
}

Config Config::from_file(const std::string& path, const std::vector<std::string>& overrides) {
  // A config is a small regular file: a device (/dev/zero, /dev/urandom), a FIFO or a
  // directory would hang, exhaust memory or read as an empty config.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw ConfigError("--config", "cannot open '" + path + "': " + std::strerror(errno),
                      "pass an existing file");
  }
  if (!S_ISREG(st.st_mode)) {
    throw ConfigError("--config",
                      "'" + path + "' is not a regular file (" +
                          (S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket") + ")",
                      "pass a YAML file");
  }
  if (st.st_size > kMaxConfigBytes) {
    throw ConfigError("--config",
                      "'" + path + "' is " + std::to_string(st.st_size) +
                          " bytes, more than a config may be (" + std::to_string(kMaxConfigBytes) +
                          ")",
                      "pass the YAML config file, not a data file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("--config", "cannot open '" + path + "'", "pass an existing file");
  std::string text(static_cast<size_t>(kMaxConfigBytes) + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxConfigBytes)) {
    throw ConfigError(
        "--config",
        "'" + path + "' grew past " + std::to_string(kMaxConfigBytes) + " bytes while read",
        "pass the YAML config file");
  }
  return from_yaml(text, overrides);
}

void Config::flatten(const YAML::Node& n, const std::string& prefix) {
  std::set<std::string, std::less<>> seen;  // yaml-cpp keeps duplicate keys silently
  for (const auto& kv : n) {
    std::string name = kv.first.as<std::string>();
    std::string key = prefix.empty() ? name : prefix + "." + name;
    if (!seen.insert(name).second) {
      throw ConfigError(key, "the key appears twice in the same mapping",
                        "keep one of them (YAML keys are unique; which one would win is not "
                        "defined)");
    }
    if (kv.second.IsMap()) {
      flatten(kv.second, key);
    } else {
      values_[key] = kv.second;
    }
  }
}

void Config::set(const std::string& key, const std::string& yaml_value) {
  // Flow collections and quoted strings are parsed as YAML; anything else is a plain scalar,
  // so values such as "-" (stdin) or "a: b" are taken literally.
  YAML::Node v(yaml_value);
  char first = yaml_value.empty() ? '\0' : yaml_value[0];
  if (first == '[' || first == '{' || first == '"' || first == '\'') {
    try {
      v = YAML::Load(yaml_value);
    } catch (const YAML::Exception& e) {
      throw ConfigError(key, "--set value is not valid YAML: " + std::string(e.what()),
                        "write lists as [a, b] and maps as {k: v}");
    }
  }
  // A whole-map override replaces the subtree.
  auto it = values_.lower_bound(key + ".");
  while (it != values_.end() && it->first.compare(0, key.size() + 1, key + ".") == 0) {
    it = values_.erase(it);
  }
  if (v.IsMap()) {
    flatten(v, key);
  } else {
    values_[key] = v;
  }
}

const YAML::Node* Config::find(std::string_view key) const {
  asked_.emplace(key);
  auto it = values_.find(key);
  if (it == values_.end()) return nullptr;
  read_.emplace(key);
  return &it->second;
}

bool Config::has(std::string_view key) const {
  asked_.emplace(key);
  if (values_.count(key)) return true;
  std::string p(key);
  p += '.';
  auto it = values_.lower_bound(p);
  return it != values_.end() && it->first.compare(0, p.size(), p) == 0;
}

std::string Config::get_string(std::string_view key, std::string_view def) const {
  return checked<std::string>(std::string(def), [&]() -> std::string {
    const YAML::Node* n = find(key);
    if (!n || n->IsNull()) return std::string(def);
    if (!n->IsScalar()) {
      throw ConfigError(std::string(key), "expected a single value, got " + node_text(*n),
                        "write it as `key: value`");
    }
    return n->Scalar();
  });
}

std::string Config::require_string(std::string_view key, std::string_view fix) const {
  return checked<std::string>(std::string(), [&]() -> std::string {
    std::string v = get_string(key, "");
    if (v.empty()) throw ConfigError(std::string(key), "is required", std::string(fix));
    return v;
  });
}

std::string Config::get_enum(std::string_view key, std::string_view def,
                             const std::vector<std::string>& allowed) const {
  return checked<std::string>(std::string(def), [&]() -> std::string {
    std::string v = get_string(key, def);
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return v;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw ConfigError(std::string(key), "'" + v + "' is not allowed", "use one of: " + list);
  });
}

int64_t Config::get_int(std::string_view key, int64_t def, int64_t min, int64_t max) const {
  return checked<int64_t>(def, [&]() -> int64_t {
    std::string s = get_string(key, "");
    if (s.empty()) return def;
    int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
      throw ConfigError(
          std::string(key), "'" + s + "' is not an integer",
          "write a whole number between " + std::to_string(min) + " and " + std::to_string(max));
    }
    if (v < min || v > max) {
      throw ConfigError(
          std::string(key), std::to_string(v) + " is out of range",
          "use a value between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return v;
  });
}

double Config::get_double(std::string_view key, double def, double min, double max) const {
  return checked<double>(def, [&]() -> double {
    std::string s = get_string(key, "");
    if (s.empty()) return def;
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v)) {
      throw ConfigError(std::string(key), "'" + s + "' is not a number", "write a decimal number");
    }
    if (v < min || v > max) {
      std::ostringstream fix;
      fix << "use a value between " << min << " and " << max;
      throw ConfigError(std::string(key), s + " is out of range", fix.str());
    }
    return v;
  });
}

bool Config::get_bool(std::string_view key, bool def) const {
  return checked<bool>(def, [&]() -> bool {
    std::string s = get_string(key, "");
    if (s.empty()) return def;
    if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
    if (s == "false" || s == "no" || s == "off" || s == "0") return false;
    throw ConfigError(std::string(key), "'" + s + "' is not a boolean", "write true or false");
  });
}

std::vector<std::string> Config::get_list(std::string_view key) const {
  return checked<std::vector<std::string>>(
      std::vector<std::string>(), [&]() -> std::vector<std::string> {
        const YAML::Node* n = find(key);
        std::vector<std::string> out;
        if (!n || n->IsNull()) return out;
        if (n->IsSequence()) {
          for (const auto& e : *n) {
            if (!e.IsScalar()) {
              throw ConfigError(std::string(key), "list entries must be plain values",
                                "write [a, b, c]");
            }
            out.push_back(e.Scalar());
          }
          return out;
        }
        if (!n->IsScalar()) {
          throw ConfigError(std::string(key), "expected a list", "write [a, b, c] or a,b,c");
        }
        std::string s = n->Scalar();
        size_t pos = 0;
        while (pos <= s.size()) {
          size_t comma = s.find(',', pos);
          if (comma == std::string::npos) comma = s.size();
          std::string item = s.substr(pos, comma - pos);
          item.erase(0, item.find_first_not_of(' '));
          item.erase(item.find_last_not_of(' ') + 1);
          if (!item.empty()) out.push_back(item);
          pos = comma + 1;
        }
        return out;
      });
}

int64_t Config::get_duration_ms(std::string_view key, int64_t def) const {
  return checked<int64_t>(def, [&]() -> int64_t {
    std::string s = get_string(key, "");
    if (s.empty()) return def;
    int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    std::string_view unit(r.ptr, s.data() + s.size() - r.ptr);
    int64_t mult = 0;
    if (unit.empty() || unit == "ms")
      mult = 1;
    else if (unit == "s")
      mult = 1000;
    else if (unit == "m")
      mult = 60'000;
    else if (unit == "h")
      mult = 3'600'000;
    else if (unit == "d")
      mult = 86'400'000;
    if (r.ec != std::errc() || mult == 0 || v < 0) {
      throw ConfigError(std::string(key), "'" + s + "' is not a duration",
                        "write e.g. 500ms, 30s, 5m, 1h or 2d");
    }
    // "9223372036854775807d" would overflow the milliseconds (found by fuzz_config;
    // fuzz/regressions/config-duration-overflow).
    if (v > INT64_MAX / mult) {
      throw ConfigError(std::string(key), "'" + s + "' is too long a duration",
                        "write at most " + std::to_string(INT64_MAX / 86'400'000) + "d");
    }
    return v * mult;
  });
}

YAML::Node Config::node(std::string_view key) const {
  asked_.emplace(key);
  mark_read(key);
  if (const YAML::Node* n = find(key)) return *n;
  // Rebuild a map node from the flattened subtree.
  std::string p(key);
  p += '.';
  YAML::Node out;
  for (auto it = values_.lower_bound(p);
       it != values_.end() && it->first.compare(0, p.size(), p) == 0; ++it) {
    std::string rest = it->first.substr(p.size());
    YAML::Node cur = out;
    size_t pos = 0;
    while (true) {
      size_t dot = rest.find('.', pos);
      std::string part = rest.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      if (dot == std::string::npos) {
        cur[part] = it->second;
        break;
      }
      YAML::Node next = cur[part];
      cur.reset(next);
      pos = dot + 1;
    }
  }
  return out;
}

std::vector<std::string> Config::children(std::string_view prefix) const {
  std::string p(prefix);
  p += '.';
  std::vector<std::string> out;
  for (auto it = values_.lower_bound(p);
       it != values_.end() && it->first.compare(0, p.size(), p) == 0; ++it) {
    std::string rest = it->first.substr(p.size());
    std::string child = rest.substr(0, rest.find('.'));
    if (out.empty() || out.back() != child) out.push_back(child);
  }
  return out;
}

void Config::mark_read(std::string_view prefix) const {
  read_prefixes_.emplace(prefix);
}

bool Config::covered_by(const std::string& key,
                        const std::set<std::string, std::less<>>& prefixes) const {
  for (const auto& p : prefixes) {
    if (key == p ||
        (key.size() > p.size() && key.compare(0, p.size(), p) == 0 && key[p.size()] == '.')) {
      return true;
    }
  }
  return false;
}

void Config::read_unused(const std::string& reason, const std::function<void()>& parse) const {
  // Whatever `parse` reads for the first time is read only because of this call: take it back
  // out of read_ / read_prefixes_ and remember it as unused (unless a used section read it
  // already, or reads it later).
  auto read_before = read_;
  auto prefixes_before = read_prefixes_;
  ++lenient_;
  try {
    parse();
  } catch (const std::exception&) {
    // The section's own checks (a missing required value, a bad combination): values of an
    // unused section are not checked.
  }
  --lenient_;
  auto remember = [&reason](std::map<std::string, std::string, std::less<>>& into,
                            const std::string& key) {
    auto [it, added] = into.emplace(key, reason);
    if (!added && it->second.find(reason) == std::string::npos) it->second += " and " + reason;
  };
  for (const auto& k : read_) {
    if (!read_before.count(k)) remember(unused_, k);
  }
  for (const auto& p : read_prefixes_) {
    if (!prefixes_before.count(p)) remember(unused_prefixes_, p);
  }
  read_ = std::move(read_before);
  read_prefixes_ = std::move(prefixes_before);
}

std::vector<std::string> Config::unused_warnings() const {
  std::vector<std::string> out;
  for (const auto& [key, value] : values_) {
    if (read_.count(key) || covered_by(key, read_prefixes_)) continue;
    const std::string* reason = nullptr;
    if (auto it = unused_.find(key); it != unused_.end()) {
      reason = &it->second;
    } else {
      for (const auto& [p, r] : unused_prefixes_) {
        if (covered_by(key, {p})) {
          reason = &r;
          break;
        }
      }
    }
    if (reason != nullptr) out.push_back("config key '" + key + "' is unused because " + *reason);
  }
  return out;
}

void Config::check_unknown() const {
  for (const auto& [key, value] : values_) {
    if (read_.count(key) || covered_by(key, read_prefixes_)) continue;
    if (unused_.count(key)) continue;
    bool unused = false;
    for (const auto& [p, r] : unused_prefixes_) unused = unused || covered_by(key, {p});
    if (unused) continue;
    std::string best;
    size_t best_d = 1000;
    for (const auto& k : asked_) {
      size_t d = edit_distance(key, k);
      if (d < best_d) {
        best_d = d;
        best = k;
      }
    }
    std::string fix = best_d <= std::max<size_t>(3, key.size() / 4)
                          ? "did you mean '" + best + "'?"
                          : "remove it (see the config reference in README.md)";
    throw ConfigError(key, "unknown key", fix);
  }
}

std::map<std::string, std::string, std::less<>> Config::flat_values() const {
  std::map<std::string, std::string, std::less<>> out;
  for (const auto& [key, value] : values_) out.emplace(key, node_text(value));
  return out;
}

std::string Config::dump() const {
  std::string out;
  for (const auto& [key, value] : values_) {
    out += key + ": " +
           (is_secret_key(key) ? std::string("<redacted>")
                               : redact_url_credentials(node_text(value))) +
           "\n";
  }
  return out;
}

}  // namespace sw
