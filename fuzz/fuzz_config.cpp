// Fuzzes config loading: arbitrary YAML (and --set overrides) must load or throw
// ConfigError, and every getter must either return a value or throw ConfigError.

#include <cstdint>
#include <string>

#include "stream/calendar.h"
#include "stream/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t split = text.find('\n');
  std::vector<std::string> sets;
  if (split != std::string::npos && text.rfind("--set ", 0) == 0) {
    sets.push_back(text.substr(6, split - 6));
    text = text.substr(split + 1);
  }
  try {
    sw::Config c = sw::Config::from_yaml(text, sets);
    const char* keys[] = {"source.kind",
                          "source.file.path",
                          "state.checkpoint_interval_ms",
                          "delivery",
                          "pipeline.out_of_orderness",
                          "source.kafka.topics",
                          "operators.low_stock.enabled"};
    for (const char* k : keys) {
      try {
        (void)c.get_string(k, "x");
      } catch (const sw::ConfigError&) {
      }
      try {
        (void)c.get_int(k, 1, 0, 100);
      } catch (const sw::ConfigError&) {
      }
      try {
        (void)c.get_double(k, 1, 0, 100);
      } catch (const sw::ConfigError&) {
      }
      try {
        (void)c.get_bool(k, true);
      } catch (const sw::ConfigError&) {
      }
      try {
        (void)c.get_list(k);
      } catch (const sw::ConfigError&) {
      }
      try {
        (void)c.get_duration_ms(k, 5);
      } catch (const sw::ConfigError&) {
      }
    }
    // A section read as unused (a disabled operator): getters must not throw inside it.
    c.read_unused("operators.x.enabled=false", [&] {
      for (const char* k : keys) {
        (void)c.get_int(k, 1, 0, 100);
        (void)c.get_enum(k, "a", {"a", "b"});
        (void)c.require_string(k, "fix");
        (void)c.get_list(k);
      }
    });
    (void)c.unused_warnings();
    (void)c.children("operators");
    (void)c.node("sinks");
    (void)c.dump();
    try {
      sw::Calendar cal(c);
    } catch (const sw::ConfigError&) {
    }
    try {
      c.check_unknown();
    } catch (const sw::ConfigError&) {
    }
  } catch (const sw::ConfigError&) {
  }
  return 0;
}
