#pragma once
// Row parsing of `shelfwatch score-csv` (NAB-style CSV: "timestamp,value"), as pure functions
// so that they can be fuzzed (fuzz/fuzz_csv.cpp) and unit-tested without files.

#include <cstdint>
#include <string>
#include <string_view>

namespace sw::cli {

//! "YYYY-MM-DD HH:MM:SS" with an optional fraction, UTC, as epoch ms. False for anything
//! else: a date that does not exist, a year outside 1970-9999, seconds outside [0, 61)
//! (including "inf" and "nan").
bool parse_nab_time(std::string_view s, int64_t& ms);

//! One CSV line split into its timestamp and value (both trimmed of spaces and '\r'; a line
//! without a comma has an empty value). `ok` when the timestamp parses and the value is a
//! finite number; `blank` for an empty line (skipped, not scored).
struct NabRow {
  std::string ts;
  std::string val;
  bool blank = false;
  bool ok = false;
  int64_t ms = 0;
  double value = 0;
};
NabRow parse_nab_row(std::string_view line);

}  // namespace sw::cli
