#include "stream/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace sw {
namespace {

// Issue 21 point 6: duplicate keys, non-regular or huge --config files, URL credentials.
TEST(ConfigTest, DuplicateKeysAreConfigErrorsNamingTheKey) {
  try {
    Config::from_yaml("state:\n  dir: a\n  checkpoint_interval_ms: 5\n  dir: b\n");
    FAIL() << "duplicate key accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "state.dir");
    EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Config::from_yaml("a: 1\nb: 2\na: 3\n"), ConfigError);
  EXPECT_NO_THROW(Config::from_yaml("a:\n  x: 1\nb:\n  x: 2\n"));  // same name, other maps
}

TEST(ConfigTest, ConfigMustBeABoundedRegularFile) {
  auto expect_fast_error = [](const std::string& path, const std::string& words) {
    auto t0 = std::chrono::steady_clock::now();
    try {
      Config::from_file(path);
      ADD_FAILURE() << path << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key(), "--config");
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << path;
  };
  expect_fast_error("/dev/zero", "not a regular file");
  expect_fast_error("/dev/urandom", "not a regular file");
  auto dir = std::filesystem::temp_directory_path() / ("sw_cfg_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  expect_fast_error(dir.string(), "a directory");
  {
    std::ofstream big(dir / "big.yaml");
    std::string line = "# " + std::string(1000, 'x') + "\n";
    for (int i = 0; i < 5000; ++i) big << line;
  }
  expect_fast_error((dir / "big.yaml").string(), "more than a config may be");
  expect_fast_error((dir / "absent.yaml").string(), "cannot open");
  { std::ofstream(dir / "ok.yaml") << "state:\n  dir: s\n"; }
  EXPECT_EQ(Config::from_file((dir / "ok.yaml").string()).get_string("state.dir", ""), "s");
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, UrlCredentialsAreRedactedInDumpAndErrors) {
  EXPECT_EQ(redact_url_credentials("http://admin:hunter2@am:9093/x"),
            "http://<redacted>@am:9093/x");
  EXPECT_EQ(redact_url_credentials("[https://u@h, http://h2/p?q=a@b]"),
            "[https://<redacted>@h, http://h2/p?q=a@b]");
  EXPECT_EQ(redact_url_credentials("no url here @ all"), "no url here @ all");
  Config c = Config::from_yaml(
      "sinks:\n  delivery:\n    urls: [http://admin:hunter2@am1:9093, http://am2:9093]\n");
  std::string dump = c.dump();
  EXPECT_EQ(dump.find("hunter2"), std::string::npos) << dump;
  EXPECT_NE(dump.find("http://<redacted>@am1:9093"), std::string::npos) << dump;
  ConfigError e("k", "bad value 'http://root:pw@h/'", "fix");
  EXPECT_EQ(std::string(e.what()).find("pw@"), std::string::npos) << e.what();
}

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

// A section the configuration does not use (a disabled operator) is read with the code that
// reads it when used: its known keys are "unused because ..." (a warning), a typo is still
// an unknown key, and its values are not checked.
TEST(ConfigTest, ReadUnusedReportsKnownKeysAsUnusedAndTyposAsUnknown) {
  auto parse = [](const sw::Config& c) {
    (void)c.get_int("op.window", 5, 1, 10);
    (void)c.require_string("op.name", "name it");
    (void)c.get_double("op.after_throw", 1, 0, 2);
  };
  sw::Config ok = sw::Config::from_yaml("op: {window: 50, name: x}\nkept: 1\n");
  (void)ok.get_int("kept", 0, 0, 9);
  ok.read_unused("op.enabled=false", [&] { parse(ok); });  // window out of range: not checked
  EXPECT_NO_THROW(ok.check_unknown());
  std::vector<std::string> w = ok.unused_warnings();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], "config key 'op.name' is unused because op.enabled=false");
  EXPECT_EQ(w[1], "config key 'op.window' is unused because op.enabled=false");

  sw::Config typo = sw::Config::from_yaml("op: {windw: 5}\n");
  typo.read_unused("op.enabled=false", [&] {
    parse(typo);
    throw sw::ConfigError("op", "a check of the unused section", "");  // swallowed
  });
  try {
    typo.check_unknown();
    FAIL() << "a typo in an unused section passed";
  } catch (const sw::ConfigError& e) {
    EXPECT_EQ(e.key(), "op.windw");
    EXPECT_NE(std::string(e.what()).find("did you mean 'op.window'"), std::string::npos);
  }

  // A key a used section reads too is not unused; reasons of two unused readers combine.
  sw::Config both = sw::Config::from_yaml("shared: 1\nother: 2\n");
  both.read_unused("a=off", [&] { (void)both.get_int("other", 0, 0, 9); });
  both.read_unused("b=off", [&] {
    (void)both.get_int("shared", 0, 0, 9);
    (void)both.get_int("other", 0, 0, 9);
  });
  (void)both.get_int("shared", 0, 0, 9);
  EXPECT_NO_THROW(both.check_unknown());
  w = both.unused_warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "config key 'other' is unused because a=off and b=off");
  // Outside read_unused() getters throw as before.
  EXPECT_THROW((void)both.get_int("other", 0, 3, 9), sw::ConfigError);
}

// Found by review and confirmed with fuzz_config (UBSan: signed integer overflow): a
// duration in days near INT64_MAX overflowed the conversion to milliseconds.
TEST(ConfigTest, FuzzRegressionDurationOverflowIsAConfigError) {
  sw::Config c = sw::Config::from_yaml("state:\n  checkpoint_interval_ms: 9223372036854775807d\n");
  EXPECT_THROW((void)c.get_duration_ms("state.checkpoint_interval_ms", 1), sw::ConfigError);
  sw::Config ok = sw::Config::from_yaml("a: 106751991167d\nb: 106751991168d\n");
  EXPECT_EQ(ok.get_duration_ms("a", 1), int64_t{106751991167} * 86'400'000);
  EXPECT_THROW((void)ok.get_duration_ms("b", 1), sw::ConfigError);
}
