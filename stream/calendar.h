#pragma once
// Store calendars (DESIGN.md §6): local days, hours and weekdays in each store's time zone,
// from `calendar.default_time_zone` and `calendar.stores.<store>` (IANA names). The hot path
// hits a per-store cache of the current local day's UTC span, so most lookups are two
// comparisons.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/time/time.h>

namespace sw {

class Config;

struct LocalDay {
  int32_t day = 0;       // days since 1970-01-01 in local civil time
  int64_t start_ms = 0;  // UTC span of that local day
  int64_t end_ms = 0;
  int8_t weekday = 0;  // 0 = Monday ... 6 = Sunday
};

class Calendar {
 public:
  Calendar();  // UTC everywhere
  //! Reads calendar.* keys; throws ConfigError for unknown time zones.
  explicit Calendar(const Config& config);

  //! Local day containing `ts_ms` for the store (interned store id from KeyIndex).
  const LocalDay& day(uint32_t store_id, std::string_view store_name, int64_t ts_ms) const;
  //! Local hour of day 0..23.
  int hour(uint32_t store_id, std::string_view store_name, int64_t ts_ms) const;
  //! Day of year 1..366 and month 1..12 of a local day number.
  static int month_of_day(int32_t day);
  static int day_of_year(int32_t day);
  //! UTC start of the local day `day` for the store.
  int64_t day_start_ms(uint32_t store_id, std::string_view store_name, int32_t day) const;
  std::string time_zone_name(std::string_view store_name) const;

 private:
  const absl::TimeZone& zone(uint32_t store_id, std::string_view store_name) const;
  absl::TimeZone default_zone_;
  absl::flat_hash_map<std::string, absl::TimeZone> store_zones_;
  mutable std::vector<absl::TimeZone> zone_by_id_;
  mutable std::vector<uint8_t> zone_known_;
  mutable std::vector<LocalDay> cache_;
};

}  // namespace sw
