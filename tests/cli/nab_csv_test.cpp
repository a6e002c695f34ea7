// score-csv's row parser (cli/nab_csv.h), including the inputs the fuzzer found
// (fuzz/regressions/csv-*).

#include "cli/nab_csv.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace sw::cli {
namespace {

TEST(NabCsvTest, ParsesRowsAndRefusesBadOnes) {
  NabRow r = parse_nab_row("2014-04-01 00:05:00.500000, 21.5 \r");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.ts, "2014-04-01 00:05:00.500000");
  EXPECT_EQ(r.val, "21.5");
  EXPECT_EQ(r.ms, 1396310700500);
  EXPECT_EQ(r.value, 21.5);
  EXPECT_TRUE(parse_nab_row("   \r").blank);
  EXPECT_FALSE(parse_nab_row("2014-04-01 00:00:00").ok);      // no value
  EXPECT_FALSE(parse_nab_row("2014-04-01 00:00:00,nan").ok);  // not finite
  EXPECT_FALSE(parse_nab_row("2014-02-30 00:00:00,1").ok);    // no such day
  EXPECT_TRUE(parse_nab_row("2016-02-29 00:00:00,1").ok);
  EXPECT_FALSE(parse_nab_row("1969-12-31 23:59:59,1").ok);
  EXPECT_FALSE(parse_nab_row("2014-04-01 24:00:00,1").ok);
}

// Found by fuzz_csv: "inf" (or 1e300) seconds overflowed the conversion to milliseconds
// (undefined behaviour; UBSan: "inf is outside the range of representable values").
TEST(NabCsvTest, FuzzRegressionInfiniteSeconds) {
  int64_t ms = 0;
  EXPECT_FALSE(parse_nab_time("2014-04-01 00:00:infnan", ms));
  EXPECT_FALSE(parse_nab_time("2014-04-01 00:00:1e300", ms));
  EXPECT_FALSE(parse_nab_time("2014-04-01 00:00:-1", ms));
  EXPECT_FALSE(parse_nab_time("2014-04-01 00:00:nan", ms));
  EXPECT_TRUE(parse_nab_time("2014-04-01 00:00:60.5", ms));  // a leap second
  std::ifstream in(SW_SOURCE_DIR "/fuzz/regressions/csv-infinite-seconds", std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream bytes;
  bytes << in.rdbuf();
  EXPECT_FALSE(parse_nab_row(bytes.str()).ok);
}

}  // namespace
}  // namespace sw::cli
