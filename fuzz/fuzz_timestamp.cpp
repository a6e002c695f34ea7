// Fuzzes the RFC 3339 timestamp parser (stream/decoder.h): any string parses or is refused,
// never crashes or overflows; a parsed time rendered back by the JSON writer
// (append_rfc3339, UTC) parses to the same epoch milliseconds whenever the UTC year is one
// the parser accepts (1970-9999).

#include <cstdint>
#include <string>

#include "stream/decoder.h"
#include "stream/json_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  int64_t ms = 0;
  if (!sw::parse_rfc3339(in, ms)) return 0;
  std::string out;
  sw::append_rfc3339(out, ms);
  int64_t again = 0;
  const bool reparsed = sw::parse_rfc3339(out, again);
  const bool in_range = out.size() >= 5 && out[4] == '-' && out.compare(0, 4, "1970") >= 0 &&
                        out.compare(0, 4, "9999") <= 0;
  if (in_range && (!reparsed || again != ms)) __builtin_trap();
  if (reparsed && again != ms) __builtin_trap();
  return 0;
}
