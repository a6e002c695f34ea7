#pragma once
// Minimal streaming JSON writer for output records. Appends to a caller-owned string; numbers
// are printed with the shortest representation that round-trips, so outputs are
// byte-identical across runs.

#include <cstdint>
#include <string>
#include <string_view>

namespace sw {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view v);
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(double v);  // non-finite -> null
  JsonWriter& value(int64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(uint64_t v);
  JsonWriter& value(bool v);
  JsonWriter& null();
  //! Inserts an already-rendered JSON value verbatim.
  JsonWriter& raw(std::string_view json);
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  //! The provenance members every output record ends with (stream/output_stamp.h).
  JsonWriter& stamp();
  //! Epoch ms as RFC 3339 UTC ("2026-11-25T10:15:00Z", with .mmm when not whole seconds).
  JsonWriter& time_value(int64_t epoch_ms);

 private:
  void comma();
  std::string& out_;
  bool need_comma_ = false;
};

//! Appends `s` JSON-escaped (without quotes).
void json_escape(std::string& out, std::string_view s);
//! Appends `v` as a JSON number: the shortest representation that round-trips
//! (std::to_chars), "null" when not finite, never "-0". JsonWriter::value(double) uses it.
void append_json_number(std::string& out, double v);
//! Appends the RFC 3339 UTC form of epoch milliseconds ("2026-11-25T10:15:00Z", with .mmm
//! when not whole seconds), without quotes. time_value() and format_time() use it.
void append_rfc3339(std::string& out, int64_t epoch_ms);
//! RFC 3339 UTC rendering of epoch milliseconds.
std::string format_time(int64_t epoch_ms);
//! Rounds to `digits` decimals (for readable evidence values in details).
double round_to(double v, int digits);

}  // namespace sw
