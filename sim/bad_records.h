#pragma once
// The table of malformed records the generator injects (`--bad-rate`): one kind per
// dead-letter code of stream/decoder.h, each with a few variants (truncated JSON, a number
// where a string belongs, an unknown enum value, ...). Record n of the stream's bad records
// is kind n % kinds, variant n / kinds, so every code appears and the choice is
// deterministic. Adding a kind: one name here and one writer in bad_records.cpp.

#include <array>
#include <cstdint>
#include <string_view>

namespace sw {

//! Dead-letter codes the generator injects, in cycle order (names as in stream/decoder.h).
inline constexpr std::array<std::string_view, 9> kGeneratedBadCodes = {
    "not_json",   "not_object",   "missing_type",  "unknown_type", "missing_field",
    "wrong_type", "out_of_range", "bad_timestamp", "bad_enum"};

}  // namespace sw

namespace sw::sim {

struct Catalog;

//! Index into kGeneratedBadCodes of the stream's bad record number n (0-based).
constexpr size_t bad_record_code(uint64_t n) {
  return n % kGeneratedBadCodes.size();
}

//! Writes bad record number n (timestamp ts_ms where it has one, store and SKU names drawn
//! from the catalog) and its newline; returns the end. Needs well under 1 KB.
char* write_bad_record(char* p, uint64_t n, int64_t ts_ms, const Catalog& catalog);

}  // namespace sw::sim
