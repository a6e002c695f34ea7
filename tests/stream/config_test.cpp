#include "stream/config.h"

#include <gtest/gtest.h>

namespace sw {
namespace {

TEST(ConfigTest, FlattensAndOverrides) {
  Config c = Config::from_yaml(
      "source:\n  kind: file\n  file: {path: a.jsonl}\nstate:\n  checkpoint_interval_ms: 500\n",
      {"source.file.path=b.jsonl", "source.kafka.topics=[x, y]"});
  EXPECT_EQ(c.get_string("source.kind", ""), "file");
  EXPECT_EQ(c.get_string("source.file.path", ""), "b.jsonl");
  EXPECT_EQ(c.get_int("state.checkpoint_interval_ms", 0, 1, 10000), 500);
  EXPECT_EQ(c.get_list("source.kafka.topics"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(c.get_duration_ms("missing", 7), 7);
  c.check_unknown();  // everything was read
}

TEST(ConfigTest, ErrorsNameKeyAndFix) {
  Config c = Config::from_yaml("state:\n  checkpoint_interval_ms: soon\n");
  try {
    (void)c.get_int("state.checkpoint_interval_ms", 0, 1, 10);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "state.checkpoint_interval_ms");
    EXPECT_NE(std::string(e.what()).find("whole number"), std::string::npos) << e.what();
  }
  Config range = Config::from_yaml("a: 50\n");
  EXPECT_THROW((void)range.get_int("a", 0, 1, 10), ConfigError);
  Config en = Config::from_yaml("delivery: twice\n");
  EXPECT_THROW((void)en.get_enum("delivery", "exactly_once", {"exactly_once", "at_least_once"}),
               ConfigError);
  EXPECT_THROW(Config::from_yaml("a: [1, 2"), ConfigError);
  EXPECT_THROW(Config::from_yaml("a: 1\n", {"novalue"}), ConfigError);
}

TEST(ConfigTest, ComplexYamlKeysAreConfigErrors) {
  // Found by fuzz_config: a mapping used as a key made yaml-cpp throw past ConfigError.
  EXPECT_THROW(Config::from_yaml("? {file: 1}\n: fish\n"), ConfigError);
  EXPECT_THROW(Config::from_yaml("? [a, b]\n: 1\n"), ConfigError);
}

TEST(ConfigTest, UnknownKeySuggestsClosest) {
  Config c = Config::from_yaml("state:\n  checkpoint_intervl_ms: 5\n");
  (void)c.get_int("state.checkpoint_interval_ms", 1, 1, 10);
  try {
    c.check_unknown();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "state.checkpoint_intervl_ms");
    EXPECT_NE(std::string(e.what()).find("state.checkpoint_interval_ms"), std::string::npos);
  }
}

TEST(ConfigTest, SecretsRedactedInDump) {
  Config c = Config::from_yaml("delivery_targets:\n  pagerduty:\n    routing_key: abc123\n");
  EXPECT_EQ(c.dump().find("abc123"), std::string::npos);
  EXPECT_NE(c.dump().find("<redacted>"), std::string::npos);
}

}  // namespace
}  // namespace sw
