#include "stream/calendar.h"

#include <gtest/gtest.h>

#include "stream/config.h"

namespace sw {
namespace {

TEST(CalendarTest, StoreLocalDays) {
  Config c = Config::from_yaml(
      "calendar:\n  default_time_zone: UTC\n  stores:\n    S_NY: America/New_York\n");
  Calendar cal(c);
  // 2026-11-25T03:00:00Z is still 2026-11-24 (22:00) in New York (UTC-5 in November).
  int64_t t = 1795575600000;
  const LocalDay ny = cal.day(0, "S_NY", t);
  const LocalDay utc = cal.day(1, "S_UTC", t);
  EXPECT_EQ(utc.day - ny.day, 1);
  EXPECT_EQ(ny.start_ms, 1795496400000);  // 2026-11-24T05:00:00Z
  EXPECT_EQ(ny.end_ms - ny.start_ms, 86400000);
  EXPECT_EQ(ny.weekday, 1);  // Tuesday
  EXPECT_EQ(cal.hour(0, "S_NY", t), 22);
  EXPECT_EQ(Calendar::month_of_day(utc.day), 11);
  // DST end 2026-11-01 in New York: that local day lasts 25 hours.
  int64_t nov1 = 1793505600000;  // 2026-11-01T04:00:00Z = 00:00 EDT
  const LocalDay d = cal.day(0, "S_NY", nov1 + 3600000);
  EXPECT_EQ(d.start_ms, nov1);
  EXPECT_EQ(d.end_ms - d.start_ms, 25 * 3600000);
}

TEST(CalendarTest, CivilArithmeticMatchesZoneRules) {
  Config c = Config::from_yaml("calendar:\n  stores:\n    B: Europe/Berlin\n");
  Calendar cal(c);
  for (int32_t day = -800; day < 40000; day += 37) {
    absl::CivilDay cd = absl::CivilDay(1970, 1, 1) + day;
    EXPECT_EQ(Calendar::month_of_day(day), cd.month()) << day;
    EXPECT_EQ(Calendar::day_of_year(day), absl::GetYearDay(cd)) << day;
    EXPECT_EQ(cal.day_start_ms(0, "U", day), int64_t{day} * 86400000);
  }
  // Hours in Berlin across the spring-forward day (2026-03-29: 02:00 -> 03:00).
  int64_t t = 1774746000000;  // 2026-03-29T01:00:00Z = 03:00 CEST
  EXPECT_EQ(cal.hour(1, "B", t), 3);
  EXPECT_EQ(cal.hour(1, "B", t - 3600000), 1);  // 00:00Z = 01:00 CET
  EXPECT_EQ(cal.day(2, "U", -1).day, -1);
  EXPECT_EQ(cal.day(2, "U", -1).weekday, 2);  // 1969-12-31 was a Wednesday
}

TEST(CalendarTest, UnknownZoneIsConfigError) {
  Config c = Config::from_yaml("calendar:\n  default_time_zone: Mars/Olympus\n");
  EXPECT_THROW(Calendar cal(c), ConfigError);
}

}  // namespace
}  // namespace sw
