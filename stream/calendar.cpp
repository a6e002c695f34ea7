#include "stream/calendar.h"

#include "stream/civil_time.h"
#include "stream/config.h"

namespace sw {

namespace {
int32_t civil_to_days(const absl::CivilDay& d) {
  return static_cast<int32_t>(d - absl::CivilDay(1970, 1, 1));
}
absl::CivilDay days_to_civil(int32_t day) {
  return absl::CivilDay(1970, 1, 1) + day;
}
}  // namespace

Calendar::Calendar() : default_zone_(absl::UTCTimeZone()) {}

Calendar::Calendar(const Config& config) : default_zone_(absl::UTCTimeZone()) {
  std::string def = config.get_string("calendar.default_time_zone", "UTC");
  if (!absl::LoadTimeZone(def, &default_zone_)) {
    throw ConfigError("calendar.default_time_zone", "unknown time zone '" + def + "'",
                      "use an IANA name such as Europe/Berlin (needs the tzdata package)");
  }
  for (const std::string& store : config.children("calendar.stores")) {
    std::string key = "calendar.stores." + store;
    std::string name = config.get_string(key, "");
    absl::TimeZone tz;
    if (!absl::LoadTimeZone(name, &tz)) {
      throw ConfigError(key, "unknown time zone '" + name + "'",
                        "use an IANA name such as America/New_York");
    }
    store_zones_[store] = tz;
  }
}

const absl::TimeZone& Calendar::zone(uint32_t store_id, std::string_view store_name) const {
  if (store_id >= zone_known_.size()) {
    zone_known_.resize(store_id + 1, 0);
    zone_by_id_.resize(store_id + 1);
  }
  if (!zone_known_[store_id]) {
    auto it = store_zones_.find(std::string(store_name));
    zone_by_id_[store_id] = it == store_zones_.end() ? default_zone_ : it->second;
    zone_known_[store_id] = 1;
  }
  return zone_by_id_[store_id];
}

const LocalDay& Calendar::day(uint32_t store_id, std::string_view store_name, int64_t ts_ms) const {
  if (store_id >= cache_.size()) cache_.resize(store_id + 1, LocalDay{0, 0, 0, 0});
  LocalDay& c = cache_[store_id];
  if (ts_ms >= c.start_ms && ts_ms < c.end_ms) return c;
  const absl::TimeZone& tz = zone(store_id, store_name);
  if (tz == absl::UTCTimeZone()) {  // plain arithmetic, no zone lookups
    int64_t d = ts_ms >= 0 ? ts_ms / 86400000 : -((-ts_ms + 86399999) / 86400000);
    c.day = static_cast<int32_t>(d);
    c.start_ms = d * 86400000;
    c.end_ms = c.start_ms + 86400000;
    c.weekday = static_cast<int8_t>(((d + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
    return c;
  }
  absl::Time t = absl::FromUnixMillis(ts_ms);
  absl::CivilDay cd = absl::ToCivilDay(t, tz);
  c.day = civil_to_days(cd);
  c.start_ms = absl::ToUnixMillis(tz.At(absl::CivilSecond(cd)).pre);
  c.end_ms = absl::ToUnixMillis(tz.At(absl::CivilSecond(cd + 1)).pre);
  c.weekday = static_cast<int8_t>(static_cast<int>(absl::GetWeekday(cd)));  // Monday = 0
  return c;
}

int Calendar::hour(uint32_t store_id, std::string_view store_name, int64_t ts_ms) const {
  const LocalDay& d = day(store_id, store_name, ts_ms);
  if (d.end_ms - d.start_ms == 86400000) return static_cast<int>((ts_ms - d.start_ms) / 3600000);
  // DST transition day: let the zone rules decide.
  return absl::ToCivilHour(absl::FromUnixMillis(ts_ms), zone(store_id, store_name)).hour();
}

int Calendar::month_of_day(int32_t day) {
  return civil::month_of(day);
}
int Calendar::day_of_year(int32_t day) {
  return civil::day_of_year(day);
}

int64_t Calendar::day_start_ms(uint32_t store_id, std::string_view store_name, int32_t day) const {
  const absl::TimeZone& tz = zone(store_id, store_name);
  if (tz == absl::UTCTimeZone()) return static_cast<int64_t>(day) * 86400000;
  return absl::ToUnixMillis(tz.At(absl::CivilSecond(days_to_civil(day))).pre);
}

std::string Calendar::time_zone_name(std::string_view store_name) const {
  auto it = store_zones_.find(std::string(store_name));
  return it == store_zones_.end() ? default_zone_.name() : it->second.name();
}

}  // namespace sw
