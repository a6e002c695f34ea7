// `shelfwatch score-csv` end to end on CSV series in the NAB layout: output layout and format
// (one row per input row, same timestamps and values, scores in [0, 1]) and detection of the
// anomalies planted in the generated fixtures (tests/fixtures/nab_small, made by a seeded
// script: a daily sine with one spike at row 1000, a noisy flat series shifting at row 900).
// When the NAB development subset is present on the machine, two of its files are scored too.

#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace sw {
namespace {

namespace fs = std::filesystem;

struct Row {
  std::string timestamp, value;
  double score = -1;
};

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream is(p);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(is, line)) out.push_back(line);
  return out;
}

//! Checks the output against the input row by row and returns the scores.
std::vector<double> check_output(const fs::path& in, const fs::path& out) {
  std::vector<std::string> a = lines_of(in), b = lines_of(out);
  EXPECT_FALSE(b.empty()) << out;
  if (b.empty()) return {};
  EXPECT_EQ(b[0], "timestamp,value,anomaly_score");
  EXPECT_EQ(a.size(), b.size()) << out;
  std::vector<double> scores;
  for (size_t i = 1; i < std::min(a.size(), b.size()); ++i) {
    size_t c = b[i].rfind(',');
    EXPECT_EQ(b[i].substr(0, c), a[i]) << "row " << i;  // timestamp,value unchanged
    double s = std::stod(b[i].substr(c + 1));
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
    scores.push_back(s);
  }
  return scores;
}

fs::path fresh_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("sw_score_csv_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// SW_SOURCE_DIR: the checkout's root, passed by tests/CMakeLists.txt.
const fs::path kFixtures = fs::path(SW_SOURCE_DIR) / "tests/fixtures/nab_small";

TEST(ScoreCsvTest, ScoresGeneratedFixturesOneRowPerInputRow) {
  fs::path out = fresh_dir("fixtures");
  int rc = cli::score_csv_command(
      {"--in", kFixtures.string(), "--out", out.string(), "--detector", "shelfwatch"});
  ASSERT_EQ(rc, 0);
  std::vector<double> spike = check_output(kFixtures / "synthetic/daily_spike.csv",
                                           out / "synthetic/shelfwatch_daily_spike.csv");
  ASSERT_EQ(spike.size(), 1200u);
  size_t argmax = std::max_element(spike.begin(), spike.end()) - spike.begin();
  EXPECT_EQ(argmax, 1000u);
  // The default metric configuration treats a lone spike with heavy-tailed caution (see
  // docs/anomaly.md), but it still stands well clear of everything before it.
  double before_spike = *std::max_element(spike.begin() + 200, spike.begin() + 1000);
  EXPECT_GT(spike[1000], before_spike + 0.1);

  std::vector<double> shift = check_output(kFixtures / "synthetic/level_shift.csv",
                                           out / "synthetic/shelfwatch_level_shift.csv");
  ASSERT_EQ(shift.size(), 1200u);
  double during = *std::max_element(shift.begin() + 900, shift.begin() + 910);
  double before = *std::max_element(shift.begin() + 200, shift.begin() + 900);
  EXPECT_GE(during, 0.6);
  EXPECT_GT(during, before);
  fs::remove_all(out);
}

TEST(ScoreCsvTest, MissingArgumentsAreAUsageError) {
  EXPECT_EQ(cli::score_csv_command({"--in", kFixtures.string()}), 2);
}

TEST(ScoreCsvTest, NabDevelopmentFilesWhenPresent) {
  // $SHELFWATCH_NAB_DIR, else the shared data next to the checkout (docs/anomaly.md).
  const char* env = std::getenv("SHELFWATCH_NAB_DIR");
  const fs::path nab = (env != nullptr && *env != '\0')
                           ? fs::path(env) / "data"
                           : fs::path(SW_SOURCE_DIR).parent_path() / "shared/data/nab-dev/data";
  const std::vector<std::string> picks = {"artificialWithAnomaly/art_daily_jumpsup.csv",
                                          "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv"};
  for (const auto& p : picks) {
    if (!fs::exists(nab / p)) GTEST_SKIP() << "NAB development subset not present";
  }
  fs::path in = fresh_dir("nab_in"), out = fresh_dir("nab_out");
  for (const auto& p : picks) {
    fs::create_directories(in / fs::path(p).parent_path());
    fs::copy_file(nab / p, in / p);
  }
  ASSERT_EQ(
      cli::score_csv_command({"--in", in.string(), "--out", out.string(), "--detector", "sw"}), 0);
  for (const auto& p : picks) {
    fs::path rel = fs::path(p).parent_path() / ("sw_" + fs::path(p).filename().string());
    std::vector<double> s = check_output(in / p, out / rel);
    EXPECT_EQ(s.size(), lines_of(in / p).size() - 1);
  }
  fs::remove_all(in);
  fs::remove_all(out);
}

}  // namespace
}  // namespace sw
