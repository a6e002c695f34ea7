#pragma once
// Event decoding with simdjson On-Demand (DESIGN.md §2). One Decoder per task; it owns the
// parser. decode() validates every field of every event type and never throws.

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "stream/event.h"

namespace sw {

//! Dead-letter error codes (documented in docs/contract.md). Stable: dashboards and users
//! filter on them.
enum class DecodeError : uint8_t {
  kNone,
  kNotJson,       // not_json: the record is not valid JSON (or is empty / truncated)
  kNotObject,     // not_object: valid JSON but not an object
  kMissingType,   // missing_type: no "type" field
  kUnknownType,   // unknown_type: "type" is not one of the contract's event types
  kMissingField,  // missing_field: a required field for the type is absent
  kWrongType,     // wrong_type: a field has the wrong JSON type (e.g. "qty": "3")
  kOutOfRange,    // out_of_range: non-finite, negative where not allowed, zero qty, ...
  kBadTimestamp,  // bad_timestamp: "ts" (or a date field) is not RFC 3339 / epoch ms
  kBadEnum,       // bad_enum: kind/action/channel value not in the contract's list
  kTooLarge,      // too_large: record longer than the configured maximum
  // future_timestamp: event time after 2100-01-01 or too far ahead of the stream
  // (pipeline.max_future / max_future_replay); set by the task, not the decoder.
  kFutureTimestamp,
};
inline constexpr int kDecodeErrorCount = 12;
std::string_view decode_error_code(DecodeError e);

class Decoder {
 public:
  explicit Decoder(size_t max_record_bytes = 1 << 20) : max_record_bytes_(max_record_bytes) {}
  //! Decodes one record. `readable_after` is how many bytes past `payload` may be read
  //! (>= simdjson::SIMDJSON_PADDING avoids a copy). String views in `out` point into the
  //! payload or into an internal buffer valid until the next decode(). `record_bytes` > 0:
  //! the record was that long and `payload` is only its prefix (RawRecord::oversize_bytes).
  DecodeError decode(std::string_view payload, size_t readable_after, Event& out,
                     int64_t record_bytes = 0);
  //! Human-readable detail of the last error ("field 'qty' must be > 0, got -3").
  const std::string& detail() const { return detail_; }

 private:
  DecodeError fail(DecodeError e, std::string detail);
  DecodeError decode_object(simdjson::ondemand::object obj, Event& out);
  simdjson::ondemand::parser parser_;
  simdjson::padded_string copy_;
  std::string detail_;
  std::string unescaped_;  // backing store for strings that contained escapes
  size_t max_record_bytes_;
};

//! Parses RFC 3339 ("2026-11-25T10:15:00.123Z", "+01:00" offsets, "YYYY-MM-DD" dates as
//! midnight UTC) into epoch ms. Returns false on any malformed or out-of-range input.
bool parse_rfc3339(std::string_view s, int64_t& epoch_ms);

}  // namespace sw
