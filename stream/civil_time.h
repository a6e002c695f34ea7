#pragma once
// Proleptic Gregorian civil dates on day numbers (days since 1970-01-01), the one copy of the
// calendar arithmetic every part of shelfwatch uses (decoder, calendars, forecast seasons,
// output timestamps, generator, CSV adapter).
//
// Why not absl::CivilDay here: these functions run per event and per forecast horizon step,
// and absl's civil types normalise every field on construction (about 10x the cost of the
// division-only era arithmetic below, after H. Hinnant's "chrono-compatible low-level date
// algorithms"). Time zones stay with absl (stream/calendar.h); this file knows only UTC days.
// All functions are exact for every int32 day number and constexpr.

#include <cstdint>

namespace sw::civil {

inline constexpr int64_t kMsPerDay = 86'400'000;

struct Date {
  int64_t year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};

//! Day number of a proleptic Gregorian date; month 1..12, day 1..31 (not range-checked).
constexpr int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

//! Date of a day number.
constexpr Date civil_from_days(int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  // from March 1st
  const int64_t mp = (5 * doy + 2) / 153;
  Date d;
  d.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  d.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  d.year = yoe + era * 400 + (d.month <= 2 ? 1 : 0);
  return d;
}

//! Month 1..12 of a day number.
constexpr int month_of(int64_t days) {
  return civil_from_days(days).month;
}

constexpr bool is_leap(int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

//! Day of year 1..366 of a day number.
constexpr int day_of_year(int64_t days) {
  constexpr int kBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  const Date d = civil_from_days(days);
  return kBefore[d.month - 1] + d.day + (is_leap(d.year) && d.month > 2 ? 1 : 0);
}

//! Weekday of a day number, Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday).
constexpr int weekday(int64_t days) {
  const int64_t r = (days + 3) % 7;
  return static_cast<int>(r < 0 ? r + 7 : r);
}

//! Day number containing the epoch-millisecond instant `ms` (floor division).
constexpr int64_t day_of_ms(int64_t ms) {
  return ms / kMsPerDay - (ms % kMsPerDay < 0 ? 1 : 0);
}

}  // namespace sw::civil
