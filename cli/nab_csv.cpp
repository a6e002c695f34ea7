#include "cli/nab_csv.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "stream/civil_time.h"

namespace sw::cli {

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return std::string(s);
}

}  // namespace

bool parse_nab_time(std::string_view text, int64_t& ms) {
  const std::string s(text);
  int y, mo, d, h, mi;
  double sec;
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%lf", &y, &mo, &d, &h, &mi, &sec) != 6) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59) return false;
  if (d > kDays[mo - 1] + (mo == 2 && civil::is_leap(y) ? 1 : 0)) return false;
  // The seconds are a double ("inf", "1e300" scan): out of range they would overflow the
  // conversion to milliseconds (fuzz/regressions/csv-infinite-seconds). 60 is a leap second.
  if (!(sec >= 0 && sec < 61)) return false;
  if (y < 1970 || y > 9999) return false;  // as the event decoder's RFC 3339 timestamps
  ms = civil::days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400000LL +
       (h * 3600LL + mi * 60LL) * 1000LL + static_cast<int64_t>(sec * 1000.0 + 0.5);
  return true;
}

NabRow parse_nab_row(std::string_view raw) {
  NabRow r;
  const std::string line = trim(raw);
  if (line.empty()) {
    r.blank = true;
    return r;
  }
  size_t comma = line.find(',');
  r.ts = trim(std::string_view(line).substr(0, comma));
  r.val = comma == std::string::npos ? "" : trim(std::string_view(line).substr(comma + 1));
  char* end = nullptr;
  double v = std::strtod(r.val.c_str(), &end);
  if (parse_nab_time(r.ts, r.ms) && end != r.val.c_str() && std::isfinite(v)) {
    r.ok = true;
    r.value = v;
  }
  return r;
}

}  // namespace sw::cli
