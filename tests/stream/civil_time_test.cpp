#include "stream/civil_time.h"

#include <gtest/gtest.h>

#include <absl/time/civil_time.h>

namespace sw::civil {
namespace {

// absl's civil time is the reference: every day from 1600 to 2400 and a sample far out.
TEST(CivilTimeTest, AgreesWithAbslOverFourCenturiesAndFarDays) {
  const absl::CivilDay epoch(1970, 1, 1);
  auto check = [&](int64_t days) {
    const absl::CivilDay ref = epoch + days;
    const Date d = civil_from_days(days);
    ASSERT_EQ(d.year, ref.year()) << days;
    ASSERT_EQ(d.month, ref.month()) << days;
    ASSERT_EQ(d.day, ref.day()) << days;
    ASSERT_EQ(days_from_civil(d.year, static_cast<unsigned>(d.month), static_cast<unsigned>(d.day)),
              days);
    ASSERT_EQ(month_of(days), ref.month());
    ASSERT_EQ(day_of_year(days), absl::GetYearDay(ref)) << days;
    const int want_weekday = (static_cast<int>(absl::GetWeekday(ref)) + 7) % 7;  // Monday = 0
    ASSERT_EQ(weekday(days), want_weekday) << days;
  };
  for (int64_t days = -135'000; days <= 157'000; ++days) check(days);
  for (int64_t days = -2'000'000'000; days <= 2'000'000'000; days += 99'999'989) check(days);
}

TEST(CivilTimeTest, DayOfMsFloorsNegativeInstants) {
  EXPECT_EQ(day_of_ms(0), 0);
  EXPECT_EQ(day_of_ms(kMsPerDay - 1), 0);
  EXPECT_EQ(day_of_ms(-1), -1);
  EXPECT_EQ(day_of_ms(-kMsPerDay), -1);
  EXPECT_EQ(day_of_ms(-kMsPerDay - 1), -2);
  static_assert(days_from_civil(2026, 12, 7) == 20'794);
  static_assert(weekday(20'794) == 0);  // 2026-12-07 is a Monday
}

}  // namespace
}  // namespace sw::civil
