#pragma once
// Configuration: YAML flattened to dotted key paths ("source.file.path"), overridable with
// `--set key.path=value`. Getters validate type and range and throw ConfigError naming the
// key and the fix; every key read is recorded, so after start-up check_unknown() rejects
// keys nobody reads (typos) with a suggestion. Cold path: clarity over speed.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace sw {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& key, const std::string& problem, const std::string& fix);
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

class Config {
 public:
  Config() = default;
  //! Parses YAML text; `overrides` are "key.path=value" strings applied on top.
  static Config from_yaml(std::string_view yaml, const std::vector<std::string>& overrides = {});
  //! `path` must be a regular file of at most kMaxConfigBytes.
  static Config from_file(const std::string& path, const std::vector<std::string>& overrides = {});
  static constexpr int64_t kMaxConfigBytes = 4 << 20;

  bool has(std::string_view key) const;
  std::string get_string(std::string_view key, std::string_view def) const;
  std::string require_string(std::string_view key, std::string_view fix) const;
  //! One of `allowed`; the error lists them.
  std::string get_enum(std::string_view key, std::string_view def,
                       const std::vector<std::string>& allowed) const;
  int64_t get_int(std::string_view key, int64_t def, int64_t min, int64_t max) const;
  double get_double(std::string_view key, double def, double min, double max) const;
  bool get_bool(std::string_view key, bool def) const;
  //! A YAML sequence of scalars, or a comma-separated scalar.
  std::vector<std::string> get_list(std::string_view key) const;
  //! Duration "250ms", "5s", "2m", "1h", "3d" or plain milliseconds.
  int64_t get_duration_ms(std::string_view key, int64_t def) const;
  //! Raw node for structured values (route tables); marks the key and its children read.
  YAML::Node node(std::string_view key) const;
  //! Direct child names of `prefix` ("operators" -> {"low_stock", "forecast"}).
  std::vector<std::string> children(std::string_view prefix) const;
  //! Marks every key under `prefix` as read (sections handled by another component).
  void mark_read(std::string_view prefix) const;

  //! Reads a section this configuration does not use (a disabled operator, the other source
  //! kind's keys, a disabled sink) with `parse`, the code that reads it when it is used, so
  //! its keys are known: a key only `parse` read is "unused because <reason>" (a warning:
  //! unused_warnings()), while any other key under the section stays an unknown key for
  //! check_unknown() (a typo in a disabled operator is still an error). Only key names are
  //! checked: while `parse` runs, a getter returns its default for a bad value, and a
  //! ConfigError the section's own checks throw is ignored.
  void read_unused(const std::string& reason, const std::function<void()>& parse) const;
  //! "config key 'source.file.path' is unused because source.kind=kafka", one per key set in
  //! the config that only read_unused() read, in key order.
  std::vector<std::string> unused_warnings() const;

  //! Throws ConfigError for the first key never read, suggesting the closest known key.
  void check_unknown() const;
  //! Flattened keys and values, for `validate` output; keys that look secret are redacted.
  std::string dump() const;
  //! Every flattened key with its value as text (flow style for sequences), unredacted:
  //! for comparing two configurations (hot reload), never for printing.
  std::map<std::string, std::string, std::less<>> flat_values() const;

  void set(const std::string& key, const std::string& yaml_value);

 private:
  void flatten(const YAML::Node& n, const std::string& prefix);
  //! body(), or `def` when body() throws ConfigError inside read_unused().
  template <class T, class F>
  T checked(T def, F&& body) const {
    if (lenient_ == 0) return body();
    try {
      return body();
    } catch (const ConfigError&) {
      return def;
    }
  }
  bool covered_by(const std::string& key, const std::set<std::string, std::less<>>& prefixes) const;
  const YAML::Node* find(std::string_view key) const;
  std::map<std::string, YAML::Node, std::less<>> values_;  // leaves and sequences
  YAML::Node root_;
  mutable std::set<std::string, std::less<>> read_;
  mutable std::set<std::string, std::less<>> read_prefixes_;
  mutable std::set<std::string, std::less<>> asked_;  // every key any component asked for
  // Keys and prefixes read only by read_unused(), with the reason.
  mutable std::map<std::string, std::string, std::less<>> unused_;
  mutable std::map<std::string, std::string, std::less<>> unused_prefixes_;
  mutable int lenient_ = 0;  // > 0 inside read_unused()
};

//! True for keys whose values must never be printed (tokens, webhook URLs, passwords).
bool is_secret_key(std::string_view key);

//! `text` with the user-info of every URL in it replaced ("http://admin:pw@host/x" ->
//! "http://<redacted>@host/x"), for printing configs, logs and errors.
std::string redact_url_credentials(std::string_view text);

}  // namespace sw
